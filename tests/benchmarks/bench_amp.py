"""Benchmark: ``--amp`` against fp32, the Trainer itself, per model family, paired rounds.

For each family (gpt tiny on tiny-Shakespeare, the tutorial's simple_cnn on MNIST), each
round trains fp32 then ``--amp`` in this process (the same data object, NullSink plus a
clock, no histograms): throughput from step LOG to the last step, and the whole run's
wall time (with ``--amp`` this includes the timing probe that decides whether bf16 pays).
Printed: each round, the best of each and the median of the paired ratios; the note the
probe printed tells what it measured and chose.

    python tests/benchmarks/bench_amp.py [--data-dir ../shared/data] [--rounds 3]
    python tests/benchmarks/bench_amp.py --device cuda --steps 600
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine import Trainer  # noqa: E402
from tbx_tui.engine.output.sinks import NullSink  # noqa: E402
from tbx_tui.engine.tasks import load_data  # noqa: E402

LOG = 20


class _Clock(NullSink):
    def __init__(self):
        self.times, self.notes = {}, ()

    def open(self, info):
        self.notes = info.notes

    def scalars(self, step, values):
        self.times[step + 1] = time.perf_counter()


def one_run(cfg: RunConfig, data, amp: bool, steps: int, per_step: int, logdir: str):
    run = cfg.replace(amp=amp, max_steps=steps, log_every=LOG, hist_every=0,
                      sample_tokens=0, sys_every=0, logdir=logdir)
    clock = _Clock()
    t0 = time.perf_counter()
    Trainer(run, [clock], data=data).run()
    wall = time.perf_counter() - t0
    rate = (steps - LOG) * per_step / (clock.times[steps] - clock.times[LOG])
    note = next((n for n in clock.notes if n.startswith("--amp:")), "")
    return rate, wall, note


def family(name: str, cfg: RunConfig, steps: int, rounds: int, device: torch.device,
           logdir: str) -> None:
    data = load_data(cfg, device, [], None)
    per_step = cfg.batch_size * getattr(data, "context", 1)
    unit = "tokens/s" if hasattr(data, "context") else "samples/s"
    fp32, amp, ratios, note = [], [], [], ""
    for r in range(rounds):
        a, wa, _ = one_run(cfg, data, False, steps, per_step, logdir)
        b, wb, note = one_run(cfg, data, True, steps, per_step, logdir)
        fp32.append(a)
        amp.append(b)
        ratios.append(b / a)
        print(f"  round {r + 1}: fp32 {a:,.0f} {unit} ({wa:.1f} s)   --amp {b:,.0f} {unit} "
              f"({wb:.1f} s)   {b / a:.2f}x", flush=True)
    print(f"{name}: best fp32 {max(fp32):,.0f} {unit}, best --amp {max(amp):,.0f} {unit}: "
          f"{max(amp) / max(fp32):.2f}x best, {statistics.median(ratios):.2f}x median "
          f"of paired rounds")
    print(f"  {note}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--steps", type=int, default=200, help="steps per run (timed after 20)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--families", default="gpt,simple_cnn")
    p.add_argument("--cnn-data", default="mnist", help="simple_cnn's data (digits: small)")
    args = p.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, "
          f"{args.steps} steps a run, {args.rounds} paired rounds")
    common = dict(data_dir=args.data_dir, device=args.device, seed=0)
    cases = {"gpt": RunConfig(model="gpt", data="shakespeare_char", **common),
             "simple_cnn": RunConfig(model="simple_cnn", data=args.cnn_data, **common)}
    with tempfile.TemporaryDirectory() as logdir:
        for name in args.families.split(","):
            family(name, cases[name], args.steps, args.rounds, device, logdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
