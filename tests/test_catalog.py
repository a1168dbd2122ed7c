"""The form's torch-free figures agree with the engine."""

import pytest

from tbx_tui import catalog
from tbx_tui.engine.data import load_dataset
from tbx_tui.engine.models import build_model, count_parameters


@pytest.mark.parametrize("model", ["mlp", "simple_cnn", "resnet18"])
@pytest.mark.parametrize("data", sorted(catalog.DATASETS))
def test_parameter_counts(model, data):
    info = catalog.DATASETS[data]
    expected = count_parameters(build_model(model, info.shape, info.classes))
    assert catalog.parameter_count(model, info.shape, info.classes) == expected


@pytest.mark.parametrize("data", ["synthetic", "digits"])
def test_built_in_dataset_sizes(data):
    d = load_dataset(data)
    info = catalog.DATASETS[data]
    assert (len(d.train_y), len(d.test_y), d.in_shape, d.num_classes) == (
        info.train, info.test, info.shape, info.classes)


def test_files_status(tmp_path):
    assert "will be downloaded" in catalog.files_status("mnist", str(tmp_path))
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"")
    assert "present" in catalog.files_status("mnist", str(tmp_path))
    assert "built in" in catalog.files_status("digits", str(tmp_path))
