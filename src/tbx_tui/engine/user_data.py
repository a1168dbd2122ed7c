"""The user's data, loaded once into tensors (the same tensor-resident path as the
built-in datasets): an image folder, a NumPy archive, or a factory (tbx_tui.refs has the
references and their contracts).

Images are decoded with ``torchvision.io`` straight into uint8 tensors; an image that
cannot be decoded is skipped and counted, never fatal. Every other problem is one line
(``DataUnavailable``) before a run folder exists.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch

from .data import DataUnavailable, TensorData

from ..data_files import IMAGE_SUFFIXES, class_files, folder_layout


@dataclass
class LoadNotes:
    skipped: list[str]   # images that could not be decoded

    def lines(self) -> list[str]:
        if not self.skipped:
            return []
        return [f"skipped {len(self.skipped)} image(s) that could not be decoded "
                f"(first: {self.skipped[0]})"]


def load_user_data(text: str, seed: int, image_size: int, val_fraction: float,
                   notes: LoadNotes) -> TensorData:
    from ..refs import parse_data

    ref = parse_data(text)
    if ref.kind == "folder":
        return _folder(ref.target, seed, image_size, val_fraction, notes)
    if ref.kind == "npz":
        return _npz(ref.target)
    return _factory(ref)


# ---- image folders ---------------------------------------------------------------------
def _folder(root: str, seed: int, image_size: int, val_fraction: float,
            notes: LoadNotes) -> TensorData:
    label = f"folder:{root}"
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
    x, y = _decode(train_files, classes, image_size, label, notes)
    if test_files is None:  # one folder: a seeded split, the same every run with this seed
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        n_test = max(1, int(round(len(y) * val_fraction)))
        test, train = perm[:n_test], perm[n_test:]
        return TensorData(label, x[train], y[train], x[test], y[test], classes)
    tx, ty = _decode(test_files, classes, image_size or x.shape[-1], label, notes,
                     channels=x.shape[1])
    if tx.shape[1:] != x.shape[1:]:
        raise DataUnavailable(f"{label}: test images are {tuple(tx.shape[1:])}, train images "
                              f"{tuple(x.shape[1:])}; give --image-size")
    return TensorData(label, x, y, tx, ty, classes)


def _decode(files: dict[str, list[str]], classes: list[str], image_size: int, label: str,
            notes: LoadNotes, channels: int | None = None):
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2.functional import resize

    # torchvision 0.29 marks its image decoders deprecated in favour of TorchCodec;
    # they are what this path uses, and they work.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io")
        images, labels, sizes = [], [], set()
        for k, cls in enumerate(classes):
            for path in files.get(cls, []):
                try:
                    img = decode_image(path, mode=ImageReadMode.UNCHANGED)
                except Exception:  # truncated, not an image, unsupported: skipped, counted
                    notes.skipped.append(path)
                    continue
                if img.shape[0] == 4:  # RGBA: the alpha channel carries no class
                    img = img[:3]
                elif img.shape[0] == 2:  # grey + alpha
                    img = img[:1]
                if image_size and tuple(img.shape[1:]) != (image_size, image_size):
                    img = resize(img, [image_size, image_size], antialias=True)
                sizes.add(tuple(img.shape[1:]))
                images.append(img)
                labels.append(k)
    if not images:
        raise DataUnavailable(f"{label}: no image could be decoded")
    if len(sizes) > 1:
        shown = ", ".join(f"{h}×{w}" for h, w in sorted(sizes)[:3])
        raise DataUnavailable(f"{label}: images of different sizes ({shown}…); give "
                              "--image-size N to resize them to N×N")
    want = channels or max(img.shape[0] for img in images)  # grey and colour: colour
    images = [img.expand(want, -1, -1) if img.shape[0] != want else img for img in images]
    return torch.stack(images).contiguous(), torch.tensor(labels, dtype=torch.long)


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
    return y.long()


def _assemble(label: str, xtr, ytr, xte, yte) -> TensorData:
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


def _factory(ref) -> TensorData:
    from .models import ModelUnusable, _user_object

    try:
        build, where = _user_object(ref)
    except ModelUnusable as e:
        raise DataUnavailable(str(e).replace("model: ", "data: ", 1)) from None
    try:
        train, test = build()
        parts = [_materialise(part) for part in (train, test)]
    except DataUnavailable:
        raise
    except Exception as e:
        raise DataUnavailable(f"data: {where}() raised {type(e).__name__}: {e} (it must "
                              "return (train, test), each (x, y) tensors or a Dataset of "
                              "(image, label) pairs)") from None
    return _assemble(f"data {where}", *parts[0], *parts[1])


def _materialise(part) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(part, (tuple, list)) and len(part) == 2:
        return torch.as_tensor(part[0]), torch.as_tensor(part[1])
    xs, ys = zip(*(part[i] for i in range(len(part))))  # a map-style Dataset
    return torch.stack([torch.as_tensor(x) for x in xs]), torch.as_tensor(ys)
