"""Gradient flow: the gradient norm of each layer, at every log interval.

A layer is a module owning parameters (``conv1``: its weight and bias together); its norm
is that of all its parameters' gradients at once. Logged as ``GradFlow/<layer>`` scalars,
which TensorBoard charts as they are; a layer whose norm falls towards 0 while the
others do not is where gradients vanish. All norms are computed on the device
(``torch._foreach_norm``, one kernel per dtype) and read back in one sync.
"""

from __future__ import annotations

import torch

PREFIX = "GradFlow/"


def layer_grad_norms(model: torch.nn.Module, own_name=str) -> dict[str, float]:
    """``{GradFlow/<layer>: norm}`` of the gradients the last backward left; layers with
    no gradient (frozen, unused) are left out."""
    layers: dict[str, int] = {}  # layer -> its index, in order of first parameter
    index: list[int] = []
    grads: list[torch.Tensor] = []
    for name, p in model.named_parameters():
        g = p.grad
        if g is None or g.is_sparse:
            continue
        name = own_name(name)
        index.append(layers.setdefault(name.rpartition(".")[0] or name, len(layers)))
        grads.append(g)
    if not grads:
        return {}
    squares = torch.stack([n.float() for n in torch._foreach_norm(grads)]) ** 2
    where = torch.tensor(index, device=squares.device)
    norms = torch.zeros(len(layers), device=squares.device).index_add_(0, where, squares)
    return {PREFIX + layer: v for layer, v in zip(layers, norms.sqrt().tolist())}  # SYNC
