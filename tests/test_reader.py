"""The log reader against real files: other writers, growing, truncated, corrupt, random."""

from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import accumulator
from logfiles import event_bytes, frame, session_start, tensorboardx_run, version_event
from tbx_tui.logs.reader import EventFileReader
from tbx_tui.logs.summary import summary
from tbx_tui.logs.watcher import LogWatcher


def load(*roots) -> LogWatcher:
    w = LogWatcher([str(r) for r in roots])
    w.poll()
    return w


def only(w: LogWatcher):
    assert len(w.store.runs) == 1, list(w.store.runs)
    return next(iter(w.store.runs.values()))


def test_agrees_with_tensorboard_on_a_tensorboardx_run(tmp_path):
    tensorboardx_run(tmp_path / "run", steps=300, hist_every=25)
    run = only(load(tmp_path))
    ea = accumulator(tmp_path / "run")
    for tag in ("Loss/train", "Accuracy/train"):
        theirs = ea.Scalars(tag)
        ours = run.scalars[tag]
        assert ours.steps.tolist() == [e.step for e in theirs]
        assert ours.walls.tolist() == [e.wall_time for e in theirs]
        assert np.allclose(ours.values, [e.value for e in theirs])
    hist = run.histograms["weights/fc1.weight"]
    theirs = ea.Histograms("weights/fc1.weight")
    assert [p.step for p in hist] == [h.step for h in theirs]
    assert hist[-1].hist.counts.sum() == theirs[-1].histogram_value.num == 500
    assert run.bad == 0


def test_reads_torch_utils_tensorboard_and_our_trainer(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    with torch_tb.SummaryWriter(str(tmp_path / "torch")) as w:
        for i in range(20):
            w.add_scalar("loss", 2.0 - i * 0.05, i)
            w.add_histogram("w", np.arange(100.0) * (i + 1), i)
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hp/acc": 0.5})
    runs = load(tmp_path).store.runs
    assert runs["torch"].scalars["loss"].steps.tolist() == list(range(20))
    assert np.allclose(runs["torch"].scalars["loss"].values[-1], 2.0 - 19 * 0.05)
    assert len(runs["torch"].histograms["w"]) == 20
    nested = [n for n in runs if n.startswith("torch/")]  # add_hparams' own sub-run
    assert nested and runs[nested[0]].hparams == {"lr": 0.1, "opt": "sgd"}


def test_tf2_tensor_scalars_and_histograms(tmp_path):
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    scalar = lambda v, dtype=1: TensorProto(  # noqa: E731
        dtype=dtype, tensor_shape=TensorShapeProto(),
        **({"float_val": [v]} if dtype == 1 else {"double_val": [v]})).SerializeToString()
    rows = np.array([[0.0, 1.0, 3.0], [1.0, 2.0, 5.0]])
    hist = TensorProto(dtype=2, tensor_shape=TensorShapeProto(dim=[
        TensorShapeProto.Dim(size=2), TensorShapeProto.Dim(size=3)]),
        tensor_content=rows.astype("<f8").tobytes()).SerializeToString()
    records = [version_event()]
    records.append(event_bytes(10.0, 0, "loss", tensor=scalar(1.5), metadata_plugin="scalars"))
    records += [event_bytes(10.0 + i, i, "loss", tensor=scalar(1.5 - i / 100)) for i in range(1, 40)]
    records.append(event_bytes(11.0, 3, "acc", tensor=scalar(0.25, dtype=2)))
    records.append(event_bytes(12.0, 5, "h", tensor=hist, metadata_plugin="histograms"))
    (tmp_path / "events.out.tfevents.1.tf2").write_bytes(b"".join(frame(r) for r in records))
    run = only(load(tmp_path))
    assert run.scalars["loss"].steps.tolist() == list(range(40))
    assert run.scalars["loss"].values[-1] == pytest.approx(1.5 - 39 / 100, rel=1e-6)
    assert run.scalars["acc"].values.tolist() == [0.25]
    h = run.histograms["h"][0].hist
    assert h.left.tolist() == [0.0, 1.0] and h.counts.tolist() == [3.0, 5.0]


def test_growing_file_partial_record_is_retried_not_an_error(tmp_path):
    records = b"".join(frame(event_bytes(1.0 + i, i, "x", value=float(i))) for i in range(100))
    path = tmp_path / "events.out.tfevents.1.grow"
    cut = len(records) // 2 + 7  # mid-record
    path.write_bytes(records[:cut])
    w = load(tmp_path)
    run = only(w)
    first = len(run.scalars["x"])
    assert 0 < first < 100 and run.bad == 0
    with open(path, "ab") as f:
        f.write(records[cut:])
    w.poll()
    assert run.scalars["x"].steps.tolist() == list(range(100)) and run.bad == 0


def test_flipped_bytes_skip_only_the_damaged_records(tmp_path):
    recs = [frame(event_bytes(1.0 + i, i, "x", value=float(i))) for i in range(200)]
    data = bytearray(b"".join(recs))
    at = np.cumsum([0] + [len(r) for r in recs])
    data[at[50] + 20] ^= 0x40   # payload of record 50
    data[at[120] + 3] ^= 0x01   # length field of record 120: the reader must resync
    (tmp_path / "events.out.tfevents.1.bad").write_bytes(bytes(data))
    run = only(load(tmp_path))
    steps = run.scalars["x"].steps.tolist()
    assert 50 not in steps and 120 not in steps
    assert len(steps) == 198 and run.bad == 2


def test_garbage_and_empty_files_are_counted_and_the_rest_loads(tmp_path):
    tensorboardx_run(tmp_path / "good", steps=10)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "events.out.tfevents.1.junk").write_bytes(os.urandom(5000))
    (tmp_path / "junk" / "events.out.tfevents.2.empty").write_bytes(b"")
    w = load(tmp_path)
    assert len(w.store.runs["good"].scalars["Loss/train"]) == 10
    junk = w.store.runs["junk"]
    assert junk.bad >= 1 and junk.empty_files == 1 and not junk.scalars
    assert "skipped" in summary(w.store)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.integers(0, 2999))
def test_random_bytes_never_crash(tmp_path_factory, noise, cut):
    folder = tmp_path_factory.mktemp("fuzz")
    good = b"".join(frame(event_bytes(1.0 + i, i, "x", value=float(i))) for i in range(30))
    data = good[:cut % (len(good) + 1)] + noise + good
    (folder / "events.out.tfevents.1.fuzz").write_bytes(data)
    run = only(load(folder))
    # After the noise the reader finds its way back: every intact record but, at worst,
    # the one the garbage runs into (a header-shaped tail can swallow it) is read.
    steps = set(run.scalars["x"].steps.tolist()) if "x" in run.scalars else set()
    assert set(range(1, 30)) <= steps


def test_several_files_and_session_restart_purges_later_steps(tmp_path):
    first = [version_event()] + [event_bytes(1.0 + i, i, "x", value=1.0) for i in range(20)]
    second = [version_event(), session_start(10, 50.0)] + \
        [event_bytes(60.0 + i, 10 + i, "x", value=2.0) for i in range(5)]
    (tmp_path / "events.out.tfevents.1.a").write_bytes(b"".join(frame(r) for r in first))
    (tmp_path / "events.out.tfevents.2.b").write_bytes(b"".join(frame(r) for r in second))
    run = only(load(tmp_path))
    s = run.scalars["x"]
    assert s.steps.tolist() == list(range(10)) + list(range(10, 15))
    assert s.values.tolist() == [1.0] * 10 + [2.0] * 5
    ea = accumulator(tmp_path)  # TensorBoard agrees
    assert [e.step for e in ea.Scalars("x")] == s.steps.tolist()


def test_runs_appear_and_disappear_at_any_depth(tmp_path):
    w = load(tmp_path)
    assert not w.store.runs
    tensorboardx_run(tmp_path / "a" / "b" / "c", steps=3)
    w.poll()
    assert list(w.store.runs) == ["a/b/c"]
    shutil.rmtree(tmp_path / "a")
    w.poll()
    assert not w.store.runs


def test_records_bigger_than_a_read_are_still_read(tmp_path, monkeypatch):
    import tbx_tui.logs.reader as reader_module

    monkeypatch.setattr(reader_module, "READ_CHUNK", 256)
    big = event_bytes(1.0, 0, "t" * 1000, value=1.0)  # ~1 KB record, 4 reads' worth
    small = [event_bytes(2.0 + i, 1 + i, "x", value=float(i)) for i in range(50)]
    (tmp_path / "events.out.tfevents.1.big").write_bytes(
        b"".join(frame(r) for r in [version_event(), big, *small]))
    run = only(load(tmp_path))
    assert len(run.scalars["t" * 1000]) == 1 and len(run.scalars["x"]) == 50 and run.bad == 0


def test_symlink_loops_do_not_hang_discovery(tmp_path):
    tensorboardx_run(tmp_path / "a", steps=2)
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    assert list(load(tmp_path).store.runs) == ["a"]


def test_reader_reports_nothing_new_cheaply(tmp_path):
    path = tmp_path / "events.out.tfevents.1.x"
    path.write_bytes(frame(event_bytes(1.0, 1, "x", value=1.0)))
    r = EventFileReader(str(path))
    assert r.read().records == 1
    assert r.read() is None
    with open(path, "ab") as f:
        f.write(struct.pack("<Q", 10))  # half a header
    assert r.read() is None or r.read().records == 0
