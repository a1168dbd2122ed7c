"""A run's state in words every part agrees on: the engine writes them into the run's
folder, the reader (``logs/``), the app, ``--once`` and ``--resume`` read them back.

A run ends with two records in its event file: the HParams session end status (what
TensorBoard's HParams tab shows: success, failure, or unknown for a run the user stopped)
and a text summary ``tbx/run_state`` whose first word is the exact state (finished,
stopped, diverged, failed) followed by why. Neither torch nor the UI is imported here.
"""

from __future__ import annotations

from enum import Enum

from .safe_text import clean

STATE_TAG = "tbx/run_state"


class RunState(str, Enum):
    LOADING = "loading"
    RUNNING = "running"
    PAUSED = "paused"
    EVALUATING = "evaluating"
    FINISHED = "finished"   # every epoch, or max_steps, done
    STOPPED = "stopped"     # stopped on request; still evaluated
    DIVERGED = "diverged"   # the loss became NaN or infinite
    FAILED = "failed"       # an exception; the traceback is in the run folder
    PRUNED = "pruned"       # a sweep's pruner ended it: its metric was behind the others'

    @property
    def done(self) -> bool:
        return self in (RunState.FINISHED, RunState.STOPPED, RunState.DIVERGED,
                        RunState.FAILED, RunState.PRUNED)


# The states a tbx/run_state text may name, and "ended": a run another writer closed.
ENDED = (RunState.FINISHED.value, RunState.STOPPED.value, RunState.DIVERGED.value,
         RunState.FAILED.value, RunState.PRUNED.value, "ended")

# HParams Status values. UNKNOWN is what our trainer writes for a run the user stopped
# (its text says "stopped"); from other writers it only says the session ended.
_STATUS = {1: "finished", 2: "failed", 0: "ended", 3: None}


def end_state_text(state: str, message: str = "") -> str:
    return f"{state}: {message}" if message else state


def parse_state_text(text: str) -> tuple[str | None, str]:
    """(state, why) from a ``tbx/run_state`` text; state None if it names none."""
    word, _, why = text.partition(":")
    word = word.strip()
    # The reason is shown on one line (status line, run table, --once).
    return (word if word in ENDED else None), clean(why.strip())


def state_from_status(status: int) -> str | None:
    """The state an HParams session end status implies (any writer's)."""
    return _STATUS.get(status, "ended")
