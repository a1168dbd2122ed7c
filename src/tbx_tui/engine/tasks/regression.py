"""Regression on a table of features: ``npz:`` archives whose ``x_*`` are float arrays
(N, features) and whose ``y_*`` are floats (N,) or (N, outputs), or a ``FILE.py:NAME``
factory returning such tensors. Mean squared error is the loss (``Loss/train``,
``Loss/test``); evaluation adds the mean absolute error and R² (``MAE/test``,
``R2/test``: 1 - SSE/SST per output, averaged over outputs, as scikit-learn's r2_score).
``--model mlp`` and the user's models take ``(features,)`` as their input shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...reports import REGRESSION
from ..runtime import distributed
from ..runtime.errors import TaskUnusable
from ..vision.models import build_model
from .base import Task

EVAL_BATCH = 4096  # rows per evaluation batch


class Regression(Task):
    report = REGRESSION

    @staticmethod
    def claims(config, data) -> bool:
        return getattr(data, "kind", "") == "table"  # float targets (vision/user_data.py)

    @property
    def outputs(self) -> int:
        y = self.data.train_y
        return 1 if y.dim() == 1 else y.shape[1]

    def build_model(self):
        if self.config.augment not in ("", "none"):
            raise TaskUnusable("augment: it transforms images; a table of features takes "
                               "none (leave --augment out)")
        return build_model(self.config.model, self.data.in_shape, self.outputs)

    def forward(self, model, x, y):
        out = model(x).reshape(y.shape)  # (B, 1) for a (B,) target
        return out, F.mse_loss(out.float(), y)

    def count(self, y):
        return len(y)

    def hits(self, out, y):
        return 0  # nothing is right or wrong: the loss says it all

    def accuracy(self, hits, seen):
        return None

    def train_values(self, hits, seen):
        return {}

    def evaluate(self, run, model, autocast, device):
        model.eval()
        k = self.outputs
        # Per output: squared error, absolute error, sum of y, sum of y², in float64 so
        # that SST = Σy² - (Σy)²/n stays exact enough; then the row count.
        sums = torch.zeros(4, k, dtype=torch.float64, device=device)
        rows = torch.zeros((), dtype=torch.float64, device=device)
        for x, y in self.data.test_batches(EVAL_BATCH, run.world.rank, run.world.size):
            if run.control.aborted:
                break
            with autocast:
                out = model(x)
            out, y = out.double().reshape(len(y), k), y.double().reshape(len(y), k)
            err = out - y
            sums += torch.stack([err.square().sum(0), err.abs().sum(0), y.sum(0),
                                 y.square().sum(0)])
            rows += len(y)
        if run.world.active:  # each rank evaluated its share
            distributed.sum_(sums)
            distributed.sum_(rows)
        (se, ae, sy, sy2), n = sums.cpu(), max(float(rows), 1.0)  # SYNC
        sst = (sy2 - sy.square() / n).clamp(min=0.0)
        # A constant target: R² is 1 when predicted exactly, else 0 (scikit-learn's rule).
        r2 = torch.where(sst > 0, 1.0 - se / sst.clamp(min=1e-300),
                         (se == 0).double())
        return {"Loss/test": float(se.sum() / (n * k)), "MAE/test": float(ae.sum() / (n * k)),
                "R2/test": float(r2.mean())}
