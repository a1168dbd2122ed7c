"""Benchmark: the streaming data path on an ImageFolder of 60,000 real MNIST PNGs.

1. Loader: images/s through one epoch, batch 32, each side with the same number of
   DataLoader workers, alternating rounds, best of each:
   - torchvision: ``ImageFolder`` + PIL (opened as grey, as MNIST is) + ``ToTensor`` +
     ``Normalize`` + ``DataLoader(shuffle=True)``;
   - ours: ``StreamingData`` (workers decode whole batches with torchvision.io into uint8)
     + normalising in the main process, as the trainer does on its device.
2. Training: SimpleCNN steps/s on the streaming path vs tensor-resident, same folder, the
   trainer's own Throughput/samples_per_s (median after the first log).
3. Memory: peak PSS of the whole process tree (main + workers) while streaming one epoch
   of 6,000 and of 60,000 images, and the resident path on 60,000, fresh processes.

The PNG folder is written once from the MNIST files and kept in --cache.

    python tests/benchmarks/bench_streaming.py [--data-dir ../shared/data] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from tbx_tui.engine.output.sinks import NullSink  # noqa: E402


def write_folder(data_dir: str, root: Path, n_train: int, n_val: int = 1000) -> Path:
    """root/train/<digit>/<i>.png and root/val/<digit>/<i>.png from the real MNIST files."""
    if (root / "done").exists():
        return root
    from torchvision.io import encode_png

    from tbx_tui.engine.vision.data import load_dataset

    mnist = load_dataset("mnist", data_dir)
    t0 = time.perf_counter()
    for part, x, y, n in (("train", mnist.train_x, mnist.train_y, n_train),
                          ("val", mnist.test_x, mnist.test_y, n_val)):
        for d in range(10):
            (root / part / str(d)).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            png = encode_png(x[i]).numpy().tobytes()
            (root / part / str(int(y[i])) / f"{i:05d}.png").write_bytes(png)
    (root / "done").touch()
    print(f"wrote {n_train + n_val:,} PNGs to {root} in {time.perf_counter() - t0:.0f} s")
    return root


def _grey(path: str):
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("L")


def torchvision_epoch(root: Path, workers: int, batch: int) -> float:
    import torch
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ds = datasets.ImageFolder(str(root / "train"), transform=tf, loader=_grey)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True,
                                         num_workers=workers)
    t0, n = time.perf_counter(), 0
    for x, y in loader:
        n += len(y)
    return n / (time.perf_counter() - t0)


def our_epoch(root: Path, workers: int, batch: int) -> float:
    import torch

    from tbx_tui.engine.vision.data import load_dataset, normalize
    from tbx_tui.engine.vision.streaming import DataPath

    t0 = time.perf_counter()
    data = load_dataset(f"folder:{root}", path=DataPath(1, workers, torch.device("cpu")))
    n = 0
    for x, y in data.epoch(torch.randperm(data.n_train), batch):
        normalize(x)
        n += len(y)
    data.close()
    return n / (time.perf_counter() - t0)


class Rates(NullSink):
    """A sink keeping the trainer's own throughput figures."""

    def __init__(self):
        self.values = []

    def scalars(self, step, values):
        if "Throughput/samples_per_s" in values:  # (step, samples/s)
            self.values.append((step, values["Throughput/samples_per_s"]))


def training_rate(root: Path, data_memory: int, workers: int, steps: int) -> float:
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import Trainer

    with tempfile.TemporaryDirectory() as logdir:
        rates = Rates()
        cfg = RunConfig(model="simple_cnn", data=f"folder:{root}", max_steps=steps,
                        hist_every=0, data_memory=data_memory, workers=workers,
                        logdir=logdir)
        Trainer(cfg, [rates]).run()
    # After the first 100 steps (warm-up; the early logs at steps 1, 2, 4, … are short).
    steady = [v for step, v in rates.values if step >= 99] or [rates.values[-1][1]]
    return statistics.median(steady) / cfg.batch_size


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return [pid]
    return [pid] + [p for k in kids for p in _tree(k)]


def peak_memory(root: Path, streaming: bool, workers: int) -> float:
    """MiB: the highest PSS of the process tree while one epoch and the test set pass."""
    code = (
        "import sys, warnings, torch; warnings.filterwarnings('ignore')\n"
        f"sys.path.insert(0, {str(ROOT / 'src')!r})\n"
        "from tbx_tui.engine.vision.data import load_dataset, normalize\n"
        "from tbx_tui.engine.vision.streaming import DataPath\n"
        f"path = DataPath(1 if {streaming} else 1 << 40, {workers}, torch.device('cpu'))\n"
        f"d = load_dataset('folder:{root}', path=path)\n"
        "for x, y in d.epoch(torch.randperm(d.n_train), 32): normalize(x)\n"
        "for x, y in d.test_batches(1000): normalize(x)\n"
        "d.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kib(p) for p in _tree(proc.pid)))
        time.sleep(0.05)
    assert proc.returncode == 0
    return peak / 1024


def loader_figures(big: Path, workers: int, rounds: int) -> None:
    n = sum(1 for _ in (big / "train").glob("*/*.png"))
    tv, ours = [], []
    for r in range(rounds):
        tv.append(torchvision_epoch(big, workers, 32))
        ours.append(our_epoch(big, workers, 32))
        print(f"round {r + 1}: torchvision {tv[-1]:,.0f} images/s, ours {ours[-1]:,.0f}",
              flush=True)
    print(f"loader, {n:,} PNGs, {workers} workers, batch 32: torchvision "
          f"{max(tv):,.0f} images/s, ours {max(ours):,.0f} -> {max(ours) / max(tv):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "tbx-bench-png"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--images", type=int, default=60_000, help="training images (and a "
                    "tenth of them for the memory comparison)")
    ap.add_argument("--parts", default="loader,train,memory")
    args = ap.parse_args()
    parts = args.parts.split(",")
    n, val = args.images, min(1000, args.images // 6)
    big = write_folder(args.data_dir, Path(args.cache) / f"mnist-{n}", n, val)
    small = write_folder(args.data_dir, Path(args.cache) / f"mnist-{n // 10}", n // 10, val)

    if "loader" in parts:
        loader_figures(big, args.workers, args.rounds)
    if "train" in parts:
        resident = training_rate(big, 0, args.workers, args.steps)
        streamed = training_rate(big, 1, args.workers, args.steps)
        print(f"training SimpleCNN, batch 32: resident {resident:.1f} steps/s, streaming "
              f"{streamed:.1f} steps/s -> {streamed / resident:.2f}x")
    if "memory" in parts:
        mem = {f"streaming {n // 10:,}": peak_memory(small, True, args.workers),
               f"streaming {n:,}": peak_memory(big, True, args.workers),
               f"resident {n:,}": peak_memory(big, False, args.workers)}
        print("peak PSS of the process tree, one epoch + test set: " +
              ", ".join(f"{k} {v:,.0f} MiB" for k, v in mem.items()))


if __name__ == "__main__":
    main()
