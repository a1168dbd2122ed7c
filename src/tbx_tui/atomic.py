"""Files written one way: whole or not at all.

A temporary file next to the target, flushed and fsynced, then renamed over it, so a
reader (TensorBoard, ``torch.load``, a user) sees the old file or the new one, never half
of one; on any failure (a full disk, an interrupt) the temporary file is removed and the
error goes on. No torch here: the UI writes CSV exports through it too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


_UMASK = os.umask(0o022)  # read once (it can only be read by setting it), then put back
os.umask(_UMASK)


class _WriteErrors:
    """A file that remembers the OSError of a failed write: serialisers such as
    ``torch.save`` turn it into an unrelated RuntimeError ("unexpected pos 832 vs 726")."""

    def __init__(self, f: IO):
        self._f = f
        self.error: OSError | None = None

    def write(self, data):
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name):
        return getattr(self._f, name)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", **open_kw) -> Iterator[IO]:
    """Open a temporary file for writing; on success it becomes ``path``. A failed write
    is raised as the OSError itself, naming ``path`` (not the temporary file)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would create it, not mkstemp's 0600
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    f = None
    try:
        with os.fdopen(fd, mode, **open_kw) as raw:
            f = _WriteErrors(raw)
            yield f
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        cause = f.error if f is not None and f.error is not None else e
        if isinstance(cause, OSError):
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        raise
    _sync_folder(path.parent)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    if isinstance(data, str):
        with atomic_file(path, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        with atomic_file(path, "wb") as f:
            f.write(data)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def describe_os_error(e: OSError, what: str = "") -> str:
    """One line for an OSError, naming the file: 'cannot write runs/x/model.pt: No space
    left on device'."""
    where = what or e.filename or ""
    reason = e.strerror or str(e) or type(e).__name__
    return f"cannot write {where}: {reason}" if where else reason
