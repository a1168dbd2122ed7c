"""The one-line errors any part of the engine raises before a run folder exists: the CLI
prints ``str()`` and exits 2 (a setting that cannot work) or 1 (something missing here)."""

from __future__ import annotations


class DataUnavailable(RuntimeError):
    """The dataset cannot be loaded; ``str()`` is one line that says what to do."""


class DataCorrupt(DataUnavailable):
    """A dataset file is there but damaged; ``str()`` names the file and what is wrong."""


class ModelUnusable(ValueError):
    """A model reference that cannot give a working model. ``str()`` is one line that
    names the setting; the CLI exits 2 with it, before any run folder exists."""

    def __init__(self, message: str):
        super().__init__(f"model: {message}")


class InitUnusable(ValueError):
    """Weights that cannot be used: one line naming the setting (exit 2)."""


class InitUnavailable(RuntimeError):
    """Pretrained weights that are not on this machine and cannot be downloaded (exit 1)."""


class DeviceUnavailable(ValueError):
    """The requested device is not present; ``str()`` is the one-line message."""


class TaskUnusable(ValueError):
    """A setting the run's task cannot use (image augmentation on a table of features):
    one line naming the setting (exit 2)."""
