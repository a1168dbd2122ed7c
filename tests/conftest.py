"""Shared fixtures: the real MNIST files, a real `tbx-tui` process, TensorBoard's reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Under pytest-xdist each worker gets its share of the cores for torch's threads: two
# workers on two cores, each with torch's default two spin-waiting OpenMP threads, took
# 432 s for the suite; with one thread each, 313 s. Set before torch loads; every child
# process inherits it.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(
        max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

SHARED_DATA = Path(os.environ.get("TBX_TUI_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST files not found under {SHARED_DATA} "
                    "(set TBX_TUI_TEST_DATA to the folder holding MNIST/raw)")
    return SHARED_DATA


def cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None,
        **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m tbx_tui ARGS` as a user would, in its own working folder.

    A forked child of a warm interpreter (tests/cli_zygote.py) unless the run needs a
    cold start: other subprocess options, a PYTHON* or LD_* variable, or
    TBX_TUI_TEST_COLD=1 for the whole suite. Tests of start-up itself use Popen."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    argv = [sys.executable, "-m", "tbx_tui", *args]
    if kwargs or os.environ.get("TBX_TUI_TEST_COLD") == "1" or any(
            k.startswith(("PYTHON", "LD_")) and k != "PYTHONUNBUFFERED" for k in (env or {})):
        return subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)
    return _zygote().run(argv, Path(cwd), full_env, timeout)


_ZYGOTE = []


def _zygote():
    from zygote_client import Zygote

    if not _ZYGOTE:
        _ZYGOTE.append(Zygote())
    return _ZYGOTE[0]


def accumulator(run_dir: Path):
    """TensorBoard's own loader, keeping every event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0,
                                                       "tensors": 0, "images": 0})
    ea.Reload()
    return ea


def only_run(logdir: Path) -> Path:
    runs = [p for p in logdir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture
def cpu_only(monkeypatch):
    """The setup form lists the devices torch sees; pin them so screens are the same
    anywhere."""
    import threading

    from tbx_tui.tui.screens import setup as form_module

    def detect(done):
        threading.Thread(target=done, args=(["cpu"],)).start()

    monkeypatch.setattr(form_module, "detect_devices", detect)


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path, monkeypatch):
    """The chart grid is kept per logdir in a state file: never the user's own."""
    monkeypatch.setenv("TBX_TUI_STATE", str(tmp_path / "tbx-state"))
