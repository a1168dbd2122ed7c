"""How a run ends and what it tells its sinks on the way: the parts of the Trainer
(engine/run/trainer.py) around the loop — closing the sinks with the end state, a failure's
traceback file, an abandoned folder, messages mid-run, the system sampler.

A mixin, as ``Resuming``: it reads the Trainer's ``config``, ``world``, ``sinks``,
``run_dir`` and progress fields.
"""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path

from ...atomic import atomic_write, describe_os_error
from ..output.gradflow import layer_grad_norms
from ..output.graph import graph_event
from ..output.histograms import summarize
from ..runtime.control import RunState
from ..runtime.distributed import bare_model
from ..output.sinks import RunResult
from .run_folder import SpaceReserve


class Lifecycle:
    def _emit(self, method: str, *args) -> None:
        for sink in self.sinks:
            getattr(sink, method)(*args)

    def _record_evaluation(self, step: int) -> None:
        """What the evaluation just done found beyond its metrics (the task's details),
        into the sinks that record it."""
        if self.task.details is not None:
            self._offer("evaluation", step, self.task.details)

    def _offer(self, method: str, *args) -> None:
        """Call ``method`` on the sinks that have it (``_emit``: on every sink)."""
        for sink in self.sinks:
            if hasattr(sink, method):
                getattr(sink, method)(*args)

    def _record_graph(self, model, example) -> None:
        """The graph traced from the first batch (one sample of it), for the sinks that
        record it; a model that cannot be traced is said in one line."""
        if not any(hasattr(sink, "graph") for sink in self.sinks):
            return
        event, why_not = graph_event(bare_model(model), example[:1])
        if event is None:
            self._say(why_not)
        else:
            self._offer("graph", event)

    def _say(self, text: str) -> None:
        """A line for the user, mid-run: the app's status (the snapshot's message) and
        the console, the sinks that print."""
        self._message = text
        self._offer("message", text)

    def _start_sampler(self, device):
        """sys/ scalars every --sys-every seconds into the sinks that take them."""
        if not self.config.sys_every:
            return None
        from ..output.system import SystemSampler

        def emit(step: int, values: dict[str, float]) -> None:
            for sink in self.sinks:
                if hasattr(sink, "system"):
                    sink.system(step, values)

        return SystemSampler(self.config.sys_every, lambda: max(self._step - 1, 0), emit,
                             cuda=device.type == "cuda").start()

    def _grad_flow(self, model) -> dict[str, float]:
        bare = bare_model(model)
        return layer_grad_norms(bare, getattr(bare, "own_name", str))

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

    def _report_skipped(self, data, gstep: int) -> None:
        """Images the streaming workers could not decode: counted in a scalar, and said
        once per new batch of them, never fatal."""
        n = len(data.skipped)
        if n != self._skipped_seen:
            self._skipped_seen = n
            self._emit("scalars", gstep, {"Data/skipped_images": n})
            self._say(skipped_text(data))

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


def skipped_text(data) -> str:
    if not data.skipped:
        return ""
    return (f"skipped {len(data.skipped)} image(s) that could not be decoded (first: "
            f"{data.skipped[0]})")
