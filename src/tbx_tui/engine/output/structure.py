"""A model's structure as text: its module tree, each module's output shape and
parameter count, as seen in the run's first forward pass.

The shapes come from forward hooks on every module, in place for the first training
step only (then removed): no forward pass of its own, so it costs a step's hook calls
and works for any model the run trains, whatever its inputs (images, tokens, an HF
model's dict). Logged once, as ``Model/structure`` (text, a code block in TensorBoard's
Text tab), at the run's first step.
"""

from __future__ import annotations

from functools import partial

import torch

STRUCTURE_TAG = "Model/structure"
MAX_LINES = 400     # a 48-layer transformer lists ~600 modules: the rest are counted
DETAIL_CHARS = 60   # of a module's extra_repr (Conv2d(1, 32, kernel_size=…))


class StructureProbe:
    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.shapes: dict[str, str] = {}
        self._handles = [m.register_forward_hook(partial(self._note, name))
                         for name, m in model.named_modules()]

    def _note(self, name: str, module, inputs, output) -> None:
        if name not in self.shapes:  # a shared module: its first call
            self.shapes[name] = _shape(output)

    def close(self) -> str:
        """Remove the hooks; the structure text."""
        for h in self._handles:
            h.remove()
        self._handles = []
        return structure_text(self.model, self.shapes)


def _shape(output) -> str:
    if isinstance(output, torch.Tensor):
        return "×".join(str(d) for d in output.shape) or "scalar"
    if isinstance(output, (tuple, list)):
        parts = [_shape(o) for o in output[:3]]
        return "(" + ", ".join(p for p in parts if p) + (", …" if len(output) > 3 else "") + ")"
    if isinstance(output, dict) or hasattr(output, "keys"):  # an HF ModelOutput
        for key in ("logits", "last_hidden_state"):
            value = output.get(key) if hasattr(output, "get") else None
            if isinstance(value, torch.Tensor):
                return f"{key} {_shape(value)}"
    return ""


def structure_text(model: torch.nn.Module, shapes: dict[str, str]) -> str:
    rows = []  # (tree prefix + name, detail, shape, params)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def walk(module, name, prefix, last, depth):
        own = list(module.named_children())
        params = sum(p.numel() for p in module.parameters())
        frozen = params and not any(p.requires_grad for p in module.parameters())
        label = type(module).__name__ if depth == 0 else \
            f"{prefix}{'└─ ' if last else '├─ '}{name.rsplit('.', 1)[-1]}: {type(module).__name__}"
        detail = "" if own else module.extra_repr()
        if len(detail) > DETAIL_CHARS:
            detail = detail[:DETAIL_CHARS - 1] + "…"
        rows.append((label + (f"({detail})" if detail else ""), shapes.get(name, ""),
                     f"{params:,}" + (" frozen" if frozen else "")))
        child_prefix = "" if depth == 0 else prefix + ("   " if last else "│  ")
        for i, (child, sub) in enumerate(own):
            walk(sub, f"{name}.{child}" if name else child, child_prefix,
                 i == len(own) - 1, depth + 1)

    walk(model, "", "", True, 0)
    shown = rows[:MAX_LINES]
    w0 = max(len(r[0]) for r in shown)
    w1 = max([len(r[1]) for r in shown] + [len("output")])
    lines = [f"{'module':<{w0}}  {'output':<{w1}}  parameters"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in shown]
    if len(rows) > MAX_LINES:
        lines.append(f"… {len(rows) - MAX_LINES:,} more modules")
    lines.append(f"{total:,} parameters, {trainable:,} trainable")
    return "\n".join(lines)
