"""A warm `python -m tbx_tui` for the tests: one process per test worker imports torch,
tensorboardX and our modules once, then forks a child for each CLI run.

Why: a cold start costs about 2.3 s here (torch 1.3 s, and torch._dynamo 1 s on the
first optimizer step), paid by some 80 CLI tests. The child is still a real process of
its own: its own pid, working folder, environment, stdin/stdout/stderr, signals and exit
status, running `tbx_tui` as `python -m` does (``runpy``, ``sys.path[0]`` = its folder,
thread joins and atexit at exit). What it does not repeat is the interpreter's start and
teardown (see ``run``): tests of those (imports, a Ctrl+C during them, PYTHON*
variables) run cold (conftest.cli decides), and TBX_TUI_TEST_COLD=1 runs every one cold.

Protocol, one Unix-socket connection per run: the client sends a JSON header with the
child's stdin, stdout and stderr as SCM_RIGHTS fds; the server answers ``pid N\\n``, then
``exit CODE\\n`` once the child is reaped (CODE as subprocess reports it: -N for a signal).
"""

from __future__ import annotations

import atexit
import io
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading

WARM = ("torch", "torch._dynamo", "tensorboardX", "numpy", "tbx_tui.cli",
        "tbx_tui.headless", "tbx_tui.engine", "tbx_tui.sweep.cli")


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    return json.loads(msg), fds


def serve(path: str, parent: int) -> tuple[dict, list[int]]:
    """Accept runs until the test worker goes; return only in a forked child, with its
    request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    children: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        ready, _, _ = select.select([listener], [], [], 0.02)
        if ready:
            conn, _ = listener.accept()
            request, fds = _recv_request(conn)
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in children.values():
                    other.close()
                conn.close()
                return request, fds
            for fd in fds:
                os.close(fd)
            conn.sendall(f"pid {pid}\n".encode())
            children[pid] = conn
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass  # the test gave up on it (a timeout)
                conn.close()
    for pid in children:  # the worker is gone: take its runs along
        os.kill(pid, signal.SIGKILL)
    os._exit(0)


def become(request: dict, fds: list[int]) -> None:
    """Turn this fork into `python -m tbx_tui ARGS` run in the request's folder."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin = open(0, closefd=False)
    # As a fresh `python -u` makes them (the tests set PYTHONUNBUFFERED): the binary
    # layer unbuffered, the text layer writing through.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True,
                                  errors="backslashreplace")
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin
    sys.path[0] = os.getcwd()  # what `python -m` puts first
    sys.argv = [request["argv0"], *request["args"]]
    # A fresh interpreter's handlers (the server's were never changed, but say so).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(s, signal.SIG_DFL)


def run() -> int:
    """`python -m tbx_tui` to its end, then Python's own exit steps: non-daemon threads
    joined, atexit callbacks, streams flushed. What is skipped is the interpreter's
    teardown of every module, about 0.9 s with torch loaded, which would cost more than
    the imports save for a run that ends at argument parsing (a cold one does not import
    torch for that). Tests of the teardown itself run cold (TBX_TUI_TEST_COLD=1)."""
    code = 0
    try:
        runpy.run_module("tbx_tui", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:  # as Python: the traceback, then death by SIGINT
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code == -signal.SIGINT:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code & 0xFF


def warm_graph_tracing() -> None:
    """Every training run traces its model's graph once (engine/output/graph.py), and the
    first trace in a process costs ~0.7 s of TorchScript's own warm-up (later ones,
    ~20 ms): paid here once, before the forks, instead of in every test's run."""
    import warnings

    import torch
    from torch import nn
    from torch.utils.tensorboard._pytorch_graph import graph

    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Dropout(), nn.Linear(8, 2)).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            graph(net, (torch.zeros(1, 1, 4, 4),))
        except Exception:  # a warm-up only: the runs trace for themselves
            pass


def main() -> None:
    path = sys.argv[1]
    for name in WARM:
        __import__(name)
    warm_graph_tracing()
    request, fds = serve(path, os.getppid())
    become(request, fds)
    del request, fds
    os._exit(run())


if __name__ == "__main__":
    main()
