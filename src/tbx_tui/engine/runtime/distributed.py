"""Several processes, one run: ``torch.distributed`` as torchrun sets it up.

Under ``torchrun`` (or ``tbx-tui --nproc N``, which starts torchrun) every process trains
the same loop on its share of each global batch: the epoch's order is the one a single
process would use with a batch of ``batch_size × world size``, and rank r takes the r-th
slice of each such batch. The model is wrapped in ``DistributedDataParallel``; the only
other collectives are at log time (the interval's loss, accuracy, sample count, and
whether to stop or checkpoint), at evaluation (the confusion matrix and the loss) and at
checkpoints (each rank's RNG states and accumulators). Rank 0 alone writes the event
file, the config, the checkpoints and ``model.pt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

# A rank that died leaves the others waiting in a collective; torchrun stops the group
# then, but a lone process group (a missed SIGTERM) would wait 30 minutes by default.
TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> World:
    """The process's place in the group, from torchrun's environment; one process when
    there is none."""
    try:
        return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        return World()


def join(world: World, device: torch.device) -> torch.device:
    """Join the group: gloo on CPUs, nccl on CUDA with one device per local rank."""
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            # nccl cannot put two ranks on one GPU; say so before set_device's opaque error
            from .errors import DeviceUnavailable

            raise DeviceUnavailable(
                f"device: local rank {world.local_rank} needs a GPU of its own but this "
                f"machine has {torch.cuda.device_count()}; use --nproc (or torchrun's "
                f"--nproc-per-node) {torch.cuda.device_count()} at most, or --device cpu")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                store=_store(world), rank=world.rank, world_size=world.size,
                                timeout=TIMEOUT,
                                device_id=device if device.type == "cuda" else None)
    return device


def _store(world: World):
    """torchrun's store, under a prefix of its own per restart. Measured here (torch
    2.14): a group restarted by --max-restarts reads the killed group's addresses from
    the agent's store and then hangs, or fails, connecting to the dead rank; its keys
    are not namespaced by attempt."""
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ.get("MASTER_ADDR", "127.0.0.1"),
                          int(os.environ.get("MASTER_PORT", "29500")), world.size,
                          is_master=not agent and world.rank == 0, timeout=TIMEOUT)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"tbx-tui/attempt-{attempt}", store)


def leave() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(perm: torch.Tensor, batch_size: int, world: World) -> torch.Tensor:
    """This rank's part of an epoch's order: the r-th slice of each global batch of
    ``batch_size × world.size`` (slices differ by at most one sample). A last global
    batch with fewer samples than ranks is left out: every rank must take the same
    number of steps, or the others would wait for it forever."""
    if not world.active:
        return perm
    chunks = [c for c in perm.split(batch_size * world.size) if len(c) >= world.size]
    return torch.cat([c.tensor_split(world.size)[world.rank] for c in chunks])


def steps_per_epoch(n: int, batch_size: int, world: World) -> int:
    full, rest = divmod(n, batch_size * world.size)
    return full + (rest >= world.size if world.active else rest > 0)


def sum_(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum over all ranks (in place, returned)."""
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def gather(obj) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj, src: int = 0):
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def bare_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model itself, without DistributedDataParallel's or torch.compile's wrapper
    (their names have a ``module.`` / ``_orig_mod.`` prefix that no checkpoint or
    histogram should carry)."""
    from torch.nn.parallel import DistributedDataParallel

    model = model.module if isinstance(model, DistributedDataParallel) else model
    return getattr(model, "_orig_mod", model)  # torch.compile's wrapper, likewise
