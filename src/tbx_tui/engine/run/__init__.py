"""The loop and a run's lifecycle: train, evaluate, checkpoint, resume, end; starting weights."""
