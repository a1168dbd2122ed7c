"""A PlotextPlot that builds its text only when its figure, size or theme changed, and
that shows a drawing error inside itself instead of passing it on.

textual-plotext rebuilds the whole plotext figure on every render, and Textual renders a
widget again on any layout pass: with the status line ticking, that was most of the UI
thread's time while training (and the trainer thread's loss).

plotext raises on some inputs (a log scale with nothing positive, among others). An
exception that leaves a widget ends the Textual app, and with it a training run on a
thread of the same process; so this panel's edge is where drawing errors stop.
"""

from __future__ import annotations

from plotext._dict import themes as _plotext_themes
from rich.text import Text
from textual.color import Color
from textual.geometry import Region
from textual_plotext import PlotextPlot
from textual_plotext.plot import _rgbify_theme, _sequence


class CachedPlot(PlotextPlot):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._figure_version = 0
        self._cache_key = None
        self._cached = None
        self.error: str | None = None  # the last drawing error, shown in the panel
        self._lines: list[str] | None = None  # the last figure's lines, as built

    def _register_theme(self, app_theme_name: str) -> None:
        """textual-plotext registers a plotext theme per app theme once, process-wide,
        from ``app.theme_variables`` — which, when the theme-changed signal fires, still
        hold the previous theme's colours: after ``t`` a chart kept the old theme's axes
        and text. Here the colours come from the named theme itself, every time."""
        if self.theme != "auto":
            return
        theme = self.app.get_theme(app_theme_name)
        variables = theme.to_color_system().generate() if theme else self.app.theme_variables
        surface = Color.parse(variables.get("surface", "#000000")).rgb
        _plotext_themes[self._get_plotext_theme_name(app_theme_name)] = _rgbify_theme(
            surface, surface, Color.parse(variables.get("foreground", "#ffffff")).rgb,
            "default", _sequence)
        self._cache_key = None
        self.refresh()

    def changed(self) -> None:
        """Call after drawing into ``self.plt``. The new figure is built now and only the
        lines that differ from the last one are repainted: a new point moves a few cells,
        and repainting the whole chart cost ~3× the bytes over SSH (bench_ssh_bytes.py)."""
        self._figure_version += 1
        before = self._lines
        if not self.is_mounted or not self.size.area or before is None:
            self.refresh()
            return
        self.render()  # builds the figure, and self._lines with it
        after = self._lines
        if after is None or len(after) != len(before):
            self.refresh()
            return
        changed = [y for y, (a, b) in enumerate(zip(before, after)) if a != b]
        if not changed:
            return
        if len(changed) > len(after) // 2:  # most of it: one region costs Textual less
            self.refresh()
            return
        spans: list[list[int]] = []  # runs of adjacent lines, one region each
        for y in changed:
            if spans and spans[-1][1] == y - 1:
                spans[-1][1] = y
            else:
                spans.append([y, y])
        width = self.size.width
        self.refresh(*(Region(0, a, width, b - a + 1) for a, b in spans))

    def draw_safely(self, draw, *args) -> None:
        """Run ``draw(*args)`` (which fills ``self.plt``); an error is shown, not raised."""
        self.error = None
        try:
            draw(*args)
        except Exception as e:  # any plotext or data failure: this panel only
            self._failed(e)
        self.changed()

    def _failed(self, e: Exception) -> None:
        self.error = f"{type(e).__name__}: {e}"
        self.plt.clear_figure()

    def render(self):
        key = (self._figure_version, self.size, self.app.theme)
        if key != self._cache_key or self._cached is None:
            self._lines = None
            if self.error is None:
                try:
                    self._cached = self._build()
                except Exception as e:
                    self._failed(e)
            if self.error is not None:
                self._cached = Text(f"this chart could not be drawn ({self.error}); "
                                    "the data and any training run are unaffected",
                                    style="bold red")
            self._cache_key = key
        return self._cached

    def _build(self) -> Text:
        """textual-plotext's render, keeping the figure's lines to compare the next with."""
        plot = self.plt
        plot.plotsize(self.size.width, self.size.height)
        plot._set_size(self.size.width, self.size.height)  # as textual-plotext does (its #5)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        built = plot.build()
        self._lines = built.split("\n")
        return Text.from_ansi(built)


def fit_title(text: str, width: int) -> str:
    """A title that fits a chart ``width`` columns wide: plotext silently drops a title
    wider than its canvas (the width less the y tick labels: up to ~10 columns)."""
    room = max(width - 10, 6)
    return text if len(text) <= room else text[: room - 1] + "…"
