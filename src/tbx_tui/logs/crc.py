"""Masked CRC32C of TFRecord framing, checked for many records at once.

CRC32C is affine over GF(2): for messages of one length L, crc(m) = crc(0^L) XOR the XOR
over byte positions j of what byte m_j contributes, and that contribution depends only on
the byte and its distance from the message's end (the zeros before it change the register
the same way for m and for 0^L). ``byte_table(d)`` is that contribution for every byte
value at distance d, from 8 basis calls to the native ``crc32c``, the rest by XOR.
Checking n records is then table look-ups over n rows in numpy instead of n calls from
Python (~0.5 us each on the development machine), and for records that share a template
only the few bytes that differ need tables (reader.py), so the work per template is linear
in the record's length and the cache holds at most ``_TABLES`` tables of 1 KiB each.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from crc32c import crc32c

_MASK_DELTA = 0xA282EAD8
_TABLES = 1024  # cached byte tables: 1 KiB each, so at most 1 MiB for the whole process
_VALUES = np.arange(256, dtype=np.uint32)


def masked(crc: int) -> int:
    """TFRecord's masked CRC of an unmasked CRC32C."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_array(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


@lru_cache(maxsize=_TABLES)
def byte_table(distance: int) -> np.ndarray:
    """(256,) uint32: what byte b, followed by ``distance`` more bytes, adds to the CRC."""
    tail = bytes(distance)
    zero = crc32c(bytes(1) + tail)
    t = np.zeros(256, dtype=np.uint32)
    for k in range(8):
        bit = np.uint32(crc32c(bytes([1 << k]) + tail) ^ zero)
        t ^= np.where((_VALUES >> k) & 1, bit, np.uint32(0))
    t.flags.writeable = False  # shared through the cache
    return t
