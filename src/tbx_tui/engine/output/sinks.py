"""Where a run's numbers go: TensorBoard event files, and the console when headless.

A sink is called by the Trainer at log time only, never per step:
``open`` once, ``scalars``/``histograms``/``epoch_end`` as they come, ``close`` once.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, TextIO

from ..runtime.control import Progress, RunState
from ...reports import CLASSIFICATION, Report
from ...run_state import STATE_TAG, end_state_text
from ...safe_text import clean
from ...progress import duration as _duration, evaluated_on, metrics_line, progress_line
from .histograms import Histogram



@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    config: object          # RunConfig; typed loosely to keep this module import-light
    device: str
    amp: bool
    parameters: int
    train_size: int
    test_size: int
    steps_per_epoch: int
    total_steps: int
    notes: tuple[str, ...] = ()  # what fine-tuning did: weights loaded, parameters frozen
    start_step: int = 0          # a resumed run's first step: later points are void
    report: Report = CLASSIFICATION  # what the run's task evaluates (tbx_tui/reports.py)


@dataclass(frozen=True)
class RunResult:
    run_dir: Path | None
    state: RunState
    steps: int
    metrics: dict[str, float]
    elapsed_s: float
    message: str = ""
    error_log: Path | None = None


class Sink(Protocol):
    def open(self, info: RunInfo) -> None: ...
    def scalars(self, step: int, values: dict[str, float]) -> None: ...
    def histograms(self, step: int, hists: dict[str, Histogram]) -> None: ...
    def epoch_end(self, epoch: int, step: int, metrics: dict[str, float]) -> None: ...
    def close(self, result: RunResult | None) -> None: ...  # None: abandoned, no end
    # Optional: system(step, values), the sys/ scalars, called from the sampler's thread.


class NullSink:
    """A sink that keeps nothing: the base for sinks that want one or two of the calls
    (benchmarks timing the log calls, tests counting them)."""

    def open(self, info: RunInfo) -> None:
        pass

    def scalars(self, step: int, values: dict[str, float]) -> None:
        pass

    def histograms(self, step: int, hists: dict[str, Histogram]) -> None:
        pass

    def epoch_end(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        pass

    def system(self, step: int, values: dict[str, float]) -> None:
        pass

    def close(self, result: RunResult | None) -> None:
        pass


class TensorBoardSink:
    """Event file in the run folder, hparams included (no extra folders). tensorboardX
    builds the summaries; ``EventFile`` writes them whole or not at all."""

    def __init__(self) -> None:
        self.file = None
        self._lock = threading.RLock()  # the system sampler writes from its own thread

    def open(self, info: RunInfo) -> None:
        from tensorboardX.summary import hparams

        from .eventfile import EventFile

        from tensorboardX.proto.event_pb2 import Event, SessionLog

        self.file = EventFile(info.run_dir)
        # Every session starts with a START at its first step. Readers (TensorBoard's,
        # ours) drop the points at and after it that an earlier, killed session wrote
        # past its last checkpoint; TensorBoard ignores a run's first START, so a fresh
        # run writes one too, or a resumed run's START would be the ignored first.
        self.file.add(Event(step=info.start_step, wall_time=time.time(),
                            session_log=SessionLog(status=SessionLog.START)))
        # add_hparams() would write into a new sub-folder; writing the summaries into
        # this run's own file puts the HParams row on the run itself.
        exp, ssi, self._sei = hparams(info.config.hparams(),
                                      {k: 0.0 for k in info.report.metrics})
        self.file.add_summary(exp, 0)
        self.file.add_summary(ssi, 0)
        self.file.flush()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from tensorboardX.summary import scalar

        with self._lock:
            for tag, value in values.items():
                self.file.add_summary(scalar(tag, value), step)
            self.file.flush()  # log time: readers (watch, TensorBoard) see it now

    def system(self, step: int, values: dict[str, float]) -> None:
        with self._lock:
            if self.file is not None:  # closed: the run has ended
                self.scalars(step, values)

    def histograms(self, step: int, hists: dict[str, Histogram]) -> None:
        from tensorboardX.summary import histogram_raw

        with self._lock:
            for tag, h in hists.items():
                self.file.add_summary(histogram_raw(tag, h.min, h.max, h.num, h.sum,
                                                    h.sum_squares, h.bucket_limits,
                                                    h.bucket_counts), step)
            self.file.flush()

    def epoch_end(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        self.scalars(step, metrics)

    def evaluation(self, step: int, details) -> None:
        """A classifier's evaluation beyond its metrics (engine/output/eval_records.py)."""
        from .eval_records import evaluation_summaries

        summaries = evaluation_summaries(details)  # built before the lock: PNGs to encode
        with self._lock:
            for summary in summaries:
                self.file.add_summary(summary, step)
            self.file.flush()

    def graph(self, event) -> None:
        """The model's graph (engine/output/graph.py), an Event of its own."""
        with self._lock:
            self.file.add(event)
            self.file.flush()

    def text(self, step: int, tag: str, text: str) -> None:
        """TensorBoard's Text tab renders markdown: a sample goes in as a code block."""
        from tensorboardX.summary import text as text_summary

        with self._lock:
            self.file.add_summary(text_summary(tag, "```\n" + text + "\n```"), step)
            self.file.flush()

    def close(self, result: RunResult | None) -> None:
        with self._lock:
            self._close(result)

    def _close(self, result: RunResult | None) -> None:
        if self.file is None:
            return
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.summary import text

        try:
            if result is None:
                return  # abandoned: no end to record
            # TensorBoard's HParams tab knows success, failure and unknown; the exact
            # state (stopped, diverged…) and why go beside it as text, which its Text tab
            # shows and our reader takes as the run's state.
            status = {RunState.FINISHED: "STATUS_SUCCESS", RunState.STOPPED: "STATUS_UNKNOWN",
                      RunState.PRUNED: "STATUS_UNKNOWN"}
            self._set_status(Status.Value(status.get(result.state, "STATUS_FAILURE")))
            self.file.add_summary(self._sei, 0)
            # The message may be a user exception's text: readers show it, so it is
            # written as display text (any reader cleans it again).
            state = text(STATE_TAG, end_state_text(result.state.value,
                                                   clean(result.message)))
            state.value[0].tag = STATE_TAG  # text() appends "/text_summary"
            self.file.add_summary(state, max(result.steps - 1, 0))
        finally:
            self.file.close()
            self.file = None

    def _set_status(self, status: int) -> None:
        from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

        meta = self._sei.value[0].metadata.plugin_data
        data = HParamsPluginData.FromString(meta.content)
        data.session_end_info.status = status
        meta.content = data.SerializeToString()


class ConsoleSink:
    """Headless output. On a terminal: one live progress line, redrawn a few times a second
    from the Trainer's snapshot by a small thread. Otherwise: one plain line per log
    interval, no control characters (made for log files, nohup and SLURM)."""

    def __init__(self, progress: Callable[[], Progress], stream: TextIO | None = None,
                 live: bool | None = None, width: Callable[[], int] | None = None):
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self._progress = progress
        self._width = width or (lambda: 100)
        self._lock = threading.RLock()  # re-entrant: a signal handler may print mid-print
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        self._info: RunInfo | None = None
        self.closed_output = False

    def _write(self, text: str) -> None:
        """A closed console (``| head``, a dropped SSH session) must not stop the training:
        the event files are the record, so output just ends."""
        if self.closed_output:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.closed_output = True

    def _print(self, text: str) -> None:
        with self._lock:
            # Lines carry user code's messages and dataset names: never control bytes.
            self._write(("\r\x1b[2K" if self.live else "") + clean(text) + "\n")

    def _tick(self) -> None:
        while not self._done.wait(0.25):
            with self._lock:
                self._write("\r\x1b[2K" + clean(progress_line(self._progress(),
                                                             self._width())))

    def open(self, info: RunInfo) -> None:
        self._info = info
        c = info.config
        amp = ", bf16 autocast" if info.amp else ""
        sizes = (f"{info.train_size:,} train / {info.test_size:,} {info.report.split}"
                 f"{info.report.examples}")
        self._print(f"training {c.model} ({info.parameters:,} parameters) on {c.data} "
                    f"({sizes}) on "
                    f"{info.device}{amp}: {info.total_steps:,} steps "
                    f"({info.steps_per_epoch:,} per epoch) -> {info.run_dir}")
        for note in info.notes:
            self._print(note)
        if self.live:
            self._ticker = threading.Thread(target=self._tick, name="tbx-console", daemon=True)
            self._ticker.start()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.live:
            self._print(progress_line(self._progress()))

    def histograms(self, step: int, hists: dict[str, Histogram]) -> None:
        pass

    def epoch_end(self, epoch: int, step: int, metrics: dict[str, float]) -> None:
        epochs = self._info.config.epochs if self._info else "?"
        self._print(f"epoch {epoch}/{epochs} {evaluated_on(metrics)}  {metrics_line(metrics)}")

    def message(self, text: str) -> None:
        self._print(text)

    def close(self, result: RunResult | None) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if result is None:
            return  # abandoned before it started: the caller says why
        where = result.run_dir if result.run_dir else "(no run folder)"
        took = f"{result.steps:,} steps in {_duration(result.elapsed_s)}"
        if result.state in (RunState.FINISHED, RunState.STOPPED) and result.metrics:
            self._print(f"{result.state.value}: {where} ({took})  {evaluated_on(result.metrics)} "
                        f"{metrics_line(result.metrics)}")
        elif result.state is RunState.PRUNED:
            self._print(f"{result.state.value}: {where} ({took})  {result.message}")
        else:
            trace = f" (traceback: {result.error_log})" if result.error_log else ""
            self._print(f"{result.state.value}: {where} ({took})  {result.message}{trace}")
