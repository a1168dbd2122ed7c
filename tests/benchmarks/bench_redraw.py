"""Benchmark: one curve redraw with 1,000,000 points on a 120x30 plot.

Raw plotext given every point, against tbx-tui's path (TensorBoard smoothing on the full
series, min/max downsample to the plot's columns, raw + smoothed lines): the first draw,
and a redraw after 100 new points (smoothing resumes from its cached state).

    python tests/benchmarks/bench_redraw.py [--points 1000000] [--skip-raw]
"""

from __future__ import annotations

import argparse
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
    assert "5.0" in text or "5.00" in text, "the spike must set the y range"
    for name, values in (("tbx-tui, first draw (smoothing 1M points)", first),
                         ("tbx-tui, redraw after 100 new points", redraw)):
        speed = f"{raw_ms / min(values):9.0f}x" if raw_ms else ""
        print(f"{name:44}{min(values):10.1f}{speed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
