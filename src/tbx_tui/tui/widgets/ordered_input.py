"""An Input whose editing keys act in the order they were typed.

Textual's Input inserts a printable key in its own key handler, at once, but runs its
editing keys (backspace, delete, arrows, home/end) as bindings, after the key event has
bubbled up to the app. Typed in one burst — select the field, backspace, then digits —
the digits went in first and the backspaces then deleted the last of them: in the 80x24
form "123457" became "1234" (tests/test_app.py types it through a real terminal). Here
an editing key the Input binds runs in the same handler as the characters, in order."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if binding.action.startswith(("delete_", "cursor_", "home", "end")):
                    event.stop()
                    event.prevent_default()
                    self._restart_blink()
                    await self.run_action(binding.action)
                    return
        await super()._on_key(event)
