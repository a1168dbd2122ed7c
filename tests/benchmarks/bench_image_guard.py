"""Benchmark: what refusing decompression bombs and loading a folder in one tensor cost.

1. Decoding: images/s of ``decode_file`` (the header read by PIL, checked against the
   pixel budget, then torchvision's decoder) against torchvision's decoder alone, on real
   MNIST PNGs (28×28 grey) and on 256×256 colour PNGs; alternating rounds, best of each.
2. A folder load's peak memory (fresh processes): the images decoded into a list then
   ``torch.stack``-ed (how folders were loaded) against each image decoded into its row
   of one tensor (how they are now), as growth of the peak RSS over the decoded size.

    python tests/benchmarks/bench_image_guard.py [--data-dir ../shared/data] [--images 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))


def mnist_pngs(folder: Path, data_dir: str, n: int) -> list[Path]:
    from torchvision.io import write_png

    from tbx_tui.engine.vision.data import load_dataset

    mnist = load_dataset("mnist", data_dir)
    paths = []
    for i in range(n):
        p = folder / f"{int(mnist.train_y[i])}" / f"{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        write_png(mnist.train_x[i], str(p))
        paths.append(p)
    return paths


def colour_pngs(folder: Path, n: int, side: int = 256) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / ("a" if i % 2 else "b") / f"{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(
            p, compress_level=1)
        paths.append(p)
    return paths


def decode_rate(paths: list[Path], rounds: int) -> tuple[float, float]:
    """(images/s torchvision alone, images/s decode_file with the guard), best rounds."""
    import torch

    from tbx_tui.engine.vision.streaming import _decoders, decode_file

    decode_image, _ = _decoders()
    names = [str(p) for p in paths]

    def plain():
        for name in names:
            with open(name, "rb") as f:
                decode_image(torch.frombuffer(bytearray(f.read()), dtype=torch.uint8))

    def guarded():
        for name in names:
            decode_file(name, 0, None)

    best = {plain: float("inf"), guarded: float("inf")}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        plain()
        guarded()  # warm: imports, page cache
        for _ in range(rounds):
            for fn in (plain, guarded):
                t = time.perf_counter()
                fn()
                best[fn] = min(best[fn], time.perf_counter() - t)
    return len(names) / best[plain], len(names) / best[guarded]


LOAD = textwrap.dedent("""
    import sys, warnings
    import torch
    from tbx_tui.engine.vision import user_data
    from tbx_tui.engine.vision.streaming import decode_file

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    root, way = sys.argv[1], sys.argv[2]
    classes, train, test = user_data._folder_files(root, 0, 0.1, root)
    decode_file(train[0][0], 0, None)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from what is resident now

    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    before = peak()
    paths = train[0] + test[0]
    if way == "stack":
        images = [decode_file(p, 0, None) for p in paths]
        x = torch.stack(images)
    else:
        x, _, _ = user_data._decode(paths, train[1] + test[1], len(train[0]), 0,
                                    user_data.LoadNotes([]), root)
    print(peak() - before, x.numel())
""")


def load_growth(root: Path, way: str) -> tuple[int, int]:
    r = subprocess.run([sys.executable, "-c", LOAD, str(root), way], capture_output=True,
                       text=True, timeout=600, check=True)
    grew, decoded = map(int, r.stdout.split())
    return grew, decoded


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--images", type=int, default=2000, help="MNIST PNGs to decode")
    p.add_argument("--colour", type=int, default=300, help="256×256 colour PNGs")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = [(f"{a.images:,} MNIST PNGs (28×28 grey)",
                 mnist_pngs(tmp / "mnist", a.data_dir, a.images)),
                (f"{a.colour:,} PNGs of 256×256 colour", colour_pngs(tmp / "colour", a.colour))]
        print(f"{'decoding, images/s (best of ' + str(a.rounds) + ')':<44}"
              f"{'torchvision':>12}{'with guard':>12}{'ratio':>8}")
        for label, paths in sets:
            plain, guarded = decode_rate(paths, a.rounds)
            print(f"{label:<44}{plain:>12,.0f}{guarded:>12,.0f}{guarded / plain:>7.3f}x")
        print(f"\n{'folder load, peak RSS growth / decoded size':<44}"
              f"{'list+stack':>12}{'one tensor':>12}")
        for label, paths in sets[1:]:
            (stacked, decoded), (one, _) = (load_growth(tmp / "colour", w)
                                            for w in ("stack", "rows"))
            print(f"{label + f' ({decoded / 2**20:.0f} MiB)':<44}"
                  f"{stacked / decoded:>11.2f}x{one / decoded:>11.2f}x")


if __name__ == "__main__":
    main()
