"""The command lines' parser: a refusal is one line and exit 2, its values shown as data."""

from __future__ import annotations

import argparse

from .safe_text import clean


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; we want one line, and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None):
        # Every refusal line: its values may come from a file someone else wrote (a run
        # folder's config.toml on --resume), so they are shown as data.
        super().exit(status, clean(message.rstrip("\n")) + "\n" if message else message)
