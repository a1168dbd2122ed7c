"""The dashboard of the runs trained in this app, plus their controls.

The charts come from the run folders' event files through the same LogWatcher and
MetricStore as ``tbx-tui watch``; only the status line reads the trainer directly (its
progress snapshot).
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...progress import format_progress, metrics_line
from ...config import ConfigError, check_field
from ...logs.watcher import LogWatcher
from ..training import TrainingSession
from .dashboard import DashboardScreen


class LrScreen(ModalScreen[float | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, current: float):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"New learning rate (now {self.current:.3g}), Enter to apply:")
            yield Input(value=f"{self.current:g}", id="lr")
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


class TrainingScreen(DashboardScreen):
    BINDINGS = [
        Binding("p", "pause", "Pause/resume"),
        Binding("s", "stop", "Stop run"),
        Binding("n", "new_run", "New run"),
        Binding("L", "set_lr", "Set LR"),
        *DashboardScreen.BINDINGS,
    ]

    def __init__(self, clock):
        watcher = LogWatcher([], interval=1.0)
        super().__init__(watcher.store, "", watcher, clock)
        self.sessions: list[TrainingSession] = []
        self._watched: set[str] = set()

    @property
    def session(self) -> TrainingSession | None:
        return self.sessions[-1] if self.sessions else None

    def on_mount(self) -> None:
        # Textual runs the base class's on_mount too (handlers run along the MRO).
        self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.stop()

    def start(self, config) -> None:
        self.sessions.append(TrainingSession(config).start())

    def refresh_view(self) -> None:
        s = self.session
        if s is not None and s.run_dir is not None and str(s.run_dir) not in self._watched:
            self._watched.add(str(s.run_dir))
            self.watcher.roots.append(str(s.run_dir))
            self.watcher.poll_now()
        super().refresh_view()

    def _status(self, now: float) -> None:
        s = self.session
        if s is None:
            self.set_status("no run yet: n opens the setup form")
        elif s.error:
            state = s.result.state.value if s.result else "failed"
            self.set_status(f"[b red]{state}[/]: {escape(s.error)}")
        elif s.trainer is None:
            self.set_status("starting…")
        elif s.result is not None and s.result.metrics:  # ended: the test metrics, not train
            state = s.result.state.value
            self.set_status(f"[b cyan]{state}[/]" + escape(
                f"  {s.config.model} on {s.config.data}  {s.result.steps:,} steps  test "
                f"{metrics_line(s.result.metrics)}  ·  {s.run_dir}"))
        else:
            self.set_status(format_progress(s.trainer.snapshot(), s.config.model,
                                            s.config.data, str(s.run_dir or "")))

    def _training(self) -> TrainingSession | None:
        """The running session, or None after saying there is none."""
        s = self.session
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

    def action_stop(self) -> None:
        s = self._training()
        if s is not None:
            s.control.stop()
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

    def action_new_run(self) -> None:
        s = self.session
        if s is not None and s.running:
            self.notify("a run is training: stop it first (s)", severity="warning")
            return
        self.app.open_setup(s.config if s else None)
