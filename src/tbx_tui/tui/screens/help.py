"""`?`: every key of the screen underneath, with what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding], about: str):
        super().__init__()
        self._keys = bindings
        self._about = about

    def compose(self) -> ComposeResult:
        rows = [f"[b]{b.key_display or b.key:>12}[/b]  {b.description}" for b in self._keys]
        text = "\n".join([self._about, "", *rows, "", "ctrl+p: command palette",
                          "escape: close this help"])
        with VerticalScroll(id="help"):
            yield Static(text)
