"""Images for the terminal, through textual-image: which way to draw them, and decoding
an image record into a picture sized for its cell — on a worker thread, never the UI's.

How they are drawn (``TBX_TUI_IMAGES``: auto, halfcell, sixel or kitty):
- auto: textual-image asks the terminal, once, at import (before the app takes the
  terminal over), and uses the kitty graphics protocol or Sixel where it answers that it
  has them; half-blocks (two pixels a cell, 24-bit colour) everywhere else.
- Inside tmux or GNU screen, auto means half-blocks: neither passes the graphics
  protocols through by default, and a picture drawn with them outlives Textual's redraws.

Memory is bounded: records past MAX_PIXELS are refused before their pixels are decoded,
one decode runs at a time (``_DECODING``), and a cell keeps one picture of its own size.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import threading

MAX_PIXELS = 16_000_000  # 64 MB decoded as RGBA, at most one at a time
_DECODING = threading.Semaphore(1)


def backend(env=os.environ) -> str:
    """"halfcell", "sixel" or "kitty". Call it before the app starts: textual-image asks
    the terminal its questions (graphics support, cell size in pixels) on its first
    import. Asked once Textual reads the keyboard, the terminal's answer ("\x1b[?1;2c")
    arrived as keys and its "?" opened the help."""
    want = env.get("TBX_TUI_IMAGES", "auto").strip().lower()
    multiplexed = bool(env.get("TMUX") or env.get("STY") or
                       env.get("TERM", "").startswith(("screen", "tmux")))
    if want == "halfcell" or (want not in ("sixel", "kitty") and multiplexed):
        _load_quietly()
        return "halfcell"
    from textual_image.renderable import Image, SixelImage, TGPImage  # asks the terminal
    from textual_image.widget import get_cell_size

    get_cell_size()  # asked now, kept for the session
    if want in ("sixel", "kitty"):
        return want
    return "sixel" if Image is SixelImage else "kitty" if Image is TGPImage else "halfcell"


def _load_quietly() -> None:
    """Import textual-image without letting it ask the terminal anything: it asks only a
    terminal (``sys.__stdout__.isatty()``), so for that import it sees none. Inside tmux
    its kitty-protocol query (an APC string) renamed the tmux window to "Gi=…"."""
    if "textual_image.renderable" in sys.modules:
        return
    saved = sys.__stdout__
    sys.__stdout__ = None
    try:
        importlib.import_module("textual_image.renderable")
    finally:
        sys.__stdout__ = saved
    from textual_image._terminal import CellSize, get_cell_size

    # textual-image caches its one answer here; half-blocks are drawn at the size we give
    # and never need the cell's pixels, which would else be asked at the first drawing.
    if not hasattr(get_cell_size, "_result"):
        setattr(get_cell_size, "_result", CellSize(10, 20))


class ImageProblem(ValueError):
    """Why a record gives no picture, in words for its panel."""


def decode(data: bytes, columns: int, rows: int):
    """The record's picture as an RGB PIL image that fits ``columns`` × ``rows`` cells at
    two pixels a cell, its aspect kept. Raises ImageProblem."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageProblem("the record holds no image data")
    with _DECODING:
        try:
            im = Image.open(io.BytesIO(data))  # reads the header only
        except Image.DecompressionBombError:  # Pillow's own limit, far above ours
            raise ImageProblem(f"an image of over {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} "
                               "Mpx, not decoded") from None
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise ImageProblem(f"not an image this viewer can decode ({_why(e)})") from None
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageProblem(f"an image of {w}×{h} pixels")
        if w * h > MAX_PIXELS:
            raise ImageProblem(f"an image of {w:,}×{h:,} pixels: over "
                               f"{MAX_PIXELS // 1_000_000} Mpx, not decoded")
        scale = min(columns / w, 2 * rows / h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        try:
            im.draft("RGB", size)  # JPEG: decode at a reduced size
            im = im.convert("RGB")
            resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
            return im.resize(size, resample)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise ImageProblem(f"the image is damaged ({_why(e)})") from None


def _why(e: Exception) -> str:
    from ..safe_text import clean

    return clean(str(e) or type(e).__name__)[:120]
