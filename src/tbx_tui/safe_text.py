"""Outside text made safe to show: the one step between text that others wrote (log tags,
run folder names, text summaries, hparams, run-state reasons, model samples, the messages
of user code) and a terminal.

A terminal obeys the bytes it is sent: ``ESC ]0;…BEL`` sets its title, ``ESC ]52;c;…``
writes the user's clipboard, ``ESC [2J`` clears it, and bidi overrides reorder what the
user reads. Rich and Textual pass ESC through untouched, so text from a log would drive
the user's terminal. ``clean`` makes every such character visible instead (``\\x1b``,
``\\u202e``), replaces lone surrogates (they cannot even be encoded for output), and turns
bytes into text with invalid UTF-8 replaced. Nothing here imports more than ``re``.
"""

from __future__ import annotations

import re
from functools import lru_cache

# C0 controls, DEL, C1 controls (U+0080-U+009F: 8-bit CSI/OSC on some terminals), the
# bidi marks, embeddings, overrides and isolates, and lone surrogates.
_BIDI_AND_SURROGATES = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_SURROGATES}]")
# Text that is shown as lines (samples, reasons printed whole) keeps its newlines and tabs.
_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_SURROGATES}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}
REPLACEMENT = "\ufffd"


def _visible(m: re.Match) -> str:
    ch = m.group()
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return REPLACEMENT
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def clean(text, multiline: bool = False) -> str:
    """``text`` (str, bytes or anything with a str()) as display text: control bytes, DEL,
    C1 controls and bidi controls shown as escapes, lone surrogates and invalid UTF-8 as
    U+FFFD. One line unless ``multiline`` (then newlines and tabs stay, CRLF becomes LF)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = str(text)
    if multiline:
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        pattern = _LINES
    else:
        pattern = _ONE_LINE
    if pattern.search(text) is None:  # the usual case: nothing to change, nothing copied
        return text
    return pattern.sub(_visible, text)


@lru_cache(maxsize=8192)
def clean_name(text: str) -> str:
    """``clean`` for the few strings shown again and again (tags, run names)."""
    return clean(text)
