"""Scalar curves of several runs on one chart: raw series faint, smoothed on top."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.markup import escape
from .cached_plot import CachedPlot, fit_title

from ...logs.series import is_constant, minmax_downsample, smooth
from .palette import colour, dimmed


@dataclass
class CurveData:
    run: str
    index: int          # colour slot
    x: np.ndarray
    y: np.ndarray


class _SmoothCache:
    """Per (run, tag): the smoothed prefix and the EMA state, so growth costs its tail."""

    def __init__(self):
        self._entries: dict = {}

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
        self.draw_safely(plot_curves, self.plt, max(self.size.width - 12, 10),
                         tag or self.message, curves, smoothing, by_time, log_y, self.cache,
                         self.size.width, titled)


def plot_curves(plt, columns: int, tag: str, curves: list[tuple[CurveData, int]],
                smoothing: float, by_time: bool, log_y: bool, cache: _SmoothCache,
                width: int = 200, titled: bool = True) -> None:
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
    for data, generation in curves:
        x, y = data.x, data.y
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
        rgb = colour(data.index)
        if smoothing > 0 and not is_constant(y):
            sm = cache.get((data.run, tag, by_time, log_y), y, smoothing, generation)
            rx, ry = minmax_downsample(x, y, columns)
            plt.plot(rx.tolist(), ry.tolist(), color=dimmed(rgb), marker="braille")
            sx, sy = minmax_downsample(x, sm, columns)
        else:
            sx, sy = minmax_downsample(x, y, columns)
        # No plotext labels: its legend breaks when a labelled series has no visible
        # point; the dashboard draws the legend itself (legend_markup).
        plt.plot(sx.tolist(), sy.tolist(), color=rgb, marker="braille")
        drawn += 1
    if not drawn:
        has_points = any(len(d.y) for d, _ in curves)
        plt.title(fit_title(f"{tag}: nothing positive to show on a log scale (l: linear)"
                            if log_y and has_points else f"{tag}: no finite values"
                            if has_points else f"{tag}: no points yet", width))
    elif log_y:  # only with something to scale: plotext fails on an empty log axis
        plt.yscale("log")
