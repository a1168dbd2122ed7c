"""Facts about the user's data files that need neither torch nor decoding (the setup form
asks them on every keystroke): class folders counted by name, NumPy array headers."""

from __future__ import annotations

import os

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _count(root: str) -> dict[str, int]:
    out = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if os.path.isdir(folder):
            out[name] = sum(1 for f in os.listdir(folder)
                            if f.lower().endswith(IMAGE_SUFFIXES))
    return out


def folder_counts(root: str) -> tuple[dict[str, tuple[int, int]], str]:
    """class -> (train images, held-out images), and the held-out folder's name ("" when
    the folder is one pool to be split)."""
    held = next((d for d in ("val", "test") if os.path.isdir(os.path.join(root, d))), "")
    if held and os.path.isdir(os.path.join(root, "train")):
        train, test = _count(os.path.join(root, "train")), _count(os.path.join(root, held))
        return {c: (n, test.get(c, 0)) for c, n in train.items()}, held
    pool = os.path.join(root, "train") if os.path.isdir(os.path.join(root, "train")) else root
    return {c: (n, 0) for c, n in _count(pool).items()}, ""


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
                        version = np.lib.format.read_magic(f)
                        shape, _, _ = np.lib.format._read_array_header(f, version)
                        shapes[info.filename[:-4]] = shape
            return shapes
    except Exception as e:
        return f"cannot read {path} as a NumPy archive ({type(e).__name__})"
