"""Fine-tuning: pretrain on MNIST, fine-tune on Fashion-MNIST with the backbone frozen;
weights loaded by name and shape; the ImageNet path offline; every bad setting."""

from __future__ import annotations

import pytest
import torch

from conftest import accumulator, cli, only_run
from tbx_tui.engine.run.finetune import (InitUnusable, freeze, head_prefix, load_initial,
                                     param_groups, InitReport)
from tbx_tui.engine.vision.models import build_model


def test_pretrain_mnist_then_finetune_fashion_with_the_backbone_frozen(tmp_path, shared_data):
    from tbx_tui.config import RunConfig
    from tbx_tui.engine import RunControl, Trainer

    pretrained = Trainer(RunConfig(model="simple_cnn", data="mnist", data_dir=str(shared_data),
                                   max_steps=40, log_every=20, logdir=str(tmp_path / "pre")),
                         [], RunControl()).run()
    assert pretrained.state.value == "finished"
    pre = only_run(tmp_path / "pre")
    r = cli("--no-ui", "--model", "simple_cnn", "--data", "fashion_mnist", "--data-dir",
            str(shared_data), "--init-from", str(pre), "--freeze", "backbone", "--head-lr",
            "0.01", "--max-steps", "40", "--log-every", "20", "--hist-every", "20",
            "--logdir", "fine", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "8 tensors loaded, 0 re-initialised, 0 in the file ignored" in r.stdout
    assert "parameters: 1,290 trainable, 420,352 frozen" in r.stdout
    fine = only_run(tmp_path / "fine")
    before = torch.load(pre / "model.pt", weights_only=True)
    after = torch.load(fine / "model.pt", weights_only=True)
    for name in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                 "fc1.bias"):
        assert torch.equal(before[name], after[name]), name  # bit-identical
    assert not torch.equal(before["fc2.weight"], after["fc2.weight"])  # the head trained
    ea = accumulator(fine)
    hists = ea.Tags()["histograms"]
    assert "grads/fc2.weight" in hists and "grads/fc1.weight" not in hists  # frozen: none
    from test_cli import hparams_of
    hp = hparams_of(ea)
    assert hp["init_from"] == str(pre) and hp["freeze"] == "backbone"
    assert hp["head_lr"] == pytest.approx(0.01)


def test_weights_load_by_name_and_shape_and_the_rest_is_reported(tmp_path):
    torch.save(build_model("mlp", (1, 28, 28), 10).state_dict(), tmp_path / "ten.pt")
    model = build_model("mlp", (1, 28, 28), 5)  # another class count: a new head
    fresh_head = model.fc2.weight.clone()
    report = load_initial(model, str(tmp_path / "ten.pt"), "mlp")
    assert report.loaded == ["fc1.weight", "fc1.bias"]
    assert report.reinitialised == ["fc2.weight: (10, 128) vs (5, 128)", "fc2.bias: (10,) vs (5,)"]
    assert torch.equal(model.fc2.weight, fresh_head)
    assert head_prefix(model) == "fc2."
    freeze(model, "fc1.*", report)
    assert (report.trainable, report.frozen) == (128 * 5 + 5, 784 * 128 + 128)
    groups = param_groups(model, 1e-3, 1e-2)
    assert [g["lr_scale"] for g in groups] == [pytest.approx(10.0)]  # the head only


def test_imagenet_weights_come_from_the_hub_cache_offline(tmp_path, monkeypatch):
    """A file in $TORCH_HOME stands in for the download: a 1,000-class resnet18."""
    import torchvision

    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), folder / "resnet18-f37072fd.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    model = build_model("tv:resnet18", (1, 28, 28), 10)  # grey: wrapped, names "model."
    report = load_initial(model, "imagenet", "tv:resnet18")
    assert len(report.loaded) == 120 and report.ignored == []  # BatchNorm buffers too
    assert report.reinitialised == ["model.fc.weight: (1000, 512) vs (10, 512)",
                                    "model.fc.bias: (1000,) vs (10,)"]


def test_bad_fine_tuning_settings_say_why(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    torch.save({"a": 1}, tmp_path / "nodict.pt")
    model = build_model("mlp", (1, 28, 28), 10)
    for init_from, message in ((str(tmp_path / "junk.pt"), "cannot load"),
                               (str(tmp_path / "nodict.pt"), "holds no state_dict"),
                               (str(tmp_path), "no model.pt in")):
        with pytest.raises(InitUnusable, match=message):
            load_initial(model, init_from, "mlp")
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InitUnusable, match="no tensor of .* fits mlp"):
        load_initial(model, str(tmp_path / "other.pt"), "mlp")
    with pytest.raises(InitUnusable, match="'conv\\*' matches no parameter"):
        freeze(model, "conv*", InitReport())
    with pytest.raises(InitUnusable, match="freezes every parameter"):
        freeze(model, "*", InitReport())
    with pytest.raises(InitUnusable, match="imagenet takes a torchvision model"):
        load_initial(model, "imagenet", "mlp")


def test_the_cli_refuses_bad_fine_tuning_in_one_line(tmp_path):
    r = cli("--no-ui", "--init-from", "nowhere", cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == ("tbx-tui: error: --init-from: no such run folder or file "
                                "(or imagenet) (got 'nowhere')")
    r = cli("--no-ui", "--model", "mlp", "--data", "synthetic", "--freeze", "conv*",
            "--logdir", "runs", cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "freeze: 'conv*' matches no parameter" in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    r = cli("--no-ui", "--model", "tv:resnet18", "--data", "synthetic", "--init-from",
            "imagenet", "--logdir", "runs", cwd=tmp_path, timeout=120,
            env={"TORCH_HOME": str(tmp_path / "empty")})
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "resnet18-f37072fd.pth" in r.stderr and "TORCH_HOME" in r.stderr


def test_freeze_patterns_use_torchvisions_own_names_on_an_adapted_model():
    model = build_model("tv:mobilenet_v3_small", (1, 28, 28), 10)  # grey: under "model."
    report = InitReport()
    freeze(model, "features.0.*", report)
    assert report.frozen == 464 and not model.model.features[0][0].weight.requires_grad
    with pytest.raises(InitUnusable, match=r"they are: features\.0\.0\.weight"):
        freeze(model, "nothing.*", InitReport())
