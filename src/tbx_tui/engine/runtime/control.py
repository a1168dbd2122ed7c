"""What another thread may read from, or ask of, a running Trainer.

``RunControl`` carries requests in (pause, resume, stop, a new learning rate);
``Progress`` is the immutable snapshot that goes out. Both are safe across threads and cost
the training loop one attribute read per step when nothing is asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...run_state import RunState  # noqa: F401  (re-exported: the engine's states)


@dataclass(frozen=True)
class Progress:
    state: RunState
    epoch: int              # 1-based epoch being trained
    epochs: int
    step: int               # optimizer steps done
    total_steps: int
    samples_per_s: float    # over the last log interval, pauses excluded
    eta_s: float | None     # None until a rate is known
    loss: float | None      # mean over the last log interval
    accuracy: float | None  # 0..1, over the last log interval
    lr: float
    device: str
    elapsed_s: float = 0.0  # training time, pauses excluded
    message: str = ""
    unit: str = "samples"   # what samples_per_s counts: samples, or a language model's tokens
    head_lr: float | None = None  # --head-lr: the head's own rate, beside the body's


class RunControl:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._lr: float | None = None
        self._abort = False
        self.end_state = None   # set by end_as: the state the run ends in, and why
        self.end_message = ""

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """Finish the current step, evaluate, save, close."""
        self._stop.set()
        self._running.set()  # a paused trainer must wake up to stop

    def end_as(self, state, message: str) -> None:
        """Stop as ``stop`` does, and end the run as ``state`` (a sweep's pruner: PRUNED)
        rather than stopped, saying why."""
        self.end_state, self.end_message = state, message
        self.stop()

    def abort(self) -> None:
        """Stop as soon as possible: no final evaluation, no weights; logs are closed."""
        self._abort = True
        self.stop()

    @property
    def aborted(self) -> bool:
        return self._abort

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; True once running (or stopping)."""
        return self._running.wait(timeout)

    def set_lr(self, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0 (got {lr!r})")
        with self._lock:
            self._lr = float(lr)

    def take_lr(self) -> float | None:
        """The learning rate asked for since the last call, if any."""
        with self._lock:
            lr, self._lr = self._lr, None
            return lr
