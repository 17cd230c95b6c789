"""Tests of the aggregation over many windows (xai/aggregate.py).

Every expected answer is worked out by hand: Student-t intervals from the quantile tables,
Spearman correlations from 1 - 6·Σd² / (n(n² - 1)), top-k sets by inspection, and GADF pixel
lines from the 64-px / 60-minute geometry.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from xai.aggregate import (
    equalise_gadf,
    importance_by_prediction,
    mean_band,
    method_agreement,
    peak_summary,
    third_bounds,
)
from xai.time_projection import gadf_time_importance

#: Student-t quantiles from the tables: t_{0.975, 2}, t_{0.95, 2}.
T975_DF2 = 4.302652729911275
T95_DF2 = 2.919985580353726


# --- mean_band ---------------------------------------------------------------


def test_mean_band_by_hand():
    # column 0: 1, 2, 3 -> mean 2, s = 1, half width t·1/sqrt(3); column 1: constant -> no width
    band = mean_band(np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]))
    half = T975_DF2 / np.sqrt(3)
    np.testing.assert_allclose(band.mean, [2.0, 5.0])
    np.testing.assert_allclose(band.low, [2.0 - half, 5.0])
    np.testing.assert_allclose(band.high, [2.0 + half, 5.0])
    assert (band.n, band.confidence, band.reason) == (3, 0.95, "")


def test_mean_band_narrows_with_lower_confidence():
    band = mean_band(np.array([[1.0], [2.0], [3.0]]), confidence=0.90)
    np.testing.assert_allclose(band.high - band.mean, [T95_DF2 / np.sqrt(3)])


def test_one_input_has_a_mean_but_no_band():
    band = mean_band(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(band.mean, [1.0, 2.0])
    assert np.isnan(band.low).all()
    assert np.isnan(band.high).all()
    assert band.n == 1
    assert "at least 2 inputs" in band.reason


def test_no_input_has_neither():
    band = mean_band(np.zeros((0, 3)))
    assert band.n == 0
    assert np.isnan(band.mean).all()
    assert np.isnan(band.low).all()
    assert band.reason == "n = 0: a confidence band needs at least 2 inputs"


@pytest.mark.parametrize(
    ("values", "confidence", "error", "message"),
    [
        (np.ones(3), 0.95, ValueError, "values must have shape (N, T) with T >= 1, got shape (3,)"),
        (np.array([["a"]]), 0.95, TypeError, "values must be an array of real numbers, got dtype <U1"),
        (np.array([[np.nan]]), 0.95, ValueError, "values must be finite, got NaN or inf"),
        (np.ones((2, 2)), 1.0, ValueError, "confidence must lie strictly between 0 and 1, got 1.0"),
        (np.ones((2, 2)), "0.9", TypeError, "confidence must be a float, got str '0.9'"),
    ],
)
def test_mean_band_rejects_bad_input(values, confidence, error, message):
    with pytest.raises(error, match=re.escape(message)):
        mean_band(values, confidence)


# --- importance_by_prediction --------------------------------------------------


def test_each_window_weighs_the_same_whatever_its_scale():
    per_time = np.array(
        [
            [0.0, 2.0, 0.0],  # up, peak at 1
            [0.0, 0.0, 4000.0],  # up, peak at 2 (a thousand times larger: still weight 1)
            [-2.0, 0.0, 0.0],  # down, absolute peak at 0
            [3.0, 0.0, 0.0],  # down
        ]
    )
    bands = importance_by_prediction(per_time, np.array([True, True, False, False]))
    np.testing.assert_allclose(bands["up"].mean, [0.0, 0.5, 0.5])
    np.testing.assert_allclose(bands["down"].mean, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(bands["down"].low, bands["down"].high)  # identical rows: no width
    half = 12.706204736174698 * np.sqrt(0.5) / np.sqrt(2)  # t_{0.975, 1} · s / sqrt(n), s = sqrt(1/2)
    np.testing.assert_allclose(bands["up"].high[1:], 0.5 + half)
    assert (bands["up"].n, bands["down"].n) == (2, 2)


def test_signed_mode_keeps_the_sign_and_labels_may_be_ints():
    per_time = np.array([[-2.0, 1.0], [4.0, 0.0], [1.0, 1.0]])
    bands = importance_by_prediction(per_time, np.array([1, 1, 0]), mode="signed")
    np.testing.assert_allclose(bands["up"].mean, [0.0, 0.25])  # rows [-1, 0.5] and [1, 0]
    assert bands["down"].n == 1
    assert bands["down"].reason
    np.testing.assert_allclose(bands["down"].mean, [1.0, 1.0])


@pytest.mark.parametrize(
    ("predicted_up", "mode", "error", "message"),
    [
        (np.array([True]), "absolute", ValueError, "predicted_up must have shape (2,), one flag per row"),
        (np.array([0, 2]), "absolute", ValueError, "predicted_up must hold only 0 / 1 (or bools), got values [0, 2]"),
        (np.array([0.0, 1.0]), "absolute", TypeError, "predicted_up must be an array of bools (or 0 / 1)"),
        (np.array([True, False]), "abs", ValueError, "mode must be one of ('signed', 'absolute'"),
        (np.array([True, False]), 1, TypeError, "mode must be a str, got int 1"),
    ],
)
def test_importance_by_prediction_rejects_bad_input(predicted_up, mode, error, message):
    with pytest.raises(error, match=re.escape(message)):
        importance_by_prediction(np.ones((2, 3)), predicted_up, mode=mode)


# --- peak_summary ---------------------------------------------------------------


def test_third_bounds():
    assert third_bounds(60) == (0, 20, 40, 60)  # minutes 0-19, 20-39, 40-59
    assert third_bounds(50) == (0, 17, 33, 50)
    with pytest.raises(ValueError, match=re.escape("n_steps must be an int >= 3 to have thirds, got 2")):
        third_bounds(2)


def test_a_profile_in_the_middle_of_the_hour():
    row = np.zeros(60)
    row[20:40] = 1.0
    row[30] = 3.0  # after max-normalising: 1 at minute 30, 1/3 elsewhere in the middle -> below half
    summary = peak_summary(np.stack([row, 2 * row, np.zeros(60)]))
    assert summary.peak == 30
    assert summary.region == (30, 31)
    np.testing.assert_allclose(summary.thirds.mean, [0.0, 1.0, 0.0])
    assert summary.middle_share == pytest.approx(1.0)
    assert summary.n == 2  # the all-zero row points nowhere and is left out
    assert summary.bounds == (0, 20, 40, 60)


def test_a_broad_peak_has_a_broad_region_and_uniform_rows_score_a_third():
    tent = np.concatenate([np.zeros(10), np.linspace(0, 1, 21), np.linspace(1, 0, 21)[1:], np.zeros(9)])
    summary = peak_summary(tent[np.newaxis])
    assert summary.peak == 30
    assert summary.region == (20, 41)  # tent >= 0.5 from minute 20 (0.5) to minute 40 (0.5)
    uniform = peak_summary(np.ones((4, 60)))
    np.testing.assert_allclose(uniform.thirds.mean, [1 / 3, 1 / 3, 1 / 3])
    assert uniform.peak == 0
    assert uniform.region == (0, 60)


def test_no_mass_no_peak():
    summary = peak_summary(np.zeros((3, 60)))
    assert summary.peak == -1
    assert summary.region == (-1, -1)
    assert summary.n == 0
    assert np.isnan(summary.middle_share)


# --- equalise_gadf --------------------------------------------------------------


def test_a_uniform_gadf_map_spikes_at_the_doubled_minutes_until_equalised():
    importance = gadf_time_importance(np.ones((1, 64, 64)), 60)
    raw = importance.per_time[0]
    doubled = [7, 22, 37, 52]  # the four minutes that own two of the 64 pixel lines
    np.testing.assert_allclose(raw[doubled], 2 * 64)
    np.testing.assert_allclose(np.delete(raw, doubled), 64)
    flat = equalise_gadf(importance)
    np.testing.assert_allclose(flat, 64 * 64 / 60)  # flat, same total
    assert peak_summary(flat).region == (0, 60)


def test_equalise_gadf_with_paa():
    importance = gadf_time_importance(np.ones((2, 1, 20, 20)), 60)  # each pixel line stands for 3 minutes
    np.testing.assert_allclose(equalise_gadf(importance), 400 / 60)


def test_equalise_gadf_wants_a_gadf_importance():
    with pytest.raises(TypeError, match="importance must be a GadfImportance, got ndarray"):
        equalise_gadf(np.ones((1, 60)))


# --- method_agreement -------------------------------------------------------------


def test_identical_maps_agree_fully_and_the_sign_does_not_matter():
    maps = np.arange(24.0).reshape(2, 12) + 1
    agreement = method_agreement({"a": maps, "b": -maps, "c": maps * 3}, k=4)
    np.testing.assert_allclose(agreement.rank_correlation, np.ones((3, 3)))
    np.testing.assert_allclose(agreement.top_k_overlap, np.ones((3, 3)))
    assert agreement.methods == ("a", "b", "c")
    assert agreement.n == 2
    assert agreement.k == 4
    np.testing.assert_array_equal(agreement.counts, np.full((3, 3), 2))


def test_reversed_maps_disagree_fully():
    a = np.arange(1.0, 11.0)[np.newaxis]
    agreement = method_agreement({"a": a, "b": a[:, ::-1]}, k=3)
    assert agreement.rank_correlation[0, 1] == pytest.approx(-1.0)
    assert agreement.top_k_overlap[0, 1] == 0.0  # {7, 8, 9} vs {0, 1, 2}


def test_agreement_by_hand():
    a = np.array([[5.0, 4, 3, 2, 1, 0]])
    b = np.array([[5.0, 0, 4, 1, 2, 3]])
    # ranks differ by d = 0, 4, -1, 1, -1, -3: Σd² = 28, rho = 1 - 6·28 / (6·35) = 0.2
    # top-2: {0, 1} vs {0, 2} -> 1 of 2 shared
    agreement = method_agreement({"a": a, "b": b}, k=2)
    assert agreement.rank_correlation[0, 1] == pytest.approx(0.2)
    assert agreement.top_k_overlap[0, 1] == pytest.approx(0.5)
    assert agreement.rank_correlation[1, 0] == agreement.rank_correlation[0, 1]


def test_agreement_averages_over_inputs_and_skips_constant_maps():
    a = np.array([[1.0, 2, 3, 4], [1.0, 2, 3, 4], [1.0, 2, 3, 4]])
    b = np.array([[1.0, 2, 3, 4], [4.0, 3, 2, 1], [0.0, 0, 0, 0]])  # agree, reverse, blank
    agreement = method_agreement({"a": a, "b": b}, k=1)
    assert agreement.rank_correlation[0, 1] == pytest.approx(0.0)  # mean of 1 and -1; the blank map is skipped
    assert agreement.top_k_overlap[0, 1] == pytest.approx(0.5)  # top-1 {3} vs {3}, then {3} vs {0}
    assert agreement.counts[0, 1] == 2
    assert agreement.counts[1, 1] == 2
    assert agreement.counts[0, 0] == 3
    assert agreement.rank_correlation[1, 1] == 1.0


def test_a_method_whose_maps_are_all_constant_has_no_agreement():
    agreement = method_agreement({"a": np.arange(8.0).reshape(2, 4), "blank": np.zeros((2, 4))}, k=2)
    assert np.isnan(agreement.rank_correlation[0, 1])
    assert np.isnan(agreement.top_k_overlap[1, 1])
    assert agreement.counts[0, 1] == 0
    assert agreement.rank_correlation[0, 0] == 1.0


def test_image_maps_are_compared_pixel_by_pixel():
    maps = np.random.default_rng(3).random((2, 1, 8, 8))
    agreement = method_agreement({"a": maps, "b": maps**2}, k=64)  # monotone: same ranks
    np.testing.assert_allclose(agreement.rank_correlation, 1.0)
    np.testing.assert_allclose(agreement.top_k_overlap, 1.0)  # k = D: every position is shared


@pytest.mark.parametrize(
    ("per_method", "k", "error", "message"),
    [
        ([np.ones((1, 3))], 1, TypeError, "per_method must be a mapping of method key to (N, ...) array, got list"),
        ({}, 1, ValueError, "per_method must hold at least 1 method, got an empty mapping"),
        ({"a": np.ones((1, 3)), "b": np.ones((1, 4))}, 1, ValueError, "per_method must hold arrays of one shape"),
        ({"a": np.ones(3)}, 1, ValueError, "per_method['a'] must have shape (N, T) or (N, ...) with N >= 1"),
        ({"a": np.array([["x"]])}, 1, TypeError, "per_method['a'] must be an array of real numbers"),
        ({"a": np.ones((1, 3))}, 4, ValueError, "k must be between 1 and the 3 values per input, got 4"),
        ({"a": np.ones((1, 3))}, 1.5, TypeError, "k must be an int, got float 1.5"),
    ],
)
def test_method_agreement_rejects_bad_input(per_method, k, error, message):
    with pytest.raises(error, match=re.escape(message)):
        method_agreement(per_method, k=k)
