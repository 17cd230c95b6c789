"""Tests of the evaluation metrics (models/evaluation.py), with answers worked out by hand."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from models.evaluation import (
    OffsetCorrection,
    block_bootstrap_indices,
    classifier_report,
    fit_offset_correction,
    regressor_report,
    roc_auc,
    usable_block,
    wilson_interval,
)
from models.paired import compare_rmse

Z = 1.959964


# --------------------------------------------------------------------------- Wilson interval


def test_wilson_7_of_10_matches_the_closed_form() -> None:
    p, n = 0.7, 10
    denominator = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    low, high = wilson_interval(7, 10)
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    # the textbook figures for 7/10
    assert (low, high) == pytest.approx((0.3968, 0.8922), abs=1e-4)


def test_wilson_edges() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    # at 0 successes the upper end is z²/(n + z²)
    assert high == pytest.approx(Z**2 / (10 + Z**2), abs=1e-12)
    low, high = wilson_interval(10, 10)
    assert high == 1.0
    assert low == pytest.approx(10 / (10 + Z**2), abs=1e-12)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    # a numpy integer is an int
    assert wilson_interval(np.int64(7), np.int64(10)) == wilson_interval(7, 10)


# --------------------------------------------------------------------------- ROC AUC


def test_auc_hand_example() -> None:
    # positive 0.35 beats negative 0.1 but not 0.4; positive 0.8 beats both: 3 of 4 pairs
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_auc_ties_count_one_half() -> None:
    # pairs (pos, neg): 0.5>0.2, 0.5=0.5 (½), 0.9>0.2, 0.9>0.5 → 3.5 / 4
    assert roc_auc([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9]) == pytest.approx(0.875)
    # all scores tied → 0.5
    assert roc_auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)


def test_auc_perfect_inverted_one_class() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.5, 0.9]))
    assert math.isnan(roc_auc([0, 0], [0.1, 0.5]))


# --------------------------------------------------------------------------- classifier report

LABELS = [1, 1, 1, 0, 0, 1, 0, 1]
PROB_UP = [0.9, 0.6, 0.4, 0.2, 0.7, 0.8, 0.5, 0.55]
# predicted up (prob > 0.5): T T F F T T F T   (0.5 itself is "down", as argmax picks)
# truth/pred: tp tp fn tn fp tp tn tp → tn 2, fp 1, fn 1, tp 4; accuracy 6/8


def test_classifier_report_hand_example_beats_a_down_baseline() -> None:
    report = classifier_report(LABELS, PROB_UP, train_labels=[0, 0, 0, 1, 1])
    json.dumps(report, allow_nan=False)
    assert report["n"] == 8
    model = report["model"]
    assert model["confusion"] == [[2, 1], [1, 4]]
    assert model["accuracy"] == 0.75
    assert model["accuracy_ci95"] == pytest.approx(list(wilson_interval(6, 8)))
    # positives 0.9, 0.6, 0.4, 0.8, 0.55 vs negatives 0.2, 0.7, 0.5: wins 3 + 2 + 1 + 3 + 2 = 11 of 15
    assert model["auc"] == pytest.approx(11 / 15)
    baseline = report["baseline"]
    assert baseline["name"] == "majority class of the training split"
    assert baseline["predicts"] == "down"
    assert baseline["accuracy"] == 3 / 8
    assert baseline["accuracy_ci95"] == pytest.approx(list(wilson_interval(3, 8)))
    assert baseline["auc"] == 0.5
    # Wilson lower end for 6/8 is 0.409 > 0.375
    assert model["accuracy_ci95"][0] == pytest.approx(0.4093, abs=1e-4)
    assert report["beats_baseline"] is True
    assert (
        report["verdict"]
        == "accuracy 0.75 (95 % CI 0.41–0.93) vs 0.38 for always predicting 'down': beats the baseline"
    )


def test_classifier_report_does_not_beat_an_up_baseline() -> None:
    report = classifier_report(LABELS, PROB_UP, train_labels=[1, 1, 0])
    assert report["baseline"]["predicts"] == "up"
    assert report["baseline"]["accuracy"] == 5 / 8
    # 0.409 is not above 0.625, although 0.75 > 0.625 on the point estimate
    assert report["beats_baseline"] is False
    assert "does NOT beat the baseline" in report["verdict"]
    assert "vs 0.62 for always predicting 'up'" in report["verdict"]


def test_classifier_report_threshold_and_tie_rules() -> None:
    # a tie in the training labels goes to "up"
    assert classifier_report(LABELS, PROB_UP, train_labels=[0, 1])["baseline"]["predicts"] == "up"
    # threshold 0.65: predicted up only for 0.9, 0.7, 0.8 → tp 2, fp 1, fn 3, tn 2
    report = classifier_report(LABELS, PROB_UP, train_labels=[0, 1], threshold=0.65)
    assert report["model"]["confusion"] == [[2, 1], [3, 2]]
    assert report["model"]["accuracy"] == 0.5


def test_classifier_report_one_class_auc_is_none() -> None:
    report = classifier_report([1, 1, 1], [0.6, 0.7, 0.2], train_labels=[1])
    json.dumps(report, allow_nan=False)
    assert report["model"]["auc"] is None
    assert report["baseline"]["auc"] is None
    assert report["model"]["confusion"] == [[0, 0], [1, 2]]


# --------------------------------------------------------------------------- regressor report

# Five windows, each ending at a close of 100. Actual next closes and forecasts:
LAST = np.full(5, 2.0)  # log10(100)
ACTUAL = np.array([101.0, 99.0, 102.0, 100.0, 97.0])  # moves +1 %, −1 %, +2 %, 0, −3 %
FORECAST = np.array([102.0, 99.5, 98.4, 101.0, 98.0])  # moves +2 %, −0.5 %, −1.6 %, +1 %, −2 %


def hand_report(**kwargs: object) -> dict:
    options: dict = {"train_up_share": 0.6, "block": 2, "n_boot": 200}
    options.update(kwargs)
    return regressor_report(np.log10(ACTUAL), np.log10(FORECAST), LAST, **options)


def test_regressor_hand_example_model_metrics() -> None:
    report = hand_report(thresholds=(1.5,))
    json.dumps(report, allow_nan=False)
    model = report["model"]
    assert report["n"] == 5
    log_errors = np.log10([102 / 101, 99.5 / 99, 98.4 / 102, 101 / 100, 98 / 97])
    assert model["rmse_log"] == pytest.approx(math.sqrt(np.sum(log_errors**2) / 5), rel=1e-12)
    # price errors 1, 0.5, −3.6, 1, 1 → squares sum to 16.21
    assert model["rmse_price"] == pytest.approx(math.sqrt(16.21 / 5), rel=1e-9)
    assert model["mape_pct"] == pytest.approx((1 / 101 + 0.5 / 99 + 3.6 / 102 + 1 / 100 + 1 / 97) / 5 * 100, rel=1e-9)
    # actual up: T F T F(zero move) F; forecast up: T F F T F → agree on windows 0, 1, 4
    assert model["direction_accuracy"] == 0.6
    # at 1.5 %: alerts on windows 0 (+2), 2 (−1.6), 4 (−2); events on 2 (+2), 4 (−3);
    # correct only window 4 (window 2 has the wrong sign, window 0 no event)
    assert model["alerts"] == {
        "1.5": {"threshold_pct": 1.5, "alerts": 3, "events": 2, "correct": 1, "precision": 1 / 3, "recall": 0.5}
    }


def test_regressor_hand_example_baseline() -> None:
    report = hand_report(thresholds=(1.5,))
    baseline = report["baseline"]
    assert baseline["name"] == "persistence (next close = last close)"
    # persistence's price errors are the moves 1, −1, 2, 0, −3 → squares sum to 15
    assert baseline["rmse_price"] == pytest.approx(math.sqrt(3), rel=1e-9)
    assert baseline["mape_pct"] == pytest.approx((1 / 101 + 1 / 99 + 2 / 102 + 0 + 3 / 97) / 5 * 100, rel=1e-9)
    assert baseline["rmse_log"] == pytest.approx(math.sqrt(np.mean(np.log10(ACTUAL / 100) ** 2)), rel=1e-12)
    # train_up_share 0.6 → always "up": right on windows 0 and 2
    assert baseline["direction_accuracy"] == 0.4
    assert "always 'up'" in baseline["direction_rule"]
    assert baseline["alerts"]["1.5"] == {
        "threshold_pct": 1.5,
        "alerts": 0,
        "events": 2,
        "correct": 0,
        "precision": None,
        "recall": 0.0,
    }
    assert report["rmse_ratio"] == pytest.approx(report["model"]["rmse_log"] / baseline["rmse_log"])
    # a minority of up windows in training → always "down": right on windows 1, 3, 4
    down = hand_report(train_up_share=0.4)["baseline"]
    assert down["direction_accuracy"] == 0.6
    assert "always 'down'" in down["direction_rule"]


def test_default_thresholds_keys_and_no_events() -> None:
    report = hand_report()
    assert list(report["model"]["alerts"]) == ["0.5", "1.0", "1.5", "2.0"]
    # no move reaches 5 %: no alerts, no events, so neither precision nor recall is defined
    table = hand_report(thresholds=(5.0,))["model"]["alerts"]["5.0"]
    assert table == {"threshold_pct": 5.0, "alerts": 0, "events": 0, "correct": 0, "precision": None, "recall": None}


def test_persistence_forecast_equals_the_baseline_exactly() -> None:
    actual = np.log10(ACTUAL)
    report = regressor_report(actual, LAST, LAST, train_up_share=0.6, block=2, n_boot=200)
    model, baseline = report["model"], report["baseline"]
    for key in ("rmse_log", "rmse_log_ci95", "rmse_price", "mape_pct", "alerts"):
        assert model[key] == baseline[key], key
    assert report["rmse_ratio"] == 1.0
    assert report["rmse_ratio_ci95"] == [1.0, 1.0]
    assert report["beats_baseline"] is False
    # forecasting "no change" is a "down" call under the zero-move rule: right on windows 1, 3, 4
    assert model["direction_accuracy"] == 0.6


def random_walk(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    last = 2 + np.cumsum(rng.normal(0, 0.002, n))
    target = last + rng.normal(0, 0.002, n)
    return target, last


def test_a_perfect_model_beats_persistence(rng: np.random.Generator) -> None:
    target, last = random_walk(rng)
    report = regressor_report(target, target, last, train_up_share=0.5, block=20, n_boot=300)
    assert report["rmse_ratio"] == 0.0
    assert report["rmse_ratio_ci95"][1] < 1
    assert report["beats_baseline"] is True
    assert report["model"]["direction_accuracy"] == 1.0
    assert report["verdict"].endswith(": beats persistence")


def test_persistence_plus_noise_does_not_beat_persistence(rng: np.random.Generator) -> None:
    target, last = random_walk(rng)
    predicted = last + rng.normal(0, 0.001, target.size)
    report = regressor_report(target, predicted, last, train_up_share=0.5, block=20, n_boot=300)
    json.dumps(report, allow_nan=False)
    assert report["rmse_ratio"] > 1
    assert report["rmse_ratio_ci95"][1] >= 1
    assert report["beats_baseline"] is False
    assert "does NOT beat persistence" in report["verdict"]
    low, high = report["model"]["rmse_log_ci95"]
    assert low <= report["model"]["rmse_log"] <= high
    low, high = report["baseline"]["direction_accuracy_ci95"]
    assert low <= report["baseline"]["direction_accuracy"] <= high


def test_bootstrap_is_reproducible_with_the_seed(rng: np.random.Generator) -> None:
    target, last = random_walk(rng, 200)
    predicted = last + 0.5 * (target - last) + rng.normal(0, 0.001, target.size)
    first = regressor_report(target, predicted, last, train_up_share=0.5, block=10, n_boot=200, seed=7)
    again = regressor_report(target, predicted, last, train_up_share=0.5, block=10, n_boot=200, seed=7)
    other = regressor_report(target, predicted, last, train_up_share=0.5, block=10, n_boot=200, seed=8)
    assert first == again
    assert first["rmse_ratio_ci95"] != other["rmse_ratio_ci95"]
    assert first["rmse_ratio"] == other["rmse_ratio"]


def test_a_block_as_long_as_the_data_is_shortened_so_the_interval_is_not_empty(rng: np.random.Generator) -> None:
    """A circular block as long as the data resamples only rotations of it: every statistic repeats and
    the interval has zero width. The block is cut to a quarter of the windows instead."""
    assert [usable_block(50, n) for n in (674, 200, 29, 3)] == [50, 50, 7, 1]
    target, last = random_walk(rng, 29)
    predicted = last + 0.5 * (target - last) + rng.normal(0, 0.001, target.size)
    report = regressor_report(target, predicted, last, train_up_share=0.5, block=29, n_boot=400)
    low, high = report["rmse_ratio_ci95"]
    assert low < report["rmse_ratio"] < high
    low, high = report["model"]["rmse_log_ci95"]
    assert high - low > 0
    paired = compare_rmse((predicted - target) ** 2, (last - target) ** 2, block=50, n_boot=400)
    assert paired.ci95[0] < paired.value < paired.ci95[1]


def test_block_bootstrap_indices_are_circular_blocks() -> None:
    n, block = 7, 3
    indices = block_bootstrap_indices(n, block, 500, np.random.default_rng(0))
    assert indices.shape == (500, n)
    # blocks at columns 0-2, 3-5 and 6: consecutive windows, wrapping from 6 to 0
    for start in (0, 3):
        steps = np.diff(indices[:, start : start + block], axis=1)
        assert np.all((steps == 1) | (steps == -(n - 1)))
    assert np.any(np.diff(indices[:, 0:3], axis=1) == -(n - 1))  # the wrap does happen
    # circular: every window is drawn about equally often (1/7 each)
    shares = np.bincount(indices.ravel(), minlength=n) / indices.size
    assert shares == pytest.approx(np.full(n, 1 / n), abs=0.02)


# --------------------------------------------------------------------------- offset correction

# residuals y − ŷ = 0.1, 0.3, −0.1, 0.1: gap_avg 0.6/4 = 0.15; mean 0.1, squared deviations
# 0, 0.04, 0.04, 0 → population std sqrt(0.02) = 0.1414214; sign 0.4
PREDICTED = np.array([2.0, 2.1, 2.2, 2.3])
RESIDUALS = np.array([0.1, 0.3, -0.1, 0.1])


def test_offset_correction_positive_sign_raises_the_forecast() -> None:
    correction = fit_offset_correction(PREDICTED + RESIDUALS, PREDICTED)
    assert correction.gap_avg == pytest.approx(0.15)
    assert correction.deviation == pytest.approx(0.1414213562)
    assert correction.sign == pytest.approx(0.4)
    # ŷ + (1 + 0.1414214) · 0.15 = ŷ + 0.1712132
    assert correction.apply([2.0, 3.0]) == pytest.approx([2.1712132034, 3.1712132034])


def test_offset_correction_negative_sign_lowers_the_forecast() -> None:
    correction = fit_offset_correction(PREDICTED - RESIDUALS, PREDICTED)
    assert correction.gap_avg == pytest.approx(0.15)
    assert correction.deviation == pytest.approx(0.1414213562)
    assert correction.sign == pytest.approx(-0.4)
    # ŷ − (1 − 0.1414214) · 0.15 = ŷ − 0.1287868
    assert correction.apply([2.0, 3.0]) == pytest.approx([1.8712132034, 2.8712132034])


def test_offset_correction_round_trips_and_is_frozen() -> None:
    correction = OffsetCorrection(gap_avg=0.15, deviation=0.1, sign=-0.4)
    data = correction.to_dict()
    assert data == {"gap_avg": 0.15, "deviation": 0.1, "sign": -0.4}
    assert OffsetCorrection.from_dict(json.loads(json.dumps(data))) == correction
    with pytest.raises(AttributeError):
        correction.sign = 1.0  # type: ignore[misc]
    # sign 0 lowers, as in the paper
    assert OffsetCorrection(gap_avg=0.1, deviation=0.0, sign=0.0).apply([1.0]) == pytest.approx([0.9])


# --------------------------------------------------------------------------- bad input

GOOD = np.array([2.0, 2.01, 1.99, 2.02])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: wilson_interval(2.5, 10), TypeError, "successes must be an int, got float 2.5"),
        (lambda: wilson_interval(True, 10), TypeError, "successes must be an int, got bool True"),
        (lambda: wilson_interval(-1, 10), ValueError, "successes must be >= 0, got -1"),
        (lambda: wilson_interval(11, 10), ValueError, "successes must be <= n (10), got 11"),
        (lambda: wilson_interval(0, -1), ValueError, "n must be >= 0, got -1"),
        (lambda: wilson_interval(1, 2, z=0), ValueError, "z must be > 0, got 0.0"),
        (
            lambda: roc_auc([0, 1, 2], [0.1, 0.2, 0.3]),
            ValueError,
            "labels must hold only 0 (down) and 1 (up), got 2 at index 2",
        ),
        (lambda: roc_auc([0, 1], [0.1, 0.2, 0.3]), ValueError, "scores must have the same length as labels (2), got 3"),
        (lambda: roc_auc([0, 1], [0.1, np.nan]), ValueError, "scores must be finite, got nan at index 1"),
        (lambda: roc_auc([0, 1], ["a", "b"]), TypeError, "scores must be an array of numbers, got dtype <U1"),
        (
            lambda: classifier_report([0, 1], [0.2, 1.5], train_labels=[1]),
            ValueError,
            "prob_up must lie in [0, 1], got 1.5 at index 1",
        ),
        (
            lambda: classifier_report([1], [0.2], train_labels=[1]),
            ValueError,
            "labels must hold at least 2 values, got 1",
        ),
        (
            lambda: classifier_report([0, 1], [0.2, 0.3], train_labels=[]),
            ValueError,
            "train_labels must hold at least 1 value, got 0",
        ),
        (
            lambda: classifier_report([0, 1], [0.2, 0.3], train_labels=[1], threshold=1.2),
            ValueError,
            "threshold must lie in [0, 1], got 1.2",
        ),
        (
            lambda: regressor_report(GOOD.reshape(2, 2), GOOD, GOOD, train_up_share=0.5),
            ValueError,
            "target_log10 must be 1-D, got shape (2, 2)",
        ),
        (
            lambda: regressor_report(GOOD, GOOD[:3], GOOD, train_up_share=0.5),
            ValueError,
            "predicted_log10 must have the same length as target_log10 (4), got 3",
        ),
        (
            lambda: regressor_report(GOOD[:1], GOOD[:1], GOOD[:1], train_up_share=0.5),
            ValueError,
            "target_log10 must hold at least 2 values, got 1",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, [2.0, np.inf, 2.0, 2.0], train_up_share=0.5),
            ValueError,
            "last_log10 must be finite, got inf at index 1",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=0.5),
            ValueError,
            "block must be <= the number of windows (4), got 50",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=1.5, block=2),
            ValueError,
            "train_up_share must lie in [0, 1], got 1.5",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=0.5, block=2, thresholds=(1.0, -2.0)),
            ValueError,
            "thresholds must be > 0 (percent), got -2.0",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=0.5, block=2, thresholds=()),
            ValueError,
            "thresholds must hold at least one value, got none",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=0.5, block=2, n_boot=0),
            ValueError,
            "n_boot must be >= 1, got 0",
        ),
        (
            lambda: regressor_report(GOOD, GOOD, GOOD, train_up_share=0.5, block=2, seed=1.5),
            TypeError,
            "seed must be an int, got float 1.5",
        ),
        (
            lambda: fit_offset_correction(GOOD, GOOD[:2]),
            ValueError,
            "predicted_log10 must have the same length as target_log10 (4), got 2",
        ),
        (
            lambda: OffsetCorrection(gap_avg=-0.1, deviation=0.0, sign=1.0),
            ValueError,
            "gap_avg must be >= 0, got -0.1",
        ),
        (
            lambda: OffsetCorrection.from_dict({"gap_avg": 0.1, "deviation": 0.0}),
            ValueError,
            "data must have exactly the keys ['deviation', 'gap_avg', 'sign'], got ['deviation', 'gap_avg']",
        ),
    ],
)
def test_bad_input_messages(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()
