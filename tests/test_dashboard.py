"""The dashboard's panels under Pilot: runs told apart, the HParams view, the command
palette, the kept grid when its state file is damaged or cannot be written, and the
app's earlier runs."""

from __future__ import annotations


import pytest

from logfiles import sweep_logs, tensorboard_hparams, tensorboardx_run
from test_app import quick, start_training, wait_for
from test_watch import app_for
from tbx_tui.logs.labels import run_labels
from tbx_tui.tui.app import make_app
from tbx_tui.tui.screens.hparams import HParamsScreen

pytestmark = pytest.mark.usefixtures("cpu_only")


def test_runs_are_labelled_by_what_differs():
    labels = run_labels({
        "a": {"lr": 0.1, "batch_size": 32, "model": "mlp"},
        "b": {"lr": 0.01, "batch_size": 32, "model": "mlp"},
        "c": {"lr": 0.01, "batch_size": 64, "model": "mlp", "amp": True},
        "other-writer": {},
    })
    assert labels == {"a": "lr=0.1 bs=32", "b": "lr=0.01 bs=32",
                      "c": "lr=0.01 bs=64 amp=True", "other-writer": "other-writer"}
    # Nothing differs: names; the same label twice: the names keep them apart.
    assert run_labels({"x": {"lr": 0.1}, "y": {"lr": 0.1}}) == {"x": "x", "y": "y"}
    long = run_labels({"p": {"a" * 30: 1, "b" * 30: 1}, "q": {"a" * 30: 2, "b" * 30: 2}},
                      width=20)
    assert long["p"] != long["q"] and all(len(v) <= 20 + 4 for v in long.values())


async def test_legend_labels_and_says_how_many_it_left_out(tmp_path):
    root = sweep_logs(tmp_path / "runs")
    for k, lr in ((3, 0.3), (4, 0.003)):
        tensorboardx_run(root / f"run-{k}", steps=10)
        tensorboard_hparams(root / f"run-{k}", {"lr": lr, "batch_size": 32,
                                                 "optimizer": "adam"})
    async with app_for(root).run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        legend = str(pilot.app.screen.query_one("#legend").render())
        assert legend.startswith("■ lr=0.1 bs=32   ■ lr=0.01 bs=32")
        assert legend.rstrip().endswith("   +3 more")  # never cut silently
        table = pilot.app.screen.query_one("#runs")
        assert [str(c.label).strip() for c in table.columns.values()][5:7] == ["lr", "bs"]
        # Columns are as wide as their widest value may be, not their first one.
        assert table.columns["status"].get_render_width(table) >= len("unreadable") + 2
        assert table.columns["updated"].get_render_width(table) >= len("59m ago") + 2
        grid = pilot.app.screen.grid
        second = list(grid.children)[1]
        await pilot.click(second)  # a click selects a chart
        assert grid.current.tag == "Loss/test" and second.has_class("-selected")


async def test_hparams_view_sorts_filters_chooses_and_diffs(tmp_path):
    """Hyperparameters written by TensorBoard's own writer, as any HParams user has."""
    app = app_for(sweep_logs(tmp_path / "runs"))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
        dash = app.screen
        await pilot.press("H")
        view = app.screen
        assert isinstance(view, HParamsScreen)
        labels = [str(c.label).strip() for c in view.table.columns.values()]
        # what tells runs apart, then how they did, then what every run shares (opt)
        assert labels[:5] == ["", "run", "status", "lr", "bs"] and labels[-1] == "opt"
        assert {"Loss/test", "Loss/train", "Accuracy/train"} <= set(labels[5:-1])
        view._sort_by("hp:lr")
        assert view.filtered == ["run-1", "run-2", "run-0"]  # 0.01, 0.01, 0.1
        view._sort_by("hp:lr")
        assert view.filtered[0] == "run-0"  # again: descending
        view.query_one("#hp-filter").value = "lr<0.05 bs=64"
        await pilot.pause(0.2)
        assert view.filtered == ["run-2"]
        await pilot.press("o")  # only these on the charts
        assert dash.shown == {"run-2"}
        view.query_one("#hp-filter").value = "optimiser=adam"
        await pilot.pause(0.2)
        assert "no column 'optimiser'" in str(view.query_one("#hp-status").render())
        view.query_one("#hp-filter").value = "run-0"
        await pilot.pause(0.2)
        view.table.focus()
        await pilot.press("space")  # the row's run back on the charts
        assert dash.shown == {"run-0", "run-2"}
        view.query_one("#hp-filter").value = ""
        await pilot.pause(0.2)
        view.table.move_cursor(row=view.filtered.index("run-0"))
        await pilot.press("d")
        view.table.move_cursor(row=view.filtered.index("run-2"))
        await pilot.press("d")
        diff = str(view.query_one("#hp-diff").render())
        assert "run-0  →  run-2" in diff and "0.1  →  0.01" in diff and "32  →  64" in diff
        assert "2 differ, 1 the same" in diff
        await pilot.press("escape")
        assert app.screen is dash
        await pilot.pause(0.3)
        legend = str(dash.query_one("#legend").render())
        assert "lr=0.1 bs=32" in legend and "lr=0.01 bs=64" in legend
        assert "lr=0.01 bs=32" not in legend


async def test_the_command_palette_offers_our_actions_and_only_our_themes(tmp_path):
    tensorboardx_run(tmp_path / "runs" / "a", steps=20)
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Zoom", "Unpin", "HParams", "Theme: tbx-dark", "Theme: tbx-light",
                "Theme: tbx-high-contrast", "Quit"} <= set(titles)
        assert not any("textual" in t or "nord" in t or "dracula" in t for t in titles)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Theme: tbx-light")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.theme == "tbx-light"


async def test_a_damaged_or_unwritable_grid_state_is_said_once_not_fatal(tmp_path,
                                                                         monkeypatch):
    tensorboardx_run(tmp_path / "runs" / "a", steps=20)
    state = tmp_path / "state"
    state.mkdir()
    (state / "grids.json").write_text("{ not json")
    monkeypatch.setenv("TBX_TUI_STATE", str(state))
    async with app_for(tmp_path / "runs").run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        assert len(pilot.app.screen.grid.specs) == 2  # the defaults
        await pilot.press("z")  # saved over the damaged file
    assert '"zoomed": true' in (state / "grids.json").read_text()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TBX_TUI_STATE", str(blocker))  # its "folder" is a file
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("z", "z", "c")

        def said() -> list[str]:  # written off the UI thread: the note comes from there
            return [str(n.message) for n in app._notifications if "not kept" in str(n.message)]

        await wait_for(pilot, lambda: said())
        await pilot.pause(0.2)
        assert len(said()) == 1 and app.is_running and not app.screen.grid.zoomed


@pytest.mark.parametrize("content,said", [
    ("[" * 100_000 + "]" * 100_000, "is damaged (RecursionError)"),  # was a traceback
    ('{"k": ' + "[" * 100_000 + "]" * 100_000 + "}", "is damaged (RecursionError)"),
    ("\x00\xff garbage", "is damaged"),
    (None, None),  # numbers out of range: clamped, no warning
], ids=["nested-list", "nested-in-a-view", "garbage", "out-of-range"])
async def test_any_damaged_grid_state_gives_the_defaults_and_one_warning(tmp_path, monkeypatch,
                                                                          content, said):
    import json
    import os

    tensorboardx_run(tmp_path / "runs" / "a", steps=20)
    state = tmp_path / "state"
    state.mkdir()
    if content is None:
        key = os.path.abspath(tmp_path / "runs")
        content = json.dumps({key: {"smoothing": float("nan"), "selected": 1e308,
                                    "zoomed": "yes", "side": 0, "charts": [
                                        {"tag": "Loss/train", "log_y": "no"},
                                        {"tag": "Accuracy/train\x1b]0;T\x07"}]}})
    (state / "grids.json").write_text(content, "utf-8", errors="surrogateescape")
    monkeypatch.setenv("TBX_TUI_STATE", str(state))
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.3)
        warned = [str(n.message) for n in app._notifications]
        grid = app.screen.grid
        if said:
            assert len(warned) == 1 and said in warned[0] and "default view" in warned[0]
            assert [s.tag for s in grid.specs] == ["Loss/train", "Accuracy/train"]
        else:
            assert warned == [] and app.screen.smoothing == 0.6  # NaN: the default
            assert [s.tag for s in grid.specs] == ["Loss/train", "Accuracy/train\\x1b]0;T\\x07"]
            assert grid.selected == 1 and not grid.zoomed and not grid.specs[0].log_y
        assert app.is_running


async def test_the_app_shows_earlier_runs_of_its_logdir_on_one_key(tmp_path):
    earlier = tmp_path / "runs" / "yesterday"
    tensorboardx_run(earlier, steps=30)
    app = make_app("train", config=quick(tmp_path, epochs=3))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, s = await start_training(pilot)
        await wait_for(pilot, lambda: s.run_dir is not None and screen.known)
        await pilot.pause(1.5)
        assert screen.known == {s.run_dir.name}  # not read at all, only counted
        await wait_for(pilot, lambda: "1 earlier run(s) (a: show)" in
                       str(screen.query_one("#status").render()))
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.known == {s.run_dir.name, "yesterday"})
        assert "yesterday" in screen.shown
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.known == {s.run_dir.name})
        await wait_for(pilot, lambda: s.result is not None)


async def test_system_panel_shows_any_writers_sys_scalars_and_hides_without(tmp_path):
    from tensorboardX import SummaryWriter

    root = tmp_path / "runs"
    with SummaryWriter(str(root / "gpu-box")) as w:  # another writer, our tag names
        for step in range(6):
            w.add_scalar("Loss/train", 1.0 / (step + 1), step)
            for tag, value in (("system_cpu_percent", 40 + step), ("ram_used_gib", 12.0),
                               ("ram_total_gib", 24.0), ("rss_gib", 2.5),
                               ("gpu0/util_percent", 78.0), ("gpu0/mem_used_gib", 40.0),
                               ("gpu0/mem_total_gib", 80.0), ("gpu0/temperature_c", 63.0),
                               ("gpu0/power_w", 215.0)):
                w.add_scalar(f"sys/{tag}", value, step)
    tensorboardx_run(root / "plain", steps=5)
    app = app_for(str(root))
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.screen.query_one("#system")
        table = app.screen.query_one("#runs")
        await wait_for(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=table.get_row_index("gpu-box"))  # the followed run
        await wait_for(pilot, lambda: panel.display)
        text = str(panel.render())
        assert "cpu" in text and "45%" in text and "12.0/24G" in text and "rss 2.50G" in text
        assert "gpu0" in text and "78%" in text and "40/80G" in text and "63°C  215 W" in text
        assert not [s for s in app.screen.grid.specs if s.tag.startswith("sys/")]  # a panel
        table.move_cursor(row=table.get_row_index("plain"))
        await wait_for(pilot, lambda: not panel.display)  # no sys/ tags: no panel


async def test_samples_panel_shows_the_newest_generated_text_and_hides_without(tmp_path):
    from tensorboardX import SummaryWriter

    root = tmp_path / "runs"
    with SummaryWriter(str(root / "lm")) as w:  # as our trainer writes them (sinks.py)
        for step, text in ((9, "ROMEO:\nold words"), (19, "ROMEO:\nWhat light [b]breaks[/b]")):
            w.add_scalar("Loss/train", 2.0, step)
            w.add_text("Samples/val", "```\n" + text + "\n```", step)
    tensorboardx_run(root / "plain", steps=5)
    app = app_for(str(root))
    async with app.run_test(size=(100, 30)) as pilot:
        panel = app.screen.query_one("#samples")
        table = app.screen.query_one("#runs")
        await wait_for(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=table.get_row_index("lm"))
        await wait_for(pilot, lambda: panel.display)
        text = str(panel.render())
        assert "What light [b]breaks[/b]" in text and "old words" not in text  # no markup
        assert "```" not in text and panel.border_title == "samples · step 19 · 2 so far"
        table.move_cursor(row=table.get_row_index("plain"))
        await wait_for(pilot, lambda: not panel.display)
