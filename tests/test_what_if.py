"""What-if thresholds: hand-counted alerts and confusion matrices, and the shipped cards reproduced."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pandas as pd
import pytest

from data import load_source, make_ticker_windows
from models.card import Metrics
from models.checkpoints import CheckpointError, LoadedCheckpoint
from models.evaluation import roc_auc, threshold_alerts, wilson_interval
from models.registry import load_shipped
from models.what_if import (
    THRESHOLD_SCALES,
    PredictionHistory,
    alert_curves,
    alert_table,
    card_correction,
    curve_auc,
    decision_point,
    prediction_history,
    roc_curve,
)

# Six windows, worked by hand (percent):   0      1     2     3     4     5
PREDICTED = np.array([2.0, -1.6, 0.3, -2.0, 1.0, 0.6])
ACTUAL = np.array([2.5, 2.0, 0.0, -3.0, 0.2, -0.7])
# Eight days, worked by hand: up days score 0.9, 0.6, 0.5, 0.1; down days 0.8, 0.4, 0.2, 0.7.
PROB_UP = np.array([0.9, 0.8, 0.6, 0.5, 0.4, 0.2, 0.7, 0.1])
LABEL = np.array([1, 0, 1, 1, 0, 0, 0, 1])


@functools.cache
def shipped(task: str) -> LoadedCheckpoint:
    """The shipped checkpoint of ``task``, loaded once per process."""
    return load_shipped(task)


@functools.cache
def shipped_history(task: str, part: str = "test") -> PredictionHistory:
    """The shipped model of ``task`` run once over ``part`` of its card's source (shared with the page tests)."""
    loaded = shipped(task)
    return prediction_history(loaded, loaded.card.data.source, part)


def brute_force_alerts(predicted: np.ndarray, actual: np.ndarray, t: float) -> tuple[int, int, int, int]:
    """The alert rule, one window at a time: (alerts, events, correct, wrong_sign)."""
    alerts = events = correct = wrong = 0
    for p, a in zip(predicted, actual, strict=True):
        fired, event = abs(p) >= t, abs(a) >= t
        alerts += fired
        events += event
        correct += fired and event and (p > 0) == (a > 0)
        wrong += fired and event and (p > 0) != (a > 0)
    return alerts, events, correct, wrong


# --------------------------------------------------------------------------- alert threshold, by hand


@pytest.mark.parametrize(
    ("threshold", "alerts", "events", "correct", "wrong_sign", "false_alarms"),
    [
        # 0.5: fire 0, 1, 3, 4, 5; moves 0, 1, 3, 5; right 0, 3; wrong way 1 (−1.6 vs +2), 5 (+0.6 vs −0.7)
        (0.5, 5, 4, 2, 2, 1),
        # 1.0: fire 0, 1, 3, 4 (|1.0| counts: the rule is >=); moves 0, 1, 3; 4 fired on a 0.2 % move
        (1.0, 4, 3, 2, 1, 1),
        (1.5, 3, 3, 2, 1, 0),
        # 2.0: exactly on the threshold fires (0 and 3)
        (2.0, 2, 3, 2, 0, 0),
    ],
)
def test_alert_table_counts_by_hand(threshold, alerts, events, correct, wrong_sign, false_alarms):
    counts = alert_table(PREDICTED, ACTUAL, threshold)
    assert (counts.alerts, counts.events, counts.correct, counts.wrong_sign) == (alerts, events, correct, wrong_sign)
    assert counts.false_alarms == false_alarms
    assert counts.n == 6
    assert counts.threshold_pct == threshold
    assert counts.precision == pytest.approx(correct / alerts)
    assert counts.recall == pytest.approx(correct / events)
    assert counts.precision_ci95 == wilson_interval(correct, alerts)
    assert counts.recall_ci95 == wilson_interval(correct, events)


def test_alert_table_with_nothing_fired_or_reached_is_undefined_not_zero():
    counts = alert_table(PREDICTED, ACTUAL, 5.0)
    assert (counts.alerts, counts.events, counts.correct) == (0, 0, 0)
    assert math.isnan(counts.precision)
    assert math.isnan(counts.recall)
    assert all(math.isnan(end) for end in (*counts.precision_ci95, *counts.recall_ci95))


def test_alert_table_agrees_with_the_cards_alert_rule():
    table = threshold_alerts(PREDICTED, ACTUAL, (0.5, 1.0, 1.5, 2.0))
    for key, row in table.items():
        counts = alert_table(PREDICTED, ACTUAL, float(key))
        assert (row["alerts"], row["events"], row["correct"]) == (counts.alerts, counts.events, counts.correct)


def test_alert_curves_agree_with_alert_table_and_the_rule_at_every_threshold(rng):
    predicted = np.round(rng.standard_t(4, 2000) * 0.6, 2)  # rounded: many ties, many exact hits of a threshold
    actual = np.round(rng.standard_t(4, 2000) * 0.6, 2)
    thresholds = np.concatenate([np.round(np.arange(0.01, 3.0, 0.07), 2), np.abs(predicted[:20]) + 0.01])
    thresholds = thresholds[thresholds > 0]
    curves = alert_curves(predicted, actual, thresholds)
    assert list(curves.columns) == [
        "threshold_pct",
        "alerts",
        "events",
        "correct",
        "wrong_sign",
        "precision",
        "recall",
    ]
    assert len(curves) == thresholds.size
    for row in curves.itertuples():
        counts = alert_table(predicted, actual, row.threshold_pct)
        assert (row.alerts, row.events, row.correct, row.wrong_sign) == (
            counts.alerts,
            counts.events,
            counts.correct,
            counts.wrong_sign,
        )
        assert (row.alerts, row.events, row.correct, row.wrong_sign) == brute_force_alerts(
            predicted, actual, row.threshold_pct
        )
        assert (row.precision, row.recall) == pytest.approx((counts.precision, counts.recall), nan_ok=True)


def test_alert_curves_keep_the_given_order_and_are_monotone_in_the_threshold():
    curves = alert_curves(PREDICTED, ACTUAL, [2.0, 0.5, 1.0])
    assert curves["threshold_pct"].tolist() == [2.0, 0.5, 1.0]
    assert curves["alerts"].tolist() == [2, 5, 4]
    ordered = alert_curves(PREDICTED, ACTUAL, np.linspace(0.1, 3, 30))
    assert (np.diff(ordered["alerts"]) <= 0).all()
    assert (np.diff(ordered["events"]) <= 0).all()


# --------------------------------------------------------------------------- decision threshold, by hand


@pytest.mark.parametrize(
    ("threshold", "confusion", "accuracy", "tpr", "fpr"),
    [
        # "up" strictly above 0.5: 0.9, 0.8, 0.6, 0.7 — the up day at exactly 0.5 is called down
        (0.5, ((2, 2), (2, 2)), 4 / 8, 2 / 4, 2 / 4),
        (0.65, ((2, 2), (3, 1)), 3 / 8, 1 / 4, 2 / 4),
        (0.0, ((0, 4), (0, 4)), 4 / 8, 1.0, 1.0),
        (1.0, ((4, 0), (4, 0)), 4 / 8, 0.0, 0.0),
    ],
)
def test_decision_point_by_hand(threshold, confusion, accuracy, tpr, fpr):
    point = decision_point(PROB_UP, LABEL, threshold)
    assert point.confusion == confusion
    assert point.n == 8
    assert point.accuracy == pytest.approx(accuracy)
    assert point.accuracy_ci95 == wilson_interval(round(accuracy * 8), 8)
    assert (point.tpr, point.fpr) == pytest.approx((tpr, fpr))


def test_roc_curve_by_hand_and_its_area_is_the_mann_whitney_auc():
    fpr, tpr, thresholds = roc_curve(PROB_UP, LABEL)
    np.testing.assert_allclose(thresholds, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2, 0.1, -np.inf])
    np.testing.assert_allclose(fpr, [0, 0, 0.25, 0.5, 0.5, 0.5, 0.75, 1, 1])
    np.testing.assert_allclose(tpr, [0, 0.25, 0.25, 0.25, 0.5, 0.75, 0.75, 0.75, 1])
    # pairs won by the up day: 0.9 beats all four, 0.6 and 0.5 beat two each, 0.1 none: 8 / 16
    assert curve_auc(fpr, tpr) == pytest.approx(0.5)
    assert curve_auc(fpr, tpr) == pytest.approx(roc_auc(LABEL, PROB_UP))


def test_roc_points_are_decision_points_and_ties_count_half(rng):
    probability = np.round(rng.uniform(size=300), 1)  # eleven distinct values: heavy ties
    label = (rng.uniform(size=300) < probability).astype(int)
    fpr, tpr, thresholds = roc_curve(probability, label)
    for k, threshold in enumerate(thresholds[:-1]):
        point = decision_point(probability, label, threshold)
        assert (point.fpr, point.tpr) == pytest.approx((fpr[k], tpr[k]))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert curve_auc(fpr, tpr) == pytest.approx(roc_auc(label, probability), abs=1e-12)


def test_roc_curve_of_one_class_has_no_defined_rate():
    fpr, tpr, _ = roc_curve([0.2, 0.7], [1, 1])
    assert np.isnan(fpr).all()
    np.testing.assert_allclose(tpr, [0, 0.5, 1])
    assert math.isnan(curve_auc(fpr, tpr))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: alert_table(PREDICTED, ACTUAL, 0), ValueError, "threshold must be > 0 (percent), got 0"),
        (lambda: alert_table(PREDICTED, ACTUAL, "1"), TypeError, "threshold must be a number, got str '1'"),
        (
            lambda: alert_table(PREDICTED, ACTUAL[:3], 1.0),
            ValueError,
            "actual_pct must have the same length as predicted_pct (6), got 3",
        ),
        (
            lambda: alert_table([1.0, np.nan], [1.0, 1.0], 1.0),
            ValueError,
            "predicted_pct must be finite, got nan at index 1",
        ),
        (
            lambda: alert_curves(PREDICTED, ACTUAL, [1.0, -1.0]),
            ValueError,
            "thresholds must be > 0 (percent), got -1 at index 1",
        ),
        (lambda: alert_curves(PREDICTED, ACTUAL, [[1.0]]), ValueError, "thresholds must be 1-D, got shape (1, 1)"),
        (lambda: decision_point(PROB_UP, LABEL, 1.5), ValueError, "threshold must lie in [0, 1], got 1.5"),
        (
            lambda: decision_point([1.2, 0.3], [1, 0], 0.5),
            ValueError,
            "probability_up must lie in [0, 1], got 1.2 at index 0",
        ),
        (
            lambda: decision_point([0.2, 0.3], [0, 2], 0.5),
            ValueError,
            "label must hold only 0 (down) and 1 (up), got 2 at index 1",
        ),
        (
            lambda: roc_curve(PROB_UP, LABEL[:3]),
            ValueError,
            "label must have the same length as probability_up (8), got 3",
        ),
        (
            lambda: prediction_history("models/shipped/ticker", "demo:ACME"),
            TypeError,
            "loaded must be a LoadedCheckpoint",
        ),
        (
            lambda: THRESHOLD_SCALES["ticker"].parse("abc"),
            ValueError,
            "threshold must be a number from 0.05 to 3 (percent move), got 'abc'",
        ),
        (
            lambda: THRESHOLD_SCALES["nifty"].parse("1.5"),
            ValueError,
            "threshold must be a number from 0 to 1 (probability of an up day), got '1.5'",
        ),
        (lambda: THRESHOLD_SCALES["nifty"].parse("nan"), ValueError, "got 'nan'"),
        (
            lambda: card_correction(
                dataclasses.replace(
                    shipped("ticker").card,
                    metrics=Metrics({}, {}, extra={"offset_correction": {"gap_avg": -1, "deviation": 0, "sign": 1}}),
                )
            ),
            CheckpointError,
            "the card's metrics.offset_correction is unreadable (gap_avg must be >= 0, got -1.0); retrain",
        ),
    ],
)
def test_bad_input_names_the_parameter_the_rule_and_the_value(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_unknown_split_is_refused_before_any_work():
    with pytest.raises(ValueError, match=r"part must be one of \('train', 'validation', 'test'\), got 'holdout'"):
        prediction_history(shipped("ticker"), "demo:ACME", "holdout")


def test_threshold_scales_read_links_onto_the_slider_grid():
    ticker, nifty = THRESHOLD_SCALES["ticker"], THRESHOLD_SCALES["nifty"]
    assert ticker.parse(" 1.5 ") == 1.5
    assert ticker.parse("1.53") == 1.55
    assert nifty.parse("0.654") == 0.65
    assert ticker.grid()[[0, 1, -1]].tolist() == [0.05, 0.1, 3.0]
    assert len(nifty.grid()) == 101
    assert ticker.default in ticker.grid()
    assert nifty.default in nifty.grid()


# --------------------------------------------------------------------------- the shipped models: the cards reproduced


def test_regressor_history_reproduces_the_cards_alerts_with_and_without_the_correction():
    past = shipped_history("ticker")
    card = shipped("ticker").card.to_json()
    assert (past.task, past.part, past.source, past.synthetic) == ("ticker", "test", "demo:ACME", True)
    assert len(past) == card["split"]["test"] == 674
    assert past.correction == {
        key: card["metrics"]["offset_correction"][key] for key in ("gap_avg", "deviation", "sign")
    }
    for variant, predicted in (
        ("model", past.predicted_pct),
        ("model_with_offset_correction", past.predicted_pct_corrected),
    ):
        for key, expected in card["metrics"][variant]["alerts"].items():
            counts = alert_table(predicted, past.actual_pct, float(key))
            assert (counts.alerts, counts.events, counts.correct) == (
                expected["alerts"],
                expected["events"],
                expected["correct"],
            ), (variant, key)
    at_one = alert_table(past.predicted_pct, past.actual_pct, 1.0)
    assert (at_one.alerts, at_one.correct, at_one.events) == (23, 19, 68)
    # the actual moves and their hours, by the data layer's own arithmetic (price ratios, not log10)
    windows = make_ticker_windows(load_source("demo:ACME", "60m").bars)
    np.testing.assert_allclose(past.actual_pct, windows.pct_change[-674:], rtol=1e-9, atol=1e-9)
    assert (pd.DatetimeIndex(past.times) == windows.target_time[-674:]).all()


def test_classifier_history_reproduces_the_cards_confusion_matrix_and_auc():
    past = shipped_history("nifty")
    metrics = shipped("nifty").card.to_json()["metrics"]["model"]
    assert (past.task, past.part, past.source, past.synthetic) == ("nifty", "test", "demo:NIFTY-DEMO", True)
    assert len(past) == 208
    point = decision_point(past.probability_up, past.label, 0.5)
    assert point.confusion == ((49, 48), (26, 85))
    assert [list(row) for row in point.confusion] == metrics["confusion"]
    assert point.accuracy == metrics["accuracy"]
    assert list(point.accuracy_ci95) == pytest.approx(metrics["accuracy_ci95"], abs=1e-12)
    fpr, tpr, _ = roc_curve(past.probability_up, past.label)
    assert curve_auc(fpr, tpr) == pytest.approx(metrics["auc"], abs=1e-9)
    days = pd.DatetimeIndex(past.times)
    assert days.is_monotonic_increasing
    assert days.is_unique
    assert (days == days.normalize()).all()
    assert days[-1] == pd.Timestamp("2024-12-31")


def test_history_holds_each_baseline_on_the_same_samples_as_the_card_scored_them():
    past = shipped_history("nifty")
    metrics = shipped("nifty").card.to_json()["metrics"]
    assert list(past.baselines) == [entry["name"] for entry in metrics["baselines"]]
    for entry in metrics["baselines"]:
        point = decision_point(past.baselines[entry["name"]], past.label, 0.5)
        assert point.accuracy == pytest.approx(entry["accuracy"], abs=1e-12), entry["key"]
    ticker = shipped_history("ticker")
    for entry in shipped("ticker").card.to_json()["metrics"]["baselines"]:
        for key, expected in entry["alerts"].items():
            counts = alert_table(ticker.baselines[entry["name"]], ticker.actual_pct, float(key))
            assert (counts.alerts, counts.events, counts.correct) == (
                expected["alerts"],
                expected["events"],
                expected["correct"],
            ), (entry["key"], key)
    assert not np.any(ticker.baselines["persistence (next close = last close)"])  # persistence forecasts no move
