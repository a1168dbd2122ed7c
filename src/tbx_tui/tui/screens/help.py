"""`?`: every key of the screen underneath, with what it does."""

from __future__ import annotations

from rich.markup import escape
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
        rows = [f"[b]{_key(b.key_display or b.key)}[/b]  {escape(b.tooltip or b.description)}"
                for b in self._keys]
        text = "\n".join([self._about, "", *rows, "",
                          f"[b]{'tab':>12}[/b]  next pane: run table, tag tree (enter on a tag "
                          "selects its chart, or pins it to the grid); a click selects a chart",
                          f"[b]{'ctrl+p':>12}[/b]  command palette",
                          f"[b]{'escape':>12}[/b]  close this help"])
        with VerticalScroll(id="help"):
            yield Static(text)


# Textual's own keys: focus moves (the help's own "tab" line says what they do here) and
# the copy of selected text, which this screen has none of.
TEXTUAL_OWN = {"app.focus_next", "app.focus_previous", "screen.copy_text"}


def help_keys(bindings: list[Binding]) -> list[Binding]:
    """The screen's keys, then the app's (t: theme): each key once (its first binding:
    later ones answer when the first does not apply), footer or not."""
    keys: dict[str, Binding] = {}
    for b in bindings:
        if b.action not in TEXTUAL_OWN:
            keys.setdefault(b.key, b)
    return list(keys.values())


def _key(key: str) -> str:
    """A key, right-aligned in 12 columns, as markup. A lone "[" is escaped by hand: markup
    escaping leaves it as it is, and it then reaches the screen as "[[/b]"."""
    return " " * max(12 - len(key), 0) + key.replace("[", "\\[")
