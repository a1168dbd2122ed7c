"""The real app in a pseudo-terminal, read through pyte (a terminal emulator): what a user
sees, and every byte the app wrote. Shared by the key-latency and the SSH-bytes
benchmarks.

Times are taken when the app's bytes arrive, not when pyte has parsed them: one thread
reads the pty (and stamps each read), another feeds pyte. pyte is pure Python and takes
~100 ms to parse a full 200x60 redraw on a busy core; a native terminal draws it within
a frame, so counting pyte's parsing would time the harness, not the app. For the same
reason the reading thread must not wait for the GIL behind pyte: a pty holds a few KB,
and a reader let in once per switch interval (5 ms) throttled the app's output to
~0.8 MB/s and held a 30 KB redraw back by 200 ms (seen read by read). The harness
switches threads every 0.2 ms instead."""

from __future__ import annotations

import fcntl
import os
import pty
import queue
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import pyte


class PtyApp:
    def __init__(self, args: list[str], cols: int, rows: int, cwd: str,
                 env: dict | None = None):
        sys.setswitchinterval(0.0002)
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.bytes = 0           # everything the app wrote
        self.changed = threading.Condition(self.lock)
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols),
                "LINES": str(rows), **(env or {})}
        def controlling_terminal():  # as a login shell's: the pty's end is its SIGHUP
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        # With the pty as its controlling terminal, a harness that dies (its end of the
        # pty closed) hangs the app up, as a dropped SSH session does; without it, an
        # orphaned app was left spinning on a dead terminal.
        self.proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", *args], cwd=cwd,
                                     stdin=slave, stdout=slave, stderr=slave, env=full,
                                     preexec_fn=controlling_terminal)
        os.close(slave)
        self.fd = master
        self.fed_at = 0.0        # when the bytes pyte parsed last arrived
        self._waiting = None     # wait()'s condition, checked by the feeding thread
        self._met: float | None = None  # when the bytes that met it arrived
        self._raw: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._feed, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.bytes += len(data)
            self._raw.put((time.perf_counter(), data))

    def _feed(self) -> None:
        while True:
            arrived, data = self._raw.get()
            with self.changed:
                self.stream.feed(data)
                self.fed_at = arrived
                # The waiter's condition is checked here, right after the read that may
                # satisfy it: the waiting thread could wake only after later reads.
                if self._waiting is not None and self._met is None and \
                        self._waiting("\n".join(self.screen.display)):
                    self._met = arrived
                self.changed.notify_all()
            self._raw.task_done()

    def text(self) -> str:
        """The screen once every byte read so far is parsed."""
        self._raw.join()
        with self.lock:
            return "\n".join(self.screen.display)

    def send(self, keys: str) -> float:
        t = time.perf_counter()
        os.write(self.fd, keys.encode())
        return t

    def wait(self, cond, timeout: float = 30.0) -> float | None:
        """Seconds from now until the app's bytes that make ``cond(screen text)`` hold
        arrived (checked after pyte parses each read), or None at the timeout."""
        t0 = time.perf_counter()
        deadline = t0 + timeout
        with self.changed:
            if cond("\n".join(self.screen.display)):
                return max(self.fed_at - t0, 0.0)
            self._waiting, self._met = cond, None
            try:
                while self._met is None:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        return None
                    self.changed.wait(min(left, 0.2))
                return max(self._met - t0, 0.0)
            finally:
                self._waiting = None

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass


def busy_loop() -> subprocess.Popen:
    """One core kept busy by another process, as a user's other work would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])
