"""A seeded generator of valid event records of every kind, and of ways to damage them,
plus the reference: what TensorBoard's own record reader accepts, decoded its way."""

from __future__ import annotations

import random
import struct

import numpy as np

from logfiles import frame


def _event(**kw) -> bytes:
    from tensorboardX.proto.event_pb2 import Event

    return Event(**kw).SerializeToString()


def _summary_event(summary, step: int, wall: float) -> bytes:
    from tensorboardX.proto.event_pb2 import Event

    return Event(wall_time=wall, step=step, summary=summary).SerializeToString()


def random_tag(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return "L" * rng.choice([4_000, 8_192, 60_000])  # long tags
    if kind < 0.1:
        return "ünï/cödé/" + str(rng.randrange(3))
    return rng.choice(["Loss/train", "Accuracy/train", "LR", "loss", "a/b/c/d"])


def valid_records(rng: random.Random, n: int) -> list[bytes]:
    """``n`` Event payloads: scalars (simple and 0-d tensors), histograms (proto and TF2
    [k, 3] tensors), hparams, text, empty and huge records, long tags."""
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboardX.summary import hparams, histogram, text

    def meta(plugin):
        return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin))

    out = [_event(wall_time=1.0, file_version="brain.Event:2")]
    for i in range(n):
        wall, step = 1_700_000_000.0 + i, rng.randrange(0, 1 << rng.choice([4, 20, 40]))
        kind = rng.random()
        if kind < 0.45:
            s = Summary(value=[Summary.Value(tag=random_tag(rng),
                                             simple_value=rng.uniform(-1e6, 1e6))])
        elif kind < 0.55:
            double = rng.random() < 0.5
            t = TensorProto(dtype=2 if double else 1, tensor_shape=TensorShapeProto(),
                            **({"double_val": [rng.random()]} if double
                               else {"float_val": [rng.random()]}))
            s = Summary(value=[Summary.Value(tag="tensor/" + random_tag(rng), tensor=t,
                                             metadata=meta("scalars"))])
        elif kind < 0.65:
            size = rng.choice([1, 10, 1000, 200_000])  # 200k values: a ~1 MB record
            s = histogram("hist/" + random_tag(rng),
                          np.random.default_rng(i).normal(size=size), "auto")
        elif kind < 0.7:
            rows = np.abs(np.random.default_rng(i).normal(size=(rng.choice([1, 30]), 3)))
            t = TensorProto(dtype=2, tensor_shape=TensorShapeProto(dim=[
                TensorShapeProto.Dim(size=len(rows)), TensorShapeProto.Dim(size=3)]),
                tensor_content=rows.astype("<f8").tobytes())
            s = Summary(value=[Summary.Value(tag="tf2hist", tensor=t,
                                             metadata=meta("histograms"))])
        elif kind < 0.78:
            exp, ssi, sei = hparams({"lr": rng.random(), "opt": "adam", "deep": True},
                                    {"acc": 0.0})
            s = rng.choice([exp, ssi, sei])
        elif kind < 0.88:
            s = text("notes", "x" * rng.choice([0, 10, 100_000]))
        elif kind < 0.94:
            out.append(_event(wall_time=wall, step=step))  # no summary at all
            continue
        else:
            out.append(b"")  # an empty Event: a zero-length record
            continue
        out.append(_summary_event(s, step, wall))
    return out


def framed(records: list[bytes]) -> bytes:
    return b"".join(frame(r) for r in records)


def damage(rng: random.Random, data: bytes) -> bytes:
    """One random injury: flipped bits, a rewritten length, garbage, a cut, a splice."""
    b = bytearray(data)
    how = rng.randrange(6)
    if how == 0 and b:  # flipped bits anywhere
        for _ in range(rng.randrange(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif how == 1 and len(b) > 16:  # a length field claims something else, CRC fixed up
        from logfiles import masked_crc

        at = 0
        for _ in range(rng.randrange(0, 20)):  # walk to some record
            (length,) = struct.unpack_from("<Q", b, at)
            if at + 16 + length >= len(b):
                break
            at += 16 + length
        claim = rng.choice([0, 1, 1 << 31, (1 << 64) - 1, rng.randrange(1 << 24)])
        head = struct.pack("<Q", claim)
        b[at:at + 12] = head + struct.pack("<I", masked_crc(head))
    elif how == 2:  # random garbage inserted
        at = rng.randrange(len(b) + 1)
        b[at:at] = rng.randbytes(rng.choice([1, 7, 12, 100, 5000]))
    elif how == 3 and b:  # cut short
        del b[rng.randrange(len(b)):]
    elif how == 4 and b:  # a span zeroed (a hole from a crash on some filesystems)
        at = rng.randrange(len(b))
        b[at:at + rng.randrange(1, 4096)] = bytes(min(4096, len(b) - at))
    else:  # only garbage
        b = bytearray(rng.randbytes(rng.randrange(0, 20_000)))
    return bytes(b)


def tensorboard_accepts(path) -> list[bytes]:
    """The records TensorBoard's own loader yields from a file (it stops at damage)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    out = []
    try:
        for record in RawEventFileLoader(str(path)).Load():
            out.append(record)
    except (OverflowError, MemoryError, ValueError):
        pass  # a length near 2**64 makes its reader itself fail: it read no further
    return out


def decode(payloads: list[bytes]) -> tuple[list, list]:
    """Scalars (tag, step, wall, value) and histograms (tag, step, count) in TensorBoard's
    terms, from Event payloads (TensorBoard's own protobuf classes)."""
    from tensorboard.compat.proto.event_pb2 import Event

    scalars, hists = [], []
    for p in payloads:
        ev = Event.FromString(p)
        for v in ev.summary.value:
            plugin = v.metadata.plugin_data.plugin_name
            if v.HasField("simple_value"):
                scalars.append((v.tag, ev.step, ev.wall_time, float(v.simple_value)))
            elif v.HasField("histo"):
                hists.append((v.tag, ev.step, float(sum(v.histo.bucket))))
            elif v.HasField("tensor") and plugin == "scalars":
                t = v.tensor
                value = t.float_val[0] if t.dtype == 1 else t.double_val[0]
                scalars.append((v.tag, ev.step, ev.wall_time, float(value)))
            elif v.HasField("tensor") and plugin == "histograms":
                rows = np.frombuffer(v.tensor.tensor_content, "<f8").reshape(-1, 3)
                hists.append((v.tag, ev.step, float(rows[:, 2].sum())))
    return scalars, hists


def ours(chunks) -> tuple[list, list]:
    """The same tuples from our reader's chunks."""
    scalars, hists = [], []
    for chunk in chunks:
        if chunk is None:
            continue
        for tag, _, steps, walls, values in chunk.scalars.per_tag():
            scalars += [(tag, int(s), float(w), float(v))
                        for s, w, v in zip(steps, walls, values)]
        for _, ev in chunk.events:
            for v in ev.values:
                if v.kind == "scalar":
                    scalars.append((v.tag, ev.step, ev.wall_time, v.scalar))
                elif v.kind == "histogram":
                    hists.append((v.tag, ev.step, float(v.histogram.counts.sum())))
    return scalars, hists
