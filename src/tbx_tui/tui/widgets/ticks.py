"""Evenly spaced, rounded y ticks (1, 2, 2.5 or 5 × 10^k apart) for a chart of a few rows.

plotext picks a tick per row band from the data's own range, so a 5-row chart read
``2.38, 1.99, 1.21, 0.81, 0.03``: neither evenly spaced nor round. Here the axis is
widened to whole steps and each tick is a multiple of the step."""

from __future__ import annotations

import math

STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def tick_count(rows: int) -> int:
    """At most one tick every other row of the plot's area; 2 to 6."""
    return max(2, min(6, rows // 2 + 1))


def _label(v: float, step: float) -> str:
    big = max(abs(v), step)
    if big >= 1e5 or step < 1e-4:
        return f"{v:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if abs(round(step, decimals) - step) > 1e-9 * step:
        decimals += 1  # 0.25, not 0.2
    text = f"{v:.{decimals}f}"
    return "0" if float(text) == 0 else text


def axis(lo: float, hi: float, most: int, fraction: float = 0.25
         ) -> tuple[float, float, list[float], list[str]] | None:
    """(low limit, high limit, ticks, labels): the limits rounded out to ``fraction`` of
    the smallest round step that puts at most ``most`` ticks between them. None when
    there is no span (a constant, or no finite values)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or most < 2:
        return None
    raw = (hi - lo) / (most - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for scale in (1.0, 10.0):
        for mantissa in STEPS:
            step = mantissa * power * scale
            q = step * fraction
            a, b = math.floor(lo / q + 1e-9) * q, math.ceil(hi / q - 1e-9) * q
            first, last = math.ceil(a / step - 1e-9), math.floor(b / step + 1e-9)
            if last - first + 1 <= most:
                values = [k * step for k in range(first, last + 1)]
                return a, b, values, [_label(v, step) for v in values]
    return None


def round_axes(plt, xspan: tuple[float, float], yspan: tuple[float, float] | None,
               rows: int, columns: int) -> None:
    """Set a plotext figure's limits and ticks from ``axis``: x from ``xspan`` (limits
    rounded out to half a step: a log's x grows with every point), y from ``yspan``
    (None: plotext's own, as on a log scale). ``rows``/``columns``: the plot's area."""
    if yspan is not None:
        y_axis = axis(yspan[0], yspan[1], tick_count(rows))
        if y_axis is not None:
            plt.ylim(y_axis[0], y_axis[1])
            plt.yticks(y_axis[2], y_axis[3])
    x_axis = axis(xspan[0], xspan[1], max(2, min(8, columns // 9)), 0.5)
    if x_axis is not None:
        plt.xlim(x_axis[0], x_axis[1])
        plt.xticks(x_axis[2], x_axis[3])
