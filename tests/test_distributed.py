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


async def test_the_app_trains_in_two_processes_followed_through_their_event_files(tmp_path):
    """The form's processes field: a torchrun group in its own session, its output in a
    file, its progress read from the event files; s stops it as Ctrl+C stops a headless
    run, and the end comes from its exit code and its last line."""
    from test_app import quick, start_training, wait_for
    from tbx_tui.config import load_toml
    from tbx_tui.tui.app import make_app
    from tbx_tui.tui.group import GroupSession

    app = make_app("train", config=quick(tmp_path, epochs=1000, log_every=20, hist_every=0,
                                         sys_every=0, nproc=2))
    async with app.run_test(size=(100, 30)) as pilot:
        screen, s = await start_training(pilot)
        assert isinstance(s, GroupSession) and s.running
        status = lambda: str(screen.query_one("#status").render())  # noqa: E731
        await wait_for(pilot, lambda: "2 processes" in status() and "step " in status())
        assert os.getpgid(s.proc.pid) == s.proc.pid  # a session of its own: SIGHUP spared
        await pilot.press("p")  # N processes would have to agree mid-step: not offered
        assert s.running and "cannot pause" in [n.message for n in app._notifications][-1]
        await pilot.press("s")
        await wait_for(pilot, lambda: s.ended is not None)
        assert (s.ended, s.proc.returncode) == ("stopped", 143)
        await wait_for(pilot, lambda: "stopped" in status())
        assert " steps in " in status() and "test loss" in status()
        name = s.folder.name
        await wait_for(pilot, lambda: getattr(screen.store.runs.get(name), "end_state",
                                              None) == "stopped")
    assert load_toml(s.folder / "config.toml")["nproc"] == 2  # what --resume relaunches
    assert "on cpu ×2" in s.output.read_text()  # the group's own output, in the file
    steps = [e.step for e in accumulator(s.folder).Scalars("Loss/train")]
    assert steps and steps == sorted(set(steps))
