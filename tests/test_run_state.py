"""A run's state tells the truth: what the run said when it ended, or the clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from logfiles import tensorboardx_run
from tbx_tui.logs.runstate import QUIET_FLOOR_S, pace, quiet_limit
from tbx_tui.logs.watcher import LogWatcher, run_status
from tbx_tui.tui.app import make_app
from tbx_tui.tui.panels.run_table import RunTable as RunList

pytestmark = pytest.mark.usefixtures("cpu_only")


def test_quiet_limit_follows_the_runs_own_pace():
    assert pace([[1.0, 2.0]]) is None  # too few writes to know
    assert quiet_limit(None) == 120.0
    assert pace([[0.0, 2.0, 4.0, 6.0], [1.0, 3.0]]) == 1.0
    assert quiet_limit(1.0) == QUIET_FLOOR_S
    assert quiet_limit(60.0) == 300.0  # a slow run is given five of its intervals


def test_a_killed_run_turns_stale_within_its_limit(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "--no-ui", "--model", "mlp",
                             "--data", "synthetic", "--epochs", "100000", "--log-every", "5"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = LogWatcher([str(tmp_path / "runs")])
    deadline = time.monotonic() + 60
    while not any(len(r.scalars.get("Loss/train", ())) >= 5 for r in w.store.runs.values()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
        w.poll()
    run = next(iter(w.store.runs.values()))
    assert run_status(run, time.time()) == "live"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.time()
    w.poll()
    limit = quiet_limit(pace([s.walls for s in run.scalars.values()]))
    assert limit == QUIET_FLOOR_S  # it logged several times a second
    # Its files no longer change: the state is the clock's alone from here, so the clock
    # is read ahead rather than waited for (30 s).
    time.sleep(1.0)
    w.poll()
    assert run.mtime <= killed
    assert run_status(run, killed + limit - 1.5) == "live"  # not before the rule says
    assert run_status(run, killed + limit + 0.5) == "stale"  # and within it


async def test_states_and_ages_follow_the_clock_without_new_data(tmp_path):
    tensorboardx_run(tmp_path / "quiet", steps=20)  # written just now, one point a second
    now = [time.time()]
    w = LogWatcher([str(tmp_path)])
    w.poll()
    app = make_app("watch", watcher=w, live=False, clock=lambda: now[0])
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        table = app.screen.query_one(RunList)
        assert str(table.get_cell("quiet", "status")) == "live"
        now[0] += 45  # no write for 45 s: past five of its 1 s intervals and the 30 s floor
        await pilot.pause(1.3)
        assert str(table.get_cell("quiet", "status")) == "stale"
        assert str(table.get_cell("quiet", "updated")).endswith("s ago")
        assert int(str(table.get_cell("quiet", "updated")).split("s")[0]) >= 45
