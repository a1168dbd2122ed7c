"""Hugging Face causal LMs (`--model hf:…`) without a network: a tiny random GPT-2 and a
BPE tokenizer built here and saved with save_pretrained, fine-tuned in full through the
CLI (the real from_pretrained path), then with LoRA through peft on another text; every
way an hf: model can be unusable says so in one line."""

from __future__ import annotations

import shutil

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, SHARED_DATA, accumulator, cli, only_run

pytest.importorskip("transformers", reason="the [llm] extra (transformers, peft) is not "
                    "installed: pip install -e '.[llm]'")
pytest.importorskip("peft", reason="the [llm] extra (transformers, peft) is not installed")

SHAKESPEARE = SHARED_DATA / "tinyshakespeare" / "input.txt"
VOCAB = 384


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-block GPT-2 of width 32 with random weights and a byte-level BPE of 384 tokens
    trained on the first 200 kB of tiny-Shakespeare, as save_pretrained writes them."""
    if not SHAKESPEARE.is_file():
        pytest.skip(f"tiny-Shakespeare not found at {SHAKESPEARE}")
    from hf_models import build_gpt2

    return build_gpt2(tmp_path_factory.mktemp("hf") / "tiny-gpt2",
                      SHAKESPEARE.read_text("utf-8")[:200_000], VOCAB, layers=2, width=32,
                      heads=2, positions=128)


@pytest.fixture(scope="module")
def pretrained_run(tiny_model, tmp_path_factory):
    """The tiny model fully fine-tuned on 100 kB of Shakespeare by the CLI."""
    work = tmp_path_factory.mktemp("full")
    corpus = work / "shakespeare.txt"
    corpus.write_text(SHAKESPEARE.read_text("utf-8")[:100_000], "utf-8")
    r = cli("--no-ui", "--model", f"hf:{tiny_model}", "--data", f"text:{corpus}",
            "--context", "64", "--batch-size", "16", "--lr", "3e-3", "--max-steps", "80",
            "--log-every", "20", "--hist-every", "40", "--sys-every", "0",
            "--sample-tokens", "30", "--logdir", "runs", cwd=work)
    return r, work


def test_full_fine_tuning_through_from_pretrained(pretrained_run, tiny_model, capsys):
    from transformers import AutoModelForCausalLM

    r, work = pretrained_run
    assert r.returncode == 0, r.stderr
    assert f"(hf tokenizer, {VOCAB} symbols)" in r.stdout and "windows of 64" in r.stdout
    run = only_run(work / "runs")
    assert run.name.startswith("tiny-gpt2-shakespeare-")
    assert f'model = "hf:{tiny_model}"' in (run / "config.toml").read_text()
    ea = accumulator(run)
    val = [e.value for e in ea.Scalars("Loss/val")]
    # Random weights score about ln(384) = 5.95; 80 steps of 16×64 tokens learn the
    # commonest tokens (measured: 4.50 after the first epoch's 44 steps, 4.11 at 80).
    assert val[-1] < val[0] and val[-1] < math.log(VOCAB) - 1.5, val
    assert ea.Scalars("Throughput/tokens_per_s")[-1].value > 0
    assert "weights/transformer.h.0.attn.c_attn.weight" in ea.Tags()["histograms"]
    assert ea.Tensors("Samples/val/text_summary")[-1].step == 79

    # The run's hf/ is a save_pretrained folder: the trained weights, its tokenizer.
    saved = AutoModelForCausalLM.from_pretrained(run / "hf")
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not torch.equal(saved.transformer.wte.weight, base.transformer.wte.weight)
    assert {"tokenizer.json", "config.json", "model.safetensors"} <= \
        {p.name for p in (run / "hf").iterdir()}

    from tbx_tui.cli import main

    capsys.readouterr()
    assert main(["sample", str(run), "--prompt", "ROMEO:", "--tokens", "20",
                 "--temperature", "0"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("ROMEO:") and len(out.out) > len("ROMEO:") + 5
    assert "(hf/), 20 tokens" in out.err


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft on transformers 5
def test_lora_through_peft_keeps_the_base_and_learns_another_text(pretrained_run, tmp_path):
    """LoRA on the fine-tuned run's hf/ model, trained on this project's README: the base
    weights stay bit-identical, the adapter changes, the validation loss falls; adapter/
    on the base gives the merged hf/ model's logits."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from tbx_tui.config import RunConfig
    from tbx_tui.engine import TensorBoardSink, Trainer
    from tbx_tui.engine.run.checkpoint import load_latest

    r, work = pretrained_run
    assert r.returncode == 0, r.stderr
    base_dir = only_run(work / "runs") / "hf"
    cfg = RunConfig(model=f"hf:{base_dir}", data=f"text:{ROOT / 'README.md'}", context=64,
                    batch_size=16, lr=1e-2, lora_rank=4, lora_alpha=8.0, epochs=8,
                    log_every=10, hist_every=0, sys_every=0, sample_tokens=0,
                    logdir=str(tmp_path / "runs"))
    sink = TensorBoardSink()
    result = Trainer(cfg, [sink]).run()
    assert result.state.name == "FINISHED", result.message
    run = result.run_dir
    assert run.name.startswith(f"{base_dir.parent.name}-README-")  # named for the base run
    ea = accumulator(run)
    logged = ea.Scalars("Loss/val")[-1].value

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    base_state = base.state_dict()
    _, ckpt = load_latest(run)
    trained = ckpt["model"]
    prefix = "lm.base_model.model."
    kept = {k[len(prefix):].replace(".base_layer", ""): v for k, v in trained.items()
            if "lora_" not in k}
    assert set(kept) == set(base_state)
    assert all(torch.equal(kept[k], base_state[k]) for k in base_state)  # bit-identical
    adapter = load_file(run / "adapter" / "adapter_model.safetensors")
    assert adapter and all(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)

    ids = torch.randint(0, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(run / "hf")(ids).logits
        adapted = PeftModel.from_pretrained(base, run / "adapter")(input_ids=ids).logits
    assert torch.allclose(merged, adapted, atol=1e-4)
    assert not torch.allclose(merged, AutoModelForCausalLM.from_pretrained(base_dir)(ids)
                              .logits, atol=1e-3)

    # The validation loss falls: the base model against the merged one, on the run's own
    # validation windows (the first logged evaluation comes after a whole epoch).
    from tbx_tui.engine.language.hf import load_tokenizer
    from tbx_tui.engine.language.text import Tokenizer, load_text

    data = load_text(cfg.data, "", Tokenizer("hf", hf=load_tokenizer(cfg.model)), 64, 16, [])

    @torch.no_grad()
    def val_loss(model):
        model.eval()
        total = n = 0
        for x, y in data.test_batches(16):
            logits = model(input_ids=x).logits
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
            n += y.numel()
        return float(total / n)

    before = val_loss(AutoModelForCausalLM.from_pretrained(base_dir))
    after = val_loss(AutoModelForCausalLM.from_pretrained(run / "hf"))
    assert abs(after - logged) < 1e-3  # the run's own last evaluation, recomputed
    assert after < before - 0.2, (before, after)


def _refused(capsys, *args) -> tuple[int, str]:
    from tbx_tui.cli import main

    try:
        code = main(["--no-ui", *args])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    return code, capsys.readouterr().err.strip()


def test_every_unusable_hf_model_says_why_in_one_line(tiny_model, tmp_path, capsys,
                                                      monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(SHAKESPEARE.read_text("utf-8")[:20_000], "utf-8")
    common = ("--data", f"text:{corpus}", "--logdir", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, err = _refused(capsys, "--model", "hf:someone/not-cached", *common)
    assert code == 1 and "hf:someone/not-cached is not a local folder nor in the Hugging " \
        "Face cache" in err and "hf download someone/not-cached" in err
    (tmp_path / "empty").mkdir()
    code, err = _refused(capsys, "--model", f"hf:{tmp_path / 'empty'}", *common)
    assert code == 2 and "has no config.json: not a folder written by save_pretrained" in err
    code, err = _refused(capsys, "--model", f"hf:{tiny_model}", "--context", "500", *common)
    assert (code, err) == (2, f"tbx-tui: error: context: hf:{tiny_model} takes at most 128 "
                              "tokens (got 500)")
    code, err = _refused(capsys, "--model", f"hf:{tiny_model}", "--n-layer", "3", *common)
    assert code == 2 and "--n-layer: sets gpt's shape; hf: models keep their own" in err
    code, err = _refused(capsys, "--model", f"hf:{tiny_model}", "--lora-rank", "2",
                         "--lora-targets", "nothing", *common)
    assert code == 2 and "lora_targets: 'nothing' matches no linear layer" in err
    code, err = _refused(capsys, "--model", "hf:./nowhere", *common)
    assert code == 2 and "no such folder: ./nowhere" in err
    # A model folder without its tokenizer files loads an empty vocabulary: it used to
    # say "corpus.txt has 0 tokens" of a 20 KB text.
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    for f in bare.iterdir():
        if "token" in f.name or f.name in ("vocab.json", "merges.txt"):
            f.unlink()
    code, err = _refused(capsys, "--model", f"hf:{bare}", *common)
    assert code == 2 and f"hf:{bare} has no tokenizer: {bare} holds none of " \
        "tokenizer.json" in err and "0 tokens" not in err, err
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the extra were absent
    code, err = _refused(capsys, "--model", f"hf:{tiny_model}", *common)
    assert code == 1 and "the [llm] extra" in err and "pip install -e '.[llm]'" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


async def test_the_form_shows_an_hf_model_and_its_corpus_in_its_tokens(tiny_model,
                                                                         tmp_path):
    from test_app import wait_for
    from tbx_tui.config import RunConfig
    from tbx_tui.tui.app import make_app

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(SHAKESPEARE.read_text("utf-8")[:20_000], "utf-8")
    app = make_app("train", config=RunConfig(model="gpt", data=f"text:{corpus}",
                                             logdir=str(tmp_path / "runs")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        form = app.screen
        assert form.query_one("#row-n_layer").display
        form.query_one("#f-model").value = f"hf:{tiny_model}"
        info = form.query_one("#info")
        await wait_for(pilot, lambda: "GPT2LMHeadModel, 2 layers × 32 wide" in
                       str(info.render()) and "-token vocabulary" in str(info.render()))
        text = str(info.render())
        assert "context up to 128" in text and f"({VOCAB}-token vocabulary)" in text
        from transformers import AutoModelForCausalLM

        count = sum(p.numel() for p in
                    AutoModelForCausalLM.from_pretrained(tiny_model).parameters())
        assert f"{count:,} parameters" in text
        assert not form.query_one("#row-n_layer").display  # the model keeps its shape
        assert form.query_one("#row-context").display and form.query_one("#row-lora_rank") \
            .display
