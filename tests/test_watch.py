"""`tbx-tui watch`: the text summary, the dashboard under Pilot, snapshots, a real terminal."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli
from logfiles import tensorboardx_run
from tbx_tui.logs.watcher import LogWatcher
from tbx_tui.tui.screens.dashboard import DashboardScreen
from tbx_tui.tui.screens.help import HelpScreen
from tbx_tui.tui.app import make_app
from tbx_tui.tui.watch_app import WatchApp

FIXED_NOW = 1_700_000_500.0


def fixed_logs(root: Path) -> Path:
    """Two deterministic runs: same tags, different curves, one with histograms."""
    tensorboardx_run(root / "baseline", steps=120, hist_every=10)
    tensorboardx_run(root / "lr-0.01", steps=80, tags=("Loss/train", "Accuracy/train"),
                     start=1_700_000_100.0, decay=0.1)
    for path in root.rglob("*tfevents*"):
        os.utime(path, (FIXED_NOW - 30, FIXED_NOW - 30))
    return root


def app_for(root: Path) -> WatchApp:
    watcher = LogWatcher([str(root)])
    watcher.poll()
    return make_app("watch", watcher=watcher, live=False, clock=lambda: FIXED_NOW)


def test_once_prints_runs_tags_and_last_values(tmp_path):
    fixed_logs(tmp_path / "runs")
    r = cli("watch", "--once", "runs", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "baseline  [live]" not in r.stdout  # files are 30 s old in FIXED time, not now
    lines = r.stdout.splitlines()
    assert any(line.startswith("baseline  [") and "records 253" in line for line in lines)
    assert any("Loss/train" in line and "120 points" in line and "last step 119" in line
               for line in lines)
    assert any("weights/fc1.weight" in line and "12 histograms" in line for line in lines)


def test_without_a_terminal_watch_prints_the_summary_and_imports_no_torch(tmp_path):
    fixed_logs(tmp_path / "runs")
    code = ("import sys\nfrom tbx_tui.cli import main\nrc = main(['watch', 'runs'])\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "lr-0.01  [" in r.stdout and r.stdout.strip().endswith("NO-TORCH 0")


def test_watch_rejects_a_missing_directory(tmp_path):
    r = cli("watch", "nowhere", cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == "tbx-tui watch: error: not a directory: nowhere"


async def test_dashboard_keys(tmp_path, monkeypatch):
    app = app_for(fixed_logs(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.scalar_tag == "Loss/train" and screen.shown == {"baseline", "lr-0.01"}
        assert screen.hist_tag == "weights/fc1.weight"
        await pilot.press("right_square_bracket")
        assert screen.smoothing == pytest.approx(0.65)
        await pilot.press("x", "l", "h")
        assert (screen.by_time, screen.log_y, screen.hist_mode) == (True, True, "overlay")
        await pilot.press("h")
        assert screen.hist_mode == "distribution"
        await pilot.press("space")  # hide the highlighted run (the first: baseline)
        assert screen.shown == {"lr-0.01"}
        await pilot.press("e")
        await pilot.pause()
        with open(tmp_path / "runs" / "baseline" / "baseline-scalars.csv") as f:  # its folder
            rows = list(csv.reader(f))
        assert rows[0] == ["tag", "step", "wall_time", "value"] and len(rows) == 1 + 240
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help Static").render())
        assert "[[/b]" not in help_text and "Smooth -" in help_text
        assert "Theme" in help_text and "tag tree" in help_text  # t, and how to get there
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_new_data_appears_without_a_key_press(tmp_path):
    root = tmp_path / "runs"
    tensorboardx_run(root / "grow", steps=5)
    watcher = LogWatcher([str(root)], interval=0.1)
    app = make_app("watch", watcher=watcher)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        screen = app.screen
        assert len(watcher.store.runs["grow"].scalars["Loss/train"]) == 5
        shutil.rmtree(root / "grow")
        tensorboardx_run(root / "grow2", steps=7)
        deadline = time.monotonic() + 10
        while "grow2" not in screen.known and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert screen.known == {"grow2"}


def test_real_terminal_follows_a_run_being_written(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    root = tmp_path / "runs"
    root.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom tensorboardX import SummaryWriter\n"
        "w = SummaryWriter(sys.argv[1], flush_secs=1)\n"
        "for i in range(400):\n"
        "    w.add_scalar('Loss/train', 1.0 / (i + 1), i)\n    w.flush()\n    time.sleep(0.1)\n"),
        str(root / "live")])
    session = f"tbxtest{os.getpid()}"
    env_cmd = f"cd {tmp_path} && {sys.executable} -m tbx_tui watch runs --refresh 0.3"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40",
                        env_cmd], check=True)
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(set(seen)) < 3:
            time.sleep(1.0)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
            for line in screen.splitlines():
                if " live " in line and "●" in line:
                    seen.append(line.split()[3])  # the step column
        assert len(set(seen)) >= 3, seen  # the step went on changing, untouched
        subprocess.run(["tmux", "send-keys", "-t", session, "q"])
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        writer.kill()


async def test_chart_titles_fit_and_carry_their_view(tmp_path):
    from tbx_tui.tui.widgets.curve_plot import CurvePlot
    from tbx_tui.tui.widgets.histogram_plot import HistogramPlot

    fixed_logs(tmp_path / "runs")
    for size, whole in (((80, 24), False), ((160, 40), True)):
        async with app_for(tmp_path / "runs").run_test(size=size) as pilot:
            screen = pilot.app.screen
            await pilot.pause(0.3)
            for mode in ("overlay", "distribution", "latest"):
                await pilot.press("h")
                await pilot.pause(0.3)
                text = screen.query_one(HistogramPlot).render().plain
                # plotext drops a title wider than the plot: at 80 columns it is cut, not lost
                assert ("weights/fc1.weight (baseline) " + mode) in text if whole \
                    else "weights" in text, text
            await pilot.press("l")
            await pilot.pause(0.3)
            curve = screen.query_one(CurvePlot).render().plain
            assert "Loss/train  ·  smoothing 0.60  ·  log y" in curve if whole \
                else "Loss/" in curve, curve
