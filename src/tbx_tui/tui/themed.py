"""``ThemedApp``: what both apps share — our themes (and only ours, in ``t`` and the
command palette), SIGTERM/SIGHUP handling, and the command palette's list of actions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding

from ..safe_text import clean
from .themes import DEFAULT_THEME, available_themes, rgb
from .widgets.palette import set_palette

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
EXIT_GRACE_S = 5.0


def _exit_later(code: int, delay: float) -> None:
    time.sleep(delay)
    os._exit(code)


class ThemedApp(App):
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("t", "next_theme", "Theme", show=False, tooltip="next theme")]

    def __init__(self, theme_name: str | None = None, clock=time.time):
        super().__init__()
        self.clock = clock
        self.plot_themes, self.theme_problems = available_themes()
        for t in self.plot_themes.values():
            self.register_theme(t.theme)
        self._wanted_theme = theme_name or DEFAULT_THEME
        self._signals: dict[int, object] = {}  # signal -> the handler it had before
        self._stopping = False
        self._loop = None

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._catch_stop_signals()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self._wanted_theme in self.plot_themes:
            self.theme = self._wanted_theme
        self._theme_changed(self.current_theme)
        for problem in self.theme_problems:
            self.notify(problem, severity="warning")

    def _catch_stop_signals(self) -> None:
        """SIGTERM (kill, a scheduler) and SIGHUP (a dropped SSH session) end the app the
        way q does: runs stopped and saved, files closed, the terminal given back. Left to
        their defaults they kill the process mid-write with the terminal still in the
        alternate screen and mouse tracking on.

        The handler is Python's own, not the event loop's: a terminal that is gone or no
        longer read blocks Textual's output queue, and with it the loop, for good (seen:
        an orphaned ``watch`` alive 59 minutes after SIGHUP and SIGTERM). Python runs this
        handler even in a thread blocked on that queue, and it hands the rest to a thread
        of its own."""
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers (an app run by a test thread)
        for sig in STOP_SIGNALS:
            self._signals[sig] = signal.signal(sig, self._on_stop_signal)

    def on_unmount(self) -> None:
        for sig, previous in self._signals.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._signals.clear()

    def _on_stop_signal(self, sig: int, frame) -> None:
        if self._stopping:  # a second signal: the first one's thread is on it
            return
        self._stopping = True
        threading.Thread(target=self.stop_on_signal, args=(sig,), daemon=True,
                         name="tbx-stop").start()

    def stop_on_signal(self, sig: int) -> None:
        """On its own thread: whatever the UI thread is stuck on, the runs are saved and
        closed, then the app is asked to exit, and the process ends within
        ``EXIT_GRACE_S`` of that whether or not Textual's shutdown got through (after
        SIGHUP the terminal is gone: its writer thread dies on EIO, then its full queue
        blocks the exit)."""
        code = 128 + sig
        try:
            self.close_runs(hangup=sig == signal.SIGHUP)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may have closed already
                self._loop.call_soon_threadsafe(partial(self.exit, return_code=code))
            _exit_later(code, EXIT_GRACE_S)

    def close_runs(self, timeout: float = 10.0, hangup: bool = False) -> None:
        """Stop whatever this app runs, saved and closed (the trainer app has runs)."""

    def _theme_changed(self, theme) -> None:
        plot = self.plot_themes.get(theme.name)
        bg = theme.background or ("#1e1e1e" if theme.dark else "#ffffff")
        set_palette(plot.runs if plot else None, rgb(bg))
        for screen in self.screen_stack:
            if hasattr(screen, "invalidate_plots"):
                screen.invalidate_plots()

    def notify(self, message: str, **kwargs) -> None:
        """Every toast of both apps: run names, paths and errors in it are shown as data,
        control bytes and markup alike (none of our toasts uses markup)."""
        kwargs.setdefault("markup", False)
        super().notify(clean(message, multiline=True), **kwargs)

    def action_next_theme(self) -> None:
        names = sorted(self.plot_themes)
        if names:
            i = names.index(self.theme) if self.theme in names else -1
            self.theme = names[(i + 1) % len(names)]
            self.notify(f"theme: {self.theme}", timeout=2)

    def get_system_commands(self, screen):
        """The command palette: the screen's actions (what its keys do), our themes, help,
        quit. Not Textual's theme picker: it offers ~20 themes that carry no run colours."""
        seen = set()
        for b in [*getattr(screen, "BINDINGS", ()), *self.BINDINGS]:
            if not isinstance(b, Binding) or not b.description or b.action in seen:
                continue
            seen.add(b.action)
            key = b.key_display or b.key.split(",")[0]
            yield SystemCommand(b.description, f"{key}: {b.tooltip or b.description}",
                                partial(self._run_palette_action, screen, b.action))
        for name in sorted(self.plot_themes):
            yield SystemCommand(f"Theme: {name}", f"colours from {self.plot_themes[name].source}",
                                partial(setattr, self, "theme", name))
        yield SystemCommand("Quit", "Quit (asks first while a run is training)", self.action_quit)
        yield SystemCommand("Screenshot", "Save an SVG screenshot of the screen",
                            lambda: self.set_timer(0.1, self.deliver_screenshot))

    def _run_palette_action(self, screen, action: str) -> None:
        self.call_later(screen.run_action, action)  # "app.…" actions resolve from there
