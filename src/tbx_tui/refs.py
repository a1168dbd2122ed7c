"""Model and data references, parsed and checked without torch (the CLI, the setup form
and the engine share these parsers; the engine resolves what they name).

A model is one of:
  ``mlp`` / ``simple_cnn`` / ``resnet18``   built in
  ``tv:NAME``                               any torchvision classification model
  ``FILE.py:NAME``                          NAME from a Python file
  ``package.module:NAME``                   NAME from an importable module
  ``NAME``                                  an entry point in the ``tbx_tui.models`` group
  ``hf:NAME_OR_PATH``                       a Hugging Face causal LM (engine/language/hf.py)
NAME is an ``nn.Module`` subclass or a factory; either is called as
``NAME(in_shape, num_classes)`` with ``in_shape = (channels, height, width)`` of the
dataset and must give an ``nn.Module`` whose output for a batch ``(N, *in_shape)`` is
``(N, num_classes)`` logits. On a table of features (regression) ``in_shape`` is
``(features,)`` and ``num_classes`` the number of outputs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

BUILTIN_MODELS = ("mlp", "simple_cnn", "resnet18")
LM_MODELS = ("gpt",)  # language models: trained on text data (engine/language/gpt.py)
ENTRY_POINT_GROUP = "tbx_tui.models"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_TV = re.compile(r"^[a-z0-9_]+$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
FORMS = ("mlp, simple_cnn, resnet18, gpt (a language model), tv:NAME (torchvision), "
         "FILE.py:NAME or MODULE:NAME, hf:NAME_OR_PATH (a Hugging Face causal LM)")


def is_hf_model(text: str) -> bool:
    return text.strip().startswith("hf:")


def is_lm_model(text: str) -> bool:
    """A language model: trained on text data."""
    return text.strip() in LM_MODELS or is_hf_model(text)


@dataclass(frozen=True)
class ModelRef:
    kind: str        # builtin, lm, hf, tv, file, module, entry
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
    if text in LM_MODELS:
        return ModelRef("lm", text)
    if text.startswith("hf:"):
        name = text[3:]
        path = os.path.expanduser(name)
        if os.path.isdir(path):
            return ModelRef("hf", os.path.abspath(path))
        if not name.strip():
            raise ValueError("hf: needs a model id (hf:gpt2) or a folder after it")
        if name.startswith(("/", ".", "~")) or not _HUB_ID.match(name):
            raise ValueError(f"hf:NAME_OR_PATH takes a folder written by save_pretrained or "
                             f"a Hugging Face model id such as hf:gpt2; no such folder: {name}")
        return ModelRef("hf", name)
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
    if ref.kind == "hf":
        return f"hf:{ref.target}"
    return f"{ref.target}:{ref.attr}" if ref.kind == "file" else text.strip()


def canonical_data(text: str) -> str:
    """As ``canonical``: paths made absolute, so a run file works from anywhere."""
    ref = parse_data(text)
    if ref.kind in ("folder", "npz", "text"):
        return f"{ref.kind}:{ref.target}"
    return f"{ref.target}:{ref.attr}" if ref.kind == "file" else text.strip()


BUILTIN_DATA = ("synthetic", "digits", "mnist", "fashion_mnist", "cifar10")
TEXT_DATA = ("shakespeare_char",)
DATA_FORMS = ("synthetic, digits, mnist, fashion_mnist, cifar10, folder:PATH (an ImageFolder), "
              "npz:PATH, FILE.py:NAME or MODULE:NAME; text: shakespeare_char, text:PATH")


@dataclass(frozen=True)
class DataRef:
    kind: str        # builtin, folder, npz, file, module
    target: str
    attr: str = ""


def parse_data(text: str) -> DataRef:
    """Raises ValueError with the rule, in words. Data references:
      ``folder:PATH``  images in class folders: PATH/train/<class>/… with PATH/val/ (or
                       test/), or PATH/<class>/… split by --val-fraction
      ``npz:PATH``     a NumPy archive with x_train, y_train, x_test, y_test
      ``FILE.py:NAME`` / ``MODULE:NAME``  NAME() returns (train, test), each an (x, y)
                       pair of tensors or a Dataset of (image tensor, label) pairs
    """
    text = text.strip()
    if text in BUILTIN_DATA:
        return DataRef("builtin", text)
    if text in TEXT_DATA:
        return DataRef("text_builtin", text)
    for prefix, check, what in (("folder:", os.path.isdir, "folder"),
                                ("npz:", os.path.isfile, "file"),
                                ("text:", os.path.exists, "file or folder")):
        if text.startswith(prefix):
            path = os.path.expanduser(text[len(prefix):])
            if not check(path):
                raise ValueError(f"no such {what}: {text[len(prefix):]}")
            return DataRef(prefix[:-1], os.path.abspath(path))
    if ":" in text:
        ref = parse_model(text)  # the same FILE.py:NAME / MODULE:NAME rules
        if ref.kind in ("file", "module"):
            return DataRef(ref.kind, ref.target, ref.attr)
    raise ValueError(f"must be {DATA_FORMS}")


def slug(text: str) -> str:
    """A reference as part of a folder name: folder:/data/pets -> pets, tv:resnet50 ->
    resnet50, models/net.py:Net -> Net."""
    import re

    last = text.rstrip("/").rsplit(":", 1)[-1]
    if text.startswith("hf:") and os.path.basename(last) == "hf":  # another run's hf/
        last = os.path.dirname(last)
    last = os.path.basename(last.rstrip("/")) or last
    last = re.sub(r"\.(py|npz|txt|md)$", "", last)
    return re.sub(r"[^A-Za-z0-9._+=-]+", "-", last).strip("-.") or "x"
