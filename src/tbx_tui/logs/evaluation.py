"""What a run's evaluation views hold, from the store, for any view to show: which views
a run has, per-class rates from confusion counts, a PR curve's area, the structure text as
rows, and the plain-text confusion matrix ``tbx-tui watch --once`` prints. No torch."""

from __future__ import annotations

import numpy as np

from .store import ArrayPoint, RunData

PR_PREFIX = "PR/"
GRAD_PREFIX = "GradFlow/"
STRUCTURE_TAG = "Model/structure"
TEXT_SUFFIX = "/text_summary"  # tensorboardX's add_text appends it to the tag


def text_tag(run: RunData, tag: str) -> str | None:
    """The stored name of a text tag, as written by tensorboardX or by others."""
    for name in (tag, tag + TEXT_SUFFIX):
        if name in run.texts:
            return name
    return None


def views(run: RunData) -> list[tuple[str, str]]:
    """(kind, tag) of every evaluation view this run has data for, in the grid's order:
    confusion matrices, the PR curves (one view for all classes), images, gradient flow,
    the model structure."""
    out = [("confusion", t) for t in sorted(run.matrices) if run.matrices[t]]
    if any(run.curves.values()):
        out.append(("pr", PR_PREFIX))
    out += [("image", t) for t in sorted(run.images) if run.images[t]]
    if any(t.startswith(GRAD_PREFIX) for t in run.scalars):
        out.append(("gradflow", GRAD_PREFIX))
    if text_tag(run, STRUCTURE_TAG):
        out.append(("structure", STRUCTURE_TAG))
    return out


def view_steps(runs, kind: str, tag: str) -> list[int]:
    """Every step a view (kind, tag) has data at, over the runs it may show."""
    steps: set[int] = set()
    for run in runs:
        if kind == "confusion":
            steps |= {p.step for p in run.matrices.get(tag, [])}
        elif kind == "image":
            steps |= {p.step for p in run.images.get(tag, [])}
        elif kind == "pr":
            steps |= {p.step for ps in run.curves.values() for p in ps}
        elif kind == "gradflow":
            steps |= {int(s) for t, series in run.scalars.items()
                      if t.startswith(GRAD_PREFIX) for s in series.steps}
    return sorted(steps)


def step_index(steps: list[int], chosen: int | None) -> int:
    """Where ``chosen`` is among ``steps``: the last step at or before it (the first when
    none is), the newest for None. ``steps`` is not empty."""
    if chosen is None:
        return len(steps) - 1
    return max([i for i, s in enumerate(steps) if s <= chosen] or [0])


def pick_step(points: list, step: int | None):
    """The point at ``step`` (the newest at or before it), or the newest (None)."""
    return points[step_index([p.step for p in points], step)] if points else None


def neighbour_step(steps: list[int], current: int | None, delta: int) -> int | None:
    """One evaluation earlier (delta -1) or later (+1) than ``current`` (None: the newest);
    None again once at the newest, so the view follows new evaluations."""
    if not steps:
        return None
    at = min(max(step_index(steps, current) + delta, 0), len(steps) - 1)
    return None if at == len(steps) - 1 else steps[at]


def per_class(matrix: np.ndarray) -> list[tuple[float, float, float, int]]:
    """(precision, recall, F1, support) per class; rows are the truth. 0/0 counts as 0."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    predicted, support = m.sum(0), m.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(predicted > 0, tp / predicted, 0.0)
        r = np.where(support > 0, tp / support, 0.0)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return [(float(a), float(b), float(c), int(n)) for a, b, c, n in zip(p, r, f, support)]


def most_confused(matrix: np.ndarray, keep: int) -> list[int]:
    """The ``keep`` classes with the most errors (missed or wrongly predicted), in order."""
    m = np.asarray(matrix, dtype=np.float64)
    off = m - np.diag(np.diag(m))
    errors = off.sum(0) + off.sum(1)
    return sorted(np.argsort(-errors, kind="stable")[:keep].tolist())


def pr_points(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of a PR curve at the thresholds that predict something: where
    nothing is predicted, TensorBoard's writers put a precision of 0, which is no point of
    the curve."""
    some = (curve[0] + curve[1]) > 0  # true + false positives
    return curve[5][some], curve[4][some]


def average_precision(curve: np.ndarray) -> float:
    """Average precision of a PR curve (rows 4 and 5: precision, recall): the sum of
    precision × recall gained, threshold by threshold from the highest, as scikit-learn's
    ``average_precision_score``; thresholds that predict nothing are left out (their
    precision is written as 0)."""
    recall, precision = pr_points(curve)
    precision, recall = precision[::-1].astype(np.float64), recall[::-1].astype(np.float64)
    gained = np.diff(np.concatenate([[0.0], recall]))
    return float((gained * precision).sum())


def class_label(names: tuple[str, ...], i: int) -> str:
    """A class's row label: its name, with its column number when the name is not it."""
    return names[i] if names[i] == str(i) else f"{i} {names[i]}"


def structure_rows(text: str) -> tuple[list[tuple[int, str, str, str]], list[str]]:
    """``Model/structure`` (engine/output/structure.py) as (depth, module, output shape,
    parameters) rows, and the lines after the table (totals, "… more")."""
    lines = text.strip("\n").splitlines()
    if lines and lines[0].startswith("```"):
        lines = lines[1:-1] if lines[-1].startswith("```") else lines[1:]
    if not lines or not lines[0].startswith("module"):
        return [], lines
    head = lines[0]
    at_shape, at_params = head.find("output"), head.find("parameters")
    rows, tail = [], []
    for line in lines[1:]:
        if at_shape < 0 or at_params < 0 or len(line) < at_params or \
                line[at_shape - 2:at_shape] != "  ":
            tail.append(line)
            continue
        name = line[:at_shape].rstrip()
        depth, stripped = 0, name
        while stripped[:3] in ("│  ", "   ", "├─ ", "└─ "):
            depth += 1
            if stripped[:3] in ("├─ ", "└─ "):
                stripped = stripped[3:]
                break
            stripped = stripped[3:]
        rows.append((depth, stripped, line[at_shape:at_params].strip(),
                     line[at_params:].strip()))
    return rows, tail


def confusion_text(point: ArrayPoint, width: int = 100) -> list[str]:
    """The matrix (rows = truth, columns = predicted) and the per-class table, as text
    lines; past what ``width`` holds, the classes with the most errors."""
    m = np.asarray(point.array, dtype=np.int64)
    names = point.classes or tuple(str(i) for i in range(len(m)))
    labels = [class_label(names, i) for i in range(len(m))]
    cell = max(len(f"{int(m.max()) if m.size else 0:,}"), 3) + 1
    label = min(max(len(n) for n in labels), 16)
    fits = max((width - label - 4) // cell, 1)
    shown = list(range(len(m))) if len(m) <= fits else most_confused(m, fits)
    lines = []
    if len(shown) < len(m):
        lines.append(f"{len(shown)} of {len(m)} classes shown: those with the most errors")
    lines.append(" " * (label + 2) + "".join(f"{i:>{cell}}" for i in shown) +
                 "   ← predicted; rows: true")
    for i in shown:
        lines.append(f"{labels[i][:label]:<{label}}  " +
                     "".join(f"{int(m[i, j]):>{cell},}" for j in shown))
    lines.append("")
    lines.append(f"{'class':<{label}}  precision  recall      F1  support")
    for i, (p, r, f, n) in enumerate(per_class(m)):
        lines.append(f"{labels[i][:label]:<{label}}  {p:>9.4f}  {r:>6.4f}  {f:>6.4f}  {n:>7,}")
    return lines
