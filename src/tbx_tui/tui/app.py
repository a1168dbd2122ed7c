"""One factory, ``make_app``, used by the CLI and the tests alike: ``TrainApp`` (setup
form, then the live dashboard) or ``WatchApp``. The apps share ``themed.ThemedApp``."""

from __future__ import annotations

import time

from textual.app import App


def make_app(mode: str, *, config=None, watcher=None, theme: str | None = None,
             clock=time.time, live: bool = True, resume: str | None = None) -> App:
    if mode == "watch":
        from .watch_app import WatchApp

        return WatchApp(watcher, live=live, clock=clock, theme_name=theme)
    from .train_app import TrainApp

    return TrainApp(config, clock=clock, theme_name=theme, resume=resume)
