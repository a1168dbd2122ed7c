"""``tbx-tui --no-ui --nproc N``: the same run in N processes through torchrun
(``torch.distributed.run``), not a home-made launcher. Each process runs
``python -m tbx_tui`` with the same arguments; torch.distributed's elastic agent restarts
the group up to ``--max-restarts`` times, and a restarted group resumes from the run's
newest checkpoint on its own (engine/run/trainer.py)."""

from __future__ import annotations

import logging
import os
import signal
import sys

# The ranks record their number themselves (from torchrun's WORLD_SIZE); --nproc would
# also be an ambiguous prefix to torchrun's own parser (--nproc-per-node).
LAUNCH_FLAGS = ("--nproc", "--max-restarts")


def strip_launch_flags(argv: list[str]) -> list[str]:
    """The arguments each process gets: ours, less the launcher's own."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_FLAGS:
            skip = True
        elif not arg.startswith(tuple(f + "=" for f in LAUNCH_FLAGS)):
            out.append(arg)
    return out


def too_few_gpus(device: str, nproc: int) -> str | None:
    """Why N processes cannot start on this machine's GPUs (nccl wants one per rank)."""
    import torch

    if device not in ("auto", "cuda") or not torch.cuda.is_available():
        return None
    have = torch.cuda.device_count()
    if nproc <= have:
        return None
    return (f"{nproc} processes need a GPU each but this machine has {have}; use --nproc "
            f"{have} at most, or --device cpu")


def launch(argv: list[str], nproc: int, max_restarts: int) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # torchrun sets 1 thread per process (and warns) when unset; a share of the cores
    # is what each rank can use without oversubscribing the machine.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores // nproc)))
    # Its warnings retell what our one line says ("Received 2 death signal…").
    for name in [n for n in logging.root.manager.loggerDict
                 if n.startswith("torch.distributed.elastic")]:  # each sets its own level
        logging.getLogger(name).setLevel(logging.ERROR)
    rest = strip_launch_flags(argv)
    if "--no-ui" not in rest:
        rest.insert(0, "--no-ui")
    args = get_args_parser().parse_args([
        "--standalone", f"--nproc-per-node={nproc}", f"--max-restarts={max_restarts}",
        "-m", "tbx_tui", *rest])
    try:
        run(args)
    except SignalException as e:
        # Ctrl+C, SIGTERM, SIGHUP: torchrun passed it on to the ranks, which stopped as one
        # process does (finish the step, evaluate, checkpoint, save), then it returned here.
        name = signal.Signals(e.sigval).name
        print(f"tbx-tui: stopped on {name}: the group finished its step, evaluated and "
              f"saved; continue it with --resume RUN_DIR", file=sys.stderr)
        return 128 + int(e.sigval)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()  # the cause, not the ranks stopped after it
        code = failure.exitcode
        how = (f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}")
        again = f" after {max_restarts} restart(s)" if max_restarts else ""
        print(f"tbx-tui: error: rank {rank} of {nproc} ended with {how}; torchrun stopped "
              f"the group{again}. Continue it with --resume RUN_DIR (same --nproc)",
              file=sys.stderr)
        return 1
    return 0
