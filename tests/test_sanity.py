"""The model-randomisation sanity check: known answers on a linear model, Adebayo's finding on ours."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from xai.sanity import UNCHANGED_CORRELATION, SanityResult, model_randomisation, randomisation_layers, spearman


class LinearScorer(nn.Module):
    """logits = W · flatten(image): the saliency of class k is exactly W[k] as an image."""

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(size * size, 2)
        self.size = size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(image.flatten(1))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
        ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
        ([1, 2, 2, 3], [1, 2, 3, 4], 0.9486832980505138),  # ranks 0, 1.5, 1.5, 3 vs 0, 1, 2, 3
    ],
)
def test_spearman_by_hand(first, second, expected):
    assert spearman(np.array(first, float), np.array(second, float)) == pytest.approx(expected)


def test_spearman_of_a_constant_map_is_undefined():
    assert np.isnan(spearman(np.zeros(5), np.arange(5.0)))


def test_a_linear_model_randomised_has_exactly_the_new_weights_as_its_map():
    torch.manual_seed(1)
    model = LinearScorer()
    original_weights = model.fc.weight.detach().clone()
    image = torch.rand(1, 1, 8, 8)
    result = model_randomisation(model, image, methods=["saliency"], target=1, seed=5)
    # the same re-initialisation by hand
    replica = copy.deepcopy(model)
    torch.manual_seed(5)
    replica.fc.reset_parameters()
    expected = spearman(np.abs(original_weights[1].numpy()), np.abs(replica.fc.weight[1].detach().numpy()))
    assert result.layers == ("fc",)
    assert result.correlation["saliency"][0] == pytest.approx(expected, abs=1e-9)
    assert abs(expected) < 0.5  # random weights share little rank order with the originals
    torch.testing.assert_close(model.fc.weight, original_weights)  # the original model is untouched


def test_the_shipped_classifier_reproduces_adebayos_finding(shipped_classifier_batch):
    model, image, closes = shipped_classifier_batch
    weights_before = {k: v.clone() for k, v in model.state_dict().items()}
    result = model_randomisation(model, image, additional_forward_args=closes)
    assert result.layers == ("fc", "extract", "layer4", "layer3", "layer2", "layer1", "bn1", "conv1")
    for key, values in result.correlation.items():
        assert values.shape == (8,), key
        assert np.all((values >= -1) & (values <= 1)), key
    # Guided Backprop barely notices that the output layer was destroyed (measured: rank correlation
    # 0.95 with the original map, still 0.90 with layer4 gone too); Grad-CAM does (-0.14)
    assert result.correlation["guided_backprop"][0] > 0.8
    assert result.correlation["guided_backprop"][2] > UNCHANGED_CORRELATION
    assert result.correlation["gradcam"][0] < 0.7
    assert result.barely_changes["guided_backprop"]
    assert not result.barely_changes["gradcam"]
    assert not result.barely_changes["saliency"]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, weights_before[key], msg=key)


def test_layer_groups_of_the_regressor_run_from_output_to_input(shipped_regressor_batch):
    model, _, _ = shipped_regressor_batch
    assert [name for name, _ in randomisation_layers(model)] == ["image_head", "extract", "trunk", "stem"]


def test_the_sanity_table_has_a_row_per_method_and_the_cascade_mean():
    result = SanityResult(
        layers=("fc", "layer4"),
        correlation={"saliency": np.array([0.5, 0.1]), "gradcam": np.array([np.nan, -0.4])},
        barely_changes={"saliency": False, "gradcam": False},
    )
    table = result.as_frame()
    assert list(table.index) == ["Vanilla gradient (saliency)", "Grad-CAM"]
    assert list(table.columns) == ["+ fc", "+ layer4", "mean"]
    np.testing.assert_allclose(table["mean"], [0.3, -0.4])
