"""A training run inside the app: the engine's Trainer on its own thread.

torch is imported on that thread, never on the UI thread (measured on the development
machine: a training thread ran 20-45% slower once the main thread had run torch ops).
Every failure ends up in ``error`` as one line, with the traceback in a file.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import traceback

from ..config import RunConfig
from . import heap


class TrainingSession:
    def __init__(self, config: RunConfig, resume: str | None = None):
        self.config = config
        self.resume = resume  # a run folder to continue from its newest checkpoint
        self.trainer = None  # created on the thread
        self.control = None
        self.result = None
        self.error: str | None = None
        self._abort_asked = self._stop_asked = False
        self.thread = threading.Thread(target=self._run, name="tbx-trainer", daemon=True)

    def start(self) -> "TrainingSession":
        """Returns at once: torch's import (seconds, up to 30 s on a cold disk) happens on
        the thread, and until it is done ``control`` is None (the screen says "starting").
        A quit asked for meanwhile is kept and handed to the control once it exists."""
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def run_dir(self):
        return getattr(self.trainer, "run_dir", None)

    def _run(self) -> None:
        try:
            from ..engine import RunControl, TensorBoardSink, Trainer

            control = RunControl()
            self.control = control
            if self._abort_asked:  # quit while torch was still importing
                control.abort()
            elif self._stop_asked:  # s while torch was still importing
                control.stop()
            self.trainer = Trainer(self.config, [TensorBoardSink(), _settle_at_first_log()],
                                   self.control, resume=self.resume)
            self.result = self.trainer.run()
            if self.result.error_log:
                self.error = f"{self.result.message} (traceback: {self.result.error_log})"
            elif self.result.state.value == "diverged" or self.result.run_dir is None:
                self.error = self.result.message  # diverged, or stopped before step 1
        except Exception as e:  # DataUnavailable, DeviceUnavailable, or a bug
            from ..engine import (DataUnavailable, DeviceUnavailable, InitUnavailable,
                                  InitUnusable, LogdirUnusable, ModelUnusable,
                                  ResumeUnusable, RunInterrupted, TaskUnusable)

            if isinstance(e, (DataUnavailable, DeviceUnavailable, InitUnavailable,
                              InitUnusable, LogdirUnusable, ModelUnusable, ResumeUnusable,
                              RunInterrupted, TaskUnusable)):
                self.error = str(e)
            else:
                fd, path = tempfile.mkstemp(prefix="tbx-tui-error-", suffix=".log")
                with os.fdopen(fd, "w") as f:
                    f.write(traceback.format_exc())
                self.error = f"{type(e).__name__}: {e} (traceback: {path})"

        finally:
            heap.thaw()

    def stop(self) -> None:
        """Stop as the loop does at a step's end; asked before the control exists (torch
        still importing), it is handed over when it does."""
        self._stop_asked = True
        if self.control is not None:
            self.control.stop()

    def quit(self, timeout: float = 2.0) -> bool:
        """Abort (no evaluation), wait for the event file to close. True if it did."""
        self._abort_asked = True
        if self.control is not None:
            self.control.abort()
        deadline = time.monotonic() + timeout
        self.thread.join(max(deadline - time.monotonic(), 0))
        return not self.thread.is_alive()


def _settle_at_first_log():
    """A sink that freezes the heap once, at the run's first log: torch._dynamo is
    imported by then (the first optimizer step), and the model and data are built."""
    from ..engine.output.sinks import NullSink

    class SettleAtFirstLog(NullSink):
        settled = False

        def scalars(self, step, values):
            if not self.settled:
                self.settled = True
                heap.settle()

    return SettleAtFirstLog()
