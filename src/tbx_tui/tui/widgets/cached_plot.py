"""A PlotextPlot that builds its text only when its figure, size or theme changed.

textual-plotext rebuilds the whole plotext figure on every render, and Textual renders a
widget again on any layout pass: with the status line ticking, that was most of the UI
thread's time while training (and the trainer thread's loss).
"""

from __future__ import annotations

import time

from textual_plotext import PlotextPlot


class CachedPlot(PlotextPlot):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._figure_version = 0
        self._cache_key = None
        self._cached = None
        self.build_seconds = 0.0  # what the last build cost the UI thread

    def changed(self) -> None:
        """Call after drawing into ``self.plt``."""
        self._figure_version += 1
        self.refresh()

    def render(self):
        key = (self._figure_version, self.size, self.app.theme)
        if key != self._cache_key or self._cached is None:
            t0 = time.perf_counter()
            self._cached = super().render()
            self._cache_key = key
            self.build_seconds = time.perf_counter() - t0
        return self._cached
