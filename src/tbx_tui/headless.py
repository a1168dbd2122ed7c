"""``tbx-tui --no-ui``: train in the foreground with console progress.

Exit codes: 0 finished, 1 diverged / failed / no data / corrupt data, 2 bad arguments
(device absent, a model reference that gives no working model, no run folder possible
under --logdir, a full disk at the start), and
128 + the signal after Ctrl+C (130), SIGHUP (129) or SIGTERM (143); in each case the run
still stops cleanly: it finishes the step, evaluates, saves and closes its files. While it
still loads (data, the model: user code that may hang) nothing is written yet, and the
first signal ends it at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from . import early_interrupt
from .config import RunConfig
from .safe_text import clean
from .engine import (ConsoleSink, DataUnavailable, DeviceUnavailable, InitUnavailable,
                     InitUnusable, LogdirUnusable, ModelUnusable, ResumeUnusable, RunControl,
                     RunInterrupted, RunState, TaskUnusable, TensorBoardSink, Trainer,
                     UserCodeExit)

# SIGHUP: a dropped SSH session. The console is gone then, the training is not.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RELAY_WINDOW_S = 2.0


def _say(line: str) -> None:
    """One line on stderr; its text (a user exception's, a path) shown as data."""
    print(clean(line), file=sys.stderr)


def _exit_now(signum, frame) -> None:
    for stream in (sys.stdout, sys.stderr):  # what was printed still reaches its reader
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(128 + signum)


def run_headless(config: RunConfig, resume: Path | None = None) -> int:
    control = RunControl()
    trainer = Trainer(config, control=control, resume=resume)
    console = ConsoleSink(trainer.snapshot, sys.stdout,
                          width=lambda: shutil.get_terminal_size().columns)
    trainer.sinks = [TensorBoardSink(), console]
    received: list[int] = []
    first_at: list[float] = []

    def relayed(signum) -> bool:
        """Under torchrun a Ctrl+C reaches each rank twice: from the terminal, and from
        the agent passing it on a moment later. That copy is no second Ctrl+C."""
        return ("TORCHELASTIC_RUN_ID" in os.environ and signum == received[0]
                and time.monotonic() - first_at[0] < RELAY_WINDOW_S)

    def on_signal(signum, frame):
        if received and relayed(signum):
            return
        if received:  # a second signal: stop now, without the final evaluation
            raise KeyboardInterrupt
        received.append(signum)
        first_at.append(time.monotonic())
        if trainer.loading:
            # Still loading data or building the model (user code that may hang): no step
            # to finish and nothing written, so the first signal ends it.
            raise KeyboardInterrupt
        control.stop()
        if os.environ.get("RANK", "0") != "0":  # one line for the group, from rank 0
            return
        again = " (Ctrl+C again to quit at once)" if signum == signal.SIGINT else ""
        console.message(f"stopping on {signal.Signals(signum).name}: finishing this step, "
                        f"then evaluating and saving{again}")

    early_interrupt.check()  # a Ctrl+C while the modules loaded: nothing started yet
    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        result = trainer.run()
    except (DeviceUnavailable, LogdirUnusable, ModelUnusable, InitUnusable, TaskUnusable,
            ResumeUnusable, UserCodeExit) as e:
        _say(f"tbx-tui: error: {e}")
        return 2
    except (DataUnavailable, InitUnavailable) as e:
        _say(f"tbx-tui: error: {e}")
        return 1
    except RunInterrupted as e:
        _say(f"tbx-tui: {e}")
        return 128 + (received[0] if received else signal.SIGINT)
    except KeyboardInterrupt:
        if trainer.run_dir is None:
            _say("tbx-tui: interrupted before training started; no run folder was created")
        else:
            _say(f"tbx-tui: interrupted; event files closed ({trainer.run_dir})")
        return 128 + (received[0] if received else signal.SIGINT)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        # The run is closed: a Ctrl+C from here on (torch's exit-time finalizers take a
        # while) ends the process at once, not with a traceback from an atexit callback.
        signal.signal(signal.SIGINT, _exit_now)
        if console.closed_output:  # keep Python's exit-time flush from complaining
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    if result.run_dir is None:  # stopped before its first step; the folder is gone
        _say(f"tbx-tui: {result.message}")
    if received:
        return 128 + received[0]
    if result.state in (RunState.FINISHED, RunState.STOPPED):
        return 0
    return 1
