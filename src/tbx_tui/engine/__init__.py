"""The training engine: torch lives here and nowhere above it in the UI.

Layers, lowest first; a module imports only from its own layer or lower ones
(tests/test_boundaries.py checks it, and that importing this package imports no textual):
``runtime`` (device, process group, run control, errors, the user's code) →
``vision`` and ``language`` (data and models of each family) → ``output`` (sinks) →
``tasks`` (what differs between classification, language modelling and regression) →
``run`` (the loop and the run's lifecycle).
"""

from .runtime.control import Progress, RunControl, RunState
from .runtime.device import resolve_device
from .runtime.errors import (DataUnavailable, DeviceUnavailable, InitUnavailable, InitUnusable,
                             ModelUnusable, TaskUnusable)
from .runtime.user_code import UserCodeExit
from .output.sinks import ConsoleSink, RunInfo, RunResult, TensorBoardSink
from .run.trainer import LogdirUnusable, RunInterrupted, Trainer
from .run.checkpoint import ResumeUnusable
from .vision.data import load_dataset

__all__ = ["Progress", "RunControl", "RunState", "ConsoleSink", "RunInfo", "RunResult",
           "TensorBoardSink", "DeviceUnavailable", "LogdirUnusable", "RunInterrupted", "Trainer",
           "resolve_device",
           "DataUnavailable", "load_dataset", "ModelUnusable", "UserCodeExit",
           "InitUnavailable", "InitUnusable", "ResumeUnusable", "TaskUnusable"]
