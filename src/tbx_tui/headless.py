"""``tbx-tui --no-ui``: train in the foreground with console progress.

Exit codes: 0 finished, 1 diverged / failed / no data, 2 bad arguments (device absent,
no run folder possible under --logdir),
130 after Ctrl+C and 143 after SIGTERM; in both cases the run still stops cleanly.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

from .config import RunConfig
from .engine import (ConsoleSink, DataUnavailable, DeviceUnavailable, LogdirUnusable,
                     RunControl, RunState, TensorBoardSink, Trainer)


def run_headless(config: RunConfig) -> int:
    control = RunControl()
    trainer = Trainer(config, control=control)
    console = ConsoleSink(trainer.snapshot, sys.stdout,
                          width=lambda: shutil.get_terminal_size().columns)
    trainer.sinks = [TensorBoardSink(), console]
    received: list[int] = []

    def on_signal(signum, frame):
        if received:  # a second signal: stop now, without the final evaluation
            raise KeyboardInterrupt
        received.append(signum)
        control.stop()
        console.message("stopping: finishing this step, then evaluating and saving "
                        "(Ctrl+C again to quit at once)")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = trainer.run()
    except (DeviceUnavailable, LogdirUnusable) as e:
        print(f"tbx-tui: error: {e}", file=sys.stderr)
        return 2
    except DataUnavailable as e:
        print(f"tbx-tui: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        where = trainer.run_dir or "no run folder was created"
        print(f"tbx-tui: interrupted; event files closed ({where})", file=sys.stderr)
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if console.closed_output:  # keep Python's exit-time flush from complaining
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    if received:
        return 128 + received[0]
    if result.state in (RunState.FINISHED, RunState.STOPPED):
        return 0
    return 1
