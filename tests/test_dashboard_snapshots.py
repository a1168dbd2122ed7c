"""The dashboard as a user sees it, at the sizes we support and in every shipped theme:
a three-run sweep (hyperparameters written by TensorBoard's own writer), so the labels,
the legend, the run table's hparam and metric columns and the chart grid are all in view."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logfiles import sweep_logs
from test_app import THEMES
from test_watch import FIXED_NOW, app_for

SIZES = [(80, 24), (120, 36), (200, 60)]


def fixed_sweep(root: Path) -> Path:
    sweep_logs(root)
    for path in root.rglob("*tfevents*"):
        os.utime(path, (FIXED_NOW - 30, FIXED_NOW - 30))
    return root


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme", THEMES)
def test_dashboard_snapshot(theme, size, snap_compare, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = app_for(fixed_sweep(Path("runs")))
    app._wanted_theme = theme
    assert snap_compare(app, terminal_size=size)


def test_hparams_view_snapshot(snap_compare, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = app_for(fixed_sweep(Path("runs")))

    async def open_sorted_and_diffed(pilot):
        await pilot.pause(0.3)
        await pilot.press("H")
        await pilot.pause(0.2)
        await pilot.press("right", "right", "right", "right", "s", "d", "down", "d")

    assert snap_compare(app, terminal_size=(120, 36), run_before=open_sorted_and_diffed)
