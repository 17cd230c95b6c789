"""The classifier's opposite-logit head: Grad-CAM's cells add up to the logit, so the map of the
predicted class is never blank; the older two-logit head, kept for old checkpoints, can be."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.architectures import ModelSpec, build_model
from models.classifier import EvidenceLayer
from xai.explain import GradCamOptions, explain

CELLS = 8 * 8


def _closes(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    steps = torch.randn(n, 60, generator=generator, dtype=torch.float64) * 1e-3
    return (2 + torch.cumsum(steps, dim=1) / 2.302585).float()


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _random_classifier(head: str, seed: int) -> torch.nn.Module:
    """A classifier with random heads (the trunk as built: any weights must do)."""
    generator = torch.Generator().manual_seed(seed)
    model = build_model(ModelSpec.default("nifty", chart_head=head)).eval()
    with torch.no_grad():
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=generator))
        model.first_hour.linear.weight.copy_(torch.randn((2, 4), generator=generator) * 0.5)
    return model


def test_the_default_classifier_head_is_opposite_and_its_layer_carries_the_features():
    model = build_model(ModelSpec.default("nifty-rest"))
    assert model.spec.chart_head == "opposite"
    assert isinstance(model.gradcam_layer, EvidenceLayer)
    assert model.fc.weight.shape == (1, 128)
    assert model.fc.bias is None  # no learnt bias: logits (−u, u)
    with pytest.raises(
        ValueError, match=r"chart_head must be one of \('opposite', 'cam'\) for the nifty task, got 'column'"
    ):
        ModelSpec.default("nifty", chart_head="column")
    with pytest.raises(
        ValueError, match=r"chart_head must be one of \('column', 'cam'\) for the ticker task, got 'opposite'"
    ):
        ModelSpec.default("ticker", chart_head="opposite")


@pytest.mark.parametrize("engine", ["fused", "captum"])
def test_signed_grad_cam_cells_add_up_to_the_explained_logit(engine):
    model = _random_classifier("opposite", seed=4)
    images, closes = _images(6, seed=6), _closes(6, seed=5)
    with torch.no_grad():
        logits = model(images, closes)
    assert torch.allclose(logits[:, 0], -logits[:, 1])
    for target in (0, 1):
        result = explain(
            model,
            images,
            methods=["gradcam"],
            target=target,
            additional_forward_args=closes,
            gradcam=GradCamOptions(relu=False),
            engine=engine,
        )
        cells = result.maps["gradcam"].layer_map.sum(axis=(1, 2, 3))
        np.testing.assert_allclose(cells, logits[:, target].numpy(), rtol=1e-4, atol=1e-6)


def test_predicted_class_grad_cam_is_never_blank_over_many_random_models():
    blank = 0
    for seed in range(8):
        model = _random_classifier("opposite", seed=seed)
        images, closes = _images(16, seed=seed), _closes(16, seed=seed + 100)
        layer_map = (
            explain(model, images, methods=["gradcam"], additional_forward_args=closes).maps["gradcam"].layer_map
        )
        blank += int((layer_map.reshape(16, -1).max(axis=1) <= 0).sum())
    assert blank == 0


def _image_against_features(head: str) -> torch.nn.Module:
    """Every cell of the image says "down" by 1 (channel 0 is 1 everywhere, read with weight −1);
    the first-hour features say "up" by 2 — the call is "up", decided by the features."""
    model = build_model(ModelSpec.default("nifty", chart_head=head)).eval()
    image_layer = model.extract.image if head == "opposite" else model.extract
    with torch.no_grad():
        image_layer[0].weight.zero_()
        image_layer[1].weight.zero_()
        image_layer[1].bias.zero_()
        image_layer[1].bias[0] = 1.0
        model.fc.weight.zero_()
        model.fc.weight[-1, 0] = -1.0  # "up"'s row (the opposite head has only that row)
        model.first_hour.linear.bias.copy_(torch.tensor([-2.0, 2.0]))
    return model


def test_a_call_the_image_argues_against_everywhere():
    images, closes = torch.zeros(2, 1, 64, 64), _closes(2, seed=1)
    old = _image_against_features("cam")
    old_result = explain(old, images, methods=["gradcam", "guided_gradcam"], additional_forward_args=closes)
    np.testing.assert_array_equal(old_result.target, [1, 1])  # up: the features outweigh the image
    assert np.all(old_result.maps["gradcam"].layer_map == 0)  # the older head: blank

    new = _image_against_features("opposite")
    with torch.no_grad():
        logits = new(images, closes)
    torch.testing.assert_close(logits, torch.tensor([[-1.0, 1.0], [-1.0, 1.0]]))  # up = −1 (image) + 2 (features)
    result = explain(new, images, methods=["gradcam"], additional_forward_args=closes)
    np.testing.assert_array_equal(result.target, [1, 1])
    # each cell: the image's −1 and the features' +2, over the 64 cells
    np.testing.assert_allclose(result.maps["gradcam"].layer_map, np.full((2, 1, 8, 8), 1.0 / CELLS), rtol=1e-5)
