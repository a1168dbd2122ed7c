"""Ctrl+C before a command's own handler is in place: kept, and acted on at known points.

Python's default handler raises KeyboardInterrupt wherever the interpreter happens to be.
While torch imports, that can be a finalizer or a callback from C, where the exception is
printed as "Exception ignored" and lost: on a busy machine a Ctrl+C in the first second
was swallowed and the run went on to finish (exit 0). Here the signal is only noted, and
the command stops at the next check (``check``), or says so at its end (``seen``)."""

from __future__ import annotations

import signal

_seen = False


def _note(signum, frame) -> None:
    global _seen
    _seen = True


def install() -> None:
    signal.signal(signal.SIGINT, _note)


def seen() -> bool:
    return _seen


def check() -> None:
    """Raise the KeyboardInterrupt a noted Ctrl+C stands for (cli.main says it in one line)."""
    if _seen:
        raise KeyboardInterrupt


def release() -> None:
    """For a command with no handler of its own: a noted Ctrl+C now, else Python's."""
    check()
    signal.signal(signal.SIGINT, signal.default_int_handler)
