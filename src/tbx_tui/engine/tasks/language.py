"""Language modelling: next-token cross-entropy over windows of text, with a GPT or a
Hugging Face causal LM (``hf:``), LoRA on either. Its evaluation: loss, perplexity and
next-token accuracy over the validation windows (summed over the ranks), then a sample
generated from the start of the validation text, written as text (TensorBoard's Text tab,
the dashboard's samples). A finished run keeps its tokenizer beside the weights.

Sampling uses a generator of its own, seeded by the run's seed and the step: the global
RNG — and with it the exact resume of the training order — is left untouched.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ...atomic import atomic_file, atomic_write
from ...refs import is_hf_model, is_lm_model
from ...reports import LANGUAGE
from ..runtime import distributed
from ..runtime.distributed import bare_model
from ..runtime.errors import InitUnusable
from .base import Task

PROMPT_TOKENS = 32
SAMPLE_TAG = "Samples/val"

# Dense bf16 tensor FLOP/s by GPU name (vendors' datasheets), for MFU; others: no MFU.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12,
             "L4": 121e12, "RTX 4090": 165e12, "RTX 3090": 71e12}


def peak_flops(device: torch.device) -> float:
    if device.type != "cuda":
        return 0.0
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16.items() if k in name), 0.0)


@torch.no_grad()
def evaluate_text(trainer, model, data, autocast, device) -> dict[str, float]:
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, tokens
    for x, y in data.test_batches(data.eval_batch, trainer.world.rank, trainer.world.size):
        if trainer.control.aborted:
            break
        with autocast:
            logits = model(x)
        logits = logits.float().flatten(0, -2)
        totals[0] += F.cross_entropy(logits, y.flatten(), reduction="sum").double()
        totals[1] += (logits.argmax(-1) == y.flatten()).sum()
        totals[2] += y.numel()
    if trainer.world.active:
        distributed.sum_(totals)
    loss_sum, correct, n = totals.tolist()  # SYNC
    loss = loss_sum / max(n, 1)
    metrics = {"Loss/val": loss, "Perplexity/val": math.exp(min(loss, 80.0)),
               "Accuracy/val": correct / max(n, 1)}
    cfg = trainer.config
    if cfg.sample_tokens and trainer.world.main and not trainer.control.aborted:
        text = sample(bare_model(model), data, cfg.sample_tokens, cfg.seed + trainer._step,
                      autocast, device)
        for sink in trainer.sinks:
            if hasattr(sink, "text"):
                sink.text(max(trainer._step - 1, 0), SAMPLE_TAG, text)
    return metrics


def sample(model, data, tokens: int, seed: int, autocast, device,
           temperature: float = 1.0, top_k: int = 0) -> str:
    """The start of the validation text, then ``tokens`` generated after it."""
    start = data.n_train_tokens
    prompt = data.tokens[start:start + PROMPT_TOKENS][None, :].to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    with autocast:
        out = model.generate(prompt, tokens, temperature, top_k, generator=gen)
    return data.tokenizer.decode(out[0].tolist())


class LanguageModelling(Task):
    """``--model gpt`` and ``hf:NAME`` are this task's model sources; the model's own
    tokenizer (hf) or the run's (char, byte) cuts the text into windows."""

    report = LANGUAGE
    unit = "tokens"

    @staticmethod
    def reads(config) -> bool:
        return is_lm_model(config.model)

    @staticmethod
    def claims(config, data) -> bool:
        return getattr(data, "kind", "") == "text"

    @property
    def hf(self) -> bool:
        return is_hf_model(self.config.model)

    @classmethod
    def load(cls, config, device, notes, resume_dir):
        from ..language.text import Tokenizer, load_text

        if is_hf_model(config.model):  # the model's own tokenizer and context limit
            from ..language import hf

            tokenizer = Tokenizer("hf", hf=hf.load_tokenizer(config.model))
            context = hf.context_for(config.model, config.context)
            base = None  # its tokenizer comes with the model
        else:
            tokenizer, context = config.text_tokenizer, config.gpt_shape()[3]
            base = _base_tokenizer(config, resume_dir)
        return load_text(config.data, config.data_dir, tokenizer, context, config.batch_size,
                         notes, base)

    @property
    def per_sample(self) -> int:
        return self.data.context

    def build_model(self):
        if self.hf:
            from ..language.hf import load_model

            return load_model(self.config.model, self.data.context, self.data.num_classes)
        from ..language.gpt import GPT, shape_for

        return GPT(shape_for(self.config, self.data.num_classes))

    def adapt(self, model, init, notes):
        cfg = self.config
        if not cfg.lora_rank:
            return
        if self.hf:
            from ..language.hf import apply_peft_lora

            wrapped = apply_peft_lora(model, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets)
            kept = "hf/ will hold the merged weights, adapter/ the peft adapter alone"
        else:
            from ..language.lora import apply_lora

            try:
                wrapped = apply_lora(model, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets)
            except ValueError as e:  # "lora_targets: … matches no linear layer": exit 2
                raise InitUnusable(str(e)) from None
            kept = "model.pt will hold the merged weights, adapter.pt the adapter alone"
        init.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        init.frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        notes.append(f"LoRA rank {cfg.lora_rank}, alpha {cfg.lora_alpha:g} on "
                     f"{len(wrapped)} layers ({', '.join(wrapped[:3])}…); {kept}")

    def flops_per_unit(self, model, device, world_size):
        peak = peak_flops(device)  # the group's tokens/s over the group's peak
        return bare_model(model).flops_per_token() / (peak * world_size) if peak else 0.0

    def write_files(self, run_dir):
        # For `tbx-tui sample` and runs fine-tuned from this one.
        atomic_write(run_dir / "tokenizer.json", self.data.tokenizer.to_json())
        if self.hf:  # its files, in the folder the weights will join
            from ..language.hf import save_tokenizer

            save_tokenizer(self.data.tokenizer.hf, run_dir)

    def order(self, generator):
        return self.data.draw_order(generator)  # window starts (language/text.py)

    def forward(self, model, x, y):
        logits = model(x)  # (B, T, vocab)
        return logits, F.cross_entropy(logits.flatten(0, -2), y.flatten())

    def evaluate(self, run, model, autocast, device):
        return evaluate_text(run, model, self.data, autocast, device)

    def save(self, model, run_dir):
        bare = bare_model(model)
        if self.hf:  # a save_pretrained folder, not model.pt (language/hf.py)
            from ..language.hf import save

            save(bare, run_dir)
            return
        from ..language.lora import adapter_state, has_lora, merged_state

        if not has_lora(bare):
            return super().save(model, run_dir)
        cfg = self.config  # merged: loads as a plain gpt; the adapter beside it
        with atomic_file(run_dir / "adapter.pt") as f:
            torch.save(adapter_state(bare, cfg.lora_rank, cfg.lora_alpha, cfg.lora_targets), f)
        with atomic_file(run_dir / "model.pt") as f:
            torch.save(merged_state(bare), f)


def _base_tokenizer(cfg, resume_dir: Path | None):
    """The tokenizer whose ids the weights we start from were trained on: the resumed
    run's, or the --init-from run's (refused when it is another kind)."""
    from ..language.text import Tokenizer

    src = resume_dir or (Path(cfg.init_from).expanduser() if cfg.init_from else None)
    if src is None:
        return None
    folder = src if src.is_dir() else \
        src.parent.parent if src.parent.name == "checkpoints" else src.parent
    if not (folder / "tokenizer.json").is_file():
        raise InitUnusable(f"init_from: {folder} has no tokenizer.json: a language "
                           "model's weights need the tokenizer they were trained with")
    tok = Tokenizer.load(folder)
    if tok.kind != cfg.text_tokenizer:
        raise InitUnusable(f"init_from: {folder} was trained with the {tok.kind} "
                           f"tokenizer, this run asks for {cfg.text_tokenizer}; use "
                           f"--tokenizer {tok.kind}")
    return tok
