"""Benchmark: global training samples/s of N processes (torchrun, gloo on the CPU) against
one, at the same global batch (one process: batch B × N; N processes: B each), SimpleCNN
on MNIST, alternating rounds, fresh processes, the trainer's own Throughput/samples_per_s
(median after step 100; under torchrun it is the sum over the ranks).

    python tests/benchmarks/bench_distributed.py [--data-dir ../shared/data] [--nproc 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))


def rate(data_dir: str, nproc: int, batch: int, steps: int) -> float:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as work:
        args = ["--no-ui", "--data", "mnist", "--data-dir", data_dir, "--batch-size",
                str(batch), "--max-steps", str(steps), "--hist-every", "0", "--sys-every",
                "0", "--logdir", "runs", "--name", "r"]
        if nproc > 1:
            args += ["--nproc", str(nproc)]
        subprocess.run([sys.executable, "-m", "tbx_tui", *args], cwd=work, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        ea = EventAccumulator(os.path.join(work, "runs", "r"), size_guidance={"scalars": 0})
        ea.Reload()
        values = [e.value for e in ea.Scalars("Throughput/samples_per_s") if e.step >= 99]
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="per process")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    one, many = [], []
    for r in range(args.rounds):
        one.append(rate(args.data_dir, 1, args.batch * args.nproc, args.steps))
        many.append(rate(args.data_dir, args.nproc, args.batch, args.steps))
        print(f"round {r + 1}: 1 process {one[-1]:,.0f} samples/s, {args.nproc} processes "
              f"{many[-1]:,.0f}", flush=True)
    print(f"global batch {args.batch * args.nproc}: 1 process {max(one):,.0f} samples/s, "
          f"{args.nproc} processes (gloo) {max(many):,.0f} -> {max(many) / max(one):.2f}x")


if __name__ == "__main__":
    main()
