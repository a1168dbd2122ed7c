"""Benchmark: what the evaluation views (--eval-views) cost a classification run.

At each evaluation the views gather the PR counts and the worst images on the device
(inside the evaluation) and write the records (confusion PNG and counts, per-class table,
a PR curve per class, the misclassified grid and its labels). Their cost is measured
piece by piece, because a whole run's time varies more between rounds (±5% here) than
the views add:

- the evaluation without and with the views, alternated, same model (median of rounds);
- building and writing the records into an event file;
- one epoch of training (a Trainer run of one epoch, less its one evaluation), the
  interval between evaluations at the defaults.

Printed per dataset: each part in ms and the views' cost in % of an epoch's training.
Goal: within 2%.

    python tests/benchmarks/bench_eval_views.py [--data digits,mnist] [--rounds 5]
        [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine import RunControl, TensorBoardSink, Trainer, load_dataset  # noqa: E402
from tbx_tui.engine.output.eval_records import evaluation_summaries  # noqa: E402
from tbx_tui.engine.output.eventfile import EventFile  # noqa: E402
from tbx_tui.engine.runtime import distributed  # noqa: E402
from tbx_tui.engine.tasks.classification import Classification  # noqa: E402
from tbx_tui.engine.vision.models import build_model  # noqa: E402

CPU = torch.device("cpu")


def evaluation_ms(data, name: str, rounds: int):
    """(median ms without views, median ms with, the last details)."""
    model = build_model("simple_cnn", data.in_shape, data.num_classes)
    run = types.SimpleNamespace(world=distributed.from_env(), control=RunControl())
    times = {False: [], True: []}
    task = None
    for _ in range(rounds):
        for views in (False, True):
            task = Classification(RunConfig(data=name, eval_views=views), data)
            t0 = time.perf_counter()
            with torch.no_grad():
                task.evaluate(run, model, torch.autocast("cpu", enabled=False), CPU)
            times[views].append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[False]), statistics.median(times[True]), task.details


def records_ms(details, rounds: int) -> float:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            folder = Path(tmp) / str(r)
            folder.mkdir()
            f = EventFile(folder)
            t0 = time.perf_counter()
            for summary in evaluation_summaries(details):
                f.add_summary(summary, 0)
            f.flush()
            times.append((time.perf_counter() - t0) * 1000)
            f.close()
    return statistics.median(times)


def epoch_ms(data, name: str, eval_ms: float) -> float:
    """A run's time for one epoch and its evaluation, less the evaluation; after a run of
    two steps (the first optimizer step imports torch._dynamo, ~1 s, once a process)."""
    with tempfile.TemporaryDirectory() as tmp:
        took = []
        for steps in (2, 0):
            cfg = RunConfig(model="simple_cnn", data=name, epochs=1, max_steps=steps,
                            logdir=tmp, eval_views=False, sys_every=0.0, hist_every=0)
            t0 = time.perf_counter()
            Trainer(cfg, [TensorBoardSink()], data=data).run()
            took.append((time.perf_counter() - t0) * 1000)
        return took[-1] - eval_ms


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits,mnist")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, SimpleCNN, "
          f"batch 32, {args.rounds} rounds")
    print(f"{'data':8}{'test':>8}{'eval ms':>10}{'+views':>9}{'records':>9}{'epoch ms':>10}"
          f"{'cost of an epoch':>18}")
    for name in args.data.split(","):
        data = load_dataset(name, args.data_dir)
        off, on, details = evaluation_ms(data, name, args.rounds)
        rec = records_ms(details, args.rounds)
        epoch = epoch_ms(data, name, off)
        cost = (max(on - off, 0.0) + rec) / epoch * 100
        print(f"{name:8}{data.n_test:>8,}{off:>10.1f}{on - off:>+9.1f}{rec:>9.1f}"
              f"{epoch:>10.0f}{cost:>17.2f}%")
    print("(+views: the evaluation's extra time with the views, within noise when <= 0; "
          "the cost counts it as 0 then)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
