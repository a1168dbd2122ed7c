"""The user's data: an ImageFolder of real MNIST PNGs, NumPy archives, factories, and
every way they can be wrong — one line, no run folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from conftest import accumulator, cli, only_run
from tbx_tui.engine.vision.data import DataUnavailable, load_dataset


def png_folder(root, shared_data, per_class: int, held: int, layout: str = "split"):
    """Real MNIST digits as PNG files: root/train/<digit>/…, root/val/<digit>/… (or one
    pool root/<digit>/…)."""
    from torchvision.io import write_png

    mnist = load_dataset("mnist", str(shared_data))
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision.io")
    for digit in range(10):
        idx = (mnist.train_y == digit).nonzero().flatten()
        for k, i in enumerate(idx[: per_class + held].tolist()):
            part = ("train" if k < per_class else "val") if layout == "split" else ""
            folder = root / part / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            write_png(mnist.train_x[i], str(folder / f"{i}.png"))
    return root


def test_streaming_and_resident_runs_on_real_mnist_pngs_train_the_same(tmp_path, shared_data):
    """The CLI streams the folder (--data-memory 1 MiB is under its 1.4 MB decoded)
    through DataLoader workers, meeting a broken PNG mid-run; the same run in memory
    draws the same batches from the same seeded order, so the two curves agree."""
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import TensorBoardSink, Trainer

    root = png_folder(tmp_path / "digits", shared_data, per_class=150, held=30)
    (root / "train" / "3" / "broken.png").write_bytes(b"\x89PNG not really")
    r = cli("--no-ui", "--model", "simple_cnn", "--data", f"folder:{root}", "--epochs", "3",
            "--log-every", "20", "--data-memory", "1", "--workers", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (f"data folder:{root}: 1,501 train / 300 test, 1×28×28, 10 classes "
            "(0, 1, 2, 3, 4, 5, 6, 7…)") in r.stdout
    assert ("data path: streaming (1.3 MiB decoded is over the 1.0 MiB --data-memory "
            "budget): 2 worker(s) decoding") in r.stdout
    assert "skipped 1 image(s) that could not be decoded (first: " in r.stdout
    assert "broken.png" in r.stdout and "Traceback" not in r.stderr
    streamed = only_run(tmp_path / "runs")
    assert streamed.name.startswith("simple_cnn-digits-")

    (root / "train" / "3" / "broken.png").unlink()
    config = RunConfig(model="simple_cnn", data=f"folder:{root}", epochs=3, log_every=20,
                       logdir=str(tmp_path / "resident"))
    result = Trainer(config, [TensorBoardSink()]).run()
    a, b = accumulator(streamed), accumulator(result.run_dir)
    acc = [x.Scalars("Accuracy/test")[-1].value for x in (a, b)]
    assert min(acc) >= 0.80 and abs(acc[0] - acc[1]) <= 0.03, acc  # 1,500 digits, 3 epochs
    assert a.Scalars("Data/skipped_images")[-1].value == 1  # met 3 times, counted once
    assert "Data/skipped_images" not in b.Tags()["scalars"]

    # The two paths draw the very same batches from the same order.
    from tbx_tui.engine.vision.streaming import DataPath

    resident = load_dataset(f"folder:{root}")
    streaming = load_dataset(f"folder:{root}", path=DataPath(1, 1, torch.device("cpu")))
    assert type(streaming).__name__ == "StreamingData"
    perm = torch.randperm(resident.n_train, generator=torch.Generator().manual_seed(5))
    def same(a, b):
        pairs = list(zip(a, b))
        return len(pairs), all(torch.equal(r[0], s[0]) and torch.equal(r[1], s[1])
                               for r, s in pairs)

    assert same(resident.epoch(perm, 256), streaming.epoch(perm, 256)) == (6, True)
    assert same(resident.test_batches(128), streaming.test_batches(128)) == (3, True)
    streaming.close()


def test_a_killed_streaming_run_takes_its_workers_with_it(tmp_path, shared_data):
    """kill -9 of the trainer: its decoding workers go too (they waited forever, blocked
    writing batches no one would read)."""
    import psutil

    root = png_folder(tmp_path / "digits", shared_data, per_class=30, held=2)
    proc = subprocess.Popen([sys.executable, "-m", "tbx_tui", "--no-ui", "--model", "mlp",
                             "--data", f"folder:{root}", "--image-size", "64", "--epochs",
                             "1000", "--data-memory", "1", "--workers", "2"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    lines = []
    while not any("step " in line for line in lines[-1:]):
        lines.append(proc.stdout.readline())
        assert lines[-1], "".join(lines)
    assert "streaming" in "".join(lines)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=5)
    for p in alive:  # not left behind by a failing run of this test
        p.kill()
    assert not alive, alive


def test_one_pool_is_split_by_seed_and_resized(tmp_path, shared_data):
    root = png_folder(tmp_path / "pool", shared_data, per_class=20, held=0, layout="pool")
    d = load_dataset(f"folder:{root}", seed=3, image_size=16, val_fraction=0.25)
    assert d.train_x.shape == (150, 1, 16, 16) and d.test_x.shape == (50, 1, 16, 16)
    assert d.train_x.dtype == torch.uint8 and d.classes == [str(i) for i in range(10)]
    again = load_dataset(f"folder:{root}", seed=3, image_size=16, val_fraction=0.25)
    assert torch.equal(d.test_y, again.test_y)  # the same split for the same seed


def test_bad_folders_say_what_is_wrong(tmp_path, shared_data):
    from torchvision.io import write_png

    cases = {}
    (tmp_path / "empty").mkdir()
    cases["empty"] = "0 class folder(s) with images"
    png_folder(tmp_path / "one", shared_data, 3, 0, layout="pool")
    import shutil
    for d in range(1, 10):
        shutil.rmtree(tmp_path / "one" / str(d))
    cases["one"] = "1 class folder(s) with images; a classifier needs at least 2"
    png_folder(tmp_path / "sizes", shared_data, 3, 0, layout="pool")
    write_png(torch.zeros(1, 32, 32, dtype=torch.uint8), str(tmp_path / "sizes" / "0" / "x.png"))
    cases["sizes"] = "images of different sizes (28×28, 32×32…); give --image-size N"
    png_folder(tmp_path / "mismatch", shared_data, 3, 2)
    shutil.rmtree(tmp_path / "mismatch" / "val" / "9")
    cases["mismatch"] = "val/ has classes"
    for name, message in cases.items():
        with pytest.raises(DataUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_dataset(f"folder:{tmp_path / name}")
    r = cli("--no-ui", "--data", f"folder:{tmp_path / 'one'}", "--logdir", "runs",
            cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "at least 2" in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_numpy_archives_and_their_mistakes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 12, 12, 3), dtype=np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "ok.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    d = load_dataset(f"npz:{tmp_path / 'ok.npz'}")
    assert d.train_x.shape == (30, 3, 12, 12) and d.num_classes == 4
    np.savez(tmp_path / "keys.npz", x_train=x, y_train=y)
    np.savez(tmp_path / "floaty.npz", x_train=x, y_train=y.astype(float), x_test=x, y_test=y)
    np.savez(tmp_path / "objects.npz", x_train=np.array([{"a": 1}] * 3, dtype=object),
             y_train=y, x_test=x, y_test=y)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for name, message in (("keys", "no x_test, y_test in the archive"),
                          ("floaty", "y_train must be 40 integer labels"),
                          ("objects", "cannot read it as a NumPy archive"),
                          ("junk", "cannot read it as a NumPy archive")):
        with pytest.raises(DataUnavailable, match=message):
            load_dataset(f"npz:{tmp_path / name}.npz")


def test_a_label_of_2_to_the_40_is_one_line_not_terabytes(tmp_path):
    """The class count follows the largest label: 2**40 sized the last layer for 10**12
    classes, and the kernel killed the process at 23.6 GB."""
    x = np.zeros((20, 8, 8), np.uint8)
    y = np.arange(20) % 2
    y[3] = 2 ** 40
    np.savez(tmp_path / "bomb.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4] % 2)
    r = cli("--no-ui", "--model", "mlp", "--data", f"npz:{tmp_path / 'bomb.npz'}",
            "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == (f"tbx-tui: error: npz:{tmp_path / 'bomb.npz'}: y_train has "
                                "label 1,099,511,627,776; labels are class numbers "
                                "0-99,999 (at most 100,000 classes)")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def png_bomb(path, side: int = 30_000) -> None:
    """A valid PNG of under 1 MB that declares side × side grey pixels (all zero)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    z = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the row
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" +
                     chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                     chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_the_pixel_budget_is_read_from_png_and_other_headers(tmp_path):
    import io

    from PIL import Image

    from tbx_tui.engine.vision.streaming import ImageTooLarge, _check_pixels

    png_bomb(tmp_path / "bomb.png", side=9000)
    with pytest.raises(ImageTooLarge, match="9000×9000 pixels is over the budget"):
        _check_pixels((tmp_path / "bomb.png").read_bytes())
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16)).save(jpeg, "JPEG")
    _check_pixels(jpeg.getvalue())  # within the budget
    sof = jpeg.getvalue().index(b"\xff\xc0")  # its frame header: height, width at +5
    big = bytearray(jpeg.getvalue())
    big[sof + 5:sof + 9] = (9000).to_bytes(2, "big") * 2
    with pytest.raises(ImageTooLarge, match="9000×9000 pixels is over the budget"):
        _check_pixels(bytes(big))
    big[sof + 5:sof + 9] = (60000).to_bytes(2, "big") * 2  # past PIL's own bomb limit
    with pytest.raises(ImageTooLarge, match="decompression-bomb limit.* over the budget"):
        _check_pixels(bytes(big))
    _check_pixels(b"not an image at all")  # torchvision's decoder says what is wrong


def test_a_decompression_bomb_is_skipped_before_decoding(tmp_path, shared_data):
    """An 875 KB PNG declaring 30000×30000 pixels took 1.6 GB to decode (5.1 GB with
    --image-size 16); it is refused from its header and counted with the broken files,
    and the run's peak memory stays that of the same run without it."""
    root = png_folder(tmp_path / "digits", shared_data, per_class=8, held=2)
    png_bomb(root / "train" / "3" / "bomb.png")
    assert (root / "train" / "3" / "bomb.png").stat().st_size < 1_000_000
    peaks = []
    for with_bomb in (True, False):
        if not with_bomb:
            (root / "train" / "3" / "bomb.png").unlink()
        r = subprocess.run(
            [sys.executable, "-c", "import resource, sys\nfrom tbx_tui.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
             "sys.exit(code)", "--no-ui", "--model", "mlp", "--data", f"folder:{root}",
             "--image-size", "16", "--epochs", "1", "--sys-every", "0"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        peaks.append(int(r.stdout.rsplit("peak ", 1)[1]) * 1024)
        if with_bomb:
            assert "skipped 1 image(s) declaring more than 67,108,864 pixels (first: " \
                   f"{root / 'train' / '3' / 'bomb.png'})" in r.stdout, r.stdout
    # Decoded, the bomb alone is 900 MB (and 2.7 GB as the grey-to-colour copy).
    assert peaks[0] < peaks[1] + 64 * 2 ** 20, peaks


def test_a_folder_load_peaks_at_its_decoded_size(tmp_path):
    """Each image is decoded into its row of one tensor: the load's peak memory is the
    decoded images once plus one image (a list then torch.stack held them twice)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "f" / c).mkdir(parents=True)
        for i in range(60):
            Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(
                tmp_path / "f" / c / f"{i}.png", compress_level=0)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from tbx_tui.engine.vision.user_data import LoadNotes, load_user_data
        from tbx_tui.engine.vision.streaming import decode_file

        def peak():  # VmHWM, in bytes
            return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                        if line.startswith("VmHWM:"))

        decode_file({str(tmp_path / "f" / "a" / "0.png")!r}, 0, None)  # imports, buffers
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak starts again from what is resident now
        before = peak()
        d = load_user_data("folder:{tmp_path / 'f'}", 0, 0, 0.1, LoadNotes([]))
        print(peak() - before, d.train_x.numel() + d.test_x.numel())
        """)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    grew, decoded = map(int, r.stdout.split())
    assert decoded == 120 * 3 * 256 * 256
    assert grew < 1.25 * decoded + (4 << 20), (grew / decoded, grew, decoded)


def test_a_dataset_factory_in_a_file(tmp_path):
    (tmp_path / "my_data.py").write_text(textwrap.dedent('''
        import torch
        from torch.utils.data import TensorDataset

        def tensors():
            g = torch.Generator().manual_seed(0)
            x = torch.rand(50, 1, 8, 8, generator=g)
            y = torch.arange(50) % 3
            return (x[:40], y[:40]), (x[40:], y[40:])

        def dataset():
            x = torch.randint(0, 255, (20, 1, 8, 8), dtype=torch.uint8)
            y = torch.arange(20) % 2
            return TensorDataset(x[:15], y[:15]), TensorDataset(x[15:], y[15:])

        class Flaky(torch.utils.data.Dataset):
            targets = torch.arange(30) % 3

            def __len__(self):
                return 30

            def __getitem__(self, i):
                if i == 9:
                    raise OSError("bad sector")
                return torch.full((6, 5), i, dtype=torch.uint8), int(self.targets[i])

        def flaky():
            return Flaky(), Flaky()

        def broken():
            raise OSError("bucket not mounted")
    '''))
    d = load_dataset(f"{tmp_path / 'my_data.py'}:tensors")
    assert d.train_x.shape == (40, 1, 8, 8) and d.train_x.dtype == torch.float32
    d = load_dataset(f"{tmp_path / 'my_data.py'}:dataset")
    assert d.train_x.shape == (15, 1, 8, 8) and d.num_classes == 2
    # Over the memory budget, a Dataset is read a batch at a time by the workers, and an
    # item its __getitem__ fails on is left out and counted.
    from tbx_tui.engine.vision.streaming import DataPath

    notes = []
    d = load_dataset(f"{tmp_path / 'my_data.py'}:flaky", notes=notes,
                     path=DataPath(100, 1, torch.device("cpu")))
    assert "data path: streaming (0.0 MiB decoded is over the 0.0 MiB" in notes[1]
    assert d.classes == ["0", "1", "2"] and d.in_shape == (1, 6, 5)
    batches = list(d.epoch(torch.arange(30), 8))
    assert [len(y) for _, y in batches] == [8, 7, 8, 6]
    assert batches[0][0].dtype == torch.uint8 and d.skipped == ["item 9 (OSError: bad "
                                                               "sector)"]
    d.close()
    with pytest.raises(DataUnavailable, match="broken\\(\\) raised OSError: bucket not mounted"):
        load_dataset(f"{tmp_path / 'my_data.py'}:broken")
    with pytest.raises(DataUnavailable, match="data: .* has no 'nope'"):
        load_dataset(f"{tmp_path / 'my_data.py'}:nope")


async def test_the_form_counts_a_folder_without_loading_it(tmp_path, shared_data):
    from test_app import wait_for
    from tbx_tui.config import RunConfig
    from tbx_tui.tui.app import make_app

    root = png_folder(tmp_path / "digits", shared_data, per_class=5, held=2)
    app = make_app("train", config=RunConfig(model="mlp", data="digits",
                                             logdir=str(tmp_path / "runs")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        form = app.screen
        form.query_one("#f-data").value = f"folder:{tmp_path / 'nowhere'}"
        await pilot.pause()
        assert "no such folder" in str(form.query_one("#e-data").render())
        form.query_one("#f-data").value = f"folder:{root}"
        await wait_for(pilot, lambda: "10 classes, 50 train / 20 val" in
                       str(form.query_one("#info").render()))
