"""On-device augmentation: a random resized crop and a flip, for a whole batch at once."""

from __future__ import annotations

import torch

from tbx_tui.config import AUGMENTS
from tbx_tui.engine.vision.augment import make_augment


def _ramp(b: int = 64) -> torch.Tensor:
    """Images whose pixel value is its column: flips and crops show in the numbers."""
    return torch.linspace(-1, 1, 16).expand(b, 1, 16, 16).contiguous()


def test_flip_mirrors_about_half_the_batch_and_nothing_else():
    x = _ramp()
    out = make_augment("flip", 0, torch.device("cpu"))(x)
    mirrored = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x)]
    assert all(m or torch.equal(o, i) for m, o, i in zip(mirrored, out, x))
    assert 16 <= sum(mirrored) <= 48


def test_crop_zooms_into_the_image_and_is_reproducible():
    x = _ramp()
    out = make_augment("crop", 0, torch.device("cpu"))(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= -1 and out.max() <= 1  # a crop never reaches outside the image
    # A crop is a zoom: each row still rises left to right, over a narrower range.
    spans = out[:, 0, 8, -1] - out[:, 0, 8, 0]
    assert (spans > 0).all() and (spans <= 2 + 1e-6).all() and (spans < 1.9).sum() > 32
    again = make_augment("crop", 0, torch.device("cpu"))(x)
    assert torch.equal(out, again)  # seeded: the same run draws the same crops
    other = make_augment("crop", 1, torch.device("cpu"))(x)
    assert not torch.equal(out, other)
    both = make_augment("crop+flip", 0, torch.device("cpu"))(x)
    falling = (both[:, 0, 8, -1] < both[:, 0, 8, 0]).sum()
    assert 16 <= falling <= 48  # about half mirrored


def test_every_setting_has_an_augmentation():
    assert make_augment("none", 0, torch.device("cpu")) is None
    assert all(make_augment(a, 0, torch.device("cpu")) for a in AUGMENTS if a != "none")
