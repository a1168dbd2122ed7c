"""Fine-tuning: start from other weights (``--init-from``), freeze part of the model
(``--freeze``), give the head its own learning rate (``--head-lr``).

The *head* is the module that owns the model's last parameter (``fc2`` of the tutorial's
models, ``fc`` of a ResNet, ``classifier.1`` of an EfficientNet): the part sized to the
dataset's classes, re-initialised when the class count differs.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

import torch
from torch import nn

from ..runtime.errors import InitUnavailable, InitUnusable  # noqa: F401  (re-exported)


@dataclass
class InitReport:
    source: str = ""
    loaded: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)   # "name (why)"
    ignored: list[str] = field(default_factory=list)
    trainable: int = 0
    frozen: int = 0

    def lines(self) -> list[str]:
        out = []
        if self.source:
            out.append(f"init from {self.source}: {len(self.loaded)} tensors loaded, "
                       f"{len(self.reinitialised)} re-initialised"
                       + (f" ({', '.join(self.reinitialised)})" if self.reinitialised else "")
                       + f", {len(self.ignored)} in the file ignored")
        if self.frozen:
            out.append(f"parameters: {self.trainable:,} trainable, {self.frozen:,} frozen")
        return out


def head_prefix(model: nn.Module) -> str:
    """``"fc2."``: the module that owns the last parameter, with a trailing dot."""
    names = [n for n, _ in model.named_parameters()]
    if not names:
        return ""
    return names[-1].rsplit(".", 1)[0] + "." if "." in names[-1] else names[-1]


def _state_dict_from(path: str) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # not a torch file, or one that needs pickled code
        raise InitUnusable(f"init_from: cannot load {path} with weights_only=True: "
                           f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                           ) from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):  # a checkpoint
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InitUnusable(f"init_from: {path} holds no state_dict (a dict of tensors)")
    return obj


def _imagenet(model_ref: str) -> tuple[dict[str, torch.Tensor], str]:
    """torchvision's default pretrained weights for tv:NAME, from the torch hub cache."""
    if not model_ref.startswith("tv:"):
        raise InitUnusable("init_from: imagenet takes a torchvision model (--model tv:NAME)")
    import torchvision
    from torch.hub import get_dir

    from torch.hub import download_url_to_file

    weights = torchvision.models.get_model_weights(model_ref[3:]).DEFAULT
    where = os.path.join(get_dir(), "checkpoints", os.path.basename(weights.url))
    if not os.path.isfile(where):
        try:  # torch.hub's own download: to a temporary file, renamed when whole
            os.makedirs(os.path.dirname(where), exist_ok=True)
            download_url_to_file(weights.url, where, progress=False)
        except Exception as e:  # offline: urllib's error
            raise InitUnavailable(
                f"init_from: the ImageNet weights of {model_ref} are not in {where} and "
                f"could not be downloaded ({type(e).__name__}); put {weights.url} there "
                f"($TORCH_HOME sets the folder)") from None
    return _state_dict_from(where), where


def load_initial(model: nn.Module, init_from: str, model_ref: str) -> InitReport:
    """Copy every tensor whose name and shape match; the rest keep their fresh
    initialisation (the head, when the class count differs) and are reported."""
    report = InitReport()
    if not init_from:
        return report
    if init_from == "imagenet":
        state, report.source = _imagenet(model_ref)
    else:
        path = os.path.join(init_from, "model.pt") if os.path.isdir(init_from) else init_from
        if not os.path.isfile(path):
            raise InitUnusable(f"init_from: no model.pt in {init_from}" if
                               os.path.isdir(init_from) else
                               f"init_from: no such run folder or file: {init_from}")
        state, report.source = _state_dict_from(path), path
    own = model.state_dict()
    # A torchvision model wrapped for small or grey images has its names under "model.".
    if not any(k in own for k in state) and all(f"model.{k}" in own for k in list(state)[:3]):
        state = {f"model.{k}": v for k, v in state.items()}
    fitted = {}
    for name, tensor in own.items():
        theirs = state.get(name)
        if theirs is None:
            report.reinitialised.append(f"{name}: absent")
        elif theirs.shape != tensor.shape:
            report.reinitialised.append(f"{name}: {tuple(theirs.shape)} vs {tuple(tensor.shape)}")
        else:
            fitted[name] = theirs
            report.loaded.append(name)
    report.ignored = [k for k in state if k not in own]
    if not fitted:
        raise InitUnusable(f"init_from: no tensor of {report.source} fits {model_ref} "
                           f"(its names: {', '.join(list(state)[:4])}…)")
    model.load_state_dict(fitted, strict=False)
    return report


def freeze(model: nn.Module, spec: str, report: InitReport) -> None:
    """``spec``: comma-separated fnmatch patterns of parameter names, or ``backbone``
    (every parameter but the head's)."""
    names = [n for n, _ in model.named_parameters()]
    # A torchvision model adapted to small or grey images sits under "model.", an hf:
    # model under "lm."; patterns are written against the library's own names
    # (features.0.*, transformer.h.0.*), and match either way.
    inner = _inner_prefix(model)
    bare = {n: n[len(inner):] if inner and n.startswith(inner) else n for n in names}
    if spec.strip() == "backbone":
        head = head_prefix(model)
        chosen = {n for n in names if not n.startswith(head)}
    else:
        chosen = set()
        for pattern in (p.strip() for p in spec.split(",") if p.strip()):
            hits = {n for n in names if fnmatch.fnmatchcase(n, pattern)
                    or fnmatch.fnmatchcase(bare[n], pattern)}
            if not hits:
                shown = [bare[n] for n in names[:6]]
                raise InitUnusable(f"freeze: {pattern!r} matches no parameter (they are: "
                                   f"{', '.join(shown)}{'…' if len(names) > 6 else ''})")
            chosen |= hits
    if chosen and chosen == set(names):
        raise InitUnusable("freeze: that freezes every parameter; nothing would train")
    for name, p in model.named_parameters():
        if name in chosen:
            p.requires_grad_(False)
    report.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report.frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)


def _inner_prefix(model: nn.Module) -> str:
    from ..language.hf import HFCausalLM  # here: hf imports this module
    from ..vision.models import _ToImageNetInput

    if isinstance(model, _ToImageNetInput):
        return "model."
    return "lm." if isinstance(model, HFCausalLM) else ""


def param_groups(model: nn.Module, lr: float, head_lr: float) -> list[dict]:
    """The trainable parameters; with ``head_lr``, the head in a group of its own. Each
    group carries ``lr_scale``: the schedule sets ``lr * lr_scale``."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not head_lr:
        return [{"params": [p for _, p in trainable], "lr_scale": 1.0}]
    head = head_prefix(model)
    body = [p for n, p in trainable if not n.startswith(head)]
    groups = [{"params": [p for n, p in trainable if n.startswith(head)],
               "lr": head_lr, "lr_scale": head_lr / lr}]
    if body:
        groups.insert(0, {"params": body, "lr_scale": 1.0})
    return groups
