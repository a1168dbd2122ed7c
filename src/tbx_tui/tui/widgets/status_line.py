"""A status line that fits its width: parts are dropped by priority, never cut
mid-word; what is left is joined with " · "."""

from __future__ import annotations

from rich.text import Text

from ...safe_text import clean

SEP = "  ·  "


def fit_parts(parts: list[tuple[int, str]], width: int) -> Text:
    """``parts``: (priority, Rich markup), lower priorities kept longer, order kept. When
    even the most important part is too wide, it is cut at a word with "…" — unless its
    priority is negative (a failure: every word of it matters), when the line is left
    whole to wrap."""
    # The one way onto the status line: messages of user code and of other processes
    # (a run's error, a group's output) arrive here, and go on without control bytes.
    texts = [(prio, Text.from_markup(clean(markup))) for prio, markup in parts if markup]
    width = max(width, 10)
    if any(p < 0 for p, _ in texts):
        return Text(SEP).join(t for p, t in texts if p < 0)
    levels = sorted({p for p, _ in texts}, reverse=True)
    for level in levels[:-1]:  # the most important level stays, cut if need be
        if len(Text(SEP).join(t for _, t in texts).plain) <= width:
            break
        texts = [(p, t) for p, t in texts if p < level]
    line = Text(SEP).join(t for _, t in texts)
    if len(line.plain) <= width:
        return line
    end = line.plain.rfind(" ", 0, width)
    line.truncate(end if end > width // 2 else width - 1)
    line.append("…")
    return line
