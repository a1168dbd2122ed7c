"""What the chart grid shows, as data: the charts (tag, kind and their own view), which
fits the terminal, and the user's choice kept per log directory.

The choice is kept outside the log directory — a logdir followed over SSH is often not
ours to write — in ``$TBX_TUI_STATE`` or ``$XDG_STATE_HOME/tbx-tui`` (else
``~/.local/state/tbx-tui``), file ``grids.json``: log directory -> view.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import asdict, dataclass, replace

from ..atomic import atomic_write
from ..safe_text import clean
from .widgets.histogram_plot import MODES

# The default grid, as TensorBoard's first screen: losses, accuracy, the learning rate,
# one histogram; then whatever other scalars fit.
PREFERRED = ("Loss/train", "loss", "Loss/test", "Loss/val", "Accuracy/test", "Perplexity/val",
             "R2/test", "Accuracy/train", "LR")
MIN_CELL_W, MIN_CELL_H = 36, 9
CELL_ASPECT = 3.0
MAX_CHARTS = 16
COUNTS_SUFFIX = "/counts"  # Eval/confusion_matrix/counts beside the picture Eval/confusion_matrix
# Evaluation views (logs/evaluation.py): what the model gets wrong, beside the curves.
VIEW_KINDS = ("confusion", "pr", "image", "gradflow", "structure")
KINDS = ("scalar", "histogram", *VIEW_KINDS)
STEPPED = ("confusion", "pr", "image", "gradflow")  # `,` and `.` choose their step


@dataclass
class ChartSpec:
    tag: str
    kind: str = "scalar"           # one of KINDS
    log_y: bool = False            # scalars: the y scale of this chart
    mode: str = MODES[0]           # histograms: latest / overlay / distribution
    step: int | None = None        # views: the step shown; None follows the newest
    pick: str = ""                 # PR curves: the class's tag picked from the list

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.tag}"


def default_specs(scalars: set[str], hists: set[str], old: list[ChartSpec] = (),
                  views: list[tuple[str, str]] = ()) -> list[ChartSpec]:
    """The preferred tags that exist, one histogram (weights first), the evaluation
    views the runs have (``views``: (kind, tag), in logs.evaluation.views' order; the
    confusion matrix's picture left out where its counts are drawn), then the remaining
    scalar tags but the system's. A chart's own view survives (``old``) while its tag
    stays."""
    kept = {s.key: s for s in old}
    tags = [t for t in PREFERRED if t in scalars]
    picked = [ChartSpec(t) for t in tags]
    if hists:
        first = min(hists, key=lambda t: (not t.startswith("weights/"), t))
        picked.append(ChartSpec(first, "histogram"))
    # The picture of a matrix whose counts the confusion view draws says nothing more,
    # and each new one repaints a whole cell over SSH: pinned from the tag tree only.
    counted = {tag.removesuffix(COUNTS_SUFFIX) for kind, tag in views if kind == "confusion"}
    picked += [ChartSpec(tag, kind) for kind, tag in views
               if not (kind == "image" and tag in counted)]
    # sys/ metrics have their own panel, and a layer's GradFlow/ norm is one of dozens:
    # they join the grid only when pinned.
    picked += [ChartSpec(t) for t in sorted(scalars - set(tags))
               if not t.startswith(("sys/", "GradFlow/"))]
    return [kept.get(s.key, s) for s in picked[:MAX_CHARTS]]


def grid_shape(n: int, width: int, height: int) -> tuple[int, int, int]:
    """(charts shown, columns, rows) for ``n`` charts in ``width`` × ``height`` cells:
    as many as fit at the minimum cell size, arranged so each cell is closest to
    ``CELL_ASPECT`` columns per row (a curve reads best about three times wider than
    tall in characters, as a terminal cell is twice as tall as wide)."""
    cols = max(1, width // MIN_CELL_W)
    rows = max(1, height // MIN_CELL_H)
    shown = min(n, cols * rows)
    if shown == 0:
        return 0, 1, 1
    if width <= 0 or height <= 0:  # not laid out yet
        return shown, 1, shown
    best = None
    for c in range(1, min(cols, shown) + 1):
        r = math.ceil(shown / c)
        if r > rows:
            continue
        badness = abs(math.log((width / c) / (height / r) / CELL_ASPECT))
        if best is None or badness < best[0]:
            best = (badness, c, r)
    return shown, best[1], best[2]


def window(n: int, shown: int, selected: int) -> range:
    """The charts on screen: the first ``shown``, or the page that holds ``selected``."""
    if shown <= 0:
        return range(0)
    start = (selected // shown) * shown
    return range(start, min(start + shown, n))


def state_file() -> str:
    base = os.environ.get("TBX_TUI_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "tbx-tui")
    return os.path.join(base, "grids.json")


MAX_STATE_BYTES = 16 << 20  # far above any real file (a view is ~1 KB per logdir)
MAX_TAG = 1000
MAX_SAVED_CHARTS = 1000  # pinned by hand; a file asking for more is cut there


class StateDamaged(ValueError):
    pass


def _load_all(path: str) -> dict:
    """The whole state file; {} when absent. StateDamaged when it is there but not ours
    to use: not JSON, nested too deep to parse, huge, not an object, unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise StateDamaged(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > MAX_STATE_BYTES:
        raise StateDamaged(f"{path} is over {MAX_STATE_BYTES >> 20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # RecursionError: [[[[… 100,000 deep
        raise StateDamaged(f"{path} is damaged ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise StateDamaged(f"{path} is damaged (not a JSON object)")
    return data


def _number(value, low: float, high: float, default):
    """A finite number within [low, high], else ``default`` (NaN, ±inf, text, bools)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return min(max(value, low), high)


def _spec(c) -> ChartSpec:
    return ChartSpec(clean(str(c["tag"])[:MAX_TAG]),
                     c.get("kind") if c.get("kind") in KINDS else "scalar",
                     c.get("log_y") is True,
                     c.get("mode") if c.get("mode") in MODES else MODES[0],
                     int(_number(c.get("step"), 0, 1 << 62, 0)) if c.get("step") is not None
                     else None,
                     clean(str(c.get("pick") or "")[:MAX_TAG]))


def load_view(key: str) -> tuple[dict, str | None]:
    """(the saved view of one log directory, what was wrong with the state file). The
    view: ``charts`` (a list of ChartSpec, or None for the defaults) and the other
    settings, each checked and clamped; {} when there is none or the file is damaged,
    which the next save replaces."""
    try:
        view = _load_all(state_file()).get(key)
    except StateDamaged as e:
        return {}, f"{e}: the default view is used; the next change replaces it"
    if not isinstance(view, dict):
        return {}, None
    charts = view.get("charts")
    try:
        charts = None if not isinstance(charts, list) else \
            [_spec(c) for c in charts[:MAX_SAVED_CHARTS]]
    except (TypeError, KeyError, AttributeError):
        charts = None
    return {"charts": charts,
            "smoothing": _number(view.get("smoothing"), 0.0, 0.99, None),
            "by_time": view.get("by_time") is True,
            "side": view.get("side") is not False,
            "zoomed": view.get("zoomed") is True,
            "selected": _number(view.get("selected"), 0, MAX_SAVED_CHARTS, 0)}, None


def save_view(key: str, charts: list[ChartSpec] | None, **settings) -> None:
    """Raises OSError when the state file cannot be written (the caller says so)."""
    path = state_file()
    try:
        data = _load_all(path)
    except StateDamaged:
        data = {}  # replaced whole: what it held was of no use
    data[key] = {"charts": None if charts is None else [asdict(c) for c in charts],
                 **settings}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True))


class ViewSaver:
    """save_view off the UI thread: the state file is written whole and fsynced, which
    took tens of ms (once 100+) on a key like ``x``. The newest view wins; ``flush``
    waits for the last one (the app's exit)."""

    def __init__(self, failed):
        self._failed = failed            # called with the OSError, on the saver's thread
        self._lock = threading.Lock()
        self._pending = None
        self._thread: threading.Thread | None = None

    def save(self, key: str, charts: list[ChartSpec] | None, **settings) -> None:
        snapshot = (key, None if charts is None else [replace(c) for c in charts], settings)
        with self._lock:
            self._pending = snapshot
            if self._thread is None:  # else the running one takes it
                self._thread = threading.Thread(target=self._run, name="tbx-view-saver",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                item, self._pending = self._pending, None
                if item is None:
                    self._thread = None
                    return
            key, charts, settings = item
            try:
                save_view(key, charts, **settings)
            except OSError as e:
                self._failed(e)

    def flush(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
