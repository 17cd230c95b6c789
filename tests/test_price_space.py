"""Occlusion in time, price-space curves and the per-window verdict, on models whose answers are known."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch
from torch import nn

from data.images import bar_columns
from models.checkpoints import LoadedCheckpoint
from models.registry import load_shipped
from workflows.verdict import verdicts, window_trust
from workflows.window import WindowExplanation
from xai.price_space import edited_inputs, occlusion_in_time, price_space_curves, window_scores
from xai.price_space.integrated import flat_integrated_gradients
from xai.price_space.paint import paint_profile

READ_BAR = 37  # the one bar the fake models read


class OneCloseRegressor(nn.Module):
    """A next-hour "regressor" whose predicted change reads the log10 close of one bar only."""

    def __init__(self, spec) -> None:
        super().__init__()
        self.spec = spec
        self.gain = nn.Parameter(torch.tensor(100.0))

    def predicted_change(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        return self.gain * (log10_close[:, READ_BAR] - 2.0)

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        return log10_close[:, -1] + self.predicted_change(image, log10_close) / 1000.0


class OneBarClassifier(nn.Module):
    """A two-class "classifier" whose up logit is the ink of one bar's pixel columns of a candlestick."""

    def __init__(self, spec, columns: tuple[int, int]) -> None:
        super().__init__()
        self.spec = spec
        self.columns = columns
        self.gain = nn.Parameter(torch.tensor(0.05))

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        ink = image[:, 0, :, self.columns[0] : self.columns[1]].abs().sum(dim=(1, 2))
        return torch.stack([torch.zeros_like(ink), self.gain * ink], dim=1)


@pytest.fixture(scope="module")
def ticker() -> LoadedCheckpoint:
    return load_shipped("ticker")


@pytest.fixture(scope="module")
def one_close(ticker) -> LoadedCheckpoint:
    return dataclasses.replace(ticker, model=OneCloseRegressor(ticker.spec).eval())


@pytest.fixture(scope="module")
def one_bar(ticker) -> LoadedCheckpoint:
    # a classifier reading 50-bar candlesticks
    spec = dataclasses.replace(ticker.spec, task="nifty", arch="resnet18", chart_head="cam")
    columns = tuple(int(c) for c in bar_columns(spec.sequence_length, spec.image_size)[READ_BAR])
    return dataclasses.replace(ticker, model=OneBarClassifier(spec, columns).eval(), spec=spec)


def spiky_window(n_bars: int = 50) -> np.ndarray:
    """A gently rising window whose bar READ_BAR spikes: it holds the window's high and low."""
    closes = 100 + 0.1 * np.arange(n_bars)
    closes[READ_BAR] = 112.0
    opens = np.concatenate([[99.9], closes[:-1]])
    bars = np.stack([opens, np.maximum(opens, closes) + 0.05, np.minimum(opens, closes) - 0.05, closes], axis=-1)
    bars[READ_BAR, 2] = 90.0  # the window's low too: no other bar sets the candlestick's scale
    return bars


def test_the_regressors_closes_are_the_edited_bars_closes(ticker):
    bars = spiky_window()
    image, closes = edited_inputs(ticker, bars[None])
    assert image.shape == (1, 1, ticker.spec.image_size, ticker.spec.image_size)
    assert np.allclose(closes.numpy()[0], np.log10(bars[:, 3]), atol=1e-6)


@pytest.mark.parametrize("model", ["one_close", "one_bar"])
def test_a_model_that_reads_one_bar_is_occluded_exactly_there(model, request):
    loaded = request.getfixturevalue(model)
    explained = np.array([1])
    occlusion = occlusion_in_time(loaded, spiky_window()[None], explained)
    profile = occlusion.per_time[0]
    assert profile[READ_BAR] > 0  # the spike held the answer up
    others = np.delete(profile, READ_BAR)
    assert np.array_equal(others, np.zeros_like(others))  # exactly zero elsewhere
    assert occlusion.windows_scored == 50
    assert np.allclose(occlusion.original, window_scores(loaded, spiky_window()[None], explained))


def test_the_regressors_occlusion_is_the_change_of_its_score_when_the_bar_is_replaced_by_the_line(one_close):
    occlusion = occlusion_in_time(one_close, spiky_window()[None], np.array([1]))
    line = 100 + 0.1 * READ_BAR  # the straight line through the neighbours' closes
    expected = 100 * (np.log10(112.0) - np.log10(line))
    assert occlusion.per_time[0, READ_BAR] == pytest.approx(expected, rel=1e-5)


def test_grouped_occlusion_gives_every_step_of_a_group_the_groups_value(one_close):
    occlusion = occlusion_in_time(one_close, spiky_window()[None], np.array([1]), group=5)
    group = READ_BAR // 5
    assert np.all(occlusion.per_time[0, 5 * group : 5 * group + 5] > 0)
    assert np.count_nonzero(occlusion.per_time[0]) == 5
    assert occlusion.windows_scored == 10


def test_a_map_that_ranks_the_read_bar_first_beats_random_orders_and_one_that_ranks_it_last_does_not(one_close):
    first, last = np.zeros(50), np.arange(50, 0, -1, dtype=float)
    first[READ_BAR] = 1.0
    last[READ_BAR] = -1.0
    curves = price_space_curves(
        one_close, spiky_window()[None], {"first": first, "last": last}, np.array([1]), steps=10, n_random=4
    )
    original = 100 * (np.log10(112.0) - 2)
    flat = 100 * (np.log10(99.9) - 2)  # every bar removed: flat at the first open
    for key in ("first", "last"):
        assert curves.deletion[key][0, 0] == pytest.approx(original, abs=1e-4)  # float32 closes
        assert curves.deletion[key][0, -1] == pytest.approx(flat, abs=1e-4)
        assert curves.insertion[key][0, 0] == pytest.approx(flat, abs=1e-4)
        assert curves.insertion[key][0, -1] == pytest.approx(original, abs=1e-4)
    assert curves.deletion_gain("first")[0] > 0 > curves.deletion_gain("last")[0]
    assert curves.insertion_gain("first")[0] > 0 > curves.insertion_gain("last")[0]
    # step 1 of "first" removes the spike and bars 0–3 (ties keep their order): bar 37 is on the line again
    assert curves.deletion["first"][0, 1] == pytest.approx(100 * (np.log10(100 + 0.1 * READ_BAR) - 2), abs=1e-4)
    assert curves.windows_scored == 1 + (2 + 4) * 9 * 2 + 1
    assert np.allclose(curves.fractions, np.arange(11) / 10)


def test_the_verdict_credits_the_map_that_follows_the_model_and_not_the_one_that_does_not(one_close):
    follows, ignores = np.zeros(50), np.zeros(50)
    follows[READ_BAR], ignores[3] = 1.0, 1.0
    result = WindowExplanation(
        prediction=None,
        explanations=types.SimpleNamespace(target=np.array([1])),
        image=np.zeros((128, 128), dtype=np.float32),
        image_kind="candlestick",
        per_time={"gradcam": follows, "saliency": ignores},
        per_time_signed=True,
        direction=1,
        closes=None,
    )
    trust = window_trust(one_close, spiky_window(), result)
    found = {v.method: v for v in verdicts(trust, result, {"gradcam": 0.1, "saliency": 0.9})}
    assert found["gradcam"].follows == "follows"
    assert found["gradcam"].numbers["rank correlation with occlusion"] == pytest.approx(1.0)
    assert "passes the sanity check" in found["gradcam"].sentence
    assert found["saliency"].follows == "does not follow"
    assert "fails the sanity check (ρ 0.90" in found["saliency"].sentence
    assert found["saliency"].numbers["price-space deletion gain over random"] < 0


def test_a_profile_painted_on_a_candlestick_fills_exactly_its_bars_columns():
    profile = np.zeros(50)
    profile[READ_BAR] = 2.0
    painted = paint_profile(profile, "candlestick", 128)
    start, stop = bar_columns(50, 128)[READ_BAR]
    assert np.array_equal(np.flatnonzero(painted.any(axis=0)), np.arange(start, stop))
    assert painted.max() == 2.0


def test_a_profile_painted_on_a_gadf_is_symmetric_and_peaks_on_the_minutes_own_pixel():
    profile = np.zeros(60)
    profile[10] = 1.0
    painted = paint_profile(profile, "gadf", 60)
    assert np.array_equal(painted, painted.T)
    assert painted[10, 10] == 1.0
    assert painted[10, 0] == 0.5
    assert painted[0, 0] == 0.0


def test_integrated_gradients_from_the_flat_chart_stay_on_the_read_bar_and_add_up_to_the_change(one_bar):
    window = spiky_window()
    found = flat_integrated_gradients(one_bar, window[None], np.array([1]), n_steps=64)
    start, stop = bar_columns(50, one_bar.spec.image_size)[READ_BAR]
    outside = np.delete(found.maps[0], np.s_[start:stop], axis=1)
    assert np.array_equal(outside, np.zeros_like(outside))  # the model reads no other pixel
    image, closes = edited_inputs(one_bar, window[None])
    flat = edited_inputs(one_bar, np.full((1, 50, 4), window[0, 0]))[0]
    with torch.no_grad():
        change = float(one_bar.model(image, closes)[0, 1] - one_bar.model(flat, closes)[0, 1])
    assert change > 0
    assert found.maps[0].sum() == pytest.approx(change, rel=1e-3)  # completeness
    assert abs(found.delta[0]) < 1e-3 * change
