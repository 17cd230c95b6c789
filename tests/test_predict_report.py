"""One window through a model (models.predict) and explained for a page (workflows.window)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from data.images.candlestick import bar_columns
from models.datasets import load_samples
from models.locks import model_lock
from models.predict import Forecast, model_inputs, predict_inputs, predict_window
from workflows.window import explain_window
from xai import ALL_METHODS, equalise_gadf, explain
from xai.time_projection import gadf_time_importance


@pytest.fixture(scope="module")
def windows():
    from models.registry import load_shipped

    out = {}
    for task in ("nifty", "ticker"):
        loaded = load_shipped(task)
        samples = load_samples(loaded.spec, loaded.card.data.source)
        index = samples.indices("test")[:2]
        out[task] = (loaded, samples, index)
    return out


def test_the_classifiers_probability_is_the_softmax_of_its_logits(windows):
    loaded, samples, index = windows["nifty"]
    (images, closes), _ = samples.batch(index)
    with torch.no_grad():
        expected = torch.softmax(loaded.model(images, closes), dim=1)[:, 1]
    for row, i in enumerate(index):
        call = predict_window(loaded, samples.ohlc[i])
        assert call.probability_up == pytest.approx(float(expected[row]), abs=1e-6)
        assert call.predicted_up == (call.probability_up >= 0.5)


def test_the_regressors_forecast_agrees_with_its_forward_pass(windows):
    loaded, samples, index = windows["ticker"]
    (images, closes), _ = samples.batch(index)
    with torch.no_grad():
        forward = loaded.model(images, closes).double().numpy()
    for row, i in enumerate(index):
        forecast = predict_window(loaded, samples.ohlc[i])
        assert math.log10(forecast.forecast_close) == pytest.approx(forward[row], abs=1e-6)
        assert forecast.pct_change == pytest.approx(100 * (forecast.forecast_close / forecast.last_close - 1))
        assert forecast.corrected_pct_change is not None  # the shipped card has an offset correction


def test_the_alert_rule_and_the_correction_switch():
    forecast = Forecast(
        last_close=100.0, forecast_close=101.2, pct_change=1.2, corrected_close=99.5, corrected_pct_change=-0.5
    )
    assert forecast.alert(1.0)
    assert forecast.alert(1.2)
    assert not forecast.alert(1.3)
    assert not forecast.alert(1.0, corrected=True)
    assert forecast.alert(0.5, corrected=True)
    uncorrected = Forecast(100.0, 101.2, 1.2, None, None)
    assert uncorrected.change(corrected=True) == 1.2
    with pytest.raises(ValueError, match="threshold_pct must be a finite number > 0, got 0"):
        forecast.alert(0)


def test_a_window_of_the_wrong_shape_is_refused(windows):
    loaded, samples, index = windows["ticker"]
    with pytest.raises(ValueError, match=r"ohlc must be a \(50, 4\) open/high/low/close window, got shape \(49, 4\)"):
        model_inputs(loaded, samples.ohlc[index[0]][1:])


def test_candlestick_profiles_are_the_signed_sums_of_each_bars_columns(windows):
    loaded, samples, index = windows["ticker"]
    result = explain_window(loaded, samples.ohlc[index[0]], direction=-1)
    assert result.direction == -1
    assert result.per_time_signed
    assert list(result.per_time) == list(ALL_METHODS)
    saliency = result.explanations.maps["saliency"].attribution[0, 0].astype(np.float64)
    slots = bar_columns(50, loaded.spec.image_size)
    expected = [saliency[:, x0:x1].sum() for x0, x1 in slots]
    np.testing.assert_allclose(result.per_time["saliency"], expected, rtol=1e-9, atol=1e-12)
    assert result.closes.shape == (1, 50)


def test_gadf_profiles_are_non_negative_mass_per_minute(windows):
    loaded, samples, index = windows["nifty"]
    result = explain_window(loaded, samples.ohlc[index[0]], methods=["saliency", "gradcam"])
    assert result.direction is None
    assert not result.per_time_signed
    np.testing.assert_allclose(  # the classifier's second input: the first hour's log10 closes
        result.closes, np.log10(samples.ohlc[index[0]][None, :, 3]).astype(np.float32), rtol=1e-6
    )
    profile = result.per_time["saliency"]
    assert profile.shape == (60,)
    assert (profile >= 0).all()
    mass = np.abs(result.explanations.maps["saliency"].attribution)
    expected = equalise_gadf(gadf_time_importance(mass, 60))[0]
    np.testing.assert_allclose(profile, expected, rtol=1e-12)
    # minutes with two pixel lines are weighed as one: the total moves by a few per cent at most
    assert profile.sum() == pytest.approx(mass.sum(), rel=0.03)


@pytest.mark.parametrize("task", ["nifty", "ticker"])
def test_a_prediction_waits_for_work_holding_the_shared_models_lock(windows, task):
    """An explanation in another session holds the lock while its hooks are on the model; a prediction
    meanwhile would feed those hooks its no-grad activations (bench.load caught it: 2 of 212 runs)."""
    loaded, samples, index = windows[task]
    done = threading.Event()
    results = []

    def predict() -> None:
        results.append(predict_window(loaded, samples.ohlc[index[0]]))
        done.set()

    worker = threading.Thread(target=predict)
    with model_lock(loaded.model):  # what explain() holds from its forward to its last backward pass
        worker.start()
        finished_while_locked = done.wait(timeout=1.0)
    worker.join(timeout=60)
    assert not finished_while_locked
    assert results == [predict_window(loaded, samples.ohlc[index[0]])]


# --- the prediction a page shows is read from the explanation's own forward pass (no second pass)
# Known answers: it equals predict_inputs' (a separate no-gradient forward) to 1e-6; the regressor's
# "the way the forecast went" gives the very maps of the explicit direction, bit for bit, with both
# engines; and no forward pass runs besides the explanation's own.


def _last_close(ohlc: np.ndarray) -> float:
    return float(np.asarray(ohlc, dtype=np.float64)[-1, 3])


def test_the_classifiers_call_comes_from_the_explanation_and_equals_predict_inputs(windows):
    loaded, samples, _ = windows["nifty"]
    for i in samples.indices("test")[:6]:
        ohlc = samples.ohlc[i]
        expected = predict_inputs(loaded, model_inputs(loaded, ohlc), last_close=_last_close(ohlc))
        for target in (None, 0, 1):
            result = explain_window(loaded, ohlc, target=target)
            assert result.prediction.probability_up == pytest.approx(expected.probability_up, abs=1e-6)
            assert result.prediction.predicted_up == expected.predicted_up
        # the class explained by default is the predicted one
        assert int(explain_window(loaded, ohlc).explanations.target[0]) == int(expected.predicted_up)


def test_the_regressors_forecast_comes_from_the_explanation_and_equals_predict_inputs(windows):
    loaded, samples, _ = windows["ticker"]
    seen = set()
    for i in samples.indices("test")[:6]:
        ohlc = samples.ohlc[i]
        expected = predict_inputs(loaded, model_inputs(loaded, ohlc), last_close=_last_close(ohlc))
        for direction in (None, 1, -1):
            forecast = explain_window(loaded, ohlc, direction=direction).prediction
            assert forecast.forecast_close == pytest.approx(expected.forecast_close, rel=1e-6, abs=0)
            assert forecast.pct_change == pytest.approx(expected.pct_change, abs=1e-6)
            assert forecast.corrected_pct_change == pytest.approx(expected.corrected_pct_change, abs=1e-6)
            assert forecast.last_close == expected.last_close
        followed = explain_window(loaded, ohlc).direction
        assert followed == (1 if expected.pct_change >= 0 else -1)  # the way the forecast went
        seen.add(followed)
    assert seen == {1, -1}, "the test windows should include forecasts both ways"


@pytest.mark.parametrize("engine", ["fused", "captum"])
def test_following_the_forecast_gives_the_maps_of_the_explicit_direction_bit_for_bit(windows, engine):
    loaded, samples, _ = windows["ticker"]
    (images, closes), _ = samples.batch(samples.indices("test")[:6])
    followed = explain(loaded.model, images, additional_forward_args=closes, direction=None, engine=engine)
    directions = followed.target
    assert set(directions.tolist()) == {1, -1}  # a batch with forecasts both ways: a sign per input
    for direction in (1, -1):
        rows = np.flatnonzero(directions == direction)
        fixed = explain(
            loaded.model, images[rows], additional_forward_args=closes[rows], direction=direction, engine=engine
        )
        for key in ALL_METHODS:
            np.testing.assert_array_equal(followed.maps[key].attribution[rows], fixed.maps[key].attribution)
        np.testing.assert_array_equal(followed.output[rows], fixed.output)
        assert (followed.output[rows, 0] >= 0).all()  # direction · change: the forecast went that way


@pytest.mark.parametrize("task", ["nifty", "ticker"])
def test_an_explained_window_runs_the_model_forward_once(windows, task):
    loaded, samples, index = windows[task]
    calls = []  # the Grad-CAM layer's forward hook counts passes through the image branch
    handle = loaded.model.gradcam_layer.register_forward_hook(lambda *_: calls.append(1))
    try:
        explain_window(loaded, samples.ohlc[index[0]])
    finally:
        handle.remove()
    assert len(calls) == 1


def test_the_output_a_page_reads_is_the_models_logits(windows):
    loaded, samples, _ = windows["nifty"]
    (images, closes), _ = samples.batch(samples.indices("test")[:6])
    result = explain(loaded.model, images, additional_forward_args=closes)
    with torch.no_grad():
        logits = loaded.model(images, closes).numpy()
    np.testing.assert_allclose(result.output, logits, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.target, logits.argmax(axis=1))
