"""A run's state from the clock, for a run that never wrote how it ended (the words for
the states, and the records that carry them, are in ``tbx_tui/run_state.py``).

A run without an end record is judged by the clock: *live* while its files keep changing
at their own pace, *stale* once they have been quiet for ``quiet_limit`` (five of its own
logging intervals, at least 30 s; 120 s while the pace is unknown). No torch here.
"""

from __future__ import annotations

import numpy as np

QUIET_FLOOR_S = 30.0
QUIET_INTERVALS = 5
UNKNOWN_PACE_S = 120.0


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
