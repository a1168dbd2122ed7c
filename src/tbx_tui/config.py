"""RunConfig: the one description of a training run.

Every field carries its help text, bounds and choices in its dataclass metadata, so the
CLI flags, the TOML file (``--config``) and the setup form are all derived from here and
can never disagree. This module must stay free of torch: ``tbx-tui --help`` imports it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .refs import (BUILTIN_DATA, BUILTIN_MODELS, TEXT_DATA, is_hf_model, is_lm_model,
                   parse_data, parse_model, slug)

# Names only: the builders live in tbx_tui.engine (torch). A test keeps them in step.
MODELS = BUILTIN_MODELS  # and any reference refs.parse_model accepts
DATASETS = BUILTIN_DATA  # and any reference refs.parse_data accepts
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda", "mps")
AUGMENTS = ("none", "flip", "crop", "crop+flip")  # engine/vision/augment.py draws them
TOKENIZERS = ("auto", "char", "byte")  # engine/language/text.py; auto: char for gpt, its own for hf:
# gpt's presets (layers, heads, width, context), from one that trains on this 2-core
# machine in seconds to GPT-2 small's shape; engine/language/gpt.py builds them.
GPT_PRESETS = {"tiny": (4, 4, 128, 64), "mini": (6, 6, 384, 256), "small": (8, 8, 512, 512),
               "gpt2": (12, 12, 768, 1024)}


def is_text_data(data: str) -> bool:
    data = data.strip()
    return data in TEXT_DATA or data.startswith("text:")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")
# Text settings are bounded in characters: a run folder name leaves room under the usual
# 255-byte file name limit for "-NNNN" and "-scalars.csv"; paths stay under PATH_MAX.
NAME_MAX = 200
PATH_MAX = 4000


class ConfigError(ValueError):
    """A value breaks a field's rule. ``str()`` is the one line shown to the user."""

    def __init__(self, field_name: str, rule: str, value: Any = None, source: str = ""):
        self.field_name = field_name
        self.rule = rule
        self.value = value
        self.source = source
        where = f"{source}: " if source else ""
        got = "" if value is None else f" (got {value!r})"
        super().__init__(f"{where}{field_name}: {rule}{got}")


def _f(default: Any, help: str, *, choices: tuple | None = None, min: float | None = None,
       gt: float | None = None, max: float | None = None, lt: float | None = None,
       unit: str = "") -> Any:
    meta = {"help": help, "choices": choices, "min": min, "gt": gt, "max": max, "lt": lt,
            "unit": unit}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    model: str = _f("simple_cnn", "built in, tv:NAME, FILE.py:NAME or MODULE:NAME; on "
                    "text: gpt or hf:NAME_OR_PATH (`tbx-tui models`)", max=PATH_MAX)
    data: str = _f("digits", "built in (digits needs no network), folder:PATH, npz:PATH, "
                   "FILE.py:NAME or MODULE:NAME; text: shakespeare_char, text:PATH",
                   max=PATH_MAX)
    image_size: int = _f(0, "folder: resize images to N×N; 0 = as they are (one size)",
                         min=0, max=4096, unit="pixels")
    val_fraction: float = _f(0.1, "folder without val/ or test/: the share held out (seeded)",
                             gt=0.0, lt=1.0)
    augment: str = _f("none", "augmentation on the device per batch: flip (left-right), "
                      "crop (random resized, 0.08-1 of the area, as torchvision's)",
                      choices=AUGMENTS)
    data_memory: int = _f(0, "decoded images larger than this stream from disk through "
                          "DataLoader workers; 0 = a quarter of RAM (and of the GPU's)",
                          min=0, max=1 << 30, unit="MiB")
    workers: int = _f(0, "processes that decode images when streaming; 0 = one per core, "
                      "at most 8", min=0, max=256)
    data_dir: str = _f("./data", "where torchvision datasets are looked for and downloaded",
                       max=PATH_MAX)
    epochs: int = _f(10, "passes over the training set", min=1, max=100_000)
    batch_size: int = _f(32, "samples per step", min=1, max=65_536, unit="samples")
    lr: float = _f(1e-3, "learning rate", gt=0.0, max=100.0)
    optimizer: str = _f("adam", "optimizer", choices=OPTIMIZERS)
    momentum: float = _f(0.9, "SGD momentum (sgd only)", min=0.0, lt=1.0)
    weight_decay: float = _f(0.0, "L2 penalty (decoupled for adamw)", min=0.0, max=10.0)
    lr_schedule: str = _f("constant", "learning-rate schedule over the run", choices=SCHEDULES)
    lr_step_epochs: int = _f(3, "step schedule: epochs between decays", min=1, max=100_000,
                             unit="epochs")
    lr_gamma: float = _f(0.1, "step schedule: factor applied at each decay", gt=0.0, max=1.0)
    seed: int = _f(0, "random seed for weights, data order and synthetic data", min=0,
                   max=2**63 - 1)
    device: str = _f("auto", "training device; auto picks cuda, then mps, then cpu",
                     choices=DEVICES)
    nproc: int = _f(1, "processes, started through torchrun (gloo on CPUs, nccl with one "
                    "GPU each); the global batch is batch size × N", min=1, max=1024)
    amp: bool = _f(False, "bf16 autocast where the device supports it and it is timed "
                   "faster than fp32 on the run's model (else fp32, with a note)")
    log_every: int = _f(100, "steps between scalar logs (Loss/train is their mean)", min=1,
                        max=1_000_000_000, unit="steps")
    hist_every: int = _f(100, "steps between weight/gradient histograms, and at the first "
                         "and last step; 0 = never", min=0, max=1_000_000_000, unit="steps")
    max_steps: int = _f(0, "stop after this many steps; 0 = run all epochs", min=0,
                        max=1_000_000_000_000, unit="steps")
    ckpt_minutes: float = _f(10.0, "minutes between checkpoints (also at each epoch end, "
                             "on a stop and at the end); 0 = only those", min=0.0,
                             max=1_000_000.0, unit="minutes")
    ckpt_every: int = _f(0, "steps between checkpoints; 0 = by time only", min=0,
                         max=1_000_000_000, unit="steps")
    keep_ckpts: int = _f(2, "checkpoints kept in the run folder (the newest)", min=1,
                         max=1000)
    eval_views: bool = _f(True, "at each evaluation of a classifier: the confusion matrix, "
                          "per-class precision/recall/F1, a PR curve per class and the most "
                          "confidently misclassified test images (Eval/, PR/)")
    grad_flow: bool = _f(True, "the gradient norm of each layer at every log interval "
                         "(GradFlow/<layer>): where gradients vanish or explode")
    structure: bool = _f(True, "log the model's module tree with each module's output "
                         "shape and parameters, from the first step (Model/structure), "
                         "and its graph for TensorBoard's Graphs tab where it traces")
    sys_every: float = _f(10.0, "seconds between system metrics (sys/: CPU, RAM, NVIDIA "
                          "GPUs) in the run's event file; 0 = none", min=0.0, max=86_400.0,
                          unit="seconds")
    init_from: str = _f("", "start from these weights: a run folder (its model.pt), a .pt "
                        "state_dict, or imagenet (tv: models); empty = fresh",
                        max=PATH_MAX)
    freeze: str = _f("", "parameters to freeze: name patterns (fc1.*, conv*), comma-separated, "
                     "or backbone (all but the head)", max=1000)
    head_lr: float = _f(0.0, "learning rate of the head (the last layer); 0 = --lr", min=0.0,
                        max=100.0)
    gpt_preset: str = _f("tiny", "gpt's size: tiny (0.8M parameters, trains on a CPU), mini "
                         "(10.8M), small (25.5M), gpt2 (GPT-2 small's shape)",
                         choices=tuple(GPT_PRESETS))
    n_layer: int = _f(0, "gpt: transformer blocks; 0 = the preset's", min=0, max=512)
    n_head: int = _f(0, "gpt: attention heads; 0 = the preset's", min=0, max=512)
    n_embd: int = _f(0, "gpt: width; 0 = the preset's; a multiple of the heads", min=0,
                     max=65_536)
    context: int = _f(0, "context length; 0 = gpt's preset's, an hf: model's own (at most "
                      "1,024)", min=0, max=131_072,
                      unit="tokens")
    dropout: float = _f(0.0, "gpt: dropout after attention, MLP and embeddings", min=0.0,
                        lt=1.0)
    tokenizer: str = _f("auto", "text: char (the corpus's own characters), byte (UTF-8 "
                        "bytes: every corpus shares them), or auto: char for gpt, an hf: "
                        "model's own", choices=TOKENIZERS)
    sample_tokens: int = _f(200, "text: tokens generated at each evaluation (TensorBoard's "
                            "Text tab); 0 = none", min=0, max=100_000, unit="tokens")
    lora_rank: int = _f(0, "LoRA adapters of this rank on --lora-targets, all else "
                        "frozen; 0 = off (full training)", min=0, max=4096)
    lora_alpha: float = _f(16.0, "LoRA's scale is alpha / rank", gt=0.0, max=1e6)
    lora_targets: str = _f("", "the linear layers LoRA adapts: name patterns, "
                           "comma-separated (fc, proj, attn.*); empty = the attention's "
                           "(gpt: attn.qkv,attn.proj; hf: peft's choice)", max=1000)
    compile: bool = _f(False, "torch.compile the model on CUDA (slow to start; for long "
                       "runs)")
    logdir: str = _f("./runs", "directory that holds one folder per run", max=PATH_MAX)
    name: str = _f("", "run folder name; empty = <model>-<data>-<timestamp>", max=NAME_MAX)

    def __post_init__(self) -> None:
        for f in fields(self):
            check_field(f.name, getattr(self, f.name))
        text = is_text_data(self.data)
        if self.is_lm and not text:
            raise ConfigError("data", f"{self.model.strip()} trains on text: shakespeare_char "
                              "or text:PATH", self.data)
        if text and not self.is_lm:
            raise ConfigError("model", "text data trains a language model: gpt or "
                              "hf:NAME_OR_PATH", self.model)
        if self.lora_rank and not self.is_lm:
            raise ConfigError("lora_rank", "LoRA adapts language models; for image models "
                              "use --freeze", self.lora_rank)
        if self.is_hf:
            self._check_hf()
        elif self.is_lm:
            layers, heads, width, context = self.gpt_shape()
            if width % heads:
                raise ConfigError("n_embd", f"must be a multiple of the heads ({heads}); "
                                  f"the width is {width}", self.n_embd)

    def _check_hf(self) -> None:
        """hf: models bring their own shape, tokenizer and weights."""
        for name in GPT_SHAPE:
            if getattr(self, name) != FIELDS[name].default:
                raise ConfigError(name, "sets gpt's shape; hf: models keep their own",
                                  getattr(self, name))
        if self.tokenizer != "auto":
            raise ConfigError("tokenizer", "hf: models read text with their own tokenizer: "
                              "leave it at auto", self.tokenizer)
        if self.init_from:
            raise ConfigError("init_from", "hf: models start from their own weights; to "
                              "fine-tune a finished run use --model hf:RUN/hf, to go on "
                              "with one --resume RUN", self.init_from)

    @property
    def is_lm(self) -> bool:
        return is_lm_model(self.model)

    @property
    def is_hf(self) -> bool:
        return is_hf_model(self.model)

    @property
    def text_tokenizer(self) -> str:
        """char, byte or hf: what ``tokenizer`` means for this model."""
        if self.is_hf:
            return "hf"
        return "char" if self.tokenizer == "auto" else self.tokenizer

    def gpt_shape(self) -> tuple[int, int, int, int]:
        """gpt's (layers, heads, width, context): the preset, with this run's overrides."""
        base = GPT_PRESETS[self.gpt_preset]
        return tuple(mine or theirs for mine, theirs in
                     zip((self.n_layer, self.n_head, self.n_embd, self.context), base))

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def default_name(self) -> str:
        # tv:resnet50 -> resnet50, folder:/data/pets -> pets: a plain folder name
        return f"{slug(self.model)}-{slug(self.data)}-{time.strftime('%Y%m%d-%H%M%S')}"

    def hparams(self) -> dict[str, Any]:
        """What TensorBoard's HParams tab shows: everything that changes the result."""
        # The data path and its workers change the speed only: batches come from the
        # same seeded order either way.
        skip = {"data_dir", "logdir", "name", "data_memory", "workers", "sys_every", "compile",
                "eval_views", "structure", "grad_flow",
                *CHECKPOINTING, *(IMAGE_ONLY if self.is_lm else LM_ONLY),
                *(GPT_SHAPE if self.is_hf else ())}
        return {k: v for k, v in self.to_dict().items() if k not in skip}


FIELDS = {f.name: f for f in fields(RunConfig)}
# Settings that mean something for one kind of model only: left out of the other's HParams.
LM_ONLY = ("gpt_preset", "n_layer", "n_head", "n_embd", "context", "dropout", "tokenizer",
           "sample_tokens", "lora_rank", "lora_alpha", "lora_targets")
GPT_SHAPE = ("gpt_preset", "n_layer", "n_head", "n_embd", "dropout")  # not for hf: models
IMAGE_ONLY = ("image_size", "val_fraction", "augment", "data_memory", "workers")
CHECKPOINTING = ("ckpt_minutes", "ckpt_every", "keep_ckpts")
# What --resume may change: how long to go on, how often to log and checkpoint, where the
# data is read from and how. Everything else would make the continuation another run.
RESUMABLE = ("epochs", "max_steps", "log_every", "hist_every", "sys_every", "eval_views",
             "structure", "grad_flow", *CHECKPOINTING,
             "device", "data_dir", "data_memory", "workers")


def run_names(name: str, limit: int = 10_000):
    """A run folder's name, then name-2, name-3…: the engine takes the first free one,
    and the app names a group's folder the same way before the group starts."""
    yield name
    for n in range(2, limit):
        yield f"{name}-{n}"


def field_type(name: str) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool}[FIELDS[name].type]


def _number(value: float) -> str:
    """A bound as a person writes it: 1,000,000,000 for ints, 0.001 or 1e-08 for floats."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"


def describe_rule(name: str) -> str:
    """The bounds of a field in words, for help texts."""
    m = FIELDS[name].metadata
    if field_type(name) is str:
        return f"at most {m['max']:,} characters" if m["max"] is not None else ""
    parts = []
    for key, op in (("gt", ">"), ("min", ">="), ("lt", "<"), ("max", "<=")):
        if m[key] is not None:
            parts.append(f"{op} {_number(m[key])}")
    return ", ".join(parts)


def check_field(name: str, value: Any) -> None:
    """Raise ConfigError if ``value`` is not allowed for field ``name``."""
    if name not in FIELDS:
        raise ConfigError(name, f"unknown setting; known: {', '.join(FIELDS)}")
    m = FIELDS[name].metadata
    kind = field_type(name)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(name, "must be true or false", value)
        return
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(name, "must be a whole number", value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(name, "must be a number", value)
        if not math.isfinite(value):
            raise ConfigError(name, "must be finite", value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(name, "must be text", value)
        if m["max"] is not None and len(value) > m["max"]:
            raise ConfigError(name, f"must be at most {m['max']:,} characters (got "
                              f"{len(value):,})")
        if "\x00" in value:
            raise ConfigError(name, "must not contain a NUL character")
        return _check_text(name, value, m)
    if m["gt"] is not None and not value > m["gt"]:
        raise ConfigError(name, f"must be > {_number(m['gt'])}", value)
    if m["min"] is not None and not value >= m["min"]:
        raise ConfigError(name, f"must be >= {_number(m['min'])}", value)
    if m["lt"] is not None and not value < m["lt"]:
        raise ConfigError(name, f"must be < {_number(m['lt'])}", value)
    if m["max"] is not None and not value <= m["max"]:
        raise ConfigError(name, f"must be <= {_number(m['max'])}", value)


def _check_text(name: str, value: str, m) -> None:
    if m["choices"] is not None and value not in m["choices"]:
        raise ConfigError(name, f"must be one of {', '.join(m['choices'])}", value)
    if name == "model":
        try:
            parse_model(value)
        except ValueError as e:
            raise ConfigError(name, str(e), value) from None
    if name == "data":
        try:
            parse_data(value)
        except ValueError as e:
            raise ConfigError(name, str(e), value) from None
    if name == "init_from" and value and value != "imagenet" and \
            not os.path.exists(os.path.expanduser(value)):
        raise ConfigError(name, "no such run folder or file (or imagenet)", value)
    if name in ("data_dir", "logdir") and not value.strip():
        raise ConfigError(name, "must not be empty", value)
    if name == "name" and value and not _NAME_RE.match(value):
        raise ConfigError(name, "must be a plain folder name: letters, digits, . _ + = -",
                          value)


def coerce(name: str, value: Any) -> Any:
    """TOML gives ints where floats are meant (lr = 1); accept those, nothing looser."""
    if name in FIELDS and field_type(name) is float and type(value) is int:
        return float(value)
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a run file into checked field values. Raises ConfigError naming the file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--config", f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("--config", f"cannot read {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("--config", f"{path} is not valid TOML: {e}") from None
    except RecursionError:  # a = [[[[… nested past what the parser can follow
        raise ConfigError("--config", f"{path} is not valid TOML: nested too deep") from None
    values = {}
    for key, value in raw.items():
        value = coerce(key, value)
        try:
            check_field(key, value)
        except ConfigError as e:
            raise ConfigError(e.field_name, e.rule, e.value, source=str(path)) from None
        values[key] = value
    return values


def build(file_values: dict[str, Any] | None = None,
          overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults, then the file, then the command line: later wins."""
    merged = {**(file_values or {}), **(overrides or {})}
    return RunConfig(**merged)


def to_toml(config: RunConfig) -> str:
    import tomli_w

    header = "# tbx-tui run file: re-run with  tbx-tui --config <this file>\n"
    return header + tomli_w.dumps(config.to_dict())
