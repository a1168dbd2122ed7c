"""A classification evaluation as TensorBoard records: what the model gets wrong.

- ``Eval/per_class``: precision, recall, F1 and support per class, a markdown table;
- ``Eval/confusion_matrix``: the matrix as an image (rows = truth, each row shaded by its
  share of that class, so a class's misses stand out whatever its size), and
  ``Eval/confusion_matrix/counts``: the counts as an int64 tensor whose plugin content
  names the classes (JSON), for any reader to reload;
- ``PR/<class>``: a precision-recall curve per class, for TensorBoard's PR-curve plugin;
- ``Eval/misclassified``: the most confidently wrong test images in a grid, and
  ``Eval/misclassified/labels``: their true and predicted classes, in grid order.
The matrix and the curves are left out past MAX_MATRIX_CLASSES (engine/tasks/class_eval.py).
"""

from __future__ import annotations

import json

import torch

CONFUSION_PLUGIN = "tbx_confusion"  # logs/wire.py reads it by this name (a test checks)
MAX_IMAGE_SIDE = 1024  # pixels: a 1,000-class matrix still makes a readable, small PNG


def evaluation_summaries(ev) -> list:
    """The Summary protos for one evaluation (an engine.tasks.class_eval.ClassEvaluation:
    this layer sits below the tasks and reads it by its fields), in the order above."""
    from tensorboardX.summary import image, pr_curve_raw, text

    out = [text("Eval/per_class", per_class_markdown(ev))]
    if ev.matrices:  # not past a few hundred classes (engine/tasks/class_eval.py)
        out += [image("Eval/confusion_matrix", confusion_image(ev.confusion),
                      dataformats="CHW"),
                confusion_counts("Eval/confusion_matrix/counts", ev)]
    for c, name in enumerate(ev.classes if ev.matrices else ()):
        curve = ev.pr_curve(c)
        out.append(pr_curve_raw(f"PR/{name}", curve["tp"].tolist(), curve["fp"].tolist(),
                                curve["tn"].tolist(), curve["fn"].tolist(),
                                curve["precision"].tolist(), curve["recall"].tolist(),
                                ev.pr_positive.shape[1]))
    if len(ev.worst_images) and ev.worst_images.dim() == 4:  # images, not table rows
        out.append(image("Eval/misclassified", misclassified_grid(ev.worst_images),
                         dataformats="CHW"))
        out.append(text("Eval/misclassified/labels", misclassified_markdown(ev)))
    return out


def confusion_image(cm: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8: white for none of a row's samples, dark blue for all of them."""
    c = cm.shape[0]
    cell = max(1, min(32, MAX_IMAGE_SIDE // max(c, 1)))
    share = cm.double() / cm.sum(1, keepdim=True).clamp(min=1)
    white, blue = torch.tensor([255.0, 255.0, 255.0]), torch.tensor([8.0, 48.0, 107.0])
    rgb = white + share.unsqueeze(-1) * (blue - white)  # (C, C, 3)
    rgb = rgb.round().to(torch.uint8).permute(2, 0, 1)
    return rgb.repeat_interleave(cell, 1).repeat_interleave(cell, 2)


def confusion_counts(tag: str, ev):
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    c = len(ev.classes)
    shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=c), TensorShapeProto.Dim(size=c)])
    tensor = TensorProto(dtype=9, tensor_shape=shape,  # DT_INT64
                         int64_val=ev.confusion.reshape(-1).tolist())
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=CONFUSION_PLUGIN,
        content=json.dumps({"classes": list(ev.classes)}).encode()))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])


def _cell(text: str) -> str:
    """A class name inside a markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def per_class_markdown(ev) -> str:
    rows = ["| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| {_cell(name)} | {p:.4f} | {r:.4f} | {f:.4f} | {n:,} |"
             for name, p, r, f, n in ev.per_class()]
    return "\n".join(rows)


def misclassified_grid(images: torch.Tensor, per_row: int = 8) -> torch.Tensor:
    """(3, H, W) uint8 grid, in order, 2-pixel gaps. uint8 images as they are; float ones
    scaled from their own range."""
    x = images.detach().float()
    if images.dtype != torch.uint8:
        lo, hi = x.amin(), x.amax()
        x = (x - lo) / (hi - lo).clamp(min=1e-12) * 255
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = x[:, :3]
    k, _, h, w = x.shape
    cols = min(per_row, k)
    rows = (k + cols - 1) // cols
    pad = 2
    grid = torch.full((3, rows * (h + pad) + pad, cols * (w + pad) + pad), 255.0)
    for i in range(k):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid.round().clamp(0, 255).to(torch.uint8)


def misclassified_markdown(ev) -> str:
    per_row = min(8, len(ev.worst_true)) or 1
    rows = ["| # | row, column | true | predicted | confidence |", "| --- | --- | --- | --- | --- |"]
    for i, (t, p, conf) in enumerate(zip(ev.worst_true.tolist(), ev.worst_pred.tolist(),
                                         ev.worst_conf.tolist())):
        r, c = divmod(i, per_row)
        rows.append(f"| {i + 1} | {r + 1}, {c + 1} | {_cell(ev.classes[t])} | "
                    f"{_cell(ev.classes[p])} | {conf:.3f} |")
    return "\n".join(rows)
