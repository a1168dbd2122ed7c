"""Facts about the user's data files that need neither torch nor decoding (the setup form
asks them on every keystroke): class folders counted by name, NumPy array headers, the
files of a text corpus."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def class_files(root: str) -> dict[str, list[str]]:
    """class folder -> its image files (sorted), for every folder under ``root``."""
    classes = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if os.path.isdir(folder):
            classes[name] = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                                   if f.lower().endswith(IMAGE_SUFFIXES))
    return classes


def folder_layout(root: str) -> tuple[str, str | None]:
    """(the folder of training classes, the held-out folder or None): PATH/train with
    PATH/val (or test), else one pool — PATH/train alone, or PATH itself."""
    train = os.path.join(root, "train")
    held = next((os.path.join(root, d) for d in ("val", "test")
                 if os.path.isdir(os.path.join(root, d))), None)
    if os.path.isdir(train):
        return train, held
    return root, None


def folder_counts(root: str) -> tuple[dict[str, tuple[int, int]], str]:
    """class -> (train images, held-out images), and the held-out folder's name ("" when
    the folder is one pool to be split)."""
    train, held = folder_layout(root)
    counts = {c: len(f) for c, f in class_files(train).items()}
    if held is None:
        return {c: (n, 0) for c, n in counts.items()}, ""
    test = {c: len(f) for c, f in class_files(held).items()}
    return {c: (n, test.get(c, 0)) for c, n in counts.items()}, os.path.basename(held)
def npz_shapes(path: str) -> dict[str, tuple[int, ...]] | str:
    """Array name -> shape, from the archive's .npy headers; or what is wrong."""
    import zipfile

    import numpy as np

    try:
        with zipfile.ZipFile(path) as z:
            shapes = {}
            for info in z.infolist():
                if info.filename.endswith(".npy"):
                    with z.open(info) as f:
                        shapes[info.filename[:-4]] = _npy_shape(f)
            return shapes
    except Exception as e:
        return f"cannot read {path} as a NumPy archive ({type(e).__name__})"


def _npy_shape(f) -> tuple[int, ...]:
    """An .npy member's shape from its header alone (NumPy 2 dropped the private reader
    this used to call, and every archive then read as unreadable in the form)."""
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        return fmt.read_array_header_1_0(f)[0]
    if version == (2, 0):
        return fmt.read_array_header_2_0(f)[0]
    return fmt._read_array_header(f, version)[0]  # 3.0: utf-8 field names, rare


def shakespeare_file(data_dir: str) -> Path:
    """Where tiny-Shakespeare is looked for and downloaded (torchvision-style layout)."""
    return Path(data_dir).expanduser() / "tinyshakespeare" / "input.txt"


def text_files(path: Path) -> list[Path]:
    """A text corpus's files: the file itself, or a folder's files in name order, hidden
    ones skipped."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]
