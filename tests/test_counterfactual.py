"""One window edited and explained again, the demo window without its pattern, and the reliance filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data.demo import DEMO_INDEX, demo_bars, demo_bars_without, planted_patterns
from data.edits import EditError, WithoutPattern, flatten_range, remove_move
from data.settings import OHLC
from data.views import nifty_day_view, ticker_window_view
from data.windows import make_nifty_days
from models.datasets import load_samples
from models.predict import model_inputs, predict_window
from models.registry import load_shipped
from workflows.counterfactual import counterfactual
from workflows.planted import scored_intervals
from workflows.reliance import RELIANCE_THRESHOLDS, pattern_reliance
from workflows.window import explain_window


@pytest.fixture(scope="module")
def ticker():
    return load_shipped("ticker")


@pytest.fixture(scope="module")
def nifty():
    return load_shipped("nifty")


@pytest.fixture(scope="module")
def acme():
    return demo_bars("ACME", "60m")


def window_ending_on_a_pattern(acme, ticker, k: int = 100):
    pattern = planted_patterns("ACME").iloc[k]
    end = acme.bars.index.get_loc(pattern["pattern_hour"])
    view = ticker_window_view(acme, end - 49, image_size=ticker.spec.image_size)
    assert view.bars.index[-1] == pattern["pattern_hour"]
    return view


def test_removing_a_planted_pattern_restores_the_generators_no_pattern_window_bit_for_bit(acme, ticker):
    view = window_ending_on_a_pattern(acme, ticker)
    assert list(view.planted["pattern"]) == [98, 99, 100]  # the window holds three; 100 is on its last bar
    edited = WithoutPattern(100).edit_window(view.bars, acme)
    regenerated = demo_bars_without("ACME", 100, "60m").bars.loc[view.bars.index, list(OHLC)].to_numpy()
    assert np.array_equal(edited, regenerated)
    original = view.bars.to_numpy()
    assert np.array_equal(edited[:-1], original[:-1])  # the 49 bars before the pattern hour are untouched
    assert not np.array_equal(edited[-1], original[-1])


def test_the_counterfactual_of_a_pattern_window_says_what_changed_and_explains_the_same_direction(acme, ticker):
    view = window_ending_on_a_pattern(acme, ticker)
    original = explain_window(ticker, view.bars.to_numpy())
    found = counterfactual(ticker, view.bars, acme, WithoutPattern(100), original)
    assert np.flatnonzero(found.changed).tolist() == [49]
    assert found.inputs_changed
    assert int(found.result.explanations.target[0]) == int(original.explanations.target[0])
    alone = predict_window(ticker, found.bars.to_numpy())  # the same forecast as a fresh prediction
    assert found.result.prediction.pct_change == pytest.approx(alone.pct_change, abs=1e-6)
    assert found.call_flipped == (alone.predicted_up != original.prediction.predicted_up)
    assert found.answer_shift(original, ticker) == pytest.approx(alone.pct_change - original.prediction.pct_change)


def test_an_edit_that_changes_no_close_changes_nothing_a_gadf_model_reads(nifty):
    days = make_nifty_days(demo_bars(DEMO_INDEX, "1m").bars)
    view = nifty_day_view(demo_bars(DEMO_INDEX, "1m"), days, 500)
    bars = view.bars.copy()
    line = np.linspace(bars["close"].iloc[9], bars["close"].iloc[21], 13)
    bars.iloc[10:21, bars.columns.get_loc("close")] = line[1:-1]  # closes 10–20 on a straight line
    bars["open"] = np.concatenate([[bars["open"].iloc[0]], bars["close"].to_numpy()[:-1]])
    bars["high"] = bars[["open", "close"]].max(axis=1) + 1.0  # wicks the flatten edit will remove
    bars["low"] = bars[["open", "close"]].min(axis=1) - 1.0
    original = explain_window(nifty, bars.to_numpy())
    found = counterfactual(nifty, bars, demo_bars(DEMO_INDEX, "1m"), flatten_range(10, 20), original)
    assert found.changed[10:21].all()
    assert not found.changed[:10].any()
    assert not found.changed[21:].any()
    assert not found.inputs_changed
    before, after = model_inputs(nifty, bars.to_numpy()), model_inputs(nifty, found.bars.to_numpy())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert found.result.prediction.probability_up == pytest.approx(original.prediction.probability_up, abs=1e-6)
    assert not found.call_flipped


def test_a_counterfactual_refuses_a_pattern_edit_outside_the_demo_market_with_the_reason(ticker, acme):
    view = ticker_window_view(acme, 500, image_size=ticker.spec.image_size)
    real = acme.__class__(**{**acme.__dict__, "source": "upload:" + "ab" * 16, "synthetic": False})
    original = explain_window(ticker, view.bars.to_numpy())
    with pytest.raises(EditError, match="only the demo market knows what it planted"):
        counterfactual(ticker, view.bars, real, WithoutPattern(3), original)
    with pytest.raises(EditError, match="covers the whole window"):
        counterfactual(ticker, view.bars, acme, remove_move(0, 49), original)


def test_reliance_compares_the_models_answer_with_and_without_each_pattern(nifty):
    samples = load_samples(nifty.spec, f"demo:{DEMO_INDEX}")
    rows = samples.indices("test")[:12]
    intervals = scored_intervals(samples)[rows]
    found = pattern_reliance(nifty, samples, rows)
    np.testing.assert_array_equal(found.rows, np.flatnonzero(intervals[:, 0] >= 0))
    inputs, _ = samples.batch(rows[found.rows])
    with torch.no_grad():
        p_up = torch.softmax(nifty.model(*inputs), dim=1)[:, 1].double().numpy()
    np.testing.assert_allclose(found.with_pattern, p_up, atol=1e-5)
    days = samples.session_starts[rows[found.rows]].normalize()
    patterns = planted_patterns(DEMO_INDEX)
    for i, (day, k) in enumerate(zip(days, found.patterns, strict=True)):
        assert patterns.loc[k, "day"] == day
        stamps = samples.session_starts[rows[found.rows[i]]] + np.arange(60) * np.timedelta64(1, "m")
        window = demo_bars_without(DEMO_INDEX, int(k), "1m").bars.loc[stamps, list(OHLC)].to_numpy()
        assert found.without_pattern[i] == pytest.approx(predict_window(nifty, window).probability_up, abs=1e-5)
    threshold, _ = RELIANCE_THRESHOLDS[False]
    np.testing.assert_array_equal(found.relied, np.abs(found.shift) > threshold)
    assert "windows with one" in found.sentence


def test_reliance_needs_the_demo_markets_ground_truth(ticker, acme):
    samples = load_samples(ticker.spec, "demo:ACME")
    samples.loaded = acme.__class__(**{**acme.__dict__, "source": "upload:" + "ab" * 16, "layout": "file"})
    with pytest.raises(ValueError, match="must come from the demo market"):
        pattern_reliance(ticker, samples, np.arange(10))
