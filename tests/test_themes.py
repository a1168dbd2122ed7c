"""Themes are data files: shipped ones, a user's own, and broken ones."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tbx_tui.tui.themes import available_themes

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_themes_load():
    themes, problems = available_themes()
    assert {"tbx-dark", "tbx-light", "tbx-high-contrast"} <= set(themes)
    assert themes["tbx-light"].theme.dark is False
    assert len(themes["tbx-dark"].runs) == 8 and not problems


def test_user_folder_adds_themes_and_reports_broken_ones(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\ndark = true\n[colors]\nprimary = "#ff0000"\n'
        '[plot]\nruns = ["#00ff00", "#0000ff"]\n')
    (tmp_path / "broken.toml").write_text('name = "broken"\n[colors]\nprimry = "#fff"\n')
    monkeypatch.setenv("TBX_TUI_THEMES", str(tmp_path))
    themes, problems = available_themes()
    assert themes["mine"].runs == ((0, 255, 0), (0, 0, 255))
    assert len(problems) == 1 and "broken.toml" in problems[0] and "primry" in problems[0]


async def test_t_cycles_themes_and_the_app_shows_a_broken_theme_as_a_warning(
        tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text("this is not toml = = =")
    monkeypatch.setenv("TBX_TUI_THEMES", str(tmp_path))
    from tbx_tui.logs.watcher import LogWatcher
    from tbx_tui.tui.app import make_app

    app = make_app("watch", watcher=LogWatcher([str(tmp_path)]), live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "tbx-dark"
        await pilot.press("t")
        assert app.theme == "tbx-high-contrast"
        await pilot.press("t")
        assert app.theme == "tbx-light"
        assert any("broken.toml" in str(n.message) for n in app._notifications)


def test_the_wheel_ships_the_themes_and_the_stylesheet(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = tmp_path.glob("tbx_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for theme in ("tbx-dark", "tbx-light", "tbx-high-contrast"):
        assert f"tbx_tui/themes/{theme}.toml" in names
    assert "tbx_tui/tui/app.tcss" in names


async def test_charts_take_each_themes_own_foreground(tmp_path):
    """textual-plotext registered a theme's chart colours once, from the variables of the
    theme before it: tbx-dark's axes came out in Textual's default grey (#e0e0e0)."""
    from logfiles import tensorboardx_run
    from test_watch import app_for

    tensorboardx_run(tmp_path / "runs" / "a", steps=30)
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        cell = list(app.screen.grid.children)[0]

        def axis_colour() -> set[str]:
            text = cell.render()
            return {sp.style.color.triplet.hex for sp in text.spans
                    if "┤" in text.plain[sp.start:sp.end]}

        for _ in range(3):
            fg = app.get_theme(app.theme).to_color_system().generate()["foreground"].lower()
            assert axis_colour() == {fg}, app.theme
            await pilot.press("t")
            await pilot.pause(0.3)
