"""Running a sweep: trials one after another in this process, or in N worker processes
sharing the study; a table row per trial as it ends; at the end the best trial, the
ranked trials and each parameter's importance (Optuna's default evaluator)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from optuna.storages._heartbeat import fail_stale_trials, get_heartbeat_thread
from optuna.trial import TrialState

from ..progress import progress_line
from ..safe_text import clean
from . import study as studies
from . import trial as trials
from .definition import Sweep
from .space import short


class SweepStopped(Exception):
    """Every further trial would fail the same way: ``code`` and a one-line message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def work(study, sweep: Sweep, folder: Path, journal: bool,
         ended: Callable[[object], None] = lambda t: None,
         started: Callable = lambda trainer, trial: None) -> None:
    """Ask, train, tell, until the budget (or the grid, or the time) is used up."""
    from ..engine import (DataUnavailable, DeviceUnavailable, InitUnavailable, InitUnusable,
                          LogdirUnusable, ModelUnusable, ResumeUnusable, TaskUnusable)

    start = time.monotonic()
    while True:
        if sweep.timeout_s and time.monotonic() - start >= sweep.timeout_s:
            return
        if journal:
            studies.recover(study, folder)
        else:  # PostgreSQL: Optuna's heartbeat finds the dead, its callback retries them
            fail_stale_trials(study)
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if sweep.kind == "grid" and not waiting:
            return
        if not waiting and sweep.budget and studies.counted(study) >= sweep.budget:
            return
        trial = study.ask()
        if sweep.kind == "grid" and not studies.queued(study, trial):
            # Another worker took the last queued combination between our look and our
            # ask: this trial would run a combination twice. Closed unrun, not counted.
            studies.discard(study, trial)
            return
        lock = studies.TrialLock(folder, trial.number)
        try:
            with get_heartbeat_thread(trial._trial_id, study._storage):  # a no-op: journal
                state, value, run_dir, message = trials.run(trial, study, sweep, folder,
                                                            started)
        except trials.ObjectiveMissing as e:
            study.tell(trial, state=TrialState.FAIL)
            raise SweepStopped(2, str(e)) from None
        except (ModelUnusable, InitUnusable, TaskUnusable, DeviceUnavailable, LogdirUnusable,
                ResumeUnusable) as e:
            study.tell(trial, state=TrialState.FAIL)
            raise SweepStopped(2, f"trial {trial.number}: {e}") from None
        except (DataUnavailable, InitUnavailable) as e:
            study.tell(trial, state=TrialState.FAIL)
            raise SweepStopped(1, f"trial {trial.number}: {e}") from None
        except KeyboardInterrupt:  # left RUNNING: the next --resume retries it from its
            raise                  # newest checkpoint, as after a kill
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        finally:
            lock.release()
        trial.set_user_attr("state", state)
        trial.set_user_attr("message", message[:500])  # a retry's copy of the dead one's goes
        if state == "pruned":
            frozen = study.tell(trial, state=TrialState.PRUNED)
        elif value is None or not math.isfinite(value):
            frozen = study.tell(trial, state=TrialState.FAIL)
        else:
            frozen = study.tell(trial, value)
        ended(frozen)


def spawn_workers(folder: Path, count: int, storage_url: str) -> list[subprocess.Popen]:
    """N processes, each a ``tbx-tui sweep --resume FOLDER --worker``: the CPU's cores
    split between them, or one GPU each."""
    gpus = _gpu_count()
    threads = max(1, (os.cpu_count() or 1) // count)
    procs = []
    for i in range(count):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # torch's threads
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
        argv = [sys.executable, "-m", "tbx_tui", "sweep", "--resume", str(folder), "--worker"]
        if storage_url:
            argv += ["--storage", storage_url]
        procs.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def _gpu_count() -> int:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no library: the CPU
        return 0


# ---- what the user sees --------------------------------------------------------------
class Table:
    """A row per trial as it ends: number, state, parameters, objective, best so far."""

    def __init__(self, sweep: Sweep, study, out=None):
        self.sweep, self.study, self.out = sweep, study, out or sys.stdout
        self.live = self.out.isatty()
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        self._running: Callable[[], str] = lambda: ""
        self.names = [p.name for p in sweep.params]
        self.widths = [max(len(n), 10) for n in self.names]
        self.best: float | None = None
        self.best_trial: int | None = None
        self.seen: set[int] = set()

    def _line(self, text: str) -> None:
        self._write(("\r\x1b[2K" if self.live else "") + clean(text) + "\n")

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

    # ---- on a terminal: one live line under the table, redrawn twice a second ----------
    def started(self, trainer, trial) -> None:
        """The trial now training in this process (workers = 1)."""
        self._running = lambda: f"trial {trial.number} " + progress_line(
            trainer.snapshot(), max(self._width() - 12, 20), bar=False)
        self._tick()

    def watching(self, study) -> None:
        """Trials in worker processes: which are running."""
        def line() -> str:
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            return (f"{len(running)} running: " + ", ".join(
                f"#{t.number} " + " ".join(f"{k}={short(v)}" for k, v in t.params.items())
                for t in running)) if running else "starting trials…"
        self._running = line
        self._tick()

    def _tick(self) -> None:
        if not self.live or self._ticker is not None:
            return

        def loop():
            while not self._done.wait(0.5):
                try:
                    text = clean(self._running())[: self._width() - 1]
                except Exception:  # a snapshot mid-change: the next tick draws it
                    continue
                self._write("\r\x1b[2K" + text)

        self._ticker = threading.Thread(target=loop, name="tbx-sweep-line", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
            self._write("\r\x1b[2K")

    def header(self) -> None:
        cols = "  ".join(n.ljust(w) for n, w in zip(self.names, self.widths))
        self._line(f"{'trial':>5}  {'state':<9} {cols}  {'objective':>11}  {'best':>11}")

    def row(self, t) -> None:
        if t.number in self.seen or t.state in (TrialState.RUNNING, TrialState.WAITING) \
                or studies.SURPLUS in t.system_attrs:
            return
        self.seen.add(t.number)
        state = t.user_attrs.get("state", t.state.name.lower())
        if t.state is TrialState.FAIL and t.number in studies.retried(self.study):
            state = "killed"
        if t.state is TrialState.COMPLETE:
            better = self.best is None or (t.value < self.best if self.sweep.objective.direction
                                           == "minimize" else t.value > self.best)
            if better:
                self.best, self.best_trial = t.value, t.number
        cols = "  ".join(short(t.params.get(n, "")).ljust(w)
                         for n, w in zip(self.names, self.widths))
        value = "" if t.value is None else short(t.value)
        best = "" if self.best is None else f"{short(self.best)} #{self.best_trial}"
        resumed = "  (resumed its run)" if t.user_attrs.get("resumed") else ""
        why = f"  {t.user_attrs['message']}" if state in ("pruned", "failed", "diverged") \
            and t.user_attrs.get("message") else ""
        self._line(f"{t.number:>5}  {state:<9} {cols}  {value:>11}  {best:>11}{resumed}{why}")


    @staticmethod
    def _width() -> int:
        return shutil.get_terminal_size((100, 24)).columns


def summary(study, sweep: Sweep, table: Table) -> list[str]:
    done = [t for t in study.get_trials(deepcopy=False) if t.state is TrialState.COMPLETE]
    lines = []
    counts = {}
    stood_in = studies.retried(study)
    for t in study.get_trials(deepcopy=False):
        if studies.SURPLUS in t.system_attrs:
            continue
        word = "killed and retried" if t.number in stood_in else t.state.name.lower()
        counts[word] = counts.get(word, 0) + 1
    lines.append("trials: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if not done:
        return lines + ["no trial finished: no best trial"]
    reverse = sweep.objective.direction == "maximize"
    ranked = sorted(done, key=lambda t: t.value, reverse=reverse)
    best = ranked[0]
    lines.append(f"best: trial {best.number}  {sweep.objective.text()} = {short(best.value)}  "
                 + "  ".join(f"{k}={short(v)}" for k, v in best.params.items())
                 + f"  ({best.user_attrs.get('run_dir', '')})")
    lines.append("ranked:")
    for i, t in enumerate(ranked[:10], 1):
        lines.append(f"  {i:>2}. trial {t.number:<4} {short(t.value):>11}  " +
                     "  ".join(f"{k}={short(v)}" for k, v in t.params.items()))
    if len(ranked) > 10:
        lines.append(f"  … and {len(ranked) - 10} more")
    importances = _importances(study)
    if importances:
        lines.append("parameter importance (Optuna's default evaluator):")
        for name, share in importances.items():
            bar = "█" * max(1, round(share * 30))
            lines.append(f"  {name:<16} {share:6.1%} {bar}")
    return lines


def _importances(study) -> dict[str, float]:
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(study)
    except Exception:  # fewer than two finished trials, or nothing varied among them
        return {}
