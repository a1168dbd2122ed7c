"""Several processes through torchrun (gloo on this CPU): the same global batches as one
process, one run folder, and a group that loses a rank stops with one clear line, or
restarts and resumes from its checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import accumulator, cli

pytestmark = pytest.mark.timeout(240)
RUN = ("--no-ui", "--model", "mlp", "--data", "digits", "--epochs", "2", "--log-every", "10",
       "--hist-every", "0", "--ckpt-every", "20", "--sys-every", "0", "--logdir", "runs")


def _workers(launcher: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(launcher)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _kill_a_rank(tmp_path, name: str, restarts: int) -> subprocess.Popen:
    """Start a group of 2, kill -9 one rank after the first checkpoint; the launcher."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tbx_tui", *RUN, "--nproc", "2", "--batch-size", "16",
         "--max-restarts", str(restarts), "--name", name], cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    ckpts = tmp_path / "runs" / name / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(ckpts.glob("step-*.pt")):  # a whole one, not its temporary
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.05)
    workers = _workers(launcher.pid)
    assert len(workers) == 2
    os.kill(workers[-1], signal.SIGKILL)
    return launcher


def test_two_processes_train_as_one_and_survive_losing_a_rank(tmp_path):
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import TensorBoardSink, Trainer

    r = cli(*RUN, "--nproc", "2", "--batch-size", "16", "--name", "two", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "on cpu ×2: 90 steps (45 per epoch)" in r.stdout
    assert sorted(os.listdir(tmp_path / "runs")) == ["two"]  # rank 0 alone writes
    one = Trainer(RunConfig(model="mlp", data="digits", epochs=2, batch_size=32,
                            log_every=10, hist_every=0, sys_every=0,
                            logdir=str(tmp_path / "one")), [TensorBoardSink()]).run()
    a, b = accumulator(tmp_path / "runs" / "two"), accumulator(one.run_dir)
    assert [e.step for e in a.Scalars("Loss/train")] == [e.step for e in b.Scalars("Loss/train")]
    acc = [x.Scalars("Accuracy/test")[-1].value for x in (a, b)]
    # 2 × 16 averages to the gradient of 32: the same run up to float rounding.
    assert min(acc) > 0.85 and abs(acc[0] - acc[1]) < 0.02, acc

    # A rank killed: with --max-restarts 1 the group restarts and resumes from the
    # checkpoint, ending with the weights of the group never disturbed.
    launcher = _kill_a_rank(tmp_path, "again", restarts=1)
    out, err = launcher.communicate(timeout=180)
    assert launcher.returncode == 0, err
    assert "resuming from checkpoints/step-" in out
    assert out.strip().splitlines()[-1].startswith("finished: runs/again (90 steps")
    w1, w2 = (torch.load(tmp_path / "runs" / n / "model.pt", weights_only=True)
              for n in ("two", "again"))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    steps = [e.step for e in accumulator(tmp_path / "runs" / "again").Scalars("Loss/train")]
    assert steps == sorted(set(steps))
    # Without restarts: the group stops, and one line says which rank and what next.
    launcher = _kill_a_rank(tmp_path, "lost", restarts=0)
    out, err = launcher.communicate(timeout=180)
    assert launcher.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("tbx-tui: error: rank ") and "of 2 ended with signal SIGKILL" in last and \
        "--resume RUN_DIR" in last, err
