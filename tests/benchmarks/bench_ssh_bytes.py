"""Benchmark: the bytes ``tbx-tui watch`` writes to its terminal while it follows a live run,
which is what a user pays for over SSH.

A real run trains in another process (simple_cnn on MNIST, a log every 100 steps: about
one a second here, histograms every 500 steps, system metrics every 10 s); ``tbx-tui
watch`` follows its log directory in a pseudo-terminal of each size (its output read
through pyte, tests/benchmarks/pty_app.py). The first frames are left out (until the
run's first evaluation has shown, whose new tags rearrange the grid once, then WARMUP
seconds); then every byte written over WINDOW seconds is counted.

    python tests/benchmarks/bench_ssh_bytes.py [--data-dir ../shared/data] [--window 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pty_app import PtyApp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--data", default="mnist")
    p.add_argument("--sizes", default="80x24,160x45")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--log-every", type=int, default=100)
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        run = subprocess.Popen(
            [sys.executable, "-m", "tbx_tui", "--no-ui", "--model", "simple_cnn", "--data",
             args.data, "--data-dir", args.data_dir, "--epochs", "100", "--log-every",
             str(args.log_every), "--hist-every", str(5 * args.log_every), "--sys-every",
             "10", "--logdir", "runs", "--name", "live"], cwd=tmp, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            folder = Path(tmp) / "runs" / "live"
            while not any(folder.glob("events.out.tfevents.*")):
                if run.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the run did not start: {run.stderr.read().decode()}")
                time.sleep(0.2)
            for size in args.sizes.split(","):
                cols, rows = (int(v) for v in size.split("x"))
                app = PtyApp(["watch", "runs"], cols, rows, tmp,
                             env={"TBX_TUI_STATE": str(Path(tmp) / f"state-{size}")})
                try:
                    if app.wait(lambda s: "Loss/train" in s and "live" in s, 60) is None:
                        raise SystemExit(f"watch never showed the run:\n{app.text()}")
                    # Steady state: after the first evaluation, whose new tags rearrange
                    # the grid once (a one-off full frame); the tag tree lists its
                    # confusion view from then on.
                    if app.wait(lambda s: "confusion:" in s, 180) is None:
                        raise SystemExit(f"no evaluation showed:\n{app.text()}")
                    time.sleep(args.warmup)
                    b0, t0 = app.bytes, time.perf_counter()
                    time.sleep(args.window)
                    rate = (app.bytes - b0) / (time.perf_counter() - t0)
                    results.append((size, rate, app.bytes))
                    print(f"{size}: {rate / 1024:.2f} KB/s over {args.window:g} s "
                          f"({app.bytes / 1024:.0f} KB in all, first frame included)",
                          flush=True)
                finally:
                    app.close()
        finally:
            run.terminate()
            run.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
