"""What a classification run gets wrong, gathered while it evaluates: the confusion
matrix, per-class score counts for precision-recall curves, and the test images the
model got most confidently wrong.

Everything stays on the device until the evaluation ends (no sync per batch): the PR
counts are two bincounts of (samples × classes) bucket indices, binned exactly as
TensorBoard's own ``pr_curve`` bins (``floor(p × (thresholds − 1))``), so the curves are
exact at its resolution without keeping every score; the worst images are a running
top-k of the wrong predictions' confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PR_THRESHOLDS = 127  # TensorBoard's pr_curve default
WORST = 16           # misclassified test images kept for the grid
# Above this many classes the matrix and the curves are left out (only the per-class
# table and the images are kept): 5,000 classes would write a 200 MB counts tensor and
# 5,000 curves at every evaluation, and neither reads at that size.
MAX_MATRIX_CLASSES = 256


def class_rates(confusion: torch.Tensor):
    """Per class, from a confusion matrix (rows = truth): (precision, recall, truth
    counts, predicted counts), float64; 0/0 counts as 0."""
    cm = confusion.double()
    tp, truth, predicted = cm.diag(), cm.sum(1), cm.sum(0)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)
    recall = torch.where(truth > 0, tp / truth.clamp(min=1), 0.0)
    return precision, recall, truth, predicted


@dataclass
class ClassEvaluation:
    classes: list[str]
    confusion: torch.Tensor    # (C, C) int64, rows = truth, columns = prediction
    pr_positive: torch.Tensor  # (C, T) int64: samples of class c by bucket of p(c)
    pr_negative: torch.Tensor  # (C, T) int64: samples of other classes, same buckets
    worst_images: torch.Tensor  # (K, ...) the images as the dataset stores them
    worst_true: torch.Tensor    # (K,) int64
    worst_pred: torch.Tensor    # (K,) int64
    worst_conf: torch.Tensor    # (K,) float: the model's probability of its wrong answer

    @property
    def matrices(self) -> bool:
        """Whether the confusion matrix and the PR curves are kept (MAX_MATRIX_CLASSES)."""
        return self.pr_positive.numel() > 0

    def per_class(self) -> list[tuple[str, float, float, float, int]]:
        """(class, precision, recall, F1, support) per class; 0/0 counts as 0."""
        p, r, truth, _ = class_rates(self.confusion)
        f1 = torch.where(p + r > 0, 2 * p * r / (p + r).clamp(min=1e-12), 0.0)
        return [(name, float(p[i]), float(r[i]), float(f1[i]), int(truth[i]))
                for i, name in enumerate(self.classes)]

    def pr_curve(self, c: int) -> dict[str, torch.Tensor]:
        """TensorBoard's six rows for class ``c``, threshold i = i / (T − 1): samples
        scoring at or above it are predicted positive."""
        pos, neg = self.pr_positive[c].double(), self.pr_negative[c].double()
        tp = pos.flip(0).cumsum(0).flip(0)
        fp = neg.flip(0).cumsum(0).flip(0)
        fn, tn = tp[0] - tp, fp[0] - fp
        return {"tp": tp, "fp": fp, "tn": tn, "fn": fn,
                "precision": tp / (tp + fp).clamp(min=1e-7),
                "recall": tp / (tp + fn).clamp(min=1e-7)}


class EvaluationGatherer:
    """Fed each evaluation batch (raw images, logits, labels); ``result`` at the end."""

    def __init__(self, classes: list[str], device: torch.device, worst: int = WORST):
        c, t = len(classes), PR_THRESHOLDS
        if c > MAX_MATRIX_CLASSES:
            t = 0  # no PR counts (ClassEvaluation.matrices)
        self.classes, self.worst, self.thresholds = classes, worst, t
        self.pos = torch.zeros(c * t, dtype=torch.long, device=device)
        self.neg = torch.zeros(c * t, dtype=torch.long, device=device)
        self._offsets = torch.arange(c, device=device) * t
        self._score = torch.zeros(0, device=device)  # the kept images' ranking
        self._x = self._y = self._pred = self._conf = None

    def add(self, x: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        probs = logits.float().softmax(1)
        if self.thresholds:
            self._count(probs, y)
        self._keep_worst(x, probs, y)

    def _count(self, probs: torch.Tensor, y: torch.Tensor) -> None:
        bucket = (probs * (PR_THRESHOLDS - 1)).floor().long().clamp_(0, PR_THRESHOLDS - 1)
        idx = bucket + self._offsets
        hit = torch.nn.functional.one_hot(y, len(self.classes)).bool()
        n = self.pos.numel()
        self.pos += torch.bincount(idx[hit], minlength=n)  # SYNC-free on CPU; a
        self.neg += torch.bincount(idx[~hit], minlength=n)  # masked select on a GPU

    def _keep_worst(self, x: torch.Tensor, probs: torch.Tensor, y: torch.Tensor) -> None:
        conf, pred = probs.max(1)
        # Right answers rank below every wrong one (-1), and are dropped at the end.
        score = torch.where(pred != y, conf, torch.full_like(conf, -1.0))
        if self._x is None:
            self._x, self._y, self._pred, self._conf = x[:0], y[:0], pred[:0], conf[:0]
        score = torch.cat([self._score, score])
        k = min(self.worst, len(score))
        top = score.topk(k).indices
        old = len(self._score)
        self._score = score[top]
        self._x = _pick(self._x, x, top, old)
        self._y = _pick(self._y, y, top, old)
        self._pred = _pick(self._pred, pred, top, old)
        self._conf = _pick(self._conf, conf, top, old)

    def result(self, confusion: torch.Tensor) -> ClassEvaluation:
        c, t = len(self.classes), self.thresholds
        wrong = (self._score >= 0).cpu() if self._x is not None else torch.zeros(0, dtype=bool)
        empty = torch.zeros(0, dtype=torch.long)
        return ClassEvaluation(
            self.classes, confusion.cpu(), self.pos.view(c, t).cpu(), self.neg.view(c, t).cpu(),
            self._x.cpu()[wrong] if self._x is not None else torch.zeros(0),
            self._y.cpu()[wrong] if self._x is not None else empty,
            self._pred.cpu()[wrong] if self._x is not None else empty,
            self._conf.float().cpu()[wrong] if self._x is not None else torch.zeros(0))


def _pick(kept: torch.Tensor, new: torch.Tensor, top: torch.Tensor, old: int) -> torch.Tensor:
    """Rows ``top`` of ``kept`` followed by ``new``, without concatenating whole batches
    of images (only the k chosen rows are copied)."""
    from_kept = top < old
    out = torch.empty((len(top), *new.shape[1:]), dtype=new.dtype, device=new.device)
    out[from_kept] = kept[top[from_kept]]
    out[~from_kept] = new[top[~from_kept] - old]
    return out
