"""The image view: one ``add_image`` tag (the misclassified grid, the confusion-matrix
picture, any writer's images) at one step, drawn by textual-image (tui/images.py says
how). The record is decoded and sized for the cell on a thread of its own; the UI thread
only puts the finished picture up. A record that cannot be shown — damaged, too large,
let go by the store's memory bound — says why in the panel."""

from __future__ import annotations

import io
import threading

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from .. import images
from . import PanelContext
from .cell import SizedCell

# Chosen before the app takes the terminal over: textual-image asks the terminal what it
# can draw when it is first imported, and cannot once Textual reads the keyboard.
BACKEND = images.backend()


class HalfcellPicture(Widget):
    """A picture as lines of half-block cells, made in full off the UI thread
    (``halfcell_lines``): drawing it is handing Textual those lines. A Rich renderable in
    a Static was rendered again, pixel by pixel, on the UI thread whenever the screen
    was (closing the help, each redraw of its cell)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.lines: list[Strip] = []

    @property
    def image(self):
        return self.lines

    @image.setter
    def image(self, lines) -> None:
        self.lines = list(lines or [])
        self.refresh()

    def render_line(self, y: int) -> Strip:
        line = self.lines[y] if y < len(self.lines) else Strip.blank(0)
        return line.crop_extend(0, self.size.width, self.rich_style)


def halfcell_lines(picture) -> list[Strip]:
    """textual-image's half-block rendering of the picture (two pixel rows a line, at the
    picture's own size), as Textual lines. Runs on the decoding thread."""
    from rich.console import Console
    from textual_image.renderable.halfcell import Image as Halfcell

    width, height = picture.width, -(-picture.height // 2)
    console = Console(width=width, height=height, color_system="truecolor",
                      file=io.StringIO(), legacy_windows=False)
    options = console.options.update(width=width, height=height)
    lines = console.render_lines(Halfcell(picture, width=width, height=height), options,
                                 pad=False)
    return [Strip(line) for line in lines]


def _picture_widget():
    if BACKEND == "halfcell":
        return HalfcellPicture(classes="image-pic")
    from textual_image.widget import SixelImage, TGPImage

    return (SixelImage if BACKEND == "sixel" else TGPImage)(classes="image-pic")


class ImageChart(SizedCell, Vertical):

    def compose(self) -> ComposeResult:
        yield Static(classes="image-note")
        yield _picture_widget()

    def on_mount(self) -> None:
        self._wanted = None  # the signature the newest decode is for

    def update_chart(self, ctx: PanelContext) -> bool:
        self.remember(ctx)
        spec = self.spec
        name, points, point = self.newest(ctx, "images")
        if not self.size.area:  # not laid out yet: on_resize comes back
            return False
        note = self.query_one(".image-note", Static)
        columns, rows = self.size.width, max(self.size.height - 1, 1)
        sig = (name, spec.tag, id(point), bool(point and point.image.data), columns, rows,
               ctx.labels.get(name), len(points))
        if sig == self._sig or not self.is_mounted:
            return False
        self._sig = sig
        self.title_view(ctx, name, spec.tag, [p.step for p in points])
        if point is None:
            note.update(Text(f"{spec.tag}: no image yet"), layout=False)
            return True
        im = point.image
        about = f"{im.width}×{im.height} px" if im.width else "size not recorded"
        if im.count > 1:
            about += f" · first of {im.count} images"
        if not im.data:
            self._wanted = None
            self._show_picture(None)
            note.update(Text(f"{about} · {point.problem or 'no image data'}", style="bold"),
                        layout=False)
            return True
        note.update(Text(f"{about} · decoding…"), layout=False)  # one line, fixed
        self._wanted = sig
        threading.Thread(target=self._decode, args=(sig, im.data, columns, rows, about),
                         name="tbx-image-decode", daemon=True).start()
        return True

    def _decode(self, sig, data: bytes, columns: int, rows: int, about: str) -> None:
        """On its own thread: nothing here touches a widget."""
        try:
            if sig != self._wanted:
                return  # a newer picture was asked for meanwhile
            picture = images.decode(data, columns, rows)
            shown = halfcell_lines(picture) if BACKEND == "halfcell" else picture
            result = (shown, f"{about} · shown at {picture.width}×{picture.height}")
        except images.ImageProblem as e:
            result = (None, f"{about} · {e}")
        except Exception as e:  # a decoder's own bug: the panel says it, nothing ends
            result = (None, f"{about} · could not be shown ({type(e).__name__})")
        try:
            self.app.call_from_thread(self._done, sig, *result)
        except RuntimeError:  # the app has ended meanwhile
            pass

    def _done(self, sig, shown, about: str) -> None:
        if sig != self._wanted or not self.is_mounted:
            return
        self.query_one(".image-note", Static).update(
            Text(about, style="" if shown is not None else "bold"), layout=False)
        self._show_picture(shown)

    def _show_picture(self, shown) -> None:
        self.query_one(".image-pic").image = shown
