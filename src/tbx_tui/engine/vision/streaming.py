"""The streaming data path, for data too big to keep decoded in memory.

DataLoader workers decode whole batches with ``torchvision.io`` straight into uint8
tensors (no PIL, no per-sample float tensors, a quarter of the bytes through shared
memory); the main process copies them to the device (pinned and non-blocking on CUDA)
and normalises there, as on the tensor-resident path. Batches come from the same seeded
permutation as the resident path, so the path changes the speed, never the result.

An image that cannot be decoded is left out of its batch and counted, never fatal.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import warnings
from dataclasses import dataclass, field

import torch

PREFETCH = 4  # batches queued per worker: enough to ride out a slow file or a GC pause
MIB = 1 << 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _mib(n: int) -> str:
    return f"{n / MIB:,.0f} MiB" if n >= 10 * MIB else f"{n / MIB:.1f} MiB"


@dataclass(frozen=True)
class DataPath:
    """Which data path a run takes: tensor-resident when the decoded images fit
    ``budget`` bytes, streaming with ``workers`` decoding processes otherwise."""
    budget: int
    workers: int
    device: torch.device

    @classmethod
    def for_run(cls, data_memory_mib: int, workers: int, device: torch.device) -> "DataPath":
        if data_memory_mib:
            budget = data_memory_mib * MIB
        else:  # a quarter of the machine's memory, and of the GPU's where the data goes
            budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
            if device.type == "cuda":
                budget = min(budget, torch.cuda.get_device_properties(device).total_memory // 4)
        return cls(budget, workers or auto_workers(), torch.device(device))

    def resident(self, decoded: int) -> str:
        return (f"data path: tensor-resident ({_mib(decoded)} decoded, within the "
                f"{_mib(self.budget)} --data-memory budget)")

    def streaming(self, decoded: int) -> str:
        pinned = ", pinned memory" if self.device.type == "cuda" else ""
        return (f"data path: streaming ({_mib(decoded)} decoded is over the "
                f"{_mib(self.budget)} --data-memory budget): {self.workers} worker(s) "
                f"decoding, {PREFETCH} batches queued each{pinned}")


@functools.cache
def _decoders():
    # Imported once per process, not per image (a measurable share of a 28×28 PNG).
    from torchvision.io import decode_image
    from torchvision.transforms.v2.functional import resize

    return decode_image, resize


# The most pixels one image may declare: 8192×8192 (64 Mi; PIL refuses 2 × 89.5 M and
# warns above 89.5 M). A PNG of under 1 MB can declare 30000×30000 = 900 M pixels, which
# decoded take 2.7 GB; such a file is refused from its header, before any decoding.
PIXEL_BUDGET = 8192 * 8192


class ImageTooLarge(ValueError):
    pass


_PNG = b"\x89PNG\r\n\x1a\n"


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header alone: a PNG's IHDR read by hand (under 1 µs),
    other formats by PIL, which reads only their header (~11 µs: 60% of decoding a 28×28
    PNG, little beside a JPEG). None for a format PIL does not know."""
    if data[:8] == _PNG and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError:  # over twice PIL's own limit: far over ours
        raise ImageTooLarge(f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels (PIL's "
                            f"decompression-bomb limit) is over the budget of "
                            f"{PIXEL_BUDGET:,}") from None
    except Exception:
        return None  # torchvision's decoder decides


def _check_pixels(data: bytes) -> None:
    """Raise ImageTooLarge when the header declares more than PIXEL_BUDGET pixels."""
    size = _declared_size(data)
    if size is not None and size[0] * size[1] > PIXEL_BUDGET:
        raise ImageTooLarge(f"{size[0]}×{size[1]} pixels is over the budget of "
                            f"{PIXEL_BUDGET:,}")


def decode_file(path: str, channels: int, size: tuple[int, int] | None) -> torch.Tensor:
    """One image file -> uint8 (C, H, W): RGBA and grey+alpha lose the alpha channel;
    ``channels`` (0: as stored) repeats grey for colour data or averages colour to grey;
    ``size`` (if given) resizes. ImageTooLarge for a file declaring more than
    PIXEL_BUDGET pixels."""
    decode_image, resize = _decoders()
    with open(path, "rb") as f:  # half the time of torchvision.io.read_file here
        data = f.read()
    _check_pixels(data)
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    img = decode_image(raw)
    if img.shape[0] in (2, 4):  # the alpha channel carries no class
        img = img[:-1]
    if channels and img.shape[0] != channels:
        img = img[:1].expand(channels, -1, -1) if channels == 3 else \
            img.float().mean(0, keepdim=True).round().to(torch.uint8)
    if size and tuple(img.shape[1:]) != size:
        img = resize(img, list(size), antialias=True)
    return img


class FolderImages:
    """Image files and their labels; ``self[list of indices]`` is one decoded batch:
    (uint8 (B, C, H, W), labels (B,), paths that could not be decoded)."""

    def __init__(self, paths: list[str], labels: list[int], shape: tuple[int, int, int]):
        import numpy as np

        # One fixed-width byte array, not a list of str: forked workers touch every
        # object they read (reference counts), which copies its memory page into each.
        self._paths = np.array([os.fsencode(p) for p in paths])
        self._labels = torch.tensor(labels, dtype=torch.long)
        self.shape = shape

    def __len__(self) -> int:
        return len(self._labels)

    def path(self, i: int) -> str:
        return os.fsdecode(self._paths[i])

    def __getitem__(self, batch: list[int]):
        c, h, w = self.shape
        images, keep, bad = [], [], []
        with warnings.catch_warnings():  # torchvision 0.29: decoders "deprecated", working
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            for i in batch:
                path = self.path(i)
                try:
                    images.append(decode_file(path, c, (h, w)))
                except Exception:  # truncated, not an image, unreadable: left out, counted
                    bad.append(path)
                    continue
                keep.append(i)
        x = torch.stack(images) if images else torch.empty((0, c, h, w), dtype=torch.uint8)
        return _shippable(x, self._labels.index_select(0, torch.tensor(keep)), bad)


SHIP_BY_VALUE = 1 << 20


def _shippable(x: torch.Tensor, y: torch.Tensor, bad: list[str]):
    """A batch as it crosses from a worker: under 1 MiB as NumPy arrays, pickled by
    value (measured here: 0.34 ms of the main process's CPU per batch of 32 MNIST images,
    against 1.06 ms for tensors, each of which is a shared-memory file whose descriptor is
    passed over a socket); larger batches as tensors, which a CUDA run pins."""
    if x.nbytes < SHIP_BY_VALUE:
        return x.numpy(), y.numpy(), bad
    return x, y, bad


def _as_is(batch):
    return batch  # the default would turn the NumPy arrays into tensors in the worker


def item_image(x) -> torch.Tensor:
    """One image of a Dataset as (C, H, W): (H, W) grey and (H, W, C) uint8 accepted."""
    x = torch.as_tensor(x)
    if x.dim() == 2:
        return x.unsqueeze(0)
    if x.dim() == 3 and x.dtype == torch.uint8 and x.shape[-1] in (1, 3) and \
            x.shape[0] not in (1, 3):
        return x.permute(2, 0, 1)
    return x


class DatasetItems:
    """The user's map-style Dataset of (image, label) pairs, fetched a batch at a time."""

    def __init__(self, dataset, shape: tuple[int, int, int], dtype: torch.dtype):
        self.dataset, self.shape, self.dtype = dataset, shape, dtype

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, batch: list[int]):
        out = torch.empty((len(batch), *self.shape), dtype=self.dtype)
        labels, bad = [], []
        for i in batch:
            try:
                x, y = self.dataset[i]
                out[len(labels)] = item_image(x)
                labels.append(int(y))
            except Exception as e:  # the user's __getitem__ failed on this one item
                bad.append(f"item {i} ({type(e).__name__}: {e})")
        return _shippable(out[:len(labels)], torch.tensor(labels, dtype=torch.long), bad)


class EpochOrder:
    """Yields the index lists of one epoch's batches from a permutation, in the main
    process; the loader hands each list to one worker."""

    def __init__(self, n: int, batch_size: int):
        self.perm = torch.arange(n)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.perm) // self.batch_size)

    def __iter__(self):
        for chunk in self.perm.split(self.batch_size):
            yield chunk.tolist()


def _quiet_worker(parent: int, _: int) -> None:
    # Ctrl+C, a hang-up or a TERM sent to the process group is the main process's to
    # handle: it finishes the step, evaluates (with these workers) and saves.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    # A kill -9 of the trainer leaves no one to stop the workers, and torch's own check
    # never runs while a worker waits to write a batch no one reads: they stayed forever
    # (seen here). The kernel kills them with the thread that started them instead.
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that was in place
        os._exit(0)


def auto_workers() -> int:
    """One decoding worker per core the process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


@dataclass
class StreamingData:
    """Same questions as TensorData answers (name, classes, shapes, batches), from files."""
    name: str
    train: object  # FolderImages or DatasetItems
    test: object
    classes: list[str]
    workers: int
    device: torch.device = torch.device("cpu")
    skipped: list[str] = field(default_factory=list)  # in the order met, each once
    _bad: set[str] = field(default_factory=set)
    _loader: object = None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return self.train.shape

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test)

    def to(self, device: torch.device) -> "StreamingData":
        self.device = torch.device(device)
        return self

    def _make_loader(self, source, order, persistent: bool):
        from torch.utils.data import DataLoader

        return DataLoader(source, sampler=order, batch_size=None, num_workers=self.workers,
                          pin_memory=self.device.type == "cuda", prefetch_factor=PREFETCH,
                          persistent_workers=persistent,
                          worker_init_fn=functools.partial(_quiet_worker, os.getpid()),
                          collate_fn=_as_is)

    def _batches(self, loader):
        for x, y, bad in loader:
            x, y = torch.as_tensor(x), torch.as_tensor(y)
            # Each broken file counts once, though every epoch meets it again.
            self.skipped.extend(p for p in dict.fromkeys(bad) if p not in self._bad)
            self._bad.update(bad)
            # Even a batch of nothing but broken files is passed on (empty): the trainer
            # counts batches to know its place in the epoch's order.
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def epoch(self, perm: torch.Tensor, batch_size: int):
        """The epoch's batches in ``perm`` order. The workers stay up between epochs."""
        if self._loader is None or self._loader.sampler.batch_size != batch_size:
            self._loader = self._make_loader(self.train, EpochOrder(self.n_train, batch_size),
                                             persistent=True)
        self._loader.sampler.perm = perm.cpu()
        return self._batches(self._loader)

    def test_batches(self, batch_size: int, rank: int = 0, world: int = 1):
        order = EpochOrder(self.n_test, batch_size)
        order.perm = torch.arange(rank, self.n_test, world)  # this rank's share
        return self._batches(self._make_loader(self.test, order, persistent=False))

    def close(self) -> None:
        """Stop the workers now rather than when the garbage collector gets to them."""
        loader, self._loader = self._loader, None
        it = getattr(loader, "_iterator", None)
        if it is not None:
            it._shutdown_workers()

