"""Words for a run's progress, shared by the headless console and the app's status line.
No torch here: the app's UI thread imports it."""

from __future__ import annotations

import math

from .reports import report_for


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


class EtaRate:
    """The rate an ETA divides by: units over seconds of training, both decayed over
    ``tau`` seconds. The last interval's own rate made the ETA jump (0:20 → 0:47,
    4:40 → 2:47) with every short or noisy interval; here each interval counts by its
    length, so a short warm-up interval is soon outweighed and a slow-down shows within
    ``tau``."""

    def __init__(self, tau: float = 20.0):
        self.tau, self.units, self.seconds = tau, 0.0, 0.0

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else 0.0

    def add(self, rate: float, seconds: float) -> float:
        if rate > 0 and seconds > 0:
            keep = math.exp(-seconds / self.tau)
            self.units = keep * self.units + rate * seconds
            self.seconds = keep * self.seconds + seconds
        return self.rate


def _pct(v: float | None) -> str:
    return "  -  " if v is None else f"{100 * v:5.1f}%"


def _lr(p) -> str:
    head = getattr(p, "head_lr", None)
    return f"lr {p.lr:.2e}" + ("" if head is None else f" head {head:.2e}")


def progress_line(p, width: int = 0, bar: bool = True) -> str:
    """One line for humans: where the run is, how fast, how long to go. With ``width``
    (a terminal), a bar is added and the least useful parts are dropped to fit."""
    loss = "-" if p.loss is None else f"{p.loss:.4f}"
    parts = [  # (priority, text); lower priority numbers survive a narrow terminal
        (0, f"epoch {p.epoch}/{p.epochs}"), (0, f"step {p.step}/{p.total_steps}"),
        (1, f"loss {loss}"), (3, f"acc {_pct(p.accuracy).strip()}"), (5, _lr(p)),
        (4, f"{p.samples_per_s:,.0f} {p.unit}/s"), (2, f"ETA {duration(p.eta_s)}"),
    ]
    if p.loss is not None and p.accuracy is None:  # logged, and the task has none (regression)
        parts = [part for part in parts if not part[1].startswith("acc ")]
    if p.state == "paused":
        parts.append((0, "[paused]"))
    if not width:
        return "  ".join(text for _, text in parts)
    for cut in (6, 5, 4, 3, 2, 1):
        text = "  ".join(t for prio, t in parts if prio < cut)
        if len(text) + (17 if bar else 0) < width:  # room for a bar of at least 10
            break
    bar_w = max(min(width - len(text) - 4, 30), 0) if bar else 0
    if bar_w >= 10:
        done = int(bar_w * p.step / max(p.total_steps, 1))
        text = "[" + "#" * done + "." * (bar_w - done) + "] " + text
    return text[: width - 1]


def evaluated_on(metrics: dict[str, float]) -> str:
    """What the evaluation ran on: a classifier's "test" set, a language model's "val" text."""
    return report_for(metrics).split


def metrics_line(metrics: dict[str, float]) -> str:
    """The evaluation in words, as its task reports it (tbx_tui/reports.py)."""
    return report_for(metrics).line(metrics)


def progress_parts(p, model: str, data: str, run_dir: str, width: int = 0
                   ) -> list[tuple[int, str]]:
    """The app's status line from a trainer's Progress snapshot: (priority, Rich markup)
    parts, lower priorities kept longer on a narrow terminal."""
    from rich.markup import escape

    colour = {"running": "green", "paused": "yellow", "finished": "cyan", "stopped": "cyan",
              "pruned": "yellow", "failed": "red", "diverged": "red"}.get(str(p.state.value), "white")
    parts = [(0, f"[b {colour}]{p.state.value}[/]"), 
             (0, escape(progress_line(p, max(width - 12, 20) if width else 0, bar=False))),
             (3, escape(f"{model} on {data}")), (4, escape(p.device))]
    if p.message:
        parts.append((1, escape(p.message)))
    if run_dir:
        parts.append((5, escape(run_dir)))
    return parts
