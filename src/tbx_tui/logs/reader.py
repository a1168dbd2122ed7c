"""Incremental, tolerant reading of TensorBoard event files.

``EventFileReader.read()`` returns what was appended to one file since the last call:
scalars as numpy arrays (the fast path) and everything else as decoded events. It never
raises for bad data: a record with a bad CRC, a garbage file or a record that is not a
valid Event is counted in ``bad`` and skipped; a partial record at the end of a growing
file is left for the next call.

The fast path: records of one block (see framing.py) that share a ``ScalarLayout`` with
their first record have identical bytes except the wall time, step and value; those rows
are checked (structure compared, CRC over the varying bytes only, the rest of the CRC is
the template's) and their numbers pulled out as columns. Other records go through the
general decoder one by one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
from crc32c import crc32c

from .crc import byte_table, masked, masked_array
from .framing import HEADER, OVERHEAD, Block, frame, header_ok
from .wire import Event, ScalarLayout, WireError, parse_event, scalar_layout

READ_CHUNK = 16 << 20  # bytes read at a time: bounds memory on huge files
_ROWS = 8192           # rows checked at a time: keeps the work in the CPU cache
_TEMPLATES = 4         # layouts tried per block before the rest goes the general way


@dataclass
class Scalars:
    """Scalar points in file order within each tag."""

    tags: list[str] = field(default_factory=list)
    tag_ids: list[np.ndarray] = field(default_factory=list)
    offsets: list[np.ndarray] = field(default_factory=list)  # record offsets: the order
    steps: list[np.ndarray] = field(default_factory=list)
    walls: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def tag_id(self, tag: str) -> int:
        try:
            return self.tags.index(tag)
        except ValueError:
            self.tags.append(tag)
            return len(self.tags) - 1

    def add(self, tag: str, offsets, steps, walls, values) -> None:
        n = len(offsets)
        self.tag_ids.append(np.full(n, self.tag_id(tag), dtype=np.int32))
        self.offsets.append(np.asarray(offsets, dtype=np.int64))
        self.steps.append(np.asarray(steps, dtype=np.int64))
        self.walls.append(np.asarray(walls, dtype=np.float64))
        self.values.append(np.asarray(values, dtype=np.float64))

    def per_tag(self):
        """Yield (tag, offsets, steps, walls, values), each sorted by file offset."""
        if not self.offsets:
            return
        ids = np.concatenate(self.tag_ids)
        cols = [np.concatenate(c) for c in (self.offsets, self.steps, self.walls, self.values)]
        for i, tag in enumerate(self.tags):
            sel = np.flatnonzero(ids == i) if len(self.tags) > 1 else slice(None)
            off = cols[0][sel]
            order = np.argsort(off, kind="stable")  # near-sorted runs: cheap
            yield (tag, *(c[sel][order] for c in cols))


@dataclass
class Chunk:
    """What one read() found."""

    scalars: Scalars
    events: list[tuple[int, Event]]   # (record offset, event) from the general decoder
    records: int
    bad: int
    reset: bool = False               # the file shrank or was replaced: start over


def _column(rows: np.ndarray, offset: int, dtype: str) -> np.ndarray:
    width = np.dtype(dtype).itemsize
    return np.ascontiguousarray(rows[:, offset:offset + width]).view(dtype).ravel()


def _varint_column(rows: np.ndarray, offset: int, size: int) -> np.ndarray:
    out = np.zeros(len(rows), dtype=np.int64)
    for i in range(size):
        out |= (rows[:, offset + i].astype(np.int64) & 0x7F) << (7 * i)
    return out


class _Template:
    """One ScalarLayout and the bytes every record that shares it must have: its length,
    header CRC and structure; only wall time, step, value and payload CRC may differ."""

    def __init__(self, layout: ScalarLayout, record: np.ndarray):
        self.layout = layout
        length = len(record) - OVERHEAD
        self.size = len(record)
        self.width = -(-self.size // 8) * 8  # records padded to whole uint64 words
        mask = np.zeros(self.width, dtype=np.uint8)
        mask[:HEADER] = 0xFF
        mask[HEADER:HEADER + length] = layout.mask
        expect = record[:self.width] & mask[:self.size]
        self.mask64 = mask.view("<u8")
        self.expect64 = np.pad(expect, (0, self.width - self.size)).view("<u8")
        self.data_cols = np.flatnonzero(layout.mask != 0xFF)
        payload = record[HEADER:HEADER + length]
        # Tables for the few data bytes only (wall time, step, value): linear in length.
        self.tables = np.stack([byte_table(length - 1 - int(j)) for j in self.data_cols]) \
            if len(self.data_cols) else np.zeros((0, 256), dtype=np.uint32)
        # CRC of a matching payload = this constant XOR its data bytes' contributions.
        base = crc32c(payload.tobytes())
        for k, j in enumerate(self.data_cols):
            base ^= int(self.tables[k][payload[j]])
        self.base = base
        self.data_cols = self.data_cols + HEADER  # as columns of the whole record

    def scan(self, records: np.ndarray, offsets: np.ndarray,
             scalars: Scalars) -> tuple[np.ndarray, int]:
        """Records (rows of whole records) that have this layout, as a bool array, and how
        many of those failed their payload CRC. The good ones' numbers go to ``scalars``."""
        n = len(records)
        lay = self.layout
        match = np.empty(n, dtype=bool)
        padded = np.zeros((min(n, _ROWS), self.width), dtype=np.uint8)
        walls, steps, values, keep, bad = [], [], [], [], 0
        for lo in range(0, n, _ROWS):
            k = min(_ROWS, n - lo)
            part = padded[:k]
            part[:, :self.size] = records[lo:lo + k]  # the one pass over the file's bytes
            m = ((part.view("<u8") & self.mask64) == self.expect64).all(axis=1)
            match[lo:lo + k] = m
            cols = np.ascontiguousarray(part[:, self.data_cols].T)
            acc = np.full(k, self.base, dtype=np.uint32)
            for j in range(len(self.data_cols)):
                acc ^= self.tables[j][cols[j]]
            stored = np.ascontiguousarray(part[:, self.size - 4:self.size]).view("<u4").ravel()
            ok = m & (masked_array(acc) == stored)
            bad += int(m.sum() - ok.sum())
            good = part[ok, HEADER:]
            keep.append(offsets[lo:lo + k][ok])
            walls.append(_column(good, lay.wall, "<f8") if lay.wall is not None
                         else np.zeros(len(good)))
            steps.append(_varint_column(good, *lay.step) if lay.step is not None
                         else np.zeros(len(good), dtype=np.int64))  # proto3 omits step 0
            values.append(_column(good, lay.value, lay.value_dtype))
        scalars.add(lay.tag, np.concatenate(keep), np.concatenate(steps),
                    np.concatenate(walls), np.concatenate(values))
        return match, bad


def _size_text(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


class EventFileReader:
    """Reads one event file incrementally. ``problem`` says, in words, what keeps part of
    the file from being read (an OS error, or a record that never completes)."""

    STUCK_SECONDS = 30.0  # an incomplete last record this old is reported, not waited on

    def __init__(self, path: str, clock=time.time):
        self.path = path
        self.clock = clock
        self.offset = 0
        self.size = 0
        self.records = 0
        self.bad = 0
        self.plugins: dict[str, str] = {}  # tag -> plugin, learnt from metadata
        self.error: str | None = None      # the last OS error, in words
        self._identity: tuple | None = None  # (device, inode, first bytes) of what was read
        self._pending: tuple[int, int | None] | None = None  # incomplete record: where, claim
        self._stuck: tuple[int, float] | None = None  # (file size, since) while stuck on it

    @property
    def problem(self) -> str | None:
        if self.error:
            return self.error
        if self._pending is None or self._stuck is None:
            return None
        at, claim = self._pending
        present = self.size - at
        if claim is not None and (claim > READ_CHUNK
                                  or self.clock() - self._stuck[1] >= self.STUCK_SECONDS):
            return (f"incomplete record at byte {at:,}: its header claims "
                    f"{_size_text(claim)}, {_size_text(present)} present")
        return None

    def rewind(self) -> None:
        """Forget everything read: the file will be read again from its start."""
        self.offset = self.records = self.bad = 0
        self.plugins.clear()
        self._identity = self._pending = self._stuck = None

    def replaced(self) -> bool:
        """Whether the file is no longer the one read so far: truncated, or another file
        under the same name (a new inode, or different first bytes)."""
        if self._identity is None:
            return False
        try:
            st = os.stat(self.path)
            if st.st_size < self.offset or (st.st_dev, st.st_ino) != self._identity[:2]:
                return True
            if st.st_size == self.size:
                return False
            with open(self.path, "rb") as f:
                return f.read(len(self._identity[2])) != self._identity[2]
        except OSError:
            return False  # read() reports it

    def read(self, checked: bool = False) -> Chunk | None:
        """New complete records since the last call, or None if there are none.
        ``checked``: the caller has just asked ``replaced()`` (and rewound), so the file's
        identity is not checked a second time."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            self.error = f"cannot read: {e.strerror or e}"
            return None
        reset = not checked and self.replaced()
        if reset:  # what we had is no longer this file
            self.rewind()
        size = self.size = st.st_size
        if size == self.offset and not reset:
            self.error = None
            return None
        if self._stuck is not None and self._stuck[0] == size:
            return None  # still the same incomplete record: nothing new to read
        chunk = Chunk(Scalars(), [], 0, 0, reset)
        try:
            with open(self.path, "rb") as f:
                if self._identity is None:
                    self._identity = (st.st_dev, st.st_ino, f.read(64))
                want = READ_CHUNK
                while self.offset < size:
                    f.seek(self.offset)
                    raw = f.read(min(size - self.offset, want))
                    if not raw:
                        break
                    at_eof = self.offset + len(raw) >= size
                    consumed = self._decode(raw, self.offset, chunk, at_eof)
                    if consumed == 0:
                        if at_eof or len(raw) < HEADER:
                            break  # a partial record at the end: wait for more bytes
                        # One record bigger than the read size (a graph, an image):
                        # read enough for it and try again (framing bounds the claim).
                        want = max(want, OVERHEAD + int.from_bytes(raw[:8], "little"))
                        continue
                    want = READ_CHUNK
                    self.offset += consumed
                self._note_pending(f, size)
            self.error = None
        except OSError as e:
            self.error = f"cannot read: {e.strerror or e}"
        self.records += chunk.records
        self.bad += chunk.bad
        return chunk if chunk.records or chunk.bad or reset else None

    def _note_pending(self, f, size: int) -> None:
        """Remember an incomplete record left at the end, and since when it is there."""
        if self.offset >= size:
            self._pending = self._stuck = None
            return
        claim = None
        if size - self.offset >= HEADER:
            f.seek(self.offset)
            claim = OVERHEAD + int.from_bytes(f.read(8), "little")
        if self._pending != (self.offset, claim):
            self._pending, self._stuck = (self.offset, claim), (size, self.clock())
        else:
            self._stuck = (size, self._stuck[1] if self._stuck else self.clock())

    def _decode(self, raw: bytes, base: int, chunk: Chunk, at_eof: bool) -> int:
        buf = np.frombuffer(raw, dtype=np.uint8)
        framed = frame(raw, buf, at_eof=at_eof)
        chunk.bad += framed.bad
        for block in framed.blocks:
            self._decode_block(raw, buf, block, base, chunk)
        return framed.end

    def _decode_block(self, raw: bytes, buf: np.ndarray, block: Block, base: int,
                      chunk: Chunk) -> None:
        offsets = block.offsets()
        records = block.records(buf)
        todo = np.arange(block.count)
        tries = 0
        while len(todo) and tries < _TEMPLATES and block.length > 0:
            tries += 1
            first = records[todo[0]]
            if not header_ok(first):
                break  # the general path below counts it
            layout = scalar_layout(first[HEADER:HEADER + block.length].tobytes(), self.plugins)
            if layout is None:
                break
            tmpl = _Template(layout, np.ascontiguousarray(first))
            sub = records[todo] if len(todo) < block.count else records
            match, bad = tmpl.scan(sub, offsets[todo] + base, chunk.scalars)
            chunk.bad += bad
            chunk.records += int(match.sum())
            todo = todo[~match]
        for i in todo:  # the general decoder, one record at a time
            record = records[i]
            start = int(offsets[i]) + HEADER
            payload = raw[start:start + block.length]
            stored = int.from_bytes(raw[start + block.length:start + block.length + 4], "little")
            if not header_ok(record) or masked(crc32c(payload)) != stored:
                chunk.bad += 1
                continue
            chunk.records += 1
            try:
                event = parse_event(payload, plugins=self.plugins)
            except (WireError, IndexError, UnicodeDecodeError):
                chunk.bad += 1
                continue
            chunk.events.append((int(offsets[i]) + base, event))
