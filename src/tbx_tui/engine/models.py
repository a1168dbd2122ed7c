"""Model registry: every builder takes the dataset's input shape and class count.

``mlp`` and ``simple_cnn`` are the seed tutorial's models; their layer sizes are kept so a
run here is comparable with the tutorial's. ``resnet18`` comes from torchvision.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Shape = tuple[int, int, int]  # (channels, height, width)


class MLP(nn.Module):
    """784-128-10 for MNIST; the input layer follows the dataset's flattened size."""

    def __init__(self, in_shape: Shape, num_classes: int, hidden: int = 128):
        super().__init__()
        c, h, w = in_shape
        self.fc1 = nn.Linear(c * h * w, hidden)
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


REGISTRY: dict[str, Callable[[Shape, int], nn.Module]] = {
    "mlp": MLP,
    "simple_cnn": SimpleCNN,
    "resnet18": resnet18,
}


def build_model(name: str, in_shape: Shape, num_classes: int) -> nn.Module:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name](in_shape, num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
