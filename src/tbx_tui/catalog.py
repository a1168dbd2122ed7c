"""What a model or dataset choice means, answered without torch (for the setup form).

The engine's registries are the truth; tests/test_catalog.py checks these figures against
them, so the form can show them instantly and the UI thread never touches torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    train: int
    test: int
    shape: tuple[int, int, int]
    classes: int
    files: str | None  # a file whose presence under data_dir means "downloaded"; None = built in
    note: str


DATASETS = {
    "synthetic": DatasetInfo(1000, 200, (1, 28, 28), 10, None, "random inputs and labels"),
    "digits": DatasetInfo(1438, 359, (1, 28, 28), 10, None,
                          "embedded: scikit-learn's handwritten digits, upscaled"),
    "mnist": DatasetInfo(60000, 10000, (1, 28, 28), 10, "MNIST/raw/train-images-idx3-ubyte",
                         "handwritten digits"),
    "fashion_mnist": DatasetInfo(60000, 10000, (1, 28, 28), 10,
                                 "FashionMNIST/raw/train-images-idx3-ubyte", "clothing"),
    "cifar10": DatasetInfo(50000, 10000, (3, 32, 32), 10, "cifar-10-batches-py/data_batch_1",
                           "colour photos"),
}


def files_status(name: str, data_dir: str) -> str:
    info = DATASETS[name]
    if info.files is None:
        return "built in, no files needed"
    where = os.path.join(os.path.expanduser(data_dir), info.files)
    return f"files present in {data_dir}" if os.path.exists(where) else \
        f"not in {data_dir}: will be downloaded (needs network)"


def parameter_count(model: str, shape: tuple[int, int, int], classes: int) -> int:
    c, h, w = shape
    if model == "mlp":
        return c * h * w * 128 + 128 + 128 * classes + classes
    if model == "simple_cnn":
        return (c * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * (h // 4) * (w // 4) * 128 + 128) \
            + 128 * classes + classes
    if model == "resnet18":
        body = 11_176_512 - 3 * 64 * 49  # torchvision's resnet18 without fc and conv1
        conv1 = c * 64 * 9 if h <= 64 else c * 64 * 49
        return body + conv1 + 512 * classes + classes
    raise KeyError(model)
