"""The samples panel: the newest text a language model generated at its evaluations
(``Samples/…`` text summaries, TensorBoard's Text tab) for the highlighted run, under the
charts. Hidden for runs without samples."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from . import Panel, PanelContext

PREFIX = "Samples/"
MAX_LINES = 12


def sample_text(raw: str) -> str:
    """The sample without the markdown code fence it is stored in (sinks.py)."""
    text = raw.strip("\n")
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].strip("\n")
    return text


class SamplesPanel(Static, Panel):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "samples"
        self._sig = None

    def sync_panel(self, ctx: PanelContext) -> bool:
        run = ctx.runs.get(ctx.current) if ctx.current else None
        tags = sorted(t for t in run.texts if t.startswith(PREFIX)) if run else []
        points = run.texts[tags[0]] if tags else []
        if not points:
            self.display = False
            self._sig = None
            return False
        last = points[-1]
        # At most 30% of the screen (app.tcss), its title one row of it: the newest lines
        height = min(max(int(self.app.size.height * 0.3) - 2, 2), MAX_LINES)
        sig = (ctx.current, last.step, len(points))
        if sig == self._sig and self.display:
            return False
        self._sig = sig
        self.display = True
        self.border_title = f"samples · step {last.step:,} · {len(points)} so far"
        lines = sample_text(last.text).splitlines()[-height:]  # the end: the newest tokens
        # Plain text, never markup: a sample is whatever the model wrote, brackets too.
        # Long lines wrap; the panel's max-height keeps it to its rows.
        self.update(Text("\n".join(lines), no_wrap=False, overflow="fold"))
        return True
