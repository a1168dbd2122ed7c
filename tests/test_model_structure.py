"""The model's structure, logged once from the first step: the module tree with output
shapes and parameter counts, for TensorBoard's Text tab."""

from __future__ import annotations

import re

import torch

from conftest import accumulator, cli, only_run
from tbx_tui.engine.output.structure import StructureProbe


def _structure(run_dir):
    events = accumulator(run_dir).Tensors("Model/structure/text_summary")
    assert len(events) == 1 and events[0].step == 0
    return events[0].tensor_proto.string_val[0].decode()


def test_a_run_logs_its_module_tree_with_the_first_steps_shapes(tmp_path):
    r = cli("--no-ui", "--model", "simple_cnn", "--data", "digits", "--max-steps", "3",
            "--batch-size", "16", "--sys-every", "0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = _structure(only_run(tmp_path / "runs"))
    params = int(re.search(r"\(([\d,]+) parameters\)", r.stdout).group(1).replace(",", ""))
    lines = text.strip("`\n").splitlines()
    assert lines[0].split() == ["module", "output", "parameters"]
    assert lines[1].startswith("SimpleCNN ") and lines[1].split()[-1] == f"{params:,}"
    conv1 = next(line for line in lines if "conv1: Conv2d(1, 32, kernel_size=(3, 3)" in line)
    assert "16×32×28×28" in conv1 and conv1.split()[-1] == "320"  # 32·9 + 32, padded
    assert lines[-1] == f"{params:,} parameters, {params:,} trainable"
    # and the graph, for TensorBoard's Graphs tab, traced from one sample of that batch
    graph = accumulator(only_run(tmp_path / "runs")).Graph()
    names = [n.name for n in graph.node]
    assert any("Conv2d[conv1]" in n for n in names) and any("Linear[fc2]" in n for n in names)
    assert "graph:" not in r.stdout  # traced: nothing to say


def test_the_probe_notes_frozen_parts_shared_modules_and_removes_its_hooks():
    shared = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(shared, torch.nn.ReLU(), shared, torch.nn.Linear(4, 2))
    for p in model[3].parameters():
        p.requires_grad_(False)
    probe = StructureProbe(model)
    model(torch.zeros(5, 4))
    text = probe.close()
    assert not any(m._forward_hooks for m in model.modules())
    model(torch.zeros(5, 4))  # no hook left to run
    lines = text.splitlines()
    assert [line.split(":")[0].strip("├└─ ") for line in lines[2:-1]] == ["0", "1", "3"]
    last = lines[4]  # the shared layer is listed once, as torch names it once
    assert "3: Linear(in_features=4, out_features=2, bias=True)" in last and "5×2" in last
    assert last.split()[-2:] == ["10", "frozen"]
    assert lines[-1] == "30 parameters, 20 trainable"  # the shared layer counted once


def test_switching_the_views_off_logs_neither(tmp_path):
    r = cli("--no-ui", "--model", "mlp", "--data", "digits", "--max-steps", "20",
            "--eval-views", "false", "--structure", "false", "--sys-every", "0",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tags = accumulator(only_run(tmp_path / "runs")).Tags()
    assert "Accuracy/test" in tags["scalars"] and not tags["images"]
    assert not [t for t in tags["tensors"] if t.startswith(("Eval/", "PR/", "Model/"))]
    assert not tags["graph"]
