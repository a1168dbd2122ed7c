"""The real app in a pseudo-terminal, read through pyte (a terminal emulator): what a user
sees, and every byte the app wrote. Shared by the key-latency and the SSH-bytes
benchmarks."""

from __future__ import annotations

import fcntl
import os
import pty
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
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

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
            with self.changed:
                self.bytes += len(data)
                self.stream.feed(data)
                self.changed.notify_all()

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.screen.display)

    def send(self, keys: str) -> float:
        t = time.perf_counter()
        os.write(self.fd, keys.encode())
        return t

    def wait(self, cond, timeout: float = 30.0) -> float | None:
        """Seconds until ``cond(screen text)`` holds (checked after each write of the
        app), or None at the timeout."""
        t0 = time.perf_counter()
        deadline = t0 + timeout
        with self.changed:
            while True:
                if cond("\n".join(self.screen.display)):
                    return time.perf_counter() - t0
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 0.2))

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
