"""The training engine: torch lives here and nowhere above it in the UI.

Importing this package must not import textual (tests/test_boundaries.py checks it).
"""

from .control import Progress, RunControl, RunState
from .sinks import ConsoleSink, RunInfo, RunResult, TensorBoardSink
from .trainer import (DeviceUnavailable, LogdirUnusable, RunInterrupted, Trainer,
                      resolve_device)
from .data import DataUnavailable, load_dataset
from .finetune import InitUnavailable, InitUnusable
from .models import ModelUnusable, UserCodeExit
from .checkpoint import ResumeUnusable

__all__ = ["Progress", "RunControl", "RunState", "ConsoleSink", "RunInfo", "RunResult",
           "TensorBoardSink", "DeviceUnavailable", "LogdirUnusable", "RunInterrupted", "Trainer",
           "resolve_device",
           "DataUnavailable", "load_dataset", "ModelUnusable", "UserCodeExit",
           "InitUnavailable", "InitUnusable", "ResumeUnusable"]
