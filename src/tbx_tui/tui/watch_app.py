"""``tbx-tui watch``: the dashboard over log directories, fed by a LogWatcher thread."""

from __future__ import annotations

import os
import time

from ..logs.watcher import LogWatcher
from .screens.dashboard import DashboardScreen
from .themed import ThemedApp


class WatchApp(ThemedApp):
    TITLE = "tbx-tui watch"

    def __init__(self, watcher: LogWatcher, live: bool = True, clock=time.time,
                 theme_name: str | None = None):
        super().__init__(theme_name, clock)
        self.watcher = watcher
        self.live = live

    def on_mount(self) -> None:
        # Textual runs the base class's on_mount too (handlers run along the MRO).
        title = "watching " + ", ".join(self.watcher.roots)
        key = "|".join(os.path.abspath(r) for r in self.watcher.roots)  # the grid is kept per logdir
        self.push_screen(DashboardScreen(self.watcher.store, title, self.watcher, self.clock,
                                         layout_key=key))
        if self.live:
            self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.stop()
