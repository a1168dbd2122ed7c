"""Image classification: the tutorial's task. Cross-entropy over classes, and at each
evaluation the test set's confusion counts, from which accuracy and macro precision and
recall come."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...reports import CLASSIFICATION
from ..runtime import distributed
from ..vision.data import load_dataset, normalize
from ..vision.models import build_model
from ..vision.streaming import DataPath
from .base import Task
from .class_eval import EvaluationGatherer, class_rates

EVAL_BATCH = 1000  # samples per evaluation batch; evaluation keeps no graph


def classification_metrics(confusion: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro precision/recall from a confusion matrix (rows = truth).
    As scikit-learn: classes never seen nor predicted are left out; 0/0 counts as 0."""
    precision, recall, truth, predicted = class_rates(confusion)
    present = (truth + predicted) > 0
    return {
        "Accuracy/test": float(confusion.diag().sum() / confusion.sum().clamp(min=1)),
        "Precision/test": float(precision[present].mean()),
        "Recall/test": float(recall[present].mean()),
    }


class Classification(Task):
    report = CLASSIFICATION

    @staticmethod
    def reads(config) -> bool:
        return True  # every data reference that is not text: images and arrays

    @staticmethod
    def claims(config, data) -> bool:
        return True  # what no other task claims

    @classmethod
    def load(cls, config, device, notes, resume_dir):
        path = DataPath.for_run(config.data_memory, config.workers, device)
        return load_dataset(config.data, config.data_dir, config.seed, config.image_size,
                            config.val_fraction, notes, path)

    def build_model(self):
        return build_model(self.config.model, self.data.in_shape, self.data.num_classes)

    def inputs(self, x):
        return normalize(x)

    def forward(self, model, x, y):
        logits = model(x)
        return logits, F.cross_entropy(logits, y)

    def evaluate(self, run, model, autocast, device):
        model.eval()
        data, world = self.data, run.world
        c = data.num_classes
        confusion = torch.zeros(c * c, dtype=torch.long, device=device)
        loss_sum = torch.zeros((), device=device)
        views = EvaluationGatherer(data.classes, device) if self.config.eval_views else None
        for x, y in data.test_batches(EVAL_BATCH, world.rank, world.size):
            if run.control.aborted:
                break
            if not len(y):  # streaming: nothing in it could be decoded
                continue
            with autocast:
                logits = model(normalize(x))
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            confusion += torch.bincount(y * c + logits.argmax(1), minlength=c * c)
            if views is not None:
                views.add(x, logits, y)
        if world.active:  # each rank evaluated its share
            distributed.sum_(confusion)
            distributed.sum_(loss_sum)
            if views is not None:  # the worst images stay each rank's own: rank 0's shown
                distributed.sum_(views.pos)
                distributed.sum_(views.neg)
        cm = confusion.view(c, c).cpu()  # SYNC
        self.details = views.result(cm) if views is not None else None
        # Counted from the confusion matrix: streamed data may leave broken images out.
        metrics = {"Loss/test": loss_sum.item() / max(int(cm.sum()), 1)}  # SYNC
        metrics.update(classification_metrics(cm))
        return metrics
