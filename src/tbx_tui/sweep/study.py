"""The sweep's Optuna study: its storage (a journal file in the sweep folder, or a
PostgreSQL database for several machines), its sampler and pruner, and the recovery of
trials whose process died.

Optuna's journal storage has no heartbeat, so a trial killed with its process would stay
RUNNING for ever (optuna#913, #3215). Here each trial's process holds an ``flock`` on the
trial's lock file for as long as it runs; the kernel drops it when the process dies, so a
RUNNING trial whose lock can be taken is dead *now*, with no grace period to wait out.
It is marked failed and Optuna's RetryHeartbeatStaleTrialCallback enqueues it again, with its
parameters; the retry continues the dead trial's run folder from its newest checkpoint
(trial.py). With PostgreSQL, Optuna's own heartbeat and the same callback do this.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import warnings
from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from .definition import Sweep, SweepError
from .space import Choice

JOURNAL = "optuna.journal"
LOCKS = ".locks"
HEARTBEAT_S, GRACE_S = 20, 60
MAX_RETRY = 3  # a trial whose process dies this often is left failed
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
SURPLUS = "tbx_surplus"  # a trial closed unrun: it would have repeated a grid combination


def storage_for(folder: Path, url: str):
    if not url:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        # Absolute: Optuna's write lock is a symlink to this path, and a relative one
        # resolves from the lock's own folder. That link dangles, Optuna's wait for a lock
        # held by a killed writer then never ends (its stat fails, it retries at once: a
        # resumed sweep spun at 100% CPU for good), and the 30 s grace never starts.
        journal = (folder / JOURNAL).absolute()
        mend(journal)
        return JournalStorage(JournalFileBackend(str(journal)))
    if url.startswith("sqlite"):
        raise SweepError("storage: SQLite is not made for trials written at once from "
                         "several processes (Optuna's FAQ); leave --storage out for a journal "
                         "file in the sweep folder, or give postgresql://…")
    if not url.startswith(("postgresql://", "postgresql+")):
        raise SweepError(f"storage: {url!r}: give postgresql://USER@HOST/DB, or leave it out")
    from optuna.storages import RDBStorage

    try:
        with warnings.catch_warnings():  # heartbeat_interval: "experimental" since v2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                              heartbeat_stale_trial_callback=retry_callback(),
                              engine_kwargs={"pool_pre_ping": True,
                                             "connect_args": {"connect_timeout": 10}})
    except Exception as e:  # unreachable, refused, no driver, bad password
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SweepError(f"storage: cannot open {_safe(url)}: {first}") from None


def mend(journal: Path) -> None:
    """A record cut off by a kill mid-write (no newline at its end) is skipped by Optuna's
    reader, but the next record appended is glued to it, and from then on every reader
    fails on that line. The torn record was never acknowledged: it is cut off, under
    Optuna's own write lock (a writer that died holding it is waited out, 30 s)."""
    from optuna.storages.journal._file import JournalFileSymlinkLock, get_lock_file

    if not journal.is_file() or journal.stat().st_size == 0:
        return
    with get_lock_file(JournalFileSymlinkLock(str(journal))), open(journal, "rb+") as f:
        end = f.seek(0, os.SEEK_END)
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        pos = end
        while pos > 0:
            start = max(0, pos - 65536)
            f.seek(start)
            cut = f.read(pos - start).rfind(b"\n")
            if cut >= 0:
                f.truncate(start + cut + 1)
                return
            pos = start
        f.truncate(0)


def _safe(url: str) -> str:
    """The URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user = head.partition("//")
    return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"


def sampler_for(sweep: Sweep):
    if sweep.kind == "grid":
        space = {p.name: list(p.values) for p in sweep.params if isinstance(p, Choice)}
        return optuna.samplers.GridSampler(space, seed=sweep.seed)
    if sweep.kind == "random":
        return optuna.samplers.RandomSampler(seed=sweep.seed)
    return optuna.samplers.TPESampler(seed=sweep.seed)


def pruner_for(sweep: Sweep):
    if sweep.pruner == "median":  # after 3 trials have reported, from the first evaluation
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if sweep.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(name: str, sweep: Sweep, storage) -> optuna.Study:
    """The study, created with the definition in its attributes, or loaded."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler_for(sweep),
                                pruner=pruner_for(sweep), load_if_exists=True,
                                direction=sweep.objective.direction)
    if "definition" not in study.user_attrs:
        study.set_user_attr("definition", sweep.to_toml())
        if sweep.kind == "grid":  # each combination once: workers pop them atomically
            for values in itertools.islice(itertools.product(
                    *(p.values for p in sweep.params)), sweep.budget):
                study.enqueue_trial(dict(zip((p.name for p in sweep.params), values)))
    return study


def definition_of(name: str, storage) -> str:
    """The definition a study was created with (``--join``)."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise SweepError(f"join: no sweep named {name!r} in that storage") from None
    text = study.user_attrs.get("definition")
    if not text:
        raise SweepError(f"join: {name!r} is not a tbx-tui sweep (no definition stored)")
    return text


class TrialLock:
    """Held by the process running a trial, for as long as it runs."""

    def __init__(self, folder: Path, number: int):
        (folder / LOCKS).mkdir(exist_ok=True)
        self._fd = os.open(folder / LOCKS / f"trial-{number}", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _alive(folder: Path, number: int) -> bool:
    path = folder / LOCKS / f"trial-{number}"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # died before taking its lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def recover(study: optuna.Study, folder: Path) -> list[int]:
    """Fail the RUNNING trials whose process is gone and enqueue their retries; their
    numbers. Only for the journal: on PostgreSQL the heartbeat does it."""
    dead = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _alive(folder, t.number):
            continue
        study.tell(t.number, state=TrialState.FAIL)
        retry_callback()(study, study._storage.get_trial(t._trial_id))
        dead.append(t.number)
    return dead


def retry_callback():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(MAX_RETRY)


def queued(study: optuna.Study, trial) -> bool:
    """Whether ``ask()`` gave a queued trial: a grid combination (enqueued, with its
    fixed_params) or a retry (added with its parameters, marked failed_trial)."""
    attrs = study._storage.get_trial_system_attrs(trial._trial_id)
    return "fixed_params" in attrs or "failed_trial" in attrs


def discard(study: optuna.Study, trial) -> None:
    study._storage.set_trial_system_attr(trial._trial_id, SURPLUS, True)
    study.tell(trial, state=TrialState.FAIL)


def retried(study: optuna.Study) -> set[int]:
    """Failed trials that a retry stands in for (their process died)."""
    return {n for t in study.get_trials(deepcopy=False)
            for n in t.system_attrs.get("retry_history", ())}


def retried_from(study: optuna.Study, trial) -> int | None:
    """The number of the dead trial this one retries (RetryHeartbeatStaleTrialCallback's mark)."""
    frozen = study._storage.get_trial(trial._trial_id)
    with warnings.catch_warnings():  # "experimental since v2.8": stable for years now
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)


def counted(study: optuna.Study) -> int:
    """Trials that use up the budget: done, running, or failed for good (a trial killed
    with its process is not: its retry runs in its place)."""
    stood_in = retried(study)
    return sum(1 for t in study.get_trials(deepcopy=False)
               if SURPLUS not in t.system_attrs and (t.state in (*DONE, TrialState.RUNNING) or (
                   t.state is TrialState.FAIL and t.number not in stood_in)))
