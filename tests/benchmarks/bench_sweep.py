"""What a sweep costs beyond its trials' training, and what pruning and workers buy.

    python tests/benchmarks/bench_sweep.py [--trials 16] [--epochs 4]

1. Per-trial overhead: a trial's wall time (Optuna's start to complete: building its
   config, the Trainer's data and model, the event file, the study's bookkeeping) against
   its own training time (the Trainer's elapsed), over a grid sweep.
2. A TPE sweep of --trials trials on digits, without and with the median pruner: wall
   time and best objective.
3. The same 8-trial grid with 1 worker and with 2 (fresh processes, this machine's cores
   split between them): trials per minute.
Each sweep runs as a user runs it (`tbx-tui sweep` in a fresh process).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

FAST = ["--data", "digits", "--sys-every", "0", "--hist-every", "0"]


def sweep(folder: Path, *args: str) -> tuple[float, optuna.Study]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tbx_tui", "sweep", *FAST, "--name", "s",
                    "--logdir", str(folder), *args], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    storage = JournalStorage(JournalFileBackend(str(folder / "s" / "optuna.journal")))
    return wall, optuna.load_study(study_name="s", storage=storage)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--epochs", type=int, default=4)
    a = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. overhead
        wall, study = sweep(tmp / "o", "--lr", "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2",
                            "--epochs", str(a.epochs))
        rows = [((t.datetime_complete - t.datetime_start).total_seconds(),
                 t.user_attrs["train_s"]) for t in study.trials if t.state is TrialState.COMPLETE]
        # The first trial of a process also pays torch's one-time warm-up (its optimizer
        # imports torch._dynamo): shown apart from the steady per-trial cost.
        first, rest = rows[0], rows[1:]
        trial_s, train_s = sum(r[0] for r in rest), sum(r[1] for r in rest)
        print(f"1. per-trial overhead, {len(rows)} trials of {a.epochs} epochs on digits: "
              f"trial {trial_s / len(rest):.3f} s, training {train_s / len(rest):.3f} s: "
              f"{(trial_s - train_s) / train_s:.1%} of training; the process's first "
              f"trial {first[0] - first[1]:.2f} s over its training (sweep wall {wall:.1f} "
              "s, torch import included)")
        # 2. pruning
        results = {}
        for pruner in ("none", "median"):
            wall, study = sweep(tmp / f"p-{pruner}", "--lr", "1e-6..1e-1:log",
                                "--batch-size", "16,32,64,128", "--epochs", str(a.epochs),
                                "--trials", str(a.trials), "--pruner", pruner)
            states = [t.state for t in study.trials]
            results[pruner] = (wall, study.best_value, states.count(TrialState.PRUNED))
        print(f"2. TPE, {a.trials} trials: no pruner {results['none'][0]:.1f} s, best "
              f"{results['none'][1]:.4f}; median pruner {results['median'][0]:.1f} s "
              f"({results['median'][2]} pruned), best {results['median'][1]:.4f}; "
              f"{results['median'][0] / results['none'][0]:.2f}× the time")
        # 3. workers
        rates = {}
        for workers in (1, 2):
            wall, study = sweep(tmp / f"w{workers}", "--lr", "1e-4,3e-4,1e-3,3e-3",
                                "--batch-size", "32,64", "--epochs", str(a.epochs),
                                "--workers", str(workers))
            rates[workers] = 60 * len(study.trials) / wall
        print(f"3. 8-trial grid: 1 worker {rates[1]:.1f} trials/min, 2 workers "
              f"{rates[2]:.1f} trials/min: {rates[2] / rates[1]:.2f}×")


if __name__ == "__main__":
    main()
