"""``--amp`` is timed on the run's own device and model before the first step: kept where
bf16 is faster, dropped with a one-line note where it is slower, and the timing leaves
no trace on the run."""

from __future__ import annotations

import torch

from conftest import cli
from tbx_tui.config import RunConfig
from tbx_tui.engine.run.amp_choice import amp_pays
from tbx_tui.engine.tasks import load_data, task_for

# A model that really is slower under autocast: what an AMX CPU did to the tiny GPT.
SLOW_UNDER_BF16 = '''
import time, torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, in_shape, classes):
        super().__init__()
        self.fc = nn.Linear(784, classes)

    def forward(self, x):
        if torch.is_autocast_enabled("cpu"):
            time.sleep(0.05)
        return self.fc(x.flatten(1))
'''


def test_amp_that_loses_falls_back_to_fp32_and_says_why(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_UNDER_BF16)
    r = cli("--no-ui", "--model", "slow.py:Net", "--data", "synthetic", "--max-steps", "5",
            "--amp", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    note = [line for line in r.stdout.splitlines() if line.startswith("--amp:")]
    assert len(note) == 1 and "off, bf16 autocast measured" in note[0], r.stdout
    assert "× slower than fp32" in note[0] and "training in fp32" in note[0]
    assert ", bf16 autocast:" not in r.stdout.splitlines()[0]  # the header says fp32


def test_amp_that_wins_is_kept_and_the_header_agrees_with_the_note(tmp_path):
    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 400)
    r = cli("--no-ui", "--model", "gpt", "--data", "text:corpus.txt", "--max-steps", "3",
            "--amp", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    note = [line for line in lines if line.startswith("--amp:")]
    assert len(note) == 1 and " ms vs " in note[0], r.stdout
    assert "forward+backward pass on cpu" in note[0]
    assert ("faster than fp32" in note[0]) == (", bf16 autocast:" in lines[0]), lines[0]


def test_timing_leaves_weights_buffers_rng_and_grads_as_they_were():
    cfg = RunConfig(model="simple_cnn", data="digits", batch_size=16, dropout=0.0)
    data = load_data(cfg, torch.device("cpu"), [], None)
    task = task_for(cfg, data)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32),
                                torch.nn.BatchNorm1d(32), torch.nn.Dropout(0.5),
                                torch.nn.Linear(32, 10))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    use, note = amp_pays(model, task, data, 16, torch.device("cpu"))
    assert isinstance(use, bool) and note.startswith("--amp: ")
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    assert all(p.grad is None for p in model.parameters())
