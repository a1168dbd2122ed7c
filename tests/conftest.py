"""Shared fixtures: the real MNIST files, a real `tbx-tui` process, TensorBoard's reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TBX_TUI_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST files not found under {SHARED_DATA} "
                    "(set TBX_TUI_TEST_DATA to the folder holding MNIST/raw)")
    return SHARED_DATA


def cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None,
        **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m tbx_tui ARGS` as a user would, in its own working folder."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tbx_tui", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def accumulator(run_dir: Path):
    """TensorBoard's own loader, keeping every event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0,
                                                       "tensors": 0})
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
