"""The training loop: train, evaluate, checkpoint; numbers go to sinks.

Runs in the calling thread: the headless CLI calls ``run()`` in the foreground, the app on
a worker thread. Other threads talk to it only through ``RunControl`` and read it only
through ``snapshot()``. Host/device syncs happen at log time only; each is marked SYNC.
What differs between tasks (the data, the model, the loss, evaluation, the files kept) is
the task's (engine/tasks/); the loop never asks which task it runs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from ...atomic import atomic_write, describe_os_error
from ...config import RunConfig, to_toml
from ...progress import EtaRate
from ..output.sinks import RunInfo, RunResult, Sink
from ..output.structure import STRUCTURE_TAG, StructureProbe
from ..runtime import distributed
from ..runtime.control import Progress, RunControl, RunState
from ..runtime.device import amp_supported, resolve_device
from ..tasks import load_data, task_for
from ..vision.augment import make_augment
from ..vision.models import count_parameters
from . import building
from .amp_choice import amp_pays
from .checkpoint import Loop, RunLock
from .lifecycle import Lifecycle, skipped_text
from .resuming import Resuming
from .run_folder import LogdirUnusable, SpaceReserve, check_logdir, create_run_folder
from .schedule import hist_due, log_due, lr_factor


class RunInterrupted(RuntimeError):
    """Stopped before training started; no run folder exists. ``str()`` says so."""


class Trainer(Resuming, Lifecycle):
    def __init__(self, config: RunConfig, sinks: list[Sink] = (), control: RunControl | None = None,
                 data=None, resume: Path | None = None):
        """``data``: already loaded (tests, benchmarks); ``resume``: a run folder to
        continue from its newest checkpoint, in place."""
        self.world = distributed.from_env()  # torchrun's; one process without it
        # What config.toml records is the group that trained (torchrun by hand has no
        # --nproc), and the engine in one process trains as one.
        self.config = config.replace(nproc=self.world.size)
        self.sinks = list(sinks)
        self.control = control or RunControl()
        self.run_dir: Path | None = None
        self._resume_dir = Path(resume) if resume else None
        self._ckpt_step = -1     # step of the newest checkpoint written or resumed from
        self._lock: RunLock | None = None  # held on the run folder while training in it
        self._stop_agreed = False  # several processes: every rank has heard of the stop
        self._next_ckpt = 0.0    # time.monotonic() when the next timed checkpoint is due
        self._data = data
        self._state = RunState.LOADING
        # True until the run folder is about to be made: until then an interrupt may end
        # the run at once (headless.py), as nothing has been written.
        self.loading = True
        self._device = "?"
        self._started = time.perf_counter()
        self._paused_s = 0.0
        # Written by the loop, read by snapshot() from any thread; plain attributes are
        # enough (each assignment is atomic) and cost nothing per step.
        self._epoch = 1
        self._step = 0
        self._total_steps = 0
        self._rate = 0.0
        self._eta_rate = EtaRate()
        self._loss: float | None = None
        self._acc: float | None = None
        self._lr = config.lr
        self._message = ""
        self._evaluated_at = -1  # step of the last evaluation
        self._skipped_seen = 0   # undecodable images already reported
        self.task = None         # the run's task (engine/tasks/), once its data is loaded
        self._unit, self._per_sample = "samples", 1  # a language model counts tokens
        self._flops_per_unit = 0.0  # per unit over the GPU's peak: MFU, when known
        self._head_lr = None     # --head-lr's rate as scheduled, for the progress line

    # ---- reading from other threads -------------------------------------------------
    def snapshot(self) -> Progress:
        state = self._state
        if state is RunState.RUNNING and self.control.paused:
            state = RunState.PAUSED
        elapsed = self._elapsed()
        rate = self._rate
        per_step = self.config.batch_size * self._per_sample  # samples, or tokens
        if not rate and self._step and elapsed > 0:  # before the first log: the average so far
            rate = self._step * per_step / elapsed
        remaining = self._total_steps - self._step
        steady = self._eta_rate.rate or rate  # smoothed: the ETA does not jump
        eta = remaining * per_step / steady if steady > 0 else None
        return Progress(state, self._epoch, self.config.epochs, self._step, self._total_steps,
                        rate, eta, self._loss, self._acc, self._lr, self._device, elapsed,
                        self._message, self._unit, self._head_lr)

    def _elapsed(self) -> float:
        return time.perf_counter() - self._started - self._paused_s

    # ---- the run --------------------------------------------------------------------
    def run(self) -> RunResult:
        """Train to the end. DataUnavailable, DeviceUnavailable, LogdirUnusable and
        RunInterrupted propagate before any run folder is left behind; later failures
        become a FAILED result with a traceback file."""
        try:
            return self._load_and_run()
        finally:
            if self._lock is not None:  # another process may resume this run now
                self._lock.release()
                self._lock = None
            if self.world.active:
                distributed.leave()

    def _load_and_run(self) -> RunResult:
        cfg = self.config
        resume = None
        if self._resume_dir is None:
            self._resume_dir = self._restarted_run()
        if self._resume_dir is not None:  # before the data loads: a refusal answers at once
            resume = self._resume_point(self._resume_dir)
        elif self.world.main:  # before the data loads: a bad logdir answers at once.
            # Rank 0 alone: the check makes and removes missing folders, and two ranks
            # doing so at once removed the folder under each other (seen in CI).
            check_logdir(cfg.logdir)
        device = resolve_device(cfg.device)
        if self.world.active:
            device = distributed.join(self.world, device)
            if not self.world.main:  # rank 0 alone writes; the others only train
                self.sinks = []
        self._device = str(device) + (f" ×{self.world.size}" if self.world.active else "")
        notes: list[str] = []
        data = self._data or load_data(cfg, device, notes, self._resume_dir)
        data = data.to(device)
        try:
            return self._run(data, device, notes, resume)
        finally:
            data.close()  # streaming: the decoding workers stop with the run

    def _run(self, data, device: torch.device, notes: list[str],
             resume: tuple[Path, dict] | None) -> RunResult:
        cfg = self.config
        task = self.task = task_for(cfg, data)
        self._unit, self._per_sample = task.unit, task.per_sample
        model, optimizer, init = building.build(task, cfg, device, self.world, notes,
                                                resume is not None)
        self._flops_per_unit = task.flops_per_unit(model, device, self.world.size)

        spe = distributed.steps_per_epoch(data.n_train, cfg.batch_size, self.world)
        total = cfg.epochs * spe
        if cfg.max_steps:
            total = min(total, cfg.max_steps)
        self._total_steps = total
        self.loading = False  # from here a stop request is honoured by the loop
        if self.control.stop_requested:  # Ctrl+C while loading: there is nothing to keep
            raise RunInterrupted("interrupted before training started; no run folder "
                                 "was created")

        use_amp = cfg.amp and amp_supported(device)
        if use_amp:  # timed on this device and model: --amp is never slower than fp32
            use_amp, note = amp_pays(distributed.bare_model(model), task, data,
                                     cfg.batch_size, device)
            if self.world.active:  # every rank trains the same way as the first
                use_amp, note = distributed.broadcast((use_amp, note))
            notes.append(note)
        start_step = 0
        if resume is None:
            if self.world.main:
                self.run_dir = create_run_folder(
                    cfg.logdir, cfg.name or cfg.default_name(),
                    lambda run_dir: to_toml(self._as_saved(run_dir)))
                self._lock = RunLock(self.run_dir)  # new: nobody else can hold it
                self._note_for_restarts()
                task.write_files(self.run_dir)
            if self.world.active:
                self.run_dir = Path(distributed.broadcast(str(self.run_dir)))
        else:
            self.run_dir = self._resume_dir
            if self.world.main:
                atomic_write(self.run_dir / "config.toml",
                             to_toml(self._as_saved(self.run_dir)))
            path, state = resume
            start_step = state["loop"]["step"]
            loop = state["loop"]
            notes.append(f"resuming from {path.relative_to(self.run_dir)}: step "
                         f"{start_step:,}, epoch {loop['epoch'] + 1}, batch {loop['batch']:,}")
            # TensorBoard's reader prints a warning for the points the interrupted session
            # logged past the checkpoint; it is its documented purge, expected here.
            notes.append(f"points the interrupted session logged from step {start_step:,} on "
                         "are replaced: "
                         "TensorBoard's \"Detected out of order event.step … Removing N "
                         "scalars\" is expected")
        info = RunInfo(self.run_dir, cfg, self._device, use_amp, count_parameters(model),
                       data.n_train, data.n_test, spe, total,
                       tuple(notes + init.lines()), start_step, task.report)
        reserve = SpaceReserve(self.run_dir)
        try:
            try:
                for sink in self.sinks:
                    sink.open(info)
            except OSError as e:  # a full disk at the start: nothing to keep
                self._abandon(reserve)
                raise LogdirUnusable(f"logdir: {describe_os_error(e)}") from None
            self._started = time.perf_counter()
            sampler = self._start_sampler(device)
            try:
                result = self._train(model, optimizer, data, device, use_amp, spe, total,
                                     resume[1] if resume else None)
            finally:
                if sampler is not None:
                    sampler.stop()
        except KeyboardInterrupt:  # a second Ctrl+C: close what is open, then go
            self._finish(reserve, self._result(RunState.STOPPED, {}, "interrupted"))
            raise
        except LogdirUnusable:
            raise
        except (Exception, SystemExit) as e:  # shown with the path of the full traceback
            # SystemExit too: user code (a model's forward, a Dataset) that calls
            # sys.exit() mid-run fails the run; it does not end the process unrecorded.
            reserve.release()  # a full disk: room for the traceback and the end status
            result = self._failed(e)
        if result.state is RunState.STOPPED and self._step == 0:
            # Stopped before its first step: an untrained model and no curve. Keeping it
            # would list an empty run; say so instead.
            self._abandon(reserve)
            return self._result(RunState.STOPPED, {}, "stopped before the first step; "
                                "no run folder was kept")
        self._finish(reserve, result)
        if self.world.main and result.state is RunState.FINISHED:
            self._marker().unlink(missing_ok=True)  # no restart will look for it now
        return result

    def _train(self, model, optimizer, data, device, use_amp: bool, spe: int,
               total: int, resume: dict | None) -> RunResult:
        cfg, control, task = self.config, self.control, self.task
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp)
        order = torch.Generator().manual_seed(cfg.seed)
        augment = make_augment(cfg.augment, cfg.seed, device)
        # Interval accumulators stay on the device: no sync per step.
        loop = Loop(cfg.lr, torch.zeros((), device=device),
                    torch.zeros((), dtype=torch.long, device=device))
        if resume is not None:
            self._restore(resume, loop, model, optimizer, order, augment)
        lr, t_interval = None, time.perf_counter()
        # The module tree with the shapes of the first forward (hooks for one step); a
        # resumed run logged it in its first session.
        probe = StructureProbe(distributed.bare_model(model)) \
            if cfg.structure and resume is None and self.world.main else None
        self._state = RunState.RUNNING
        self._next_ckpt = time.monotonic() + cfg.ckpt_minutes * 60
        for epoch in range(loop.epoch, cfg.epochs):
            loop.epoch, self._epoch = epoch, epoch + 1
            if loop.perm is None:  # the task's order: samples, or a text's window starts
                loop.perm, loop.batch = task.order(order), 0
            model.train()
            mine = distributed.shard(loop.perm, cfg.batch_size, self.world)
            for x, y in data.epoch(mine[loop.batch * cfg.batch_size:], cfg.batch_size):
                if loop.step >= total or self._stopping(control):
                    break
                loop.batch += 1
                if not len(y):  # streaming: a batch of nothing but broken files
                    continue
                if control.paused:
                    t0 = time.perf_counter()
                    control.wait_while_paused()
                    self._paused_s += time.perf_counter() - t0
                    t_interval += time.perf_counter() - t0
                step = loop.step
                new_lr = control.take_lr()
                if new_lr is not None:  # a new base rate; the schedule keeps shaping it
                    loop.base_lr = new_lr / lr_factor(cfg, step, total, spe)
                    self._message = f"lr set to {new_lr:.3g} at step {step}"
                    self._emit("scalars", max(step - 1, 0), {"LR": new_lr})  # the mark
                want = loop.base_lr * lr_factor(cfg, step, total, spe)
                if want != lr:
                    lr = self._lr = want
                    for group in optimizer.param_groups:  # the head may have its own
                        group["lr"] = lr * group["lr_scale"]
                        if group["lr_scale"] != 1.0:
                            self._head_lr = group["lr"]

                x = task.inputs(x)
                if augment is not None:
                    x = augment(x)
                with autocast:
                    out, loss = task.forward(model, x, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n = task.count(y)  # samples, or tokens
                loop.loss_sum += loss.detach() * n
                loop.correct += task.hits(out, y)
                loop.seen += n
                step = loop.step = self._step = step + 1
                if probe is not None:
                    self._offer("text", 0, STRUCTURE_TAG, probe.close())
                    probe = None
                    self._record_graph(model, x)

                gstep = step - 1  # the tutorial's epoch * len(loader) + i
                ckpt_due = self._checkpoint_due(step)
                if log_due(step, cfg.log_every, total):
                    loss_sum, correct, seen, ckpt_due = self._interval(loop, ckpt_due)  # SYNC
                    mean_loss = loss_sum / seen
                    now = time.perf_counter()
                    self._rate = seen / max(now - t_interval, 1e-9)
                    self._eta_rate.add(self._rate, now - t_interval)
                    self._loss, self._acc = mean_loss, task.accuracy(correct, seen)
                    if not math.isfinite(mean_loss):  # what was logged before stays readable
                        return self._result(RunState.DIVERGED, {}, (
                            f"loss became {mean_loss} by step {step}; stopped. "
                            f"Try a lower --lr (was {lr:.3g})"))
                    values = {"Loss/train": mean_loss, **task.train_values(correct, seen),
                              "LR": lr, f"Throughput/{self._unit}_per_s": self._rate}
                    if self._flops_per_unit:  # a model and a GPU we know the peak of
                        values["MFU/percent"] = 100 * self._rate * self._flops_per_unit
                    if cfg.grad_flow and self.world.main:  # one more sync; grads as reduced
                        values.update(self._grad_flow(model))
                    self._emit("scalars", gstep, values)
                    loop.loss_sum.zero_()
                    loop.correct.zero_()
                    loop.seen, t_interval = 0, time.perf_counter()
                    self._report_skipped(data, gstep)
                if hist_due(step, cfg.hist_every, total):
                    self._emit("histograms", gstep, self._histograms(model))
                if ckpt_due:
                    t0 = time.perf_counter()
                    self._checkpoint(loop, model, optimizer, order, augment)
                    t_interval += time.perf_counter() - t0  # throughput counts training
            else:
                t0 = time.perf_counter()
                loop.metrics = self._evaluate(model, autocast, device)
                self._emit("epoch_end", epoch + 1, loop.step - 1, loop.metrics)
                self._record_evaluation(loop.step - 1)
                self._report_skipped(data, loop.step - 1)
                loop.epoch, loop.perm = epoch + 1, None  # the next epoch draws its order
                self._checkpoint(loop, model, optimizer, order, augment)
                t_interval += time.perf_counter() - t0  # throughput counts training only
                continue
            break  # stopped early, or max_steps reached mid-epoch

        step, metrics = loop.step, loop.metrics
        if step == 0:  # stopped before the first step: nothing to evaluate or keep
            return self._result(RunState.STOPPED, {}, "stopped")
        if self._ckpt_step != step:  # a stop, a quit, max_steps: resumable from here
            self._checkpoint(loop, model, optimizer, order, augment)
        if control.aborted:  # quitting: keep the weights, skip the evaluation
            self._save(model)
            return self._result(RunState.STOPPED, metrics, "aborted")
        if not metrics or self._evaluated_at != step:
            metrics = self._evaluate(model, autocast, device)
            self._emit("epoch_end", self._epoch, step - 1, metrics)
            self._record_evaluation(step - 1)
            self._report_skipped(data, step - 1)
        self._save(model)
        if control.end_state is not None:  # a sweep's pruner: the state it asked for
            return self._result(control.end_state, metrics, control.end_message)
        state = RunState.STOPPED if control.stop_requested and step < total else RunState.FINISHED
        return self._result(state, metrics, skipped_text(data))

    @torch.no_grad()
    def _evaluate(self, model, autocast, device) -> dict[str, float]:
        self._state = RunState.EVALUATING
        metrics = self.task.evaluate(self, model, autocast, device)
        self._evaluated_at = self._step
        self._state = RunState.RUNNING
        return metrics

    def _save(self, model) -> None:
        if self.world.main:
            self.task.save(model, self.run_dir)
