"""``tbx-tui watch``: the dashboard over log directories, fed by a LogWatcher thread."""

from __future__ import annotations

import time

from textual.app import App

from ..logs.watcher import LogWatcher
from .screens.dashboard import DashboardScreen


class WatchApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tbx-tui watch"

    def __init__(self, watcher: LogWatcher, live: bool = True, clock=time.time):
        super().__init__()
        self.watcher = watcher
        self.live = live
        self.clock = clock

    def on_mount(self) -> None:
        title = "watching " + ", ".join(self.watcher.roots)
        self.push_screen(DashboardScreen(self.watcher.store, title, self.watcher, self.clock))
        if self.live:
            self.watcher.start()

    def on_unmount(self) -> None:
        self.watcher.stop()


def run_watch_app(watcher: LogWatcher) -> int:
    WatchApp(watcher).run()
    return 0
