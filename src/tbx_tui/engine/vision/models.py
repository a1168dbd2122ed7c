"""Models: the built-in registry, every torchvision classifier (``tv:NAME``), and the
user's own (``FILE.py:NAME``, ``MODULE:NAME``, entry points); see tbx_tui.refs for the
references and the contract. Every builder takes the dataset's input shape and class count.

``mlp`` and ``simple_cnn`` are the seed tutorial's models; their layer sizes are kept so a
run here is comparable with the tutorial's. ``resnet18`` comes from torchvision.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..runtime.errors import ModelUnusable
from ..runtime.user_code import UserCodeExit, no_exit, user_object  # noqa: F401  (re-exported)

Shape = tuple[int, int, int]  # (channels, height, width)


class MLP(nn.Module):
    """784-128-10 for MNIST; the input layer follows the dataset's flattened size."""

    def __init__(self, in_shape: tuple[int, ...], num_classes: int, hidden: int = 128):
        super().__init__()
        self.fc1 = nn.Linear(math.prod(in_shape), hidden)  # (C, H, W), or (features,)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class SimpleCNN(nn.Module):
    """Two 3x3 convs (32, 64), each followed by a 2x2 max-pool, then fc 128 and fc classes."""

    def __init__(self, in_shape: Shape, num_classes: int):
        super().__init__()
        c, h, w = in_shape
        self.conv1 = nn.Conv2d(c, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def resnet18(in_shape: Shape, num_classes: int) -> nn.Module:
    import torchvision

    model = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    c, h, _ = in_shape
    if h <= 64:
        # ImageNet's 7x7/2 stem and max-pool would shrink a 28x28 digit to 7x7 before the
        # first block; the usual CIFAR adaptation keeps the resolution.
        model.conv1 = nn.Conv2d(c, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif c != 3:
        model.conv1 = nn.Conv2d(c, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


IMAGES_ONLY = ("simple_cnn", "resnet18")  # built-ins that need (C, H, W); mlp takes any shape
REGISTRY: dict[str, Callable[[Shape, int], nn.Module]] = {
    "mlp": MLP,
    "simple_cnn": SimpleCNN,
    "resnet18": resnet18,
}


class _ToImageNetInput(nn.Module):
    """Feeds a torchvision classifier the input it was built for: 3 channels (grey
    repeated) and at least its weights' minimum size (upsampled, bilinear)."""

    def __init__(self, model: nn.Module, channels: int, min_size: tuple[int, int] | None):
        super().__init__()
        self.model = model
        self.channels = channels
        self.min_size = min_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.min_size and (x.shape[-2] < self.min_size[0] or x.shape[-1] < self.min_size[1]):
            x = nn.functional.interpolate(x, size=self.min_size, mode="bilinear",
                                          align_corners=False)
        return self.model(x)


def torchvision_classifiers() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _torchvision(name: str, in_shape: Shape, num_classes: int) -> nn.Module:
    import torchvision

    if name not in torchvision_classifiers():
        raise ModelUnusable(f"no torchvision classification model {name!r} "
                            "(`tbx-tui models` lists them)")
    c, h, w = in_shape
    if c not in (1, 3):
        raise ModelUnusable(f"tv:{name} takes 1- or 3-channel images; the data has {c}")
    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    min_size = tuple(meta.get("min_size", (1, 1)))
    if name.startswith(("vit_", "swin_", "maxvit_")):  # fixed input size, not a minimum
        min_size = (224, 224)
    need = min_size if (h < min_size[0] or w < min_size[1]) else None
    if c == 1 or need:
        model = _ToImageNetInput(model, c, need)
    return model


def build_model(name: str, in_shape: Shape, num_classes: int) -> nn.Module:
    """The model a reference names (refs.parse_model), for this input shape and class
    count, checked on a batch of two zero images. Raises ModelUnusable."""
    from ...refs import parse_model

    try:
        ref = parse_model(name)
    except ValueError as e:
        raise ModelUnusable(str(e)) from None
    if len(in_shape) != 3 and (ref.kind == "tv" or (ref.kind == "builtin" and
                                                     ref.target in IMAGES_ONLY)):
        raise ModelUnusable(f"{name.strip()} takes images (C, H, W); this data is "
                            f"{tuple(in_shape)} (a table of features: use --model mlp, or "
                            "your own model)")
    if ref.kind == "builtin":
        return REGISTRY[ref.target](in_shape, num_classes)
    if ref.kind == "tv":
        return _checked(_torchvision(ref.target, in_shape, num_classes), f"tv:{ref.target}",
                        in_shape, num_classes)
    build, label = user_object(ref)
    with no_exit(f"model: {label}"):
        try:
            model = build(tuple(in_shape), num_classes)
        except Exception as e:
            raise ModelUnusable(f"{label}({tuple(in_shape)}, {num_classes}) raised "
                                f"{type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise ModelUnusable(f"{label} gave a {type(model).__name__}, not a torch.nn.Module")
    return _checked(model, label, in_shape, num_classes)


def _checked(model: nn.Module, label: str, in_shape: Shape, num_classes: int) -> nn.Module:
    """A forward pass on two zero images, so a model that cannot take this data says so
    before a run folder exists, not at its first step."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), no_exit(f"model: {label}'s forward"):
            try:
                out = model(torch.zeros(2, *in_shape))
            except Exception as e:
                raise ModelUnusable(
                    f"{label} fails on a batch of shape {(2, *in_shape)}: "
                    f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                ) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelUnusable(f"{label} returns {got} for a batch of 2; expected (2, "
                            f"{num_classes}) logits")
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
