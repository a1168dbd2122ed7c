"""A small protobuf wire-format decoder for TensorBoard's Event records.

Only what a viewer needs: scalars (``simple_value`` and 0-d tensors), histograms
(``HistogramProto`` and the ``[k, 3]`` tensor layout), hparams plugin data, text, images
(``Summary.Image`` and the images plugin's string tensors), PR curves (the pr_curves
plugin's ``[6, thresholds]`` tensor), confusion-matrix counts (``tbx_confusion``), file
versions and ``SessionLog`` restarts. Written against the wire format, not generated classes, so the
reader needs neither torch, TensorFlow nor a particular protobuf runtime, and so it can
report *where* a record's values sit (see ``scalar_layout``), which the vectorised fast
path in reader.py builds on. Malformed input raises ``WireError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")

# TensorProto dtypes (tensorflow/core/framework/types.proto) a viewer can plot.
_DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 9: np.dtype("<i8"),
           19: np.dtype("<f2")}
_VAL_FIELDS = {1: 5, 2: 6, 3: 7, 9: 10, 19: 13}  # dtype -> repeated *_val field number
SESSION_START = 1
PR_PLUGIN = "pr_curves"
# Values a tensor may hold and still be decoded: a 1,024-class confusion matrix. Past it a
# record is "other", not a minutes-long varint loop (a record may be 256 MiB).
MAX_TENSOR_VALUES = 1 << 20
CONFUSION_PLUGIN = "tbx_confusion"  # engine/output/eval_records.py writes it


class WireError(ValueError):
    pass


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def fields(buf, start: int, end: int):
    """Yield (field number, wire type, value, value start, value end). The value is the
    int for varints and the (start, end) span is what matters for the others."""
    pos = start
    while pos < end:
        key, pos = varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, new = varint(buf, pos, end)
        elif wire == 1:
            value, new = None, pos + 8
        elif wire == 2:
            size, pos = varint(buf, pos, end)
            value, new = None, pos + size
        elif wire == 5:
            value, new = None, pos + 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        if new > end:
            raise WireError("field runs past its message")
        yield number, wire, value, pos, new
        pos = new


def _packed(buf, start: int, end: int, wire: int, dtype: np.dtype) -> np.ndarray:
    if wire == 2:  # packed
        return np.frombuffer(bytes(buf[start:end]), dtype=dtype)
    return np.frombuffer(bytes(buf[start:start + dtype.itemsize]), dtype=dtype)


@dataclass
class Histogram:
    """One histogram snapshot: bucket edges and counts (TensorBoard's own conversion)."""

    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray
    min: float
    max: float
    num: float
    sum: float = float("nan")
    sum_squares: float = float("nan")


@dataclass
class EncodedImage:
    """An image as the writer stored it (PNG, usually): decoded only where it is shown,
    off the UI thread. ``width``/``height`` are what the record claims (0: not said)."""

    width: int
    height: int
    data: bytes
    count: int = 1          # images in the record (TF2 writers send several; the first kept)


@dataclass
class Value:
    tag: str
    kind: str  # "scalar", "histogram", "hparams", "text", "image", "pr", "matrix", "other"
    scalar: float = 0.0
    histogram: Histogram | None = None
    plugin: str = ""        # plugin_name from the metadata, if any
    content: bytes = b""    # plugin content (hparams, matrix), or UTF-8 text (text)
    image: EncodedImage | None = None
    array: np.ndarray | None = None  # pr: [6, thresholds]; matrix: [classes, classes]


@dataclass
class Event:
    wall_time: float = 0.0
    step: int = 0
    file_version: str | None = None
    session_status: int | None = None
    has_summary: bool = False
    values: list[Value] = field(default_factory=list)


def parse_event(buf, start: int = 0, end: int | None = None,
                plugins: dict[str, str] | None = None) -> Event:
    """Decode one Event. ``plugins`` maps tag -> plugin name as learnt from earlier events
    (TF2 writers send the metadata only with a tag's first value); it is updated."""
    end = len(buf) if end is None else end
    ev = Event()
    for number, wire, value, s, e in fields(buf, start, end):
        if number == 1 and wire == 1:
            ev.wall_time = _F64.unpack_from(buf, s)[0]
        elif number == 2 and wire == 0:
            ev.step = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and wire == 2:
            ev.file_version = bytes(buf[s:e]).decode("utf-8", "replace")
        elif number == 5 and wire == 2:
            ev.has_summary = True
            for n2, w2, _, s2, e2 in fields(buf, s, e):
                if n2 == 1 and w2 == 2:
                    ev.values.append(_parse_value(buf, s2, e2, plugins))
        elif number == 7 and wire == 2:
            ev.session_status = 0
            for n2, w2, v2, _, _ in fields(buf, s, e):
                if n2 == 1 and w2 == 0:
                    ev.session_status = v2
    return ev


def _parse_value(buf, start: int, end: int, plugins: dict[str, str] | None) -> Value:
    tag, simple, histo, tensor, plugin, content = "", None, None, None, "", b""
    image = None
    for number, wire, _, s, e in fields(buf, start, end):
        if number == 1 and wire == 2:
            tag = bytes(buf[s:e]).decode("utf-8", "replace")
        elif number == 7 and wire == 2 and not tag:
            tag = bytes(buf[s:e]).decode("utf-8", "replace")  # node_name, TF1's old tag
        elif number == 2 and wire == 5:
            simple = _F32.unpack_from(buf, s)[0]
        elif number == 5 and wire == 2:
            histo = (s, e)
        elif number == 4 and wire == 2:
            image = (s, e)
        elif number == 8 and wire == 2:
            tensor = (s, e)
        elif number == 9 and wire == 2:
            plugin, content = _parse_metadata(buf, s, e)
    if plugins is not None:
        if plugin:
            plugins[tag] = plugin
        else:
            plugin = plugins.get(tag, "")
    if simple is not None:
        return Value(tag, "scalar", scalar=float(simple), plugin=plugin)
    if histo is not None:
        return Value(tag, "histogram", histogram=_parse_histo(buf, *histo), plugin=plugin)
    if image is not None:
        return Value(tag, "image", plugin=plugin or "images", image=_parse_image(buf, *image))
    if plugin == "hparams":
        return Value(tag, "hparams", plugin=plugin, content=content)
    if tensor is not None and plugin == "images":
        return Value(tag, "image", plugin=plugin, image=_image_tensor(buf, *tensor))
    if tensor is not None and plugin in (PR_PLUGIN, CONFUSION_PLUGIN):
        return _array_value(tag, plugin, content, *_parse_tensor(buf, *tensor))
    if tensor is not None and plugin == "text":
        return Value(tag, "text", plugin=plugin, content=_tensor_strings(buf, *tensor))
    if tensor is not None and plugin in ("", "scalars", "histograms"):
        return _tensor_value(tag, plugin, *_parse_tensor(buf, *tensor))
    return Value(tag, "other", plugin=plugin)


def _parse_metadata(buf, start: int, end: int) -> tuple[str, bytes]:
    name, content = "", b""
    for number, wire, _, s, e in fields(buf, start, end):
        if number == 1 and wire == 2:  # plugin_data
            for n2, w2, _, s2, e2 in fields(buf, s, e):
                if n2 == 1 and w2 == 2:
                    name = bytes(buf[s2:e2]).decode("utf-8", "replace")
                elif n2 == 2 and w2 == 2:
                    content = bytes(buf[s2:e2])
    return name, content


def _parse_histo(buf, start: int, end: int) -> Histogram:
    d = {1: 0.0, 2: 0.0, 3: 0.0, 4: float("nan"), 5: float("nan")}
    limits = counts = np.zeros(0)
    for number, wire, _, s, e in fields(buf, start, end):
        if number in d and wire == 1:
            d[number] = _F64.unpack_from(buf, s)[0]
        elif number == 6:
            limits = _packed(buf, s, e, wire, np.dtype("<f8"))
        elif number == 7:
            counts = _packed(buf, s, e, wire, np.dtype("<f8"))
    if len(limits) != len(counts):
        raise WireError("histogram limits and counts differ in length")
    # TensorBoard's migration: lefts are [min] + limits[:-1], rights limits[:-1] + [max]
    # (the last limit is often DBL_MAX).
    left = np.concatenate([[d[1]], limits[:-1]]) if len(limits) else limits
    right = np.concatenate([limits[:-1], [d[2]]]) if len(limits) else limits
    return Histogram(left, right, counts.astype(np.float64), d[1], d[2], d[3], d[4], d[5])


def _parse_tensor(buf, start: int, end: int) -> tuple[np.ndarray | None, tuple[int, ...]]:
    dtype_code, shape, content, vals = 0, [], None, {}
    for number, wire, value, s, e in fields(buf, start, end):
        if number == 1 and wire == 0:
            dtype_code = value
        elif number == 2 and wire == 2:
            for n2, w2, _, s2, e2 in fields(buf, s, e):
                if n2 == 2 and w2 == 2:
                    size = 0
                    for n3, w3, v3, _, _ in fields(buf, s2, e2):
                        if n3 == 1 and w3 == 0:
                            size = v3
                    shape.append(size)
        elif number == 4 and wire == 2:
            content = (s, e)
        else:
            vals.setdefault(number, []).append((wire, s, e))
    dtype = _DTYPES.get(dtype_code)
    if dtype is None or (shape and int(np.prod(shape)) > MAX_TENSOR_VALUES):
        return None, tuple(shape)  # not one a viewer draws, or a stranger's huge one
    if content is not None:
        arr = np.frombuffer(bytes(buf[content[0]:content[1]]), dtype=dtype)
    else:
        parts = vals.get(_VAL_FIELDS[dtype_code], [])
        if dtype_code in (3, 9):  # ints are varints
            out = []
            for wire, s, e in parts:
                pos = s
                while pos < (e if wire == 2 else s + 1):
                    v, pos = varint(buf, pos, e if wire == 2 else len(buf))
                    out.append(v)
                    if wire != 2:
                        break
            arr = np.array(out, dtype=np.int64)
        elif dtype_code == 19:  # half_val carries float16 bits in int32 varints
            return None, tuple(shape)
        else:
            arr = np.concatenate([_packed(buf, s, e, w, dtype) for w, s, e in parts]) \
                if parts else np.zeros(0, dtype)
    return arr.astype(np.float64), tuple(shape)


def _parse_image(buf, start: int, end: int) -> EncodedImage:
    """``Summary.Image``: height 1, width 2, colorspace 3, encoded_image_string 4."""
    dims, data = {1: 0, 2: 0}, b""
    for number, wire, value, s, e in fields(buf, start, end):
        if number in dims and wire == 0:
            dims[number] = value
        elif number == 4 and wire == 2:
            data = bytes(buf[s:e])
    return EncodedImage(dims[2], dims[1], data)


def _image_tensor(buf, start: int, end: int) -> EncodedImage:
    """The images plugin's tensor (TF2 writers): strings [width, height, image, …]."""
    parts = [(s, e) for number, wire, _, s, e in fields(buf, start, end)
             if number == 8 and wire == 2]
    if len(parts) < 3:
        raise WireError("an image tensor without an image")

    def number(span) -> int:
        text = bytes(buf[span[0]:span[1]])
        return int(text) if text.isdigit() and len(text) < 10 else 0

    s, e = parts[2]
    return EncodedImage(number(parts[0]), number(parts[1]), bytes(buf[s:e]), len(parts) - 2)


def _array_value(tag: str, plugin: str, content: bytes, arr, shape) -> Value:
    """A PR curve ([6, thresholds]: TP, FP, TN, FN, precision, recall) or confusion counts
    ([classes, classes]); anything else under those plugins is "other"."""
    if arr is None or len(shape) != 2 or int(np.prod(shape)) != len(arr):
        return Value(tag, "other", plugin=plugin)
    arr = arr.reshape(shape)
    if plugin == PR_PLUGIN and shape[0] == 6 and shape[1] >= 1:
        return Value(tag, "pr", plugin=plugin, array=arr.astype(np.float32))
    if plugin == CONFUSION_PLUGIN and shape[0] == shape[1] >= 1:
        return Value(tag, "matrix", plugin=plugin, content=content, array=arr)
    return Value(tag, "other", plugin=plugin)


def _tensor_strings(buf, start: int, end: int) -> bytes:
    """A DT_STRING tensor's strings (``string_val``), joined by newlines."""
    parts = [bytes(buf[s:e]) for number, wire, _, s, e in fields(buf, start, end)
             if number == 8 and wire == 2]
    return b"\n".join(parts)


def _tensor_value(tag: str, plugin: str, arr: np.ndarray | None, shape) -> Value:
    if arr is None:
        return Value(tag, "other", plugin=plugin)
    n = int(np.prod(shape)) if shape else 1
    if n == 1 and len(arr) == 1 and plugin != "histograms":
        return Value(tag, "scalar", scalar=float(arr[0]), plugin=plugin)
    if len(shape) == 2 and shape[1] == 3 and len(arr) == shape[0] * 3:
        rows = arr.reshape(-1, 3)
        finite = rows[:, :2][np.isfinite(rows[:, :2])]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 0.0
        h = Histogram(rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), lo, hi,
                      float(rows[:, 2].sum()))
        return Value(tag, "histogram", histogram=h, plugin=plugin)
    return Value(tag, "other", plugin=plugin)


# ---- where a scalar record keeps its numbers (for the vectorised reader) -------------

@dataclass(frozen=True)
class ScalarLayout:
    """Byte offsets, within one record, of a single-scalar Event's numbers. Two records of
    the same length whose other bytes are equal (``mask``) have the same layout."""

    tag: str
    wall: int | None        # offset of the float64 wall time
    step: tuple[int, int] | None  # (offset, byte count) of the step varint
    value: int              # offset of the scalar
    value_dtype: str        # "<f4" or "<f8"
    mask: np.ndarray        # per byte: 0xFF structure, 0x80 varint continuation, 0 data


def scalar_layout(buf: bytes, plugins: dict[str, str]) -> ScalarLayout | None:
    """Layout of an Event that holds exactly one scalar value; None for anything else."""
    wall = step = summary = None
    try:
        for number, wire, _, s, e in fields(buf, 0, len(buf)):
            if number == 1 and wire == 1:
                wall = s
            elif number == 2 and wire == 0:
                if e - s > 9:
                    return None  # a negative step: ten bytes, beyond the int64 columns
                step = (s, e - s)
            elif number == 5 and wire == 2 and summary is None:
                summary = (s, e)
            else:
                return None
        if summary is None:
            return None
        values = list(fields(buf, *summary))
        if len(values) != 1 or values[0][:2] != (1, 2):
            return None
        found = _scalar_in_value(buf, values[0][3], values[0][4], plugins)
    except WireError:
        return None
    if found is None:
        return None
    tag, value_off, dtype = found
    mask = np.full(len(buf), 0xFF, dtype=np.uint8)
    if wall is not None:
        mask[wall:wall + 8] = 0
    if step is not None:
        mask[step[0]:step[0] + step[1]] = 0x80
    mask[value_off:value_off + np.dtype(dtype).itemsize] = 0
    return ScalarLayout(tag, wall, step, value_off, dtype, mask)


def _scalar_in_value(buf, start: int, end: int, plugins) -> tuple[str, int, str] | None:
    tag, value, is_tensor = None, None, False
    for number, wire, _, s, e in fields(buf, start, end):
        if number == 1 and wire == 2:
            tag = bytes(buf[s:e]).decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            value = (s, "<f4")
        elif number == 8 and wire == 2:
            value, is_tensor = _scalar_in_tensor(buf, s, e), True
            if value is None:
                return None
        else:
            return None  # metadata, histograms, images…: the general decoder's job
    if tag is None or value is None:
        return None
    if is_tensor and plugins.get(tag, "scalars") != "scalars":
        return None  # a 0-d tensor of some other plugin (text, custom): not a curve
    return tag, value[0], value[1]


def _scalar_in_tensor(buf, start: int, end: int) -> tuple[int, str] | None:
    """A 0-d float/double tensor's value offset (TF2 writers)."""
    dtype, where = None, None
    for number, wire, value, s, e in fields(buf, start, end):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            if e != s:
                return None  # has dims: not a scalar
        elif number in (4, 5, 6) and wire == 2:
            where = (number, s, e)
        elif number == 5 and wire == 5:
            where = (5, s, s + 4)
        elif number == 6 and wire == 1:
            where = (6, s, s + 8)
        else:
            return None
    if where is None:
        return None
    number, s, e = where
    if dtype == 1 and e - s == 4 and number in (4, 5):
        return s, "<f4"
    if dtype == 2 and e - s == 8 and number in (4, 6):
        return s, "<f8"
    return None
