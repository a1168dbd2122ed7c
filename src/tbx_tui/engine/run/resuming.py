"""Checkpoints and resumes, and what several processes must agree on: the parts of the
Trainer (engine/run/trainer.py) that make a run survive a kill and span torchrun's ranks.

A mixin: it reads the Trainer's ``config``, ``world``, ``control``, ``run_dir``,
``sinks`` and progress fields; kept apart so the loop in ``trainer.py`` still reads top
to bottom.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from ...atomic import atomic_write, describe_os_error
from ...config import RESUMABLE, RunConfig
from ...refs import canonical as canonical_model, canonical_data
from ..runtime import distributed
from ..runtime.distributed import bare_model
from .checkpoint import (Loop, ResumeUnusable, RunLock, checkpoints, load_latest,
                         rng_states, set_rng_states)
from .checkpoint import save as save_checkpoint
from ..runtime.control import RunControl


class Resuming:
    def _marker(self) -> Path:
        return Path(self.config.logdir) / \
            f".tbx-torchrun-{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}"

    def _note_for_restarts(self) -> None:
        """Under torchrun with --max-restarts, rank 0 notes the run folder in the logdir,
        so that a restarted group finds the run to continue."""
        if int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0") or 0) > 0:
            atomic_write(self._marker(), self.run_dir.name)

    def _restarted_run(self) -> Path | None:
        """The run a restarted torchrun group continues: the one its first attempt noted,
        if it saved a checkpoint (if not, the group starts again in a new folder)."""
        if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) == 0:
            return None
        try:
            run = Path(self.config.logdir) / self._marker().read_text().strip()
        except OSError:
            return None
        return run if checkpoints(run) else None

    def _as_saved(self, run_dir: Path) -> RunConfig:
        """The config as the run folder keeps it: references absolute, the folder's name."""
        cfg = self.config
        return cfg.replace(name=run_dir.name, model=canonical_model(cfg.model),
                           data=canonical_data(cfg.data))

    def _resume_point(self, run_dir: Path) -> tuple[Path, dict]:
        """The newest readable checkpoint, refused (ResumeUnusable) when this config
        differs from the one it was trained with in a field --resume may not change."""
        if self.world.main:
            self._lock = RunLock(run_dir)  # not while another process trains in it
        path, state = load_latest(run_dir)
        if len(state["ranks"]) != self.world.size:
            raise ResumeUnusable(f"resume: {run_dir} was trained by {len(state['ranks'])} "
                                 f"process(es), this is {self.world.size}; an exact "
                                 "continuation needs the same number (--nproc)")
        saved = state["config"]
        mine = self._as_saved(run_dir).to_dict()
        for name, value in mine.items():
            if name in RESUMABLE or name in ("name", "logdir") or name not in saved:
                continue
            if saved[name] != value:
                raise ResumeUnusable(
                    f"{name}: cannot change on --resume (the run was trained with "
                    f"{saved[name]!r}, got {value!r}); these may change: "
                    f"{', '.join(RESUMABLE)}")
        return path, state

    def _checkpoint_due(self, step: int) -> bool:
        """Every rank must agree: by step here; by the clock, rank 0's clock, agreed at
        log time (``_interval``)."""
        cfg = self.config
        if cfg.ckpt_every and step % cfg.ckpt_every == 0:
            return True
        return not self.world.active and self._timed_checkpoint()

    def _timed_checkpoint(self) -> bool:
        return bool(self.config.ckpt_minutes) and time.monotonic() >= self._next_ckpt

    def _stopping(self, control: RunControl) -> bool:
        """A stop is asked of one process (its signal, its key) but taken by all at once:
        with several, at the log time after it (``_interval``)."""
        return self._stop_agreed if self.world.active else control.stop_requested

    def _interval(self, loop: Loop, ckpt_due: bool) -> tuple[float, int, int, bool]:
        """The log interval's loss sum, correct count and samples, over every rank, and
        whether a stop or a timed checkpoint is due anywhere. SYNC: one per interval."""
        if not self.world.active:
            return loop.loss_sum.item(), loop.correct.item(), loop.seen, ckpt_due
        totals = torch.stack([loop.loss_sum.double(), loop.correct.double(),
                              loop.loss_sum.new_tensor(loop.seen, dtype=torch.float64),
                              loop.loss_sum.new_tensor(float(self.world.main and
                                                             self._timed_checkpoint()),
                                                       dtype=torch.float64),
                              loop.loss_sum.new_tensor(float(self.control.stop_requested),
                                                       dtype=torch.float64)])
        loss_sum, correct, seen, ckpt, stop = distributed.sum_(totals).tolist()
        self._stop_agreed = self._stop_agreed or stop > 0
        return loss_sum, int(correct), int(seen), ckpt_due or ckpt > 0

    def _checkpoint(self, loop: Loop, model, optimizer, order, augment) -> None:
        """Everything an exact continuation needs (engine/run/checkpoint.py). The model and
        optimizer tensors are saved as they are (on the device): torch.save copies them."""
        mine = {"rng": rng_states(), "loss_sum": loop.loss_sum.cpu(),
                "correct": loop.correct.cpu(), "seen": loop.seen}
        if self.world.active:  # each rank's RNGs and accumulators, saved by rank 0
            ranks = distributed.gather(mine)
            if not self.world.main:
                self._ckpt_step = loop.step
                return
        else:
            ranks = [mine]
        state = {"loop": loop.state(), "model": bare_model(model).state_dict(),
                 "optimizer": optimizer.state_dict(), "ranks": ranks,
                 "order_rng": order.get_state(),
                 "augment_rng": augment.generator.get_state() if augment else None,
                 "evaluated_at": self._evaluated_at, "skipped_seen": self._skipped_seen,
                 "elapsed": self._elapsed(),
                 "config": self._as_saved(self.run_dir).to_dict()}
        self._next_ckpt = time.monotonic() + self.config.ckpt_minutes * 60
        # Marked as taken even if the save fails: every rank must keep the same count of
        # checkpoint calls (each gathers from all), and a full disk is not retried.
        self._ckpt_step = loop.step
        try:
            save_checkpoint(self.run_dir, loop.step, state, self.config.keep_ckpts)
        except OSError as e:  # a full disk: the run goes on; the older checkpoints stay
            self._say(f"checkpoint at step {loop.step:,} not saved: " +
                      describe_os_error(e))

    def _restore(self, state: dict, loop: Loop, model, optimizer, order, augment) -> None:
        bare_model(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loop.restore(state["loop"])
        mine = state["ranks"][self.world.rank]  # this rank's own RNGs and accumulators
        state = {**state, "rng": mine["rng"]}
        loop.loss_sum.copy_(mine["loss_sum"])
        loop.correct.copy_(mine["correct"])
        loop.seen = mine["seen"]
        order.set_state(state["order_rng"])
        if augment is not None and state["augment_rng"] is not None:
            augment.generator.set_state(state["augment_rng"])
        set_rng_states(state["rng"])
        self._evaluated_at, self._skipped_seen = state["evaluated_at"], state["skipped_seen"]
        self._step = self._ckpt_step = loop.step
        self._started = time.perf_counter() - state["elapsed"]
