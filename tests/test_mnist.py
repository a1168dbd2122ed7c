"""Real MNIST from ../shared/data: the tutorial's recipe learns, and the download path works."""

from __future__ import annotations

import shutil

from conftest import accumulator, cli, only_run


def test_simple_cnn_reaches_90_percent_in_a_few_hundred_steps(tmp_path, shared_data):
    r = cli("--no-ui", "--model", "simple_cnn", "--data", "mnist", "--data-dir",
            str(shared_data), "--max-steps", "300", "--hist-every", "100", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "60,000 train / 10,000 test" in r.stdout
    ea = accumulator(only_run(tmp_path / "runs"))
    assert ea.Scalars("Accuracy/test")[-1].value >= 0.90
    assert ea.Scalars("Accuracy/test")[-1].step == 299


def test_download_path_extracts_the_archives(tmp_path, shared_data):
    # torchvision's download skips files whose MD5 already matches, so with only the .gz
    # files present this exercises the real download-and-extract code with no network.
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (shared_data / "FashionMNIST" / "raw").glob("*.gz"):
        shutil.copy(gz, raw)
    from tbx_tui.engine.vision.data import load_dataset

    d = load_dataset("fashion_mnist", str(tmp_path / "data"))
    assert (len(d.train_y), len(d.test_y), d.in_shape) == (60_000, 10_000, (1, 28, 28))
    assert d.train_x.dtype.is_floating_point is False and d.classes[9] == "Ankle boot"
    assert (raw / "train-images-idx3-ubyte").stat().st_size == 47_040_016
