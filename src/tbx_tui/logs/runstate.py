"""A run's state, as every view reads it: from the run's own files, or from the clock.

The trainer ends a run by writing two records into its event file: the HParams session
end status (TensorBoard's HParams tab shows it: success, failure, or unknown for a run the
user stopped) and a text summary ``tbx/run_state`` whose first word is the exact state
(finished, stopped, diverged, failed) followed by why (TensorBoard's Text tab shows it).
A run with neither is judged by the clock: *live* while its files keep changing at their
own pace, *stale* once they have been quiet for ``quiet_limit`` (five of its own logging
intervals, at least 30 s; 120 s while the pace is unknown). Nothing here imports torch.
"""

from __future__ import annotations

import numpy as np

from ..safe_text import clean

STATE_TAG = "tbx/run_state"
ENDED = ("finished", "stopped", "diverged", "failed", "ended")
QUIET_FLOOR_S = 30.0
QUIET_INTERVALS = 5
UNKNOWN_PACE_S = 120.0
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


def pace(walls_by_series) -> float | None:
    """Median gap, in seconds, between the run's recent distinct write times (the wall
    times of its last points), or None with fewer than three."""
    recent = [np.asarray(w[-16:], dtype=np.float64) for w in walls_by_series if len(w)]
    if not recent:
        return None
    times = np.unique(np.concatenate(recent))[-16:]
    if len(times) < 3:
        return None
    return float(np.median(np.diff(times)))


def quiet_limit(run_pace: float | None) -> float:
    """Seconds without a write after which a run that never said it ended is stale."""
    if run_pace is None:
        return UNKNOWN_PACE_S
    return max(QUIET_FLOOR_S, QUIET_INTERVALS * run_pace)
