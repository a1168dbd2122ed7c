"""One trial: an ordinary run (config.toml, event files, checkpoints, model.pt) in the
sweep folder, trained by the engine's Trainer with the trial's settings. Each evaluation
reports the objective to Optuna, whose pruner may end the run as *pruned*; a trial
retried after its process died continues the dead trial's run folder from its newest
checkpoint (the same exact resume as ``--resume``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..config import build
from ..engine.output.sinks import NullSink
from .definition import Sweep, SweepError
from .space import Choice, Param
from .study import retried_from


class ObjectiveMissing(SweepError):
    pass


class PruningSink(NullSink):
    """A sink (engine/output/sinks.py) that hands each evaluation to the trial."""

    def __init__(self, trial, sweep: Sweep, control):
        self.trial, self.sweep, self.control = trial, sweep, control
        self.missing: list[str] | None = None  # what the first evaluation logged instead

    def epoch_end(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        from ..engine import RunState

        tag = self.sweep.objective.pick(metrics)
        if tag is None:  # the definition names a metric this run never logs
            self.missing = sorted(metrics)
            self.control.abort()
            return
        value = metrics[tag]
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.control.end_as(RunState.PRUNED, f"at step {step:,}, {tag} {value:.6g}")


def suggest(trial, p: Param):
    if isinstance(p, Choice):
        return trial.suggest_categorical(p.name, list(p.values))
    if p.integer:
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


def run(trial, study, sweep: Sweep, folder: Path, started=lambda trainer, trial: None):
    """Train the trial; (state word, objective value or None, run folder, message).
    ``started(trainer, trial)``: for a live line of the trial's progress."""
    from ..engine import RunControl, RunState, TensorBoardSink, Trainer
    from ..engine.run.checkpoint import checkpoints

    params = {p.name: suggest(trial, p) for p in sweep.params}
    resume = None
    origin = retried_from(study, trial)
    if origin is not None:  # a retry: the dead trial's folder, if it saved a checkpoint
        earlier = study.get_trials(deepcopy=False)[origin].user_attrs.get("run_dir")
        if earlier and Path(earlier).is_dir() and checkpoints(Path(earlier)):
            resume = Path(earlier)
    config = build(None, {**sweep.fixed, **params, "logdir": str(folder),
                          "name": f"trial-{trial.number:04d}"})
    # Said before training: if this process dies, its retry finds the folder to continue.
    planned = resume if resume is not None else folder / config.name
    trial.set_user_attr("run_dir", str(planned.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    if resume is not None:
        trial.set_user_attr("resumed", True)
    control = RunControl()
    pruning = PruningSink(trial, sweep, control)
    trainer = Trainer(config, [TensorBoardSink(), pruning], control, resume=resume)
    started(trainer, trial)
    result = trainer.run()
    trial.set_user_attr("train_s", round(result.elapsed_s, 3))  # the trial's own training
    if result.run_dir is not None:  # absolute: the study outlives the working folder
        trial.set_user_attr("run_dir", str(Path(result.run_dir).resolve()))
    if pruning.missing is not None:
        raise ObjectiveMissing(
            f"objective: {sweep.objective.text()} is not what a trial logs at its "
            f"evaluations ({', '.join(pruning.missing)}); give --objective one of those")
    if result.state is RunState.PRUNED:
        return "pruned", None, result.run_dir, result.message
    tag = sweep.objective.pick(result.metrics)
    if result.state is not RunState.FINISHED or tag is None:
        return result.state.value, None, result.run_dir, result.message
    return "finished", result.metrics[tag], result.run_dir, ""
