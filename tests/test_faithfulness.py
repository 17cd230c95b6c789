"""Trust scores for the maps: known answers on linear models, exact end points on the shipped ones,
Captum's expansion of targets and closes checked with models that notice a misalignment."""

from __future__ import annotations

import copy
import types

import numpy as np
import pytest
import torch
from torch import nn

from data.images.candlestick import bar_columns
from data.images.gadf import gadf_pixel_spans
from models.architectures import LOG10_SCALE
from models.tasks import ForecastDirection
from xai.explain import explain
from xai.faithfulness import (
    FaithfulnessCurves,
    candlestick_units,
    deletion_insertion,
    gadf_units,
    infidelity_score,
    sensitivity_score,
    target_score,
    trust_scores,
)
from xai.methods import ALL_METHODS
from xai.time_projection import gadf_time_importance


def sigmoid(x) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))


class LinearClassifier(nn.Module):
    """logits = (w0 · x, w1 · x): class k's saliency is exactly w_k; p(1) = sigmoid((w1 − w0) · x)."""

    def __init__(self, w1: torch.Tensor, w0: torch.Tensor | None = None) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.stack([torch.zeros_like(w1) if w0 is None else w0, w1]).float())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (self.w[None] * image[:, None, 0]).sum(dim=(2, 3))


class LinearRegressor(nn.Module):
    """Looks like the ticker regressor: forecast = last close + closes[:, 0] · (w · x) / 1000.

    Through ``ForecastDirection`` the explained change is ``direction · closes[:, 0] · (w · x)``,
    so its image gradient ``direction · closes[:, 0] · w`` differs per input: a misaligned
    expansion of the closes would show.
    """

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.spec = types.SimpleNamespace(task="ticker")
        self.w = nn.Parameter(w.float())

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        return log10_close[:, -1] + log10_close[:, 0] * (self.w * image[:, 0]).sum(dim=(1, 2)) / 1000


HAND_IMAGE = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
HAND_WEIGHTS = torch.tensor([[1.0, -1.0], [2.0, 0.5]])  # contributions w * x = [[1, -2], [6, 2]], logit 7


def hand_model() -> LinearClassifier:
    return LinearClassifier(HAND_WEIGHTS)


# --- target_score ------------------------------------------------------------------------------


def test_target_score_is_the_probability_of_the_predicted_or_given_class():
    model = LinearClassifier(torch.ones(2, 2))
    image = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[-2.0, 0.0], [0.0, 0.0]]]])  # logits 1 and -2
    np.testing.assert_allclose(target_score(model, image).numpy(), [sigmoid(1), sigmoid(2)], rtol=1e-6)
    np.testing.assert_allclose(target_score(model, image, target=1).numpy(), sigmoid([1, -2]), rtol=1e-6)
    np.testing.assert_allclose(target_score(model, image, target=[0, 1]).numpy(), sigmoid([-1, -2]), rtol=1e-6)


def test_target_score_of_the_regressor_is_the_signed_change():
    w = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    image = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]], [[[2.0, 0.0], [0.0, 1.0]]]])  # w · x = 2 and 1
    closes = torch.tensor([[3.0, 0.5, 0.0], [2.0, 0.7, 0.0]])
    up = target_score(LinearRegressor(w), image, additional_forward_args=closes)
    down = target_score(LinearRegressor(w), image, additional_forward_args=closes, direction=-1)
    np.testing.assert_allclose(up.numpy(), [6.0, 2.0], rtol=1e-5)
    np.testing.assert_allclose(down.numpy(), [-6.0, -2.0], rtol=1e-5)


@pytest.mark.parametrize("direction", [1, -1])
def test_shipped_regressors_score_is_its_change_without_float32_rounding(shipped_regressor_batch, direction):
    model, image, closes = shipped_regressor_batch
    got = target_score(model, image, additional_forward_args=closes, direction=direction).double()
    reference = ForecastDirection(copy.deepcopy(model).double().eval(), direction)
    with torch.no_grad():
        exact = reference(image.double(), closes.double())[:, 0]
        through_price = direction * (model.eval()(image, closes) - closes[:, -1]).double() * LOG10_SCALE
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-6)
    # forecast − last in float32 loses ≈ 2.4e-4 to the price level: why the change is read directly
    assert (through_price - exact).abs().max() > 1e-5


def test_target_score_runs_in_eval_mode_in_chunks_and_restores_every_training_flag():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 3))
    model.train()
    model[2].eval()  # a mixed state must come back as it was
    image = torch.randn(7, 1, 4, 4)
    with torch.no_grad():
        expected = torch.softmax(model[2](image.flatten(1)), dim=1).max(dim=1).values  # no dropout
    for batch_size in (64, 3):
        np.testing.assert_allclose(target_score(model, image, batch_size=batch_size), expected, rtol=1e-6)
    assert [m.training for m in model.modules()] == [True, True, True, False]


# --- deletion and insertion: known answers -----------------------------------------------------


def test_a_deletion_and_insertion_curve_worked_out_by_hand():
    # positive order removes contributions 6, 2, 1, -2: logits 7, 1, -1, -2, 0 (deletion);
    # restores them onto the zero image: 0, 6, 8, 9, 7 (insertion); the target stays class 1.
    curves = deletion_insertion(hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS, steps=4, n_random=0)
    np.testing.assert_array_equal(curves.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curves.deletion, sigmoid([[7, 1, -1, -2, 0]]), rtol=1e-6)
    np.testing.assert_allclose(curves.insertion, sigmoid([[0, 6, 8, 9, 7]]), rtol=1e-6)
    deletion = sigmoid([7, 1, -1, -2, 0])
    np.testing.assert_allclose(curves.deletion_auc, [0.25 * (deletion[1:] + deletion[:-1]).sum() / 2], rtol=1e-6)
    assert np.isnan(curves.random_deletion_auc).all()
    assert np.isnan(curves.random_insertion_auc).all()
    assert (curves.unit, curves.order) == ("pixel", "positive")
    # two steps: two pixels each; "absolute" removes 6, -2, 2, 1: logits 7, 3, 0
    halves = deletion_insertion(hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS, steps=2, n_random=0)
    np.testing.assert_allclose(halves.deletion, sigmoid([[7, -1, 0]]), rtol=1e-6)
    absolute = deletion_insertion(
        hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS, steps=4, order="absolute", n_random=0
    )
    np.testing.assert_allclose(absolute.deletion, sigmoid([[7, 1, 3, 1, 0]]), rtol=1e-6)


def test_a_baseline_image_replaces_the_removed_pixels():
    baseline = torch.full((1, 1, 2, 2), 1.0)  # contributions of the baseline: w = [[1, -1], [2, 0.5]]
    curves = deletion_insertion(
        hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS, steps=4, baseline=baseline, n_random=0
    )
    # remove 6 (put back 2), remove 2 (put back 0.5), remove 1 (put back 1), remove -2 (put back -1)
    np.testing.assert_allclose(curves.deletion, sigmoid([[7, 3, 1.5, 1.5, 2.5]]), rtol=1e-6)


def test_exact_attribution_of_a_linear_model_beats_random_and_its_reverse_pointwise(rng):
    size = 6
    x = torch.from_numpy(rng.normal(size=(3, 1, size, size))).float()
    model = LinearClassifier(torch.from_numpy(rng.normal(size=(size, size))).float())
    exact = (x * model.w[1]).detach()  # w ⊙ x: each pixel's exact contribution to the logit
    target = [1, 1, 1]
    best = deletion_insertion(model, x, exact, target=target, steps=size * size, n_random=3, seed=4)
    worst = deletion_insertion(model, x, -exact, target=target, steps=size * size, n_random=0)
    # removing the k largest contributions leaves the smallest possible logit after every step
    assert (best.deletion <= worst.deletion + 1e-7).all()
    assert (best.insertion >= worst.insertion - 1e-7).all()
    assert (best.deletion_auc < best.random_deletion_auc).all()
    assert (best.insertion_auc > best.random_insertion_auc).all()
    assert (worst.deletion_auc > best.random_deletion_auc).all()
    assert (best.deletion_gain > 0).all()
    assert (best.insertion_gain > 0).all()


def test_all_positive_evidence_gives_monotone_curves(rng):
    x = torch.from_numpy(rng.uniform(0.1, 1.0, size=(2, 1, 5, 5))).float()
    model = LinearClassifier(torch.from_numpy(rng.uniform(0.1, 1.0, size=(5, 5))).float())
    curves = deletion_insertion(model, x, (x * model.w[1]).detach(), target=1, steps=10, n_random=0)
    assert (np.diff(curves.deletion, axis=1) <= 0).all()
    assert (np.diff(curves.insertion, axis=1) >= 0).all()


def test_every_input_keeps_its_own_target_and_closes_through_the_perturbed_batches(rng):
    size, steps = 3, 3  # after steps 1, 2: round(9 / 3) = 3 and 6 pixels removed
    w0, w1 = (torch.from_numpy(rng.normal(size=(size, size))).float() for _ in range(2))
    x = torch.from_numpy(rng.normal(size=(2, 1, size, size))).float()
    attribution = torch.from_numpy(rng.normal(size=x.shape)).float()
    removed = np.argsort(-attribution.reshape(2, -1).numpy(), axis=1, kind="stable")

    def remaining(weights: np.ndarray) -> np.ndarray:
        """(2, 4) contributions left after each step, per input."""
        contributions = (x.reshape(2, -1).numpy() * weights).astype(np.float64)
        gone = [np.take_along_axis(contributions, removed[:, : 3 * k], axis=1).sum(axis=1) for k in range(4)]
        return contributions.sum(axis=1)[:, None] - np.stack(gone, axis=1)

    w = torch.stack([w0, w1]).reshape(2, -1).numpy()
    classifier = deletion_insertion(LinearClassifier(w1, w0), x, attribution, target=[0, 1], steps=steps, n_random=2)
    logit_gap = remaining(np.stack([w[0] - w[1], w[1] - w[0]]))  # target logit minus the other
    np.testing.assert_allclose(classifier.deletion, sigmoid(logit_gap), rtol=1e-5)
    closes = torch.tensor([[2.0, 0.0], [-1.0, 0.0]])  # per-input slopes
    regressor = deletion_insertion(
        LinearRegressor(w1), x, attribution, additional_forward_args=closes, direction=-1, steps=steps, n_random=2
    )
    np.testing.assert_allclose(regressor.deletion, -closes[:, :1].numpy() * remaining(w[1]), rtol=1e-4, atol=1e-5)


def test_random_orders_are_seeded():
    args = (hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS)
    first = deletion_insertion(*args, steps=4, n_random=3, seed=7)
    again = deletion_insertion(*args, steps=4, n_random=3, seed=7)
    np.testing.assert_array_equal(first.random_deletion_auc, again.random_deletion_auc)
    np.testing.assert_array_equal(first.random_insertion_auc, again.random_insertion_auc)


# --- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_bars", "size"), [(50, 128), (7, 10), (8, 8)])
def test_candlestick_units_tile_the_image_along_bar_columns(n_bars, size):
    units = candlestick_units(n_bars, size)
    assert units.shape == (n_bars, size, size)
    assert units.dtype == np.bool_
    np.testing.assert_array_equal(units.sum(axis=0), np.ones((size, size)))
    for bar, (x0, x1) in enumerate(bar_columns(n_bars, size)):
        expected = np.zeros((size, size), bool)
        expected[:, x0:x1] = True
        np.testing.assert_array_equal(units[bar], expected)


def test_gadf_units_are_row_and_column_t_when_each_pixel_is_one_timestamp():
    units = gadf_units(5, 5)
    for t in range(5):
        expected = np.zeros((5, 5), bool)
        expected[t, :] = expected[:, t] = True
        np.testing.assert_array_equal(units[t], expected)


@pytest.mark.parametrize(("n_timestamps", "size"), [(60, 64), (60, 32), (7, 3)])
def test_gadf_units_follow_the_pixel_spans(n_timestamps, size):
    units = gadf_units(n_timestamps, size)
    spans = gadf_pixel_spans(size, n_timestamps)
    assert units.shape == (n_timestamps, size, size)
    for t in range(n_timestamps):
        stands = (spans[:, 0] <= t) & (t < spans[:, 1])
        np.testing.assert_array_equal(units[t], stands[:, None] | stands[None, :])
    assert units.any(axis=0).all()


def test_time_units_remove_whole_bars_in_the_order_of_their_importance():
    size = 8
    x = torch.ones(1, 1, size, size)
    w = torch.zeros(size, size)
    w[:, 0:2], w[:, 2:4], w[:, 4:6], w[:, 6:8] = 0.25, -0.125, 0.5, 0.0  # bar sums 4, -2, 8, 0
    units = candlestick_units(4, size)
    curves = deletion_insertion(
        LinearClassifier(w), x, torch.zeros(1, 1, size, size), target=1, units=units, unit_importance=[[1, 3, 2, 0]]
    )
    # order: bar 1 (-2), bar 2 (8), bar 0 (4), bar 3 (0): logits 10, 12, 4, 0, 0
    np.testing.assert_array_equal(curves.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curves.deletion, sigmoid([[10, 12, 4, 0, 0]]), rtol=1e-6)
    assert curves.unit == "time step"
    # by default each unit's importance is the map summed over its pixels: the exact map w ⊙ x
    exact = deletion_insertion(LinearClassifier(w), x, (x * w), target=1, units=units, n_random=0)
    np.testing.assert_allclose(exact.deletion, sigmoid([[10, 2, -2, -2, 0]]), rtol=1e-6)


def test_overlapping_units_remove_the_union_and_every_unit_is_a_step():
    x = torch.ones(1, 1, 3, 3)
    units = gadf_units(3, 3)
    units = np.concatenate([units, units[:1]])  # a duplicate of unit 0: covered when it comes up
    w = torch.arange(9.0).reshape(3, 3)
    curves = deletion_insertion(
        LinearClassifier(w), x, torch.zeros(1, 1, 3, 3), target=1, units=units, unit_importance=[[4, 3, 2, 1]]
    )
    # unit 0 removes row 0 and column 0 (0+1+2+3+6 = 12); unit 1 then row 1 and column 1 (4+5+7 = 16)
    np.testing.assert_array_equal(curves.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curves.deletion, sigmoid([[36, 24, 8, 0, 0]]), rtol=1e-6)


# --- deletion and insertion on the shipped models ----------------------------------------------


def test_shipped_classifier_curves_start_and_end_exactly_at_the_two_images_scores(shipped_classifier_batch):
    model, image, closes = shipped_classifier_batch
    extra = {"additional_forward_args": closes}
    attribution = explain(model, image, methods=["saliency"], **extra).maps["saliency"].attribution
    curves = deletion_insertion(model, image, attribution, steps=10, n_random=1, **extra)
    with torch.no_grad():
        predicted = model(image, closes).argmax(dim=1)
    original = target_score(model, image, **extra).double().numpy()
    empty = target_score(model, torch.zeros_like(image), target=predicted, **extra).double().numpy()
    np.testing.assert_array_equal(curves.deletion[:, 0], original)
    np.testing.assert_array_equal(curves.insertion[:, -1], original)
    np.testing.assert_array_equal(curves.deletion[:, -1], empty)
    np.testing.assert_array_equal(curves.insertion[:, 0], empty)
    # step 3 of 10 by hand: the round(3 * 4096 / 10) = 1229 most positive pixels set to 0
    flat = image.reshape(4, -1).clone()
    ranking = np.argsort(-attribution.reshape(4, -1), axis=1, kind="stable")[:, :1229]
    deleted = flat.scatter(1, torch.from_numpy(ranking), 0.0).reshape(image.shape)
    by_hand = target_score(model, deleted, target=predicted, **extra).double().numpy()
    np.testing.assert_allclose(curves.deletion[:, 3], by_hand, rtol=0, atol=1e-5)
    assert curves.fractions[3] == 1229 / 4096
    assert np.isfinite(curves.random_deletion_auc).all()


def test_shipped_regressor_curves_keep_the_closes_with_their_images(shipped_regressor_batch):
    model, image, closes = shipped_regressor_batch
    attribution = explain(model, image, methods=["saliency"], additional_forward_args=closes, direction=-1)
    curves = deletion_insertion(
        model,
        image,
        attribution.maps["saliency"].attribution,
        additional_forward_args=closes,
        direction=-1,
        steps=2,
        n_random=0,
    )
    original = target_score(model, image, additional_forward_args=closes, direction=-1).double().numpy()
    empty = target_score(model, torch.zeros_like(image), additional_forward_args=closes, direction=-1)
    np.testing.assert_array_equal(curves.deletion[:, 0], original)
    np.testing.assert_array_equal(curves.deletion[:, -1], empty.double().numpy())
    assert np.isfinite(curves.deletion).all()
    assert np.isfinite(curves.insertion).all()


def test_gadf_minutes_as_units_on_the_shipped_classifier(shipped_classifier_batch):
    model, image, closes = shipped_classifier_batch
    image, extra = image[:2], {"additional_forward_args": closes[:2]}
    attribution = explain(model, image, methods=["gradcam"], **extra).maps["gradcam"].attribution
    per_time = gadf_time_importance(attribution, 60).per_time
    curves = deletion_insertion(
        model, image, attribution, units=gadf_units(60, 64), unit_importance=per_time, n_random=0, **extra
    )
    assert curves.deletion.shape == (2, 61)
    assert curves.fractions[1] == 1 / 60
    np.testing.assert_array_equal(curves.deletion[:, 0], curves.insertion[:, -1])
    np.testing.assert_array_equal(curves.deletion[:, -1], curves.insertion[:, 0])


# --- infidelity --------------------------------------------------------------------------------


def test_infidelity_of_the_gradient_of_a_linear_model_is_zero_and_of_others_is_not(rng):
    size = 6
    w0, w1 = (torch.from_numpy(rng.normal(size=(size, size))).float() for _ in range(2))
    model = LinearClassifier(w1, w0)
    x = torch.from_numpy(rng.normal(size=(4, 1, size, size))).float()
    target = torch.tensor([0, 1, 1, 0])
    gradient = model.w.detach()[target][:, None]  # the exact local map of each input's own target logit
    kwargs = {"target": target, "n_perturb_samples": 4}
    scale = infidelity_score(model, x, torch.zeros_like(x), **kwargs)  # = E[(f(x) − f(x − I))²]
    exact = infidelity_score(model, x, gradient, **kwargs)
    assert (exact <= 1e-6 * scale).all()
    np.testing.assert_allclose(infidelity_score(model, x, 5 * gradient, **kwargs), exact, atol=1e-6 * scale.max())
    noise = torch.from_numpy(rng.normal(size=x.shape)).float()
    assert (infidelity_score(model, x, noise, **kwargs) > 0.1 * scale).all()
    assert (infidelity_score(model, x, x * gradient, **kwargs) > 0.01 * scale).all()  # ⊙ x does not fit I
    np.testing.assert_array_equal(
        infidelity_score(model, x, noise, **kwargs), infidelity_score(model, x, noise, **kwargs)
    )


class CubeClassifier(nn.Module):
    """logits = (0, w · x³): a curved score, so the infidelity of its gradient is not zero; its odd
    terms tell the perturbation ``x − I`` from ``x + I`` even after the best rescaling β."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.float())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        curved = (self.w * image[:, 0] ** 3).sum(dim=(1, 2))
        return torch.stack([torch.zeros_like(curved), curved], dim=1)


def test_infidelity_follows_its_definition_on_a_curved_score(rng):
    # E[(β Iᵀφ − (f(x) − f(x − I)))²] with the best β, I = the seeded generator's N(0, 0.3²) draws
    n_inputs, n_samples, std = 2, 3, 0.3
    w = torch.from_numpy(rng.normal(size=(3, 3))).float()
    x = torch.from_numpy(rng.normal(size=(n_inputs, 1, 3, 3))).float()
    gradient = 3 * w * x**2
    got = infidelity_score(CubeClassifier(w), x, gradient, target=1, n_perturb_samples=n_samples, noise_std=std, seed=3)
    noise = torch.randn((n_inputs * n_samples, 1, 3, 3), generator=torch.Generator().manual_seed(3)) * std
    noise = noise.double().numpy().reshape(n_inputs, n_samples, 9)  # input i's copies are consecutive
    weights, inputs = w.double().numpy().reshape(9), x.double().numpy().reshape(n_inputs, 1, 9)
    change = (weights * inputs**3).sum(-1) - (weights * (inputs - noise) ** 3).sum(-1)  # (N, n)
    predicted = (noise * gradient.double().numpy().reshape(n_inputs, 1, 9)).sum(-1)
    beta = (predicted * change).sum(1, keepdims=True) / (predicted**2).sum(1, keepdims=True)
    expected = ((beta * predicted - change) ** 2).mean(1)
    assert (expected > 1e-3).all()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.parametrize("direction", [1, -1])
def test_infidelity_expands_the_regressors_closes_in_step_with_its_images(rng, direction):
    w = torch.from_numpy(rng.normal(size=(4, 4))).float()
    x = torch.from_numpy(rng.normal(size=(3, 1, 4, 4))).float()
    closes = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-3.0, 0.0]])  # per-input slopes 1, 2, -3
    gradient = direction * closes[:, 0, None, None, None] * w
    kwargs = {"additional_forward_args": closes, "direction": direction, "n_perturb_samples": 4}
    scale = infidelity_score(LinearRegressor(w), x, torch.zeros_like(x), **kwargs)
    assert (infidelity_score(LinearRegressor(w), x, gradient, **kwargs) <= 1e-6 * scale).all()


# --- sensitivity -------------------------------------------------------------------------------


def test_a_map_that_ignores_the_input_has_sensitivity_zero_with_its_target_kept(rng):
    w0, w1 = (torch.from_numpy(rng.normal(size=(4, 4))).float() for _ in range(2))
    x = torch.from_numpy(rng.normal(size=(3, 1, 4, 4))).float()
    gap = w1 - w0
    x[2, 0] -= ((gap * x[2, 0]).sum() - 1e-4) / (gap**2).sum() * gap  # on the decision boundary
    model = LinearClassifier(w1, w0)
    fixed = sensitivity_score(model, x, "saliency", target=[0, 1, 1], n_perturb_samples=8)
    np.testing.assert_array_equal(fixed, [0.0, 0.0, 0.0])  # saliency = w_target whatever the input
    # re-predicting the class of each noisy copy would flip it at the boundary: the map jumps
    with torch.no_grad():
        flips = model(x[2:] + torch.from_numpy(rng.uniform(-0.02, 0.02, (64, 1, 4, 4))).float()).argmax(dim=1)
    assert 0 < flips.sum() < 64


def test_sensitivity_expands_the_regressors_closes_in_step_with_its_images(rng):
    w = torch.from_numpy(rng.normal(size=(4, 4))).float()
    x = torch.from_numpy(rng.normal(size=(3, 1, 4, 4))).float()
    closes = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-3.0, 0.0]])  # saliency = direction · slope · w
    values = sensitivity_score(
        LinearRegressor(w), x, "saliency", additional_forward_args=closes, direction=-1, n_perturb_samples=4
    )
    np.testing.assert_allclose(values, [0.0, 0.0, 0.0], atol=1e-6)


def test_saliency_of_the_shipped_classifier_moves_with_its_input(shipped_classifier_batch):
    model, image, closes = shipped_classifier_batch
    extra = {"additional_forward_args": closes[:2], "n_perturb_samples": 4}
    values = sensitivity_score(model, image[:2], "saliency", **extra)
    assert values.shape == (2,)
    assert np.isfinite(values).all()
    assert (values > 0).all()
    np.testing.assert_array_equal(values, sensitivity_score(model, image[:2], "saliency", **extra))


# --- one call for the UI -----------------------------------------------------------------------


def test_trust_scores_of_the_shipped_classifier(shipped_classifier_batch):
    model, image, closes = shipped_classifier_batch
    image, closes = image[:2], closes[:2]
    flags = [m.training for m in model.modules()]
    explanations = explain(model, image, target=[1, 0], additional_forward_args=closes)
    scores = trust_scores(
        model,
        image,
        explanations,
        additional_forward_args=closes,
        steps=10,
        n_random=2,
        infidelity_samples=4,
        sensitivity_samples=4,
    )
    assert list(scores) == list(ALL_METHODS)
    reference = scores["gradcam"]
    for key, entry in scores.items():
        assert entry.method == key
        assert isinstance(entry.curves, FaithfulnessCurves)
        for name in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
            values = getattr(entry, name)
            assert values.shape == (2,), key
            assert ((values >= 0) & (values <= 1)).all(), key  # areas under probabilities (NaN fails too)
        assert entry.infidelity.shape == (2,)
        assert ((entry.infidelity_share >= 0) & (entry.infidelity_share <= 1 + 1e-6)).all()  # 1 − ρ²
        assert np.isfinite(entry.infidelity).all()
        assert (entry.infidelity >= 0).all()
        assert entry.sensitivity.shape == (2,)
        assert np.isfinite(entry.sensitivity).all()
        np.testing.assert_array_equal(entry.random_deletion_auc, reference.random_deletion_auc)
    # the explanations' target (class 1, then 0) is the one scored, not the predicted one
    saliency = explanations.maps["saliency"].attribution
    alone = deletion_insertion(
        model, image, saliency, target=[1, 0], additional_forward_args=closes, steps=10, n_random=0
    )
    np.testing.assert_array_equal(scores["saliency"].deletion_auc, alone.deletion_auc)
    assert [m.training for m in model.modules()] == flags
    assert not model.training


def test_trust_scores_of_the_regressor_take_the_explanations_direction(rng):
    w = torch.from_numpy(rng.normal(size=(4, 4))).float()
    x = torch.from_numpy(rng.normal(size=(2, 1, 4, 4))).float()
    closes = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    model = LinearRegressor(w)
    explanations = explain(model, x, methods=["saliency"], additional_forward_args=closes, direction=-1)
    scores = trust_scores(
        model,
        x,
        explanations,
        additional_forward_args=closes,
        steps=4,
        n_random=1,
        infidelity_samples=4,
        sensitivity_samples=2,
    )
    scale = infidelity_score(
        model, x, torch.zeros_like(x), additional_forward_args=closes, direction=-1, n_perturb_samples=4
    )
    assert (scores["saliency"].infidelity <= 1e-6 * scale).all()  # saliency is this linear model's gradient
    assert (scores["saliency"].infidelity_share <= 1e-6).all()
    np.testing.assert_allclose(scores["saliency"].sensitivity, [0.0, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match=r"direction must match the explanations' direction \(-1\), got 1"):
        trust_scores(model, x, explanations, additional_forward_args=closes, direction=1)


def test_trust_scores_take_time_units_as_a_mapping_or_a_callable(rng):
    size = 8
    x = torch.from_numpy(rng.normal(size=(2, 1, size, size))).float()
    model = LinearClassifier(torch.from_numpy(rng.normal(size=(size, size))).float())
    explanations = explain(model, x, methods=["saliency"], target=1)
    units = candlestick_units(4, size)
    per_bar = (x * model.w[1]).detach().numpy()[:, 0].reshape(2, size, 4, 2).sum(axis=(1, 3))  # exact, per bar
    kwargs = {"units": units, "include_sensitivity": False, "n_random": 1, "infidelity_samples": 2}
    mapped = trust_scores(model, x, explanations, unit_importance={"saliency": per_bar}, **kwargs)["saliency"]
    called = trust_scores(model, x, explanations, unit_importance=lambda maps: per_bar, **kwargs)["saliency"]
    np.testing.assert_array_equal(mapped.curves.deletion, called.curves.deletion)
    assert mapped.curves.unit == "time step"
    assert mapped.sensitivity is None
    assert (mapped.deletion_auc < mapped.random_deletion_auc).all()  # exact per-bar evidence beats random
    with pytest.raises(ValueError, match=r"unit_importance must hold every method's .* 'saliency' is missing"):
        trust_scores(model, x, explanations, unit_importance={}, **kwargs)


# --- bad parameters ----------------------------------------------------------------------------


BAD_DELETION = [
    ({"order": "up"}, ValueError, "order must be one of 'positive', 'absolute', got 'up'"),
    ({"order": 1}, TypeError, "order must be a str, got int 1"),
    ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
    ({"steps": 5}, ValueError, r"steps must be <= the number of pixels \(4\), got 5"),
    ({"steps": 2.0}, TypeError, "steps must be an int, got float 2.0"),
    ({"n_random": -1}, ValueError, "n_random must be >= 0, got -1"),
    ({"baseline": float("nan")}, ValueError, "baseline must be finite, got nan"),
    ({"baseline": "zero"}, TypeError, "baseline must be a number or a tensor/array, got str"),
    ({"baseline": torch.zeros(3, 3)}, ValueError, r"baseline must be a number or broadcast to the image's shape"),
    ({"target": 2}, ValueError, r"target must be a class in \[0, 2\), one per input \(1\) or one for all, got 2"),
    ({"target": 0.5}, TypeError, "target must be an int class index or one per input, got 0.5"),
    ({"target": [[1]]}, ValueError, r"target must be one class for all inputs or one per input \(1-D\), got \[\[1\]\]"),
    ({"unit_importance": [[1.0]]}, ValueError, "unit_importance needs units"),
    ({"units": np.ones((1, 2, 2))}, TypeError, "units must be a bool array"),
    (
        {"units": np.ones((1, 3, 3), bool)},
        ValueError,
        r"units must have shape \(G, 2, 2\) with G >= 1, got \(1, 3, 3\)",
    ),
    ({"units": np.eye(2, dtype=bool)[None]}, ValueError, "units must cover every pixel .* 2 pixels are in none"),
    (
        {"units": np.ones((2, 2, 2), bool), "unit_importance": [[1.0]]},
        ValueError,
        r"unit_importance must have shape \(N, G\) = \(1, 2\), got \(1, 1\)",
    ),
    ({"additional_forward_args": torch.zeros(1, 3)}, ValueError, "a classifier of its own takes the image only"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_DELETION)
def test_bad_deletion_parameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        deletion_insertion(hand_model(), HAND_IMAGE, HAND_IMAGE * HAND_WEIGHTS, **{"steps": 4, **kwargs})


def test_bad_inputs_are_named():
    model = hand_model()
    with pytest.raises(ValueError, match=r"image must have shape \(N, 1, S, S\) with N >= 1, got \(2, 2\)"):
        target_score(model, torch.zeros(2, 2))
    with pytest.raises(TypeError, match=r"image must be a torch\.Tensor"):
        target_score(model, np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"attribution must have the image's shape \(1, 1, 2, 2\), got \(2, 2\)"):
        deletion_insertion(model, HAND_IMAGE, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="attribution must be finite"):
        infidelity_score(model, HAND_IMAGE, np.full((1, 1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="noise_std must be finite and > 0, got 0"):
        infidelity_score(model, HAND_IMAGE, HAND_IMAGE, noise_std=0)
    with pytest.raises(ValueError, match=r"method must be one of \('gradcam'"):
        sensitivity_score(model, HAND_IMAGE, "lime")
    with pytest.raises(ValueError, match="perturb_radius must be finite and > 0, got -1"):
        sensitivity_score(model, HAND_IMAGE, "saliency", perturb_radius=-1)
    regressor = LinearRegressor(HAND_WEIGHTS)
    with pytest.raises(ValueError, match=r"additional_forward_args must hold the \(1, W\) log10 closes"):
        target_score(regressor, HAND_IMAGE)
    with pytest.raises(ValueError, match=r"direction must be \+1 .* or -1 .*, got 0"):
        target_score(regressor, HAND_IMAGE, additional_forward_args=torch.zeros(1, 2), direction=0)
    with pytest.raises(ValueError, match="target is for the classifier"):
        target_score(regressor, HAND_IMAGE, target=1, additional_forward_args=torch.zeros(1, 2))
    with pytest.raises(TypeError, match=r"explanations must be an xai\.explain\.ExplanationSet, got dict"):
        trust_scores(model, HAND_IMAGE, {})
