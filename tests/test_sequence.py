"""The CNN-LSTM's sequence attribution and the chart-versus-sequence split, with known answers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from models.registry import load_shipped
from models.tasks import ForecastDirection
from xai.sequence import sequence_attribution


@pytest.fixture
def case(shipped_regressor_batch):
    model, image, closes = shipped_regressor_batch
    return model, image[:3], closes[:3]


def silence(model, part: str):
    """A copy of the regressor that ignores the image, or whose sequence head and autoregression are off."""
    silenced = copy.deepcopy(model)
    with torch.no_grad():
        if part == "image":
            silenced.image_head.weight.zero_()
        else:
            for layer in (silenced.sequence_head[-1], silenced.autoregression):
                layer.weight.zero_()
                layer.bias.zero_()
    return silenced


def test_totals_and_delta_are_consistent_and_converge(case):
    model, image, closes = case
    forward = ForecastDirection(model, 1).eval()
    with torch.no_grad():
        gap = (forward(image, closes) - forward(torch.zeros_like(image), closes[:, -1:].expand_as(closes)))[:, 0]
    coarse = sequence_attribution(model, image, closes, n_steps=8)
    fine = sequence_attribution(model, image, closes, n_steps=128)
    np.testing.assert_allclose(fine.image_total + fine.sequence_total - gap.numpy(), fine.delta, atol=1e-4)
    assert np.abs(fine.delta).mean() < np.abs(coarse.delta).mean()
    assert ((fine.image_share >= 0) & (fine.image_share <= 1)).all()
    assert fine.per_hour.shape == (3, 50)


def test_the_last_hour_is_its_own_baseline(case):
    model, image, closes = case
    result = sequence_attribution(model, image, closes)
    np.testing.assert_array_equal(result.per_hour[:, -1], 0.0)


def test_a_model_that_ignores_the_image_gives_it_nothing(case):
    model, image, closes = case
    result = sequence_attribution(silence(model, "image"), image, closes)
    np.testing.assert_array_equal(result.image_share, np.zeros(3))


def test_without_its_sequence_head_and_autoregression_the_chart_carries_more_of_the_forecast(case):
    """The closes still act through the window's volatility, which scales the chart's part, so the
    chart's share rises but does not reach one (shipped model: 0.67–0.87 → 0.76–0.93; the chart head
    with a weight per time column carries most of it already)."""
    model, image, closes = case
    whole = sequence_attribution(model, image, closes)
    result = sequence_attribution(silence(model, "sequence"), image, closes)
    assert (result.image_share > whole.image_share + 0.05).all(), (whole.image_share, result.image_share)
    assert (result.image_share < 1).all()


def test_direction_flips_every_attribution(case):
    model, image, closes = case
    up = sequence_attribution(model, image, closes, direction=1)
    down = sequence_attribution(model, image, closes, direction=-1)
    np.testing.assert_allclose(down.per_hour, -up.per_hour, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(down.image_share, up.image_share, rtol=1e-5)


def test_saliency_is_the_gradient_with_respect_to_each_close(case):
    model, image, closes = case
    result = sequence_attribution(model, image, closes, method="saliency")
    sequence = closes.clone().requires_grad_(True)
    ForecastDirection(model, 1).eval()(image, sequence).sum().backward()
    np.testing.assert_allclose(result.per_hour, sequence.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert np.isnan(result.image_share).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lime"}, r"method must be one of \('integrated_gradients', 'saliency'\), got 'lime'"),
        ({"direction": 2}, r"direction must be \+1 \(pushes the forecast up\) or -1 \(down\), got 2"),
        ({"n_steps": 1}, r"n_steps must be an int >= 2, got 1"),
    ],
)
def test_bad_requests_name_the_parameter(case, kwargs, message):
    model, image, closes = case
    with pytest.raises(ValueError, match=message):
        sequence_attribution(model, image, closes, **kwargs)


def test_shapes_and_the_classifier_are_refused(case):
    model, image, closes = case
    with pytest.raises(ValueError, match=r"got \(3, 1, 128, 128\) and \(2, 50\)"):
        sequence_attribution(model, image, closes[:2])
    with pytest.raises(ValueError, match=r"explains the ticker regressor \(CNN-LSTM\); the classifier has no sequence"):
        sequence_attribution(load_shipped("nifty").model, image, closes)
