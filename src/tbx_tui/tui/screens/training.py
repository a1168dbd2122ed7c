"""The dashboard of the runs trained in this app, plus their controls.

The charts come from the run folders' event files through the same LogWatcher and
MetricStore as ``tbx-tui watch``; only the status line reads the trainer directly (its
progress snapshot).
"""

from __future__ import annotations

import os
import re

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from ..widgets.ordered_input import OrderedInput
from ...progress import progress_parts
from ...reports import report_for
from ...config import ConfigError, RunConfig, check_field, load_toml
from ...logs.watcher import LogWatcher, run_status
from ..panels.run_table import RunTable
from ..group import GroupSession
from ..training import TrainingSession
from .dashboard import DashboardScreen, acting_first


class LrScreen(ModalScreen[float | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, current: float):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"New learning rate (now {self.current:.3g}), Enter to apply:")
            yield OrderedInput(value=f"{self.current:g}", id="lr")
            yield Static("", id="lr-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            value = float(event.value)
            check_field("lr", value)  # the same rule as --lr and the setup form
        except ConfigError as e:
            self.query_one("#lr-error", Static).update(f"✗ {e.rule}")
            return
        except ValueError:
            self.query_one("#lr-error", Static).update("✗ must be a number")
            return
        self.dismiss(value)


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [Binding("escape,n", "dismiss(False)", "No"), Binding("y", "dismiss(True)", "Yes")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("A run is training. Stop it, save it and quit? (y/n)")
            yield Button("Stop and quit", id="yes", variant="error")
            yield Button("Keep training", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def _end_metrics(m: dict[str, float]) -> list[tuple[int, str]]:
    """The evaluation at the end, the headline first, as the run's task reports it."""
    first, second = report_for(m).headline(m)
    return [(1, escape(first)), (2, escape(second))]


class TrainingScreen(DashboardScreen, inherit_bindings=False):
    """The dashboard of the runs trained in this app. The watcher reads their log
    directories, but only this session's run folders until ``a`` asks for the earlier
    runs there too (reading them costs the training thread time)."""

    BINDINGS = acting_first([
        Binding("p", "pause", "Pause", tooltip="pause / resume the run"),
        Binding("s", "stop", "Stop", tooltip="stop the run: it finishes the step, "
                "evaluates, saves model.pt"),
        Binding("n", "new_run", "New", tooltip="new run: the form again, prefilled"),
        Binding("L", "set_lr", "Set LR", show=False,
                tooltip="set the learning rate of the running run"),
        Binding("a", "earlier_runs", "Earlier runs", show=False,
                tooltip="show / hide the earlier runs of the log directory"),
        Binding("R", "resume_run", "Resume",
                tooltip="continue the highlighted run (stopped, failed or stale) from its "
                "newest checkpoint, in its own folder"),
        # When the footer hides one of the keys above (check_action), the same key comes
        # here: it still answers, with a note saying why it does not apply now.
        Binding("p", "not_now('pause')", show=False),
        Binding("s", "not_now('stop')", show=False),
        Binding("L", "not_now('set_lr')", show=False),
        Binding("R", "not_now('resume_run')", show=False),
        # The run's own keys first in the footer (not inherited: those would go last).
        *DashboardScreen.BINDINGS,
        *Screen.BINDINGS,
    ])

    UI_BUDGET = 0.03  # a run trains in this process: the charts take ≤ 3% of a core

    def __init__(self, clock, logdir: str | None = None):
        watcher = LogWatcher([], interval=1.0)
        watcher.only = set()
        super().__init__(watcher.store, "", watcher, clock,
                         layout_key=os.path.abspath(logdir) if logdir else None)
        self.sessions: list[TrainingSession] = []
        self._watched: set[str] = set()
        self.logdir = logdir or "runs"
        if logdir:
            watcher.roots.append(os.path.abspath(logdir))

    @property
    def session(self) -> TrainingSession | None:
        return self.sessions[-1] if self.sessions else None

    def on_mount(self) -> None:
        # Textual runs the base class's on_mount too (handlers run along the MRO).
        self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.stop()

    def start(self, config, resume: str | None = None) -> None:
        """A run (RunConfig), or a sweep (Sweep: the form had lists or ranges in it)."""
        from ...sweep.definition import Sweep

        if isinstance(config, Sweep):
            from ..sweep_session import SweepSession

            self.sessions.append(SweepSession(config, self.logdir).start())
            return
        session = GroupSession if config.nproc > 1 else TrainingSession
        self.sessions.append(session(config, resume).start())

    # Keys for a run that is training, and keys for when none is: the footer offers
    # only what applies now (the hidden ones still answer: not_now).
    WHILE_TRAINING = {"pause", "stop", "set_lr"}
    WHILE_IDLE = {"resume_run"}

    def check_action(self, action: str, parameters) -> bool | None:
        if action in self.WHILE_TRAINING or action in self.WHILE_IDLE:
            training = self.session is not None and self.session.running
            return training == (action in self.WHILE_TRAINING)
        return True

    def action_not_now(self, action: str) -> None:
        getattr(self, f"action_{action}")()  # each says why it does not apply now

    def refresh_view(self) -> None:
        s = self.session
        training = s is not None and s.running
        if training != getattr(self, "_footer_training", None):
            self._footer_training = training
            self.refresh_bindings()
        if s is not None and s.run_dir is not None and str(s.run_dir) not in self._watched:
            self._watched.add(str(s.run_dir))
            root = os.path.abspath(s.run_dir.parent)
            if root not in self.watcher.roots:
                self.watcher.roots.append(root)
            if self.watcher.only is not None:
                self.watcher.only = {*self.watcher.only, os.path.realpath(s.run_dir)}
            self.watcher.poll_now()
        super().refresh_view()

    def action_earlier_runs(self) -> None:
        w = self.watcher
        if w.only is None:
            w.only = {os.path.realpath(p) for p in self._watched}
            self.notify("earlier runs hidden")
        else:
            if not w.left_out:
                self.notify("no earlier runs in " + ", ".join(w.roots), severity="warning")
                return
            w.only = None
            self.notify(f"reading {w.left_out} earlier run(s)")
        w.poll_now()

    def status_parts(self, now: float) -> list[tuple[int, str]]:
        s = self.session
        width = self.query_one("#status").size.width - 2
        if s is None:
            parts = [(0, "no run yet: n opens the setup form")]
        elif hasattr(s, "sweep"):
            parts = self._sweep_parts(s)
        elif isinstance(s, GroupSession):
            parts = self._group_parts(s)
        elif s.error:
            state = s.result.state.value if s.result else "failed"
            parts = [(-1, f"[b red]{state}[/]: {escape(s.error)}")]  # whole, wrapped
        elif s.trainer is None:
            parts = [(0, "starting: loading torch and the data…")]
        elif s.result is not None and s.result.metrics:  # ended: the test metrics, not train
            parts = [(0, f"[b cyan]{s.result.state.value}[/]"),
                     (0, escape(f"{s.result.steps:,} steps")),
                     *_end_metrics(s.result.metrics),
                     (3, escape(f"{s.config.model} on {s.config.data}")),
                     (4, escape(str(s.run_dir)))]
        else:
            parts = progress_parts(s.trainer.snapshot(), s.config.model, s.config.data,
                                   str(s.run_dir or ""), width)
        if self._pace >= 2.0:  # why new points take a while to appear
            parts.append((4, f"charts redraw every {self._pace:.0f} s (UI ≤ 3% CPU)"))
        if self.watcher.left_out:
            parts.append((2, f"{self.watcher.left_out} earlier run(s) (a: show)"))
        return parts

    def _sweep_parts(self, s) -> list[tuple[int, str]]:
        """A sweep in its own processes: its trials' states and best from their files, its
        end from its exit code and its output's last line."""
        from ..sweep_data import read

        out = (4, escape(f"output: {s.output}"))
        ended = s.ended
        if ended == "failed":
            line = s.error or s.last_line() or "no output"
            return [(-1, f"[b red]failed[/]: {escape(line.removeprefix('tbx-tui sweep: error: '))}"),
                    out]
        done = "" if ended is None else f"[b cyan]{ended}[/] "
        if s.run_dir is None:
            return [(0, done or "starting the sweep…"), out]
        with self.store.lock:
            data = read(s.folder, dict(self.store.runs), self.clock())
        counts = ", ".join(f"{n} {k}" for k, n in sorted(data.counts().items())) or "no trial yet"
        best = data.best()
        parts = [(0, done or ("[b green]sweep[/]" if not s.stop_sent else
                              "[b yellow]stopping[/]")),
                 (0, escape(f"{s.folder.name}: {counts}")), (3, "w: sweep view"), out]
        if best is not None:
            parts.insert(2, (1, escape(f"best trial {best.number}: {best.value:.4g}")))
        return parts

    def _group_parts(self, s: GroupSession) -> list[tuple[int, str]]:
        """A run in N processes: its progress from its event files, its end from its exit
        code and the last line of its output."""
        n = s.config.nproc
        out = (4, escape(f"output: {s.output}"))
        ended = s.ended
        if ended is not None:
            line = s.error or s.last_line() or "no output"
            # "stopped: FOLDER (N steps in T)  test loss …": the end line of the run
            m = re.match(r"(\w+): (.+?) \(([^)]*)\)\s+(.*)$", line)
            if ended != "failed" and m:
                # the headline (loss and accuracy, or perplexity) outlasts the rest on a
                # narrow terminal, as for a run in this process (_end_metrics)
                metrics = m.group(4).split("  ")
                rest = [(2, escape("  ".join(metrics[2:])))] if metrics[2:] else []
                return [(0, f"[b cyan]{ended}[/]"), (0, escape(m.group(3))),
                        (1, escape("  ".join(metrics[:2]))), *rest,
                        (4, escape(m.group(2))), out]
            line = line.removeprefix(f"{ended}: ").removeprefix("tbx-tui: error: ")
            return [(-1, f"[b red]{ended}[/]: {escape(line)}"), out]  # whole, wrapped
        run = self.store.runs.get(s.config.name)
        series = run.scalars.get("Loss/train") if run else None
        if series is None or not len(series.steps):
            return [(0, f"starting {n} processes…" if not s.stop_sent else "stopping…"), out]
        parts = [(0, "[b green]training[/]" if not s.stop_sent else "[b yellow]stopping[/]"),
                 (0, escape(f"{n} processes")),
                 (0, escape(f"step {int(series.steps[-1]):,}")),
                 (1, escape(f"loss {float(series.values[-1]):.4f}")),
                 (3, escape(f"{s.config.model} on {s.config.data}")), out]
        return parts

    def _training(self) -> TrainingSession | None:
        """The running session, or None after saying there is none."""
        s = self.session
        if isinstance(s, GroupSession) and s.running:
            self.notify(f"a run in {s.label} cannot pause or change its "
                        "learning rate: s stops it, R resumes it", severity="warning")
            return None
        if s is not None and s.running and s.control is None:
            self.notify("the run is still starting (loading torch): again in a moment",
                        severity="warning")
            return None
        if s is None or not s.running or s.control is None:
            self.notify("no run is training (n starts one)", severity="warning")
            return None
        return s
    def action_pause(self) -> None:
        s = self._training()
        if s is None:
            return
        if s.control.paused:
            s.control.resume()
        else:
            s.control.pause()
        self._status(self.clock())  # shown now, not at the next tick

    def action_stop(self) -> None:
        g = self.session
        if isinstance(g, GroupSession) and g.running:
            g.stop()
            self.notify(f"stopping {g.label}: finishing the step, evaluating, saving"
                        if not hasattr(g, "sweep") else "interrupting the sweep: "
                        "`tbx-tui sweep --resume` continues it from the trial's checkpoint")
            return
        s = self.session
        if s is not None and s.running and s.control is None:  # still importing torch
            s.stop()
            self.notify("stopping: the run ends as soon as it has loaded")
            return
        s = self._training()
        if s is not None:
            s.stop()
            self.notify("stopping: finishing the step, evaluating, saving")

    def action_set_lr(self) -> None:
        s = self._training()
        if s is None:
            return

        def apply(value: float | None) -> None:
            if value is not None:
                s.control.set_lr(value)
                self.notify(f"learning rate set to {value:g}")

        self.app.push_screen(LrScreen(s.trainer.snapshot().lr), apply)

    def action_resume_run(self) -> None:
        s = self.session
        if s is not None and s.running:
            self.notify("a run is training: stop it first (s)", severity="warning")
            return
        name = self.query_one(RunTable).current
        run = self.store.runs.get(name) if name else None
        if run is None:
            self.notify("no run highlighted", severity="warning")
            return
        state = run_status(run, self.clock())
        if state in ("live", "finished"):
            self.notify(f"{name} is {state}: nothing to resume", severity="warning")
            return
        folder = os.path.join(run.path, "checkpoints")
        if not os.path.isdir(folder) or not any(f.endswith(".pt") for f in os.listdir(folder)):
            self.notify(f"{name} has no checkpoint to resume from", severity="error")
            return
        try:  # the run's own settings, where the run folder is now
            values = load_toml(os.path.join(run.path, "config.toml"))
            config = RunConfig(**{**values, "logdir": os.path.dirname(run.path),
                                  "name": os.path.basename(run.path)})
        except (ConfigError, TypeError) as e:
            self.notify(f"cannot resume {name}: {e}", severity="error")
            return
        self.start(config, resume=run.path)
        self.notify(f"resuming {name} from its newest checkpoint")

    def action_new_run(self) -> None:
        s = self.session
        if s is not None and s.running:
            self.notify("a run is training: stop it first (s)", severity="warning")
            return
        self.app.open_setup(s.config if s else None)
