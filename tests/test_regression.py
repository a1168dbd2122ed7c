"""The third task, regression on a table of features, end to end: the CLI on an npz
archive, the engine on a user's factory, the readers (TensorBoard's, ours, the run table)
and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import accumulator, cli, only_run
from test_watch import app_for

FEATURES, OUTPUTS = 8, 1


def linear_problem(path, n=2400, outputs=OUTPUTS, seed=0):
    """y = X·w + b + noise: a model that learns it has R² near 1 - noise²/var(y) ≈ 0.99."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES, outputs)).astype(np.float32)
    y = x @ w + 0.5 + rng.normal(scale=0.3, size=(n, outputs)).astype(np.float32)
    y = y[:, 0] if outputs == 1 else y
    cut = n * 5 // 6
    np.savez(path, x_train=x[:cut], y_train=y[:cut], x_test=x[cut:], y_test=y[cut:])
    return path


def test_a_cli_run_on_a_linear_problem_reaches_r2_095_and_logs_what_tensorboard_reads(
        tmp_path):
    data = linear_problem(tmp_path / "linear.npz")
    r = cli("--no-ui", "--model", "mlp", "--data", f"npz:{data}", "--epochs", "4",
            "--logdir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2,000 train / 400 test" in r.stdout
    assert "8 features → 1 float target(s)" in r.stdout
    assert " acc " not in r.stdout  # no accuracy to show for a regression
    end = r.stdout.strip().splitlines()[-1]
    assert end.startswith("finished:") and "mse " in end and " r2 0.9" in end, end
    run = only_run(tmp_path / "runs")
    ea = accumulator(run)
    tags = set(ea.Tags()["scalars"])
    assert {"Loss/train", "Loss/test", "MAE/test", "R2/test", "LR"} <= tags
    assert not {"Accuracy/train", "Accuracy/test"} & tags  # nothing is right or wrong
    r2 = [e.value for e in ea.Scalars("R2/test")]
    assert len(r2) == 4 and r2[-1] >= 0.95, r2
    mse, mae = ea.Scalars("Loss/test")[-1].value, ea.Scalars("MAE/test")[-1].value
    assert 0 < mae <= mse ** 0.5 * 1.01  # MAE ≤ RMSE, always
    assert (run / "model.pt").is_file() and not (run / "tokenizer.json").exists()
    # TensorBoard's HParams tab lists the regression metrics for the run.
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = ea.PluginTagToContent("hparams")["_hparams_/experiment"]
    exp = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    assert [m.name.tag for m in exp.metric_infos] == ["Loss/test", "MAE/test", "R2/test"]


async def test_the_run_table_shows_the_regression_columns(tmp_path):
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import TensorBoardSink, Trainer

    data = linear_problem(tmp_path / "linear.npz", n=600)
    cfg = RunConfig(model="mlp", data=f"npz:{data}", epochs=1, logdir=str(tmp_path / "runs"),
                    sys_every=0)
    result = Trainer(cfg, [TensorBoardSink()]).run()
    assert result.state.value == "finished" and set(result.metrics) == {
        "Loss/test", "MAE/test", "R2/test"}
    async with app_for(tmp_path / "runs").run_test(size=(120, 30)) as pilot:
        table = pilot.app.screen.query_one("#runs")
        for _ in range(50):
            await pilot.pause(0.1)
            if table.row_count:
                break
        labels = [str(c.label).strip() for c in table.columns.values()]
        assert {"test loss", "test MAE", "R²"} <= set(labels)
        assert not {"test acc", "ppl"} & set(labels)
        row = table.get_row_at(0)
        assert f"{result.metrics['R2/test']:.4f}" in [str(c) for c in row]


def test_a_factory_of_several_outputs_trains_through_the_same_loop(tmp_path):
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import RunControl, Trainer

    linear_problem(tmp_path / "two.npz", n=1200, outputs=2, seed=1)
    (tmp_path / "table.py").write_text(
        "import numpy as np, torch\n"
        f"f = np.load({str(tmp_path / 'two.npz')!r})\n"
        "def make():\n"
        "    t = lambda k: torch.from_numpy(f[k])\n"
        "    return (t('x_train'), t('y_train')), (t('x_test'), t('y_test'))\n")
    (tmp_path / "model.py").write_text(
        "import torch\n"
        "def linear(in_shape, outputs):\n"
        "    assert in_shape == (8,), in_shape\n"
        "    return torch.nn.Linear(in_shape[0], outputs)\n")
    cfg = RunConfig(model=f"{tmp_path / 'model.py'}:linear", data=f"{tmp_path / 'table.py'}:make",
                    epochs=5, lr=0.05, logdir=str(tmp_path / "runs"), sys_every=0)
    trainer = Trainer(cfg, [], RunControl())
    result = trainer.run()
    assert result.state.value == "finished", result.message
    assert result.metrics["R2/test"] >= 0.95, result.metrics
    snap = trainer.snapshot()
    assert snap.accuracy is None and snap.unit == "samples"


@pytest.mark.parametrize("args, message, code", [
    (("--model", "simple_cnn"), "model: simple_cnn takes images (C, H, W); this data is (8,)", 2),
    (("--model", "mlp", "--augment", "flip"), "augment: it transforms images", 2),
])
def test_what_a_table_cannot_take_is_one_line(tmp_path, args, message, code):
    data = linear_problem(tmp_path / "linear.npz", n=120)
    r = cli("--no-ui", "--data", f"npz:{data}", *args, "--logdir", str(tmp_path / "runs"),
            cwd=tmp_path)
    assert r.returncode == code and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"tbx-tui: error: {message}"), r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_broken_table_is_refused_before_a_run_folder_exists(tmp_path):
    from tbx_tui.engine import DataUnavailable, load_dataset

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=20)
    y_nan = y.copy()
    y_nan[4] = np.nan
    cases = {
        "nan": (dict(x_train=x, y_train=y_nan, x_test=x, y_test=y), "y_train holds NaN"),
        "rows": (dict(x_train=x, y_train=y[:10], x_test=x, y_test=y), "x_train (20, 3) and "
                 "y_train (10,)"),
        "features": (dict(x_train=x, y_train=y, x_test=x[:, :2], y_test=y),
                     "train has 3 features"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(DataUnavailable, match=message.replace("(", r"\(").replace(
                ")", r"\)")):
            load_dataset(f"npz:{tmp_path / name}.npz")
    table = load_dataset(f"npz:{_save(tmp_path, x, y)}")
    assert table.kind == "table" and table.in_shape == (3,) and table.train_y.dtype.is_floating_point


def _save(tmp_path, x, y):
    np.savez(tmp_path / "ok.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    return tmp_path / "ok.npz"
