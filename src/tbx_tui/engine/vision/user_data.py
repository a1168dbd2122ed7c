"""The user's data, loaded once into tensors (the same tensor-resident path as the
built-in datasets): an image folder, a NumPy archive, or a factory (tbx_tui.refs has the
references and their contracts).

Images are decoded with ``torchvision.io`` straight into uint8 tensors; an image that
cannot be decoded is skipped and counted, never fatal. Every other problem is one line
(``DataUnavailable``) before a run folder exists.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field, replace

import torch

from ..runtime.errors import DataUnavailable
from .tensor_data import TensorData
from .streaming import DataPath, item_image

from ...data_files import IMAGE_SUFFIXES, class_files, folder_layout

MAX_CLASSES = 100_000  # a label is a class number below this


@dataclass
class LoadNotes:
    skipped: list[str]   # images that could not be decoded
    path: str = ""       # which data path was chosen, and why
    too_large: list[str] = field(default_factory=list)  # over PIXEL_BUDGET, not decoded

    def lines(self) -> list[str]:
        from .streaming import PIXEL_BUDGET

        found = [self.path] if self.path else []
        if self.skipped:
            found.append(f"skipped {len(self.skipped)} image(s) that could not be decoded "
                         f"(first: {self.skipped[0]})")
        if self.too_large:
            found.append(f"skipped {len(self.too_large)} image(s) declaring more than "
                         f"{PIXEL_BUDGET:,} pixels (first: {self.too_large[0]})")
        return found


def load_user_data(text: str, seed: int, image_size: int, val_fraction: float,
                   notes: LoadNotes, path: DataPath | None = None):
    """TensorData, or StreamingData when ``path`` is given and the decoded images would
    not fit its budget. Arrays and factories that return tensors are in memory already."""
    from ...refs import parse_data

    ref = parse_data(text)
    if ref.kind == "folder":
        return _folder(ref.target, seed, image_size, val_fraction, notes, path)
    if ref.kind == "npz":
        return _npz(ref.target)
    return _factory(ref, notes, path)


# ---- image folders ---------------------------------------------------------------------
def _folder(root: str, seed: int, image_size: int, val_fraction: float, notes: LoadNotes,
            path: DataPath | None):
    label = f"folder:{root}"
    classes, train, test = _folder_files(root, seed, val_fraction, label)
    if path is not None:
        shape = _probe(train[0], image_size, label)
        decoded = (len(train[0]) + len(test[0])) * math.prod(shape)  # uint8: one byte per value
        if decoded > path.budget:
            from .streaming import FolderImages, StreamingData

            notes.path = path.streaming(decoded)
            return StreamingData(label, FolderImages(*train, shape), FolderImages(*test, shape),
                                 classes, path.workers)
        notes.path = path.resident(decoded)
    x, y, n = _decode(train[0] + test[0], train[1] + test[1], len(train[0]), image_size,
                      notes, label)
    if not n or n == len(y):
        raise DataUnavailable(f"{label}: no {'training' if not n else 'held-out'} "
                              "image could be decoded")
    return TensorData(label, x[:n], y[:n], x[n:], y[n:], classes)


def _folder_files(root: str, seed: int, val_fraction: float, label: str):
    """(classes, (train paths, labels), (test paths, labels)). A single pool is split by
    file with a seeded permutation: the same split on either data path, every run."""
    train_root, held = folder_layout(root)
    train_files = class_files(train_root)
    test_files = class_files(held) if held else None
    if test_files is not None and sorted(test_files) != sorted(train_files):
        raise DataUnavailable(f"{label}: {os.path.basename(held)}/ has classes "
                              f"{sorted(test_files)}, train/ has {sorted(train_files)}")
    classes = sorted(train_files)
    if len(classes) < 2:
        raise DataUnavailable(f"{label}: {len(classes)} class folder(s) with images; a "
                              "classifier needs at least 2 (PATH/<class>/<image>)")
    empty = [c for c in classes if not train_files[c]]
    if empty:
        raise DataUnavailable(f"{label}: no images in class folder(s) {', '.join(empty)} "
                              f"(looked for {', '.join(IMAGE_SUFFIXES)})")

    def flat(files):
        pairs = [(f, k) for k, c in enumerate(classes) for f in files.get(c, [])]
        return [f for f, _ in pairs], [k for _, k in pairs]

    paths, labels = flat(train_files)
    if test_files is not None:
        return classes, (paths, labels), flat(test_files)
    perm = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, int(round(len(paths) * val_fraction)))

    def pick(ids):
        ids = sorted(ids)  # file order within the split, as with train/ and val/
        return [paths[i] for i in ids], [labels[i] for i in ids]

    return classes, pick(perm[n_test:]), pick(perm[:n_test])


def _probe(paths: list[str], image_size: int, label: str, count: int = 16):
    """(C, H, W) from a few images spread over the folder (not every image: that is what
    streaming avoids). Different sizes without --image-size are refused, as on the
    resident path; an image met later with another size is resized to this one."""
    from .streaming import decode_file

    step = max(1, len(paths) // count)
    shapes = set()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io")
        for path in paths[::step][:count]:
            try:
                shapes.add(tuple(decode_file(path, 0, None).shape))
            except Exception:
                continue  # a broken file: the next one tells
    if not shapes:
        raise DataUnavailable(f"{label}: none of {min(count, len(paths))} images tried could "
                              "be decoded")
    sizes = sorted({s[1:] for s in shapes})
    if len(sizes) > 1 and not image_size:
        raise _mixed_sizes(label, sizes)
    h, w = (image_size, image_size) if image_size else sizes[0]
    return (max(s[0] for s in shapes), h, w)


def _mixed_sizes(label: str, sizes: list[tuple[int, int]]) -> DataUnavailable:
    shown = ", ".join(f"{h}×{w}" for h, w in sizes[:3])
    return DataUnavailable(f"{label}: images of different sizes ({shown}…); give "
                           "--image-size N to resize them to N×N")


def _decode(paths: list[str], labels: list[int], n_train: int, image_size: int,
            notes: LoadNotes, label: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(uint8 images (K, C, H, W), their labels, how many of them are training images):
    each image decoded straight into its row of one tensor, so a folder's load peaks at
    its decoded size plus one image (a list of images, then torch.stack, held it twice:
    2.1× measured). Images that cannot be decoded, or declare too many pixels, are left
    out and counted; grey images join colour ones as three equal channels."""
    from .streaming import ImageTooLarge, decode_file

    size = (image_size, image_size) if image_size else None
    x, kept, kept_train = None, [], 0
    # torchvision 0.29 marks its image decoders deprecated in favour of TorchCodec;
    # they are what this path uses, and they work.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io")
        for i, (path, k) in enumerate(zip(paths, labels)):
            try:
                img = decode_file(path, 0, size)
            except ImageTooLarge:  # a decompression bomb, or just too big: not decoded
                notes.too_large.append(path)
                continue
            except Exception:  # truncated, not an image, unsupported: skipped, counted
                notes.skipped.append(path)
                continue
            if x is None:  # rows for every file; those of skipped files are never touched
                x = torch.empty((len(paths), *img.shape), dtype=torch.uint8)
            elif tuple(img.shape[1:]) != tuple(x.shape[2:]):
                raise _mixed_sizes(label, sorted({tuple(x.shape[2:]), tuple(img.shape[1:])}))
            if img.shape[0] > x.shape[1]:  # the first colour image after grey ones
                wider = torch.empty((len(paths), img.shape[0], *x.shape[2:]), dtype=torch.uint8)
                wider[:len(kept)] = x[:len(kept)].expand(-1, img.shape[0], -1, -1)
                x = wider
            x[len(kept)] = img.expand(x.shape[1], -1, -1)
            kept.append(k)
            kept_train += i < n_train
    if x is None:
        raise DataUnavailable(f"{label}: no training image could be decoded")
    return x[:len(kept)], torch.tensor(kept, dtype=torch.long), kept_train


# ---- arrays and factories --------------------------------------------------------------
def _images(x: torch.Tensor, label: str, which: str) -> torch.Tensor:
    """(N, H, W) grey or (N, H, W, C) channels-last uint8, or (N, C, H, W) floats."""
    if x.dtype == torch.uint8:
        if x.dim() == 3:
            return x.unsqueeze(1).contiguous()
        if x.dim() == 4 and x.shape[-1] in (1, 3):
            return x.permute(0, 3, 1, 2).contiguous()
        if x.dim() == 4 and x.shape[1] in (1, 3):  # already (N, C, H, W)
            return x.contiguous()
    elif x.is_floating_point() and x.dim() == 4:
        return x.float().contiguous()
    raise DataUnavailable(f"{label}: {which} has shape {tuple(x.shape)} and dtype "
                          f"{str(x.dtype).replace('torch.', '')}; expected uint8 (N, H, W) or "
                          "(N, H, W, C), or float (N, C, H, W)")


def _labels(y: torch.Tensor, n: int, label: str, which: str) -> torch.Tensor:
    if y.dim() != 1 or y.is_floating_point() or len(y) != n:
        raise DataUnavailable(f"{label}: {which} must be {n} integer labels, got shape "
                              f"{tuple(y.shape)} {str(y.dtype).replace('torch.', '')}")
    if len(y) and int(y.min()) < 0:
        raise DataUnavailable(f"{label}: {which} has negative labels")
    if len(y) and int(y.max()) >= MAX_CLASSES:
        raise DataUnavailable(_too_many_classes(label, which, int(y.max())))
    return y.long()


def _too_many_classes(label: str, which: str, top: int) -> str:
    # The class count follows the largest label, and the model's last layer that count:
    # one label of 2**40 asked for terabytes.
    return (f"{label}: {which} has label {top:,}; labels are class numbers 0-"
            f"{MAX_CLASSES - 1:,} (at most {MAX_CLASSES:,} classes)")


def _assemble(label: str, xtr, ytr, xte, yte) -> TensorData:
    if xtr.dim() == 2 and ytr.is_floating_point():  # features and targets: regression
        return _table(label, xtr, ytr, xte, yte)
    xtr, xte = _images(xtr, label, "x_train"), _images(xte, label, "x_test")
    if xtr.shape[1:] != xte.shape[1:]:
        raise DataUnavailable(f"{label}: x_train images are {tuple(xtr.shape[1:])}, x_test "
                              f"{tuple(xte.shape[1:])}")
    ytr, yte = _labels(ytr, len(xtr), label, "y_train"), _labels(yte, len(xte), label, "y_test")
    k = int(max(ytr.max(), yte.max())) + 1 if len(ytr) and len(yte) else 0
    if k < 2 or not len(ytr) or not len(yte):
        raise DataUnavailable(f"{label}: needs images of at least 2 classes in both train "
                              "and test")
    return TensorData(label, xtr, ytr, xte, yte, [str(i) for i in range(k)])


def _table(label: str, xtr, ytr, xte, yte) -> TensorData:
    """A table for regression: float features (N, F), float targets (N,) or (N, K)."""
    parts = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    for which, t in parts.items():
        if not (t.is_floating_point() or (which[0] == "x" and t.dtype != torch.bool)):
            raise DataUnavailable(f"{label}: {which} is {str(t.dtype).replace('torch.', '')};"
                                  " a regression table takes numbers, its targets floats")
    for x, y, which in ((xtr, ytr, "train"), (xte, yte, "test")):
        if x.dim() != 2 or y.dim() not in (1, 2) or len(y) != len(x) or not len(x):
            raise DataUnavailable(f"{label}: x_{which} {tuple(x.shape)} and y_{which} "
                                  f"{tuple(y.shape)}; a regression table needs x (N, "
                                  "features) and y (N,) or (N, outputs), N at least 1")
    if xtr.shape[1] != xte.shape[1] or ytr.shape[1:] != yte.shape[1:]:
        raise DataUnavailable(f"{label}: train has {xtr.shape[1]} features and targets "
                              f"{tuple(ytr.shape[1:])}, test {xte.shape[1]} and "
                              f"{tuple(yte.shape[1:])}")
    parts = {k: v.float().contiguous() for k, v in parts.items()}
    for which, t in parts.items():  # one NaN makes every loss and R² NaN
        if not bool(torch.isfinite(t).all()):
            raise DataUnavailable(f"{label}: {which} holds NaN or infinite values")
    return TensorData(label, *parts.values(), [])


def _npz(path: str) -> TensorData:
    import numpy as np

    label = f"npz:{path}"
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f]
            if missing:
                raise DataUnavailable(f"{label}: no {', '.join(missing)} in the archive "
                                      f"(it has {', '.join(f.files) or 'nothing'})")
            arrays = [torch.from_numpy(np.ascontiguousarray(f[k]))
                      for k in ("x_train", "y_train", "x_test", "y_test")]
    except DataUnavailable:
        raise
    except Exception as e:  # not a zip, pickled objects, truncated
        raise DataUnavailable(f"{label}: cannot read it as a NumPy archive "
                              f"({type(e).__name__}: {e})") from None
    return _assemble(label, *arrays)


def _factory(ref, notes: LoadNotes, path: DataPath | None):
    from ..runtime.errors import ModelUnusable
    from ..runtime.user_code import no_exit, user_object

    try:
        build, where = user_object(ref, "data")
    except ModelUnusable as e:
        raise DataUnavailable(str(e).replace("model: ", "data: ", 1)) from None
    label = f"data {where}"
    with no_exit(f"data: {where}"):  # outside: SystemExit passes the excepts below
        try:
            train, test = build()
            if path is not None and not _pair(train):
                streamed = _stream_datasets(label, train, test, notes, path)
                if streamed is not None:
                    streamed.name = where
                    return streamed
            parts = [_materialise(part) for part in (train, test)]
        except DataUnavailable:
            raise
        except Exception as e:
            raise DataUnavailable(f"data: {where}() raised {type(e).__name__}: {e} (it "
                                  "must return (train, test), each (x, y) tensors or a "
                                  "Dataset of (image, label) pairs)") from None
    return replace(_assemble(label, *parts[0], *parts[1]), name=where)


def _pair(part) -> bool:
    return isinstance(part, (tuple, list)) and len(part) == 2


def _stream_datasets(label: str, train, test, notes: LoadNotes, path: DataPath):
    """Map-style Datasets whose images would not fit the budget are read a batch at a
    time by the workers, like an image folder; None when they fit."""
    from .streaming import DatasetItems, StreamingData

    first = item_image(train[0][0])
    dtype = torch.uint8 if first.dtype == torch.uint8 else torch.float32
    decoded = (len(train) + len(test)) * first.numel() * dtype.itemsize
    if decoded <= path.budget:
        return None
    notes.path = path.streaming(decoded)
    classes = _dataset_classes(label, train, test)
    shape = tuple(first.shape)
    return StreamingData(label, DatasetItems(train, shape, dtype),
                         DatasetItems(test, shape, dtype), classes, path.workers)


def _dataset_classes(label: str, train, test) -> list[str]:
    """Class names from the Dataset's ``classes`` or ``targets`` (torchvision's datasets
    have both), else from reading the test labels: the only pass over items before
    training, so it is bounded."""
    names = getattr(train, "classes", None)
    if isinstance(names, (list, tuple)) and len(names) > MAX_CLASSES:
        raise DataUnavailable(f"{label}: the train Dataset names {len(names):,} classes; "
                              f"at most {MAX_CLASSES:,}")
    if isinstance(names, (list, tuple)) and len(names) >= 2:
        return [str(c) for c in names]
    targets = getattr(train, "targets", None)
    if targets is not None and len(targets):
        k = int(torch.as_tensor(targets).max()) + 1
    elif len(test) <= 100_000:
        k = max((int(test[i][1]) for i in range(len(test))), default=0) + 1
    else:
        raise DataUnavailable(f"{label}: give the train Dataset a classes or targets "
                              "attribute: a test set of over 100,000 items is not read "
                              "twice to count classes")
    if k > MAX_CLASSES:
        raise DataUnavailable(_too_many_classes(label, "the train Dataset", k - 1))
    if k < 2:
        raise DataUnavailable(f"{label}: needs images of at least 2 classes")
    return [str(i) for i in range(k)]


def _materialise(part) -> tuple[torch.Tensor, torch.Tensor]:
    if _pair(part):
        return torch.as_tensor(part[0]), torch.as_tensor(part[1])
    xs, ys = zip(*(part[i] for i in range(len(part))))  # a map-style Dataset
    return torch.stack([torch.as_tensor(x) for x in xs]), torch.as_tensor(ys)
