"""Checkpoints and exact resume: a run killed with kill -9 and resumed ends bit-identical
to the same run uninterrupted, and every reader sees each step once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import accumulator, cli

RUN = ("--no-ui", "--model", "simple_cnn", "--data", "digits", "--epochs", "2",
       "--log-every", "10", "--hist-every", "20", "--ckpt-every", "25", "--sys-every", "0.5",
       "--logdir", "runs")


def _start(tmp_path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tbx_tui", *RUN, "--name", name],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _fast_loader_scalars(logdir, runs, tag, want: int) -> dict[str, list]:
    """``tensorboard --load_fast=true`` serving ``logdir``: each run's (step, value) pairs
    of ``tag`` through its HTTP API, once the data server has loaded ``want`` points."""
    import json
    import re
    import shutil
    import urllib.parse
    import urllib.request

    exe = shutil.which("tensorboard") or pytest.skip("tensorboard is not installed")
    tb = subprocess.Popen([exe, "--logdir", str(logdir), "--load_fast=true", "--port", "0",
                           "--reload_interval", "1"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in tb.stderr:  # "TensorBoard 2.x at http://localhost:PORT/"
            if (m := re.search(r"(http://localhost:\d+)/", line)):
                url = m.group(1)
                break
        assert url, "tensorboard did not start"

        def get(path: str):
            with urllib.request.urlopen(url + path, timeout=10) as r:
                return json.load(r)

        assert "Grpc" in get("/data/environment")["debug"]["data_provider"]  # the fast one
        deadline, got = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            got = {run: [(p[1], p[2]) for p in get(
                "/data/plugin/scalars/scalars?" + urllib.parse.urlencode(
                    {"run": run, "tag": tag}))] if run in get("/data/runs") else []
                   for run in runs}
            if all(len(v) >= want for v in got.values()):
                break
            time.sleep(0.5)
        return got
    finally:
        tb.kill()
        tb.wait()


def test_a_run_killed_and_resumed_ends_bit_identical_to_one_never_killed(tmp_path):
    whole, killed = _start(tmp_path, "whole"), _start(tmp_path, "killed")
    ckpts = tmp_path / "runs" / "killed" / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(ckpts.glob("step-*.pt")) and killed.poll() is None:  # a whole one
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(random.uniform(0, 0.5))  # somewhere past the first checkpoint
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert whole.wait(timeout=180) == 0, whole.stderr.read()
    assert not (tmp_path / "runs" / "killed" / "model.pt").exists()  # it never got there

    r = cli("--no-ui", "--resume", "runs/killed", "--epochs", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "resuming from checkpoints/step-0000000" in r.stdout
    assert "Detected out of order event.step … Removing N scalars\" is expected" in r.stdout

    a, b = (torch.load(tmp_path / "runs" / n / "model.pt", weights_only=True)
            for n in ("whole", "killed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # TensorBoard's own reader applies the resumed session's START purge: each step once.
    ta, tb = accumulator(tmp_path / "runs" / "whole"), accumulator(tmp_path / "runs" / "killed")
    for tag in ("Loss/train", "Accuracy/train", "Loss/test", "Accuracy/test"):
        sa, sb = ([(e.step, e.value) for e in t.Scalars(tag)] for t in (ta, tb))
        assert sa == sb, tag
    # System metrics went into the same event files (CPU and memory: no NVIDIA GPU here).
    rss = [e.value for e in ta.Scalars("sys/rss_gib")]
    assert rss and all(0.05 < v < 20 for v in rss)
    assert {"sys/cpu_percent", "sys/ram_used_gib"} <= set(ta.Tags()["scalars"])
    hist = [e.step for e in tb.Histograms("weights/fc2.weight")]
    assert hist == sorted(set(hist)) == [e.step for e in ta.Histograms("weights/fc2.weight")]
    # TensorBoard's default fast loader (the Rust data server) evicts by step regression.
    fast = _fast_loader_scalars(tmp_path / "runs", ("whole", "killed"), "Loss/train",
                                want=len(ta.Scalars("Loss/train")))
    assert fast["killed"] == fast["whole"] == [(e.step, e.value) for e in ta.Scalars("Loss/train")]
    # And ours, from the two event files of the killed run.
    from tbx_tui.logs.watcher import LogWatcher

    w = LogWatcher([str(tmp_path / "runs")])
    w.poll()
    ours = {name: run.scalars["Loss/train"] for name, run in w.store.runs.items()}
    assert list(ours["killed"].steps) == list(ours["whole"].steps)
    assert list(ours["killed"].values) == list(ours["whole"].values)
    assert w.store.runs["killed"].end_state == "finished"
    assert len(list((tmp_path / "runs" / "killed" / "checkpoints").iterdir())) == 2  # keep 2


def test_resume_refuses_what_would_make_it_another_run(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--max-steps", "12",
            "--ckpt-every", "5", "--name", "short", "--logdir", "runs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "runs" / "short"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-000000010.pt", "step-000000012.pt"]  # every 5 steps and the end; newest 2
    for args, message in (
            (("--lr", "0.1"), "--lr: cannot change on --resume (the run was trained with "
                              "0.001); these may: --epochs, --max-steps"),
            (("--config", "x.toml"), "--config cannot be given with it"),
            ((), "not a run folder (no config.toml)")):
        target = "runs/short" if args else "runs"
        r = cli("--no-ui", "--resume", target, *args, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert message in r.stderr, r.stderr
    from tbx_tui.engine.run.checkpoint import RunLock

    lock = RunLock(run)  # as a process still training in it holds it
    r = cli("--no-ui", "--resume", "runs/short", "--max-steps", "20", cwd=tmp_path)
    lock.release()
    assert r.returncode == 2 and "is being trained by another process" in r.stderr
    for ckpt in (run / "checkpoints").iterdir():
        ckpt.write_bytes(b"cut short")
    r = cli("--no-ui", "--resume", "runs/short", "--max-steps", "20", cwd=tmp_path)
    assert r.returncode == 2 and "no checkpoint in" in r.stderr and "can be read" in r.stderr
    assert (run / "model.pt").exists()  # a refused resume leaves the folder as it was


async def test_the_app_stops_a_run_then_resumes_it_in_its_own_folder(tmp_path):
    from test_app import quick, start_training, wait_for
    from tbx_tui.engine import RunState
    from tbx_tui.tui.app import make_app

    # 360 steps of ~10 ms: the dashboard's first second (mounting, first draws) passes
    # well inside the run, and the stop lands in it
    app = make_app("train", config=quick(tmp_path, model="simple_cnn", data="digits",
                                         epochs=8, hist_every=0))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, s = await start_training(pilot)
        await wait_for(pilot, lambda: s.trainer is not None and s.trainer.snapshot().step >= 5)
        await pilot.press("s")
        await wait_for(pilot, lambda: s.result is not None)
        assert s.result.state is RunState.STOPPED and s.result.steps < 360
        name = s.run_dir.name
        await wait_for(pilot, lambda: getattr(screen.store.runs.get(name), "end_state", None)
                       == "stopped")
        await pilot.press("R")
        await wait_for(pilot, lambda: screen.session is not s and
                       screen.session.result is not None)
        again = screen.session.result
        assert again.state is RunState.FINISHED and again.steps == 360, again
        assert again.run_dir == s.run_dir  # the same folder, continued
        await wait_for(pilot, lambda: screen.store.runs[name].end_state == "finished")
        steps = screen.store.runs[name].scalars["Loss/train"].steps
        assert list(steps) == sorted(set(steps)) and steps[-1] == 359


async def test_resume_in_a_terminal_continues_the_run_without_a_form(tmp_path):
    """`tbx-tui --resume RUN_DIR` on a terminal: the app continues that run in its folder
    (a form would only start another run under a new name)."""
    from test_app import quick, wait_for
    from tbx_tui.config import RunConfig, load_toml
    from tbx_tui.engine import TensorBoardSink, Trainer
    from tbx_tui.tui.app import make_app
    from tbx_tui.tui.screens.training import TrainingScreen

    first = Trainer(quick(tmp_path, max_steps=20, hist_every=0, sys_every=0),
                    [TensorBoardSink()]).run()
    config = RunConfig(**{**load_toml(first.run_dir / "config.toml"), "max_steps": 0})
    app = make_app("train", config=config, resume=str(first.run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen) and
                       app.screen.session is not None and
                       app.screen.session.result is not None)
        result = app.screen.session.result
    assert result.state.value == "finished" and result.steps == 64
    assert result.run_dir == first.run_dir
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [first.run_dir.name]
