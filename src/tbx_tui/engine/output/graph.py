"""The model's graph for TensorBoard's Graphs tab, traced from the run's first batch.

TensorBoard's own PyTorch exporter (``torch.utils.tensorboard._pytorch_graph``, what
tensorboardX's ``add_graph`` calls) traces the model with ``torch.jit.trace``: one extra
forward pass, in eval mode and without gradients, so no BatchNorm statistic, dropout mask
or random number of the run changes. Tracing fails on some models (data-dependent
control flow, dict outputs): the run says so in one line and goes on. Big models are not
traced: the trace's time and memory grow with them.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings

import torch

MAX_PARAMETERS = 20_000_000  # SimpleCNN traces in 0.7 s here


def graph_event(model: torch.nn.Module, example: torch.Tensor):
    """(an Event holding the GraphDef, None), or (None, why not) in one line."""
    from tensorboardX.proto.event_pb2 import Event

    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMETERS:
        return None, (f"graph: not traced ({params:,} parameters, over "
                      f"{MAX_PARAMETERS:,}); the module tree is in Model/structure")
    was_training = model.training
    model.eval()
    try:
        from torch.utils.tensorboard._pytorch_graph import graph

        # The exporter prints a failed trace's error itself: the user's text, raw, on our
        # console (an escape sequence in a user exception reached the terminal). Caught
        # here, it reaches the user through the one-line note below, cleaned.
        with warnings.catch_warnings(), torch.no_grad(), \
                contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # torch.jit.trace's deprecation, tracer notes
            graph_def, _ = graph(model, (example,))
    except Exception as e:  # the model cannot be traced: its structure still is logged
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        return None, f"graph: the model could not be traced ({type(e).__name__}: {first})"
    finally:
        model.train(was_training)
    return Event(wall_time=time.time(), graph_def=graph_def.SerializeToString()), None
