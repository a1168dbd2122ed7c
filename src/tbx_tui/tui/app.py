"""The apps: ``TrainApp`` (setup form, then the live dashboard) and ``WatchApp``, sharing
themes and one factory, ``make_app``, used by the CLI and the tests alike."""

from __future__ import annotations

import time

from textual.app import App
from textual.binding import Binding

from .themes import DEFAULT_THEME, available_themes, rgb
from .widgets.palette import set_palette


class ThemedApp(App):
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("t", "next_theme", "Theme")]

    def __init__(self, theme_name: str | None = None, clock=time.time):
        super().__init__()
        self.clock = clock
        self.plot_themes, self.theme_problems = available_themes()
        for t in self.plot_themes.values():
            self.register_theme(t.theme)
        self._wanted_theme = theme_name or DEFAULT_THEME

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self._wanted_theme in self.plot_themes:
            self.theme = self._wanted_theme
        self._theme_changed(self.current_theme)
        for problem in self.theme_problems:
            self.notify(problem, severity="warning")

    def _theme_changed(self, theme) -> None:
        plot = self.plot_themes.get(theme.name)
        bg = theme.background or ("#1e1e1e" if theme.dark else "#ffffff")
        set_palette(plot.runs if plot else None, rgb(bg))
        for screen in self.screen_stack:
            if hasattr(screen, "invalidate_plots"):
                screen.invalidate_plots()

    def action_next_theme(self) -> None:
        names = sorted(self.plot_themes)
        if names:
            i = names.index(self.theme) if self.theme in names else -1
            self.theme = names[(i + 1) % len(names)]
            self.notify(f"theme: {self.theme}", timeout=2)


def make_app(mode: str, *, config=None, watcher=None, theme: str | None = None,
             clock=time.time, live: bool = True) -> App:
    if mode == "watch":
        from .watch_app import WatchApp

        return WatchApp(watcher, live=live, clock=clock, theme_name=theme)
    from .train_app import TrainApp

    return TrainApp(config, clock=clock, theme_name=theme)
