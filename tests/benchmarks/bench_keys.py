"""Benchmark: how long a key takes to show on the screen while a run trains in the app.

The real app in a pseudo-terminal (tests/benchmarks/pty_app.py, read through pyte): the
setup form, Enter, then, while simple_cnn trains on digits and another process keeps a
core busy, each key is pressed and timed from the write to the first screen on which
it shows:

    x      a chart's x axis reads "wall time" (and x again: one fewer does; the
           selected chart is redrawn and shown first, the rest of the grid after)
    ?      the help is open (and ? again: closed)
    p      the status line says paused (and p again: no longer)
    L      the learning-rate dialog is open (escape: closed; escape waits for Textual's
           escape-sequence timeout, so it is reported on its own)
    s      (once, at the end) the "stopping" note

Printed: per key the median, p95 and worst; all keys but escape together; the budget is
200 ms at p95.

    python tests/benchmarks/bench_keys.py [--size 200x60] [--rounds 10] [--no-load]
    BENCH_PYTHONPATH=../other-checkout/src python tests/benchmarks/bench_keys.py   # before
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pty_app import PtyApp, busy_loop  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def paused(screen: str) -> bool:
    return "paused" in screen.splitlines()[-2]  # the status line


def fewer(word: str):
    """The key showed once one chart shows it (the selected one is redrawn first; the
    grid follows, a chart a frame): ``word`` is on screen fewer times than at the press."""
    return lambda s, before: s.count(word) < before.count(word)


# (key, what shows it acted, the key that undoes it, what shows that did); each test
# sees the screen now and as it was when the key was sent
PAIRS = [
    ("x", lambda s, _: "wall time" in s, "x", fewer("wall time")),
    ("?", lambda s, _: "a grid of charts" in s, "?", lambda s, _: "a grid of charts" not in s),
    ("p", lambda s, _: paused(s), "p", lambda s, _: not paused(s)),
    ("L", lambda s, _: "New learning rate" in s, "\x1b",
     lambda s, _: "New learning rate" not in s),
]


def extra_env() -> dict:
    """The app from another checkout (BENCH_PYTHONPATH), to measure before against after."""
    return {"PYTHONPATH": os.environ["BENCH_PYTHONPATH"]} if "BENCH_PYTHONPATH" in os.environ else {}


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="200x60")
    p.add_argument("--rounds", type=int, default=10, help="presses of each key")
    p.add_argument("--no-load", action="store_true", help="no competing busy loop")
    p.add_argument("--timeout", type=float, default=20.0, help="a key that never shows")
    args = p.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    times: dict[str, list[float]] = {}
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = PtyApp(["--model", "simple_cnn", "--data", "digits", "--epochs", "500",
                      "--log-every", "10", "--logdir", "runs"], cols, rows, tmp,
                     env={"TBX_TUI_STATE": str(Path(tmp) / "state"), **extra_env()})
        load = None
        try:
            if app.wait(lambda s: "Start training" in s, 60) is None:
                raise SystemExit(f"the form never showed:\n{app.text()}")
            app.send("\r")
            if app.wait(lambda s: "Loss/train" in s and "epoch " in s, 120) is None:
                raise SystemExit(f"training never showed:\n{app.text()}")
            load = None if args.no_load else busy_loop()
            for _ in range(args.rounds):
                for key, shown, undo, undone in PAIRS:
                    for k, cond in ((key, shown), (undo, undone)):
                        name = "escape" if k == "\x1b" else k
                        before = app.text()
                        app.send(k)
                        took = app.wait(lambda s: cond(s, before), args.timeout)
                        if took is None:
                            missed.append(name)
                            continue
                        times.setdefault(name, []).append(took)
            app.send("s")
            took = app.wait(lambda s: "stopping" in s, args.timeout)
            if took is None:
                missed.append("s")
            else:
                times["s"] = [took]
        finally:
            if load is not None:
                load.kill()
            app.close()
    print(f"{cols}x{rows}, simple_cnn on digits training, "
          f"{'no load' if args.no_load else 'a busy loop on the other core'}, "
          f"{args.rounds} presses a key")
    print(f"{'key':>8} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'worst ms':>9}")
    for k, v in times.items():
        ms = [t * 1000 for t in v]
        print(f"{k:>8} {len(ms):>4} {statistics.median(ms):>10.0f} {p95(ms):>8.0f} "
              f"{max(ms):>9.0f}")
    keys = [t * 1000 for k, v in times.items() if k != "escape" for t in v]
    print(f"all keys but escape: n {len(keys)}, median {statistics.median(keys):.0f} ms, "
          f"p95 {p95(keys):.0f} ms, worst {max(keys):.0f} ms (budget: p95 <= 200 ms)")
    if missed:
        print(f"never shown within {args.timeout:g} s: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
