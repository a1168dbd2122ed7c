"""Shared by every part of the engine: device, process group, run control, errors, user code."""
