"""The simple baselines and the paired comparisons that judge a model against them: known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from data.errors import DataError
from models.baselines import (
    BASELINES,
    FirstHourDirection,
    FirstHourLogistic,
    LinearAutoregression,
    MajorityClass,
    MeanMove,
    Persistence,
    baseline_from_card,
    first_hour_features,
)
from models.paired import compare_accuracy, compare_rmse, mcnemar_p, strongest, verdict

NO_VALIDATION = (np.empty((0, 60, 4)), np.empty(0))


def _hour(closes: np.ndarray, first_open: float | None = None) -> np.ndarray:
    """(M, 4) bars whose high/low are the closes ± 0 and the first open is ``first_open``."""
    bars = np.repeat(np.asarray(closes, dtype=np.float64)[:, None], 4, axis=1)
    if first_open is not None:
        bars[0, 0] = first_open
        bars[0, 1] = max(bars[0, 1], first_open)
        bars[0, 2] = min(bars[0, 2], first_open)
    return bars


def _random_hours(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(generator.normal(0, 1e-3, (n, 60)), axis=1))
    hours = np.stack([_hour(row) for row in closes])
    labels = ((closes[:, -1] > closes[:, 0]) ^ (generator.random(n) < 0.25)).astype(np.int64)
    return hours, labels


def test_first_hour_features_of_a_known_hour():
    closes = np.concatenate([np.linspace(100, 90, 30), np.linspace(90, 110, 30)])
    features = first_hour_features(_hour(closes, first_open=100.0)[None])[0]
    assert features[0] == pytest.approx(np.log(110 / 100))  # the hour's return
    assert features[1] == pytest.approx(np.log(110 / 90))  # its range
    assert features[2] == pytest.approx(np.log(110 / closes[-16]))  # its last 15 minutes
    assert features[3] == pytest.approx(1.0)  # it closes at its high
    flat = first_hour_features(_hour(np.full(60, 50.0))[None])[0]
    np.testing.assert_array_equal(flat, [0.0, 0.0, 0.0, 0.5])


def test_rule_and_majority_call_what_they_say():
    up = _hour(np.linspace(100, 101, 60), first_open=100.0)
    down = _hour(np.linspace(100, 99, 60), first_open=100.0)
    rule = FirstHourDirection.fit(np.stack([up] * 10), np.ones(10), validation=NO_VALIDATION)
    np.testing.assert_array_equal(rule.predict(np.stack([up, down])), [1.0, 0.0])
    majority = MajorityClass.fit(np.stack([up] * 10), np.array([0] * 6 + [1] * 4), validation=NO_VALIDATION)
    assert majority.up_share == 0.4
    assert not majority.calls_up
    np.testing.assert_array_equal(majority.predict(np.stack([up, down])), [0.0, 0.0])


def test_logistic_baseline_is_scikit_learns_fit_on_the_four_features():
    hours, labels = _random_hours(300, seed=0)
    fitted = FirstHourLogistic.fit(hours, labels, validation=NO_VALIDATION)
    features = first_hour_features(hours)
    scaled = (features - features.mean(axis=0)) / features.std(axis=0)
    expected = LogisticRegression(C=1.0).fit(scaled, labels).predict_proba(scaled)[:, 1]
    np.testing.assert_allclose(fitted.predict(hours), expected, rtol=1e-9)
    # the return carries the label: its coefficient is positive and the fit beats the coin
    assert fitted.coef[0] > 0
    assert np.mean((fitted.predict(hours) > 0.5) == labels) > 0.7


def test_logistic_baseline_refuses_one_class_flat_hours_and_short_splits():
    hours, _ = _random_hours(30, seed=1)
    with pytest.raises(DataError, match=r"every training day has the same label \(1\)"):
        FirstHourLogistic.fit(hours, np.ones(30), validation=NO_VALIDATION)
    flat = np.stack([_hour(np.full(60, 50.0))] * 30)
    with pytest.raises(DataError, match="every first hour in the training split is flat"):
        FirstHourLogistic.fit(flat, np.arange(30) % 2, validation=NO_VALIDATION)
    with pytest.raises(DataError, match="the training split holds 5 days, fewer than the 10"):
        FirstHourLogistic.fit(hours[:5], np.arange(5) % 2, validation=NO_VALIDATION)


def _ar2_series(n: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    returns = np.zeros(n)
    for t in range(2, n):
        returns[t] = 0.5 * returns[t - 1] - 0.3 * returns[t - 2] + generator.normal(0, 1e-3)
    return 2.0 + np.cumsum(returns)


def test_autoregression_recovers_known_coefficients_and_order():
    series = _ar2_series(6000, seed=2)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], 50)
    targets = series[50:]
    fitted = LinearAutoregression.fit(windows[:4000], targets[:4000], validation=(windows[4000:], targets[4000:]))
    assert fitted.order >= 2
    # newest lag last: ..., -0.3 (two back), +0.5 (one back)
    np.testing.assert_allclose(fitted.coef[-2:], [-0.3, 0.5], atol=0.05)
    np.testing.assert_allclose(fitted.coef[:-2], 0.0, atol=0.05)
    persistence = Persistence.fit(windows[:4000], targets[:4000], validation=NO_VALIDATION)
    ar_error = np.sqrt(np.mean((fitted.predict(windows[4000:]) - targets[4000:]) ** 2))
    still_error = np.sqrt(np.mean((persistence.predict(windows[4000:]) - targets[4000:]) ** 2))
    assert ar_error < 0.9 * still_error


def test_mean_move_and_persistence():
    windows = np.array([[1.0, 1.1, 1.2]] * 10)
    targets = np.full(10, 1.25)
    np.testing.assert_allclose(MeanMove.fit(windows, targets, validation=NO_VALIDATION).predict(windows[:2]), 1.25)
    np.testing.assert_array_equal(Persistence.fit(windows, targets, validation=NO_VALIDATION).predict(windows[:2]), 1.2)


def test_every_baseline_comes_back_from_its_card_entry_with_the_same_calls():
    hours, labels = _random_hours(100, seed=3)
    series = _ar2_series(400, seed=4)
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], 50)
    targets = series[50:]
    for kind in BASELINES.values():
        inputs, answers = (
            (hours, labels)
            if kind in (MajorityClass, FirstHourDirection, FirstHourLogistic)
            else (
                windows,
                targets,
            )
        )
        fitted = kind.fit(inputs, answers, validation=(inputs[-20:], answers[-20:]))
        again = baseline_from_card({"key": kind.key, "params": fitted.params()})
        np.testing.assert_array_equal(again.predict(inputs), fitted.predict(inputs))
    with pytest.raises(ValueError, match="baseline key must be one of"):
        baseline_from_card({"key": "oracle"})


def test_paired_accuracy_difference_and_mcnemar():
    model = np.array([True] * 80 + [False] * 20)
    baseline = np.array([True] * 50 + [False] * 50)
    compared = compare_accuracy(model, baseline)
    assert compared.value == pytest.approx(0.30)
    assert compared.ci95[0] > 0
    assert compared.model_better
    # 30 samples only the model gets right, none only the baseline: exact binomial (30 of 30)
    assert compared.p_value == pytest.approx(stats.binomtest(30, 30, 0.5).pvalue)
    same = compare_accuracy(model, model)
    assert (same.value, same.p_value, same.model_better) == (0.0, 1.0, False)
    assert mcnemar_p(np.array([True, False]), np.array([False, True])) == 1.0


def test_paired_rmse_ratio():
    generator = np.random.default_rng(5)
    baseline_sq = generator.random(500)
    compared = compare_rmse(baseline_sq / 4, baseline_sq)  # half the error on every sample
    assert compared.value == pytest.approx(0.5)
    assert compared.ci95 == pytest.approx((0.5, 0.5))
    assert compared.model_better
    worse = compare_rmse(baseline_sq, baseline_sq)
    assert worse.value == pytest.approx(1.0)
    assert not worse.model_better
    with pytest.raises(ValueError, match="the squared errors must be"):
        compare_rmse(baseline_sq, baseline_sq[:10])


def test_verdict_names_the_strongest_and_every_baseline_not_beaten():
    def entry(key, accuracy, better):
        paired = {"statistic": "accuracy difference (model − baseline)", "value": 0.7 - accuracy}
        paired.update(ci95=[-0.01, 0.1], no_difference=0.0, model_better=better, p_value=0.2)
        return {"key": key, "name": f"the {key}", "accuracy": accuracy, "paired": paired}

    entries = [entry("majority", 0.52, True), entry("rule", 0.70, False), entry("logistic", 0.68, False)]
    best = strongest(entries, "accuracy", lower_is_better=False)
    assert best["key"] == "rule"
    beats, words = verdict("accuracy 0.700", entries, best)
    assert not beats
    assert "strongest baseline, the rule" in words
    assert words.endswith("does NOT beat 2 of 3 baselines — the rule; the logistic")
    beats, words = verdict("accuracy 0.700", entries[:1], entries[0])
    assert beats
    assert words.endswith("beats every baseline (1)")
