"""Standard image augmentations, done on the training device for a whole batch at once.

``crop`` is a random resized crop drawn as torchvision's RandomResizedCrop draws it (area
8–100 % of the image, aspect ratio 3/4–4/3 on a log scale), with the sides clamped to the
image instead of torchvision's ten retries; ``flip`` mirrors half the images left–right.
Both together are one affine resample (``grid_sample``) of the batch: no per-image work
on the host, one kernel launch per step on a GPU.

The draws come from their own generator, seeded from the run's seed, so augmentation
never shifts the data order and a run is reproducible.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)


def make_augment(kind: str, seed: int, device: torch.device
                 ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A function of a normalised float batch (B, C, H, W), or None for ``none``."""
    if kind == "none":
        return None
    # The CPU generator keeps the draws identical on every device (a CUDA generator
    # would give another sequence); a batch needs only B×5 numbers, copied once.
    gen = torch.Generator().manual_seed(seed + 0x5EED)
    crop, flip = "crop" in kind, "flip" in kind

    def augment(x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        u = torch.rand(b, 5, generator=gen)
        sign = torch.where(u[:, 4] < 0.5, -1.0, 1.0) if flip else torch.ones(b)
        if not crop:
            mirrored = (sign < 0).to(x.device, non_blocking=True).view(b, 1, 1, 1)
            return torch.where(mirrored, x.flip(-1), x)
        area = SCALE[0] + (SCALE[1] - SCALE[0]) * u[:, 0]
        log_ratio = math.log(RATIO[0]) + (math.log(RATIO[1]) - math.log(RATIO[0])) * u[:, 1]
        ratio = log_ratio.exp()
        # Sides as fractions of the image's width and height (the aspect ratio is taken
        # relative to the image's own, as torchvision does for square images).
        w = (area * ratio).sqrt().clamp(max=1.0)
        h = (area / ratio).sqrt().clamp(max=1.0)
        # Centres in grid_sample's [-1, 1] coordinates, keeping the crop inside.
        cx = (1 - w) * (2 * u[:, 2] - 1)
        cy = (1 - h) * (2 * u[:, 3] - 1)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
        theta[:, 1, 1], theta[:, 1, 2] = h, cy
        theta = theta.to(x.device, x.dtype, non_blocking=True)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                             align_corners=False)

    augment.generator = gen  # checkpoints save its state, a resume restores it
    return augment
