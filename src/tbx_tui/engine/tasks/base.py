"""The task seam: what a family of runs does differently — the data it reads, the model a
reference builds, the loss, what is counted while training, evaluation and its metrics,
the files a finished run keeps. The loop (engine/run/trainer.py) calls these and never
asks which task it runs. A new task subclasses ``Task`` and joins ``tasks.TASKS``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...atomic import atomic_file
from ...reports import Report
from ..runtime.distributed import bare_model


class Task:
    report: Report           # its metrics in words, for every view (tbx_tui/reports.py)
    unit = "samples"         # what throughput counts
    details = None           # what the last evaluation found beyond its metrics, for the
                             # sinks that record it (classification: a ClassEvaluation)

    def __init__(self, config, data):
        self.config, self.data = config, data

    # ---- which task a run is ---------------------------------------------------------
    @staticmethod
    def reads(config) -> bool:
        """Whether this task's own loader reads the config's data (``load``)."""
        return False

    @staticmethod
    def claims(config, data) -> bool:
        """Whether a run of this config, on this loaded data, is this task."""
        raise NotImplementedError

    @classmethod
    def load(cls, config, device: torch.device, notes: list[str], resume_dir: Path | None):
        raise NotImplementedError

    # ---- before the first step -------------------------------------------------------
    @property
    def per_sample(self) -> int:
        """Units (``unit``) in one sample: a language model's window of tokens."""
        return 1

    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def adapt(self, model, init, notes: list[str]) -> None:
        """After the starting weights are in: what the task adds on top (LoRA)."""

    def flops_per_unit(self, model, device: torch.device, world_size: int) -> float:
        """Model FLOPs per unit over the group's peak FLOP/s, for MFU; 0: not known."""
        return 0.0

    def write_files(self, run_dir: Path) -> None:
        """Files the new run folder needs beside config.toml from the start."""

    # ---- the loop ------------------------------------------------------------------
    def order(self, generator: torch.Generator) -> torch.Tensor:
        """This epoch's order of training samples."""
        return torch.randperm(self.data.n_train, generator=generator)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch as the model takes it (before augmentation)."""
        return x

    def forward(self, model, x: torch.Tensor, y: torch.Tensor):
        """(output, mean loss) of one batch, under the loop's autocast."""
        raise NotImplementedError

    def count(self, y: torch.Tensor) -> int:
        """Units in a batch's targets: samples, or tokens."""
        return y.numel()

    def hits(self, out: torch.Tensor, y: torch.Tensor):
        """Correct predictions in a batch, summed on the device (no sync)."""
        return (out.detach().argmax(-1) == y).sum()

    def accuracy(self, hits: int, seen: int) -> float | None:
        return hits / seen

    def train_values(self, hits: int, seen: int) -> dict[str, float]:
        """The scalars logged beside Loss/train at each log interval."""
        return {"Accuracy/train": hits / seen}

    # ---- evaluation and the end -------------------------------------------------------
    def evaluate(self, run, model, autocast, device: torch.device) -> dict[str, float]:
        """The report's metrics over the held-out data, summed over ``run.world``'s ranks;
        ``run.control.aborted`` cuts it short."""
        raise NotImplementedError

    def save(self, model, run_dir: Path) -> None:
        """The trained weights, written whole or not at all."""
        with atomic_file(run_dir / "model.pt") as f:  # never a truncated model.pt
            torch.save(bare_model(model).state_dict(), f)
