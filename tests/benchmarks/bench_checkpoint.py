"""Benchmark: what checkpoints and the system sampler cost a run, and how fast a run
killed with kill -9 is training again after ``--resume``.

1. Checkpoint: the time of one save (model + optimizer + RNGs + the epoch's order,
   atomic, fsync) for SimpleCNN and ResNet-18, against the time the run trains between
   checkpoints at the defaults (every 10 minutes and at each epoch end; SimpleCNN on
   MNIST: an epoch of 1,875 steps). Also measured directly: training steps/s with a
   checkpoint every 100 steps vs none, alternating rounds.
2. Restart: seconds from starting ``tbx-tui --no-ui --resume`` on a killed run to its
   first new step on the console, next to a fresh start to its first step.
3. Sampler: the CPU time of one sample and its event-file write, as a share of one core
   at the default period (10 s).

    python tests/benchmarks/bench_checkpoint.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine import TensorBoardSink, Trainer  # noqa: E402
from tbx_tui.reports import CLASSIFICATION  # noqa: E402
from tbx_tui.engine.output.sinks import NullSink  # noqa: E402


class Rates(NullSink):
    def __init__(self):
        self.values = []

    def scalars(self, step, values):
        if "Throughput/samples_per_s" in values and step >= 99:
            self.values.append(values["Throughput/samples_per_s"])


def save_time(model: torch.nn.Module, folder: Path, rounds: int = 5) -> float:
    """Seconds per checkpoint, through the trainer's own save path."""
    from tbx_tui.engine.run.checkpoint import Loop, rng_states, save

    folder.mkdir(parents=True, exist_ok=True)
    opt = torch.optim.Adam(model.parameters())
    model(torch.zeros(2, *_shape(model))).sum().backward()
    opt.step()  # Adam's state exists: the checkpoint is full size
    loop = Loop(1e-3, torch.zeros(()), torch.zeros((), dtype=torch.long),
                perm=torch.randperm(60_000))
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        save(folder, i + 1, {"loop": loop.state(), "model": model.state_dict(),
                             "optimizer": opt.state_dict(), "rng": rng_states()}, keep=2)
        times.append(time.perf_counter() - t0)
    size = max(p.stat().st_size for p in (folder / "checkpoints").iterdir())
    return statistics.median(times), size


def _shape(model) -> tuple[int, int, int]:
    return (1, 28, 28) if model.__class__.__name__ == "SimpleCNN" else (3, 32, 32)


def training_rate(data_dir: str, steps: int, ckpt_every: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        rates = Rates()
        cfg = RunConfig(model="simple_cnn", data="mnist", data_dir=data_dir, max_steps=steps,
                        hist_every=0, ckpt_every=ckpt_every, logdir=logdir)
        Trainer(cfg, [TensorBoardSink(), rates]).run()
    return statistics.median(rates.values) / cfg.batch_size


def first_step_s(args: list[str], cwd: Path) -> float:
    """Seconds from the process start to its first 'step N/' progress line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        if " step " in line and "/" in line:
            elapsed = time.perf_counter() - t0
            break
    else:
        raise RuntimeError("no step line")
    proc.kill()
    proc.wait()
    return elapsed


def restart_figures(data_dir: str) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp())
    run = ["--no-ui", "--data", "mnist", "--data-dir", data_dir, "--log-every", "1",
           "--ckpt-every", "20", "--logdir", "runs", "--name", "r"]
    fresh = first_step_s(run, work)  # killed after its first step: no checkpoint yet
    shutil.rmtree(work / "runs")
    subprocess.run([sys.executable, "-m", "tbx_tui", *run, "--max-steps", "40"], cwd=work,
                   stdout=subprocess.DEVNULL, check=True)
    resumed = first_step_s(["--no-ui", "--resume", "runs/r", "--max-steps", "80",
                            "--log-every", "1"], work)
    shutil.rmtree(work)
    return fresh, resumed


def sampler_share(period_s: float = 10.0, rounds: int = 20) -> tuple[float, float]:
    from tbx_tui.engine.output.system import SystemSampler

    with tempfile.TemporaryDirectory() as folder:
        sink = TensorBoardSink()

        class Info:
            run_dir, start_step = Path(folder), 0
            config = RunConfig()
            report = CLASSIFICATION

        sink.open(Info())
        sampler = SystemSampler(period_s, lambda: 0, sink.system)
        sampler.start()
        sampler.stop()
        sampler.sample()
        times = []
        for _ in range(rounds):
            t0 = time.thread_time()
            sink.system(0, sampler.sample())
            times.append(time.thread_time() - t0)
        sink.close(None)
    cost = statistics.median(times)
    return cost, cost / period_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--parts", default="save,train,restart,sampler")
    ap.add_argument("--small", action="store_true", help="SimpleCNN only (a smoke run)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    from tbx_tui.engine.vision.models import SimpleCNN, build_model

    if "save" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            cnn, cnn_bytes = save_time(SimpleCNN((1, 28, 28), 10), Path(tmp) / "a")
            print(f"one checkpoint: SimpleCNN {cnn * 1e3:.0f} ms ({cnn_bytes / 1e6:.1f} MB)")
            if not args.small:
                big, big_bytes = save_time(build_model("resnet18", (3, 32, 32), 10),
                                           Path(tmp) / "b")
                print(f"one checkpoint: ResNet-18 {big * 1e3:.0f} ms "
                      f"({big_bytes / 1e6:.0f} MB); at one per 10 min {big / 600:.3%}")
        epoch_s = 1875 / 40.0  # SimpleCNN on MNIST here: ~40 steps/s
        share = cnn * (1 / 600 + 1 / epoch_s)
        print(f"at the defaults (every 10 min + each epoch end, an MNIST epoch ~{epoch_s:.0f}"
              f" s here): SimpleCNN {share:.3%} of training time")
    if "train" in parts:
        none, every = [], []
        for _ in range(args.rounds):
            none.append(training_rate(args.data_dir, args.steps, 0))
            every.append(training_rate(args.data_dir, args.steps, 100))
        print(f"training steps/s: no step checkpoints {max(none):.1f}, every 100 steps "
              f"{max(every):.1f} -> {max(every) / max(none):.3f}x")
    if "restart" in parts:
        fresh, resumed = restart_figures(args.data_dir)
        print(f"process start to first step: fresh run {fresh:.1f} s, resumed run "
              f"{resumed:.1f} s")
    if "sampler" in parts:
        cost, share = sampler_share()
        print(f"system sample + event write: {cost * 1e3:.2f} ms CPU; at the default 10 s "
              f"period {share:.4%} of one core")


if __name__ == "__main__":
    main()
