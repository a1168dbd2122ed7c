import pytest
import torch

from tbx_tui.engine.vision.models import ModelUnusable, build_model, count_parameters


def test_tutorial_models_keep_their_sizes():
    # 784*128+128 + 128*10+10, and the tutorial CNN's 320 + 18,496 + 401,536 + 1,290.
    assert count_parameters(build_model("mlp", (1, 28, 28), 10)) == 101_770
    assert count_parameters(build_model("simple_cnn", (1, 28, 28), 10)) == 421_642


@pytest.mark.parametrize("name", ["mlp", "simple_cnn", "resnet18"])
@pytest.mark.parametrize("shape,classes", [((1, 28, 28), 10), ((3, 32, 32), 7)])
def test_every_model_adapts_to_the_dataset(name, shape, classes):
    model = build_model(name, shape, classes)
    out = model(torch.zeros(2, *shape))
    assert out.shape == (2, classes)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelUnusable, match="model: must be mlp, simple_cnn, resnet18"):
        build_model("vgg", (1, 28, 28), 10)
