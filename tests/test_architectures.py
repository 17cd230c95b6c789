"""The two architectures: shapes, the paper's layout, persistence at start, local ImageNet weights."""

from __future__ import annotations

import pathlib
import pickle

import pytest
import torch
import torchvision
from torchvision.models.resnet import BasicBlock

from models.architectures import CnnLstmRegressor, ModelSpec, ResNetClassifier, build_model


def small_regressor_spec(**overrides) -> ModelSpec:
    values = {"image_size": 64, "width": 4, "extract_channels": 4, "lstm_hidden": 8, "head_hidden": 8}
    return ModelSpec.default("ticker", **{**values, **overrides})


def test_defaults_follow_the_papers_within_the_size_budget():
    nifty = ModelSpec.default("nifty")
    assert (nifty.arch, nifty.image, nifty.image_size, nifty.sequence_length) == ("resnet18", "gadf", 64, 60)
    ticker = ModelSpec.default("ticker")
    assert (ticker.arch, ticker.image, ticker.image_size, ticker.sequence_length) == (
        "cnn-lstm-resnet34",
        "candlestick",
        128,
        50,
    )
    assert ModelSpec.default("ticker", image="gadf").image_size == 64
    # options left unset on the command line arrive as None and mean "the default"
    assert ModelSpec.default("nifty", arch=None, image=None, image_size=None) == nifty


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "forex"}, r"task must be one of \('nifty', 'ticker'\), got 'forex'"),
        ({"arch": "resnet50"}, r"arch must be one of \('resnet18', 'resnet34'\) for the nifty task, got 'resnet50'"),
        ({"arch": "cnn-lstm-resnet34"}, r"arch must be one of \('resnet18', 'resnet34'\) for the nifty task"),
        ({"image": "heatmap"}, r"image must be one of \('candlestick', 'gadf'\), got 'heatmap'"),
        ({"image_size": 16}, r"image_size must be >= 32 \(the trunk divides it by 32\), got 16"),
        ({"image_size": 64.0}, r"image_size must be a positive int, got 64.0"),
        ({"image": "candlestick", "image_size": 40}, r"image_size must be >= sequence_length \(60\) for candlesticks"),
    ],
)
def test_bad_specs_name_the_parameter(overrides, message):
    values = {**ModelSpec.default("nifty").to_dict(), **overrides}
    with pytest.raises(ValueError, match=message):
        ModelSpec(**values)


def test_classifier_is_a_one_channel_torchvision_resnet_with_two_logits():
    model = build_model(ModelSpec.default("nifty", image_size=32)).eval()
    assert isinstance(model, ResNetClassifier)
    assert model.net.conv1.in_channels == 1
    assert model.gradcam_layer is model.net.layer4
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 2)


@pytest.mark.parametrize(("arch", "blocks"), [("cnn-lstm-resnet34", 16), ("cnn-lstm-resnet18", 8)])
def test_regressor_trunk_has_the_papers_residual_blocks(arch, blocks):
    model = build_model(small_regressor_spec(arch=arch))
    assert isinstance(model, CnnLstmRegressor)
    assert sum(isinstance(m, BasicBlock) for m in model.trunk.modules()) == blocks
    assert model.gradcam_layer is model.extract
    assert isinstance(model.extract[0], torch.nn.Conv2d)
    assert model.lstm.num_layers == 2


def test_untrained_regressor_is_exactly_the_persistence_forecast():
    model = build_model(small_regressor_spec()).eval()
    closes = torch.log10(torch.linspace(100, 120, 50)).repeat(3, 1) + torch.tensor([[0.0], [0.1], [0.2]])
    output = model(torch.randn(3, 1, 64, 64), closes)
    torch.testing.assert_close(output, closes[:, -1], rtol=0, atol=0)


def test_trained_regressor_output_depends_on_image_and_sequence():
    torch.manual_seed(0)
    model = build_model(small_regressor_spec()).eval()
    torch.nn.init.normal_(model.head[-1].weight)
    image = torch.randn(8, 1, 64, 64, requires_grad=True)
    closes = torch.log10(100 + 5 * torch.rand(8, 50)).requires_grad_(True)
    model(image, closes).sum().backward()
    assert image.grad.abs().sum() > 0  # the chart reaches the forecast
    assert closes.grad[:, :-1].abs().sum() > 0  # and so does the price path, not only the last close


def test_local_imagenet_weights_fit_one_channel(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(reference.state_dict(), path)
    model = build_model(ModelSpec.default("nifty"))
    head_before = model.net.fc.weight.clone()
    model.load_imagenet_weights(path)
    torch.testing.assert_close(model.net.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.net.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    torch.testing.assert_close(model.net.fc.weight, head_before)  # the 2-class head is kept


def test_imagenet_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=r"does not fit resnet18: missing \[\], unexpected \['layer1.2"):
        build_model(ModelSpec.default("nifty")).load_imagenet_weights(path)


class Payload:
    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_imagenet_file_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": Payload(marker)}))
    with pytest.raises(ValueError, match=r"evil.pth: not a readable plain state dict \(UnpicklingError"):
        build_model(ModelSpec.default("nifty")).load_imagenet_weights(path)
    assert not marker.exists()
