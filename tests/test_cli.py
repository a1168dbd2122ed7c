"""`tbx-tui --no-ui` end to end, in real processes, read back with TensorBoard's loader."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import accumulator, cli, only_run

SCALARS = {"Loss/train", "Accuracy/train", "LR", "Throughput/samples_per_s",
           "Loss/test", "Accuracy/test", "Precision/test", "Recall/test"}
# each layer's gradient norm (--grad-flow): the mlp's two, the CNN's four
MLP_FLOW = {"GradFlow/fc1", "GradFlow/fc2"}
CNN_FLOW = {"GradFlow/conv1", "GradFlow/conv2", "GradFlow/fc1", "GradFlow/fc2"}
SYS_TAGS = {"sys/cpu_percent", "sys/system_cpu_percent", "sys/ram_used_gib",
            "sys/ram_total_gib", "sys/rss_gib"}
HPARAM_TAGS = {"_hparams_/experiment", "_hparams_/session_start_info",
               "_hparams_/session_end_info"}


def hparams_of(ea) -> dict:
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
            for k, v in info.hparams.items()}


def session_status(ea) -> str:
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    content = ea.PluginTagToContent("hparams")["_hparams_/session_end_info"]
    status = plugin_data_pb2.HParamsPluginData.FromString(content).session_end_info.status
    return api_pb2.Status.Name(status)


def run_state(ea) -> str:
    """The tbx/run_state text the trainer ends a run with, through TensorBoard's reader."""
    return ea.Tensors("tbx/run_state")[-1].tensor_proto.string_val[0].decode()


def test_synthetic_run_logs_every_tag_tensorboard_reads(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--epochs", "2",
            "--log-every", "10", "--hist-every", "10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\r" not in r.stdout  # not a terminal: plain lines
    run = only_run(tmp_path / "runs")
    assert run.name.startswith("mlp-synthetic-")
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("finished: ") and str(Path("runs") / run.name) in last
    assert "accuracy" in last and "precision" in last and "recall" in last

    ea = accumulator(run)
    tags = ea.Tags()
    # sys/ comes by the clock (every --sys-every 10 s): a run slowed by a busy machine
    # has some; whatever it has are the sampler's own tags
    assert {t for t in tags["scalars"] if not t.startswith("sys/")} == SCALARS | MLP_FLOW
    extra = {t for t in tags["scalars"] if t.startswith("sys/")} - SYS_TAGS
    assert all(t.startswith("sys/gpu") or t == "sys/torch_max_allocated_gib" for t in extra)
    params = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert set(tags["histograms"]) == {f"{k}/{p}" for k in ("weights", "grads") for p in params}
    # 1,000 samples / 32 = 32 steps per epoch; the step is the tutorial's epoch*len+i.
    # Early points after steps 1, 2, 4 and 8, then every 10 steps and the last.
    assert [e.step for e in ea.Scalars("Loss/train")] == [0, 1, 3, 7, 9, 19, 29, 39, 49, 59, 63]
    assert [e.step for e in ea.Scalars("Accuracy/test")] == [31, 63]
    # every 10 steps, and at the first and the last: a short run has them too
    assert [e.step for e in ea.Histograms("grads/fc1.weight")] == [0, 9, 19, 29, 39, 49, 59, 63]
    h = ea.Histograms("weights/fc1.weight")[-1].histogram_value
    assert h.num == 784 * 128 and sum(h.bucket) == h.num and h.min < 0 < h.max
    assert set(ea.PluginTagToContent("hparams")) == HPARAM_TAGS
    hp = hparams_of(ea)
    assert hp["model"] == "mlp" and hp["lr"] == pytest.approx(1e-3) and hp["epochs"] == 2
    assert session_status(ea) == "STATUS_SUCCESS" and run_state(ea) == "finished"
    assert (run / "model.pt").stat().st_size > 0
    assert 'model = "mlp"' in (run / "config.toml").read_text()


def test_embedded_digits_default_runs_offline_and_learns(tmp_path):
    r = cli("--no-ui", "--epochs", "2", "--hist-every", "50", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run = only_run(tmp_path / "runs")
    assert run.name.startswith("simple_cnn-digits-")
    ea = accumulator(run)
    # sys/ metrics come every 10 s: a run on a busy machine lasts long enough for them
    assert {t for t in ea.Tags()["scalars"] if not t.startswith("sys/")} == \
        SCALARS | CNN_FLOW
    assert "weights/conv1.weight" in ea.Tags()["histograms"]
    assert ea.Scalars("Accuracy/test")[-1].value > 0.8  # 90 steps of the tutorial CNN


def test_without_a_terminal_it_trains_headless_and_says_so(tmp_path):
    r = cli("--data", "synthetic", "--model", "mlp", "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no terminal; training headless" in r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("finished: ")


@pytest.mark.parametrize("args,words", [
    (["--lr", "-1"], "--lr: must be > 0"),
    (["--lr", "fast"], "invalid float value"),
    (["--batch-size", "0"], "--batch-size: must be >= 1"),
    (["--epochs", "0"], "--epochs: must be >= 1"),
    (["--model", "vgg"], "--model: must be mlp, simple_cnn, resnet18, gpt (a language model), tv:NAME"),
    (["--name", "a/b"], "--name: must be a plain folder name"),
    (["--config", "missing.toml"], "--config: no such file"),
    (["--device", "cuda"], "cuda was asked for"),
    (["--bogus"], "unrecognized arguments"),
    (["--theme", "neon"], "--theme: unknown theme 'neon'; known: tbx-dark, tbx-high-contrast"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, words):
    if args == ["--device", "cuda"]:
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    r = cli("--no-ui", "--data", "synthetic", *args, cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_unusable_logdir_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    r = cli("--no-ui", "--data", "synthetic", "--model", "mlp", "--logdir", "afile",
            cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("tbx-tui: error: logdir: cannot create a run folder "
                                       "under afile")


def test_bad_value_in_config_file_names_the_file(tmp_path):
    (tmp_path / "run.toml").write_text("model = 'mlp'\nbatch_size = -4\n")
    r = cli("--no-ui", "--config", "run.toml", cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip() == "tbx-tui: error: run.toml: batch_size: must be >= 1 (got -4)"


def test_missing_dataset_offline_is_one_clear_line_and_leaves_nothing(tmp_path):
    r = cli("--no-ui", "--data", "mnist", "--data-dir", "nodata", cwd=tmp_path, timeout=300)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("tbx-tui: error: mnist: no dataset files under nodata")
    assert "--data digits" in last
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not (tmp_path / "nodata").exists()  # no empty folders left by the failed download


def test_diverging_loss_stops_with_exit_1_and_readable_logs(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--optimizer", "sgd",
            "--lr", "100", "--log-every", "5", cwd=tmp_path)
    assert r.returncode == 1
    assert "diverged: " in r.stdout and "lower --lr" in r.stdout
    run = only_run(tmp_path / "runs")
    ea = accumulator(run)
    assert session_status(ea) == "STATUS_FAILURE"
    assert run_state(ea).startswith("diverged: loss became nan")
    assert not (run / "model.pt").exists()


def test_rerun_from_saved_config_gets_a_new_folder(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--epochs", "1",
            "--lr", "0.02", "--name", "base", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("--no-ui", "--config", "runs/base/config.toml", "--max-steps", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["base", "base-2"]
    text = (tmp_path / "runs" / "base-2" / "config.toml").read_text()
    assert "lr = 0.02" in text and "max_steps = 3" in text and 'name = "base-2"' in text


def test_a_closed_output_pipe_does_not_stop_training(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "--no-ui", "--model", "mlp",
                             "--data", "synthetic", "--epochs", "3", "--log-every", "2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err
    ea = accumulator(only_run(tmp_path / "runs"))
    assert [e.step for e in ea.Scalars("Accuracy/test")] == [31, 63, 95]


def test_a_listing_into_a_closed_pipe_ends_quietly(tmp_path):
    """`tbx-tui models | head -1`: no BrokenPipeError traceback, the shell's 141."""
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "models"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_max_steps_still_ends_with_an_evaluation(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--max-steps", "7",
            "--log-every", "100", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ea = accumulator(only_run(tmp_path / "runs"))
    assert [e.step for e in ea.Scalars("Loss/train")] == [0, 1, 3, 6]  # early points, the last
    assert [e.step for e in ea.Scalars("Recall/test")] == [6]


def _start(tmp_path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tbx_tui", "--no-ui", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_line(proc, needle: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"never printed {needle!r}; stderr: {proc.stderr.read()}")


def test_ctrl_c_stops_cleanly_with_exit_130(tmp_path):
    proc = _start(tmp_path, "--model", "mlp", "--data", "digits", "--epochs", "100000",
                  "--log-every", "5")
    try:
        _wait_for_line(proc, "step ")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped: runs/" in out  # evaluated, saved, closed
    run = only_run(tmp_path / "runs")
    ea = accumulator(run)
    assert len(ea.Scalars("Accuracy/test")) >= 1
    # Stopped, not finished: TensorBoard's HParams tab says unknown, its Text tab why.
    assert session_status(ea) == "STATUS_UNKNOWN" and run_state(ea).startswith("stopped")
    assert (run / "model.pt").exists()


def test_second_ctrl_c_quits_at_once_and_keeps_the_logs(tmp_path):
    proc = _start(tmp_path, "--data", "digits", "--epochs", "100000", "--log-every", "5")
    try:
        _wait_for_line(proc, "step ")
        proc.send_signal(signal.SIGINT)
        _wait_for_line(proc, "stopping")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    run = only_run(tmp_path / "runs")
    ea = accumulator(run)
    assert len(ea.Scalars("Loss/train")) >= 1
    assert session_status(ea) == "STATUS_UNKNOWN" and run_state(ea) == "stopped: interrupted"
    out = cli("watch", "--once", "runs", cwd=tmp_path, timeout=60).stdout
    assert f"{run.name}  [stopped]" in out  # not "finished"


def test_on_a_terminal_progress_is_one_live_line(tmp_path):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "--no-ui", "--model", "mlp",
                             "--data", "synthetic", "--epochs", "30"], cwd=tmp_path,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 120)
            if not ready:
                break
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO once the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(timeout=60)
        os.close(leader)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, text
    assert "\r\x1b[2K" in text and "] epoch " in text  # a redrawn bar, not a log
    assert "finished: runs/" in text


def test_help_lists_every_setting_quickly(tmp_path):
    t0 = time.monotonic()
    r = cli("--help", cwd=tmp_path, timeout=60)
    assert r.returncode == 0
    from tbx_tui.config import FIELDS

    for name in FIELDS:
        assert "--" + name.replace("_", "-") in r.stdout
    assert time.monotonic() - t0 < 10
