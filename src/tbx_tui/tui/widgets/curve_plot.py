"""Scalar curves of several runs on one chart: raw series faint, smoothed on top."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.markup import escape
from .cached_plot import CachedPlot, fit_title

from ...logs.series import EmaState, GrowingDownsample, is_constant, minmax_downsample, smooth
from .palette import colour, dimmed
from .ticks import round_axes


@dataclass
class CurveData:
    run: str
    index: int          # colour slot
    x: np.ndarray       # steps or wall times, as stored (a view: no copy per redraw)
    y: np.ndarray
    x0: float = 0.0     # subtracted from x for display (wall time since the start)


@dataclass
class _Lines:
    """One growing series' display state (see _SmoothCache.lines)."""
    generation: int
    weight: float
    columns: int
    raw: GrowingDownsample
    smoothed: GrowingDownsample
    n: int = 0                  # input points consumed
    ema: EmaState | None = None
    first: float | None = None
    constant: bool = True


class _SmoothCache:
    """Per (run, tag): the smoothed prefix and the EMA state, so growth costs its tail."""

    def __init__(self):
        self._entries: dict = {}
        self._lines: dict = {}

    def get(self, key, values: np.ndarray, weight: float, generation: int) -> np.ndarray:
        hit = self._entries.get(key)
        if (hit is not None and hit[0] == weight and hit[1] == generation
                and len(hit[2]) <= len(values)):
            if len(hit[2]) == len(values):
                return hit[2]
            out, state = smooth(values, weight, hit[3], hit[2])
        else:
            out, state = smooth(values, weight)
        self._entries[key] = (weight, generation, out, state)
        return out

    def lines(self, key, x: np.ndarray, y: np.ndarray, weight: float, generation: int,
              columns: int, log_y: bool):
        """(raw line or None, main line) of a long series from its new tail only, or
        None where the full path must draw it (short, or x not in order: a restart
        written without a purge)."""
        if len(y) <= 4 * columns:
            return None
        e = self._lines.get(key)
        if (e is None or e.generation != generation or e.weight != weight
                or e.columns != columns or e.n > len(y)):
            e = _Lines(generation, weight, columns, GrowingDownsample(columns),
                       GrowingDownsample(columns))
        tx, ty = x[e.n:], y[e.n:]
        keep = np.isfinite(ty) & np.isfinite(tx) & ((ty > 0) if log_y else True)
        if not keep.all():
            tx, ty = tx[keep], ty[keep]
        if len(ty):
            e.first = float(ty[0]) if e.first is None else e.first
            e.constant = e.constant and bool(np.all(ty == e.first))
        if not e.raw.extend(tx, ty):
            self._lines.pop(key, None)
            return None
        if weight > 0:
            sm, e.ema = smooth(ty, weight, e.ema)
            e.smoothed.extend(tx, sm)
        e.n = len(y)
        self._lines[key] = e
        if not e.raw.n:
            return "empty"
        if weight > 0 and not e.constant:
            return e.raw.points(), e.smoothed.points()
        return None, e.raw.points()


def legend_markup(entries: list[tuple[str, int]]) -> str:
    """Rich markup: a coloured block and the name of every (label, colour slot)."""
    return "   ".join(f"[rgb({','.join(map(str, colour(i)))})]■[/] {escape(name)}"
                       for name, i in entries)


class CurvePlot(CachedPlot):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cache = _SmoothCache()
        self.message = "no scalar tag selected"

    def draw(self, tag: str | None, curves: list[tuple[CurveData, int]], smoothing: float,
             by_time: bool, log_y: bool, titled: bool = True) -> None:
        # The plot's own rows: the height less the x axis, its ticks and label, the title.
        rows = self.size.height - (4 if titled else 3)
        self.draw_safely(plot_curves, self.plt, max(self.size.width - 12, 10),
                         tag or self.message, curves, smoothing, by_time, log_y, self.cache,
                         self.size.width, titled, rows)


def plot_curves(plt, columns: int, tag: str, curves: list[tuple[CurveData, int]],
                smoothing: float, by_time: bool, log_y: bool, cache: _SmoothCache,
                width: int = 200, titled: bool = True, rows: int = 20) -> None:
    """Fill a plotext figure ``width`` columns wide. ``curves``: (data, generation) per
    run. At most two points per column reach plotext, whatever the series' length. The
    title carries the chart's own view: smoothing and y scale (the x label says step or
    time); ``titled=False`` leaves it to the caller (a grid cell's border) and titles
    only a chart with nothing to show."""
    plt.clear_figure()
    if titled:
        plt.title(fit_title(f"{tag}  ·  smoothing {smoothing:.2f}  ·  "
                            f"{'log' if log_y else 'linear'} y", width))
    plt.xlabel("wall time (s since start)" if by_time else "step")
    drawn = 0
    span = [math.inf, -math.inf]  # of every y drawn: the ticks divide it
    xspan = [math.inf, -math.inf]

    def plot(xs, ys, color) -> None:
        if len(ys):
            finite = [v for v in (min(ys), max(ys)) if math.isfinite(v)]
            if finite:
                span[0], span[1] = min(span[0], *finite), max(span[1], *finite)
            xspan[0], xspan[1] = min(xspan[0], xs[0]), max(xspan[1], xs[-1])
        plt.plot(xs, ys, color=color, marker="braille")
    for data, generation in curves:
        rgb = colour(data.index)
        lines = cache.lines((data.run, tag, by_time, log_y), data.x, data.y, smoothing,
                            generation, columns, log_y)
        if lines == "empty":
            continue
        if lines is not None:  # a long series: its lines from the new tail only
            raw, (sx, sy) = lines
            if raw is not None:
                plot((raw[0] - data.x0).tolist(), raw[1].tolist(), dimmed(rgb))
            plot((sx - data.x0).tolist(), sy.tolist(), rgb)
            drawn += 1
            continue
        x, y = np.asarray(data.x, dtype=np.float64) - data.x0, data.y
        # NaN and ±inf have no place on an axis (a diverged run logs them); on a log
        # scale neither have values <= 0.
        keep = np.isfinite(y) & np.isfinite(x) & ((y > 0) if log_y else True)
        if not keep.all():
            x, y = x[keep], y[keep]
        if len(x) == 0:
            continue
        if len(x) > 1 and np.any(np.diff(x) < 0):  # restarts without purge: sort by x
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
        if smoothing > 0 and not is_constant(y):
            sm = cache.get((data.run, tag, by_time, log_y), y, smoothing, generation)
            rx, ry = minmax_downsample(x, y, columns)
            plot(rx.tolist(), ry.tolist(), dimmed(rgb))
            sx, sy = minmax_downsample(x, sm, columns)
        else:
            sx, sy = minmax_downsample(x, y, columns)
        # No plotext labels: its legend breaks when a labelled series has no visible
        # point; the dashboard draws the legend itself (legend_markup).
        plot(sx.tolist(), sy.tolist(), rgb)
        drawn += 1
    if not drawn:
        has_points = any(len(d.y) for d, _ in curves)
        plt.title(fit_title(f"{tag}: nothing positive to show on a log scale (l: linear)"
                            if log_y and has_points else f"{tag}: no finite values"
                            if has_points else f"{tag}: no points yet", width))
    elif log_y:  # only with something to scale: plotext fails on an empty log axis
        plt.yscale("log")
    if drawn:  # steps or seconds, and the values: limits that a new point rarely moves
        round_axes(plt, xspan, None if log_y else span, rows, columns)
