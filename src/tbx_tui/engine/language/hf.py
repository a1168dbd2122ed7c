"""Hugging Face causal language models: ``--model hf:NAME_OR_PATH``.

Any ``transformers`` causal LM with its own tokenizer, from a local folder (one written
by ``save_pretrained``) or the Hugging Face cache, downloaded only when it is in neither.
It trains in the engine's own loop as a module that maps token ids to logits, so data,
evaluation, samples, checkpoints, exact resume and torchrun are the ``gpt`` path's own.
LoRA goes through ``peft``. ``transformers`` and ``peft`` are the optional ``[llm]``
extra; nothing here imports them before a run asks for an ``hf:`` model.

Saving: ``RUN/hf/`` is a ``save_pretrained`` folder (weights, config, tokenizer), so a
finished run is itself a model: ``--model hf:RUN/hf``, ``tbx-tui sample RUN``, or
``from_pretrained``. With LoRA, ``RUN/hf/`` holds the merged weights and ``RUN/adapter/``
the adapter alone (``peft.PeftModel.from_pretrained(base, RUN/adapter)``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ...atomic import _UMASK
from ..runtime.errors import InitUnavailable, InitUnusable, ModelUnusable
from .gpt import generate

EXTRA = "pip install -e '.[llm]' in the source tree, or pip install 'tbx-tui[llm]'"
MAX_DEFAULT_CONTEXT = 1024  # --context 0: the model's own limit, at most this
_ANNOUNCED: set[str] = set()


def _transformers():
    try:
        import peft  # noqa: F401  (LoRA; the extra brings both)
        import transformers
    except ImportError as e:
        raise InitUnavailable(f"model: hf: models need transformers and peft, the [llm] "
                              f"extra ({e}); {EXTRA}") from None
    # Their progress bars and advice would write over the console's and the app's lines.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import huggingface_hub.utils

    huggingface_hub.utils.logging.set_verbosity_error()
    huggingface_hub.utils.disable_progress_bars()
    return transformers


def source(ref: str) -> str:
    """``hf:NAME_OR_PATH`` -> what ``from_pretrained`` takes."""
    return ref[len("hf:"):] if ref.startswith("hf:") else ref


def _pretrained(kind: str, ref: str, download: bool = True, **kw):
    """``Auto<kind>.from_pretrained``: the local folder or the cache first (no network:
    offline, the Hub's retries take ~25 s), then a download if ``download``."""
    tf = _transformers()
    cls = getattr(tf, kind)
    name = source(ref)
    local = os.path.isdir(name)
    if local and not os.path.isfile(os.path.join(name, "config.json")):
        raise ModelUnusable(f"{ref} has no config.json: not a folder written by "
                            "save_pretrained")
    try:
        return cls.from_pretrained(name, local_files_only=True, **kw)
    except ValueError as e:  # "Unrecognized configuration class … for AutoModelForCausalLM"
        raise ModelUnusable(f"{ref} cannot load as a causal language model "
                            f"({_first_line(e)})") from None
    except OSError as e:
        if local:  # a folder that is not a save_pretrained folder
            raise ModelUnusable(f"{ref}: {_first_line(e)}") from None
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise InitUnavailable(_missing(ref, "HF_HUB_OFFLINE is set"))
    if not download:
        raise InitUnavailable(f"{ref} is not in the Hugging Face cache yet: the run will "
                              "download it")
    if ref not in _ANNOUNCED:  # once, though its tokenizer, config and weights each come
        _ANNOUNCED.add(ref)
        print(f"tbx-tui: {ref} is not in the Hugging Face cache; downloading it…",
              flush=True)
    try:
        return cls.from_pretrained(name, **kw)
    except ValueError as e:
        raise ModelUnusable(f"{ref} cannot load as a causal language model "
                            f"({_first_line(e)})") from None
    except OSError as e:
        raise InitUnavailable(_missing(ref, _first_line(e))) from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _missing(ref: str, why: str) -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return (f"model: {ref} is not a local folder nor in the Hugging Face cache "
            f"({HF_HUB_CACHE}), and it could not be downloaded ({why}); download it where "
            f"there is a network (hf download {source(ref)}) and copy the cache here, or "
            "give a folder written by save_pretrained")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json",
                   "vocab.txt")


def load_tokenizer(ref: str, download: bool = True):
    tok = _pretrained("AutoTokenizer", ref, download)
    # A folder without its tokenizer files still loads, as the architecture's tokenizer
    # class with an empty vocabulary, which then encodes every text to 0 tokens.
    if not tok.vocab_size:
        name = source(ref)
        where = f"{name} holds" if os.path.isdir(name) else "its files hold"
        raise ModelUnusable(f"{ref} has no tokenizer: {where} none of "
                            f"{', '.join(TOKENIZER_FILES)} (vocab.json with merges.txt); "
                            "save the model's tokenizer beside it "
                            "(tokenizer.save_pretrained(FOLDER))")
    return tok


def load_config(ref: str, download: bool = True):
    return _pretrained("AutoConfig", ref, download)


def context_limit(cfg) -> int:
    """The longest context a model's config allows."""
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return MAX_DEFAULT_CONTEXT


def context_for(ref: str, wanted: int) -> int:
    """The run's context: ``--context``, or the model's own limit (at most 1,024)."""
    limit = context_limit(load_config(ref))
    if wanted > limit:
        raise InitUnusable(f"context: {ref} takes at most {limit:,} tokens (got {wanted:,})")
    return wanted or min(limit, MAX_DEFAULT_CONTEXT)


class HFCausalLM(nn.Module):
    """A ``transformers`` causal LM as the engine sees a language model: token ids in,
    logits out. Its parameters are under ``lm.`` (``--freeze`` patterns may leave that
    out)."""

    def __init__(self, lm: nn.Module, ref: str, context: int):
        super().__init__()
        self.lm, self.ref, self.context = lm, ref, context

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids=idx, use_cache=False).logits

    def flops_per_token(self) -> float:
        """As gpt's: 6 × parameters + 12 × layers × width × context (attention)."""
        cfg = self.lm.config
        layers = getattr(cfg, "num_hidden_layers", 0) or 0
        width = getattr(cfg, "hidden_size", 0) or 0
        n = sum(p.numel() for p in self.lm.parameters())
        return 6 * n + 12 * layers * width * self.context

    def generate(self, idx: torch.Tensor, tokens: int, temperature: float = 1.0,
                 top_k: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
        return generate(self, idx, tokens, self.context, temperature, top_k, generator)

    @staticmethod
    def own_name(name: str) -> str:
        """A parameter's name as the model's own code has it, for histogram tags:
        ``lm.base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight`` ->
        ``transformer.h.0.attn.c_attn.lora_A.weight``."""
        return name.removeprefix("lm.").removeprefix("base_model.model.").replace(
            ".default.", ".")

    @property
    def has_lora(self) -> bool:
        return hasattr(self.lm, "peft_config")


def load_model(ref: str, context: int, vocab: int) -> HFCausalLM:
    lm = _pretrained("AutoModelForCausalLM", ref, dtype=torch.float32)
    rows = lm.get_input_embeddings().num_embeddings
    if vocab > rows:
        raise ModelUnusable(f"{ref}: its tokenizer has {vocab:,} tokens but its embeddings "
                            f"{rows:,} rows")
    return HFCausalLM(lm, ref, context)


def _linear_like(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"  # GPT-2's


def apply_peft_lora(model: HFCausalLM, rank: int, alpha: float, targets: str) -> list[str]:
    """LoRA through peft on the layers ``targets`` names (our fnmatch patterns, as for
    gpt), or peft's own choice for the architecture when ``targets`` is empty. Everything
    else is frozen. Returns the adapted layers' names."""
    from peft import LoraConfig, get_peft_model

    from .lora import select_targets

    linear = {n: m for n, m in model.lm.named_modules() if _linear_like(m)}
    chosen = None  # empty targets: peft's default target modules for this model type
    if targets.strip():
        try:
            chosen = select_targets(list(linear), targets, f" of {model.ref}")
        except ValueError as e:
            raise InitUnusable(str(e)) from None
    conv1d = any(type(linear[n]).__name__ == "Conv1D" for n in (chosen or linear))
    try:
        config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0,
                            target_modules=chosen, fan_in_fan_out=conv1d)
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.simplefilter("ignore", FutureWarning)
            model.lm = get_peft_model(model.lm, config)
    except ValueError as e:  # "Please specify `target_modules` …" for unknown types
        raise InitUnusable(f"lora_targets: peft cannot choose layers for {model.ref} "
                           f"({_first_line(e)}); name them, e.g. "
                           f"{', '.join(list(linear)[:2])}") from None
    return sorted({model.own_name(n).split(".lora_A")[0]
                   for n, _ in model.lm.named_parameters() if ".lora_A" in n})


def save_tokenizer(tokenizer, run_dir: Path) -> None:
    _save_into(run_dir / "hf", tokenizer.save_pretrained)


def save(model: HFCausalLM, run_dir: Path) -> None:
    """The weights as a save_pretrained folder; with LoRA, the adapter first, then the
    merged weights (merging changes the model: this is the run's last use of it)."""
    lm = model.lm
    if model.has_lora:
        _save_into(run_dir / "adapter", lm.save_pretrained)
        lm = lm.merge_and_unload()
    _save_into(run_dir / "hf", lm.save_pretrained)


def _save_into(folder: Path, save_pretrained) -> None:
    """Write into a temporary folder beside ``folder``, then move each file in: a reader
    never meets a half-written file, and the tokenizer saved at the start stays."""
    folder.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_pretrained(str(tmp))
        for f in tmp.iterdir():  # safetensors writes 0600: as open() would make them
            os.chmod(f, 0o666 & ~_UMASK)
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
