"""The training loop: train, evaluate, checkpoint; numbers go to sinks.

Runs in the calling thread: the headless CLI calls ``run()`` in the foreground, the app on
a worker thread. Other threads talk to it only through ``RunControl`` and read it only
through ``snapshot()``. Host/device syncs happen at log time only; each is marked SYNC.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from ..atomic import atomic_file, atomic_write, describe_os_error
from ..config import RunConfig, to_toml
from .control import Progress, RunControl, RunState
from . import distributed
from .augment import make_augment
from .checkpoint import Loop, RunLock
from .data import TensorData, load_dataset, normalize
from .streaming import DataPath, StreamingData
from .histograms import summarize
from .run_folder import LogdirUnusable, SpaceReserve, check_logdir, create_run_folder
from .finetune import InitUnusable, freeze, load_initial, param_groups
from .models import build_model, count_parameters
from .resuming import Resuming, bare_model
from .sinks import RunInfo, RunResult, Sink

EVAL_BATCH = 1000  # samples per evaluation batch; evaluation keeps no graph


class DeviceUnavailable(ValueError):
    """The requested device is not present; ``str()`` is the one-line message."""


class RunInterrupted(RuntimeError):
    """Stopped before training started; no run folder exists. ``str()`` says so."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("device: cuda was asked for but torch sees no CUDA GPU "
                                f"(torch {torch.__version__}); use --device auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable("device: mps was asked for but is not available here; "
                                "use --device auto or cpu")
    return torch.device(name)


def amp_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


def lr_factor(config: RunConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))
    if config.lr_schedule == "step":
        return config.lr_gamma ** ((step // steps_per_epoch) // config.lr_step_epochs)
    return 1.0


def make_optimizer(config: RunConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def classification_metrics(confusion: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro precision/recall from a confusion matrix (rows = truth).
    As scikit-learn: classes never seen nor predicted are left out; 0/0 counts as 0."""
    cm = confusion.double()
    tp = cm.diag()
    truth, predicted = cm.sum(1), cm.sum(0)
    present = (truth + predicted) > 0
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)[present]
    recall = torch.where(truth > 0, tp / truth.clamp(min=1), 0.0)[present]
    return {
        "Accuracy/test": float(tp.sum() / cm.sum().clamp(min=1)),
        "Precision/test": float(precision.mean()),
        "Recall/test": float(recall.mean()),
    }


def log_due(step: int, log_every: int, total: int) -> bool:
    """Scalars are logged every ``log_every`` steps and at the last one, and early, at
    steps 1, 2, 4, 8, … below ``log_every``: a run shows its first point after one step,
    whatever ``--log-every`` says, for log2(log_every) extra syncs in all. Deterministic
    (by step, not by clock), so a resumed run logs the same steps."""
    return step % log_every == 0 or step == total or (step < log_every and
                                                      step & (step - 1) == 0)


class Trainer(Resuming):
    def __init__(self, config: RunConfig, sinks: list[Sink] = (), control: RunControl | None = None,
                 data: TensorData | StreamingData | None = None, resume: Path | None = None):
        """``resume``: a run folder to continue from its newest checkpoint, in place."""
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
        self._loss: float | None = None
        self._acc: float | None = None
        self._lr = config.lr
        self._message = ""
        self._evaluated_at = -1  # step of the last evaluation
        self._skipped_seen = 0   # undecodable images already reported
        self._unit, self._per_sample = "samples", 1  # a language model counts tokens
        self._flops_per_token = 0.0  # per token over the GPU's peak: MFU, when known

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
        eta = remaining * per_step / rate if rate > 0 else None
        return Progress(state, self._epoch, self.config.epochs, self._step, self._total_steps,
                        rate, eta, self._loss, self._acc, self._lr, self._device, elapsed,
                        self._message, self._unit)

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
        if cfg.is_lm:
            from .text import Tokenizer, load_text

            if cfg.is_hf:  # the model's own tokenizer and context limit
                from . import hf

                tokenizer = Tokenizer("hf", hf=hf.load_tokenizer(cfg.model))
                context = hf.context_for(cfg.model, cfg.context)
            else:
                tokenizer, context = cfg.text_tokenizer, cfg.gpt_shape()[3]
            data = self._data or load_text(cfg.data, cfg.data_dir, tokenizer, context,
                                           cfg.batch_size, notes, self._base_tokenizer())
        else:
            path = DataPath.for_run(cfg.data_memory, cfg.workers, device)
            data = self._data or load_dataset(cfg.data, cfg.data_dir, cfg.seed,
                                              cfg.image_size, cfg.val_fraction, notes, path)
        data = data.to(device)
        try:
            return self._run(data, device, notes, resume)
        finally:
            data.close()  # streaming: the decoding workers stop with the run

    def _base_tokenizer(self):
        """The tokenizer whose ids the weights we start from were trained on: the resumed
        run's, or the --init-from run's (refused when it is another kind)."""
        from .text import Tokenizer

        cfg = self.config
        src = self._resume_dir or (Path(cfg.init_from).expanduser() if cfg.init_from else None)
        if src is None or cfg.is_hf:  # hf: its tokenizer comes with the model
            return None
        folder = src if src.is_dir() else \
            src.parent.parent if src.parent.name == "checkpoints" else src.parent
        if not (folder / "tokenizer.json").is_file():
            raise InitUnusable(f"init_from: {folder} has no tokenizer.json: a language "
                               "model's weights need the tokenizer they were trained with")
        tok = Tokenizer.load(folder)
        if tok.kind != cfg.text_tokenizer:
            raise InitUnusable(f"init_from: {folder} was trained with the {tok.kind} "
                               f"tokenizer, this run asks for {cfg.text_tokenizer}; use "
                               f"--tokenizer {tok.kind}")
        return tok

    def _run(self, data, device: torch.device, notes: list[str],
             resume: tuple[Path, dict] | None) -> RunResult:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        if cfg.is_lm:
            if cfg.is_hf:
                from .hf import load_model

                model = load_model(cfg.model, data.context, data.num_classes)
            else:
                from .gpt import GPT, shape_for

                model = GPT(shape_for(cfg, data.num_classes))
            self._unit, self._per_sample = "tokens", data.context
            from .lm_eval import peak_flops

            peak = peak_flops(device)
            if peak:  # the group's tokens/s over the group's peak
                self._flops_per_token = model.flops_per_token() / (peak * self.world.size)
        else:
            model = build_model(cfg.model, data.in_shape, data.num_classes)
        # Resumed: the weights come from the checkpoint, not from --init-from.
        init = load_initial(model, "" if resume else cfg.init_from, cfg.model)
        if cfg.freeze:
            freeze(model, cfg.freeze, init)
        if cfg.is_lm and cfg.lora_rank:  # after the base weights are in: they stay as loaded
            from .lora import apply_lora

            if cfg.is_hf:
                from .hf import apply_peft_lora

                wrapped = apply_peft_lora(model, cfg.lora_rank, cfg.lora_alpha,
                                          cfg.lora_targets)
                kept = "hf/ will hold the merged weights, adapter/ the peft adapter alone"
            else:
                try:
                    wrapped = apply_lora(model, cfg.lora_rank, cfg.lora_alpha,
                                         cfg.lora_targets)
                except ValueError as e:  # "lora_targets: … matches no linear layer": exit 2
                    raise InitUnusable(str(e)) from None
                kept = "model.pt will hold the merged weights, adapter.pt the adapter alone"
            init.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            init.frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
            notes.append(f"LoRA rank {cfg.lora_rank}, alpha {cfg.lora_alpha:g} on "
                         f"{len(wrapped)} layers ({', '.join(wrapped[:3])}…); {kept}")
        model = model.to(device)
        # Before the run folder exists: torch's first optimizer imports torch._dynamo
        # (~4 s here with torch 2.14), which would otherwise sit between the run's start
        # and its first point.
        optimizer = make_optimizer(cfg, param_groups(model, cfg.lr, cfg.head_lr))
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels
        if cfg.compile and device.type == "cuda":  # compiled, then wrapped: names unprefixed
            model = torch.compile(model)
        elif cfg.compile:  # inductor's CPU code needs a C++ toolchain, and gains little
            notes.append(f"--compile: on CUDA only; training uncompiled on {device.type}")
        if self.world.active:  # gradients averaged over the ranks in backward()
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)

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
        start_step = 0
        if resume is None:
            if self.world.main:
                self.run_dir = create_run_folder(
                    cfg.logdir, cfg.name or cfg.default_name(),
                    lambda run_dir: to_toml(self._as_saved(run_dir)))
                self._lock = RunLock(self.run_dir)  # new: nobody else can hold it
                self._note_for_restarts()
                if cfg.is_lm:  # for `tbx-tui sample` and runs fine-tuned from this one
                    atomic_write(self.run_dir / "tokenizer.json", data.tokenizer.to_json())
                    if cfg.is_hf:  # its files, in the folder the weights will join
                        from .hf import save_tokenizer

                        save_tokenizer(data.tokenizer.hf, self.run_dir)
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
        info = RunInfo(self.run_dir, cfg, self._device, use_amp, count_parameters(model),
                       data.n_train, data.n_test, spe, total,
                       tuple(notes + init.lines()), start_step)
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

    def _start_sampler(self, device: torch.device):
        """sys/ scalars every --sys-every seconds into the sinks that take them."""
        if not self.config.sys_every:
            return None
        from .system import SystemSampler

        def emit(step: int, values: dict[str, float]) -> None:
            for sink in self.sinks:
                if hasattr(sink, "system"):
                    sink.system(step, values)

        return SystemSampler(self.config.sys_every, lambda: max(self._step - 1, 0), emit,
                             cuda=device.type == "cuda").start()

    def _abandon(self, reserve: SpaceReserve) -> None:
        """Nothing worth keeping: close the sinks without an end record, remove the folder
        (never a resumed one: what it held before is the user's)."""
        self._finish(reserve, None)
        if self._resume_dir is None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir = None

    def _finish(self, reserve: SpaceReserve, result: RunResult | None) -> None:
        """Give the reserved space back, then close every sink, opened or not, so each can
        record the end (the console prints a failure even when the event file could not
        be opened). ``result`` None: the run was abandoned, there is no end to record."""
        reserve.release()
        for sink in self.sinks:
            try:
                sink.close(result)
            except Exception:  # one broken sink must not hide others
                pass

    def _failed(self, e: BaseException) -> RunResult:
        message = describe_os_error(e) if isinstance(e, OSError) else \
            f"user code called sys.exit({e.code!r})" if isinstance(e, SystemExit) else \
            f"{type(e).__name__}: {e}"
        log = self.run_dir / "error.log"
        try:
            atomic_write(log, traceback.format_exc())
        except OSError as write_error:
            return self._result(RunState.FAILED, {}, f"{message} (the traceback could not "
                                f"be saved either: {write_error.strerror})")
        return self._result(RunState.FAILED, {}, message, log)

    def _result(self, state: RunState, metrics: dict, message: str = "",
                error_log: Path | None = None) -> RunResult:
        self._state, self._message = state, message
        return RunResult(self.run_dir, state, self._step, metrics, self._elapsed(), message,
                         error_log)

    def _emit(self, method: str, *args) -> None:
        for sink in self.sinks:
            getattr(sink, method)(*args)

    def _train(self, model, optimizer, data, device, use_amp: bool, spe: int,
               total: int, resume: dict | None) -> RunResult:
        cfg, control = self.config, self.control
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp)
        order = torch.Generator().manual_seed(cfg.seed)
        augment = make_augment(cfg.augment, cfg.seed, device)
        # Interval accumulators stay on the device: no sync per step.
        loop = Loop(cfg.lr, torch.zeros((), device=device),
                    torch.zeros((), dtype=torch.long, device=device))
        if resume is not None:
            self._restore(resume, loop, model, optimizer, order, augment)
        lr, t_interval = None, time.perf_counter()
        self._state = RunState.RUNNING
        self._next_ckpt = time.monotonic() + cfg.ckpt_minutes * 60
        for epoch in range(loop.epoch, cfg.epochs):
            loop.epoch, self._epoch = epoch, epoch + 1
            if loop.perm is None:  # a language model's order: window starts (text.py)
                draw = getattr(data, "draw_order", None)
                loop.perm = draw(order) if draw else torch.randperm(data.n_train,
                                                                    generator=order)
                loop.batch = 0
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

                x = normalize(x)
                if augment is not None:
                    x = augment(x)
                with autocast:
                    logits = model(x)  # (B, classes), or a language model's (B, T, vocab)
                    loss = F.cross_entropy(logits.flatten(0, -2), y.flatten())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                n = y.numel()  # samples, or tokens
                loop.loss_sum += loss.detach() * n
                loop.correct += (logits.detach().argmax(-1) == y).sum()
                loop.seen += n
                step = loop.step = self._step = step + 1

                gstep = step - 1  # the tutorial's epoch * len(loader) + i
                ckpt_due = self._checkpoint_due(step)
                if log_due(step, cfg.log_every, total):
                    loss_sum, correct, seen, ckpt_due = self._interval(loop, ckpt_due)  # SYNC
                    mean_loss = loss_sum / seen
                    now = time.perf_counter()
                    self._rate = seen / max(now - t_interval, 1e-9)
                    self._loss, self._acc = mean_loss, correct / seen
                    if not math.isfinite(mean_loss):  # what was logged before stays readable
                        return self._result(RunState.DIVERGED, {}, (
                            f"loss became {mean_loss} by step {step}; stopped. "
                            f"Try a lower --lr (was {lr:.3g})"))
                    values = {"Loss/train": mean_loss, "Accuracy/train": self._acc, "LR": lr,
                              f"Throughput/{self._unit}_per_s": self._rate}
                    if self._flops_per_token:  # a language model on a GPU we know
                        values["MFU/percent"] = 100 * self._rate * self._flops_per_token
                    self._emit("scalars", gstep, values)
                    loop.loss_sum.zero_()
                    loop.correct.zero_()
                    loop.seen, t_interval = 0, time.perf_counter()
                    self._report_skipped(data, gstep)
                if cfg.hist_every and step % cfg.hist_every == 0:
                    self._emit("histograms", gstep, self._histograms(model))
                if ckpt_due:
                    t0 = time.perf_counter()
                    self._checkpoint(loop, model, optimizer, order, augment)
                    t_interval += time.perf_counter() - t0  # throughput counts training
            else:
                t0 = time.perf_counter()
                loop.metrics = self._evaluate(model, data, autocast, device)
                self._emit("epoch_end", epoch + 1, loop.step - 1, loop.metrics)
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
            metrics = self._evaluate(model, data, autocast, device)
            self._emit("epoch_end", self._epoch, step - 1, metrics)
            self._report_skipped(data, step - 1)
        self._save(model)
        state = RunState.STOPPED if control.stop_requested and step < total else RunState.FINISHED
        return self._result(state, metrics, self._skipped_text(data))

    # ---- checkpoints ------------------------------------------------------------------
    def _report_skipped(self, data, gstep: int) -> None:
        """Images the streaming workers could not decode: counted in a scalar, and said
        once per new batch of them, never fatal."""
        n = len(data.skipped)
        if n != self._skipped_seen:
            self._skipped_seen = n
            self._emit("scalars", gstep, {"Data/skipped_images": n})
            self._say(self._skipped_text(data))

    def _say(self, text: str) -> None:
        """A line for the user, mid-run: the app's status (the snapshot's message) and
        the console, the sinks that print."""
        self._message = text
        for sink in self.sinks:
            if hasattr(sink, "message"):
                sink.message(text)

    @staticmethod
    def _skipped_text(data) -> str:
        if not data.skipped:
            return ""
        return (f"skipped {len(data.skipped)} image(s) that could not be decoded (first: "
                f"{data.skipped[0]})")

    def _save(self, model) -> None:
        if not self.world.main:
            return
        bare = bare_model(model)
        from .lora import adapter_state, has_lora, merged_state

        if self.config.is_hf:  # a save_pretrained folder, not model.pt (hf.py)
            from .hf import save

            save(bare, self.run_dir)
            return
        if has_lora(bare):  # merged: loads as a plain gpt; the adapter beside it
            cfg = self.config
            with atomic_file(self.run_dir / "adapter.pt") as f:
                torch.save(adapter_state(bare, cfg.lora_rank, cfg.lora_alpha,
                                         cfg.lora_targets), f)
            state = merged_state(bare)
        else:
            state = bare.state_dict()
        with atomic_file(self.run_dir / "model.pt") as f:  # never a truncated model.pt
            torch.save(state, f)

    def _histograms(self, model) -> dict:
        tensors = {}
        if not self.world.main:  # nobody would write them
            return tensors
        bare = bare_model(model)
        own_name = getattr(bare, "own_name", str)  # hf: the library's names, unwrapped
        for name, p in bare.named_parameters():
            name = own_name(name)
            tensors[f"weights/{name}"] = p
            if p.grad is not None:
                tensors[f"grads/{name}"] = p.grad
        return summarize(tensors)  # SYNC: two, for all tensors together

    @torch.no_grad()
    def _evaluate(self, model, data, autocast, device) -> dict[str, float]:
        if getattr(data, "kind", "") == "text":
            from .lm_eval import evaluate_text

            self._state = RunState.EVALUATING
            metrics = evaluate_text(self, model, data, autocast, device)
            self._evaluated_at = self._step
            self._state = RunState.RUNNING
            return metrics
        self._state = RunState.EVALUATING
        model.eval()
        c = data.num_classes
        confusion = torch.zeros(c * c, dtype=torch.long, device=device)
        loss_sum = torch.zeros((), device=device)
        for x, y in data.test_batches(EVAL_BATCH, self.world.rank, self.world.size):
            if self.control.aborted:
                break
            if not len(y):  # streaming: nothing in it could be decoded
                continue
            with autocast:
                logits = model(normalize(x))
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            confusion += torch.bincount(y * c + logits.argmax(1), minlength=c * c)
        if self.world.active:  # each rank evaluated its share
            distributed.sum_(confusion)
            distributed.sum_(loss_sum)
        cm = confusion.view(c, c).cpu()  # SYNC
        # Counted from the confusion matrix: streamed data may leave broken images out.
        metrics = {"Loss/test": loss_sum.item() / max(int(cm.sum()), 1)}  # SYNC
        metrics.update(classification_metrics(cm))
        self._evaluated_at = self._step
        self._state = RunState.RUNNING
        return metrics

