"""The evaluation views in the terminal: confusion matrix, PR curves, images, model
structure and gradient flow, from event files written by tensorboardX, by TensorBoard's
own writer (torch.utils.tensorboard) and by hand (damaged, huge, hostile), read through
the one reader into the store, drawn by the app (Pilot) and printed by ``watch --once``."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from textual.geometry import Region

from logfiles import CLASSES, confusion_record, eval_view_logs, event_bytes, frame, version_event
from test_watch import FIXED_NOW, app_for
from tbx_tui.logs import store as store_module
from tbx_tui.logs.watcher import LogWatcher
from tbx_tui.tui import images
from tbx_tui.tui.panels.confusion import ConfusionChart
from tbx_tui.tui.panels.grad_flow import GradFlowChart
from tbx_tui.tui.panels.image_view import ImageChart
from tbx_tui.tui.panels.pr_chart import PRChart, PRPlot
from tbx_tui.tui.panels.structure_view import StructureChart
from conftest import cli

SIZES = [(80, 24), (200, 60)]
KINDS = ["confusion", "pr", "image", "gradflow", "structure"]


def fixed(root: Path) -> Path:
    eval_view_logs(root / "cls")
    for path in root.rglob("*tfevents*"):
        os.utime(path, (FIXED_NOW - 30, FIXED_NOW - 30))
    return root


def shown(widget) -> str:
    """What a widget draws, as plain text."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def wait_for(pilot, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def show_view(pilot, kind: str, zoom: bool = True):
    """Select the first chart of ``kind`` (c), zoomed, and wait for it to be drawn."""
    grid = pilot.app.screen.grid
    await wait_for(pilot, lambda: any(s.kind == kind for s in grid.specs))
    while grid.current.kind != kind:
        await pilot.press("c")
    if zoom and not grid.zoomed:
        await pilot.press("z")
    await wait_for(pilot, lambda: grid.children and grid.children[0].spec.kind == kind
                   if zoom else True)
    cell = next(c for c in grid.children if c.spec.kind == kind)
    await wait_for(pilot, lambda: cell._sig is not None and cell.size.area)
    return cell


def png(width: int, height: int, rgb=(255, 0, 0)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buf, "PNG")
    return buf.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels, with one row of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + \
        chunk(b"IDAT", zlib.compress(b"\0" * (3 * min(width, 64) + 1))) + chunk(b"IEND", b"")


def image_event(tag: str, data: bytes, step: int, width=0, height=0) -> bytes:
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=data)
    return frame(Event(wall_time=FIXED_NOW - 60, step=step, summary=Summary(
        value=[Summary.Value(tag=tag, image=image)])).SerializeToString())


def read(root: Path):
    watcher = LogWatcher([str(root)])
    watcher.poll()
    return watcher.store


# ---- the reader and the store ---------------------------------------------------------

def test_images_from_tensorboards_own_writer_and_tensorboardx_are_read_and_decoded(tmp_path):
    writers_images(tmp_path)
    runs = read(tmp_path).runs
    expect = {"tb": ("pics/red", 3, (255, 0, 0)), "tbx": ("pics/green", 5, (0, 255, 0)),
              "tf2": ("pics/blue", 7, (0, 0, 255))}
    for run, (tag, step, rgb) in expect.items():
        point = runs[run].images[tag][-1]
        assert point.step == step
        picture = images.decode(point.image.data, 60, 10)
        assert picture.getpixel((0, 0)) == rgb
        assert picture.size == ((60, 20) if run != "tf2" else (40, 20))  # aspect kept
    assert runs["tf2"].images["pics/blue"][-1].image.count == 2


def writers_images(root: Path) -> Path:
    """The same picture format from three writers: TensorBoard's own (torch), tensorboardX,
    and TF2's images-plugin tensor, one run each."""
    from tensorboardX import SummaryWriter as XWriter
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from torch.utils.tensorboard import SummaryWriter as TBWriter

    red = np.zeros((3, 10, 30), dtype=np.uint8)
    red[0] = 255
    with TBWriter(str(root / "tb")) as w:
        w.add_image("pics/red", red, 3)
    green = np.zeros((10, 30, 3), dtype=np.float32)
    green[..., 1] = 1.0
    with XWriter(str(root / "tbx")) as w:
        w.add_image("pics/green", green, 5, dataformats="HWC")
    tensor = TensorProto(dtype=7, string_val=[b"4", b"2", png(4, 2, (0, 0, 255)),
                                              png(4, 2)]).SerializeToString()
    (root / "tf2").mkdir(parents=True)
    (root / "tf2" / "events.out.tfevents.1.tf2").write_bytes(
        frame(version_event()) + frame(event_bytes(1.0, 7, "pics/blue", tensor=tensor,
                                                   metadata_plugin="images")))
    return root


async def test_images_of_each_writer_are_shown_in_their_panels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = app_for(writers_images(tmp_path / "runs"))
    async with app.run_test(size=(200, 60)) as pilot:
        grid = app.screen.grid
        await wait_for(pilot, lambda: len([s for s in grid.specs if s.kind == "image"]) == 3)
        cells = [c for c in grid.children if isinstance(c, ImageChart)]
        assert len(cells) == 3
        for cell in cells:
            note = cell.query_one(".image-note")
            await wait_for(pilot, lambda: "shown at" in str(note.render()))
        notes = sorted(str(c.query_one(".image-note").render()) for c in cells)
        assert notes[0].startswith("30×10 px") and "4×2 px · first of 2 images" in notes[2]


def test_image_bytes_are_bounded_per_tag_and_for_the_whole_store(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "IMAGE_BUDGET", 5 * len(png(64, 64)))
    (tmp_path / "a").mkdir()
    events = [image_event(f"pics/{t}", png(64, 64, (s, t, 0)), s)
              for s in range(10) for t in range(3)]
    (tmp_path / "a" / "events.out.tfevents.1.a").write_bytes(frame(version_event()) + b"".join(events))
    store = read(tmp_path)
    run = store.runs["a"]
    held = [p for ps in run.images.values() for p in ps if p.image.data]
    assert len(held) <= 5 and store.image_bytes == sum(len(p.image.data) for p in held)
    assert all(len(run.images[f"pics/{t}"]) == 10 for t in range(3))  # steps all known
    newest = run.images["pics/2"][-1]
    assert newest.image.data and newest.step == 9
    assert "no longer held" in run.images["pics/0"][0].problem
    store.drop_run("a")
    assert store.image_bytes == 0


def test_confusion_counts_and_pr_curves_reach_the_store_with_class_names(tmp_path):
    run = read(fixed(tmp_path)).runs["cls"]
    points = run.matrices["Eval/confusion_matrix/counts"]
    assert [p.step for p in points] == [19, 39] and points[-1].classes == CLASSES
    assert points[-1].array.tolist() == [[9, 1, 0], [1, 8, 1], [0, 0, 10]]
    assert list(run.curves) == [f"PR/{c}" for c in CLASSES]  # as written: class order
    assert run.curves["PR/dog"][-1].array.shape[0] == 6


def test_once_prints_the_confusion_matrix_and_the_per_class_table(tmp_path):
    fixed(tmp_path / "runs")
    r = cli("watch", "--once", "runs", cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Eval/confusion_matrix/counts at step 39:" in out
    assert "0 cat      9   1   0" in out and "2 bird     0   0  10" in out
    assert "class   precision  recall      F1  support" in out
    assert "1 dog      0.8889  0.8000  0.8421       10" in out
    assert "Eval/misclassified" in out and "PR curves: 3 classes" in out


# ---- the panels -----------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_grid_offers_each_view_and_each_draws(tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    app = app_for(fixed(tmp_path / "runs"))
    async with app.run_test(size=size) as pilot:
        grid = app.screen.grid
        await wait_for(pilot, lambda: {s.kind for s in grid.specs} >= set(KINDS))
        cell = await show_view(pilot, "confusion")
        await wait_for(pilot, lambda: "precision" in shown(cell))
        text = shown(cell)
        assert "cat" in text and "precision" in text and "0.842" in text
        await pilot.press("comma")  # the earlier evaluation
        await wait_for(pilot, lambda: "step 19, 1 of 2" in cell.border_title)
        assert "8  2  0" in shown(cell).replace("   ", "  ")
        await pilot.press("full_stop")  # the newest again, and following it
        assert grid.current.step is None
        await wait_for(pilot, lambda: "(newest)" in cell.border_title)
        await pilot.press("z")

        cell = await show_view(pilot, "gradflow")
        await wait_for(pilot, lambda: "vanishing: body.0" in shown(cell))
        await pilot.press("z")

        cell = await show_view(pilot, "structure")
        assert isinstance(cell, StructureChart)
        labels = [str(n.label) for n in cell.root.children]
        assert any(label.startswith("body: Sequential") for label in labels)
        body = cell.root.children[0]
        assert body.is_expanded and "272 frozen" in str(body.children[1].label)
        await pilot.press("z")

        cell = await show_view(pilot, "image")
        note = cell.query_one(".image-note")
        await wait_for(pilot, lambda: "shown at" in str(note.render()))
        assert "48×24 px" in str(note.render())
        await pilot.press("z")

        cell = await show_view(pilot, "pr")
        plot = cell.query_one(PRPlot)
        await wait_for(pilot, lambda: "cat: AP" in shown(plot))
        listing = cell.query_one("OptionList")
        listing.focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: grid.current.pick == "PR/dog")
        await wait_for(pilot, lambda: "dog: AP" in shown(plot))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", KINDS)
def test_view_snapshot(kind, size, snap_compare, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    app = app_for(fixed(Path("runs")))

    async def select(pilot):
        cell = await show_view(pilot, kind)
        if kind == "image":
            note = cell.query_one(".image-note")
            await wait_for(pilot, lambda: "shown at" in str(note.render()))
        if kind == "confusion":
            await wait_for(pilot, lambda: "class" in shown(cell))
        if kind == "pr":
            await wait_for(pilot, lambda: "AP" in shown(cell.query_one(PRPlot)))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=select)


@pytest.mark.parametrize("record, says", [
    (b"\x89PNG\r\n\x1a\nthis is not the rest of a PNG", "not an image this viewer can decode"),
    (huge_png(5_000, 5_000), "5,000×5,000 pixels: over 16 Mpx, not decoded"),
    (huge_png(20_000, 20_000), "an image of over 178 Mpx, not decoded"),
    (b"", "no image data"),
], ids=["damaged", "huge", "bomb", "empty"])
async def test_an_image_that_cannot_be_shown_says_why_in_its_panel(tmp_path, monkeypatch,
                                                                   record, says):
    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "runs" / "x" / "events.out.tfevents.1.x").write_bytes(
        frame(version_event()) + image_event("pics/bad", record, 1, 20_000, 20_000))
    monkeypatch.chdir(tmp_path)
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        cell = await show_view(pilot, "image")
        note = cell.query_one(".image-note")
        await wait_for(pilot, lambda: says in str(note.render()))
        assert app.screen.grid.panel_error is None


def test_a_record_over_the_size_limit_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_IMAGE_BYTES", 1000)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "events.out.tfevents.1.x").write_bytes(
        frame(version_event()) + image_event("pics/big", os.urandom(5000), 1))
    store = read(tmp_path)
    point = store.runs["x"].images["pics/big"][0]
    assert point.image.data == b"" and "not kept" in point.problem and store.image_bytes == 0


async def test_class_names_from_a_strangers_log_are_shown_as_text(tmp_path, monkeypatch):
    from tensorboardX import SummaryWriter

    evil = ("\x1b]0;PWNED\x07cat", "dog\x1b[2J", "[@click=app.quit]bird")
    with SummaryWriter(str(tmp_path / "runs" / "evil")) as w:
        w.file_writer.add_summary(confusion_record("Eval/cm", [[1, 0, 0], [0, 1, 0],
                                                               [0, 0, 1]], evil), 1)
    monkeypatch.chdir(tmp_path)
    app = app_for(tmp_path / "runs")
    async with app.run_test(size=(120, 30)) as pilot:
        cell = await show_view(pilot, "confusion")
        await wait_for(pilot, lambda: "precision" in shown(cell))
        text = shown(cell)
        assert "\x1b" not in text and "\\x1b]0;PWNED" in text and "[@click=app." in text
        assert isinstance(cell, ConfusionChart)


def test_grad_flow_marks_vanishing_and_exploding_layers():
    from tbx_tui.tui.panels.grad_flow import marks

    vanishing, exploding = marks(np.array([1e-9, 0.1, 0.3, 5e4, np.nan, 0.2]))
    assert vanishing.tolist() == [True, False, False, False, False, False]
    assert exploding.tolist() == [False, False, False, True, True, False]


def test_the_images_backend_is_half_blocks_inside_tmux_and_when_asked(monkeypatch):
    assert images.backend({"TMUX": "/tmp/tmux-0/default,1,0"}) == "halfcell"
    assert images.backend({"TERM": "screen-256color"}) == "halfcell"
    assert images.backend({"TBX_TUI_IMAGES": "sixel", "TMUX": "x"}) == "sixel"
    assert images.backend({}) == "halfcell"  # no terminal here: no graphics protocol
    _ = (ImageChart, GradFlowChart, PRChart)


def test_the_engine_and_the_reader_agree_on_the_confusion_plugins_name():
    from tbx_tui.engine.output import eval_records
    from tbx_tui.logs import wire

    assert eval_records.CONFUSION_PLUGIN == wire.CONFUSION_PLUGIN


@pytest.mark.parametrize("mode, marker", [("sixel", b"\x1bP"), ("kitty", b"\x1b_G"),
                                          ("halfcell", "▀".encode())])
def test_each_way_of_drawing_images_reaches_a_real_terminal(tmp_path, mode, marker):
    """`watch` in a pty with the image protocol chosen by hand: its picture reaches the
    terminal as Sixel data, kitty graphics commands, or half-block characters. (No
    kitty or Sixel terminal runs here to look at them.)"""
    import fcntl
    import pty
    import select
    import subprocess
    import sys
    import termios

    fixed(tmp_path / "runs")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 1200, 800))
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY")}
    env.update(TERM="xterm-256color", TBX_TUI_IMAGES=mode, COLUMNS="120", LINES="40",
               TBX_TUI_STATE=str(tmp_path / "state"))
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "watch", "runs"], cwd=tmp_path,
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + 60
    try:
        while marker not in out.partition(b"\x1b[?1049h")[2]:  # on the app's screen
            assert time.monotonic() < deadline and proc.poll() is None, out[-2000:]
            if select.select([master], [], [], 0.2)[0]:
                out += os.read(master, 65536)
        os.write(master, b"q")
        while proc.poll() is None:  # read on: a full pty would block the app's last frames
            assert time.monotonic() < deadline + 30, "q did not end the app"
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:  # the app has closed the terminal
                    break
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(master)


def test_a_strangers_huge_or_misshapen_matrix_is_passed_over(tmp_path):
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    def tensor(dims, values, dtype=9):
        shape = TensorShapeProto(dim=[TensorShapeProto.Dim(size=d) for d in dims])
        field = {"int64_val": values} if dtype == 9 else {"float_val": values}
        return TensorProto(dtype=dtype, tensor_shape=shape, **field).SerializeToString()

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "events.out.tfevents.1.x").write_bytes(frame(version_event()) + b"".join([
        # 1,100 classes: past the 1,024² values decoded (wire.MAX_TENSOR_VALUES)
        frame(event_bytes(1.0, 1, "cm/huge", tensor=tensor([1100, 1100], [1] * 1_210_000),
                          metadata_plugin="tbx_confusion")),
        frame(event_bytes(1.0, 1, "cm/oblong", tensor=tensor([2, 3], [1] * 6),
                          metadata_plugin="tbx_confusion")),
        frame(event_bytes(1.0, 1, "PR/odd", tensor=tensor([5, 4], [0.5] * 20, dtype=1),
                          metadata_plugin="pr_curves")),
        frame(event_bytes(1.0, 2, "cm/fine", tensor=tensor([2, 2], [3, 1, 0, 4]),
                          metadata_plugin="tbx_confusion"))]))
    run = read(tmp_path).runs["x"]
    assert list(run.matrices) == ["cm/fine"] and not run.curves and run.bad == 0
    assert run.matrices["cm/fine"][0].classes == ("0", "1")  # no names: their numbers
