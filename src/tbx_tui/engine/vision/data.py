"""Dataset registry. Every dataset is loaded once into tensors.

Images stay uint8 (a quarter of the memory, and a quarter of the bytes to move to a GPU)
and are normalised on the training device per batch with the tutorial's mean 0.5 / std
0.5. Batches are drawn with ``index_select`` from a seeded permutation: no DataLoader, no
per-sample PIL work.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import struct
import sys
from pathlib import Path
from typing import Callable

import torch

from ..runtime.errors import DataCorrupt, DataUnavailable  # noqa: F401  (re-exported)
from .tensor_data import TensorData, normalize, shape_text  # noqa: F401  (re-exported)

DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]


def _synthetic(data_dir: str, seed: int) -> TensorData:
    # The tutorial's first example: N(0, 1) inputs with random labels (nothing to learn,
    # which makes it a fast, honest smoke test of the whole pipeline).
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1200, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (1200,), generator=g)
    return TensorData("synthetic", x[:1000], y[:1000], x[1000:], y[1000:], DIGIT_CLASSES)


def _digits(data_dir: str, seed: int) -> TensorData:
    # scikit-learn ships these 1,797 8x8 digits inside its wheel: the dataset that works
    # with no network and no files. Upscaled to 28x28 so MNIST models run unchanged.
    images, target = _digits_arrays()
    x = torch.from_numpy(images).float().div_(16.0).reshape(-1, 1, 8, 8)
    x = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
    x = x.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    y = torch.from_numpy(target).long()
    # A fixed split, independent of the run's seed, so test metrics stay comparable.
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    n_test = len(y) // 5
    test, train = perm[:n_test], perm[n_test:]
    return TensorData("digits", x[train], y[train], x[test], y[test], DIGIT_CLASSES)


def _digits_arrays():
    """Read sklearn's digits.csv.gz directly: ``import sklearn.datasets`` costs ~1.5 s
    here (scipy), the file itself 25 ms. Falls back to the public loader if the file moved."""
    import importlib.util

    import numpy as np

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is not None and path.is_file():
        raw = np.loadtxt(path, delimiter=",", dtype=np.float32)
        return raw[:, :-1], raw[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float32), d.target.astype(np.int64)


def _torchvision(cls_name: str, classes: list[str], label: str) -> Callable[[str, int], TensorData]:
    def load(data_dir: str, seed: int) -> TensorData:
        import torchvision

        cls = getattr(torchvision.datasets, cls_name)
        train, test = _fetch(cls, data_dir, label)
        return TensorData(label, *_as_tensors(train), *_as_tensors(test), classes)

    return load


def _fetch(cls, data_dir: str, label: str):
    """Load from disk; if absent, let torchvision download, and turn its failure into one
    line. Files that are there but damaged are named as such, never as "not found".
    torchvision prints its progress to stdout; that is kept out of our output."""
    root = Path(data_dir).expanduser()
    damaged = corrupt_files(cls, root)
    final = [d for d in damaged if not d[2]]  # torchvision would not replace these
    if final:
        path, why, _ = final[0]
        raise DataCorrupt(f"{label}: {path} is corrupt ({why}); delete it to download it "
                          "again, or put a good copy there")
    if not damaged:
        try:
            return cls(root, train=True, download=False), cls(root, train=False, download=False)
        except RuntimeError as e:
            if "not found" not in str(e).lower():
                raise _unreadable(label, root, e) from None
        except Exception as e:  # torchvision asserts on bad headers
            raise _unreadable(label, root, e) from None
    existed = _folders(root)
    if damaged:
        print(f"tbx-tui: {damaged[0][0]} is damaged; downloading a fresh copy…",
              file=sys.stderr)
    else:
        print(f"tbx-tui: {label} not found under {root}; downloading it there…",
              file=sys.stderr)
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            return cls(root, train=True, download=True), cls(root, train=False, download=True)
    except Exception as e:  # URLError, HTTPError, RuntimeError, OSError: all mean "no data"
        _remove_new_empty_folders(root, existed)
        # torchvision lists every mirror it tried; the last line is the actual cause.
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        if damaged:
            path, why, _ = damaged[0]
            raise DataCorrupt(f"{label}: {path} is corrupt ({why}) and the download to "
                              f"replace it failed ({reason}); put a good copy there") from None
        raise DataUnavailable(
            f"{label}: no dataset files under {root} and the download failed ({reason}); "
            f"put the files there (--data-dir) or use --data digits, which needs no files"
        ) from None


def _unreadable(label: str, root: Path, e: Exception) -> DataCorrupt:
    what = str(e).strip().splitlines()[-1] if str(e).strip() else "bad file header"
    return DataCorrupt(f"{label}: the dataset files under {root} cannot be read "
                       f"({type(e).__name__}: {what})")


_IDX_TYPES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}  # type -> item bytes


def idx_problem(path: Path) -> str | None:
    """What is wrong with an IDX file (MNIST's format), or None: magic, dims, size."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 4:
        return f"{size} bytes: too short for an IDX header"
    zero, kind, nd = struct.unpack(">HBB", head[:4])
    if zero != 0 or kind not in _IDX_TYPES or not 1 <= nd <= 3:
        return f"bad magic number 0x{int.from_bytes(head[:4], 'big'):08x}"
    if len(head) < 4 + 4 * nd:
        return f"{size} bytes: the header is cut short"
    dims = struct.unpack(f">{nd}I", head[4:4 + 4 * nd])
    want = 4 + 4 * nd + _IDX_TYPES[kind] * math.prod(dims)
    if size != want:
        return f"{size:,} bytes where its header promises {want:,} (truncated?)"
    return None


def corrupt_files(cls, root: Path) -> list[tuple[Path, str, bool]]:
    """(path, what is wrong, whether torchvision's download would replace it) for each
    damaged file of a torchvision dataset under ``root``."""
    from torchvision.datasets.utils import check_md5

    found = []
    if hasattr(cls, "resources"):  # MNIST and Fashion-MNIST: raw/ with .gz and IDX files
        raw = root / cls.__name__ / "raw"
        for url, md5 in cls.resources:
            gz = raw / os.path.basename(url)
            idx = gz.with_suffix("")
            if idx.is_file():
                why = idx_problem(idx)
                if why:
                    found.append((idx, why, False))
            elif gz.is_file() and not check_md5(str(gz), md5):
                found.append((gz, "its MD5 checksum does not match", True))
    elif hasattr(cls, "train_list"):  # CIFAR: pickled batches with known checksums
        folder = root / cls.base_folder
        for name, md5 in cls.train_list + cls.test_list:
            path = folder / name
            if path.is_file() and not check_md5(str(path), md5):
                found.append((path, "its MD5 checksum does not match", True))
    return found


def _folders(root: Path, depth: int = 3) -> set[Path]:
    """Folders at and below ``root`` (a few levels), and ``root``'s existing ancestors."""
    root = root.absolute()
    found = {p for p in root.parents if p.is_dir()}
    level = [root] if root.is_dir() else []
    for _ in range(depth):
        found.update(level)
        level = [c for d in level for c in d.iterdir() if c.is_dir()]
    return found | set(level)


def _remove_new_empty_folders(root: Path, existed: set[Path]) -> None:
    """A failed download must not leave empty folders behind that were not there before."""
    for folder in sorted(_folders(root) - existed, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty


def _as_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    x = ds.data
    if not isinstance(x, torch.Tensor):  # CIFAR keeps numpy (N, H, W, C)
        x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    elif x.dim() == 3:  # MNIST-style (N, H, W)
        x = x.unsqueeze(1)
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    return x.contiguous(), y


REGISTRY: dict[str, Callable[[str, int], TensorData]] = {
    "synthetic": _synthetic,
    "digits": _digits,
    "mnist": _torchvision("MNIST", DIGIT_CLASSES, "mnist"),
    "fashion_mnist": _torchvision("FashionMNIST", FASHION_CLASSES, "fashion_mnist"),
    "cifar10": _torchvision("CIFAR10", CIFAR10_CLASSES, "cifar10"),
}


def load_dataset(name: str, data_dir: str = "./data", seed: int = 0, image_size: int = 0,
                 val_fraction: float = 0.1, notes: list[str] | None = None, path=None):
    """A built-in dataset by name (TensorData), or the user's (folder:, npz:, FILE.py:NAME,
    MODULE:NAME; engine/vision/user_data.py): TensorData, or StreamingData when a DataPath
    ``path`` is given and its decoded images are over its budget. What loading the user's
    data found (classes and counts, the path taken, images skipped) goes into ``notes``."""
    if name in REGISTRY:
        return REGISTRY[name](data_dir, seed)
    from .user_data import LoadNotes, load_user_data

    found = LoadNotes([])
    data = load_user_data(name, seed, image_size, val_fraction, found, path)
    if notes is not None:
        notes.append(f"data {data.name}: {data.n_train:,} train / {data.n_test:,} "
                     f"test, {shape_text(data)}")
        notes.extend(found.lines())
    return data
