"""A sweep's definition: the swept settings, the fixed ones, the sampler, the pruner, the
objective and the budget. Written once into the sweep folder (``sweep.toml``) and into
the study itself, so that ``--resume`` and ``--join`` run exactly the sweep that was
started. Torch-free and Optuna-free."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from ..config import FIELDS, ConfigError, build, check_field, coerce
from .space import Choice, Param, Range, grid_size, is_grid, parse_param

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
DEFAULT_TRIALS = 20  # a sampled (not grid) sweep without --trials
MAX_GRID = 10_000    # combinations queued at once; a larger grid needs --trials
# Short names for the objective, and the direction each is best in; any logged tag works.
ALIASES = {
    "loss": (("Loss/test", "Loss/val"), "min"),
    "accuracy": (("Accuracy/test", "Accuracy/val"), "max"),
    "perplexity": (("Perplexity/val",), "min"),
    "r2": (("R2/test",), "max"),
    "mae": (("MAE/test",), "min"),
}
MAXIMISED = ("Accuracy/", "Precision/", "Recall/", "R2/")
FILE = "sweep.toml"


class SweepError(ValueError):
    """A definition that cannot run; ``str()`` is one line (exit 2)."""


@dataclass(frozen=True)
class Objective:
    tags: tuple[str, ...]  # the first of these an evaluation logs is the objective
    direction: str         # "minimize" or "maximize"

    @classmethod
    def parse(cls, text: str) -> "Objective":
        words = text.split()
        if not words or len(words) > 2:
            raise SweepError(f"objective: {text!r}: give a metric and, if you like, min or "
                             "max (\"Loss/test min\", accuracy, perplexity)")
        name, how = words[0], (words[1].lower() if len(words) == 2 else "")
        if how not in ("", "min", "max"):
            raise SweepError(f"objective: {how!r}: the direction is min or max")
        tags, best = ALIASES.get(name.lower(), ((name,), "max" if name.startswith(MAXIMISED)
                                                else "min"))
        return cls(tags, "maximize" if (how or best) == "max" else "minimize")

    def text(self) -> str:
        name = next((k for k, (tags, _) in ALIASES.items() if tags == self.tags),
                    "|".join(self.tags))
        return f"{name} {'max' if self.direction == 'maximize' else 'min'}"

    def pick(self, metrics: dict[str, float]) -> str | None:
        return next((t for t in self.tags if t in metrics), None)


@dataclass(frozen=True)
class Sweep:
    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    sampler: str = ""              # "" = grid when every swept setting is a list, else tpe
    trials: int = 0                # 0 = the whole grid, or DEFAULT_TRIALS
    timeout_s: float = 0.0         # 0 = no time budget
    objective: Objective = Objective(("Loss/test", "Loss/val"), "minimize")
    pruner: str = "none"
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.params:
            raise SweepError("sweep: nothing is swept; give a setting a list (--lr "
                             "1e-3,3e-3) or a range (--lr 1e-4..1e-2:log)")
        if self.sampler == "grid" and not is_grid(list(self.params)):
            ranged = [p.name for p in self.params if isinstance(p, Range)]
            raise SweepError(f"sampler: a grid takes lists only; {', '.join(ranged)} "
                             "is a range (use --sampler tpe or random, or a list)")
        if self.kind == "grid" and not self.trials and \
                grid_size(list(self.params)) > MAX_GRID:
            raise SweepError(f"a grid of {grid_size(list(self.params)):,} combinations is "
                             f"more than {MAX_GRID:,}: give --trials N (or a sampler: "
                             "--sampler tpe), or fewer values")
        if self.sampler not in ("", *SAMPLERS):
            raise SweepError(f"sampler: one of {', '.join(SAMPLERS)} (got {self.sampler!r})")
        if self.pruner not in PRUNERS:
            raise SweepError(f"pruner: one of {', '.join(PRUNERS)} (got {self.pruner!r})")
        if self.trials < 0 or self.timeout_s < 0:
            raise SweepError("trials and timeout must be 0 (none) or more")
        try:  # every trial's settings must be valid: the fixed ones with the first values
            build(None, {**self.fixed, **{p.name: _first(p) for p in self.params}})
        except ConfigError as e:
            raise SweepError(str(e)) from None

    @property
    def kind(self) -> str:
        return self.sampler or ("grid" if is_grid(list(self.params)) else "tpe")

    @property
    def budget(self) -> int:
        """Trials to run: the grid's size, --trials, or the stated default."""
        if self.kind == "grid":
            size = grid_size(list(self.params))
            return min(self.trials, size) if self.trials else size
        return self.trials or (0 if self.timeout_s else DEFAULT_TRIALS)

    # ---- files -------------------------------------------------------------------------
    def to_toml(self) -> str:
        swept = {p.name: list(p.values) if isinstance(p, Choice) else p.text()
                 for p in self.params}
        return tomli_w.dumps({
            "sweep": {"sampler": self.kind, "trials": self.trials,
                      "timeout": float(self.timeout_s),
                      "objective": self.objective.text(), "pruner": self.pruner,
                      "seed": self.seed},
            "swept": swept, "fixed": self.fixed})

    @classmethod
    def from_toml(cls, text: str, source: str) -> "Sweep":
        try:
            d = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as e:
            raise SweepError(f"{source}: not TOML ({e})") from None
        unknown = set(d) - {"sweep", "swept", "fixed"} - set(FIELDS)
        if unknown:
            raise SweepError(f"{source}: unknown table or setting {sorted(unknown)[0]!r}")
        head = d.get("sweep", {})
        fixed, params = dict(d.get("fixed", {})), []
        # The same syntax as the command line: at the top level or under [swept], a list
        # or a range is swept, anything else is fixed.
        for name, value in {**{k: v for k, v in d.items() if k in FIELDS},
                            **d.get("swept", {})}.items():
            try:
                param = parse_param(name, value)
                if param is None:
                    fixed[name] = coerce(name, value)
                    check_field(name, fixed[name])
                else:
                    params.append(param)
            except ConfigError as e:
                raise SweepError(f"{source}: {e}") from None
        objective = Objective.parse(str(head.get("objective", "loss")))
        try:
            return cls(tuple(params), fixed, str(head.get("sampler", "")),
                       int(head.get("trials", 0)), float(head.get("timeout", 0)), objective,
                       str(head.get("pruner", "none")), int(head.get("seed", 0)))
        except (TypeError, ValueError) as e:
            raise SweepError(f"{source}: {e}") from None

    def default_name(self) -> str:
        """sweep-<hash of the definition>: the same command finds the same sweep again."""
        import hashlib

        return "sweep-" + hashlib.sha256(self.to_toml().encode()).hexdigest()[:8]

    def with_budget(self, trials: int | None, timeout_s: float | None) -> "Sweep":
        return replace(self, trials=self.trials if trials is None else trials,
                       timeout_s=self.timeout_s if timeout_s is None else timeout_s)


def _first(p: Param) -> Any:
    return p.values[0] if isinstance(p, Choice) else p.low


def load(folder: Path) -> Sweep:
    path = folder / FILE
    try:
        text = path.read_text()
    except OSError as e:
        raise SweepError(f"{folder}: not a sweep folder ({FILE}: {e.strerror})") from None
    return Sweep.from_toml(text, str(path))
