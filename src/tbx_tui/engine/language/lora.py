"""LoRA (Hu et al., 2021) on our gpt: each targeted ``nn.Linear`` keeps its weight W frozen
and learns a low-rank update, y = W x + (alpha / rank) · B A x, with A (rank × in) drawn
as nn.Linear draws its weights and B (out × rank) zero, so training starts from the base
model exactly. Everything else in the model is frozen.

Saving: ``model.pt`` holds the merged weights (W + (alpha / rank) · B A) under the plain
model's names, so it loads as any gpt run's (``tbx-tui sample``, ``--init-from``);
``adapter.pt`` holds the adapter alone (A and B per layer, with rank, alpha and targets),
to apply to the base weights again.
"""

from __future__ import annotations

import fnmatch
import math

import torch
import torch.nn as nn

DEFAULT_TARGETS = "attn.qkv,attn.proj"  # --lora-targets empty: the attention's linears


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        base.weight.requires_grad_(False)
        if base.bias is not None:
            base.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged_weight(self) -> torch.Tensor:
        return self.base.weight + self.scale * (self.lora_b @ self.lora_a).to(
            self.base.weight.dtype)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, f"*.{p}")
               for p in patterns)


def select_targets(linear: list[str], targets: str, owner: str = "") -> list[str]:
    """The names in ``linear`` that ``targets`` (comma-separated fnmatch patterns,
    matched against the whole name or its ending: ``attn.qkv`` takes every block's)
    picks; ValueError naming lora_targets when none."""
    patterns = [p.strip() for p in targets.split(",") if p.strip()]
    names = [n for n in linear if _matches(n, patterns)]
    if not names:
        raise ValueError(f"lora_targets: {targets!r} matches no linear layer{owner} (they "
                         f"are named like {', '.join(linear[:4])}…)")
    return names


def apply_lora(model: nn.Module, rank: int, alpha: float, targets: str) -> list[str]:
    """Wrap the Linear layers ``targets`` picks (select_targets; empty: DEFAULT_TARGETS);
    freeze all else. Returns the wrapped names; ValueError when none match."""
    linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    names = select_targets(linear, targets or DEFAULT_TARGETS)
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, LoRALinear(getattr(parent, attr), rank, alpha))
    return names


def has_lora(model: nn.Module) -> bool:
    return any(isinstance(m, LoRALinear) for m in model.modules())


def merged_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The plain model's state dict: adapters merged into their base weights."""
    state = {}
    wrapped = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    for key, value in model.state_dict().items():
        owner = next((n for n in wrapped if key.startswith(n + ".")), None)
        if owner is None:
            state[key] = value
            continue
        rest = key[len(owner) + 1:]
        if rest == "base.weight":
            state[f"{owner}.weight"] = wrapped[owner].merged_weight().detach()
        elif rest == "base.bias":
            state[f"{owner}.bias"] = value
    return state


def adapter_state(model: nn.Module, rank: int, alpha: float, targets: str) -> dict:
    tensors = {k: v for k, v in model.state_dict().items()
               if k.endswith(".lora_a") or k.endswith(".lora_b")}
    return {"rank": rank, "alpha": float(alpha), "targets": targets or DEFAULT_TARGETS,
            "tensors": tensors}
