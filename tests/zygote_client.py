"""The test side of tests/cli_zygote.py: start it once per test process, run CLI
commands in forks of it, collect their output and exit status as subprocess.run does."""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class Zygote:
    def __init__(self):
        self._dir = tempfile.mkdtemp(prefix="tbx-zygote-")
        self._path = os.path.join(self._dir, "socket")
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("cli_zygote.py")), self._path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        ready = self._proc.stdout.readline()
        if ready != b"ready\n":
            raise RuntimeError(f"the CLI zygote did not start (exit {self._proc.wait()})")
        atexit.register(self.close)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def run(self, argv: list[str], cwd: Path, env: dict, timeout: float
            ) -> subprocess.CompletedProcess:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self._path)
            header = json.dumps({"argv0": argv[0], "args": argv[3:], "cwd": str(cwd),
                                 "env": env}).encode()
            socket.send_fds(conn, [header], [stdin, out_w, err_w])
            conn.shutdown(socket.SHUT_WR)
        finally:
            for fd in (stdin, out_w, err_w):
                os.close(fd)
        return self._collect(argv, conn, out_r, err_r, timeout)

    def _collect(self, argv, conn, out_r, err_r, timeout) -> subprocess.CompletedProcess:
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        status = b""
        sel = selectors.DefaultSelector()
        for fd in (out_r, err_r, conn.fileno()):
            sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        pid = None
        try:
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    if pid is None:
                        pid = _pid(status)
                    if pid:
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(argv, timeout,
                                                    b"".join(chunks[out_r]),
                                                    b"".join(chunks[err_r]))
                for key, _ in sel.select(min(left, 1.0)):
                    fd = key.fd
                    data = conn.recv(4096) if fd == conn.fileno() else os.read(fd, 65536)
                    if not data:
                        sel.unregister(fd)
                    elif fd == conn.fileno():
                        status += data
                    else:
                        chunks[fd].append(data)
        finally:
            sel.close()
            conn.close()
            os.close(out_r)
            os.close(err_r)
        lines = dict(line.split(" ", 1) for line in status.decode().split("\n") if line)
        if "exit" not in lines:
            raise RuntimeError(f"the CLI zygote lost a run: {status!r}")
        return subprocess.CompletedProcess(
            argv, int(lines["exit"]), _text(chunks[out_r]), _text(chunks[err_r]))


def _pid(status: bytes) -> int | None:
    for line in status.decode().split("\n"):
        if line.startswith("pid "):
            return int(line[4:])
    return None


def _text(chunks: list[bytes]) -> str:
    # as subprocess.run(text=True) decodes: the locale's encoding, universal newlines
    return b"".join(chunks).decode().replace("\r\n", "\n").replace("\r", "\n")
