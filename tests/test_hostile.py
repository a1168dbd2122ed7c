"""Logs, datasets, models and user code from anyone: nothing they carry reaches the terminal
as control bytes. Hostile strings (title and clipboard escapes, screen clears, 8-bit
controls, bidi overrides, invalid UTF-8) in every field a log can carry — run folder
name, scalar and histogram tags, a text summary, hparams keys and values, the run-state
reason — and in the messages of user code; through the real app in tmux, ``watch
--once``, the CSV export, the headless console and ``tbx-tui sample``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import accumulator, cli, only_run
from hostile import ALL, CONTROL, HOSTILE, controls_in, failing_later, hostile_logdir

from tbx_tui.safe_text import clean


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    return hostile_logdir(tmp_path_factory.mktemp("hostile") / "runs")


def test_clean_shows_every_control_and_keeps_the_rest():
    for s in HOSTILE:
        out = clean(s)
        assert controls_in(out) == [] and "\n" not in out, repr(out)
    assert clean("\x1b]0;T\x07") == "\\x1b]0;T\\x07"
    assert clean("a\u202eb\x9bc") == "a\\u202eb\\x9bc"
    assert clean("ok: ünï/cödé → 1.5e-3") == "ok: ünï/cödé → 1.5e-3"  # untouched
    assert clean("one\r\ntwo\tthree\x1b", multiline=True) == "one\ntwo\tthree\\x1b"
    assert clean("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert clean(b"bad \xff\xfe utf-8") == "bad \ufffd\ufffd utf-8"
    "".join(clean(s) for s in HOSTILE).encode("utf-8")  # always encodable for output


@settings(max_examples=300, deadline=None)
@given(text=st.text(), raw=st.binary(), lines=st.booleans())
def test_clean_of_any_text_or_bytes_is_safe_and_encodable(text, raw, lines):
    for value in (text, raw):
        out = clean(value, multiline=lines)
        assert controls_in(out.replace("\n", "").replace("\t", "") if lines else out) == []
        out.encode("utf-8")  # no lone surrogate left
    safe = "".join(c for c in text if c not in CONTROL and c not in "\n\t" and
                   not 0xD800 <= ord(c) <= 0xDFFF)
    assert clean(safe) == safe == clean(safe, multiline=True)  # left exactly as it was


def test_random_hostile_strings_in_every_field_reach_no_view_raw(tmp_path):
    """A seeded fuzz: 40 runs, each with a random name, tags, text, hparams and end
    reason drawn from controls, bidi marks, surrogate-free Unicode and ASCII."""
    import random

    from logfiles import event_bytes, frame, version_event
    from hostile import _hparams_events, _text_summary
    from tbx_tui.logs.summary import summary
    from tbx_tui.logs.watcher import LogWatcher

    rng = random.Random(17)
    alphabet = [*CONTROL - {"\x00"}, "a", "/", "é", "→", "[", "]", "\u4e2d", "\U0001f600"]

    def hostile(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    for k in range(40):
        folder = tmp_path / "runs" / (f"r{k}" + hostile(8).replace("/", ""))
        folder.mkdir(parents=True)
        records = [version_event(1.0), *_hparams_events(1.0, hostile(12)),
                   event_bytes(1.0, 1, hostile(10), 0.5),
                   _text_summary("Samples/" + hostile(6), hostile(200), 1, 2.0),
                   _text_summary("tbx/run_state", "stopped: " + hostile(30), 1, 3.0)]
        (folder / "events.out.tfevents.1.fuzz").write_bytes(b"".join(map(frame, records)))
    w = LogWatcher([str(tmp_path / "runs")])
    w.poll()
    assert len(w.store.runs) == 40
    text = summary(w.store)
    assert controls_in(text.replace("\n", "")) == []
    for name, run in w.store.runs.items():
        fields = [name, run.end_reason, *run.scalars, *run.texts, *map(str, run.hparams),
                  *map(str, run.hparams.values())]
        assert [f for f in fields if controls_in(f)] == [], name
        for points in run.texts.values():
            assert controls_in(points[-1].text.replace("\n", "").replace("\t", "")) == []


def test_watch_once_prints_no_control_bytes(logdir):
    out = subprocess.run(f"{sys.executable} -m tbx_tui watch --once '{logdir}' "
                         "| grep -c $'\\x1b'", shell=True, executable="/bin/bash",
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0", out.stdout + out.stderr
    r = cli("watch", "--once", str(logdir), cwd=logdir.parent)
    assert r.returncode == 0 and controls_in(r.stdout) == [], repr(r.stdout[:400])
    # Shown, not dropped: the user sees what the file holds.
    assert "run\\x1b]0;PWNED-TITLE\\x07" in r.stdout
    assert "failed: boom \\x1b]0;" in r.stdout
    assert "note\\x1b]0;" in r.stdout and "Loss/\ufffd\ufffd\ufffd\ufffd" in r.stdout
    assert "odd-\ufffd" in r.stdout  # a folder name that is not UTF-8


def test_csv_export_and_store_hold_display_text(logdir, tmp_path):
    from tbx_tui.logs.watcher import LogWatcher
    from tbx_tui.tui.screens.dashboard import export_csv

    w = LogWatcher([str(logdir)])
    w.poll()
    texts = []
    for name, run in w.store.runs.items():
        texts += [name, run.end_reason, *run.scalars, *run.histograms, *run.texts]
        texts += [f"{k}={v}" for k, v in run.hparams.items()]
        texts += [p.text.replace("\n", "") for ps in run.texts.values() for p in ps]
    assert [t for t in texts if controls_in(t)] == []
    name = next(n for n in w.store.runs if n.startswith("run"))
    path = export_csv(w.store, name, str(tmp_path))
    assert controls_in(Path(path).read_text("utf-8").replace("\n", "")) == []


async def test_status_line_and_toasts_show_user_code_errors_as_data(logdir):
    from tbx_tui.logs.watcher import LogWatcher
    from tbx_tui.tui.app import make_app
    from tbx_tui.tui.widgets.status_line import fit_parts

    line = fit_parts([(-1, "[b red]failed[/]: ValueError: " + ALL)], 80)
    assert controls_in(line.plain) == [] and "\\x1b]0;PWNED-TITLE" in line.plain
    app = make_app("watch", watcher=LogWatcher([str(logdir)]), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify("cannot resume [@click=app.quit]run[/]" + ALL)
        await pilot.pause(0.1)
        toast = list(app._notifications)[-1]
        assert controls_in(toast.message) == [] and not toast.markup  # a name, not markup


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True,
                          text=True).stdout


SOCKET = f"tbxhostile{os.getpid()}"


def _wait_screen(session: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if text in screen:
            return screen
        assert time.monotonic() < deadline, f"{text!r} never showed:\n{screen}"
        time.sleep(0.2)


def test_the_real_app_keeps_the_terminal_title_and_clipboard(logdir):
    """tmux obeys OSC 0/2 (the pane title) and, with set-clipboard on, OSC 52 (a paste
    buffer): either would show that the app passed a log's escape through."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = "h"
    cmd = f"cd '{logdir.parent}' && exec {sys.executable} -m tbx_tui watch runs --refresh 0.3"
    try:
        subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", "new-session", "-d", "-s",
                        session, "-x", "160", "-y", "48", "sleep 600"], check=True)
        _tmux("set-option", "-s", "set-clipboard", "on")
        title = _tmux("display", "-p", "-t", session, "#{pane_title}")
        _tmux("respawn-pane", "-k", "-t", session, cmd)
        _wait_screen(session, "Loss/train")
        _tmux("send-keys", "-t", session, "Down")  # the hostile run: its samples panel
        _wait_screen(session, "samples · step")
        _tmux("send-keys", "-t", session, "H")      # the HParams view: keys and values
        _wait_screen(session, "filter:")
        _tmux("send-keys", "-t", session, "Escape")
        screen = _wait_screen(session, "HParams")
        time.sleep(1.0)  # a few more redraws of every panel, tags and names included
        assert "\\x1b]0;PWNED-TITLE" in screen  # the names are shown, made visible
        assert _tmux("display", "-p", "-t", session, "#{pane_title}") == title
        assert _tmux("list-buffers") == ""  # OSC 52 made none
        _tmux("send-keys", "-t", session, "q")
    finally:
        _tmux("kill-server")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_user_code_messages_reach_console_and_run_state_as_data(tmp_path):
    evil = repr(ALL.replace("\x00", ""))
    _write(tmp_path / "evil.py", f"""
import torch
from torch import nn

class Refused(nn.Module):
    def __init__(self, in_shape, num_classes):
        raise ValueError({evil})

""" + failing_later("Later", f"raise RuntimeError({evil})"))
    r = cli("--no-ui", "--model", "evil.py:Refused", "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert controls_in(r.stdout + r.stderr.replace("\n", "")) == [], repr(r.stderr)
    assert "ValueError: \\x1b]0;PWNED-TITLE" in r.stderr
    r = cli("--no-ui", "--model", "evil.py:Later", "--epochs", "1", "--batch-size", "256",
            cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    out = r.stdout + r.stderr
    assert controls_in(out.replace("\n", "")) == [] and "RuntimeError: \\x1b]0;" in out, out
    ea = accumulator(only_run(tmp_path / "runs"))
    state = ea.Tensors("tbx/run_state")[-1].tensor_proto.string_val[0].decode()
    assert state.startswith("failed: RuntimeError: \\x1b]0;") and controls_in(state) == []


def test_sample_shows_what_the_model_wrote_as_data_unless_raw(tmp_path):
    corpus = tmp_path / "esc.txt"
    # A corpus of little but escapes: a model trained on it writes them too.
    corpus.write_text((ALL.replace("\x00", "") + "plain text\n") * 200)
    r = cli("--no-ui", "--model", "gpt", "--data", f"text:{corpus}", "--n-layer", "1",
            "--n-embd", "32", "--n-head", "2", "--context", "16", "--max-steps", "30",
            "--sample-tokens", "100", "--hist-every", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert controls_in((r.stdout + r.stderr).replace("\n", "")) == []
    run = only_run(tmp_path / "runs")
    shown = cli("sample", str(run), "--tokens", "400", "--temperature", "1.5", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert controls_in(shown.stdout.replace("\n", "")) == [] and "\\x1b" in shown.stdout
    raw = cli("sample", str(run), "--tokens", "400", "--temperature", "1.5", "--raw",
              cwd=tmp_path)
    assert raw.returncode == 0 and "\x1b" in raw.stdout  # asked for, explicitly
