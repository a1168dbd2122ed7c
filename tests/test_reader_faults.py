"""The reader as an adversary would test it: damaged, huge, hostile and shifting files.

Invariants, for every seeded case: no exception; what TensorBoard's own record reader
accepts we read with the same values; we never read a value that was not written; memory
stays bounded; a file read as it changes ends up read exactly as a fresh reader reads it.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import accumulator
from fuzzlogs import damage, decode, framed, ours, tensorboard_accepts, valid_records
from logfiles import event_bytes, frame, masked_crc, tensorboardx_run, version_event
from tbx_tui.logs import reader as reader_module
from tbx_tui.logs.reader import EventFileReader
from tbx_tui.logs.store import MetricStore
from tbx_tui.logs.summary import summary
from tbx_tui.logs.watcher import LogWatcher

EVENTS = "events.out.tfevents.1.fuzz"


def read_all(path) -> list:
    r = EventFileReader(str(path))
    chunks = [r.read()]
    store = MetricStore()  # the store must take whatever the reader returns
    for c in chunks:
        if c is not None:
            store.apply(store.run("x", str(path)), c)
    return chunks


def multiset(items) -> collections.Counter:
    return collections.Counter(items)


@pytest.mark.parametrize("seed", range(40))
def test_damaged_files_read_what_tensorboard_reads_and_nothing_invented(tmp_path, seed):
    rng = random.Random(seed)
    records = valid_records(rng, rng.choice([5, 30, 120]))
    data = framed(records)
    for _ in range(rng.randrange(1, 4)):
        data = damage(rng, data)
    path = tmp_path / EVENTS
    path.write_bytes(data)

    mine_s, mine_h = ours(read_all(path))
    theirs_s, theirs_h = decode(tensorboard_accepts(path))
    written_s, written_h = decode(records)
    # TensorBoard stops at the first damage; we read on past it. What it reads, we read,
    # with the same values; what we read was written (nothing decoded out of garbage).
    assert not multiset(theirs_s) - multiset(mine_s)
    assert not multiset(theirs_h) - multiset(mine_h)
    assert not multiset(mine_s) - multiset(written_s)
    assert not multiset(mine_h) - multiset(written_h)


@pytest.mark.parametrize("seed", range(10))
def test_undamaged_files_read_exactly(tmp_path, seed):
    rng = random.Random(1000 + seed)
    records = valid_records(rng, 80)
    path = tmp_path / EVENTS
    path.write_bytes(framed(records))
    chunks = read_all(path)
    assert chunks[0].bad == 0
    assert multiset(ours(chunks)[0]) == multiset(decode(records)[0])
    assert multiset(ours(chunks)[1]) == multiset(decode(records)[1])


def _apply(path: Path, rng: random.Random, pool: list[bytes], state: dict) -> None:
    """One change to a watched file: grow (whole or in pieces), shrink, vanish, come back,
    or be replaced by another file under the same name."""
    how = rng.randrange(7)
    if how <= 2 or not path.exists():
        data = framed(rng.sample(pool, rng.randrange(1, 6)))
        if how == 2:  # half now: the reader must wait for the rest
            data = data[: rng.randrange(len(data))]
        with open(path, "ab") as f:
            f.write(data)
    elif how == 3:
        os.truncate(path, rng.randrange(path.stat().st_size + 1))
    elif how == 4:
        path.unlink()
    elif how == 5:
        other = path.with_name(path.name + ".new")
        other.write_bytes(framed([version_event(2.0)] + rng.sample(pool, 3)))
        os.replace(other, path)
    else:  # rewritten in place, same inode, longer than before
        path.write_bytes(framed([version_event(3.0)] + rng.sample(pool, 8)))


@pytest.mark.parametrize("seed", range(12))
def test_files_that_grow_shrink_vanish_and_return_are_read_as_fresh(tmp_path, seed):
    rng = random.Random(seed)
    pool = [event_bytes(10.0 + i, i, rng.choice(["a", "b", "c" * 300]), value=float(i))
            for i in range(40)]
    run = tmp_path / "run"
    run.mkdir()
    paths = [run / "events.out.tfevents.1.a", run / "events.out.tfevents.2.b"]
    watcher = LogWatcher([str(tmp_path)])
    for _ in range(25):
        _apply(rng.choice(paths), rng, pool, {})
        if rng.random() < 0.3:  # make sure the other file is sometimes complete
            p = rng.choice(paths)
            if p.exists():
                with open(p, "ab") as f:
                    f.write(framed(rng.sample(pool, 2)))
        watcher.poll()
    for p in paths:  # end on whole records, so every reader agrees on what is there
        p.write_bytes(framed([version_event()] + rng.sample(pool, 5)))
        os.utime(p, (time.time() + 5, time.time() + 5))
    watcher.poll()
    fresh = LogWatcher([str(tmp_path)])
    fresh.poll()
    got, want = watcher.store.runs.get("run"), fresh.store.runs["run"]
    assert got is not None
    assert {t: s.values.tolist() for t, s in got.scalars.items() if len(s)} == \
        {t: s.values.tolist() for t, s in want.scalars.items() if len(s)}
    ea = accumulator(run)
    for tag in ea.Tags()["scalars"]:
        assert got.scalars[tag].values.tolist() == [e.value for e in ea.Scalars(tag)]


def test_truncated_or_replaced_file_is_not_read_twice(tmp_path):
    run = tensorboardx_run(tmp_path / "run", steps=29, tags=("loss",))
    path = next(run.glob("*tfevents*"))
    w = LogWatcher([str(tmp_path)])
    w.poll()
    assert len(w.store.runs["run"].scalars["loss"]) == 29
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated in place
    w.poll()
    half = len(w.store.runs["run"].scalars["loss"])
    assert 0 < half < 29
    for _ in range(3):
        w.poll()
        assert len(w.store.runs["run"].scalars["loss"]) == half
    other = tmp_path / "other"
    os.replace(tensorboardx_run(tmp_path / "build", steps=40, tags=("loss",)).joinpath(
        next((tmp_path / "build").glob("*tfevents*")).name), path)  # replaced by rename
    for _ in range(3):
        w.poll()
        assert len(w.store.runs["run"].scalars["loss"]) == 40
    assert not other.exists()


# ---- item 2: cost linear in the file, for every record shape ---------------------------

def _read_cost(path: Path) -> tuple[float, int, LogWatcher]:
    tracemalloc.start()
    t0 = time.perf_counter()
    w = LogWatcher([str(path.parent)])
    w.poll()
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, peak, w


@pytest.mark.parametrize("tag_len,count", [(8_192, 256), (300_000, 1), (60_000, 40)])
def test_long_tags_cost_linear_time_and_memory(tmp_path, tag_len, count):
    # Tags of different lengths: every record is its own layout (the worst case).
    records = [version_event()] + [event_bytes(1.0 + i, i, "t" * (tag_len + i), float(i))
                                   for i in range(count)]
    path = tmp_path / "run" / EVENTS
    path.parent.mkdir()
    path.write_bytes(framed(records))
    size = path.stat().st_size
    took, peak, w = _read_cost(path)
    run = w.store.runs["run"]
    assert len(run.scalars) == count and run.bad == 0
    # Before: 20 s and 2.2 GB (8 KB tags), 39 s and 644 MB (one 300 KB tag).
    assert peak < 12 * size + (8 << 20), f"peak {peak >> 20} MiB for a {size >> 10} KiB file"
    assert took < 5.0, f"{took:.1f} s"
    ea = accumulator(path.parent)
    assert sorted(ea.Tags()["scalars"]) == sorted(run.scalars)


def test_crc_table_cache_is_bounded(tmp_path):
    from tbx_tui.logs import crc

    crc.byte_table.cache_clear()
    records = [version_event()] + [event_bytes(1.0, i, "t" * (100 + 37 * i), 1.0)
                                   for i in range(3000)]
    path = tmp_path / "run" / EVENTS
    path.parent.mkdir()
    path.write_bytes(framed(records))
    w = LogWatcher([str(tmp_path)])
    w.poll()
    assert len(w.store.runs["run"].scalars) == 3000
    info = crc.byte_table.cache_info()
    assert info.currsize <= info.maxsize == 1024  # 1 KiB a table: at most 1 MiB


def test_garbage_memory_does_not_grow_with_the_file(tmp_path):
    peaks = []
    for mb in (40, 100):  # both larger than the 16 MiB read size
        path = tmp_path / f"g{mb}" / EVENTS
        path.parent.mkdir()
        path.write_bytes(random.Random(mb).randbytes(mb << 20))
        _, peak, w = _read_cost(path)
        assert w.store.runs[f"g{mb}"].bad >= 1
        peaks.append(peak)
    assert peaks[1] < 1.2 * peaks[0] + (4 << 20), [p >> 20 for p in peaks]
    assert peaks[1] < 96 << 20  # the read chunk (16 MiB) and its working set


# ---- item 9: what cannot be read is said -------------------------------------------------

def _claim(length: int) -> bytes:
    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc(head))


def test_a_header_claiming_2_gib_hides_nothing_after_it(tmp_path, monkeypatch):
    before = [frame(event_bytes(1.0 + i, i, "x", value=float(i))) for i in range(5)]
    after = [frame(event_bytes(10.0 + i, 10 + i, "x", value=float(i))) for i in range(5)]
    path = tmp_path / "run" / EVENTS
    path.parent.mkdir()
    path.write_bytes(b"".join(before) + _claim(1 << 31) + b"junk" + b"".join(after))
    w = LogWatcher([str(tmp_path)])
    w.poll()
    run = w.store.runs["run"]
    assert run.scalars["x"].steps.tolist() == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
    assert run.bad == 1
    # A claim that fits the record bound but runs past the end, with whole records after
    # it: the claim is what is corrupt.
    path.write_bytes(b"".join(before) + _claim(50 << 20) + b"".join(after))
    w = LogWatcher([str(tmp_path)])
    w.poll()
    assert w.store.runs["run"].scalars["x"].steps.tolist() == [0, 1, 2, 3, 4, 10, 11, 12,
                                                               13, 14]


def test_an_incomplete_last_record_is_said_and_not_reread(tmp_path, monkeypatch):
    path = tmp_path / "run" / EVENTS
    path.parent.mkdir()
    path.write_bytes(frame(event_bytes(1.0, 1, "x", value=1.0)) + _claim(100 << 20) + b"x" * 100)
    w = LogWatcher([str(tmp_path)])
    w.poll()
    run = w.store.runs["run"]
    assert len(run.scalars["x"]) == 1
    problem = run.problems[EVENTS]
    assert "incomplete record at byte 39" in problem and "claims 100.0 MiB" in problem
    assert "incomplete record" in summary(w.store)
    opened = []
    real_open = open
    monkeypatch.setattr(reader_module, "open", lambda *a, **k: opened.append(a) or
                        real_open(*a, **k), raising=False)
    for _ in range(3):
        assert not w.poll()
    assert opened == []  # nothing new: the tail is not read again on every poll
    with real_open(path, "ab") as f:  # the file grows: read again, still waiting
        f.write(b"y")
    w.poll()
    assert len(opened) >= 1 and len(w.store.runs["run"].scalars["x"]) == 1


def test_a_small_incomplete_record_is_said_once_it_stays(tmp_path):
    path = tmp_path / EVENTS
    whole = frame(event_bytes(1.0, 1, "x", value=1.0))
    path.write_bytes(whole + whole[:20])
    now = [1000.0]
    r = EventFileReader(str(path), clock=lambda: now[0])
    assert r.read().records == 1
    assert r.problem is None  # a writer may be mid-record: give it time
    now[0] += EventFileReader.STUCK_SECONDS
    assert r.read() is None
    assert "incomplete record at byte 39" in r.problem


def test_dangling_event_file_link_is_said(tmp_path):
    tensorboardx_run(tmp_path / "run", steps=3)
    os.symlink(tmp_path / "nowhere", tmp_path / "run" / "events.out.tfevents.9.gone")
    w = LogWatcher([str(tmp_path)])
    w.poll()
    run = w.store.runs["run"]
    assert len(run.scalars["Loss/train"]) == 3
    assert run.problems == {"events.out.tfevents.9.gone": "cannot read: No such file or "
                                                          "directory"}


def _without_root_powers() -> list[str]:
    """Permissions bind root only without its DAC capabilities: drop them for the child."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop the DAC capabilities")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_unreadable_files_and_folders_are_said_in_once_output(tmp_path):
    root = tmp_path
    try:
        tensorboardx_run(root / "ok", steps=3)
        tensorboardx_run(root / "locked-file", steps=3)
        tensorboardx_run(root / "locked-dir" / "inner", steps=3)
        for f in (root / "locked-file").glob("*tfevents*"):
            os.chmod(f, 0)
        os.chmod(root / "locked-dir", 0)
        r = subprocess.run([*_without_root_powers(), sys.executable, "-m", "tbx_tui", "watch",
                            "--once", str(root)], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert "ok  [" in out
        assert "locked-file  [unreadable]" in out
        assert "! events.out.tfevents" in out and "cannot read: Permission denied" in out
        assert "locked-dir  [unreadable]" in out
        assert "! cannot list folder: Permission denied" in out
    finally:
        os.chmod(root / "locked-dir", 0o755)  # so pytest can clean up
