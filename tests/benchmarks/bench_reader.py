"""Benchmark: loading 1,000,000 scalar events (one run, four tags, as a trainer logs them).

1. Our reader (LogWatcher.poll: CRCs checked, every point kept) against TensorBoard's
   EventAccumulator with size_guidance keeping every scalar, same file, same process.
2. `tbx-tui watch --once` on that directory in a fresh process: wall time, peak memory.

    python tests/benchmarks/bench_reader.py [--events 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from tbx_tui.logs.watcher import LogWatcher  # noqa: E402

TAGS = ("Loss/train", "Accuracy/train", "LR", "Throughput/samples_per_s")


def write_events(folder: Path, n: int) -> Path:
    """tensorboardX's own protobufs and record writer, without its queue thread."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary
    from tensorboardX.record_writer import RecordWriter

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.out.tfevents.1700000000.bench"
    w = RecordWriter(str(path))
    w.write(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
    for i in range(n):
        e = Event(wall_time=1.7e9 + i * 0.01, step=i // len(TAGS), summary=Summary(
            value=[Summary.Value(tag=TAGS[i % len(TAGS)], simple_value=(i % 977) * 0.5)]))
        w.write(e.SerializeToString())
    w.close()
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--keep", help="folder to write the events into (and reuse)")
    p.add_argument("--skip-tensorboard", action="store_true",
                   help="leave out EventAccumulator (it takes ~35 s for 1M events here)")
    args = p.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
    run = base / "run"
    if not list(run.glob("*tfevents*")):
        t0 = time.perf_counter()
        write_events(run, args.events)
        print(f"wrote {args.events:,} events in {time.perf_counter() - t0:.1f} s")
    size = sum(f.stat().st_size for f in run.iterdir())

    t0 = time.perf_counter()
    w = LogWatcher([str(base)])
    w.poll()
    ours = time.perf_counter() - t0
    points = sum(len(s) for r in w.store.runs.values() for s in r.scalars.values())
    print(f"{size / 1e6:.1f} MB, {points:,} scalar points")
    print(f"{'':36}{'seconds':>9}{'events/s':>12}{'ratio':>8}")
    theirs = None
    if not args.skip_tensorboard:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        t0 = time.perf_counter()
        ea = EventAccumulator(str(run), size_guidance={"scalars": 0})
        ea.Reload()
        theirs = time.perf_counter() - t0
        assert sum(len(ea.Scalars(t)) for t in ea.Tags()["scalars"]) == points
        print(f"{'TensorBoard EventAccumulator':36}{theirs:9.2f}{points / theirs:12,.0f}"
              f"{1.0:7.2f}x")
    ratio = f"{theirs / ours:7.1f}x" if theirs else ""
    print(f"{'tbx-tui reader (CRC-checked)':36}{ours:9.2f}{points / ours:12,.0f}{ratio}")

    probe = ("import resource, subprocess, sys, time\nt = time.perf_counter()\n"
             "r = subprocess.run([sys.executable, '-m', 'tbx_tui', 'watch', '--once', sys.argv[1]],"
             " capture_output=True)\n"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)"
             ".ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", probe, str(base)], capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}).stdout
    wall, rss_kb, rc = out.split()
    print(f"tbx-tui watch --once: {float(wall):.2f} s wall, {int(rss_kb) / 1024:.0f} MB peak "
          f"(exit {rc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
