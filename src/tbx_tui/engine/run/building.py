"""The model a run trains, made ready before its folder exists: built by the task, its
starting weights (--init-from), frozen parts, what the task adds on top (LoRA), moved to
the device, its optimizer, and the compile and DistributedDataParallel wrappers."""

from __future__ import annotations

import torch

from .finetune import InitReport, freeze, load_initial, param_groups
from .schedule import make_optimizer


def build(task, config, device: torch.device, world, notes: list[str], resumed: bool
          ) -> tuple[torch.nn.Module, torch.optim.Optimizer, InitReport]:
    torch.manual_seed(config.seed)
    model = task.build_model()
    # Resumed: the weights come from the checkpoint, not from --init-from.
    init = load_initial(model, "" if resumed else config.init_from, config.model)
    if config.freeze:
        freeze(model, config.freeze, init)
    task.adapt(model, init, notes)  # after the base weights are in: they stay as loaded
    model = model.to(device)
    # Before the run folder exists: torch's first optimizer imports torch._dynamo
    # (~4 s here with torch 2.14), which would otherwise sit between the run's start
    # and its first point.
    optimizer = make_optimizer(config, param_groups(model, config.lr, config.head_lr))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels
    if config.compile and device.type == "cuda":  # compiled, then wrapped: names unprefixed
        model = torch.compile(model)
    elif config.compile:  # inductor's CPU code needs a C++ toolchain, and gains little
        notes.append(f"--compile: on CUDA only; training uncompiled on {device.type}")
    if world.active:  # gradients averaged over the ranks in backward()
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    return model, optimizer, init
