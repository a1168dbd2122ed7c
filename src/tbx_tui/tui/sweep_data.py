"""A sweep as the sweep view draws it, from what any reader has: the sweep folder's
``sweep.toml`` and its trials' run folders in the store (their hyperparameters, their
objective's last value, their state). No Textual, no torch, no Optuna: the same view
follows a sweep that another machine is running, through its files."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

from ..logs.watcher import run_status
from ..safe_text import clean
from ..sweep.definition import FILE, Sweep, SweepError, load
from ..sweep.space import Choice

_TRIAL = re.compile(r"trial-(\d+)$")


@dataclass
class Trial:
    number: int
    run: str              # the run's name in the store
    state: str            # finished, pruned, failed, live, stale, …
    params: dict
    value: float | None   # the objective's last value; None while it has none


@dataclass
class Axis:
    name: str
    log: bool
    labels: list[str] | None  # a categorical axis: its values in order; None: numeric
    low: float = 0.0
    high: float = 1.0

    def place(self, value) -> float | None:
        """Where a value sits on the axis, 0 (bottom) to 1 (top)."""
        if value is None:
            return None
        if self.labels is not None:
            text = str(value)
            if text not in self.labels:
                return None
            return self.labels.index(text) / max(len(self.labels) - 1, 1)
        try:
            v = float(value)
        except (TypeError, ValueError):
            return None
        if self.log:
            if v <= 0:
                return None
            v = math.log10(v)
        if self.high <= self.low:
            return 0.5
        return min(max((v - self.low) / (self.high - self.low), 0.0), 1.0)

    def tick(self, at: float) -> str:
        """The value at a height, for the axis's labels."""
        if self.labels is not None:
            return self.labels[round(at * max(len(self.labels) - 1, 0))] if self.labels else ""
        v = self.low + at * (self.high - self.low)
        return f"{10 ** v:.3g}" if self.log else f"{v:.3g}"


@dataclass
class SweepData:
    folder: Path
    sweep: Sweep
    trials: list[Trial]

    @property
    def minimise(self) -> bool:
        return self.sweep.objective.direction == "minimize"

    def best(self) -> Trial | None:
        scored = [t for t in self.trials if t.value is not None and t.state == "finished"]
        if not scored:
            return None
        return (min if self.minimise else max)(scored, key=lambda t: t.value)

    def best_so_far(self) -> tuple[list[int], list[float], list[float]]:
        """(trial numbers, their objectives, the best up to each), finished trials only."""
        xs, ys, best = [], [], []
        for t in sorted(self.trials, key=lambda t: t.number):
            if t.value is None or t.state != "finished":
                continue
            xs.append(t.number)
            ys.append(t.value)
            best.append(t.value if not best else (min if self.minimise else max)(best[-1],
                                                                                 t.value))
        return xs, ys, best

    def axes(self) -> list[Axis]:
        """One axis per swept setting (log where its range is log, or a list spans ≥ 100×),
        then the objective's."""
        out = []
        for p in self.sweep.params:
            values = [t.params.get(p.name) for t in self.trials if p.name in t.params]
            if isinstance(p, Choice) and not all(_number(v) for v in p.values):
                # sweep.toml is anyone's file: its values reach the chart as display text,
                # as the store's hparams (the trials' values) already are.
                out.append(Axis(p.name, False, [clean(str(v)) for v in p.values]))
                continue
            numbers = [float(v) for v in (list(p.values) if isinstance(p, Choice) else
                                          [p.low, p.high]) + values if _number(v)]
            log = getattr(p, "log", False) or (isinstance(p, Choice) and min(numbers) > 0 and
                                               max(numbers) / min(numbers) >= 100)
            out.append(_numeric(p.name, numbers, log))
        values = [t.value for t in self.trials if t.value is not None]
        out.append(_numeric(self.sweep.objective.text().split()[0], values or [0.0, 1.0],
                            False))
        return out

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _numeric(name: str, numbers: list[float], log: bool) -> Axis:
    if log:
        numbers = [math.log10(v) for v in numbers if v > 0] or [0.0]
    return Axis(name, log, None, min(numbers), max(numbers))


@lru_cache(maxsize=8)
def _definition(folder: Path, stamp: int | None) -> Sweep:
    """sweep.toml parsed once per version of the file: the status line and the sweep view
    read the sweep on every tick, on the UI thread."""
    return load(folder)


def sweep_folders(runs: dict) -> list[Path]:
    """The sweep folders the store's runs belong to (their parent holds sweep.toml)."""
    found = {Path(r.path).parent for r in runs.values()}
    return sorted(f for f in found if (f / FILE).is_file())


def read(folder: Path, runs: dict, now: float) -> SweepData:
    """The sweep in ``folder`` from its definition and its trials in ``runs`` (read under
    the store's lock). Raises SweepError when the definition cannot be read."""
    try:
        stamp = (folder / FILE).stat().st_mtime_ns
    except OSError:
        stamp = None
    sweep = _definition(folder, stamp)
    trials = []
    for name, run in runs.items():
        path = Path(run.path)
        m = _TRIAL.match(path.name)
        if path.parent != folder or not m:
            continue
        params = {p.name: run.hparams[p.name] for p in sweep.params if p.name in run.hparams}
        value = None
        tag = next((t for t in sweep.objective.tags if t in run.scalars and
                    len(run.scalars[t])), None)
        if tag is not None:
            value = float(run.scalars[tag].values[-1])
            value = value if math.isfinite(value) else None
        trials.append(Trial(int(m.group(1)), name, run_status(run, now), params, value))
    trials.sort(key=lambda t: t.number)
    return SweepData(folder, sweep, trials)


__all__ = ["Axis", "SweepData", "SweepError", "Trial", "read", "sweep_folders"]
