"""Find runs under log directories and keep a MetricStore up to date with them.

A run is a directory that directly holds event files (any file whose name contains
``tfevents``, as TensorBoard decides), at any depth. ``poll()`` does one pass: new runs
appear, vanished ones go, every file is read from where the last pass stopped. ``start()``
runs passes on a background thread, so the UI thread never reads files.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .reader import EventFileReader
from .store import MetricStore, RunData

LIVE_SECONDS = 120.0  # a run whose files changed within this is "live"


def is_event_file(name: str) -> bool:
    return "tfevents" in name


def discover(roots: list[str]) -> dict[str, tuple[str, list[str]]]:
    """run name -> (run folder, its event files sorted by name, as TensorBoard orders them)."""
    found: dict[str, tuple[str, list[str]]] = {}
    prefix = len(roots) > 1
    for root in roots:
        root_path = Path(root)
        seen: set[str] = set()
        for folder, dirs, files in os.walk(root, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:  # a symlink loop, or the same folder twice: read it once
                dirs.clear()
                continue
            seen.add(real)
            dirs.sort()
            events = sorted(f for f in files if is_event_file(f))
            if not events:
                continue
            rel = os.path.relpath(folder, root)
            name = root_path.resolve().name if rel == "." else rel.replace(os.sep, "/")
            if prefix and rel != ".":
                name = f"{root_path.resolve().name}/{name}"
            found[name] = (folder, [os.path.join(folder, f) for f in events])
    return found


def run_status(run: RunData, now: float) -> str:
    if run.finished is True:
        return "finished"
    if run.finished is False:
        return "failed"
    return "live" if run.mtime and now - run.mtime < LIVE_SECONDS else "stale"


class LogWatcher:
    def __init__(self, roots: list[str], store: MetricStore | None = None,
                 interval: float = 1.0):
        self.roots = [str(r) for r in roots]
        self.store = store or MetricStore()
        self.interval = interval
        self.readers: dict[str, EventFileReader] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def poll(self) -> bool:
        """One pass over every root. Returns whether the store changed."""
        before = self.store.version
        found = discover(self.roots)
        store = self.store
        for name in [n for n in store.runs if n not in found]:
            store.drop_run(name)
        for name, (folder, files) in found.items():
            run = store.run(name, folder)
            run.files = len(files)
            empty, newest = 0, run.mtime
            for path in files:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                empty += st.st_size == 0
                newest = max(newest or 0.0, st.st_mtime)
                reader = self.readers.setdefault(path, EventFileReader(path))
                chunk = reader.read()
                if chunk is not None:
                    if chunk.reset:
                        run = self._restart_run(name, folder)
                    store.apply(run, chunk)
            if (empty, newest) != (run.empty_files, run.mtime):
                with store.lock:
                    run.empty_files, run.mtime = empty, newest
                    store.touch(run)
        for path in [p for p in self.readers if not os.path.exists(p)]:
            del self.readers[path]
        return self.store.version != before

    def _restart_run(self, name: str, folder: str) -> RunData:
        """A file was truncated or replaced: reread the whole run from scratch."""
        self.store.drop_run(name)
        for path, reader in self.readers.items():
            if os.path.dirname(path) == folder:
                reader.offset = reader.records = reader.bad = 0
        return self.store.run(name, folder)

    # ---- background thread -----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tbx-watcher", daemon=True)
        self._thread.start()

    def poll_now(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
                self.error = None
            except Exception as e:  # keep watching; the UI shows the message
                self.error = f"{type(e).__name__}: {e}"
            self._wake.wait(self.interval)
            self._wake.clear()
