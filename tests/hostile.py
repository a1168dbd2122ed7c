"""Hostile strings, and a log directory that carries them in every field a log can: what a
stranger's run on a shared GPU box may hold. Written record by record with TensorBoard's
protobuf classes (tensorboardX's writer would rewrite tags; other writers do not)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from logfiles import event_bytes, frame, version_event

TITLE = "PWNED-TITLE"
CLIPBOARD = "PWNED-CLIP"
HOSTILE = [
    f"\x1b]0;{TITLE}\x07",                                         # OSC 0: window title
    f"\x1b]2;{TITLE}\x1b\\",                                       # OSC 2, ST-terminated
    "\x1b]52;c;" + base64.b64encode(CLIPBOARD.encode()).decode() + "\x07",  # clipboard
    "\x1b[2J\x1b[H",                                               # clear the screen
    "\x1b[?1049l",                                                 # leave the alt screen
    "\x9b2J\x9d0;" + TITLE + "\x9c",                               # 8-bit CSI / OSC / ST
    "\u202eevil\u202c\u2066x\u2069",                               # bidi override, isolate
    "bell\x07 bs\x08 cr\r del\x7f nul\x00 vt\x0b ff\x0c",
]
# Everything at once, as one field's text.
ALL = "".join(HOSTILE)
# Undecodable bytes: invalid UTF-8 in a tag, a lone surrogate in a folder name.
BAD_UTF8 = b"\xff\xfe\xc0\x80"
# C0, DEL, C1, and Unicode's bidi controls (UAX #9): ALM, LRM, RLM, the embeddings and
# overrides LRE-RLO, the isolates LRI-PDI.
CONTROL = {chr(c) for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0),
                            0x061c, 0x200e, 0x200f, *range(0x202a, 0x202f),
                            *range(0x2066, 0x206a)]}


def failing_later(name: str, action: str) -> str:
    """Source of a model class ``name`` that trains two steps (after the model check's
    forward), then runs ``action`` in its forward: user code failing mid-run."""
    return f"""
class {name}(nn.Module):
    def __init__(self, in_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 3:
            {action}
        return self.fc(x.flatten(1))
"""


def controls_in(text: str) -> list[str]:
    """The control and bidi characters in ``text`` (newlines and tabs allowed)."""
    return sorted({c for c in text if c in CONTROL})


def _text_summary(tag: str, text: str, step: int, wall: float) -> bytes:
    from tensorboardX.summary import text as text_summary
    from tensorboardX.proto.event_pb2 import Event

    summary = text_summary(tag, text)
    summary.value[0].tag = tag  # text() appends "/text_summary"
    return Event(wall_time=wall, step=step, summary=summary).SerializeToString()


def _hparams_events(wall: float, text: str = ALL) -> list[bytes]:
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.summary import hparams

    exp, ssi, _ = hparams({"lr": 0.01, "note" + text: "value" + text, "model": "cnn"}, {})
    return [Event(wall_time=wall, step=0, summary=s).SerializeToString() for s in (exp, ssi)]


def _bad_utf8_tag(wall: float) -> bytes:
    """A scalar whose tag is not valid UTF-8 (no protobuf writer allows that; a damaged or
    foreign file may hold it)."""
    payload = event_bytes(wall, 3, "Loss/QQQQ", 0.5)
    return payload.replace(b"QQQQ", BAD_UTF8)


def hostile_logdir(root: Path, steps: int = 30) -> Path:
    """Two runs: one under a hostile folder name whose every tag, text, hparam and end
    reason is hostile, and one whose folder name is not even valid UTF-8."""
    root.mkdir(parents=True, exist_ok=True)
    wall = 1_700_000_000.0
    folder = root / ("run" + ALL.replace("\x00", "").replace("/", ""))
    folder.mkdir()
    records = [version_event(wall), *_hparams_events(wall)]
    for i in range(steps):
        records.append(event_bytes(wall + i, i, "Loss/train", 1.0 / (i + 1)))
        records.append(event_bytes(wall + i, i, "Loss/" + ALL, 2.0 / (i + 1)))
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.summary import histogram

    import numpy as np

    hist = histogram("weights/" + ALL, np.linspace(-1, 1, 200), bins="auto")
    hist.value[0].tag = "weights/" + ALL  # histogram() cleans its tag as tensorboardX does
    records.append(Event(wall_time=wall + 5, step=5, summary=hist).SerializeToString())
    records.append(_bad_utf8_tag(wall + 6))
    records.append(_text_summary("Samples/val", "the model said:\n" + "\n".join(HOSTILE),
                                 steps - 1, wall + steps))
    records.append(_text_summary("tbx/run_state", "failed: boom " + ALL, steps - 1,
                                 wall + steps))
    (folder / "events.out.tfevents.1700000000.hostile").write_bytes(
        b"".join(frame(r) for r in records))
    odd = os.path.join(os.fsencode(root), b"odd-" + BAD_UTF8)  # a lone surrogate in Python
    os.mkdir(odd)
    with open(os.path.join(odd, b"events.out.tfevents.1700000000.odd"), "wb") as f:
        f.write(frame(version_event(wall)) + frame(event_bytes(wall, 1, "Loss/train", 1.0)))
    return root
