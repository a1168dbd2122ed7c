"""The HParams plugin's records: hyperparameters at a session's start, status at its end."""

from __future__ import annotations

import struct

from ..safe_text import clean
from ..run_state import state_from_status
from .wire import WireError, fields

_F64 = struct.Struct("<d")


def _value(buf, start: int, end: int):
    """google.protobuf.Value -> python (number, string or bool)."""
    for number, wire, value, s, e in fields(buf, start, end):
        if number == 2 and wire == 1:
            return _F64.unpack_from(buf, s)[0]
        if number == 3 and wire == 2:
            return clean(bytes(buf[s:e]))
        if number == 4 and wire == 0:
            return bool(value)
    return None


def apply_hparams(run, tag: str, content: bytes) -> None:
    """Update ``run.hparams`` / ``run.end_state`` from one plugin record."""
    try:
        for number, wire, _, s, e in fields(content, 0, len(content)):
            if number == 3 and wire == 2:  # session_start_info: (again) running
                run.end_state, run.end_reason = None, ""
                for n2, w2, _, s2, e2 in fields(content, s, e):
                    if n2 == 1 and w2 == 2:  # map entry
                        key, val = "", None
                        for n3, w3, _, s3, e3 in fields(content, s2, e2):
                            if n3 == 1 and w3 == 2:
                                key = clean(bytes(content[s3:e3]))
                            elif n3 == 2 and w3 == 2:
                                val = _value(content, s3, e3)
                        run.hparams[key] = val
            elif number == 4 and wire == 2:  # session_end_info
                status = 0
                for n2, w2, v2, _, _ in fields(content, s, e):
                    if n2 == 1 and w2 == 0:
                        status = v2
                # Other writers' runs go by the status alone; ours refine it with the
                # tbx/run_state text written right after this record.
                run.end_state, run.end_reason = state_from_status(status), ""
    except WireError:
        run.bad += 1
