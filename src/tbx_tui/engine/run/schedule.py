"""When things happen in the loop, and at what rate: the optimizer, the learning-rate
schedule, and the steps at which scalars are logged."""

from __future__ import annotations

import math

import torch


def lr_factor(config, step: int, total_steps: int, steps_per_epoch: int) -> float:
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))
    if config.lr_schedule == "step":
        return config.lr_gamma ** ((step // steps_per_epoch) // config.lr_step_epochs)
    return 1.0


def make_optimizer(config, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def log_due(step: int, log_every: int, total: int) -> bool:
    """Scalars are logged every ``log_every`` steps and at the last one, and early, at
    steps 1, 2, 4, 8, … below ``log_every``: a run shows its first point after one step,
    whatever ``--log-every`` says, for log2(log_every) extra syncs in all. Deterministic
    (by step, not by clock), so a resumed run logs the same steps."""
    return step % log_every == 0 or step == total or (step < log_every and
                                                      step & (step - 1) == 0)


def hist_due(step: int, hist_every: int, total: int) -> bool:
    """Histograms every ``hist_every`` steps, and at the first and the last step: a run
    shorter than the interval still shows where its weights started and ended. 0: never."""
    return bool(hist_every) and (step % hist_every == 0 or step == 1 or step == total)
