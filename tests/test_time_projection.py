"""Tests of the projection of heat maps onto time (xai/time_projection.py).

Every expected answer is known by construction: maps are built on the real
image geometry of data.images (bar_columns, candle_geometry,
gadf_pixel_spans, the candlestick rasteriser itself), or checked against a
pixel-by-pixel loop that applies the documented rule literally.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.demo.random_walk import random_walk_ohlc
from data.images.candlestick import CandlestickEncoder, bar_columns, candle_geometry
from data.images.gadf import gadf_pixel_spans
from xai.time_projection import (
    CandlestickImportance,
    GadfImportance,
    candlestick_time_importance,
    gadf_time_importance,
    interval_share,
    normalise,
    pointing_game,
)

N_BARS = 50
MINUTES = 60


# --- oracles: the documented rules, one pixel or one bar at a time -------------


def candle_oracle(maps: np.ndarray, ohlc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body, wick and background per bar by slicing each bar's rectangles (float64)."""
    maps = maps.astype(np.float64)
    n_maps, size = maps.shape[0], maps.shape[-1]
    geometry = candle_geometry(ohlc, size)
    body, wick, slot = (np.zeros(ohlc.shape[:2]) for _ in range(3))
    for n in range(n_maps):
        for t, (x0, x1) in enumerate(geometry.slots):
            bt, bb = geometry.body_top[n, t], geometry.body_bottom[n, t]
            wt, wb = geometry.wick_top[n, t], geometry.wick_bottom[n, t]
            wx = slice(geometry.wick_x0[t], geometry.wick_x1[t])
            body[n, t] = maps[n, bt:bb, geometry.body_x0[t] : geometry.body_x1[t]].sum()
            wick[n, t] = maps[n, wt:wb, wx].sum() - maps[n, bt:bb, wx].sum()
            slot[n, t] = maps[n, :, x0:x1].sum()
    return body, wick, slot - body - wick


def gadf_oracle(maps: np.ndarray, n_timestamps: int) -> tuple[np.ndarray, np.ndarray]:
    """per_time and diagonal, pixel by pixel: half of each pixel to its row's
    timestamps, half to its column's, each half shared equally within a span."""
    size = maps.shape[-1]
    spans = gadf_pixel_spans(size, n_timestamps)
    per_time = np.zeros((maps.shape[0], n_timestamps))
    diagonal = np.zeros_like(per_time)
    for i in range(size):
        for j in range(size):
            value = maps[:, i, j]
            for a, b in (spans[i], spans[j]):
                per_time[:, a:b] += value[:, np.newaxis] / 2 / (b - a)
            if (spans[i] == spans[j]).all():
                a, b = spans[i]
                diagonal[:, a:b] += value[:, np.newaxis] / (b - a)
    return per_time, diagonal


def gadf_closed_form(closes: np.ndarray) -> np.ndarray:
    """GADF[i, j] = sqrt(1 - x_i^2) x_j - x_i sqrt(1 - x_j^2), x min-max scaled to [-1, 1]."""
    low, high = closes.min(axis=1, keepdims=True), closes.max(axis=1, keepdims=True)
    x = 2 * (closes - low) / (high - low) - 1
    s = np.sqrt(np.clip(1 - x**2, 0, 1))
    return s[:, :, None] * x[:, None, :] - x[:, :, None] * s[:, None, :]


# --- candlestick ---------------------------------------------------------------


@pytest.mark.parametrize("size", [128, 350])
@pytest.mark.parametrize("bar", [0, 17, 49])
def test_map_on_one_bars_columns_lands_on_that_bar(size: int, bar: int, rng: np.random.Generator) -> None:
    x0, x1 = bar_columns(N_BARS, size)[bar]
    maps = np.zeros((1, 1, size, size), dtype=np.float32)
    maps[..., x0:x1] = 1
    expected = np.zeros((1, N_BARS))
    expected[0, bar] = (x1 - x0) * size

    np.testing.assert_array_equal(candlestick_time_importance(maps, N_BARS).per_bar, expected)
    split = candlestick_time_importance(maps, N_BARS, ohlc=random_walk_ohlc(rng, 1, N_BARS))
    np.testing.assert_array_equal(split.per_bar, expected)
    np.testing.assert_array_equal(split.body + split.wick + split.background, expected)
    mean = candlestick_time_importance(maps, N_BARS, reduce="mean").per_bar
    np.testing.assert_array_equal(mean, expected / ((x1 - x0) * size))


@pytest.mark.parametrize("size", [128, 350])
def test_encoder_image_splits_into_counted_body_and_wick_pixels(size: int, rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 4, N_BARS)
    image = CandlestickEncoder(image_size=size).transform(ohlc)
    geometry = candle_geometry(ohlc, size)
    body_rows = geometry.body_bottom - geometry.body_top
    body_pixels = body_rows * (geometry.body_x1 - geometry.body_x0)
    wick_pixels = (geometry.wick_bottom - geometry.wick_top - body_rows) * (geometry.wick_x1 - geometry.wick_x0)

    absolute = candlestick_time_importance(np.abs(image), N_BARS, ohlc=ohlc)
    np.testing.assert_array_equal(absolute.body, body_pixels)  # body pixels are 1
    np.testing.assert_array_equal(absolute.wick, 0.5 * wick_pixels)  # wick pixels are 0.5
    np.testing.assert_array_equal(absolute.background, 0)
    np.testing.assert_array_equal(absolute.per_bar, body_pixels + 0.5 * wick_pixels)

    counted = candlestick_time_importance((image != 0).astype(np.uint8), N_BARS, ohlc=ohlc)
    np.testing.assert_array_equal(counted.body, body_pixels)
    np.testing.assert_array_equal(counted.wick, wick_pixels)

    signed = candlestick_time_importance(image, N_BARS, ohlc=ohlc)
    sign = np.where(geometry.rising, 1, -1)
    np.testing.assert_array_equal(signed.body, sign * body_pixels)


def test_two_bar_hand_example_every_region() -> None:
    # the hand-worked 8-px window of test_candlestick: slots [0, 4) and [4, 8);
    # bar 0 body rows [1, 4) x columns [1, 4), wick rows [0, 5) in column 2;
    # bar 1 body rows [1, 7) x columns [5, 8), wick rows [0, 8) in column 6
    ohlc = np.array([[10.0, 14.0, 9.0, 13.0], [13.0, 13.5, 6.0, 7.0]])
    result = candlestick_time_importance(np.ones((1, 8, 8)), 2, ohlc=ohlc)
    np.testing.assert_array_equal(result.body, [[9, 18]])
    np.testing.assert_array_equal(result.wick, [[2, 2]])
    np.testing.assert_array_equal(result.background, [[21, 12]])
    np.testing.assert_array_equal(result.per_bar, [[32, 32]])
    np.testing.assert_array_equal(result.slots, [[0, 4], [4, 8]])


@pytest.mark.parametrize("size", [128, 350])
def test_random_maps_split_exactly_and_match_the_oracle(size: int, rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 3, N_BARS)
    maps = rng.normal(size=(3, 1, size, size)).astype(np.float32)
    split = candlestick_time_importance(maps, N_BARS, ohlc=ohlc)
    plain = candlestick_time_importance(maps, N_BARS)

    np.testing.assert_array_equal(split.per_bar, split.body + split.wick + split.background)
    np.testing.assert_allclose(split.per_bar, plain.per_bar, rtol=0, atol=1e-9)
    np.testing.assert_allclose(plain.per_bar.sum(axis=1), maps.sum(axis=(1, 2, 3), dtype=np.float64), atol=1e-8)
    for got, want in zip((split.body, split.wick, split.background), candle_oracle(maps[:, 0], ohlc), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)

    mean = candlestick_time_importance(maps, N_BARS, ohlc=ohlc, reduce="mean")
    np.testing.assert_array_equal(mean.per_bar, mean.body + mean.wick + mean.background)
    area = np.diff(split.slots, axis=1)[:, 0] * size
    np.testing.assert_allclose(mean.body * area, split.body, rtol=1e-12, atol=1e-12)


def test_batch_is_not_mixed_up_and_layouts_agree(rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 5, N_BARS)
    maps = rng.random((5, 128, 128))
    batch = candlestick_time_importance(maps, N_BARS, ohlc=ohlc)
    for n in range(5):
        one = candlestick_time_importance(maps[n : n + 1, np.newaxis], N_BARS, ohlc=ohlc[n])  # (T, 4) for N = 1
        np.testing.assert_allclose(one.body[0], batch.body[n], rtol=1e-12)
        np.testing.assert_allclose(one.wick[0], batch.wick[n], rtol=1e-12)


def test_float32_maps_project_as_their_float64_copy_and_absolute_as_their_magnitude(rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 3, N_BARS)
    maps = rng.normal(size=(3, 128, 128)).astype(np.float32)  # the engine's dtype: summed by torch in float64
    wide = maps.astype(np.float64)
    for layout in (maps, maps[:, np.newaxis].copy()):
        np.testing.assert_allclose(
            candlestick_time_importance(layout, N_BARS).per_bar,
            candlestick_time_importance(wide, N_BARS).per_bar, rtol=1e-12, atol=1e-12,
        )  # fmt: skip
        mass = candlestick_time_importance(layout, N_BARS, absolute=True).per_bar
        np.testing.assert_allclose(mass, candlestick_time_importance(np.abs(wide), N_BARS).per_bar, rtol=1e-12)
    split = candlestick_time_importance(maps, N_BARS, ohlc=ohlc, absolute=True)
    expected = candlestick_time_importance(np.abs(wide), N_BARS, ohlc=ohlc)
    for part in ("per_bar", "body", "wick", "background"):
        np.testing.assert_allclose(getattr(split, part), getattr(expected, part), rtol=1e-12)
    for bad in (np.nan, np.inf):
        hostile = maps.copy()
        hostile[2, 5, 7] = bad
        with pytest.raises(ValueError, match=re.escape("maps must be finite; maps [2] contain NaN or inf")):
            candlestick_time_importance(hostile, N_BARS, absolute=True)
    with pytest.raises(TypeError, match="absolute must be True or False, got 'yes'"):
        candlestick_time_importance(maps, N_BARS, absolute="yes")
    read_only = maps.copy()
    read_only.setflags(write=False)  # NumPy's float64 sums, not torch's
    np.testing.assert_allclose(
        candlestick_time_importance(read_only, N_BARS).per_bar, candlestick_time_importance(wide, N_BARS).per_bar,
        rtol=1e-12, atol=1e-12,
    )  # fmt: skip


def test_candlestick_result_is_frozen_and_read_only() -> None:
    result = candlestick_time_importance(np.ones((1, 16, 16)), 4)
    assert isinstance(result, CandlestickImportance)
    assert result.body is None
    assert result.wick is None
    assert result.background is None
    with pytest.raises(ValueError, match="read-only"):
        result.per_bar[0, 0] = 1
    with pytest.raises(AttributeError):
        result.reduce = "mean"  # type: ignore[misc]


# --- GADF ----------------------------------------------------------------------


def test_one_off_diagonal_pixel_is_shared_by_its_two_minutes() -> None:
    maps = np.zeros((1, MINUTES, MINUTES))
    maps[0, 12, 40] = 1
    result = gadf_time_importance(maps, MINUTES)
    expected = np.zeros((1, MINUTES))
    expected[0, [12, 40]] = 0.5
    np.testing.assert_array_equal(result.per_time, expected)
    np.testing.assert_array_equal(result.off_diagonal, expected)
    np.testing.assert_array_equal(result.diagonal, 0)
    np.testing.assert_array_equal(result.diagonal_share, [0])


def test_one_diagonal_pixel_is_its_minutes_and_reported_as_diagonal() -> None:
    maps = np.zeros((1, 1, MINUTES, MINUTES))
    maps[0, 0, 23, 23] = -2
    result = gadf_time_importance(maps, MINUTES)
    expected = np.zeros((1, MINUTES))
    expected[0, 23] = -2
    np.testing.assert_array_equal(result.per_time, expected)
    np.testing.assert_array_equal(result.diagonal, expected)
    np.testing.assert_array_equal(result.off_diagonal, 0)
    np.testing.assert_array_equal(result.diagonal_share, [1])


def test_map_on_minutes_20_to_35_stays_there(rng: np.random.Generator) -> None:
    maps = np.zeros((2, MINUTES, MINUTES))
    maps[:, 20:36, 20:36] = rng.random((2, 16, 16))
    per_time = gadf_time_importance(maps, MINUTES).per_time
    np.testing.assert_allclose(interval_share(per_time, 20, 36), [1, 1])
    assert interval_share(per_time[0], 20, 35) < 1
    np.testing.assert_array_equal(per_time[:, :20], 0)
    np.testing.assert_array_equal(per_time[:, 36:], 0)


def pixels_for(size: int, minute: int) -> np.ndarray:
    """Pixel rows/columns whose span contains ``minute``."""
    spans = gadf_pixel_spans(size, MINUTES)
    return np.flatnonzero((spans[:, 0] <= minute) & (minute < spans[:, 1]))


# (size, minutes sharing minute 17's pixels, minutes sharing minute 40's pixels)
RESAMPLED = [
    (64, [17], [40]),  # upsampled: a few pixels per minute
    (224, [17], [40]),
    (30, [16, 17], [40, 41]),  # PAA: segments of 2 minutes
    (20, [15, 16, 17], [39, 40, 41]),  # PAA: segments of 3 minutes
]


@pytest.mark.parametrize(("size", "around_17", "around_40"), RESAMPLED)
def test_resampled_images_map_back_to_their_minutes(size: int, around_17: list[int], around_40: list[int]) -> None:
    rows = pixels_for(size, 17)
    columns = pixels_for(size, 40)
    assert len(rows) >= 1
    assert len(columns) >= 1

    # the pixels standing for minute 17 with itself: all on minute 17 (or its segment), all diagonal
    block = np.zeros((1, size, size))
    block[0, rows[:, None], rows[None, :]] = 1
    result = gadf_time_importance(block, MINUTES)
    expected = np.zeros((1, MINUTES))
    expected[0, around_17] = len(rows) ** 2 / len(around_17)
    np.testing.assert_allclose(result.per_time, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(result.diagonal, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.diagonal_share, [1])

    # the pixels standing for the pair (17, 40): half to each side, none diagonal
    pair = np.zeros((1, 1, size, size))
    pair[0, 0, rows[:, None], columns[None, :]] = 1
    result = gadf_time_importance(pair, MINUTES)
    expected = np.zeros((1, MINUTES))
    total = len(rows) * len(columns)
    expected[0, around_17] = total / 2 / len(around_17)
    expected[0, around_40] = total / 2 / len(around_40)
    np.testing.assert_allclose(result.per_time, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.diagonal, 0)


@pytest.mark.parametrize("size", [20, 30, 60, 64, 224])
def test_matches_the_pixel_by_pixel_rule(size: int, rng: np.random.Generator) -> None:
    maps = rng.normal(size=(2, 1, size, size))
    result = gadf_time_importance(maps, MINUTES)
    per_time, diagonal = gadf_oracle(maps[:, 0], MINUTES)
    np.testing.assert_allclose(result.per_time, per_time, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.diagonal, diagonal, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(result.spans, gadf_pixel_spans(size, MINUTES))


@settings(max_examples=60, deadline=None)
@given(
    n_maps=st.integers(1, 3),
    size=st.integers(2, 40),
    n_timestamps=st.integers(2, 40),
    seed=st.integers(0, 2**32 - 1),
    absolute=st.booleans(),
)
def test_per_time_sums_to_the_maps_total(n_maps: int, size: int, n_timestamps: int, seed: int, absolute: bool) -> None:
    maps = np.random.default_rng(seed).normal(size=(n_maps, size, size)) * 10.0 ** np.arange(n_maps)[:, None, None]
    if absolute:
        maps = np.abs(maps)
    result = gadf_time_importance(maps, n_timestamps)
    scale = np.abs(maps).sum(axis=(1, 2))
    np.testing.assert_allclose(result.per_time.sum(axis=1), maps.sum(axis=(1, 2)), rtol=0, atol=1e-12 * scale.max())
    np.testing.assert_array_equal(result.per_time, result.diagonal + result.off_diagonal)
    assert ((result.diagonal_share >= 0) & (result.diagonal_share <= 1)).all()
    if absolute:
        assert (result.per_time >= 0).all()
    per_time, diagonal = gadf_oracle(maps, n_timestamps)
    np.testing.assert_allclose(result.per_time, per_time, rtol=0, atol=1e-12 * scale.max())
    np.testing.assert_allclose(result.diagonal, diagonal, rtol=0, atol=1e-12 * scale.max())


def test_an_antisymmetric_signed_map_cancels_and_its_absolute_value_does_not(rng: np.random.Generator) -> None:
    # the GADF itself, as a map: antisymmetric with a zero diagonal
    closes = 18000 * np.exp(np.cumsum(rng.normal(0, 5e-4, (2, MINUTES)), axis=1))
    field = gadf_closed_form(closes)
    signed = gadf_time_importance(field, MINUTES)
    np.testing.assert_allclose(signed.per_time, 0, atol=1e-12)
    absolute = gadf_time_importance(np.abs(field), MINUTES)
    assert (absolute.per_time > 0).all()
    np.testing.assert_array_equal(absolute.diagonal, 0)
    np.testing.assert_allclose(absolute.per_time.sum(axis=1), np.abs(field).sum(axis=(1, 2)))


def test_gadf_result_is_read_only_and_all_zero_maps_give_zeros() -> None:
    result = gadf_time_importance(np.zeros((2, 1, 8, 8)), 5)
    assert isinstance(result, GadfImportance)
    assert result.per_time.shape == (2, 5)
    np.testing.assert_array_equal(result.per_time, 0)
    np.testing.assert_array_equal(result.diagonal_share, [0, 0])
    with pytest.raises(ValueError, match="read-only"):
        result.per_time[0, 0] = 1


# --- normalise, interval_share, pointing_game --------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("signed", [0.25, -1.0, 0.5, 0.0]),
        ("absolute", [0.25, 1.0, 0.5, 0.0]),
        ("positive", [0.5, 0.0, 1.0, 0.0]),
        ("negative", [0.0, 1.0, 0.0, 0.0]),
    ],
)
def test_normalise_hand_examples(mode: str, expected: list[float]) -> None:
    np.testing.assert_array_equal(normalise([1.0, -4.0, 2.0, 0.0], mode), expected)


def test_normalise_rows_separately_and_keeps_nothing_as_nothing() -> None:
    values = np.array([[2.0, -1.0], [0.0, 0.0], [-3.0, -6.0]])
    np.testing.assert_array_equal(normalise(values), [[1.0, -0.5], [0.0, 0.0], [-0.5, -1.0]])
    np.testing.assert_array_equal(normalise(values, "positive"), [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(normalise(np.zeros(4), "absolute"), np.zeros(4))
    assert normalise([1, 2]).dtype == np.float64


def test_interval_share_hand_examples() -> None:
    assert interval_share([1.0, -3.0, 0.0, 4.0], 1, 3) == 3 / 8
    assert interval_share([1.0, -3.0, 0.0, 4.0], 0, 4) == 1.0
    assert interval_share(np.zeros(5), 0, 2) == 0.0
    np.testing.assert_array_equal(interval_share([[1.0, 1.0], [0.0, 2.0], [0.0, 0.0]], 1, 2), [0.5, 1.0, 0.0])


def test_pointing_game_hand_examples() -> None:
    values = [0.0, 1.0, 5.0, -6.0, 2.0]
    assert pointing_game(values, 3, 4) is True  # |-6| is the peak
    assert pointing_game(values, 1, 3) is False
    assert pointing_game(values, 1, 3, tolerance=1) is True  # [0, 4) now holds position 3
    assert pointing_game(values, 4, 5, tolerance=1) is True
    assert pointing_game([3.0, 0.0, -3.0], 0, 1) is False  # a tie outside the interval
    assert pointing_game([3.0, -3.0, 0.0], 0, 2) is True  # every tied peak inside
    assert pointing_game(np.zeros(4), 0, 4) is False  # points nowhere
    np.testing.assert_array_equal(pointing_game([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]], 1, 2), [True, False, False])


def test_interval_share_of_huge_values_is_still_a_share() -> None:
    # Found by tests/test_fuzz.py: the absolute sum overflowed to inf and the share came out NaN.
    assert interval_share([1e308, 1e308, 0.0], 0, 1) == 0.5
    np.testing.assert_array_equal(interval_share([[1e308, 1e308], [1.0, 3.0]], 1, 2), [0.5, 0.75])


def test_scores_on_a_projected_planted_pattern(rng: np.random.Generator) -> None:
    # a candlestick map hot on bars 30..34 only: both scores find the pattern
    maps = 0.01 * rng.random((1, 128, 128))
    slots = bar_columns(N_BARS, 128)
    maps[..., slots[30, 0] : slots[34, 1]] += 1
    per_bar = candlestick_time_importance(maps, N_BARS, reduce="mean").per_bar[0]
    assert interval_share(per_bar, 30, 35) > 0.9
    assert pointing_game(per_bar, 30, 35) is True
    assert pointing_game(per_bar, 0, 30) is False


# --- bad input -----------------------------------------------------------------------

GOOD_MAPS = np.zeros((2, 1, 16, 16))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: candlestick_time_importance("maps", 4),
            TypeError,
            "maps must be an array of real numbers, got dtype <U4",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((2, 16, 16), dtype=bool), 4),
            TypeError,
            "maps must be an array of real numbers, got dtype bool",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((2, 3, 16, 16)), 4),
            ValueError,
            "maps must have shape (N, 1, S, S) or (N, S, S), got shape (2, 3, 16, 16)",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((16, 16)), 4),
            ValueError,
            "maps must have shape (N, 1, S, S) or (N, S, S), got shape (16, 16)",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((0, 16, 16)), 4),
            ValueError,
            "maps must hold at least 1 map, got shape (0, 16, 16)",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((2, 16, 17)), 4),
            ValueError,
            "maps must be square (S x S), got shape (2, 16, 17)",
        ),
        (
            lambda: candlestick_time_importance(np.zeros((1, 4, 4)), 4),
            ValueError,
            "maps must be at least 8 x 8 pixels, got shape (1, 4, 4)",
        ),
        (
            lambda: candlestick_time_importance(
                np.where(np.arange(3)[:, None, None] == 1, np.nan, np.zeros((3, 8, 8))), 2
            ),
            ValueError,
            "maps must be finite; maps [1] contain NaN or inf",
        ),
        (lambda: candlestick_time_importance(GOOD_MAPS, 4.0), TypeError, "n_bars must be an int, got float 4.0"),
        (lambda: candlestick_time_importance(GOOD_MAPS, True), TypeError, "n_bars must be an int, got bool True"),
        (lambda: candlestick_time_importance(GOOD_MAPS, 0), ValueError, "n_bars must be >= 1, got 0"),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 17),
            ValueError,
            "n_bars must be <= the map side S so that each bar owns a pixel column, got n_bars 17 for S 16",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, reduce=None),
            TypeError,
            "reduce must be a str, got NoneType None",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, reduce="max"),
            ValueError,
            "reduce must be one of 'sum', 'mean', got 'max'",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, ohlc=np.ones((3, 4, 4))),
            ValueError,
            "ohlc must hold one window of n_bars bars per map, shape (2, 4, 4), got shape (3, 4, 4)",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, ohlc=np.ones((2, 5, 4))),
            ValueError,
            "ohlc must hold one window of n_bars bars per map, shape (2, 4, 4), got shape (2, 5, 4)",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, ohlc=np.ones((2, 4, 3))),
            ValueError,
            "ohlc must have 4 columns (open, high, low, close) on its last axis, got shape (2, 4, 3)",
        ),
        (
            lambda: candlestick_time_importance(GOOD_MAPS, 4, ohlc=[["a"] * 4] * 4),
            TypeError,
            "ohlc must be an array of real numbers, got dtype <U1",
        ),
        (
            lambda: gadf_time_importance(np.zeros((1, 1, 1)), 5),
            ValueError,
            "maps must be at least 2 x 2 pixels, got shape (1, 1, 1)",
        ),
        # found by tests/test_fuzz.py: finite maps whose total overflows float64 gave inf and NaN profiles
        (
            lambda: candlestick_time_importance(np.stack([np.zeros((8, 8)), np.full((8, 8), 1e308)]), 2),
            ValueError,
            "maps must have a finite total |attribution| in float64; maps [1] overflow it (largest |value| 1e+308); "
            "divide them by a constant first",
        ),
        (
            lambda: gadf_time_importance(np.array([[[0.0, 1e308], [-1e308, 0.0]]]), 2),
            ValueError,
            "maps must have a finite total |attribution| in float64; maps [0] overflow it (largest |value| 1e+308); "
            "divide them by a constant first",
        ),
        (lambda: gadf_time_importance(GOOD_MAPS, "60"), TypeError, "n_timestamps must be an int, got str '60'"),
        (lambda: gadf_time_importance(GOOD_MAPS, 1), ValueError, "n_timestamps must be >= 2, got 1"),
        (
            lambda: normalise([1.0], mode="abs"),
            ValueError,
            "mode must be one of 'signed', 'absolute', 'positive', 'negative', got 'abs'",
        ),
        (lambda: normalise([1.0], mode=1), TypeError, "mode must be a str, got int 1"),
        (lambda: normalise([[[1.0]]]), ValueError, "per_time must have shape (T,) or (N, T), got shape (1, 1, 1)"),
        (lambda: normalise([]), ValueError, "per_time must hold at least 1 timestamp, got shape (0,)"),
        (lambda: normalise([1.0, np.inf]), ValueError, "per_time must be finite, got NaN or inf"),
        (lambda: normalise([1j]), TypeError, "per_time must be an array of real numbers, got dtype complex128"),
        (lambda: interval_share([1.0, 2.0], 1.0, 2), TypeError, "start must be an int, got float 1.0"),
        (lambda: interval_share([1.0, 2.0], -1, 2), ValueError, "start must be >= 0, got -1"),
        (
            lambda: interval_share([1.0, 2.0], 1, 1),
            ValueError,
            "stop must be > start (a half-open interval [start, stop)), got start 1, stop 1",
        ),
        (
            lambda: interval_share([1.0, 2.0], 0, 3),
            ValueError,
            "stop must be <= the number of timestamps (2), got 3",
        ),
        (lambda: pointing_game([1.0, 2.0], 0, 1, tolerance=-1), ValueError, "tolerance must be >= 0, got -1"),
        (lambda: pointing_game([1.0, 2.0], 0, 1, tolerance=0.5), TypeError, "tolerance must be an int, got float 0.5"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()
