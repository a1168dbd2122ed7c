"""Benchmark: our on-device histogram summary against tensorboardX ``add_histogram``.

Both write the histogram of one 25M-element float32 tensor into an event file; the time
includes writing. Rounds alternate A/B; the best of each is compared.

    python tests/benchmarks/bench_histograms.py [--numel 25000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.engine.output.histograms import summarize  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--numel", type=int, default=25_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    args = p.parse_args()
    from tensorboardX import SummaryWriter

    t = torch.randn(args.numel, generator=torch.Generator().manual_seed(0)).to(args.device)
    theirs, ours = [], []
    with tempfile.TemporaryDirectory() as tmp, SummaryWriter(tmp) as w:
        for step in range(args.rounds):
            t0 = time.perf_counter()
            w.add_histogram("tbx", t, step)
            theirs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            h = summarize({"ours": t})["ours"]  # its host copies are the device syncs
            w.add_histogram_raw("ours", h.min, h.max, h.num, h.sum, h.sum_squares,
                                h.bucket_limits, h.bucket_counts, step)
            ours.append(time.perf_counter() - t0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, "
          f"{args.numel:,} elements, {args.rounds} rounds")
    print(f"{'':34}{'best ms':>10}{'speed-up':>10}")
    print(f"{'tensorboardX add_histogram':34}{1e3 * min(theirs):10.1f}{1.0:9.2f}x")
    print(f"{'tbx-tui summarize + raw':34}{1e3 * min(ours):10.1f}{min(theirs) / min(ours):9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
