"""A sweep's search space: which run settings vary, and how. Torch-free, Optuna-free: the
command line, the sweep file and the app's form parse values here, and ``study.py`` turns
them into Optuna's distributions.

A swept setting is written as a list or a range:

- ``1e-4,3e-4,1e-3`` (or ``adam,sgd``; a TOML array in a sweep file): these values;
- ``1e-5..1e-2`` a uniform range, ``1e-5..1e-2:log`` a log-uniform one; ``1..8`` of whole
  numbers for an int setting;
- ``16..256:pow2``: the powers of two from 16 to 256, a list (so a grid may take it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import FIELDS, ConfigError, check_field, coerce, field_type

# Settings a sweep may not vary: where its trials go, and how they are named.
NOT_SWEPT = ("logdir", "name", "nproc")
MAX_CHOICES = 10_000
# Paths, where a comma is part of the value: never a list.
PATHS = ("init_from", "data_dir", "logdir", "name")


@dataclass(frozen=True)
class Choice:
    """A list: each value is tried (a grid) or picked by the sampler."""
    name: str
    values: tuple

    def text(self) -> str:
        return ",".join(_show(v) for v in self.values)


@dataclass(frozen=True)
class Range:
    """A range the sampler draws from: never part of a grid."""
    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def text(self) -> str:
        return f"{_show(self.low)}..{_show(self.high)}" + (":log" if self.log else "")


Param = Choice | Range


def short(v: Any) -> str:
    """A parameter or objective value in a table or a title: floats to 4 digits."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _show(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def parse_param(name: str, text: Any) -> Param | None:
    """The parameter a value names, or None when it is one fixed value. Raises
    ConfigError naming the setting."""
    if name not in FIELDS:
        raise ConfigError(name, f"unknown setting; known: {', '.join(FIELDS)}")
    if isinstance(text, list):  # a sweep file's array
        return _choice(name, [coerce(name, v) for v in text])
    if not isinstance(text, str):
        return None
    kind = field_type(name)
    body, _, how = text.strip().partition(":") if kind is not str else (text, "", "")
    if kind is not str and ".." in body:
        if name in NOT_SWEPT:
            raise ConfigError(name, "cannot be swept: every trial shares it", text)
        return _range(name, body, how.strip(), text)
    if "," in text and name not in PATHS:
        return _choice(name, [value_of(name, part.strip(), text) for part in text.split(",")])
    return None


def value_of(name: str, part: str, text: str) -> Any:
    """One value of a setting from its text; ConfigError when it is not of its type."""
    kind = field_type(name)
    try:
        if kind is bool:
            if part.lower() not in ("true", "false"):
                raise ValueError
            return part.lower() == "true"
        return kind(part)
    except ValueError:
        raise ConfigError(name, f"{part!r} is not a {kind.__name__}", text) from None


def _choice(name: str, values: list) -> Choice:
    if name in NOT_SWEPT:
        raise ConfigError(name, "cannot be swept: every trial shares it", values)
    if not values or any(v == "" for v in values):
        raise ConfigError(name, "an empty value in the list", values)
    if len(values) > MAX_CHOICES:
        raise ConfigError(name, f"at most {MAX_CHOICES:,} values in a list")
    for v in values:
        check_field(name, v)
    unique = tuple(dict.fromkeys(values))  # the order given, each once
    return Choice(name, unique)


def _range(name: str, body: str, how: str, text: str) -> Param:
    kind = field_type(name)
    if kind is bool:
        raise ConfigError(name, "true/false takes a list (true,false), not a range", text)
    lo_text, _, hi_text = body.partition("..")
    low, high = (value_of(name, part.strip(), text) for part in (lo_text, hi_text))
    if not low < high:
        raise ConfigError(name, "a range must go from low to high (low..high), and not be "
                          "empty", text)
    for v in (low, high):
        check_field(name, v)
    if how == "pow2":
        if kind is not int or low < 1:
            raise ConfigError(name, ":pow2 takes whole numbers of at least 1", text)
        values = [2 ** k for k in range(math.ceil(math.log2(low)),
                                        math.floor(math.log2(high)) + 1)]
        if not values:
            raise ConfigError(name, "no power of two in the range", text)
        return Choice(name, tuple(values))
    if how not in ("", "log"):
        raise ConfigError(name, f"unknown range kind {how!r}; use :log or :pow2", text)
    if how == "log" and low <= 0:
        raise ConfigError(name, "a :log range must be above 0", text)
    return Range(name, low, high, log=how == "log", integer=kind is int)


def is_grid(params: list[Param]) -> bool:
    return all(isinstance(p, Choice) for p in params)


def grid_size(params: list[Param]) -> int:
    return math.prod(len(p.values) for p in params if isinstance(p, Choice))
