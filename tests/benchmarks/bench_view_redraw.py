"""Benchmark: how long each evaluation view takes to redraw, beside a curve chart, in the
real app (Textual's headless driver, so Textual's layout and compositing count too).

A classifier's logs with CLASSES classes (confusion counts, a PR curve per class, a
misclassified grid, gradient norms of LAYERS layers, the module tree) are read once; then,
at each size, each view is zoomed to the whole grid and redrawn ROUNDS times: its
signature cleared, the dashboard asked to redraw, and the time taken until the frame
after it (for an image, until its decoding thread's picture is up). Printed: median and
worst ms per view, the ratio to the `Loss/train` curve chart redrawn the same way, and
the UI (main) thread's CPU time within it, which is what keys wait behind (Pilot's own
pauses included in both).

    python tests/benchmarks/bench_view_redraw.py [--rounds 10] [--classes 10] [--layers 12]
        [--sizes 80x24,200x60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KINDS = ("scalar", "confusion", "pr", "image", "gradflow", "structure")


def write_logs(folder: Path, classes: int, layers: int) -> None:
    import numpy as np
    from tensorboardX import SummaryWriter

    from logfiles import STRUCTURE_TEXT, confusion_record

    rng = np.random.default_rng(0)
    names = [f"class-{i}" for i in range(classes)]
    with SummaryWriter(str(folder)) as w:
        w.add_text("Model/structure", STRUCTURE_TEXT, 0)
        for step in range(0, 1000, 100):
            w.add_scalar("Loss/train", 1 / (1 + step), step)
            for k in range(layers):
                w.add_scalar(f"GradFlow/layer{k}", float(rng.random()) + 1e-3, step)
        counts = rng.integers(0, 5, (classes, classes)) + np.eye(classes, dtype=int) * 80
        w.file_writer.add_summary(confusion_record("Eval/confusion_matrix/counts",
                                                   counts.tolist(), names), 999)
        for name in names:
            labels = rng.integers(0, 2, 500)
            w.add_pr_curve(f"PR/{name}", labels, np.clip(labels * 0.5 + rng.random(500) * 0.6,
                                                         0, 1), 999)
        grid = rng.integers(0, 255, (3, 62, 242), dtype=np.uint8)  # 16 MNIST-sized tiles
        w.add_image("Eval/misclassified", grid, 999)


async def measure(root: Path, size: tuple[int, int], rounds: int) -> dict[str, list[float]]:
    from test_watch import app_for

    app = app_for(root)
    out: dict[str, list[float]] = {}
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        grid = screen.grid
        while not {s.kind for s in grid.specs} >= set(KINDS):
            await pilot.pause(0.05)
        for kind in KINDS:
            while grid.current.kind != kind:
                await pilot.press("c")
            if not grid.zoomed:
                await pilot.press("z")
            await pilot.pause(0.2)
            cell = grid.children[0]
            times, cpu = [], []
            for _ in range(rounds + 1):
                cell._sig = None
                t0, c0 = time.perf_counter(), time.thread_time()
                screen.redraw_now()
                if kind == "image":
                    note = cell.query_one(".image-note")
                    await pilot.pause()
                    while "shown at" not in str(note.render()):
                        await asyncio.sleep(0.001)
                await pilot.pause()  # the frame that shows it
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.thread_time() - c0) * 1000)
            out[kind] = times[1:]  # the first builds caches
            out[kind + ":ui"] = cpu[1:]
            await pilot.press("z")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--sizes", default="80x24,200x60")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        write_logs(root / "run", args.classes, args.layers)
        print(f"{args.classes} classes, {args.layers} layers, {args.rounds} redraws a view; "
              "ms from the redraw to the frame after it (median / worst), ratio to the curve; "
              "the UI thread's CPU in it (median; an image is decoded on its own thread)")
        for size in [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]:
            times = asyncio.run(measure(root, size, args.rounds))
            base = statistics.median(times["scalar"])
            print(f"{size[0]}x{size[1]}:")
            for kind in KINDS:
                t = times[kind]
                med = statistics.median(t)
                ui = statistics.median(times[kind + ":ui"])
                print(f"  {kind:<10} {med:7.1f} / {max(t):7.1f} ms   {med / base:5.2f}×   "
                      f"UI thread {ui:6.1f} ms")


if __name__ == "__main__":
    main()
