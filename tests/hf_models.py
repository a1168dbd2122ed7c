"""A GPT-2-style Hugging Face model with random weights and a byte-level BPE tokenizer
trained on the given text, written with save_pretrained: an hf: model without a network
(the tests' tiny one; gpu_check.sh's GPT-2-small-sized one).

    python tests/hf_models.py OUT_DIR TEXT_FILE [--vocab N --layers L --width W
                              --heads H --positions P]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def build_gpt2(folder: Path, text: str, vocab: int, layers: int, width: int, heads: int,
               positions: int, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from transformers.utils import logging

    logging.disable_progress_bar()
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([text[i:i + 10_000] for i in range(0, len(text), 10_000)],
                            trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=positions,
                                       n_embd=width, n_layer=layers, n_head=heads,
                                       bos_token_id=0, eos_token_id=0))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("text", type=Path)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--positions", type=int, default=1024)
    a = p.parse_args()
    build_gpt2(a.out, a.text.read_text("utf-8"), a.vocab, a.layers, a.width, a.heads,
               a.positions)
    print(f"wrote {a.out}")
