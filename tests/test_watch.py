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
        grid = screen.grid
        # The default grid: the preferred scalars, then one histogram, all on screen.
        assert [s.key for s in grid.specs] == [
            "scalar:Loss/train", "scalar:Accuracy/train", "histogram:weights/fc1.weight"]
        assert len(grid.visible) == 3 and screen.shown == {"baseline", "lr-0.01"}
        await pilot.press("right_square_bracket")
        assert screen.smoothing == pytest.approx(0.65)
        await pilot.press("x", "l")  # x for every chart, l for the selected one
        assert screen.by_time and grid.specs[0].log_y and not grid.specs[1].log_y
        await pilot.press("h")  # the histogram chart, though a scalar one is selected
        assert grid.specs[2].mode == "overlay"
        await pilot.press("c", "c")
        assert grid.current.tag == "weights/fc1.weight"
        await pilot.press("h")
        assert grid.specs[2].mode == "distribution"
        await pilot.press("z")  # zoom: the selected chart takes the grid
        await pilot.pause()
        assert grid.visible == [grid.specs[2]] and len(grid.children) == 1
        await pilot.press("z", "c", "u")  # back, select the first chart, unpin it
        await pilot.pause()
        assert [s.tag for s in grid.specs] == ["Accuracy/train", "weights/fc1.weight"]
        assert len(grid.children) == 2
        await pilot.press("space")  # hide the highlighted run (the first: baseline)
        assert screen.shown == {"lr-0.01"}
        await pilot.press("e")
        await pilot.pause()
        with open(tmp_path / "runs" / "baseline" / "baseline-scalars.csv") as f:  # its folder
            rows = list(csv.reader(f))
        assert rows[0] == ["tag", "step", "wall_time", "value"] and len(rows) == 1 + 240
        await pilot.press("b")  # the side panel folds away; the grid takes the width
        await pilot.pause()
        assert not screen.query_one("#side").display and grid.size.width == 140
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help Static").render())
        assert "[[/b]" not in help_text and "less smoothing" in help_text
        keys = [line.split()[0] for line in help_text.splitlines()[2:] if line.strip()]
        assert len(keys) == len(set(keys)) and keys.count("tab") == 1, keys  # each key once
        assert "Copy selected text" not in help_text and "Focus Next" not in help_text
        assert "next theme" in help_text and "tag tree" in help_text  # t, and how to get there
        assert "take the selected chart off" in help_text and "5× its own logging interval" in help_text
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("q")
    assert app.return_code in (0, None)
    # The grid is kept for this logdir: a new dashboard opens as this one was left.
    async with app_for(tmp_path / "runs").run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        assert [s.tag for s in screen.grid.specs] == ["Accuracy/train", "weights/fc1.weight"]
        assert screen.grid.specs[1].mode == "distribution" and screen.by_time
        assert not screen.query_one("#side").display and screen.smoothing == 0.65
        await pilot.press("b", "g")  # the default grid again
        await pilot.pause()
        assert len(screen.grid.specs) == 3


async def test_a_tag_from_the_tree_is_pinned_and_the_grid_follows_the_size(tmp_path):
    from tbx_tui.tui.widgets.tag_tree import TagTree

    root = tmp_path / "runs"
    tensorboardx_run(root / "many", steps=30, tags=tuple(f"Metric/m{i}" for i in range(8)))
    for size, shown in (((80, 24), 2), ((200, 60), 8)):
        async with app_for(root).run_test(size=size) as pilot:
            await pilot.pause(0.3)
            grid = pilot.app.screen.grid
            assert len(grid.specs) == 8 and len(grid.visible) == shown
            assert len(grid.children) == shown
    async with app_for(root).run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        screen = pilot.app.screen
        await pilot.press("c", "c")  # past the first page: the page that holds it
        await pilot.pause()
        assert screen.grid.visible[0].tag == "Metric/m2"
        assert "charts 3-4 of 8" in str(screen.query_one("#status").render())
        await pilot.press("u")
        tree = screen.query_one(TagTree)
        tree.focus()
        leaf = next(n for n in tree.root.children[0].children if n.data[0] == "Metric/m2")
        tree.select_node(leaf)  # enter on the tag: pinned after the selected chart
        await pilot.pause()
        assert screen.grid.current.tag == "Metric/m2" and len(screen.grid.specs) == 8


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
                tokens = line.split()
                if "●" in tokens and tokens[tokens.index("●") + 2:][:1] == ["live"]:
                    seen.append(tokens[tokens.index("●") + 3])  # the step column
        assert len(set(seen)) >= 3, seen  # the step went on changing, untouched
        subprocess.run(["tmux", "send-keys", "-t", session, "q"])
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        writer.kill()


async def test_chart_titles_fit_and_carry_their_view(tmp_path):
    from tbx_tui.tui.panels.chart_grid import CurveChart, HistogramChart

    fixed_logs(tmp_path / "runs")
    async with app_for(tmp_path / "runs").run_test(size=(160, 40)) as pilot:
        screen = pilot.app.screen
        await pilot.pause(0.3)
        hist = screen.query_one(HistogramChart)
        for mode in ("overlay", "distribution", "latest"):
            await pilot.press("h")
            await pilot.pause(0.3)
            assert hist.border_title.startswith(f"weights/fc1.weight · baseline · {mode}")
            if mode == "distribution":  # the title inside says what the bands are
                assert "distribution over 12 steps" in hist.render().plain
        await pilot.press("l")
        await pilot.pause(0.3)
        curve = screen.query(CurveChart).first()
        assert curve.border_title == "Loss/train · smoothing 0.60 · log y"
