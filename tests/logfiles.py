"""Event files for the tests, written by real writers or framed by hand."""

from __future__ import annotations

import struct
from pathlib import Path

from crc32c import crc32c


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    header = struct.pack("<Q", len(payload))
    return (header + struct.pack("<I", masked_crc(header)) + payload
            + struct.pack("<I", masked_crc(payload)))


def tensorboardx_run(folder: Path, steps: int = 50, tags=("Loss/train", "Accuracy/train"),
                     start: float = 1_700_000_000.0, hist_every: int = 0,
                     decay: float = 1.0) -> Path:
    """A run written by tensorboardX with fixed wall times (deterministic files)."""
    import numpy as np
    from tensorboardX import SummaryWriter

    with SummaryWriter(str(folder), flush_secs=1) as w:
        for i in range(steps):
            for k, tag in enumerate(tags):
                noise = 0.02 * ((i * 7919) % 13 - 6) / 6  # deterministic wiggle
                w.add_scalar(tag, 1.0 / (1 + decay * i) + 0.1 * k + noise, i,
                             walltime=start + i)
            if hist_every and i % hist_every == 0:
                values = np.random.default_rng(i).normal(size=500) * (1 + i / steps)
                w.add_histogram("weights/fc1.weight", values, i, walltime=start + i)
    return folder


def event_bytes(wall: float, step: int, tag: str, value: float | None = None,
                tensor: bytes | None = None, metadata_plugin: str | None = None) -> bytes:
    """One Event, built with tensorboardX's protobuf classes."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto

    v = Summary.Value(tag=tag)
    if value is not None:
        v.simple_value = value
    if tensor is not None:
        v.tensor.CopyFrom(TensorProto.FromString(tensor))
    if metadata_plugin:
        v.metadata.CopyFrom(SummaryMetadata(
            plugin_data=SummaryMetadata.PluginData(plugin_name=metadata_plugin)))
    return Event(wall_time=wall, step=step, summary=Summary(value=[v])).SerializeToString()


def version_event(wall: float = 1.0) -> bytes:
    from tensorboardX.proto.event_pb2 import Event

    return Event(wall_time=wall, file_version="brain.Event:2").SerializeToString()


def session_start(step: int, wall: float) -> bytes:
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    return Event(wall_time=wall, step=step,
                 session_log=SessionLog(status=SessionLog.START)).SerializeToString()


def tensorboard_hparams(folder: Path, hparams: dict, wall: float = 1_700_000_000.0) -> None:
    """The HParams plugin's session start, written by TensorBoard's own writer (not
    tensorboardX): what the HParams view must read from any writer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    summary = summary_v2.hparams_pb(hparams, start_time_secs=int(wall))
    w = EventFileWriter(str(folder), filename_suffix=".hparams")
    w.add_event(Event(wall_time=wall, step=0, summary=summary))
    w.close()


def sweep_logs(root: Path) -> Path:
    """Three runs of a small learning-rate / batch-size sweep, hyperparameters written by
    TensorBoard's writer: the dashboard must label them by what differs."""
    for k, (lr, bs) in enumerate(((0.1, 32), (0.01, 32), (0.01, 64))):
        folder = root / f"run-{k}"
        tensorboardx_run(folder, steps=60, tags=("Loss/train", "Accuracy/train", "Loss/test"),
                         start=1_700_000_000.0 + 100 * k, hist_every=20 if k == 0 else 0,
                         decay=lr * 10 * (bs / 32))
        tensorboard_hparams(folder, {"lr": lr, "batch_size": bs, "optimizer": "adam"})
    return root


STRUCTURE_TEXT = """```
module                                   output       parameters
Net                                      8×3          1,475
├─ body: Sequential                      8×16         1,424
│  ├─ 0: Linear(in=64, out=16)           8×16         1,040
│  └─ 1: Linear(in=16, out=16)           8×16         272 frozen
└─ head: Linear(in=16, out=3)            8×3          51
1,475 parameters, 1,203 trainable
```"""
CLASSES = ("cat", "dog", "bird")


def confusion_record(tag: str, counts, classes=CLASSES):
    """A Summary with confusion counts as engine/output/eval_records.py writes them."""
    from types import SimpleNamespace

    import torch

    from tbx_tui.engine.output.eval_records import confusion_counts

    ev = SimpleNamespace(classes=list(classes), confusion=torch.tensor(counts))
    return confusion_counts(tag, ev)


def eval_view_logs(folder: Path, start: float = 1_700_000_000.0) -> Path:
    """A classifier's run with every evaluation view, written by tensorboardX with fixed
    wall times: two evaluations (confusion counts, PR curves, a picture), gradient norms
    per layer (one vanishing) and the module tree."""
    import numpy as np
    from tensorboardX import SummaryWriter

    counts = [[[8, 2, 0], [3, 5, 2], [0, 1, 9]], [[9, 1, 0], [1, 8, 1], [0, 0, 10]]]
    with SummaryWriter(str(folder), flush_secs=1) as w:
        w.add_text("Model/structure", STRUCTURE_TEXT, 0, walltime=start)
        for step in range(0, 40, 10):
            w.add_scalar("Loss/train", 1.0 / (1 + step), step, walltime=start + step)
            for k, layer in enumerate(("body.0", "body.1", "head")):
                norm = 1e-9 if layer == "body.0" else 0.1 * (k + 1) / (1 + step / 10)
                w.add_scalar(f"GradFlow/{layer}", norm, step, walltime=start + step)
        for e, step in enumerate((19, 39)):
            w.file_writer.add_summary(confusion_record("Eval/confusion_matrix/counts",
                                                       counts[e]), step, start + step)
            rng = np.random.default_rng(e)
            for c, name in enumerate(CLASSES):
                labels = rng.integers(0, 2, 60)
                scores = np.clip(labels * 0.6 + rng.random(60) * 0.5, 0, 1)
                w.add_pr_curve(f"PR/{name}", labels, scores, step, walltime=start + step)
            y, x = np.mgrid[0:24, 0:48]
            picture = np.stack([x * 5, y * 10, (x + y) * 3 + 60 * e]).astype(np.uint8)
            w.add_image("Eval/misclassified", picture, step, walltime=start + step)
    return folder
