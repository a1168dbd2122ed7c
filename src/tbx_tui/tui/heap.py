"""Keep Python's cyclic garbage collector off the keys' path.

A full (oldest-generation) collection walks every tracked object, and it runs on
whichever thread happens to allocate, most often the UI thread. Beside a training run
that is torch, torch._dynamo (imported at the first optimizer step) and our modules:
measured in the app at 200x60, a full collection every 0.5-1.5 s took 280-310 ms on the
UI thread, the longest pauses a key met. Frozen (``gc.freeze``), what was loaded stays
out of every later collection: the same collections took 13-60 ms.

Frozen objects are never collected as cycles, so a run's own objects (its model and
optimizer, alive at its first log) are given back with ``thaw`` when it ends.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def settle() -> None:
    """What exists now lives as long as the app (modules, a run's model): freeze it."""
    with _lock:
        gc.freeze()


def thaw() -> None:
    """A run ended: its objects may be garbage now, collectable again."""
    with _lock:
        gc.unfreeze()
