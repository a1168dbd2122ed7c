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


def user_data_facts(text: str, val_fraction: float = 0.1
                    ) -> tuple[str, tuple[int, int, int] | None, int | None]:
    """(what the data is, its image shape if known, its class count if known) for a data
    reference, without torch and without decoding a single image: the form shows it as you
    type. Folders are counted by file name; archives read only their array headers."""
    from .refs import parse_data
    from .data_files import folder_counts, npz_shapes

    ref = parse_data(text)
    if ref.kind == "folder":
        counts, split = folder_counts(ref.target)
        empty = [c for c, (n, _) in counts.items() if not n]
        if empty:
            return f"✗ no images in class folder(s) {', '.join(empty[:4])}", None, None
        if len(counts) < 2:
            return f"✗ {len(counts)} class folder(s) with images; 2 or more needed", None, None
        total = sum(n for n, _ in counts.values())
        held = sum(m for _, m in counts.values())
        shown = ", ".join(f"{c} {n:,}" for c, (n, _) in list(counts.items())[:6])
        where = (f"{total:,} train / {held:,} {split}" if split else
                 f"{total:,} images, {val_fraction:.0%} held out")
        return (f"{len(counts)} classes, {where} ({shown}{'…' if len(counts) > 6 else ''}); "
                "size and channels read at the start", None, len(counts))
    if ref.kind == "npz":
        shapes = npz_shapes(ref.target)
        if isinstance(shapes, str):
            return f"✗ {shapes}", None, None
        x = shapes.get("x_train")
        shape = None
        if x and len(x) == 3:
            shape = (1, x[1], x[2])
        elif x and len(x) == 4:
            shape = (x[3], x[1], x[2]) if x[3] in (1, 3) else (x[1], x[2], x[3])
        n_train = x[0] if x else 0
        n_test = (shapes.get("x_test") or (0,))[0]
        if x and len(x) == 2:  # engine/tasks/regression.py: float targets make it one
            return (f"a table: {n_train:,} train / {n_test:,} test rows of {x[1]:,} features "
                    "(float y: regression)", None, None)
        return f"{n_train:,} train / {n_test:,} test arrays", shape, None
    return "your factory's data: loaded when the run starts", None, None
