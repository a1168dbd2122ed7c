import pytest

from tbx_tui.config import (DATASETS, FIELDS, MODELS, ConfigError, RunConfig, build,
                            check_field, load_toml, to_toml)


def test_defaults_are_the_tutorial_recipe_on_the_embedded_data():
    c = RunConfig()
    assert (c.model, c.data, c.batch_size, c.lr, c.optimizer, c.epochs, c.log_every) == (
        "simple_cnn", "digits", 32, 1e-3, "adam", 10, 100)


@pytest.mark.parametrize("name,value,words", [
    ("lr", 0.0, "> 0"), ("lr", -1.0, "> 0"), ("lr", float("nan"), "finite"),
    ("batch_size", 0, ">= 1"), ("epochs", 0, ">= 1"),
    ("model", "vgg", "must be mlp, simple_cnn, resnet18, gpt (a language model), tv:NAME"),
    ("data", "imagenet", "must be synthetic, digits, mnist"), ("momentum", 1.0, "< 1"),
    ("weight_decay", -0.1, ">= 0"),
    ("hist_every", -1, ">= 0"), ("epochs", 2.5, "whole number"), ("amp", "yes", "true or false"),
    ("name", "../escape", "plain folder name"), ("logdir", " ", "empty"),
])
def test_each_rule_names_the_field_and_the_rule(name, value, words):
    with pytest.raises(ConfigError) as e:
        RunConfig(**{name: value})
    assert str(e.value).startswith(f"{name}: ")
    assert words in str(e.value)


def test_every_field_documents_itself():
    for name, f in FIELDS.items():
        assert f.metadata["help"], name
        check_field(name, f.default)


def test_toml_round_trip_and_precedence(tmp_path):
    c = RunConfig(model="mlp", data="synthetic", lr=0.05, amp=True, name="x1")
    path = tmp_path / "run.toml"
    path.write_text(to_toml(c))
    values = load_toml(path)
    assert build(values) == c
    assert build(values, {"lr": 0.5}).lr == 0.5  # the command line wins over the file


def test_toml_int_accepted_for_float_but_not_the_reverse(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("lr = 1\n")
    assert load_toml(path)["lr"] == 1.0
    path.write_text("epochs = 1.5\n")
    with pytest.raises(ConfigError, match="run.toml: epochs: must be a whole number"):
        load_toml(path)


def test_toml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("lrate = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: lrate: unknown setting"):
        load_toml(path)
    path.write_text("lr = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(path)


def test_registries_match_the_names_the_cli_offers():
    from tbx_tui.engine.vision import data, models

    assert set(models.REGISTRY) == set(MODELS)
    assert set(data.REGISTRY) == set(DATASETS)
