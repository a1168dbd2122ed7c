"""Display maths on real-sized series: the incremental downsample keeps every bin's
extremes exactly, and a chart redrawn from its new tail equals one drawn from scratch."""

from __future__ import annotations

import numpy as np

from tbx_tui.logs.series import GrowingDownsample
from tbx_tui.tui.widgets.curve_plot import CurveData, _SmoothCache, plot_curves


def test_growing_downsample_keeps_each_bins_extremes_through_appends():
    rng = np.random.default_rng(3)
    n = 300_000
    x = np.cumsum(rng.integers(1, 4, size=n)).astype(float)  # uneven steps
    y = rng.normal(size=n)
    y[123_456] = 40.0  # a spike
    g = GrowingDownsample(80)
    for a in range(0, n, 9_973):  # appended in odd-sized chunks, as a watcher reads
        assert g.extend(x[a:a + 9_973], y[a:a + 9_973])
    ks, mins, maxs = g._bins[0], g._bins[1], g._bins[2]
    assert len(ks) <= 80 and g.n == n
    k = np.floor((x - x[0]) / g.w).astype(int)
    for j, kk in enumerate(ks):
        inside = y[k == kk]
        assert inside.min() == mins[j] and inside.max() == maxs[j]
    xs, ys = g.points()
    assert ys.max() == 40.0 and xs.min() >= x[0] and xs.max() <= x[-1]
    assert not g.extend(np.array([x[-1] - 5.0]), np.array([0.0]))  # x went back: refused


def test_a_chart_redrawn_from_its_tail_is_the_chart_drawn_from_scratch():
    from textual_plotext.plot import Plot

    rng = np.random.default_rng(4)
    x = np.arange(200_100, dtype=np.int64)
    y = 1.0 / (1 + x / 5000) + rng.normal(scale=0.05, size=len(x))

    def draw(count, cache):
        plt = Plot()
        plot_curves(plt, 68, "Loss/train", [(CurveData("r", 0, x[:count], y[:count]), 0)],
                    0.6, False, False, cache, 80)
        plt.plotsize(80, 24)
        return plt.build()

    growing = _SmoothCache()
    draw(150_000, growing)
    draw(200_000, growing)
    assert draw(200_100, growing) == draw(200_100, _SmoothCache())


def test_axis_ticks_are_round_evenly_spaced_and_the_limits_stay_put():
    from tbx_tui.tui.widgets.ticks import axis, tick_count

    lo, hi, ticks, labels = axis(0.03, 2.38, tick_count(5))  # the 5-row chart
    assert labels == ["0", "1", "2"] and (lo, hi) == (0.0, 2.5)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1  # evenly spaced
    assert axis(0.1, 0.35, 3)[3] == ["0.1", "0.2", "0.3"]
    assert axis(0.0, 1.0, 5)[3] == ["0", "0.25", "0.50", "0.75", "1.00"]
    # a new last step or a new lowest loss inside the rounded limits moves nothing
    assert axis(0, 1799, 8, 0.5)[:2] == axis(0, 1870, 8, 0.5)[:2] == (0.0, 1875.0)
    assert axis(0.21, 2.38, 3)[:2] == axis(0.03, 2.38, 3)[:2]
    assert axis(1.0, 1.0, 3) is None and axis(float("nan"), 1.0, 3) is None
