"""``tbx-tui``: the setup form, then training live on the dashboard."""

from __future__ import annotations

import time

from ..config import RunConfig
from .group import GroupSession
from .themed import ThemedApp
from .screens.setup import SetupScreen
from .screens.training import ConfirmQuit, TrainingScreen


class TrainApp(ThemedApp):
    TITLE = "tbx-tui"

    def __init__(self, config: RunConfig | None = None, clock=time.time,
                 theme_name: str | None = None, resume: str | None = None):
        super().__init__(theme_name, clock)
        self.initial = config or RunConfig()
        self.resume = resume  # tbx-tui --resume RUN_DIR: continue it, no form
        self.training = TrainingScreen(clock, self.initial.logdir)
        self._hung_up = False

    def on_mount(self) -> None:
        # Textual runs the base class's on_mount too (handlers run along the MRO).
        self.push_screen(self.training)
        if self.resume:  # the settings are the run's own: a form would start another run
            self.training.start(self.initial, resume=self.resume)
        else:
            self.open_setup(self.initial, first=True)

    def open_setup(self, config: RunConfig | None, first: bool = False) -> None:
        def chosen(result: RunConfig | None) -> None:
            if result is not None:
                self.training.start(result)

        self.push_screen(SetupScreen(config or self.initial, can_cancel=not first), chosen)

    async def action_quit(self) -> None:
        s = self.training.session
        if s is None or not s.running:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                closed = s.quit(timeout=2.0)
                if isinstance(s, GroupSession):  # it saves on its own, in its own session
                    late = (f"tbx-tui: the {s.config.nproc} processes are evaluating and "
                            f"saving in the background; their output: {s.output}")
                else:
                    late = ("tbx-tui: the trainer did not stop within 2 s; its logs may "
                            "lack the last interval")
                # 130, as headless after Ctrl+C: the run was cut short, not finished
                self.exit(return_code=130, message=None if closed else late)

        self.push_screen(ConfirmQuit(), answer)

    def close_runs(self, timeout: float = 10.0, hangup: bool = False) -> None:
        """Stop every run still training (no evaluation) and wait for its files to close.
        After SIGHUP (the terminal is gone) a run in N processes trains on: it has its own
        session and output file, and ``tbx-tui watch`` follows it again."""
        self._hung_up = self._hung_up or hangup
        for s in self.training.sessions:
            group = isinstance(s, GroupSession)
            if s.running and not (group and (self._hung_up or s.stop_sent)):
                s.quit(timeout)  # a group already told to stop saves on its own
