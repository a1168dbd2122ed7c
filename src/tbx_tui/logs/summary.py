"""A plain-text summary of a MetricStore: what ``tbx-tui watch --once`` prints."""

from __future__ import annotations

import math
import time

from .evaluation import confusion_text
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


def summary(store: MetricStore, now: float | None = None, columns: int = 100) -> str:
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
            width = max([len(t) for t in [*run.scalars, *run.histograms, *run.images]] + [3])
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
            for tag in sorted(run.images):
                im = run.images[tag][-1].image
                lines.append(f"  {tag:<{width}}  {len(run.images[tag]):>9,} images  last step "
                             f"{run.images[tag][-1].step}  {im.width}×{im.height} px")
            if run.curves:
                last = max(p[-1].step for p in run.curves.values() if p)
                lines.append(f"  PR curves: {len(run.curves)} classes, last step {last}")
            if run.hparams:
                hp = ", ".join(f"{k}={fmt(v) if isinstance(v, float) else v}"
                               for k, v in sorted(run.hparams.items()))
                lines.append(f"  hparams: {hp}")
            for tag in sorted(run.matrices):  # the newest evaluation's
                point = run.matrices[tag][-1]
                lines.append(f"  {tag} at step {point.step:,}:")
                lines += [f"    {line}".rstrip() for line in confusion_text(point, columns - 4)]
    # Every name, tag, reason and hparam came through the store's clean(): no control
    # bytes reach the reader's terminal.
    return "\n".join(lines)
