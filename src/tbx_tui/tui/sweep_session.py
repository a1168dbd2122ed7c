"""A sweep started from the setup form: ``tbx-tui sweep`` in a process group of its own (as
a run in N processes is, group.py), its output in a file beside the sweep folder. The
dashboard follows its trials through their event files; ``w`` opens the sweep view; ``s``
and ``q`` interrupt it the way Ctrl+C does, and ``tbx-tui sweep --resume`` continues it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ..config import build
from ..sweep.definition import Sweep
from .group import GroupSession


class SweepSession(GroupSession):
    def __init__(self, sweep: Sweep, logdir: str):
        self.sweep = sweep
        self.resume = None
        name = sweep.default_name()
        self.folder = Path(logdir).expanduser() / name
        self.output = self.folder.parent / f"{name}.log"
        # The first trial's settings: what the status line names (model, data).
        first = {p.name: (p.values[0] if hasattr(p, "values") else p.low) for p in sweep.params}
        self.config = build(None, {**sweep.fixed, **first, "logdir": str(logdir)})
        self.proc: subprocess.Popen | None = None
        self.trainer = self.control = self.result = None
        self.error: str | None = None
        self.stop_sent = False
        self._toml: str | None = None

    label = "the sweep"
    ENDS = {0: "finished", 1: "failed", 2: "failed", 130: "stopped"}  # tbx-tui sweep's codes

    def start(self) -> "SweepSession":
        fd, path = tempfile.mkstemp(prefix="tbx-tui-sweep-", suffix=".toml")
        with os.fdopen(fd, "w") as f:
            f.write(self.sweep.to_toml())
        self._toml = path
        argv = [sys.executable, "-m", "tbx_tui", "sweep", "--sweep", path,
                "--logdir", str(self.folder.parent), "--name", self.folder.name]
        return self._spawn(argv)

    @property
    def run_dir(self) -> Path | None:
        """The sweep folder: the dashboard follows the trials in it."""
        if not (self.folder / "sweep.toml").is_file():
            return None
        self._drop_settings_file()
        return self.folder

    def stop(self) -> None:
        """SIGINT, as Ctrl+C: the trial in progress is left to be retried from its newest
        checkpoint by ``tbx-tui sweep --resume``."""
        if self.running and not self.stop_sent:
            self.stop_sent = True
            os.kill(self.proc.pid, signal.SIGINT)
