"""A plain-text summary of a MetricStore: what ``tbx-tui watch --once`` prints."""

from __future__ import annotations

import math
import time

from .store import MetricStore
from .watcher import run_status


def ago(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    s = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit} ago"
    return f"{s}s ago"


def fmt(value: float) -> str:
    return f"{value:.6g}"


def summary(store: MetricStore, now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = []
    with store.lock:
        if not store.runs:
            return "no runs (no event files) found"
        for name in sorted(store.runs):
            run = store.runs[name]
            updated = ago(now - run.mtime) if run.mtime else "-"
            step = "-" if run.last_step is None else run.last_step
            lines.append(f"{name}  [{run_status(run, now)}]  files {run.files}  records "
                         f"{run.records:,}  skipped {run.bad}  last step {step}  "
                         f"updated {updated}")
            if run.end_reason:
                lines.append(f"  {run.end_state}: {run.end_reason}")
            if run.empty_files:
                lines.append(f"  ({run.empty_files} empty event file(s))")
            for where, problem in sorted(run.problems.items()):
                lines.append(f"  ! {where + ': ' if where else ''}{problem}")
            width = max([len(t) for t in list(run.scalars) + list(run.histograms)] + [3])
            for tag in sorted(run.scalars):
                s = run.scalars[tag]
                if len(s):
                    lines.append(f"  {tag:<{width}}  {len(s):>9,} points  last step "
                                 f"{int(s.steps[-1])}  last {fmt(float(s.values[-1]))}")
            for tag in sorted(run.histograms):
                h = run.histograms[tag]
                if h:
                    lines.append(f"  {tag:<{width}}  {len(h):>9,} histograms  last step "
                                 f"{h[-1].step}")
            if run.hparams:
                hp = ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}"
                               for k, v in sorted(run.hparams.items()))
                lines.append(f"  hparams: {hp}")
    # Every name, tag, reason and hparam came through the store's clean(): no control
    # bytes reach the reader's terminal.
    return "\n".join(lines)
