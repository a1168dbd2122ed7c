"""The form's torch-free figures agree with the engine."""

import pytest

from tbx_tui import catalog
from tbx_tui.engine.vision.data import load_dataset
from tbx_tui.engine.vision.models import build_model, count_parameters


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


def test_the_form_describes_an_archive_from_its_headers(tmp_path):
    import numpy as np

    from tbx_tui.catalog import user_data_facts

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (30, 12, 12, 3), dtype=np.uint8)
    labels = np.arange(30) % 3
    np.savez(tmp_path / "images.npz", x_train=images[:20], y_train=labels[:20],
             x_test=images[20:], y_test=labels[20:])
    assert user_data_facts(f"npz:{tmp_path / 'images.npz'}") == (
        "20 train / 10 test arrays", (3, 12, 12), None)
    table = rng.normal(size=(30, 5)).astype(np.float32)
    np.savez(tmp_path / "table.npz", x_train=table[:20], y_train=table[:20, 0],
             x_test=table[20:], y_test=table[20:, 0])
    text, shape, _ = user_data_facts(f"npz:{tmp_path / 'table.npz'}")
    assert text.startswith("a table: 20 train / 10 test rows of 5 features") and shape is None
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert user_data_facts(f"npz:{tmp_path / 'junk.npz'}")[0].startswith("✗ cannot read")
