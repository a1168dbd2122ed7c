"""Tasks: what differs between image classification, language modelling and regression."""

from __future__ import annotations

from .base import Task
from .classification import Classification
from .language import LanguageModelling
from .regression import Regression

# In order: the first task whose loader reads a config loads its data (reads), and the
# first that claims the config and the loaded data is the run's task (claims).
TASKS: tuple[type[Task], ...] = (LanguageModelling, Regression, Classification)


def load_data(config, device, notes: list[str], resume_dir=None):
    loader = next(task for task in TASKS if task.reads(config))
    return loader.load(config, device, notes, resume_dir)


def task_for(config, data) -> Task:
    task = next(task for task in TASKS if task.claims(config, data))
    return task(config, data)


__all__ = ["TASKS", "Task", "load_data", "task_for"]
