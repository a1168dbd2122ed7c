"""Benchmark: curve redraws with 1,000,000 points: one 120x30 plot, and the dashboard's
grid of 4 charts at the cell sizes of a 120x36 and a 200x60 terminal.

Raw plotext given every point, against tbx-tui's path (TensorBoard smoothing on the full
series, min/max downsample to the plot's columns, raw + smoothed lines): the first draw,
and a redraw after 100 new points (smoothing and the downsample resume from their cached
state, so only plotext's own drawing grows with the plot's size). The grid rows split a
redraw into our preparation and plotext's build.

    python tests/benchmarks/bench_redraw.py [--points 1000000] [--skip-raw]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from textual_plotext.plot import Plot  # noqa: E402

from tbx_tui.tui.widgets.curve_plot import CurveData, _SmoothCache, plot_curves  # noqa: E402

W, H = 120, 30


def build(plt) -> str:
    plt.plotsize(W, H)
    return plt.build()


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--skip-raw", action="store_true", help="leave out raw plotext (~8 s)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = args.points
    x = np.arange(n + 100, dtype=np.float64)
    y = 1.0 / (1 + x / 1000) + rng.normal(scale=0.05, size=n + 100)
    y[n // 3] = 5.0  # a spike that must survive the downsample
    print(f"{n:,} points, plot {W}x{H}")
    print(f"{'':44}{'ms':>10}{'speed-up':>10}")
    raw_ms = None
    if not args.skip_raw:
        plt = Plot()
        t0 = time.perf_counter()
        plt.plot(x[:n].tolist(), y[:n].tolist())
        build(plt)
        raw_ms = 1e3 * (time.perf_counter() - t0)
        print(f"{'raw plotext, every point':44}{raw_ms:10.0f}{1.0:9.1f}x")

    def ours(count: int, cache: _SmoothCache) -> tuple[float, str]:
        plt = Plot()
        t0 = time.perf_counter()
        plot_curves(plt, W - 12, "Loss/train", [(CurveData("run", 0, x[:count], y[:count]), 0)],
                    0.6, False, False, cache)
        text = build(plt)
        return 1e3 * (time.perf_counter() - t0), text

    first, redraw = [], []
    for _ in range(args.rounds):
        cache = _SmoothCache()
        ms, text = ours(n, cache)
        first.append(ms)
        redraw.append(ours(n + 100, cache)[0])
    # the spike sets the y range: the top tick is the round 5 (the axis: widgets/ticks.py)
    assert re.search(r"^\s*5(\.0+)?┤", _plain(text), re.M), "the spike must set the y range"
    for name, values in (("tbx-tui, first draw (smoothing 1M points)", first),
                         ("tbx-tui, redraw after 100 new points", redraw)):
        speed = f"{raw_ms / min(values):9.0f}x" if raw_ms else ""
        print(f"{name:44}{min(values):10.1f}{speed}")
    grid(x, y, n, args.rounds)
    return 0


def grid(x, y, n: int, rounds: int) -> None:
    """Four charts of n points each (four series), redrawn after 100 new points each."""
    print(f"\ngrid of 4 charts, {n:,} points each{'':8}{'prep ms':>10}{'build ms':>10}"
          f"{'total ms':>10}")
    series = [(x, y * (1 + k / 10)) for k in range(4)]
    for terminal, (w, h) in (("120x36", (41, 16)), ("200x60", (68, 28))):
        best = {}
        for r in range(rounds):
            caches = [_SmoothCache() for _ in series]
            for phase, count in (("first draw", n), ("redraw after 100 new", n + 100)):
                prep = build_ms = 0.0
                for (sx, sy), cache in zip(series, caches):
                    plt = Plot()
                    t0 = time.perf_counter()
                    plot_curves(plt, w - 12, "Loss/train",
                                [(CurveData("run", 0, sx[:count], sy[:count]), 0)],
                                0.6, False, False, cache, w, titled=False)
                    t1 = time.perf_counter()
                    plt.plotsize(w, h)
                    plt.build()
                    prep += t1 - t0
                    build_ms += time.perf_counter() - t1
                key = (terminal, phase)
                if key not in best or prep + build_ms < sum(best[key]):
                    best[key] = (prep, build_ms)
        for (terminal_, phase), (prep, build_ms) in best.items():
            label = f"  {terminal_} terminal, {phase}"
            print(f"{label:44}{1e3 * prep:10.1f}{1e3 * build_ms:10.1f}"
                  f"{1e3 * (prep + build_ms):10.1f}")


if __name__ == "__main__":
    sys.exit(main())
