"""The explanation engine: Captum's five methods with known answers, fused where it is exact,
safe with in-place ReLUs, shared models, threads and exceptions."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from captum.attr import Deconvolution, GuidedBackprop, GuidedGradCam, LayerAttribution, LayerGradCam, Saliency
from torch import nn

from models.architectures import ModelSpec, build_model
from models.tasks import ForecastDirection
from xai.explain import ENGINES, GradCamOptions, explain
from xai.methods import ALL_METHODS, METHODS
from xai.prepare import captum_ready


class TinyConvNet(nn.Module):
    """1×1 conv (2 channels) → ReLU → global mean → linear: every gradient is known by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, 3.0]).reshape(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.5, -0.25]))
            self.fc.weight.copy_(torch.tensor([[1.0, -2.0], [4.0, 0.5]]))

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.conv

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(image)).mean(dim=(2, 3)))


def positive_image(size: int = 4) -> torch.Tensor:
    return (torch.arange(size * size, dtype=torch.float32).reshape(1, 1, size, size) + 1) / 10


def test_saliency_of_the_tiny_net_is_its_weights():
    # all ReLUs active: d logit_k / d x_p = sum_c fc[k, c] * conv_c / P
    image = positive_image()
    result = explain(TinyConvNet(), image, methods=["saliency"], target=1)
    expected = (4.0 * 2.0 + 0.5 * 3.0) / 16
    np.testing.assert_allclose(result.maps["saliency"].attribution, np.full((1, 1, 4, 4), expected), rtol=1e-6)
    assert result.target.tolist() == [1]


def test_gradcam_of_the_tiny_net_from_hand_set_activations_and_gradients():
    image = positive_image()
    activations = torch.stack([2.0 * image[0, 0] + 0.5, 3.0 * image[0, 0] - 0.25])  # (2, 4, 4)
    alpha = torch.tensor([1.0, -2.0]) / 16  # mean gradient of logit 0 per channel
    cam = (alpha[:, None, None] * activations).sum(0)
    signed = explain(TinyConvNet(), image, methods=["gradcam"], target=0, gradcam=GradCamOptions(relu=False))
    np.testing.assert_allclose(signed.maps["gradcam"].layer_map[0, 0], cam.numpy(), rtol=1e-6)
    positive = explain(TinyConvNet(), image, methods=["gradcam"], target=0)
    np.testing.assert_allclose(positive.maps["gradcam"].layer_map[0, 0], cam.clamp(min=0).numpy(), rtol=1e-6)


def test_registry_names_are_the_fields_and_captums_classes_are_kept():
    assert [METHODS[key].label for key in ALL_METHODS] == [
        "Grad-CAM",
        "Vanilla gradient (saliency)",
        "DeconvNet",
        "Guided Backprop",
        "Guided Grad-CAM",
    ]
    assert [METHODS[key].captum_name for key in ALL_METHODS] == [
        "Layer Grad Cam",
        "Saliency",
        "Deconvolution",
        "Guided Backprop",
        "Guided Grad Cam",
    ]
    assert all(len(METHODS[key].how_to_read) > 40 for key in ALL_METHODS)


# --- torchvision ResNets and the in-place ReLU fix ----------------------------------------------


def count_relu_calls(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    calls: dict[str, int] = {}
    handles = [
        module.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(name, calls.get(name, 0) + 1))
        for name, module in model.named_modules()
        if isinstance(module, nn.ReLU)
    ]
    try:
        model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


@pytest.mark.parametrize("task", ["nifty", "ticker"])
def test_captum_ready_changes_nothing_the_model_computes(task):
    torch.manual_seed(0)
    spec = ModelSpec.default(task, image_size=64)
    model = build_model(spec).eval()
    inputs = [torch.randn(3, 1, 64, 64), torch.log10(100 + torch.rand(3, spec.sequence_length))]
    if task == "ticker":
        torch.nn.init.normal_(model.image_head.weight)
    else:
        torch.nn.init.normal_(model.fc.weight)
    before = model(*inputs)
    assert max(count_relu_calls(model, *inputs).values()) == 2  # BasicBlock reuses its ReLU
    captum_ready(model)
    captum_ready(model)  # idempotent
    torch.testing.assert_close(model(*inputs), before, rtol=0, atol=0)
    assert all(not m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    assert set(count_relu_calls(model, *inputs).values()) == {1}


# --- the shipped models against Captum called method by method ----------------------------------


@pytest.fixture
def classifier_case(shipped_classifier_batch):
    return shipped_classifier_batch


@pytest.fixture
def regressor_case(shipped_regressor_batch):
    return shipped_regressor_batch


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_classifier_maps_equal_captums_own_classes(classifier_case, upsample, engine):
    model, image, closes = classifier_case
    result = explain(
        model, image, additional_forward_args=closes, gradcam=GradCamOptions(upsample=upsample), engine=engine
    )
    target = torch.from_numpy(result.target)
    with torch.no_grad():
        assert result.target.tolist() == model(image, closes).argmax(1).tolist()
    layer = model.gradcam_layer
    common = {"target": target, "additional_forward_args": closes}
    reference = {
        "gradcam": LayerAttribution.interpolate(
            LayerGradCam(model, layer).attribute(image, relu_attributions=True, **common), (64, 64), upsample
        ),
        "saliency": Saliency(model).attribute(image, abs=False, **common),
        "deconvolution": Deconvolution(model).attribute(image, **common),
        "guided_backprop": GuidedBackprop(model).attribute(image, **common),
        "guided_gradcam": GuidedGradCam(model, layer).attribute(image, interpolate_mode=upsample, **common),
    }
    for key, expected in reference.items():
        got = torch.from_numpy(result.maps[key].attribution)
        assert got.shape == (4, 1, 64, 64)
        torch.testing.assert_close(got, expected.detach(), rtol=0, atol=1e-5, msg=key)
    assert result.maps["guided_gradcam"].attribution.any()


@pytest.mark.parametrize("engine", ENGINES)
def test_regressor_maps_equal_captums_and_flip_with_the_direction(regressor_case, engine):
    model, image, closes = regressor_case
    for direction in (1, -1):
        result = explain(model, image, additional_forward_args=closes, direction=direction, engine=engine)
        wrapped = ForecastDirection(model, direction)
        layer = model.gradcam_layer
        reference = {
            "gradcam": LayerAttribution.interpolate(
                LayerGradCam(wrapped, layer).attribute(
                    image, target=0, additional_forward_args=closes, relu_attributions=True
                ),
                (128, 128),
                "bilinear",
            ),
            "saliency": Saliency(wrapped).attribute(image, target=0, additional_forward_args=closes, abs=False),
            "deconvolution": Deconvolution(wrapped).attribute(image, target=0, additional_forward_args=closes),
            "guided_backprop": GuidedBackprop(wrapped).attribute(image, target=0, additional_forward_args=closes),
            "guided_gradcam": GuidedGradCam(wrapped, layer).attribute(
                image, target=0, additional_forward_args=closes, interpolate_mode="bilinear"
            ),
        }
        for key, expected in reference.items():
            got = torch.from_numpy(result.maps[key].attribution)
            torch.testing.assert_close(got, expected.detach(), rtol=0, atol=1e-5, msg=f"{key} {direction:+d}")
        assert result.target_kind == "direction"
        assert result.target.tolist() == [direction] * 4
    up = explain(model, image, methods=["saliency"], additional_forward_args=closes, direction=1)
    down = explain(model, image, methods=["saliency"], additional_forward_args=closes, direction=-1)
    np.testing.assert_allclose(down.maps["saliency"].attribution, -up.maps["saliency"].attribution, rtol=1e-6)
    assert np.abs(up.maps["saliency"].attribution).max() > 0  # the image branch is alive
    both = [explain(model, image, methods=["gradcam"], additional_forward_args=closes, direction=d) for d in (1, -1)]
    assert any(result.maps["gradcam"].layer_map.any() for result in both)


@pytest.mark.parametrize("methods", [[key] for key in ALL_METHODS] + [["guided_gradcam", "saliency"]])
def test_fused_engine_equals_captums_for_any_subset_of_methods(classifier_case, methods):
    model, image, closes = classifier_case
    fused = explain(model, image, methods=methods, target=[0, 1, 1, 0], additional_forward_args=closes)
    captum = explain(
        model, image, methods=methods, target=[0, 1, 1, 0], additional_forward_args=closes, engine="captum"
    )
    assert list(fused.maps) == methods
    for key in methods:
        np.testing.assert_allclose(fused.maps[key].attribution, captum.maps[key].attribution, rtol=0, atol=1e-5)
        assert fused.maps[key].seconds > 0


def test_unknown_engine_is_refused(classifier_case):
    model, image, closes = classifier_case
    with pytest.raises(ValueError, match=r"engine must be one of \('fused', 'captum'\), got 'fast'"):
        explain(model, image, additional_forward_args=closes, engine="fast")


def test_threads_asking_different_methods_get_what_they_would_alone(classifier_case):
    model, image, closes = classifier_case
    alone = {
        key: explain(model, image, methods=[key], additional_forward_args=closes).maps[key].attribution
        for key in ALL_METHODS
    }
    results: dict[tuple[int, str], np.ndarray] = {}
    errors: list[BaseException] = []

    def worker(round_: int, key: str) -> None:
        try:
            explained = explain(model, image, methods=[key], additional_forward_args=closes)
            results[(round_, key)] = explained.maps[key].attribution
        except BaseException as error:  # collected and re-raised by the test
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(r, k)) for r in range(3) for k in ALL_METHODS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for (_, key), attribution in results.items():
        np.testing.assert_array_equal(attribution, alone[key])


class FailsInForward(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls = 0

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.model.gradcam_layer

    def forward(self, image: torch.Tensor, closes: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        raise RuntimeError("boom")


@pytest.mark.parametrize("engine", ENGINES)
def test_hooks_are_released_when_a_method_raises(classifier_case, engine):
    model, image, closes = classifier_case
    before = explain(model, image, methods=["guided_backprop"], additional_forward_args=closes)
    before = before.maps["guided_backprop"].attribution
    failing = FailsInForward(model)
    with pytest.raises(RuntimeError, match="boom"):
        explain(failing, image, methods=["guided_backprop"], target=1, engine=engine)  # fails after hooks are set
    assert failing.calls == 1
    for module in model.modules():
        assert not module._forward_hooks
        assert not module._backward_hooks
        assert not module._forward_pre_hooks
    assert not model.training
    after = explain(model, image, methods=["guided_backprop"], additional_forward_args=closes)
    after = after.maps["guided_backprop"].attribution
    np.testing.assert_array_equal(after, before)


def test_model_mode_is_restored(classifier_case):
    model, image, closes = classifier_case
    model.train()
    try:
        explain(model, image, methods=["saliency"], additional_forward_args=closes)
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["lime"]}, r"methods must be a non-empty list of \('gradcam', 'saliency'"),
        ({"methods": []}, r"methods must be a non-empty list of"),
        ({"target": 2}, r"target must be a class in \[0, 2\), one per input \(4\) or one for all, got 2"),
        ({"additional_forward_args": None}, r"must hold the \(4, W\) log10 closes for the NIFTY-day classifier"),
        ({"additional_forward_args": torch.zeros(3, 60)}, r"\(4, W\) log10 closes .* got \(3, 60\)"),
    ],
)
def test_bad_requests_to_the_classifier(classifier_case, kwargs, message):
    model, image, closes = classifier_case
    with pytest.raises(ValueError, match=message):
        explain(model, image, **{"additional_forward_args": closes, **kwargs})


def test_bad_requests_name_the_parameter(regressor_case):
    model, image, closes = regressor_case
    with pytest.raises(ValueError, match=r"image must be a \(N, 1, S, S\) tensor, got \(4, 128, 128\)"):
        explain(model, image[:, 0], additional_forward_args=closes)
    with pytest.raises(ValueError, match=r"additional_forward_args must hold the \(4, W\) log10 closes"):
        explain(model, image)
    with pytest.raises(ValueError, match=r"direction must be \+1 \(pushes the forecast up\) or -1 \(down\), got 0"):
        explain(model, image, additional_forward_args=closes, direction=0)
    with pytest.raises(ValueError, match=r"upsample must be one of \('bilinear', 'nearest'\), got 'cubic'"):
        GradCamOptions(upsample="cubic")
