"""``tbx-tui sweep``: define a sweep from flags or a file, or continue or join one; run its
trials; print a row per trial and, at the end, the best, the ranking and the importances.

Exit 0 when every trial finished or was pruned, 1 when one failed, 2 for a definition
that cannot run (said in one line, before the sweep folder is made).
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Sequence

from ..args import OneLineParser
from ..atomic import atomic_write
from ..config import FIELDS, ConfigError
from ..safe_text import clean
from .definition import FILE, PRUNERS, SAMPLERS, Objective, Sweep, SweepError, load
from .space import parse_param, value_of

PROG = "tbx-tui sweep"
# The sweep's own flags: where its folder goes, what it is called, trials at once. A run's
# data-loading --workers is set in a --sweep file.
OWN = ("logdir", "name", "workers")


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG, description="Search hyperparameters: each trial is an ordinary run "
        "folder under one sweep folder; Optuna samples, prunes and keeps the study.",
        epilog="A setting given a list (--lr 1e-4,3e-4,1e-3) or a range (--lr 1e-5..1e-2:log, "
               "--batch-size 16..256:pow2, --epochs 1..5) is swept; one value is fixed for "
               "every trial. Re-running the same command continues the sweep.")
    p.add_argument("--sweep", metavar="FILE", help="a TOML sweep file: settings as lists, "
                   "ranges or fixed values; [sweep] sampler, trials, objective, pruner")
    p.add_argument("--sampler", choices=SAMPLERS, help="default: grid when every swept "
                   "setting is a list, else tpe")
    p.add_argument("--trials", type=int, metavar="N", help="trials to run (default: the "
                   "whole grid, else 20)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop starting trials "
                   "after this long")
    p.add_argument("--objective", metavar="\"METRIC min|max\"", help="what to optimise: a "
                   "tag (\"Loss/test min\") or loss, accuracy, perplexity, r2, mae (default: "
                   "loss, minimised)")
    p.add_argument("--pruner", choices=PRUNERS, help="end trials behind the others at an "
                   "evaluation (default: none)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="trials at once, each in its own process (CPU cores split, or a GPU "
                        "each; default 1)")
    p.add_argument("--storage", metavar="URL", default="",
                   help="postgresql://… to share the study between machines (default: a "
                        "journal file in the sweep folder)")
    p.add_argument("--join", metavar="NAME", help="with --storage: run trials of that sweep")
    p.add_argument("--resume", metavar="SWEEP_DIR", help="continue this sweep folder")
    p.add_argument("--worker", action="store_true", help="(internal) run trials, print none")
    p.add_argument("--logdir", default="runs", help="where the sweep folder goes (default runs)")
    p.add_argument("--name", help="the sweep folder's name (default: sweep-<hash of the "
                   "definition>, so the same command finds its sweep again)")
    settings = p.add_argument_group("run settings (a list or a range sweeps one)")
    for name in FIELDS:
        if name not in OWN:
            settings.add_argument("--" + name.replace("_", "-"), dest=f"set_{name}",
                                  metavar="VALUES")
    return p


def _definition(p: OneLineParser, args) -> Sweep:
    values = {name: getattr(args, f"set_{name}") for name in FIELDS
              if name not in OWN and getattr(args, f"set_{name}", None) is not None}
    base = None
    if args.sweep:
        try:
            base = Sweep.from_toml(Path(args.sweep).expanduser().read_text(), args.sweep)
        except OSError as e:
            raise SweepError(f"sweep: {args.sweep}: {e.strerror}") from None
    params = {q.name: q for q in (base.params if base else ())}
    fixed = dict(base.fixed) if base else {}
    for name, text in values.items():
        param = parse_param(name, text)
        if param is not None:
            params[name] = param
            fixed.pop(name, None)
            continue
        params.pop(name, None)
        # One value, read as a list's values are: "yes" for a true/false is refused.
        fixed[name] = value_of(name, text.strip(), text)
    objective = Objective.parse(args.objective) if args.objective else \
        (base.objective if base else Objective.parse("loss"))
    return Sweep(tuple(params.values()), fixed,
                 args.sampler or (base.sampler if base else ""),
                 args.trials if args.trials is not None else (base.trials if base else 0),
                 args.timeout if args.timeout is not None else (base.timeout_s if base else 0),
                 objective, args.pruner or (base.pruner if base else "none"),
                 base.seed if base else 0)


def sweep_main(argv: Sequence[str]) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers: at least 1")
    try:
        return _run(p, args)
    except (SweepError, ConfigError) as e:
        p.exit(2, f"{PROG}: error: {e}\n")


def _run(p: OneLineParser, args) -> int:
    from . import study as studies

    made = False
    if args.resume:
        folder = Path(args.resume).expanduser()
        sweep = load(folder).with_budget(args.trials, args.timeout)
        name = folder.name
        if not args.storage and not (folder / studies.JOURNAL).is_file():
            # A new journal here would be a second study of the same sweep.
            raise SweepError(f"resume: {folder} has no {studies.JOURNAL}: its study is in "
                             "a database; give the --storage it was started with")
    elif args.join:
        if not args.storage:
            raise SweepError("join: give the --storage the sweep lives in")
        name, folder = args.join, Path(args.logdir).expanduser() / args.join
        storage = studies.storage_for(folder, args.storage)
        sweep = Sweep.from_toml(studies.definition_of(name, storage), f"the study {name!r}")
    else:
        sweep = _definition(p, args)
        name = args.name or sweep.default_name()
        folder = Path(args.logdir).expanduser() / name
        if (folder / FILE).is_file():
            if load(folder).to_toml() != sweep.to_toml():
                raise SweepError(f"{folder} holds another sweep's definition; give another "
                                 "--name, or --resume it")
    if args.storage:  # a bad URL: said before anything is made
        storage = studies.storage_for(folder, args.storage)
    if not (folder / FILE).is_file():
        made = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / FILE, sweep.to_toml())
    if not args.storage:  # the journal file, in the sweep folder
        try:
            storage = studies.storage_for(folder, "")
        except Exception as e:  # Optuna replays the journal: a damaged one stops it
            raise SweepError(f"{folder / studies.JOURNAL}: cannot be read ({type(e).__name__}:"
                             f" {str(e).splitlines()[0] if str(e) else ''}); the trials' run "
                             "folders are intact, a new --name starts the sweep again") from None
    try:
        study = studies.open_study(name, sweep, storage)
    except SweepError:
        raise
    except Exception as e:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise SweepError(f"storage: {type(e).__name__}: {e}") from None
    return _trials(args, study, sweep, folder, made)


def _trials(args, study, sweep: Sweep, folder: Path, made: bool) -> int:
    from optuna.trial import TrialState

    from . import study as studies
    from .runner import SweepStopped, Table, summary, work

    journal = not args.storage
    if args.worker:
        try:
            work(study, sweep, folder, journal)
        except SweepStopped as e:
            print(f"{PROG}: error: {clean(str(e))}", file=sys.stderr)
            return e.code
        return 0
    table = Table(sweep, study)
    print(clean(f"sweep {folder}: {sweep.kind}, {_budget(sweep)}"))
    print(clean(f"objective {sweep.objective.text()}, pruner {sweep.pruner}, "
                f"{args.workers} worker(s)"))
    table.header()
    for t in study.get_trials(deepcopy=False):
        table.row(t)  # finished before: shown, kept
    stopped: SweepStopped | None = None
    for signum in (signal.SIGTERM, signal.SIGHUP):  # as Ctrl+C: resumable from here
        signal.signal(signum, _interrupt)
    try:
        if args.workers == 1:
            work(study, sweep, folder, journal, table.row, table.started)
        else:
            table.watching(study)
            stopped = _watch_workers(study, folder, args, table)
    except SweepStopped as e:
        stopped = e
    except KeyboardInterrupt:
        table.close()  # the live line goes before the message
        print(f"{PROG}: interrupted; `{PROG} --resume {folder}` continues it", file=sys.stderr)
        return 130
    finally:
        table.close()
    if stopped is not None:
        if made and not any(t.state is TrialState.COMPLETE for t in study.get_trials()):
            shutil.rmtree(folder, ignore_errors=True)  # nothing of it is worth keeping
        print(f"{PROG}: error: {clean(str(stopped))}", file=sys.stderr)
        return stopped.code
    for t in study.get_trials(deepcopy=False):
        table.row(t)
    for line in summary(study, sweep, table):
        print(clean(line))
    stood_in = studies.retried(study)
    failed = [t for t in study.get_trials(deepcopy=False) if t.state is TrialState.FAIL
              and t.number not in stood_in and studies.SURPLUS not in t.system_attrs]
    return 1 if failed else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _watch_workers(study, folder: Path, args, table):
    from .runner import SweepStopped, spawn_workers

    procs = spawn_workers(folder, args.workers, args.storage)
    try:
        while any(p.poll() is None for p in procs):
            time.sleep(1.0)
            for t in study.get_trials(deepcopy=False):
                table.row(t)
    except KeyboardInterrupt:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait()
        raise
    codes = [p.returncode for p in procs]
    errors = [p.stderr.read().strip() for p in procs]
    if any(codes):
        code = next(c for c in codes if c)
        message = next((e.splitlines()[-1] for e in errors if e), f"a worker exited {code}")
        return SweepStopped(2 if code == 2 else 1, message.removeprefix(f"{PROG}: error: "))
    return None


def _budget(sweep: Sweep) -> str:
    if sweep.kind == "grid":
        return f"{sweep.budget} combination(s)"
    parts = [f"{sweep.budget} trials"] if sweep.budget else []
    if sweep.timeout_s:
        parts.append(f"{sweep.timeout_s:g} s")
    return " or ".join(parts)
