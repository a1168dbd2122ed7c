"""Model references, parsed and checked without torch (the CLI, the setup form and the
engine share this one parser; the engine resolves what it names).

A model is one of:
  ``mlp`` / ``simple_cnn`` / ``resnet18``   built in
  ``tv:NAME``                               any torchvision classification model
  ``FILE.py:NAME``                          NAME from a Python file
  ``package.module:NAME``                   NAME from an importable module
  ``NAME``                                  an entry point in the ``tbx_tui.models`` group
NAME is an ``nn.Module`` subclass or a factory; either is called as
``NAME(in_shape, num_classes)`` with ``in_shape = (channels, height, width)`` of the
dataset and must give an ``nn.Module`` whose output for a batch ``(N, *in_shape)`` is
``(N, num_classes)`` logits.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

BUILTIN_MODELS = ("mlp", "simple_cnn", "resnet18")
ENTRY_POINT_GROUP = "tbx_tui.models"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TV = re.compile(r"^[a-z0-9_]+$")
FORMS = "mlp, simple_cnn, resnet18, tv:NAME (torchvision), FILE.py:NAME or MODULE:NAME"


@dataclass(frozen=True)
class ModelRef:
    kind: str        # builtin, tv, file, module, entry
    target: str      # the name, the torchvision name, the file path or the module
    attr: str = ""   # the class or factory in the file or module

    @property
    def user(self) -> bool:
        return self.kind in ("file", "module", "entry")


def entry_points() -> dict[str, str]:
    """Models installed by other packages: name -> "module:attr"."""
    from importlib.metadata import entry_points as eps

    return {ep.name: ep.value for ep in eps(group=ENTRY_POINT_GROUP)}


def parse_model(text: str) -> ModelRef:
    """Raises ValueError with the rule, in words, for a reference that cannot work."""
    text = text.strip()
    if text in BUILTIN_MODELS:
        return ModelRef("builtin", text)
    if text.startswith("tv:"):
        name = text[3:]
        if not _TV.match(name):
            raise ValueError("tv:NAME takes a torchvision model name such as tv:resnet50 "
                             "(`tbx-tui models` lists them)")
        return ModelRef("tv", name)
    if ":" in text:
        where, attr = text.rsplit(":", 1)
        if not _IDENT.match(attr):
            raise ValueError(f"after ':' comes the name of a class or function, not {attr!r}")
        if where.endswith(".py"):
            path = os.path.expanduser(where)
            if not os.path.isfile(path):
                raise ValueError(f"no such file: {where}")
            return ModelRef("file", os.path.abspath(path), attr)
        if not _DOTTED.match(where):
            raise ValueError(f"{where!r} is neither a FILE.py nor a dotted module name")
        return ModelRef("module", where, attr)
    if _IDENT.match(text) and text in entry_points():
        return ModelRef("entry", text)
    raise ValueError(f"must be {FORMS}")


def canonical(text: str) -> str:
    """The reference as a run file keeps it: a file by its absolute path, so
    ``tbx-tui --config <run>/config.toml`` works from any folder."""
    ref = parse_model(text)
    return f"{ref.target}:{ref.attr}" if ref.kind == "file" else text.strip()
