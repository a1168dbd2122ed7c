"""Benchmark: event files of hostile shapes, our reader against TensorBoard's, side by side.

Each file is read in a fresh process by each reader (LogWatcher.poll, CRCs checked; and
TensorBoard's EventAccumulator keeping every event), reporting wall time and peak RSS:
  - 256 scalars whose tags are ~8 KB, every one a different length (a layout each)
  - one scalar with a 300 KB tag
  - 40 MB of random bytes (resynchronisation over garbage)
  - 1 MB of valid records, then a header claiming 2 GiB, then 1 MB more valid records

    python tests/benchmarks/bench_hostile_logs.py [--garbage-mb 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from logfiles import event_bytes, frame, masked_crc, version_event  # noqa: E402

OURS = ("import sys\nfrom tbx_tui.logs.watcher import LogWatcher\n"
        "w = LogWatcher([sys.argv[1]]); w.poll()\n"
        "r = next(iter(w.store.runs.values()))\n"
        "print(sum(len(s) for s in r.scalars.values()))\n")
THEIRS = ("import sys\nfrom tensorboard.backend.event_processing.event_accumulator import "
          "EventAccumulator\n"
          "ea = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0}); ea.Reload()\n"
          "print(sum(len(ea.Scalars(t)) for t in ea.Tags()['scalars']))\n")
PROBE = ("import resource, subprocess, sys, time\nt = time.perf_counter()\n"
         "r = subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]], "
         "capture_output=True, text=True)\n"
         "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
         " r.stdout.strip() or 'error:' + r.stderr.strip().splitlines()[-1].replace(' ', '_'))")


def write(folder: Path, records: list[bytes], raw: bytes = b"") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.out.tfevents.1700000000.bench"
    path.write_bytes(b"".join(frame(r) for r in records) + raw)
    return folder


def cases(base: Path, garbage_mb: int) -> dict[str, Path]:
    claim = struct.pack("<Q", 1 << 31)
    valid = [event_bytes(1.0 + i, i, "x", float(i)) for i in range(20_000)]
    half = b"".join(frame(r) for r in valid[:10_000])
    return {
        "256 tags of ~8 KB, all lengths": write(base / "long", [version_event()] + [
            event_bytes(1.0 + i, i, "t" * (8000 + i), float(i)) for i in range(256)]),
        "one 300 KB tag": write(base / "huge", [version_event(),
                                                event_bytes(1.0, 0, "t" * 300_000, 1.0)]),
        f"{garbage_mb} MB of random bytes": write(
            base / "garbage", [], random.Random(0).randbytes(garbage_mb << 20)),
        "2 GiB length claim mid-file": write(
            base / "claim", [version_event()],
            half + claim + struct.pack("<I", masked_crc(claim)) + b"".join(
                frame(r) for r in valid[10_000:])),
    }


def measure(code: str, folder: Path) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, code, str(folder)], capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}).stdout
    wall, rss_kb, points = out.split()
    return float(wall), int(rss_kb) / 1024, points


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--garbage-mb", type=int, default=40)
    p.add_argument("--keep", help="folder to write the files into")
    args = p.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
    print(f"{'file':34}{'reader':>12}{'seconds':>9}{'peak MB':>9}{'points':>9}{'time ratio':>12}")
    for name, folder in cases(base, args.garbage_mb).items():
        theirs = measure(THEIRS, folder)
        ours = measure(OURS, folder)
        for who, (wall, rss, points) in (("TensorBoard", theirs), ("tbx-tui", ours)):
            ratio = f"{theirs[0] / wall:11.1f}x" if who == "tbx-tui" else ""
            print(f"{name if who == 'TensorBoard' else '':34}{who:>12}{wall:9.2f}{rss:9.0f}"
                  f"{points:>9}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
