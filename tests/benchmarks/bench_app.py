"""Benchmark: training speed in the app, dashboard live, against headless.

The same run (the tutorial's SimpleCNN on the embedded digits, batch 32) is trained
headless (`tbx-tui --no-ui`) and in the app (Trainer on its thread, the dashboard
redrawing curves and histograms as the logs grow, Textual's headless driver), alternating,
each in a fresh process: a process whose main thread has run torch ops slows every later
training thread (OpenMP), so sharing one process would measure that, not the app.
Speed is what each run logged as Throughput/samples_per_s (pauses and evaluation
excluded), read back from its own event file; the median interval of each run counts.

    python tests/benchmarks/bench_app.py [--epochs 12] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.logs.watcher import LogWatcher  # noqa: E402


def throughput(logdir: str) -> float:
    w = LogWatcher([logdir])
    w.poll()
    (run,) = w.store.runs.values()
    values = run.scalars["Throughput/samples_per_s"].values[1:]  # the first holds warm-up
    return statistics.median(values.tolist())


def headless(config: RunConfig) -> float:
    args = [sys.executable, "-m", "tbx_tui", "--no-ui", "--model", config.model, "--data",
            config.data, "--epochs", str(config.epochs), "--log-every", str(config.log_every),
            "--hist-every", str(config.hist_every), "--logdir", config.logdir, "--device", "cpu"]
    subprocess.run(args, check=True, capture_output=True, env=_env())
    return throughput(config.logdir)


def app(config: RunConfig) -> float:
    code = ("import asyncio, sys\nsys.path.insert(0, sys.argv[1])\nfrom bench_app import in_app\n"
            "from tbx_tui.config import RunConfig\n"
            "asyncio.run(in_app(RunConfig(model=sys.argv[2], data=sys.argv[3], "
            "epochs=int(sys.argv[4]), log_every=int(sys.argv[5]), hist_every=int(sys.argv[6]), "
            "logdir=sys.argv[7], device='cpu')))")
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), config.model,
                    config.data, str(config.epochs), str(config.log_every),
                    str(config.hist_every), config.logdir], check=True, capture_output=True,
                   env=_env())
    return throughput(config.logdir)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


async def in_app(config: RunConfig) -> float:
    from tbx_tui.tui.train_app import TrainApp

    app = TrainApp(config)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        screen = app.training
        while screen.session is None or screen.session.result is None:
            await pilot.pause(0.2)
        await pilot.pause(1.5)  # let the dashboard catch up, as a user would watch
    return throughput(config.logdir)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    rows: dict[str, list[float]] = {"headless": [], "app, dashboard live": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in rows:
                cfg = RunConfig(model="simple_cnn", data="digits", epochs=args.epochs,
                                log_every=20, hist_every=100, logdir=f"{tmp}/{name}-{r}",
                                device="cpu")
                t0 = time.perf_counter()
                rate = headless(cfg) if name == "headless" else app(cfg)
                rows[name].append(rate)
                print(f"  round {r + 1} {name}: {rate:,.0f} samples/s "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
    base = statistics.median(rows["headless"])
    print(f"{'':24}{'median samples/s':>18}{'ratio':>8}")
    for name, values in rows.items():
        m = statistics.median(values)
        print(f"{name:24}{m:18,.0f}{m / base:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
