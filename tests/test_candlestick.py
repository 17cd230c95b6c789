"""Tests of the candlestick rasteriser (data/images/candlestick.py).

Expected images are worked out by hand from the geometry rules in the module
docstring; they are written in units of a wick (0.5): 2 = rising body,
1 = rising wick, -1 = falling wick, -2 = falling body.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.demo.random_walk import random_walk_ohlc
from data.errors import DataError
from data.images.candlestick import (
    CandlestickEncoder,
    bar_columns,
    candle_geometry,
    to_rgb,
)
from data.settings import BACKGROUND_RGB, CANDLESTICK_SIZE, DOWN_RGB, PAPER_CANDLESTICK_SIZE, UP_RGB


def encode(ohlc: np.ndarray, size: int) -> np.ndarray:
    return CandlestickEncoder(image_size=size).transform(ohlc)


# --- hand-worked images ------------------------------------------------------

# Two bars at 8 px. Slots [0, 4) and [4, 8); body width round(4 * 0.7) = 3,
# centred on x = 2 and 6: [1, 4) and [5, 8); wick width 1: columns 2 and 6.
# Prices span [6, 14] over 8 rows, so y(p) = 14 - p.
# Bar 0 rises (10 -> 13): body rows [y(13), y(10)) = [1, 4), wick [y(14), y(9)) = [0, 5).
# Bar 1 falls (13 -> 7): body rows [1, 7), wick [floor(0.5), y(6)) = [0, 8).
TWO_BARS = np.array([[10.0, 14.0, 9.0, 13.0], [13.0, 13.5, 6.0, 7.0]])
TWO_BARS_HALVES = np.array(
    [
        [0, 0, 1, 0, 0, 0, -1, 0],
        [0, 2, 2, 2, 0, -2, -2, -2],
        [0, 2, 2, 2, 0, -2, -2, -2],
        [0, 2, 2, 2, 0, -2, -2, -2],
        [0, 0, 1, 0, 0, -2, -2, -2],
        [0, 0, 0, 0, 0, -2, -2, -2],
        [0, 0, 0, 0, 0, -2, -2, -2],
        [0, 0, 0, 0, 0, 0, -1, 0],
    ]
)


def test_two_bar_window_every_pixel() -> None:
    image = encode(TWO_BARS[np.newaxis], 8)
    assert image.shape == (1, 1, 8, 8)
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image[0, 0], TWO_BARS_HALVES / 2)


def test_two_bar_window_geometry() -> None:
    geometry = candle_geometry(TWO_BARS, 8)
    np.testing.assert_array_equal(geometry.slots, [[0, 4], [4, 8]])
    np.testing.assert_array_equal(geometry.body_x0, [1, 5])
    np.testing.assert_array_equal(geometry.body_x1, [4, 8])
    np.testing.assert_array_equal(geometry.wick_x0, [2, 6])
    np.testing.assert_array_equal(geometry.wick_x1, [3, 7])
    np.testing.assert_array_equal(geometry.body_top, [[1, 1]])
    np.testing.assert_array_equal(geometry.body_bottom, [[4, 7]])
    np.testing.assert_array_equal(geometry.wick_top, [[0, 0]])
    np.testing.assert_array_equal(geometry.wick_bottom, [[5, 8]])
    np.testing.assert_array_equal(geometry.rising, [[True, False]])


def test_doji_gets_a_one_pixel_rising_body() -> None:
    # One bar at 8 px: slot [0, 8), body round(5.6) = 6 wide around x = 4: [1, 7);
    # wick column 4. y(p) = (12 - p) * 2; open = close = 10 -> y = 4 -> body row 4 only.
    image = encode(np.array([[10.0, 12.0, 8.0, 10.0]]), 8)
    expected = np.zeros((8, 8))
    expected[:, 4] = 1
    expected[4, 1:7] = 2
    np.testing.assert_array_equal(image[0, 0], expected / 2)


def test_falling_bar_is_negative() -> None:
    # Same bar as the doji test but falling 11 -> 9: body rows [y(11), y(9)) = [2, 6).
    image = encode(np.array([[11.0, 12.0, 8.0, 9.0]]), 8)
    expected = np.zeros((8, 8))
    expected[:, 4] = -1
    expected[2:6, 1:7] = -2
    np.testing.assert_array_equal(image[0, 0], expected / 2)


def test_constant_window_is_drawn_on_the_middle_row() -> None:
    # 3 bars at 9 px: slots [0,3) [3,6) [6,9); bodies round(2.1) = 2 wide around
    # x = 1.5, 4.5, 7.5: [1,3) [4,6) [7,9). Everything on row 9 // 2 = 4; close ==
    # open, so rising.
    image = encode(np.full((1, 3, 4), 5.0), 9)
    expected = np.zeros((9, 9))
    expected[4] = [0, 2, 2, 0, 2, 2, 0, 2, 2]
    np.testing.assert_array_equal(image[0, 0], expected / 2)


def test_a_falling_subnormal_bar_stays_falling_in_a_halved_window() -> None:
    # Found by tests/test_fuzz.py: bar 1's high - low overflows, so the window is halved, which rounds
    # bar 0's open 5e-324 and close 0 to the same value; bar 0 was drawn rising. It falls.
    ohlc = np.array([[5e-324, 5e-324, 0.0, 0.0], [-1e308, 1.7e308, -1e308, 1.7e308]])
    np.testing.assert_array_equal(candle_geometry(ohlc, 8).rising, [[False, True]])
    image = encode(ohlc, 8)[0, 0]
    assert (image[:, :4] == -1).any()
    assert not (image[:, :4] > 0).any()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_an_open_far_outside_the_range_is_clipped_without_overflow_warnings() -> None:
    # Found by tests/test_fuzz.py: only high >= low is checked, so an open of 1e308 above a high of 1
    # is accepted; its row overflowed to -inf (with a RuntimeWarning) before being clipped to row 0.
    # Bar 0 (1e308 -> 0.7, falling): y(p) = (1 - p) / 0.5 * 8; body [0, ceil(4.8)) = [0, 5), wick [0, 8).
    image = encode(np.array([[1e308, 1.0, 0.5, 0.7], [0.7, 1.0, 0.5, 0.6]]), 8)[0, 0]
    expected = np.zeros((8, 4))
    expected[:, 2] = -1
    expected[:5, 1:4] = -2
    np.testing.assert_array_equal(image[:, :4], expected / 2)


def test_two_dimensional_input_is_one_window() -> None:
    np.testing.assert_array_equal(encode(TWO_BARS, 8), encode(TWO_BARS[np.newaxis], 8))


def test_lists_and_integers_are_accepted() -> None:
    as_ints = TWO_BARS.copy()
    as_ints[1, 1] = 14.0  # integral prices
    expected = encode(as_ints, 8)
    np.testing.assert_array_equal(encode(as_ints.astype(np.int64), 8), expected)
    np.testing.assert_array_equal(encode(as_ints.tolist(), 8), expected)


# --- bar slots ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_bars", "size", "first_slots"),
    [
        (1, 8, [[0, 8]]),
        (2, 8, [[0, 4], [4, 8]]),
        (3, 8, [[0, 3], [3, 5], [5, 8]]),
        (4, 10, [[0, 3], [3, 5], [5, 8], [8, 10]]),  # 2.5 and 7.5 round up
        (50, 128, [[0, 3], [3, 5], [5, 8], [8, 10], [10, 13]]),  # 2.56, 5.12, 7.68, 10.24, 12.8
        (50, 350, [[0, 7], [7, 14], [14, 21], [21, 28], [28, 35]]),
        (60, 64, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]),
    ],
)
def test_bar_columns_tile_the_width(n_bars: int, size: int, first_slots: list[list[int]]) -> None:
    slots = bar_columns(n_bars, size)
    assert slots.shape == (n_bars, 2)
    np.testing.assert_array_equal(slots[: len(first_slots)], first_slots)
    assert slots[0, 0] == 0
    assert slots[-1, 1] == size
    np.testing.assert_array_equal(slots[1:, 0], slots[:-1, 1])
    widths = np.diff(slots, axis=1)[:, 0]
    assert widths.min() >= 1
    assert widths.max() - widths.min() <= 1
    np.testing.assert_array_equal(slots[:, 0], np.floor(np.arange(n_bars) * size / n_bars + 0.5))


@pytest.mark.parametrize("size", [CANDLESTICK_SIZE, PAPER_CANDLESTICK_SIZE, 700])
def test_body_and_wick_widths_for_fifty_bars(size: int) -> None:
    rng = np.random.default_rng(size)
    ohlc = random_walk_ohlc(rng, 2, 50)
    geometry = candle_geometry(ohlc, size)
    body = geometry.body_x1 - geometry.body_x0
    wick = geometry.wick_x1 - geometry.wick_x0
    expected_body = {128: 2, 350: 5, 700: 10}[size]  # round(S / 50 * 0.7)
    expected_wick = {128: 1, 350: 1, 700: 2}[size]  # max(1, round(S / 350))
    np.testing.assert_array_equal(body, expected_body)
    np.testing.assert_array_equal(wick, expected_wick)
    assert (geometry.slots[:, 0] <= geometry.body_x0).all()
    assert (geometry.body_x1 <= geometry.slots[:, 1]).all()
    assert (geometry.body_x0 <= geometry.wick_x0).all()
    assert (geometry.wick_x1 <= geometry.body_x1).all()
    # centred on the true centre (i + 0.5) * S / T within half a pixel
    centre = (np.arange(50) + 0.5) * size / 50
    assert np.abs((geometry.body_x0 + geometry.body_x1) / 2 - centre).max() <= 0.5
    assert np.abs((geometry.wick_x0 + geometry.wick_x1) / 2 - centre).max() <= 0.5


# --- batches -----------------------------------------------------------------


def test_batch_equals_stacked_single_windows(rng: np.random.Generator) -> None:
    # 40 windows at 128 px span more than one chunk of the rasteriser.
    ohlc = random_walk_ohlc(rng, 40, 50)
    batch = encode(ohlc, CANDLESTICK_SIZE)
    singles = np.concatenate([encode(window, CANDLESTICK_SIZE) for window in ohlc])
    np.testing.assert_array_equal(batch, singles)
    assert batch.shape == (40, 1, CANDLESTICK_SIZE, CANDLESTICK_SIZE)


def test_transform_is_pure(rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 3, 50)
    before = ohlc.copy()
    encoder = CandlestickEncoder()
    first = encoder.transform(ohlc)
    np.testing.assert_array_equal(ohlc, before)
    np.testing.assert_array_equal(encoder.transform(ohlc), first)


def test_price_scale_does_not_change_the_image(rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 5, 50)
    base = encode(ohlc, CANDLESTICK_SIZE)
    # Scaling by a power of two is exact in floating point, so the images agree exactly.
    np.testing.assert_array_equal(encode(4.0 * ohlc, CANDLESTICK_SIZE), base)
    np.testing.assert_array_equal(encode(0.125 * ohlc, CANDLESTICK_SIZE), base)


# --- colours -----------------------------------------------------------------


def test_to_rgb_uses_the_palette() -> None:
    rgb = to_rgb(encode(TWO_BARS, 8))
    assert rgb.shape == (1, 8, 8, 3)
    assert rgb.dtype == np.uint8
    halves = TWO_BARS_HALVES
    np.testing.assert_array_equal(rgb[0][halves > 0], np.broadcast_to(UP_RGB, ((halves > 0).sum(), 3)))
    np.testing.assert_array_equal(rgb[0][halves < 0], np.broadcast_to(DOWN_RGB, ((halves < 0).sum(), 3)))
    np.testing.assert_array_equal(rgb[0][halves == 0], np.broadcast_to(BACKGROUND_RGB, ((halves == 0).sum(), 3)))


# --- bad input ---------------------------------------------------------------

GOOD = np.tile(TWO_BARS, (4, 1, 1))


def with_value(window: int, bar: int, column: int, value: float) -> np.ndarray:
    ohlc = GOOD.copy()
    ohlc[window, bar, column] = value
    return ohlc


@pytest.mark.parametrize(
    ("ohlc", "size", "error", "message"),
    [
        (np.zeros(4), 8, DataError, "ohlc must be 3-D (n_windows, n_bars, 4) or 2-D (n_bars, 4), got shape (4,)"),
        (
            np.zeros((1, 1, 2, 4)),
            8,
            DataError,
            "ohlc must be 3-D (n_windows, n_bars, 4) or 2-D (n_bars, 4), got shape (1, 1, 2, 4)",
        ),
        (
            np.zeros((2, 5, 5)),
            8,
            DataError,
            "ohlc must have 4 columns (open, high, low, close) on its last axis, got shape (2, 5, 5)",
        ),
        (np.zeros((0, 5, 4)), 8, DataError, "ohlc must hold at least 1 window, got shape (0, 5, 4)"),
        (np.zeros((2, 0, 4)), 8, DataError, "ohlc must hold at least 1 bar per window, got shape (2, 0, 4)"),
        (np.array([["a", "b", "c", "d"]]), 8, TypeError, "ohlc must be an array of real numbers, got dtype <U1"),
        (np.ones((2, 4), dtype=bool), 8, TypeError, "ohlc must be an array of real numbers, got dtype bool"),
        (
            with_value(3, 1, 0, np.nan),
            8,
            DataError,
            "ohlc must be finite; windows [3] contain NaN or inf",
        ),
        (
            np.where(np.arange(4)[:, None, None] % 2 == 1, np.inf, GOOD),
            8,
            DataError,
            "ohlc must be finite; windows [1, 3] contain NaN or inf",
        ),
        (
            with_value(2, 1, 1, 5.0),
            8,
            DataError,
            "ohlc must have high >= low; windows [2] break it (first: window 2, bar 1: high 5.0 < low 6.0)",
        ),
        (GOOD, 7, DataError, "image_size must be >= 8, got 7"),
        (GOOD, 128.0, TypeError, "image_size must be an int, got float 128.0"),
        (GOOD, True, TypeError, "image_size must be an int, got bool True"),
        (GOOD, "128", TypeError, "image_size must be an int, got str '128'"),
        (
            np.ones((1, 9, 4)),
            8,
            DataError,
            "image_size must be >= the number of bars so each bar gets a pixel column, got image_size 8 for 9 bars",
        ),
    ],
)
def test_bad_input_is_refused(ohlc: np.ndarray, size: object, error: type[Exception], message: str) -> None:
    encoder = CandlestickEncoder(image_size=size)  # __init__ only stores
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        encoder.transform(ohlc)


def test_many_bad_windows_are_listed_briefly() -> None:
    ohlc = np.tile(TWO_BARS, (30, 1, 1))
    ohlc[::2, 0, 3] = np.nan
    message = "ohlc must be finite; windows [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ... (15 in all)] contain NaN or inf"
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        encode(ohlc, 8)


@pytest.mark.parametrize(
    ("n_bars", "size", "error", "message"),
    [
        (0, 8, DataError, "n_bars must be >= 1, got 0"),
        (2.0, 8, TypeError, "n_bars must be an int, got float 2.0"),
        (2, 4, DataError, "image_size must be >= 8, got 4"),
        (20, 16, DataError, "got image_size 16 for 20 bars"),
    ],
)
def test_bar_columns_refuses_bad_arguments(n_bars: object, size: int, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        bar_columns(n_bars, size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (np.zeros((2, 8, 8)), DataError, "images must be 4-D (n_images, 1, height, width), got shape (2, 8, 8)"),
        (np.zeros((2, 3, 8, 8)), DataError, "images must be 4-D (n_images, 1, height, width), got shape (2, 3, 8, 8)"),
        (np.array([[[["x"]]]]), TypeError, "images must be an array of real numbers, got dtype <U1"),
    ],
)
def test_to_rgb_refuses_bad_images(images: np.ndarray, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        to_rgb(images)


# --- properties --------------------------------------------------------------

ALLOWED = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=np.float32)
price = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)


@st.composite
def ohlc_windows(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    n_bars = draw(st.integers(min_value=1, max_value=40))
    size = draw(st.integers(min_value=max(8, n_bars), max_value=96))
    n_windows = draw(st.integers(min_value=1, max_value=3))
    shape = (n_windows, n_bars)
    values = draw(
        st.lists(st.tuples(price, price, fraction, fraction), min_size=n_windows * n_bars, max_size=n_windows * n_bars)
    )
    open_, close, up, down = (np.array(column, dtype=np.float64).reshape(shape) for column in zip(*values, strict=True))
    high = np.maximum(open_, close) * (1 + up)
    low = np.minimum(open_, close) * (1 - 0.999 * down)
    return np.stack([open_, high, low, close], axis=-1), size


@settings(deadline=None, max_examples=150)
@given(ohlc_windows())
def test_any_valid_window_gives_allowed_values_and_a_body_per_bar(case: tuple[np.ndarray, int]) -> None:
    ohlc, size = case
    images = encode(ohlc, size)
    assert images.shape == (len(ohlc), 1, size, size)
    assert np.isin(images, ALLOWED).all()
    assert not np.signbit(images[images == 0]).any()  # no negative zeros
    slots = bar_columns(ohlc.shape[1], size)
    rising = ohlc[:, :, 3] >= ohlc[:, :, 0]
    for window in range(len(ohlc)):
        for bar, (x0, x1) in enumerate(slots):
            sign = 1.0 if rising[window, bar] else -1.0
            slot = images[window, 0, :, x0:x1]
            assert (slot == sign).any(), f"window {window} bar {bar} has no body pixel"
            assert not (slot == -sign).any()
            assert not (slot == -sign / 2).any()
        if ohlc[window, :, 1].max() > ohlc[window, :, 2].min():
            # the highest high reaches row 0 and the lowest low the last row
            assert (images[window, 0, 0] != 0).any()
            assert (images[window, 0, -1] != 0).any()
