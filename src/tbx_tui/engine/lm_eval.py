"""A language model's evaluation: loss, perplexity and next-token accuracy over the
validation windows (summed over the ranks), then a sample generated from the start of
the validation text, written as text (TensorBoard's Text tab, the dashboard's samples).

Sampling uses a generator of its own, seeded by the run's seed and the step: the global
RNG — and with it the exact resume of the training order — is left untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import distributed

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
    from .resuming import bare_model

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
