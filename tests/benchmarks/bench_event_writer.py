"""Benchmark: what one log interval costs the training thread to write, side by side.

One interval = 4 scalars and 16 histograms of 64 buckets (SimpleCNN's weights and grads at
the default --log-every/--hist-every). tensorboardX ``SummaryWriter`` (its queue thread,
flushed once an interval, as the trainer used it before) against our ``TensorBoardSink``
(``EventFile``: written whole and fsynced at each call, no thread). Rounds alternate A/B.

    python tests/benchmarks/bench_event_writer.py [--intervals 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine.output.histograms import Histogram  # noqa: E402
from tbx_tui.engine.output.sinks import RunInfo, TensorBoardSink  # noqa: E402

SCALARS = {"Loss/train": 0.5, "Accuracy/train": 0.9, "LR": 1e-3,
           "Throughput/samples_per_s": 1700.0}


def histograms() -> dict[str, Histogram]:
    edges = np.linspace(-1, 1, 65)
    counts = np.random.default_rng(0).integers(0, 1000, 64).astype(float)
    h = Histogram(-1.0, 1.0, float(counts.sum()), 0.0, 1.0, edges[1:].tolist(),
                  counts.tolist())
    return {f"{kind}/layer{i}": h for kind in ("weights", "grads") for i in range(8)}


def theirs(folder: str, intervals: int) -> float:
    from tensorboardX import SummaryWriter

    hists = histograms()
    w = SummaryWriter(folder, flush_secs=1)
    t0 = time.perf_counter()
    for step in range(intervals):
        for tag, value in SCALARS.items():
            w.add_scalar(tag, value, step)
        w.flush()
        for tag, h in hists.items():
            w.add_histogram_raw(tag, h.min, h.max, h.num, h.sum, h.sum_squares,
                                h.bucket_limits, h.bucket_counts, step)
    took = time.perf_counter() - t0
    w.close()
    return took / intervals


def ours(folder: str, intervals: int) -> float:
    hists = histograms()
    sink = TensorBoardSink()
    sink.open(RunInfo(Path(folder), RunConfig(), "cpu", False, 0, 0, 0, 1, intervals))
    t0 = time.perf_counter()
    for step in range(intervals):
        sink.scalars(step, SCALARS)
        sink.histograms(step, hists)
    took = time.perf_counter() - t0
    sink.close(None)
    return took / intervals


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--intervals", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", help="folder on the disk to measure (default: a temporary one)")
    args = p.parse_args()
    a, b = [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for r in range(args.rounds):
            a.append(theirs(f"{tmp}/t{r}", args.intervals))
            Path(f"{tmp}/o{r}").mkdir()
            b.append(ours(f"{tmp}/o{r}", args.intervals))
    interval_s = 100 / 54.2  # one --log-every interval of SimpleCNN on MNIST here
    print(f"{args.intervals} intervals x {args.rounds} rounds; "
          "4 scalars + 16 histograms per interval")
    print(f"{'':36}{'best ms/interval':>17}{'share of a 100-step interval':>30}")
    for name, v in (("tensorboardX SummaryWriter", a), ("tbx-tui EventFile (fsync)", b)):
        print(f"{name:36}{1e3 * min(v):17.2f}{100 * min(v) / interval_s:29.2f}%")
    print(f"ratio (tensorboardX / ours): {min(a) / min(b):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
