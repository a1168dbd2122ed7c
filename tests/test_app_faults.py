"""The app under faults: drawing errors never reach a training run, signals end it cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tbx_tui.tui.widgets.cached_plot import CachedPlot

from conftest import accumulator, cli
from test_app import failure_status, quick, start_training, wait_for
from test_cli import session_status
from tbx_tui.logs.watcher import LogWatcher
from tbx_tui.tui.app import make_app
from tbx_tui.tui.panels.chart_grid import ChartGrid
from tbx_tui.tui.panels.run_table import RunTable
from tbx_tui.tui.screens.dashboard import DashboardScreen
from tbx_tui.tui.widgets.curve_plot import CurveData, CurvePlot, plot_curves, _SmoothCache


pytestmark = pytest.mark.usefixtures("cpu_only")


@pytest.mark.parametrize("values", [
    [], [float("nan")] * 5, [float("inf"), -1.0, 0.0], [-3.0, -2.0], [0.0] * 4])
def test_log_scale_with_nothing_positive_draws_a_message(values):
    from textual_plotext.plot import Plot

    fig = Plot()  # the figure a CurvePlot draws into
    data = CurveData("run", 0, np.arange(len(values), dtype=float), np.array(values))
    plot_curves(fig, 60, "Loss/train", [(data, 0)], 0.6, False, True, _SmoothCache())
    fig.plotsize(80, 20)
    text = fig.build()  # plotext itself raised here before
    assert "Loss/train:" in text


async def test_log_scale_on_an_empty_watch_keeps_the_app(tmp_path):
    w = LogWatcher([str(tmp_path)])
    w.poll()
    app = make_app("watch", watcher=w, live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause(0.3)
        assert app.is_running and not app.screen.grid.specs  # no chart to put on a log scale
        assert "waiting for event files" in str(app.screen.query_one("#status").render())
    assert app.return_code in (0, None)


async def test_log_scale_with_every_run_hidden_during_training(tmp_path):
    app = make_app("train", config=quick(tmp_path, epochs=8, log_every=2))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, s = await start_training(pilot)
        await wait_for(pilot, lambda: screen.known and any(
            spec.kind == "scalar" for spec in screen.grid.specs))  # not only the module tree
        await pilot.press("space")  # hide the only run
        await pilot.press("l")
        await pilot.pause(0.5)
        assert app.is_running and screen.grid.current.log_y and not screen.shown
        await wait_for(pilot, lambda: s.result is not None, timeout=120)
        assert s.result.state.value == "finished"
    assert (s.run_dir / "model.pt").exists()
    assert session_status(accumulator(s.run_dir)) == "STATUS_SUCCESS"


async def train_with_a_broken(tmp_path, monkeypatch, owner, name: str, error: Exception,
                              check) -> None:
    """Train a short run in the app while ``owner.name`` raises ``error``; once the run
    has ended (and the app is still up), ``check(screen)``."""
    def broken(self, *args):
        raise error

    monkeypatch.setattr(owner, name, broken)
    app = make_app("train", config=quick(tmp_path, epochs=6, log_every=2))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, s = await start_training(pilot)
        await wait_for(pilot, lambda: s.result is not None, timeout=120)
        assert app.is_running and s.result.state.value == "finished"
        assert (s.run_dir / "model.pt").exists()

        def checked() -> bool:  # the charts follow the event files a watcher poll later
            try:
                check(screen)
            except Exception:
                return False
            return True

        deadline = time.monotonic() + 10
        while not checked() and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert app.is_running
        check(screen)  # once more, for its own assertion message


async def test_a_chart_that_cannot_draw_says_so_and_training_goes_on(tmp_path, monkeypatch):
    def check(screen):
        plot = screen.query(CurvePlot).first()
        assert plot.error == "RuntimeError: plotext exploded"
        assert "could not be drawn" in str(plot.render())

    # the figure's build, which plotext does (through textual-plotext's settings)
    await train_with_a_broken(tmp_path, monkeypatch, CachedPlot, "_build",
                              RuntimeError("plotext exploded"), check)


async def test_a_failing_refresh_is_a_status_message_not_a_crash(tmp_path, monkeypatch):
    def check(screen):
        status = str(screen.query_one("#status").render())
        assert "display error: ValueError: bad store" in status

    await train_with_a_broken(tmp_path, monkeypatch, DashboardScreen, "_legend",
                              ValueError("bad store"), check)


async def test_a_failing_panel_is_named_in_the_status_and_the_others_go_on(tmp_path,
                                                                          monkeypatch):
    def check(screen):
        status = str(screen.query_one("#status").render())
        assert "display error: ValueError: grid broke" in status
        assert "finished" in status and "192 steps" in status  # the rest still works
        assert screen.query_one(RunTable).row_count == 1

    await train_with_a_broken(tmp_path, monkeypatch, ChartGrid, "sync_panel",
                              ValueError("grid broke"), check)


def test_a_run_folder_named_like_markup_is_shown_as_text(tmp_path):
    from logfiles import tensorboardx_run

    tensorboardx_run(tmp_path / "runs" / "[bold]x[/]", steps=3)
    tensorboardx_run(tmp_path / "runs" / "[/oops]", steps=3)
    r = cli("watch", "--once", "runs", cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and "[/oops]" in r.stdout


async def test_markup_in_run_names_does_not_break_the_dashboard(tmp_path):
    from logfiles import tensorboardx_run

    tensorboardx_run(tmp_path / "[/oops]", steps=3)
    tensorboardx_run(tmp_path / "[b]ok", steps=3)
    w = LogWatcher([str(tmp_path)])
    w.poll()
    app = make_app("watch", watcher=w, live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(0.5)
        assert app.is_running
        assert "[/oops]" in str(app.screen.query_one("#legend").render())


async def test_markup_in_tags_and_hparams_is_text_never_an_action(tmp_path):
    """A str label is markup to Textual: a tag holding [@click=app.quit] made a tag-tree
    leaf that quit the app when clicked, and [/oops] left its chart undrawn."""
    from logfiles import event_bytes, frame, tensorboard_hparams, version_event
    from tbx_tui.tui.panels.chart_grid import CurveChart

    tags = ("Loss/[@click=app.quit]x[/]", "[/oops]/y", "Loss/[b]bold[/b]")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "events.out.tfevents.1.x").write_bytes(b"".join(map(frame, [
        version_event(1.0), *(event_bytes(1.0 + i, i, t, 1 / (i + 1))
                              for i in range(5) for t in tags)])))
    tensorboard_hparams(tmp_path / "r", {"[@click=app.quit]k": "[red]v[/]"})
    app = make_app("watch", watcher=LogWatcher([str(tmp_path)]), live=False)
    async with app.run_test(size=(160, 50)) as pilot:
        app.watcher.poll()
        await pilot.pause(0.6)
        leaves = [leaf for node in app.screen.query_one("TagTree").root.children
                  for leaf in node.children]
        assert sorted(leaf.label.plain for leaf in leaves) == \
            ["[@click=app.quit]x[/]", "[b]bold[/b]", "oops]/y"]
        assert all(not leaf.label.spans for leaf in leaves)  # no style, no action
        titles = sorted(c.border_title for c in app.screen.query(CurveChart))
        assert len(titles) == 3 and all(t and t.startswith(("Loss/\\[", "\\[/oops]"))
                                        for t in titles), titles
        await pilot.click("TagTree", offset=(4, 2))  # on the first leaf, the @click one
        await pilot.pause(0.2)
        assert app.is_running
        await pilot.press("H")
        await pilot.pause(0.3)
        table = app.screen.query_one("#hp-table")
        headers = [c.label.plain for c in table.columns.values()]
        assert "[@click=app.quit]k" in headers
        assert "[red]v[/]" in [str(cell) for cell in table.get_row_at(0)]


# ---- the real app in a terminal, sent SIGTERM and SIGHUP --------------------------------

def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


@pytest.mark.parametrize("sig,phase", [("TERM", "training"), ("HUP", "training"),
                                       ("TERM", "loading")])
def test_sigterm_and_sighup_stop_the_app_like_q(tmp_path, sig, phase):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"tbxsig{sig}{phase}{os.getpid()}"
    script = tmp_path / "go.sh"
    script.write_text(f"cd {tmp_path} && {sys.executable} -m tbx_tui --model mlp --data "
                      f"synthetic --epochs 100000 --log-every 10\n"
                      f"echo $? > {tmp_path}/rc\nsleep 60\n")
    runs = tmp_path / "runs"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        f"bash {script}"], check=True)
        deadline = time.monotonic() + 60
        while "Start" not in _tmux("capture-pane", "-p", "-t", session):
            assert time.monotonic() < deadline, "the setup form never showed"
            time.sleep(0.3)
        shell = int(_tmux("display", "-p", "-t", session, "#{pane_pid}"))
        pid = int(subprocess.run(["pgrep", "-P", str(shell)], capture_output=True,
                                 text=True).stdout.split()[0])  # the app, child of the shell
        _tmux("send-keys", "-t", session, "Enter")
        if phase == "training":
            watcher = LogWatcher([str(runs)])
            while not any("Loss/train" in r.scalars for r in watcher.store.runs.values()):
                assert time.monotonic() < deadline, "training never logged"
                time.sleep(0.3)
                watcher.poll()
        else:  # the trainer thread is still importing torch and loading the data
            time.sleep(0.3)
        if sig == "HUP":  # the terminal goes away, as with a dropped SSH session
            _tmux("kill-session", "-t", session)
        else:
            os.kill(pid, 15)
        gone_by = time.monotonic() + 20  # runs closed (<= 10 s), then the exit (<= 5 s)
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < gone_by, "the app did not exit"
            time.sleep(0.1)
        if sig == "TERM":
            time.sleep(0.5)
            assert (tmp_path / "rc").read_text().strip() == "143"
            flags = _tmux("display", "-p", "-t", session, "#{alternate_on} #{mouse_any_flag}")
            assert flags.split() == ["0", "0"]  # the terminal is given back
        if phase == "loading":
            assert not runs.exists() or not any(runs.iterdir())
            return
        run = next(runs.iterdir())
        assert (run / "model.pt").stat().st_size > 0
        ea = accumulator(run)
        assert ea.Scalars("Loss/train")
        assert "_hparams_/session_end_info" in ea.PluginTagToContent("hparams")
    finally:
        _tmux("kill-session", "-t", session)


async def test_corrupt_dataset_files_are_named_in_the_app(tmp_path, shared_data):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (shared_data / "MNIST" / "raw").glob("*ubyte"):
        shutil.copy(f, raw / f.name)
    victim = raw / "train-images-idx3-ubyte"
    data = bytearray(victim.read_bytes()[:4096])
    data[3] = 0x7F  # a bad magic number, and truncated
    victim.write_bytes(bytes(data))
    status = await failure_status(quick(tmp_path, data="mnist",
                                        data_dir=str(tmp_path / "data")), size=(200, 40))
    assert "train-images-idx3-ubyte is corrupt (bad magic number" in status, status
    assert "Traceback" not in status
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ---- a terminal that is gone or no longer read ------------------------------------------

LIVE_WRITER = """
import sys, time
from tensorboardX import SummaryWriter
w = SummaryWriter(sys.argv[1], flush_secs=1)
for i in range(100_000):
    w.add_scalar("Loss/train", 1.0 / (i + 1), i)
    w.add_scalar("Accuracy/train", (i % 7) / 7, i)
    w.flush()
    time.sleep(0.05)
"""


def test_watch_ends_on_a_signal_while_its_terminal_blocks(tmp_path):
    """A terminal that is gone or not read blocks Textual's output queue, and the event
    loop with it: a `watch` left that way survived SIGHUP and SIGTERM for 59 minutes.
    Here the pty is drawn on, then never read again, while a run keeps changing. (SIGTERM
    takes the same handler; 12 s a signal, so one is tested here.)"""
    sig = "HUP"
    import fcntl
    import pty
    import signal
    import struct
    import termios

    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(tmp_path / "runs" / "r")])
    try:
        while not list((tmp_path / "runs" / "r").glob("*tfevents*")):
            time.sleep(0.1)
        pid, master = pty.fork()
        if pid == 0:  # the child: the app, on the pty
            os.chdir(tmp_path)
            os.execv(sys.executable, [sys.executable, "-m", "tbx_tui", "watch", "runs",
                                      "--refresh", "0.2"])
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
        seen, deadline = b"", time.monotonic() + 60
        while b"Loss/train" not in seen:
            assert time.monotonic() < deadline, "the dashboard never drew"
            seen += os.read(master, 1 << 16)
        # Unread, the pty's buffer fills, then Textual's output queue, and the app's main
        # thread blocks on it (about 6 s here): from epoll_wait to a futex, for good.
        blocked_since, deadline = None, time.monotonic() + 90
        while blocked_since is None or time.monotonic() - blocked_since < 1.5:
            assert time.monotonic() < deadline, "the app never blocked on its output"
            waiting = Path(f"/proc/{pid}/wchan").read_text()
            blocked_since = (blocked_since or time.monotonic()) if "futex" in waiting \
                else None
            time.sleep(0.1)
        os.kill(pid, getattr(signal, f"SIG{sig}"))
        deadline = time.monotonic() + 20  # the exit watchdog gives Textual 5 s
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"watch still alive 20 s after SIG{sig}")
            time.sleep(0.1)
        assert os.waitstatus_to_exitcode(status) == 128 + getattr(signal, f"SIG{sig}")
        os.close(master)
    finally:
        writer.kill()


async def test_q_on_the_hparams_view_quits_as_the_footer_says(tmp_path):
    from logfiles import sweep_logs

    sweep_logs(tmp_path / "runs")
    app = make_app("watch", watcher=LogWatcher([str(tmp_path / "runs")]), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.watcher.poll()
        await pilot.pause(0.3)
        await pilot.press("H")
        await pilot.pause(0.3)
        shown = app.screen.active_bindings.get("q")
        assert shown is not None and shown.binding.description == "Quit"  # in the footer
        await pilot.press("slash", "q")  # typed into the filter: a letter
        await pilot.pause(0.2)
        assert app.is_running and app.screen.query_one("#hp-filter").value == "q"
        app.screen.query_one("#hp-table").focus()
        await pilot.press("q")
        await pilot.pause(0.3)
    assert not app.is_running
