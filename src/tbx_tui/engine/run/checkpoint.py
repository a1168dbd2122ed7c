"""Checkpoints: everything an exact continuation of a run needs, in its run folder.

``<run>/checkpoints/step-NNNNNNNNN.pt`` holds the model, the optimizer, the loop's
position (epoch, batches done in it, and that epoch's order), the interval accumulators,
every RNG state (torch, CUDA, NumPy, Python, and the augmentation's own generator) and
the config. Written atomically (temporary file, fsync, rename); the newest ``keep`` stay.
Everything in it is a tensor, a number, a string or a container of those, so it loads
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...atomic import atomic_file

FOLDER = "checkpoints"
FORMAT = 1
_NAME = re.compile(r"^step-(\d+)\.pt$")


class ResumeUnusable(ValueError):
    """A run cannot be resumed; ``str()`` is one line that says why."""


def rng_states() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # NumPy's Mersenne Twister keys as a tensor: weights_only refuses ndarrays.
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "gauss": float(np_state[4])},
        "python": random.getstate(),
    }


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    n = states["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


class RunLock:
    """An exclusive ``flock`` on the run folder itself, held while a process trains in
    it: a second ``--resume`` of a run still training is refused. The kernel drops it
    when the process dies, ``kill -9`` included, so a killed run resumes at once."""

    def __init__(self, run_dir: Path):
        import fcntl

        self._fd = os.open(run_dir, os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise ResumeUnusable(f"resume: {run_dir} is being trained by another process "
                                 "right now; stop that one first") from None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = -1


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, oldest first."""
    folder = Path(run_dir) / FOLDER
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save(run_dir: Path, step: int, state: dict, keep: int) -> Path:
    folder = Path(run_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"step-{step:09d}.pt"
    with atomic_file(path) as f:
        torch.save({"format": FORMAT, **state}, f)
    for old in checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_latest(run_dir: Path) -> tuple[Path, dict]:
    """The newest checkpoint that loads; an unreadable newer one (a disk that filled
    mid-write on another machine, a copy cut short) falls back to the one before."""
    found = checkpoints(run_dir)
    if not found:
        raise ResumeUnusable(f"resume: {run_dir} has no checkpoint ({FOLDER}/step-*.pt); "
                             "runs checkpoint at each epoch end and every --ckpt-minutes")
    problems = []
    for path in reversed(found):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            problems.append(f"{path.name}: {type(e).__name__}")
            continue
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            problems.append(f"{path.name}: not a tbx-tui checkpoint of format {FORMAT}")
            continue
        return path, state
    raise ResumeUnusable(f"resume: no checkpoint in {run_dir / FOLDER} can be read "
                         f"({'; '.join(problems[:3])})")


@dataclass
class Loop:
    """Where the training loop stands between two steps: what a checkpoint saves and a
    resume restores, besides the model, the optimizer and the RNGs."""
    base_lr: float
    loss_sum: torch.Tensor   # the log interval's accumulators, on the device
    correct: torch.Tensor
    seen: int = 0
    epoch: int = 0           # 0-based: the epoch in progress (or the next one)
    batch: int = 0           # batches of ``perm`` consumed in this epoch
    step: int = 0
    perm: torch.Tensor | None = None  # this epoch's order; None: draw the next one
    metrics: dict = field(default_factory=dict)  # the last evaluation's

    def state(self) -> dict:
        return {"base_lr": self.base_lr, "loss_sum": self.loss_sum, "correct": self.correct,
                "seen": self.seen, "epoch": self.epoch, "batch": self.batch,
                "step": self.step, "perm": self.perm, "metrics": dict(self.metrics)}

    def restore(self, state: dict) -> None:
        for name in ("base_lr", "seen", "epoch", "batch", "step", "perm", "metrics"):
            setattr(self, name, state[name])
        self.loss_sum.copy_(state["loss_sum"])
        self.correct.copy_(state["correct"])
