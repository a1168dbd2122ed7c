"""Gradient flow: each layer's gradient norm at every log interval (GradFlow/<layer>)."""

from __future__ import annotations

import pytest
import torch

from conftest import accumulator, cli, only_run
from tbx_tui.engine.output.gradflow import layer_grad_norms


def test_a_layers_norm_is_that_of_all_its_parameters_gradients():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    for p in model[2].parameters():
        p.requires_grad_(False)  # frozen: no gradient, no entry
    model(torch.randn(8, 3)).pow(2).sum().backward()
    norms = layer_grad_norms(model)
    expected = torch.cat([model[0].weight.grad.view(-1), model[0].bias.grad]).norm()
    assert list(norms) == ["GradFlow/0"]
    assert norms["GradFlow/0"] == pytest.approx(float(expected), rel=1e-6)


def test_a_run_logs_every_layers_norm_at_each_log_interval(tmp_path):
    r = cli("--no-ui", "--model", "simple_cnn", "--data", "digits", "--max-steps", "40",
            "--log-every", "10", "--sys-every", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ea = accumulator(only_run(tmp_path / "runs"))
    layers = sorted(t for t in ea.Tags()["scalars"] if t.startswith("GradFlow/"))
    assert layers == ["GradFlow/conv1", "GradFlow/conv2", "GradFlow/fc1", "GradFlow/fc2"]
    loss_steps = [e.step for e in ea.Scalars("Loss/train")]
    for tag in layers:
        points = ea.Scalars(tag)
        assert [e.step for e in points] == loss_steps
        assert all(e.value > 0 for e in points)


def test_grad_flow_false_logs_none(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "digits", "--max-steps", "20",
            "--grad-flow", "false", "--sys-every", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    scalars = accumulator(only_run(tmp_path / "runs")).Tags()["scalars"]
    assert "Loss/train" in scalars and not [t for t in scalars if t.startswith("GradFlow/")]
