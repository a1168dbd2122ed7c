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

from ..safe_text import clean
from .reader import EventFileReader
from .runstate import pace, quiet_limit
from .store import MetricStore, RunData


def is_event_file(name: str) -> bool:
    return "tfevents" in name


def discover(roots: list[str], problems: dict[str, str] | None = None
             ) -> dict[str, tuple[str, list[str]]]:
    """run name -> (run folder, its event files sorted by name, as TensorBoard orders them).
    Folders that cannot be listed go into ``problems`` (run name -> what is wrong): one of
    them may hold runs, and saying nothing would show it as absent."""
    found: dict[str, tuple[str, list[str]]] = {}
    prefix = len(roots) > 1
    for root in roots:
        root_path = Path(root)

        def name_of(folder: str) -> str:
            rel = os.path.relpath(folder, root)
            name = root_path.resolve().name if rel == "." else rel.replace(os.sep, "/")
            # A folder name is anyone's text: it is shown, never sent to the terminal raw.
            return clean(f"{root_path.resolve().name}/{name}" if prefix and rel != "."
                         else name)

        def unreadable(err: OSError) -> None:
            if problems is not None:
                problems[name_of(err.filename or root)] = \
                    clean(f"cannot list folder: {err.strerror or err}")

        seen: set[str] = set()
        for folder, dirs, files in os.walk(root, followlinks=True, onerror=unreadable):
            real = os.path.realpath(folder)
            if real in seen:  # a symlink loop, or the same folder twice: read it once
                dirs.clear()
                continue
            seen.add(real)
            dirs.sort()
            events = sorted(f for f in files if is_event_file(f))
            if events:
                name = base = name_of(folder)
                n = 2
                while name in found:  # two folders that only differ in what clean() showed
                    name = f"{base} ({n})"
                    n += 1
                found[name] = (folder, [os.path.join(folder, f) for f in events])
    return found


def run_status(run: RunData, now: float) -> str:
    """finished, stopped, diverged or failed as the run said; else unreadable, or live /
    stale by how long its files have been quiet against their own pace (runstate.py)."""
    if run.end_state is not None:
        return run.end_state
    if run.problems and not run.records:
        return "unreadable"
    limit = quiet_limit(pace([s.walls for s in run.scalars.values()]))
    return "live" if run.mtime and now - run.mtime < limit else "stale"


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
        # Real paths of the run folders to read; None: every run under the roots. Runs
        # left out are counted, not read (the app's earlier runs, until asked for).
        self.only: set[str] | None = None
        self.left_out = 0

    def poll(self) -> bool:
        """One pass over every root. Returns whether the store changed."""
        before = self.store.version
        unlisted: dict[str, str] = {}
        found = discover(self.roots, unlisted)
        only = self.only
        if only is not None:
            # A folder in ``only`` keeps its runs, and a sweep folder its trials' runs.
            kept = {n: v for n, v in found.items() if os.path.realpath(v[0]) in only or
                    os.path.dirname(os.path.realpath(v[0])) in only}
            self.left_out = len(found) - len(kept)
            found, unlisted = kept, {}
        else:
            self.left_out = 0
        store = self.store
        for name in [n for n in store.runs if n not in found and n not in unlisted]:
            store.drop_run(name)
        for name, problem in unlisted.items():
            if name not in found:
                self._set_problems(store.run(name, ""), {"": problem})
        for name, (folder, files) in found.items():
            self._poll_run(name, folder, files)
        for path in [p for p in self.readers if not os.path.lexists(p)]:
            del self.readers[path]
        return self.store.version != before

    def _poll_run(self, name: str, folder: str, files: list[str]) -> None:
        store = self.store
        readers = [self.readers.setdefault(p, EventFileReader(p)) for p in files]
        if any(r.replaced() for r in readers):
            # A file was truncated or replaced: what the run holds is void. Read the
            # whole run again, in file order, in this same pass.
            store.drop_run(name)
            for r in readers:
                r.rewind()
        run = store.run(name, folder)
        run.files = len(files)
        empty, newest = 0, run.mtime
        for reader in readers:
            chunk = reader.read(checked=True)
            if chunk is not None and (chunk.records or chunk.bad):
                store.apply(run, chunk)
            try:
                st = os.stat(reader.path)
            except OSError:
                continue
            empty += st.st_size == 0
            newest = max(newest or 0.0, st.st_mtime)
        problems = {clean(os.path.basename(r.path)): clean(r.problem)
                    for r in readers if r.problem}
        self._set_problems(run, problems)
        if (empty, newest) != (run.empty_files, run.mtime):
            with store.lock:
                run.empty_files, run.mtime = empty, newest
                store.touch(run)

    def _set_problems(self, run: RunData, problems: dict[str, str]) -> None:
        if problems != run.problems:
            with self.store.lock:
                run.problems = problems
                self.store.touch(run)

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
                self.error = clean(f"{type(e).__name__}: {e}")
            self._wake.wait(self.interval)
            self._wake.clear()
