"""The gradient-flow view: each layer's gradient norm (``GradFlow/<layer>`` scalars, one per
module that owns parameters, input side first) at one log step, as bars on a log scale,
with the run's first logged step as a faint line behind them. Layers whose gradients
vanish or explode are drawn in the theme's warning and error colours and named in the
chart's title."""

from __future__ import annotations

import math

import numpy as np

from ...logs.evaluation import GRAD_PREFIX
from ..widgets.cached_plot import CachedPlot, fit_title
from ..widgets.palette import colour, dimmed
from . import PanelContext
from .cell import Cell, run_having

# Against the layers' median as well as absolute: a healthy net's norms span ~2 decades.
VANISHING, EXPLODING, SPREAD = 1e-6, 1e3, 1e3
WARN, BAD = (240, 200, 60), (230, 80, 80)


def layer_norms(run, step: int | None) -> tuple[list[str], np.ndarray, np.ndarray, int, list]:
    """(layers in write order, norms at ``step`` (the newest at or before it), norms at the
    first step, the step shown, every logged step)."""
    tags = [t for t in run.scalars if t.startswith(GRAD_PREFIX) and len(run.scalars[t])]
    if not tags:
        return [], np.zeros(0), np.zeros(0), 0, []
    steps = run.scalars[tags[0]].steps
    at = len(steps) - 1 if step is None else max(int(np.searchsorted(steps, step, "right")) - 1, 0)
    shown = int(steps[at])
    now, first = [], []
    for t in tags:
        s = run.scalars[t]
        i = max(int(np.searchsorted(s.steps, shown, "right")) - 1, 0)
        now.append(float(s.values[i]))
        first.append(float(s.values[0]))
    return [t[len(GRAD_PREFIX):] for t in tags], np.array(now), np.array(first), shown, \
        steps.tolist()


def marks(norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vanishing, exploding) masks over the layers."""
    finite = norms[np.isfinite(norms)]
    median = float(np.median(finite)) if finite.size else 0.0
    exploding = ~np.isfinite(norms) | (norms > EXPLODING) | \
        ((norms > median * SPREAD) & (median > 0))
    vanishing = np.isfinite(norms) & ((norms < VANISHING) | (norms < median / SPREAD)) \
        & ~exploding
    return vanishing, exploding


class GradFlowChart(Cell, CachedPlot):

    def update_chart(self, ctx: PanelContext) -> bool:
        spec = self.spec
        has = lambda r: any(t.startswith(GRAD_PREFIX) for t in r.scalars)  # noqa: E731
        name = run_having(ctx, has)
        run = ctx.runs.get(name) if name else None
        sig = (name, spec.step, run.version if run else None, self.size,
               ctx.labels.get(name), ctx.colours.get(name))
        if sig == self._sig:
            return False
        self._sig = sig
        layers, now, first, shown, steps = layer_norms(run, spec.step) if run else \
            ([], np.zeros(0), np.zeros(0), 0, [])
        self.title_view(ctx, name, "gradient flow", steps)
        self.draw_safely(self._draw, layers, now, first, ctx.colours.get(name, 0))
        return True

    def _draw(self, layers: list[str], now: np.ndarray, first: np.ndarray, index: int) -> None:
        plt = self.plt
        plt.clear_figure()
        if not layers:
            plt.title("no GradFlow/ norms yet")
            return
        vanishing, exploding = marks(now)
        floor = 1e-12
        logs = np.log10(np.clip(np.nan_to_num(now, nan=1e30, posinf=1e30), floor, 1e30))
        xs = list(range(1, len(layers) + 1))
        rgb = colour(index)
        start = np.log10(np.clip(np.nan_to_num(first, nan=1e30), floor, 1e30))
        # Whole decades: the axis moves only when a norm crosses one, so a new interval
        # repaints the bars that changed, not the chart (the bytes sent over SSH).
        both = np.concatenate([logs, start])
        lo, hi = math.floor(both.min()) - 1, math.ceil(both.max())
        hi += hi == lo
        for mask, tone in ((~vanishing & ~exploding, rgb), (vanishing, WARN), (exploding, BAD)):
            if mask.any():
                plt.bar([x for x, m in zip(xs, mask) if m], logs[mask].tolist(),
                        color=tone, width=0.6, minimum=lo)
        plt.plot(xs, start.tolist(), color=dimmed(rgb, 0.55), marker="braille")
        plt.ylim(lo, hi)
        step = max(1, -(-(hi - lo) // max((self.size.height - 4) // 2, 1)))
        plt.yticks(list(range(lo, hi + 1, step)))
        room = max((self.size.width - 10) // max(len(layers), 1) - 1, 0)
        plt.xticks(xs, [n if len(n) <= room else (n[:room - 1] + "…" if room > 2 else str(x))
                        for x, n in zip(xs, layers)])
        plt.ylabel("log10 norm")
        named = [f"vanishing: {', '.join(np.array(layers)[vanishing][:3])}" if vanishing.any()
                 else "", f"exploding: {', '.join(np.array(layers)[exploding][:3])}"
                 if exploding.any() else ""]
        plt.title(fit_title(" · ".join(n for n in named if n) or
                            "no vanishing or exploding layer (faint: first step)",
                            self.size.width))
