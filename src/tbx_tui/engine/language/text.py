"""Text for language models: a corpus read once, encoded once into one compact integer
tensor that lives on the device; batches are windows cut from it by index arithmetic on
the device (``starts[:, None] + arange(context)``), never a Python loop over tokens.

The same interface as the image data (``n_train``, ``epoch``, ``test_batches``), so the
engine's loop, its sharding over processes and its exact resume are the same: an epoch's
order is a shuffled list of window starts — the corpus cut into windows of ``context``
tokens at an offset drawn once per epoch, so every epoch sees every token once and the
window boundaries move from epoch to epoch.

Tokenizers: ``char`` (the corpus's own characters), ``byte`` (UTF-8 bytes, 256 symbols:
every corpus shares it, so fine-tuning across corpora just works), ``hf`` (an ``hf:``
model's own). The run folder keeps the tokenizer (``tokenizer.json``; an ``hf`` one's
files in ``hf/``) for ``tbx-tui sample`` and for ``--init-from``.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ...data_files import shakespeare_file, text_files
from ..runtime.errors import DataUnavailable

SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                   "tinyshakespeare/input.txt")
SHAKESPEARE_BYTES = 1_115_394
VAL_SHARE = 0.1  # the corpus's last tenth is the validation text
MAX_EVAL_WINDOWS = 1024  # evaluated evenly over the validation text, at most
MAX_FILE_BYTES = 4 << 30


class Tokenizer:
    """``char``: ids index ``vocab``; ``byte``: ids are the UTF-8 bytes; ``hf``: a
    Hugging Face model's own tokenizer (``hf``), kept in the run's ``hf/`` folder."""

    def __init__(self, kind: str, vocab: str = "", hf=None):
        self.kind, self.vocab, self.hf = kind, vocab, hf

    @property
    def size(self) -> int:
        if self.kind == "hf":
            return len(self.hf)
        return 256 if self.kind == "byte" else len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        if self.kind == "hf":  # verbose=False: a corpus is longer than the model's context
            ids = self.hf(text, add_special_tokens=False, verbose=False)["input_ids"]
            return torch.from_numpy(np.asarray(ids, dtype=np.int64))
        if self.kind == "byte":
            return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()
        # Code points through a lookup table: ~40× faster than a dict per character.
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        vocab = np.frombuffer(self.vocab.encode("utf-32-le"), dtype=np.uint32)
        table = np.full(int(max(cps.max(initial=0), vocab.max(initial=0))) + 1, -1, np.int64)
        table[vocab] = np.arange(len(vocab))
        ids = table[cps]
        if (ids < 0).any():
            missing = sorted(set(text) - set(self.vocab))
            raise ValueError(f"characters not in the run's vocabulary: "
                             f"{''.join(missing)[:20]!r}")
        return torch.from_numpy(ids)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.kind == "hf":
            return self.hf.decode(ids)
        if self.kind == "byte":
            return bytes(ids).decode("utf-8", "replace")
        return "".join(self.vocab[i] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "vocab": self.vocab}, ensure_ascii=False)

    @classmethod
    def load(cls, run_dir: Path) -> "Tokenizer":
        path = Path(run_dir) / "tokenizer.json"
        try:
            d = json.loads(path.read_text("utf-8"))
            if not isinstance(d, dict) or d.get("kind") not in ("char", "byte", "hf") \
                    or not isinstance(d.get("vocab", ""), str):
                raise ValueError("not a tokenizer.json of tbx-tui")
        except (ValueError, RecursionError) as e:  # damaged, or nested [[[… too deep
            raise ValueError(f"{path} is damaged ({type(e).__name__}: {e})") from None
        if d["kind"] == "hf":
            from .hf import load_tokenizer

            return cls("hf", hf=load_tokenizer(str(Path(run_dir) / "hf")))
        return cls(d["kind"], d.get("vocab", ""))


@dataclass(frozen=True)
class TextData:
    name: str
    tokens: torch.Tensor      # the whole corpus, encoded; train then val
    n_val: int                # the last n_val tokens are the validation text
    context: int
    tokenizer: Tokenizer
    eval_batch: int = 32

    kind = "text"
    unit = "tokens"
    skipped = ()

    @property
    def in_shape(self) -> tuple[int]:
        return (self.context,)

    @property
    def num_classes(self) -> int:
        return self.tokenizer.size

    @property
    def n_train_tokens(self) -> int:
        return len(self.tokens) - self.n_val

    @property
    def n_train(self) -> int:
        """Windows per epoch: any offset below ``context`` leaves room for each, and for
        its target shifted by one."""
        return self.n_train_tokens // self.context - 1

    @property
    def n_test(self) -> int:
        return min(self.n_val // self.context - 1, MAX_EVAL_WINDOWS)

    def to(self, device: torch.device) -> "TextData":
        # int16 would halve the bytes but indexing int16 by index_select is no faster
        # here, and embeddings want int64 ids: one conversion at load, none per step.
        return replace(self, tokens=self.tokens.to(device))

    def draw_order(self, generator: torch.Generator) -> torch.Tensor:
        """This epoch's window starts, shuffled: multiples of ``context`` moved by one
        offset drawn for the epoch."""
        offset = int(torch.randint(self.context, (1,), generator=generator))
        return torch.randperm(self.n_train, generator=generator) * self.context + offset

    def _windows(self, starts: torch.Tensor):
        idx = starts.to(self.tokens.device)[:, None] + torch.arange(
            self.context + 1, device=self.tokens.device)
        w = self.tokens[idx]  # one gather for inputs and targets
        return w[:, :-1], w[:, 1:]

    def epoch(self, starts: torch.Tensor, batch_size: int):
        for chunk in starts.split(batch_size):
            yield self._windows(chunk)

    def test_batches(self, batch_size: int, rank: int = 0, world: int = 1):
        """Windows spread evenly over the validation text (at most MAX_EVAL_WINDOWS);
        with several processes, this rank's every world-th."""
        base = self.n_train_tokens
        span = self.n_val - self.context - 1
        starts = base + torch.linspace(0, span, self.n_test).long()
        for chunk in starts[rank::world].split(self.eval_batch):
            yield self._windows(chunk)

    def close(self) -> None:
        pass


# ---- loading ---------------------------------------------------------------------------
def is_text_data(name: str) -> bool:
    return name == "shakespeare_char" or name.startswith("text:")


def _corpus_files(name: str, data_dir: str) -> tuple[str, list[Path]]:
    """(label, files) of a built-in corpus (downloaded when absent) or the user's file or
    folder of files (data_files.text_files)."""
    if name == "shakespeare_char":
        path = shakespeare_file(data_dir)
        if not path.is_file():
            _download_shakespeare(path)
        return "shakespeare_char", [path]
    path = Path(name[len("text:"):]).expanduser()
    if not (path.is_dir() or path.is_file()):
        raise DataUnavailable(f"data: {path} is not a file or folder")
    files = text_files(path)
    if not files:
        raise DataUnavailable(f"data: {path} holds no files")
    return path.name, files


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DataUnavailable(f"data: {path} is over {MAX_FILE_BYTES >> 30} GiB")
        return path.read_bytes()
    except OSError as e:
        raise DataUnavailable(f"data: cannot read {path} ({e.strerror or e})") from None


def _decode(path: Path) -> str:
    raw = _read(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataUnavailable(f"data: {path} is not UTF-8 text (byte {e.start}: "
                              f"{raw[e.start:e.start + 1]!r}); --tokenizer byte reads it "
                              "as bytes") from None


def _download_shakespeare(path: Path) -> None:
    print(f"tbx-tui: tiny-Shakespeare not found at {path}; downloading it there…", flush=True)
    tmp = path.with_suffix(".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(SHAKESPEARE_URL, timeout=30) as r, open(tmp, "wb") as f:
            f.write(r.read())
        os.replace(tmp, path)
    except OSError as e:  # URLError is an OSError
        tmp.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or e.strerror or e
        raise DataUnavailable(f"shakespeare_char: not under {path.parent} and the download "
                              f"failed ({reason}); put input.txt from {SHAKESPEARE_URL} "
                              "there") from None


def load_text(name: str, data_dir: str, tokenizer: str | Tokenizer, context: int,
              batch_size: int, notes: list[str], base: Tokenizer | None = None) -> TextData:
    """The corpus, encoded. ``tokenizer``: char, byte, or a Tokenizer (a Hugging Face
    model's). ``base``: the tokenizer of the run fine-tuned from (its ids must mean the
    same)."""
    label, files = _corpus_files(name, data_dir)
    if isinstance(tokenizer, Tokenizer):
        tok = tokenizer
        ids = tok.encode("\n".join(_decode(p) for p in files))
    elif tokenizer == "byte":  # any file reads: no decoding, no vocabulary to agree on
        raw = b"\n".join(_read(p) for p in files)
        tok = Tokenizer("byte")
        ids = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long() if raw else \
            torch.zeros(0, dtype=torch.long)
    else:
        text = "\n".join(_decode(p) for p in files)
        tok = base if base is not None and base.kind == "char" else \
            Tokenizer("char", "".join(sorted(set(text))))
        try:
            ids = tok.encode(text)
        except ValueError as e:  # fine-tuning on text with characters the base never saw
            raise DataUnavailable(f"data: {label}: {e}; fine-tune across corpora with "
                                  "--tokenizer byte") from None
    n_val = int(len(ids) * VAL_SHARE)
    need = 2 * (context + 1)
    if n_val < need or len(ids) - n_val < need:
        raise DataUnavailable(f"data: {label} has {len(ids):,} tokens; a context of "
                              f"{context} needs at least {int(need / VAL_SHARE):,} (a tenth "
                              "of it is the validation text)")
    data = TextData(label, ids, n_val, context, tok, eval_batch=batch_size)
    notes.append(f"data {label}: {len(ids):,} tokens ({tok.kind} tokenizer, {tok.size} "
                 f"symbols): {data.n_train_tokens:,} train / {n_val:,} val, windows of "
                 f"{context}")
    return data
