"""The selected weight/gradient histogram: latest, several steps overlaid, or TensorBoard's
distribution view (percentile bands over steps)."""

from __future__ import annotations

import numpy as np
from .cached_plot import CachedPlot, fit_title

from ...logs.series import percentile_bands, rebin
from ...logs.store import HistogramPoint
from .ticks import round_axes
from .palette import colour, dimmed

MODES = ("latest", "overlay", "distribution")
_BANDS = ("min", "7%", "16%", "31%", "median", "69%", "84%", "93%", "max")


class HistogramPlot(CachedPlot):
    def draw(self, run: str | None, tag: str | None, points: list[HistogramPoint],
             mode: str, index: int = 0, titled: bool = True) -> None:
        """``titled=False``: the caller shows tag, run and mode (a grid cell's border);
        the chart's title then says only what the mode needs (steps shown)."""
        self.draw_safely(self._draw, run, tag, points, mode, index, titled)

    def _axes(self, xspan, yspan, titled: bool) -> None:
        """Round, evenly spaced ticks, as the curve charts have (ticks.py)."""
        rows = self.size.height - (4 if titled else 3)
        round_axes(self.plt, xspan, yspan, rows, max(self.size.width - 12, 10))

    def _draw(self, run: str | None, tag: str | None, points: list[HistogramPoint],
              mode: str, index: int, titled: bool) -> None:
        plt = self.plt
        plt.clear_figure()
        if not tag or not points:
            plt.title(fit_title("no histogram tag selected" if not tag else f"{tag}: none yet",
                                self.size.width))
            return
        rgb = colour(index)
        if mode == "distribution":
            steps = [p.step for p in points]
            bands = np.array([percentile_bands(p.hist.left, p.hist.right, p.hist.counts)
                              for p in points])
            if len(points) > 2 * self.size.width:  # at most ~2 per column
                pick = np.linspace(0, len(points) - 1, 2 * self.size.width).astype(int)
                steps, bands = [steps[i] for i in pick], bands[pick]
            for k, name in enumerate(_BANDS):
                shade = 0.0 if name == "median" else 0.25 + 0.15 * abs(k - 4)
                plt.plot(steps, bands[:, k].tolist(), color=dimmed(rgb, shade),
                         marker="braille")
            self._axes((min(steps), max(steps)), _span(bands), titled)
            plt.xlabel("step")
            plt.title(fit_title((f"{tag} ({run}) " if titled else "") +
                                f"distribution over {len(points)} steps: min, 7/16/31%, "
                                "median (bright), 69/84/93%, max", self.size.width))
        else:
            chosen = [points[-1]] if mode == "latest" else \
                [points[int(i)] for i in np.unique(np.linspace(0, len(points) - 1, 5).astype(int))]
            bins = max(min(self.size.width - 12, 60), 10)
            xs, ys = [], []
            for k, p in enumerate(chosen):
                h = p.hist
                centres, counts = rebin(h.left, h.right, h.counts, bins)
                if mode == "latest":  # bars' outlines, from and back to 0
                    centres, counts = staircase(centres, counts)
                age = 0.0 if k == len(chosen) - 1 else 0.7 - 0.5 * k / max(len(chosen) - 1, 1)
                plt.plot(centres.tolist(), counts.tolist(), color=dimmed(rgb, age),
                         marker="braille")
                xs.append(centres)
                ys.append(counts)
            self._axes(_span(np.concatenate(xs)), _span(np.concatenate(ys)), titled)
            plt.xlabel("value")
            if titled or mode == "overlay":  # a grid cell's border names the latest step
                plt.title(fit_title((f"{tag} ({run}) " if titled else "") + (
                    f"latest: step {points[-1].step}" if mode == "latest" else
                    f"overlay: steps {', '.join(str(p.step) for p in chosen)} "
                    "(oldest faintest)"), self.size.width))


def _span(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def staircase(centres: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width buckets as the outline of their bars. plotext's ``fillx`` drew the
    same histogram filled, at 40 ms a build against 6 here (66×19 cells): on a busy
    machine the UI thread's longest block, and the one keys waited behind."""
    if len(centres) < 2:
        return centres, counts
    half = (centres[1] - centres[0]) / 2
    edges = np.append(centres - half, centres[-1] + half)
    xs = np.concatenate([[edges[0]], np.repeat(edges, 2)[1:-1], [edges[-1]]])
    ys = np.concatenate([[0.0], np.repeat(counts, 2), [0.0]])
    return xs, ys
