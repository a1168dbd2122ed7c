"""MetricStore: everything read from a log directory, per run and tag, in numpy arrays.

Every point is kept. Writers (the poller thread) change it under ``lock`` and bump
``version``; readers (the UI) compare versions and redraw only when something changed.
Text from the files (tags, text summaries, hparams, run-state reasons) enters the store
through ``safe_text.clean``: every view, ``--once`` and the CSV export read it from here, so
none of them sees the control bytes a stranger's log may carry. Restart semantics follow TensorBoard's EventAccumulator: with file version >= 2 a
``SessionLog.START`` at step s drops every point with step >= s; older files drop a tag's
points at and after a step that goes backwards.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from ..safe_text import clean, clean_name
from .reader import Chunk
from ..run_state import STATE_TAG, parse_state_text
from .wire import SESSION_START, EncodedImage, Event, Histogram

# Bounds on what evaluation views keep (a stranger's log may hold thousands of them). An
# image's bytes are kept for the newest KEEP_IMAGES points of its tag and within
# IMAGE_BUDGET for the whole store (the oldest go first); older points keep their step and
# size, and say their picture was let go. PR curves and confusion counts keep their newest
# KEEP_ARRAYS points a tag (a 256-class matrix is 0.5 MB).
MAX_IMAGE_BYTES = 32 << 20
KEEP_IMAGES = 4
IMAGE_BUDGET = 192 << 20
KEEP_ARRAYS = 64


class Series:
    """Growable (step, wall_time, value) columns; amortised O(1) appends."""

    def __init__(self) -> None:
        self._n = 0
        self.generation = 0  # bumped when points are dropped: cached smoothing is void
        self._steps = np.empty(0, dtype=np.int64)
        self._walls = np.empty(0, dtype=np.float64)
        self._values = np.empty(0, dtype=np.float64)

    def __len__(self) -> int:
        return self._n

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self._n]

    @property
    def walls(self) -> np.ndarray:
        return self._walls[: self._n]

    @property
    def values(self) -> np.ndarray:
        return self._values[: self._n]

    def append(self, steps, walls, values) -> None:
        k = len(steps)
        if self._n + k > len(self._steps):
            cap = max(self._n + k, 2 * len(self._steps), 64)
            for name in ("_steps", "_walls", "_values"):
                old = getattr(self, name)
                new = np.empty(cap, dtype=old.dtype)
                new[: self._n] = old[: self._n]
                setattr(self, name, new)
        self._steps[self._n:self._n + k] = steps
        self._walls[self._n:self._n + k] = walls
        self._values[self._n:self._n + k] = values
        self._n += k

    def purge(self, step: int) -> int:
        """Drop points with step >= ``step``; returns how many."""
        keep = self.steps < step
        dropped = self._n - int(keep.sum())
        if dropped:
            n = self._n - dropped
            self._steps[:n] = self.steps[keep]
            self._walls[:n] = self.walls[keep]
            self._values[:n] = self.values[keep]
            self._n = n
            self.generation += 1
        return dropped


@dataclass
class HistogramPoint:
    step: int
    wall: float
    hist: Histogram


@dataclass
class TextPoint:
    step: int
    wall: float
    text: str


@dataclass
class ImagePoint:
    step: int
    wall: float
    image: EncodedImage           # .data is b"" once let go (or never kept: ``problem``)
    problem: str = ""


@dataclass
class ArrayPoint:
    step: int
    wall: float
    array: np.ndarray             # PR: [6, thresholds]; confusion: [classes, classes]
    classes: tuple[str, ...] = ()  # confusion: the class names (cleaned)


@dataclass
class RunData:
    name: str
    path: str
    scalars: dict[str, Series] = field(default_factory=dict)
    histograms: dict[str, list[HistogramPoint]] = field(default_factory=dict)
    hparams: dict[str, object] = field(default_factory=dict)
    texts: dict[str, list[TextPoint]] = field(default_factory=dict)
    images: dict[str, list[ImagePoint]] = field(default_factory=dict)
    curves: dict[str, list[ArrayPoint]] = field(default_factory=dict)    # PR curves
    matrices: dict[str, list[ArrayPoint]] = field(default_factory=dict)  # confusion counts
    end_state: str | None = None      # how the run said it ended (run_state.ENDED), if it did
    end_reason: str = ""
    records: int = 0
    bad: int = 0                      # records skipped (bad CRC, undecodable, garbage)
    files: int = 0
    empty_files: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong
    last_step: int | None = None
    last_wall: float | None = None    # newest event wall time
    mtime: float = 0.0                # newest event file modification time (epoch s)
    file_version: float = 0.0
    recent_step: int = -(1 << 62)     # last summary step, for old-file restarts
    version: int = 0


class MetricStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.runs: dict[str, RunData] = {}
        self.version = 0
        self.image_bytes = 0  # encoded image bytes held, over all runs (IMAGE_BUDGET)

    def run(self, name: str, path: str) -> RunData:
        with self.lock:
            if name not in self.runs:
                self.runs[name] = RunData(name, path)
                self.version += 1
            return self.runs[name]

    def drop_run(self, name: str) -> None:
        with self.lock:
            run = self.runs.pop(name, None)
            if run is not None:
                self.image_bytes -= sum(len(p.image.data) for ps in run.images.values()
                                        for p in ps)
                self.version += 1

    def touch(self, run: RunData) -> None:
        """Mark a run changed, for readers comparing versions."""
        run.version += 1
        self.version += 1

    def apply(self, run: RunData, chunk: Chunk) -> None:
        """Add one file's new data to its run, honouring restarts, in file order."""
        with self.lock:
            run.records += chunk.records
            run.bad += chunk.bad
            purges = self._events(run, chunk)
            for tag, offsets, steps, walls, values in chunk.scalars.per_tag():
                self._add_scalars(run, clean_name(tag), offsets, steps, walls, values, purges)
            self.touch(run)

    def _events(self, run: RunData, chunk: Chunk) -> list[tuple[int, int, tuple | None]]:
        """Apply the general decoder's events; return purges (offset, step, tags|None)
        that the fast-path scalars of this chunk must respect."""
        purges = []
        for offset, ev in chunk.events:
            if ev.file_version is not None:
                try:
                    run.file_version = float(ev.file_version.rsplit(":", 1)[-1])
                except ValueError:
                    pass
            if ev.session_status == SESSION_START and run.file_version >= 2:
                self._purge(run, ev.step, None)
                purges.append((offset, ev.step, None))
                run.end_state, run.end_reason = None, ""  # a new session: running again
            if run.file_version < 2 and ev.has_summary and ev.step < run.recent_step:
                tags = tuple(clean_name(v.tag) for v in ev.values)
                self._purge(run, ev.step, tags)
                purges.append((offset, ev.step, tags))
            self._note(run, ev.step, ev.wall_time, ev.has_summary)
            for v in ev.values:
                self._value(run, ev, v)
        return purges

    def _value(self, run: RunData, ev: Event, v) -> None:
        tag = clean_name(v.tag)
        if v.kind == "scalar":
            run.scalars.setdefault(tag, Series()).append([ev.step], [ev.wall_time], [v.scalar])
        elif v.kind == "histogram":
            run.histograms.setdefault(tag, []).append(HistogramPoint(ev.step, ev.wall_time,
                                                                       v.histogram))
        elif v.kind == "image":
            self._add_image(run, tag, ImagePoint(ev.step, ev.wall_time, v.image))
        elif v.kind == "pr":
            _keep(run.curves.setdefault(tag, []), ArrayPoint(ev.step, ev.wall_time, v.array))
        elif v.kind == "matrix":
            _keep(run.matrices.setdefault(tag, []),
                  ArrayPoint(ev.step, ev.wall_time, v.array, class_names(v.content,
                                                                         len(v.array))))
        elif v.kind == "hparams":
            from .hparams import apply_hparams

            apply_hparams(run, tag, v.content)
        elif v.kind == "text":
            text = clean(v.content, multiline=True)
            run.texts.setdefault(tag, []).append(TextPoint(ev.step, ev.wall_time, text))
            if tag == STATE_TAG:
                state, why = parse_state_text(text)
                if state is not None:
                    run.end_state, run.end_reason = state, why

    def _add_image(self, run: RunData, tag: str, point: ImagePoint) -> None:
        size = len(point.image.data)
        if size > MAX_IMAGE_BYTES:
            point.image.data = b""
            point.problem = (f"image record of {size / (1 << 20):.0f} MiB: over "
                             f"{MAX_IMAGE_BYTES >> 20} MiB, not kept")
        points = run.images.setdefault(tag, [])
        points.append(point)
        self.image_bytes += len(point.image.data)
        for old in points[:-KEEP_IMAGES]:
            self._let_go(old)
        if self.image_bytes > IMAGE_BUDGET:  # the oldest go first, never the new one
            held = sorted((p for r in self.runs.values() for ps in r.images.values()
                           for p in ps if p.image.data and p is not point),
                          key=lambda p: (p.wall, p.step))  # stable: file order on ties
            for p in held:
                if self.image_bytes <= IMAGE_BUDGET:
                    break
                self._let_go(p)

    def _let_go(self, point: ImagePoint) -> None:
        if point.image.data:
            self.image_bytes -= len(point.image.data)
            point.image.data = b""
            point.problem = point.problem or "no longer held (only the newest images are)"

    @staticmethod
    def _note(run: RunData, step: int, wall: float, summary: bool) -> None:
        if wall and (run.last_wall is None or wall >= run.last_wall):
            run.last_wall = wall
        if summary:
            run.last_step = step if run.last_step is None else max(run.last_step, step)
            run.recent_step = step

    def _add_scalars(self, run, tag, offsets, steps, walls, values, purges) -> None:
        if run.file_version < 2 and len(steps):
            self._old_style_restarts(run, tag, offsets, steps, purges)
        series = run.scalars.setdefault(tag, Series())
        relevant = sorted(p for p in purges if p[2] is None or tag in p[2])
        lo = 0
        for offset, step, _ in relevant:  # points before a purge are subject to it
            hi = int(np.searchsorted(offsets, offset))
            series.append(steps[lo:hi], walls[lo:hi], values[lo:hi])
            series.purge(step)
            lo = hi
        series.append(steps[lo:], walls[lo:], values[lo:])
        if len(steps):
            self._note(run, int(steps.max()), float(walls.max()), True)
            run.recent_step = int(steps[-1])

    @staticmethod
    def _old_style_restarts(run, tag, offsets, steps, purges) -> None:
        # Only files without a version >= 2 (TF1 era) take this slower way.
        prev = np.concatenate([[run.recent_step], steps[:-1]])
        for i in np.flatnonzero(steps < prev):
            purges.append((int(offsets[i]), int(steps[i]), (tag,)))

    def _purge(self, run: RunData, step: int, tags: tuple | None) -> None:
        names = run.scalars if tags is None else [t for t in tags if t in run.scalars]
        for tag in names:
            run.scalars[tag].purge(step)
        hnames = run.histograms if tags is None else [t for t in tags if t in run.histograms]
        for tag in hnames:
            run.histograms[tag] = [p for p in run.histograms[tag] if p.step < step]
        for tag in run.images if tags is None else [t for t in tags if t in run.images]:
            for p in run.images[tag]:
                if p.step >= step:
                    self._let_go(p)
        for points in (run.images, run.curves, run.matrices):
            for tag in points if tags is None else [t for t in tags if t in points]:
                points[tag] = [p for p in points[tag] if p.step < step]


def _keep(points: list, point) -> None:
    points.append(point)
    del points[:-KEEP_ARRAYS]


def class_names(content: bytes, count: int) -> tuple[str, ...]:
    """The class names a confusion record's metadata carries (JSON ``{"classes": […]}``),
    cleaned; numbers where it has none that fit."""
    import json

    try:
        names = json.loads(content.decode("utf-8"))["classes"]
    except (ValueError, KeyError, TypeError, RecursionError):
        names = None
    if not isinstance(names, list) or len(names) != count:
        return tuple(str(i) for i in range(count))
    return tuple(clean_name(str(n))[:80] for n in names)
