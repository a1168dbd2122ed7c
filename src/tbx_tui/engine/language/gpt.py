"""``gpt``: a decoder-only transformer, torch only, nanoGPT's shape.

Pre-norm blocks (LayerNorm → causal self-attention → residual, LayerNorm → MLP →
residual), attention through ``F.scaled_dot_product_attention`` (flash / memory-efficient
kernels where the device has them), the token embedding tied to the output layer, and
GPT-2's initialisation (normal 0.02; residual projections scaled by 1/√(2·layers)).

Its size is a preset (``--gpt-preset``, config.GPT_PRESETS) that ``--n-layer``,
``--n-head``, ``--n-embd`` and ``--context`` override one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class GPTShape:
    n_layer: int
    n_head: int
    n_embd: int
    context: int
    dropout: float = 0.0
    vocab: int = 256

    def flops_per_token(self) -> float:
        """Training FLOPs per token (forward + backward), PaLM's appendix B count:
        6 × parameters of the matrices + 12 × layers × width × context (attention)."""
        n = 12 * self.n_layer * self.n_embd ** 2 + self.vocab * self.n_embd
        return 6 * n + 12 * self.n_layer * self.n_embd * self.context


def shape_for(cfg, vocab: int) -> GPTShape:
    """The run's preset with its overrides (config.GPT_PRESETS), for this vocabulary."""
    layers, heads, width, context = cfg.gpt_shape()
    return GPTShape(layers, heads, width, context, cfg.dropout, vocab)


class SelfAttention(nn.Module):
    def __init__(self, s: GPTShape):
        super().__init__()
        self.n_head, self.dropout = s.n_head, s.dropout
        self.qkv = nn.Linear(s.n_embd, 3 * s.n_embd)
        self.proj = nn.Linear(s.n_embd, s.n_embd)
        self.resid_drop = nn.Dropout(s.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        drop = self.dropout if self.training else 0.0
        if q.dtype == torch.bfloat16 and q.device.type == "cpu":
            # CPU's bf16 flash-attention backward ran 5× slower than fp32's (torch's
            # profiler, tiny preset: 27 ms vs 5 ms a step) while bf16 matmuls ran 4×
            # faster: under --amp the matmuls stay bf16 and attention runs in fp32.
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                   is_causal=True, dropout_p=drop)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))


class Block(nn.Module):
    def __init__(self, s: GPTShape):
        super().__init__()
        self.ln1 = nn.LayerNorm(s.n_embd)
        self.attn = SelfAttention(s)
        self.ln2 = nn.LayerNorm(s.n_embd)
        self.fc = nn.Linear(s.n_embd, 4 * s.n_embd)
        self.proj = nn.Linear(4 * s.n_embd, s.n_embd)
        self.drop = nn.Dropout(s.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.drop(self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, s: GPTShape):
        super().__init__()
        if s.n_embd % s.n_head:
            raise ValueError(f"n_embd ({s.n_embd}) must be a multiple of n_head ({s.n_head})")
        self.shape = s
        self.tok = nn.Embedding(s.vocab, s.n_embd)
        self.pos = nn.Embedding(s.context, s.n_embd)
        self.drop = nn.Dropout(s.dropout)
        self.blocks = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.ln_f = nn.LayerNorm(s.n_embd)
        self.head = nn.Linear(s.n_embd, s.vocab, bias=False)
        self.head.weight = self.tok.weight  # tied: one matrix, read and written both ways
        self.apply(self._init)
        for name, p in self.named_parameters():  # residual projections, as GPT-2
            if name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * s.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids → (B, T, vocab) logits."""
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok(idx) + self.pos(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def flops_per_token(self) -> float:
        return self.shape.flops_per_token()

    def generate(self, idx: torch.Tensor, tokens: int, temperature: float = 1.0,
                 top_k: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
        return generate(self, idx, tokens, self.shape.context, temperature, top_k, generator)


@torch.no_grad()
def generate(model, idx: torch.Tensor, tokens: int, context: int, temperature: float = 1.0,
             top_k: int = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Append ``tokens`` sampled tokens to ``idx`` (B, T); temperature 0 is greedy.
    ``model(ids)`` gives (B, T, vocab) logits. Its own ``generator``: the training RNG
    (and with it exact resume) is never touched."""
    for _ in range(tokens):
        logits = model(idx[:, -context:])[:, -1, :].float()
        if temperature <= 0:
            nxt = logits.argmax(-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
    return idx
