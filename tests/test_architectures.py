"""The two architectures: shapes, the paper's layout, map resolution, the baseline at start, local ImageNet weights."""

from __future__ import annotations

import pathlib
import pickle

import numpy as np
import pytest
import torch
import torchvision
from sklearn.linear_model import LogisticRegression
from torchvision.models.resnet import BasicBlock

from models.architectures import CnnLstmRegressor, ModelSpec, build_model, extract_cells
from models.baselines import LinearAutoregression
from models.classifier import ResNetClassifier


def small_regressor_spec(**overrides) -> ModelSpec:
    values = {"image_size": 64, "width": 4, "extract_channels": 4, "lstm_hidden": 8, "head_hidden": 8}
    return ModelSpec.default("ticker", **{**values, **overrides})


def test_defaults_follow_the_papers_within_the_size_budget():
    nifty = ModelSpec.default("nifty")
    assert (nifty.arch, nifty.image, nifty.image_size, nifty.sequence_length) == ("resnet18", "gadf", 64, 60)
    ticker = ModelSpec.default("ticker")
    assert (ticker.arch, ticker.image, ticker.image_size, ticker.sequence_length) == (
        "cnn-lstm-resnet18",
        "candlestick",
        128,
        50,
    )
    assert nifty.stem == "small"
    assert ModelSpec.default("ticker", image="gadf").image_size == 64
    # options left unset on the command line arrive as None and mean "the default"
    assert ModelSpec.default("nifty", arch=None, image=None, image_size=None) == nifty


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "forex"}, r"task must be one of \('nifty', 'ticker', 'nifty-rest'\), got 'forex'"),
        ({"arch": "resnet50"}, r"arch must be one of \('resnet18', 'resnet34'\) for the nifty task, got 'resnet50'"),
        ({"arch": "cnn-lstm-resnet34"}, r"arch must be one of \('resnet18', 'resnet34'\) for the nifty task"),
        ({"stem": "cifar"}, r"stem must be one of \('small', 'imagenet'\), got 'cifar'"),
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


def _layer_side(model, image, closes, layer):
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = output.shape

    handle = layer.register_forward_hook(record)
    model(image, closes)
    handle.remove()
    return tuple(seen["shape"][2:])


def test_classifier_grad_cam_layer_has_eight_by_eight_cells_over_the_first_hour():
    model = build_model(ModelSpec.default("nifty")).eval()
    assert isinstance(model, ResNetClassifier)
    assert (model.conv1.in_channels, model.conv1.kernel_size, model.conv1.stride) == (1, (3, 3), (1, 1))
    assert model.gradcam_layer is model.extract
    closes = torch.log10(torch.linspace(100, 101, 60)).repeat(3, 1)
    assert model(torch.zeros(3, 1, 64, 64), closes).shape == (3, 2)
    assert _layer_side(model, torch.zeros(3, 1, 64, 64), closes, model.extract) == (8, 8)
    imagenet = build_model(ModelSpec.default("nifty", stem="imagenet", width=64)).eval()
    assert _layer_side(imagenet, torch.zeros(3, 1, 64, 64), closes, imagenet.layer4) == (2, 2)


def test_classifier_starts_as_the_logistic_regression_on_first_hour_features():
    generator = np.random.default_rng(0)
    closes = np.log10(100 * np.exp(np.cumsum(generator.normal(0, 1e-3, (200, 60)), axis=1)))
    labels = (closes[:, -1] > closes[:, 0]).astype(int) ^ (generator.random(200) < 0.2)
    model = build_model(ModelSpec.default("nifty")).eval()
    model.first_hour.start_at(closes, labels)
    raw = model.first_hour.features(torch.as_tensor(closes)).numpy()
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    expected = LogisticRegression(C=1.0).fit((raw - mean) / scale, labels).predict_proba((raw - mean) / scale)[:, 1]
    images = torch.randn(200, 1, 64, 64)  # the image logits start at zero: any image gives the same
    with torch.no_grad():
        probability = torch.softmax(model(images, torch.as_tensor(closes, dtype=torch.float32)), dim=1)[:, 1]
    np.testing.assert_allclose(probability.numpy(), expected, atol=2e-4)


def test_classifier_refuses_one_class_and_flat_first_hours():
    from data.errors import DataError

    model = build_model(ModelSpec.default("nifty"))
    closes = np.log10(np.linspace(100, 101, 60))[None].repeat(20, axis=0)
    with pytest.raises(DataError, match=r"every training day has the same label \(1\)"):
        model.first_hour.start_at(closes, np.ones(20))
    with pytest.raises(DataError, match="every first hour in the training split is flat"):
        model.first_hour.start_at(np.full((20, 60), 2.0), np.arange(20) % 2)


def test_regressor_extract_layer_has_sixteen_columns_over_fifty_bars():
    assert extract_cells(128) == (4, 16)
    model = build_model(ModelSpec.default("ticker")).eval()
    closes = torch.log10(torch.linspace(100, 101, 50)).repeat(2, 1)
    assert _layer_side(model, torch.zeros(2, 1, 128, 128), closes, model.extract) == (4, 16)


@pytest.mark.parametrize(("arch", "blocks"), [("cnn-lstm-resnet34", 16), ("cnn-lstm-resnet18", 8)])
def test_regressor_trunk_has_the_papers_residual_blocks(arch, blocks):
    model = build_model(small_regressor_spec(arch=arch))
    assert isinstance(model, CnnLstmRegressor)
    assert sum(isinstance(m, BasicBlock) for m in model.trunk.modules()) == blocks
    assert model.gradcam_layer is model.extract
    assert isinstance(model.extract[0], torch.nn.Conv2d)
    assert model.lstm.num_layers == 2


def test_regressor_starts_as_the_fitted_autoregression():
    generator = np.random.default_rng(1)
    closes = np.log10(100) + np.cumsum(generator.normal(0, 1e-3, (300, 51)), axis=1)
    windows, targets = closes[:, :50], closes[:, 50]
    fitted = LinearAutoregression.fit(windows[:200], targets[:200], validation=(windows[200:], targets[200:]))
    model = build_model(small_regressor_spec()).double().eval()
    model.start_at(fitted.coef, fitted.intercept)
    with torch.no_grad():
        forecast = model(torch.randn(300, 1, 64, 64, dtype=torch.float64), torch.as_tensor(windows)).numpy()
    np.testing.assert_allclose(forecast, fitted.predict(windows), rtol=0, atol=1e-9)  # float32 weights


def test_untrained_regressor_is_exactly_the_persistence_forecast():
    model = build_model(small_regressor_spec()).eval()
    closes = torch.log10(torch.linspace(100, 120, 50)).repeat(3, 1) + torch.tensor([[0.0], [0.1], [0.2]])
    output = model(torch.randn(3, 1, 64, 64), closes)
    torch.testing.assert_close(output, closes[:, -1], rtol=0, atol=0)


def test_trained_regressor_output_depends_on_image_and_sequence():
    torch.manual_seed(0)
    model = build_model(small_regressor_spec()).eval()
    torch.nn.init.normal_(model.image_head.weight)
    torch.nn.init.normal_(model.sequence_head[-1].weight)
    image = torch.randn(8, 1, 64, 64, requires_grad=True)
    closes = torch.log10(100 + 5 * torch.rand(8, 50)).requires_grad_(True)
    model(image, closes).sum().backward()
    assert image.grad.abs().sum() > 0  # the chart reaches the forecast
    assert closes.grad[:, :-1].abs().sum() > 0  # and so does the price path, not only the last close


def test_local_imagenet_weights_fit_one_channel(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(reference.state_dict(), path)
    model = build_model(ModelSpec.default("nifty", stem="imagenet", width=64))
    head_before = model.fc.weight.clone()
    model.load_imagenet_weights(path)
    torch.testing.assert_close(model.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    torch.testing.assert_close(model.fc.weight, head_before)  # the 2-class head is kept
    with pytest.raises(ValueError, match=r"ImageNet weights fit stem='imagenet' at width=64 only, got stem='small'"):
        build_model(ModelSpec.default("nifty")).load_imagenet_weights(path)


def test_imagenet_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match=r"does not fit resnet18: missing \[\], unexpected \['layer1.2"):
        build_model(ModelSpec.default("nifty", stem="imagenet", width=64)).load_imagenet_weights(path)


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
        build_model(ModelSpec.default("nifty", stem="imagenet", width=64)).load_imagenet_weights(path)
    assert not marker.exists()


def test_the_regressor_forecast_is_its_three_parts_and_its_loss_is_in_volatility_units():
    from models.architectures import LOG10_SCALE, window_volatility
    from models.tasks import task_named

    generator = torch.Generator().manual_seed(3)
    model = build_model(small_regressor_spec()).double().eval()
    for layer in (model.image_head, model.sequence_head[-1], model.autoregression):
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64))
    image = torch.randn(6, 1, 64, 64, generator=generator, dtype=torch.float64)
    closes = 2 + torch.cumsum(1e-3 * torch.randn(6, 50, generator=generator, dtype=torch.float64), dim=1)
    target = closes[:, -1] + 2e-3 * torch.randn(6, generator=generator, dtype=torch.float64)
    parts = model.change_parts(image, closes)
    volatility = window_volatility(closes)
    whole = parts.autoregression + volatility * (parts.chart + parts.sequence)
    torch.testing.assert_close(model.predicted_change(image, closes), whole, rtol=0, atol=0)
    torch.testing.assert_close(parts.chart, model.chart_part(image), rtol=0, atol=0)
    assert all(part.abs().min() > 0 for part in parts)  # each part moves the forecast

    move = (target - closes[:, -1]) * LOG10_SCALE
    expected = (((whole - move) / volatility) ** 2).mean()
    loss = task_named("ticker").training_loss(model, (image, closes), target)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
