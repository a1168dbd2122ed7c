"""A run in N local processes, started from the app: ``tbx-tui --no-ui --nproc N`` (torchrun)
as a process group of its own, its output going to a file beside the run folder, never to
an unread pipe. The dashboard follows it through its event files like any run; pause and
a new learning rate are not offered (N processes would have to agree on them mid-step).

The group lives in its own session: a dropped SSH session (SIGHUP to the app) leaves it
training, to be followed again with ``tbx-tui watch``; ``s``, ``q`` and SIGTERM stop it
the way Ctrl+C stops a headless run (finish the step, evaluate, checkpoint, save).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..atomic import describe_os_error
from ..config import RunConfig, run_names, to_toml

# Exit codes of `tbx-tui --no-ui` (headless.py) and what the dashboard calls them.
_ENDS = {0: "finished", 129: "stopped", 130: "stopped", 143: "stopped"}
_END_LINES = ("finished:", "stopped:", "diverged", "failed", "tbx-tui: error:")


class GroupSession:
    ENDS = _ENDS  # exit code -> what the dashboard calls the end
    def __init__(self, config: RunConfig, resume: str | None = None):
        self.resume = resume
        logdir = Path(config.logdir).expanduser()
        name = config.name or config.default_name()
        if not resume:  # the run would take name-2 for a folder that exists: take it here
            name = next(n for n in run_names(name) if not (logdir / n).exists())
        self.config = config.replace(name=name)  # the folder is known before it exists
        self.folder = logdir / name
        self.output = self.folder.parent / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.trainer = self.control = self.result = None  # nothing in this process
        self.error: str | None = None
        self.stop_sent = False
        self._toml: str | None = None  # the settings handed to the group, until it ends

    def start(self) -> "GroupSession":
        argv = ([sys.executable, "-m", "tbx_tui", "--no-ui", "--resume", self.resume]
                if self.resume else
                [sys.executable, "-m", "tbx_tui", "--no-ui", "--config", self._config_file()])
        return self._spawn(argv)

    def _spawn(self, argv: list[str]):
        """The process group, its output appended to ``self.output`` (a resumed run adds
        to its earlier output)."""
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with open(self.output, "a") as out:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError as e:
            self.error = f"cannot start {self.label}: {describe_os_error(e)}"
        return self

    def _config_file(self) -> str:
        fd, path = tempfile.mkstemp(prefix="tbx-tui-group-", suffix=".toml")
        with os.fdopen(fd, "w") as f:
            f.write(to_toml(self.config))
        self._toml = path
        return path

    @property
    def label(self) -> str:
        return f"{self.config.nproc} processes"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def run_dir(self) -> Path | None:
        if not self.folder.is_dir():
            return None
        if (self.folder / "config.toml").exists():  # read, and copied there
            self._drop_settings_file()
        return self.folder

    def _drop_settings_file(self) -> None:
        if self._toml:
            Path(self._toml).unlink(missing_ok=True)
            self._toml = None

    @property
    def ended(self) -> str | None:
        """finished, stopped or failed once the group has exited; None while it runs."""
        if self.error:
            return "failed"
        if self.proc is None or self.proc.poll() is None:
            return None
        self._drop_settings_file()  # the run keeps its own copy (config.toml)
        return self.ENDS.get(self.proc.returncode, "failed")

    def last_line(self) -> str:
        """The output's last line: the run's end line, or its one-line error."""
        try:
            with open(self.output, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        lines = [ln.strip() for ln in lines if ln.strip()]
        ends = [ln for ln in lines if ln.startswith(_END_LINES)]  # the run's own account
        return (ends or lines or [""])[-1]

    def stop(self) -> None:
        """SIGTERM to the launcher: torchrun passes it to every rank, which stop as one."""
        if self.running and not self.stop_sent:  # once: a second one would cut torchrun's
            self.stop_sent = True                # orderly shutdown of the ranks short
            os.kill(self.proc.pid, signal.SIGTERM)

    def quit(self, timeout: float = 2.0) -> bool:
        """Stop, and wait up to ``timeout`` for the group to save and exit; it goes on
        saving in the background after that. True if it had exited."""
        self.stop()
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.running
