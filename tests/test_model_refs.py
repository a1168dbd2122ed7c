"""Models by reference: every torchvision classifier, the user's own file or module, and
each way a reference can fail — one line naming `model`, exit 2, no run folder."""

from __future__ import annotations

import textwrap

import pytest
import torch

from conftest import accumulator, cli, only_run
from tbx_tui.config import ConfigError, RunConfig, check_field
from tbx_tui.engine import RunControl, RunState, Trainer
from tbx_tui.engine.vision.models import ModelUnusable, build_model, count_parameters

USER_MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    class Net(nn.Module):
        """The contract: Net(in_shape, num_classes)."""
        def __init__(self, in_shape, num_classes):
            super().__init__()
            c, h, w = in_shape
            self.fc = nn.Linear(c * h * w, num_classes)
        def forward(self, x):
            return self.fc(x.flatten(1))

    def factory(in_shape, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], 32),
                             nn.ReLU(), nn.Linear(32, num_classes))

    def raises(in_shape, num_classes):
        raise ValueError("no such layer size")

    def not_a_module(in_shape, num_classes):
        return 42

    def wrong_output(in_shape, num_classes):
        return nn.Flatten()

    NOT_CALLABLE = 3

    def blobs():
        """A data factory: (train, test), each (x, y); 4 classes of 3×12×12 colour noise."""
        g = torch.Generator().manual_seed(0)
        y = torch.arange(400) % 4
        x = torch.rand(400, 3, 12, 12, generator=g) * 0.5 + y.view(-1, 1, 1, 1) / 4
        return (x[:320], y[:320]), (x[320:], y[320:])

    class FailsLater(Net):
        calls = 0
        def forward(self, x):
            FailsLater.calls += 1
            if self.training and FailsLater.calls > 5:
                raise RuntimeError("user bug at step 5")
            return super().forward(x)
''')


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(USER_MODELS)
    return path


def test_user_models_by_file_and_module(user_file, monkeypatch):
    net = build_model(f"{user_file}:Net", (1, 28, 28), 10)
    assert count_parameters(net) == 784 * 10 + 10
    assert count_parameters(build_model(f"{user_file}:factory", (3, 32, 32), 7)) == \
        3072 * 32 + 32 + 32 * 7 + 7
    monkeypatch.syspath_prepend(str(user_file.parent))
    assert isinstance(build_model("my_models:Net", (1, 8, 8), 3), torch.nn.Module)


@pytest.mark.parametrize("attr,message", [
    ("Nope", "has no 'Nope'"),
    ("NOT_CALLABLE", "is a int, not a class or function"),
    ("raises", "raised ValueError: no such layer size"),
    ("not_a_module", "gave a int, not a torch.nn.Module"),
    ("wrong_output", "returns (2, 784) for a batch of 2; expected (2, 10) logits"),
])
def test_each_bad_user_model_says_why_in_one_line(user_file, attr, message):
    with pytest.raises(ModelUnusable) as e:
        build_model(f"{user_file}:{attr}", (1, 28, 28), 10)
    assert str(e.value).startswith("model: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_references_are_checked_without_torch_where_they_can_be(tmp_path):
    for bad, rule in (("nope.py:Net", "no such file: nope.py"), ("tv:Res Net", "tv:NAME"),
                      ("a-b:c", "neither a FILE.py nor a dotted module"),
                      ("vgg", "must be mlp, simple_cnn, resnet18, gpt (a language model), tv:NAME")):
        with pytest.raises(ConfigError, match="model") as e:
            check_field("model", bad)
        assert rule in str(e.value)
    check_field("model", "tv:resnet50")  # its existence is the engine's to check
    check_field("model", "pkg.models:build")


def test_torchvision_models_fit_the_data():
    for name, shape in (("tv:mobilenet_v3_small", (1, 28, 28)),  # grey: channels repeated
                        ("tv:squeezenet1_1", (3, 32, 32))):       # too small: upsampled
        model = build_model(name, shape, 7)
        assert model(torch.zeros(2, *shape)).shape == (2, 7)
    with pytest.raises(ModelUnusable, match="no torchvision classification model 'resnet5'"):
        build_model("tv:resnet5", (1, 28, 28), 10)


def test_a_user_model_failing_mid_run_keeps_its_traceback_in_error_log(user_file, tmp_path):
    cfg = RunConfig(model=f"{user_file}:FailsLater", data="synthetic", epochs=1,
                    log_every=2, hist_every=0, logdir=str(tmp_path / "runs"))
    result = Trainer(cfg, [], RunControl()).run()
    assert result.state is RunState.FAILED
    log = (result.run_dir / "error.log").read_text()
    assert "user bug at step 5" in log and "my_models.py" in log


def test_cli_trains_a_user_model_and_refuses_a_bad_one(user_file, tmp_path):
    r = cli("--no-ui", "--model", "my_models.py:Net", "--data", "my_models.py:blobs",
            "--max-steps", "6", "--log-every", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"data {user_file}:blobs: 320 train / 80 test, 3×12×12, 4 classes" in r.stdout
    run = only_run(tmp_path / "runs")
    assert run.name.startswith("Net-blobs-")
    toml = (run / "config.toml").read_text()
    assert f'model = "{user_file}:Net"' in toml and f'data = "{user_file}:blobs"' in toml
    assert len(accumulator(run).Scalars("Loss/train")) == 4
    r = cli("--no-ui", "--model", "my_models.py:raises", "--data", "synthetic",
            "--logdir", "bad-runs", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "tbx-tui: error: model: "
        f"{user_file}:raises((1, 28, 28), 10) raised ValueError: no such layer size"]
    assert not (tmp_path / "bad-runs").exists() or not any((tmp_path / "bad-runs").iterdir())


def test_models_lists_builtins_torchvision_and_the_contract(capsys):
    from tbx_tui.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "built in:    mlp, simple_cnn, resnet18" in out
    assert "resnet50" in out and "vit_b_16" in out and "torchvision (80," in out
    assert "NAME(in_shape, num_classes)" in out


async def test_the_form_takes_a_user_model_counts_it_and_trains_it(user_file, tmp_path):
    from test_app import wait_for
    from tbx_tui.tui.app import make_app

    app = make_app("train", config=RunConfig(model="mlp", data="synthetic", epochs=1,
                                             log_every=5, logdir=str(tmp_path / "runs")))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        form = app.screen
        form.query_one("#f-model").value = "nowhere.py:Net"
        await pilot.pause()
        assert "no such file: nowhere.py" in str(form.query_one("#e-model").render())
        form.query_one("#f-model").value = f"{user_file}:Net"
        await wait_for(pilot, lambda: "7,850 parameters" in str(form.query_one("#info").render()))
        form.query_one("#f-freeze").value = "fc.bias"  # the side panel shows the split
        await wait_for(pilot, lambda: "7,850 parameters (7,840 trainable, 10 frozen)" in
                       str(form.query_one("#info").render()))
        form.query_one("#f-data").value = f"{user_file}:blobs"  # and the user's data
        await wait_for(pilot, lambda: "your factory's data" in
                       str(form.query_one("#info").render()))
        await pilot.press("ctrl+s")
        s = app.screen.session
        await wait_for(pilot, lambda: s.result is not None)
        assert s.result.state is RunState.FINISHED and s.run_dir.name.startswith("Net-blobs-")
