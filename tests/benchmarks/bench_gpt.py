"""Benchmark: our gpt trainer against a plain nanoGPT-style loop, same process, same recipe.

Recipe (both): the same GPT (engine/language/gpt.py, the tiny preset unless told), the same batch
and context, AdamW lr 1e-3, random windows of tiny-Shakespeare's characters. Plain loop:
nanoGPT's get_batch (torch.randint starts, a stack of slices), forward, backward, step; no
logging at all. Ours: the Trainer with its event file, logging every 100 steps, no
histograms, no samples. Timed from step LOG to the last step, alternating rounds; the best
round of each and the median of the paired ratios are printed.

With --hist: the cost of weight/gradient histograms at the default interval (every 100
steps) on a model of 10M+ parameters, as a share of training time: the mean time of a
training step and of one histogram summary (every weight and gradient, as the Trainer
takes them), measured in turn on the same model, then hist / (100 × step).

    python tests/benchmarks/bench_gpt.py [--data-dir ../shared/data] [--steps 400]
    python tests/benchmarks/bench_gpt.py --hist --preset mini --steps 200
    python tests/benchmarks/bench_gpt.py --device cuda --preset gpt2 --amp --compile
    python tests/benchmarks/bench_gpt.py --hf [--layers 4 --width 128]

With --hf: the same comparison for an hf: model (a GPT-2 with random weights and a BPE
of 1,024 tokens built here by tests/hf_models.py, context 128): the plain loop trains
``AutoModelForCausalLM`` itself (``model(input_ids=x).logits``), ours ``--model hf:…``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine import TensorBoardSink, Trainer  # noqa: E402
from tbx_tui.engine.language.gpt import GPT, shape_for  # noqa: E402
from tbx_tui.engine.tasks.language import peak_flops  # noqa: E402
from tbx_tui.engine.output.sinks import NullSink  # noqa: E402
from tbx_tui.engine.language.text import load_text  # noqa: E402

LOG = 100


def plain_model(cfg: RunConfig, vocab: int):
    """The model as a plain loop would build it: (ids -> logits, the module to
    optimise): our gpt, or the Hugging Face model itself (no wrapper)."""
    if not cfg.is_hf:
        model = GPT(shape_for(cfg, vocab))
        return model, model
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(cfg.model[len("hf:"):])
    lm.train()  # from_pretrained gives eval mode: no dropout, which would flatter it
    return lambda x: lm(input_ids=x).logits, lm


def plain_loop(cfg: RunConfig, data, steps: int, device: torch.device) -> float:
    """nanoGPT's train.py, stripped to the loop. Returns tokens/s after step LOG."""
    torch.manual_seed(0)
    model, module = plain_model(cfg, data.num_classes)
    module.to(device)  # in place: the function calls the same module
    if cfg.compile:
        model = torch.compile(model)
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train = data.tokens[:data.n_train_tokens]
    b, t = cfg.batch_size, data.context
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp)
    t0 = None
    for i in range(steps):
        if i == LOG:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        ix = torch.randint(len(train) - t - 1, (b,))
        x = torch.stack([train[j:j + t] for j in ix])
        y = torch.stack([train[j + 1:j + 1 + t] for j in ix])
        with amp:
            logits = model(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (steps - LOG) * b * t / (time.perf_counter() - t0)


class _Clock(NullSink):
    def __init__(self):
        self.times = {}

    def scalars(self, step, values):
        self.times[step + 1] = time.perf_counter()


def ours(cfg: RunConfig, data, steps: int, logdir: str, hist_every: int) -> float:
    run = cfg.replace(max_steps=steps, log_every=LOG, hist_every=hist_every, sample_tokens=0,
                      sys_every=0, logdir=logdir)
    clock = _Clock()
    Trainer(run, [TensorBoardSink(), clock], data=data).run()
    return (steps - LOG) * cfg.batch_size * data.context / (clock.times[steps] -
                                                             clock.times[LOG])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--steps", type=int, default=400, help="steps per round (timed after 100)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--layers", type=int, default=0, help="override the preset's (0: keep)")
    p.add_argument("--width", type=int, default=0, help="override the preset's (0: keep)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (both)")
    p.add_argument("--compile", action="store_true", help="torch.compile (both)")
    p.add_argument("--hist", action="store_true",
                   help="measure histograms every 100 steps against none, instead")
    p.add_argument("--hf", action="store_true",
                   help="a Hugging Face GPT-2 (hf:) instead of our gpt")
    args = p.parse_args()
    if args.steps % LOG or args.steps <= LOG:
        p.error(f"--steps must be a multiple of {LOG} above {LOG}")
    if args.hf and args.hist:
        p.error("--hist measures our gpt")
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        if args.hf:
            return compare(hf_config(args, Path(tmp)), args, device)
        cfg = RunConfig(model="gpt", data="shakespeare_char", data_dir=args.data_dir,
                        gpt_preset=args.preset, n_layer=args.layers, n_embd=args.width,
                        batch_size=args.batch_size, optimizer="adamw",
                        lr=1e-3, device=args.device, amp=args.amp, compile=args.compile)
        return compare(cfg, args, device)


def hf_config(args, tmp: Path) -> RunConfig:
    sys.path.insert(0, str(ROOT / "tests"))
    from hf_models import build_gpt2

    text = (Path(args.data_dir) / "tinyshakespeare" / "input.txt").read_text("utf-8")
    folder = build_gpt2(tmp / "gpt2", text[:200_000], 1024, args.layers or 4,
                        args.width or 128, 4, 128)
    return RunConfig(model=f"hf:{folder}", data="shakespeare_char", data_dir=args.data_dir,
                     context=128, batch_size=args.batch_size, optimizer="adamw", lr=1e-3,
                     device=args.device, amp=args.amp, compile=args.compile)


def compare(cfg: RunConfig, args, device: torch.device) -> int:
    notes: list[str] = []
    if cfg.is_hf:
        from tbx_tui.engine.language.hf import load_tokenizer
        from tbx_tui.engine.language.text import Tokenizer

        tokenizer, context = Tokenizer("hf", hf=load_tokenizer(cfg.model)), cfg.context
    else:
        tokenizer, context = "char", cfg.gpt_shape()[3]
    data = load_text("shakespeare_char", args.data_dir, tokenizer, context, cfg.batch_size,
                     notes).to(device)
    model = plain_model(cfg, data.num_classes)[1]
    if cfg.is_hf:
        from tbx_tui.engine.language.hf import HFCausalLM

        model = HFCausalLM(model, cfg.model, context)
    params = sum(p.numel() for p in model.parameters())
    what = f"hf GPT-2 {args.layers or 4}×{args.width or 128}, context {context}" if \
        cfg.is_hf else f"gpt {args.preset} {cfg.gpt_shape()}"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}, "
          f"{what} ({params / 1e6:.1f}M parameters), batch "
          f"{cfg.batch_size}, {args.steps} steps/round, {args.rounds} rounds"
          + (", bf16" if args.amp else "") + (", compiled" if args.compile else ""))
    if args.hist:
        return hist_share(cfg, data, device, args.rounds)
    plain = "plain loop on the HF model" if cfg.is_hf else "plain nanoGPT-style loop"
    rows = {plain: [], "tbx-tui Trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rows[plain].append(plain_loop(cfg, data, args.steps, device))
            rows["tbx-tui Trainer"].append(ours(cfg, data, args.steps, f"{tmp}/o{r}", 0))
    base = next(iter(rows.values()))
    peak = peak_flops(device)
    print(f"{'':32}{'best tokens/s':>14}{'median':>10}{'ratio of best':>15}"
          f"{'median ratio':>14}" + (f"{'MFU':>8}" if peak else ""))
    for name, values in rows.items():
        paired = statistics.median(v / b for v, b in zip(values, base))
        mfu = (f"{100 * max(values) * model.flops_per_token() / peak:7.1f}%"
               if peak else "")
        print(f"{name:32}{max(values):14,.0f}{statistics.median(values):10,.0f}"
              f"{max(values) / max(base):14.2f}x{paired:13.2f}x{mfu}")
    return 0


def hist_share(cfg: RunConfig, data, device: torch.device, rounds: int) -> int:
    from tbx_tui.engine.output.histograms import summarize

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(0)
    model = GPT(shape_for(cfg, data.num_classes)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    starts = data.draw_order(torch.Generator().manual_seed(0))
    batches = data.epoch(starts, cfg.batch_size)

    def step():
        x, y = next(batches)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=False)  # the gradients stay for the histograms
        loss.backward()
        opt.step()

    def histograms():
        tensors = {}
        for name, p in model.named_parameters():
            tensors[f"weights/{name}"] = p
            tensors[f"grads/{name}"] = p.grad
        return summarize(tensors)

    for _ in range(3):
        step()
    histograms()
    steps, hists = [], []
    for _ in range(rounds):
        sync()
        t0 = time.perf_counter()
        for _ in range(5):
            step()
        sync()
        steps.append((time.perf_counter() - t0) / 5)
        t0 = time.perf_counter()
        for _ in range(3):
            histograms()
        sync()
        hists.append((time.perf_counter() - t0) / 3)
    t_step, t_hist = statistics.median(steps), statistics.median(hists)
    print(f"training step {1000 * t_step:.1f} ms, one histogram summary of "
          f"{2 * len(list(model.parameters()))} tensors {1000 * t_hist:.1f} ms")
    print(f"histograms every {LOG} steps cost {100 * t_hist / (LOG * t_step):.2f}% of "
          f"training time (goal <= 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
