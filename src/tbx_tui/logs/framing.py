"""Find TFRecord records in a byte buffer, fast, and check their CRCs.

A record is: uint64 length, masked CRC32C of those 8 bytes, payload, masked CRC32C of the
payload. Finding records is inherently sequential (each length says where the next record
starts), and a Python loop costs ~0.5 us a record here. But writers log the same tags in
the same order, so record lengths repeat with a short period: after a few records read one
by one, the pattern is guessed and every further repetition is checked at once with strided
numpy views, giving *blocks*: ``count`` records of one ``length`` every ``stride`` bytes.
A block's records are then CRC-checked and decoded as the rows of one strided matrix.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from crc32c import crc32c
from numpy.lib.stride_tricks import as_strided

from .crc import byte_table, masked, masked_array

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
HEADER = 12     # length + its CRC
OVERHEAD = 16   # header + payload CRC
_LEARN = 16     # records read one by one before guessing a period
_MAX_PERIOD = 8
# The largest record believed. TensorBoard would try any length, but no writer emits a
# summary this large, and a corrupt header claiming more must not make us read (and
# hold) that many bytes: such a header is treated as garbage and skipped.
MAX_RECORD = 256 << 20


@dataclass
class Block:
    start: int    # offset of the first record's length field
    stride: int   # bytes from one record to the next
    count: int
    length: int   # payload bytes of every record

    def records(self, buf: np.ndarray) -> np.ndarray:
        """(count, length + 16) uint8 view of the whole records; no copy."""
        return as_strided(buf[self.start:], shape=(self.count, self.length + OVERHEAD),
                          strides=(self.stride, 1), writeable=False)

    def offsets(self) -> np.ndarray:
        return self.start + self.stride * np.arange(self.count, dtype=np.int64)


@dataclass
class Framed:
    blocks: list[Block]
    end: int          # where the next read must start (a partial record starts here)
    bad: int          # records or garbage spans skipped for a bad CRC
    skipped_bytes: int


def _strided_u64(buf: np.ndarray, start: int, count: int, stride: int) -> np.ndarray:
    view = as_strided(buf[start:], shape=(count, 8), strides=(stride, 1), writeable=False)
    return np.ascontiguousarray(view).view("<u8").ravel()


def _period(lengths: list[int]) -> int:
    n = len(lengths)
    for q in range(1, min(_MAX_PERIOD, n // 2) + 1):
        if all(lengths[i] == lengths[i + q] for i in range(n - q)):
            return q
    return 0


def _resync(buf: np.ndarray, start: int, end: int) -> int | None:
    """First offset >= start where a header's CRC checks out, or None. Only offsets whose
    length field could be believed (<= MAX_RECORD: its top five bytes are almost all zero)
    are CRC-checked, which skips nearly every offset of random garbage at numpy speed."""
    window = 1 << 20
    pos = start
    while pos + HEADER <= end:
        count = min(window, end - HEADER - pos + 1)
        cand = buf[pos + 3:pos + 3 + count] <= (MAX_RECORD >> 24)
        for k in range(4, 8):
            cand &= buf[pos + k:pos + k + count] == 0
        at = np.flatnonzero(cand)
        if at.size:
            acc = np.full(at.size, crc32c(bytes(8)), dtype=np.uint32)
            for j in range(8):
                acc ^= byte_table(7 - j)[buf[pos + j + at]]
            stored = np.zeros(at.size, dtype=np.uint32)
            for j in range(4):
                stored |= buf[pos + 8 + j + at].astype(np.uint32) << np.uint32(8 * j)
            hits = at[masked_array(acc) == stored]
            if hits.size:
                return pos + int(hits[0])
        pos += count
    return None


def _next_record(raw: bytes, buf: np.ndarray, start: int, end: int) -> int | None:
    """First offset >= start where a whole record lies with both CRCs valid, or None."""
    while True:
        found = _resync(buf, start, end)
        if found is None:
            return None
        (length,) = _U64.unpack_from(raw, found)
        tail = found + HEADER + length
        if length <= MAX_RECORD and tail + 4 <= end and \
                masked(crc32c(raw[found + HEADER:tail])) == _U32.unpack_from(raw, tail)[0]:
            return found
        start = found + 1


def frame(raw: bytes, buf: np.ndarray, pos: int = 0, at_eof: bool = False) -> Framed:
    """Split raw[pos:] into blocks of records; stop at a partial record (``end``). Headers
    read one by one are CRC-checked here; records found by speculation, and all payloads,
    are checked by the reader (a matching template carries the header bytes too).
    ``at_eof``: raw ends where the file does, so a record that claims to run past the end
    while a whole valid record starts inside its claimed span has a corrupt length (a
    writer appends records whole, one after another) and is skipped instead of waited for."""
    end = len(raw)
    blocks: list[Block] = []
    bad = skipped_bytes = 0
    learnt: list[int] = []

    def add(start: int, length: int) -> None:
        last = blocks[-1] if blocks else None
        if (last is not None and last.length == length and last.count >= 1
                and last.start + last.stride * last.count == start
                and last.stride == length + OVERHEAD):
            last.count += 1
        else:
            blocks.append(Block(start, length + OVERHEAD, 1, length))

    while pos + HEADER <= end:
        (length,) = _U64.unpack_from(raw, pos)
        if masked(crc32c(raw[pos:pos + 8])) != _U32.unpack_from(raw, pos + 8)[0] \
                or length > MAX_RECORD:
            found = _resync(buf, pos + 1, end)
            bad += 1
            if found is None:  # keep the tail: a header may still be arriving there
                skipped_bytes += max(end - HEADER + 1 - pos, 0)
                pos = max(end - HEADER + 1, pos)
                break
            skipped_bytes += found - pos
            pos, learnt = found, []
            continue
        if pos + OVERHEAD + length > end:
            found = _next_record(raw, buf, pos + 1, end) if at_eof else None
            if found is None:
                break  # partial record: retried once the file grows
            bad += 1
            skipped_bytes += found - pos
            pos, learnt = found, []
            continue
        add(pos, length)
        pos += OVERHEAD + length
        learnt.append(length)
        if len(learnt) >= _LEARN:
            pos = _speculate(buf, learnt, pos, end, blocks)
            learnt = []
    return Framed(blocks, pos, bad, skipped_bytes)


def _speculate(buf: np.ndarray, learnt: list[int], pos: int, end: int,
               blocks: list[Block]) -> int:
    """If the learnt lengths repeat with period q, take every further repetition that
    the buffer confirms, as q blocks. Returns the new position."""
    q = _period(learnt)
    if not q:
        return pos
    pattern = learnt[-q:]
    size = sum(length + OVERHEAD for length in pattern)
    offsets = np.cumsum([0] + [length + OVERHEAD for length in pattern[:-1]])
    start, todo, taken = pos, (end - pos) // size, 0
    step = 64
    # Check repetitions in growing batches, so a pattern that breaks soon costs little.
    while taken < todo:
        count = min(step, todo - taken)
        base = start + taken * size
        ok = np.ones(count, dtype=bool)
        for off, length in zip(offsets, pattern):
            ok &= _strided_u64(buf, base + int(off), count, size) == length
        good = count if ok.all() else int(np.argmin(ok))
        taken += good
        if good < count:
            break
        step *= 4
    if taken:
        for off, length in zip(offsets, pattern):
            blocks.append(Block(start + int(off), size, taken, length))
    return start + taken * size


def header_ok(record: np.ndarray) -> bool:
    """Whether one record's (uint8 array of the whole record) header CRC checks out."""
    head = record[:HEADER].tobytes()
    return masked(crc32c(head[:8])) == _U32.unpack_from(head, 8)[0]
