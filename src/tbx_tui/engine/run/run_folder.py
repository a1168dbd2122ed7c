"""A run's folder: made where --logdir says, never reused, written whole.

``check_logdir`` answers before any work whether run folders can be made at all;
``create_run_folder`` makes one with its config (or leaves nothing); ``SpaceReserve``
keeps room in it for the end of the run when the disk fills up.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import threading
from pathlib import Path
from typing import Callable

from ...atomic import atomic_write, describe_os_error
from ...config import run_names


class LogdirUnusable(ValueError):
    """No run folder can be created under --logdir; ``str()`` is the one-line message."""


def _unusable(logdir: str, e: OSError) -> LogdirUnusable:
    return LogdirUnusable(f"logdir: cannot create a run folder under {logdir} "
                          f"({e.strerror or e})")


def check_logdir(logdir: str) -> None:
    """Raise LogdirUnusable unless run folders can be made under ``logdir``. Leaves no
    folder behind: the run may still fail before it starts (its data, its device)."""
    root = Path(logdir).expanduser().absolute()
    missing = [p for p in [root, *root.parents] if not p.exists()]  # deepest first
    probe = root / f".tbx-probe-{os.getpid()}-{secrets.token_hex(4)}"
    with _stop_signals_held():
        try:
            for attempt in range(5):
                root.mkdir(parents=True, exist_ok=True)
                try:
                    probe.mkdir()
                    break
                except FileNotFoundError:
                    # Another run started at the same moment in the same new logdir, and
                    # its own probe's cleanup removed the folder between our two mkdirs.
                    if attempt == 4:
                        raise
        except OSError as e:
            raise _unusable(logdir, e) from None
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()
            for p in missing:
                with contextlib.suppress(OSError):
                    p.rmdir()


@contextlib.contextmanager
def _stop_signals_held():
    """A stop signal while loading raises KeyboardInterrupt (headless.py). Held here, it
    is acted on once the probe is gone: landing between mkdir and rmdir once left a
    ``.tbx-probe-*`` folder in a logdir the run never used. (Blocking the signal is not
    enough: the kernel hands it to another thread, and Python still raises it here.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers on the main thread only
        return
    caught: list[tuple[int, object]] = []
    previous = {}
    try:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[s] = signal.signal(s, lambda signum, frame: caught.append((signum, frame)))
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum, frame in caught:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def make_run_dir(logdir: str, name: str) -> Path:
    """Create the run folder atomically; never reuse one that exists (name-2, name-3…)."""
    root = Path(logdir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for candidate in run_names(name):
        path = root / candidate
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder name for {name!r} under {root}")


def create_run_folder(logdir: str, name: str, config_text: Callable[[Path], str]) -> Path:
    """A new run folder holding ``config.toml``; on failure (a full disk) nothing is left
    and LogdirUnusable says why."""
    try:
        run_dir = make_run_dir(logdir, name)
    except OSError as e:
        raise _unusable(logdir, e) from None
    try:
        atomic_write(run_dir / "config.toml", config_text(run_dir))
    except OSError as e:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise LogdirUnusable(f"logdir: {describe_os_error(e)}") from None
    return run_dir


class SpaceReserve:
    """A few hundred KiB held in the run folder while the run trains, and given back when
    it fails or ends: when the disk fills up, that is the room in which the traceback and
    the run's end status are still written."""

    SIZE = 256 << 10
    NAME = ".tbx-space-reserve"

    def __init__(self, folder: Path):
        self.path: Path | None = folder / self.NAME
        try:
            with open(self.path, "wb") as f:
                f.write(bytes(self.SIZE))  # real blocks, not a sparse hole
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            self.release()

    def release(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None
