"""Tests of the GADF encoder (data/images/gadf.py).

The first transform imports pyts.image, which compiles its numba kernels
(about 20 s on the 2-core machine); every later call is milliseconds.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from data.errors import DataError
from data.images.gadf import GADFEncoder, flat_windows, gadf_pixel_spans
from data.settings import FIRST_HOUR_MINUTES

SQRT3_2 = np.sqrt(3) / 2


def gadf(closes: np.ndarray | list[list[float]], image_size: int | None = None) -> np.ndarray:
    return GADFEncoder(image_size=image_size).transform(closes)


def closed_form(closes: np.ndarray) -> np.ndarray:
    """GADF[i, j] = sqrt(1 - x_i^2) x_j - x_i sqrt(1 - x_j^2) after min-max scaling to [-1, 1]."""
    low = closes.min(axis=1, keepdims=True)
    high = closes.max(axis=1, keepdims=True)
    x = 2 * (closes - low) / (high - low) - 1
    s = np.sqrt(np.clip(1 - x**2, 0, 1))
    return s[:, :, None] * x[:, None, :] - x[:, :, None] * s[:, None, :]


def minute_closes(rng: np.random.Generator, n_windows: int, n_minutes: int = FIRST_HOUR_MINUTES) -> np.ndarray:
    return 18000 * np.exp(np.cumsum(rng.normal(0, 5e-4, (n_windows, n_minutes)), axis=1))


# --- hand-worked fields ------------------------------------------------------


def test_three_points_by_hand() -> None:
    # [1, 2, 3] -> x = [-1, 0, 1] -> phi = [pi, pi/2, 0]; GADF[i, j] = sin(phi_i - phi_j).
    expected = np.array(
        [
            [0.0, 1.0, 0.0],  # sin(0), sin(pi/2), sin(pi)
            [-1.0, 0.0, 1.0],  # sin(-pi/2), sin(0), sin(pi/2)
            [0.0, -1.0, 0.0],  # sin(-pi), sin(-pi/2), sin(0)
        ]
    )
    image = gadf([[1.0, 2.0, 3.0]])
    assert image.shape == (1, 1, 3, 3)
    assert image.dtype == np.float32
    np.testing.assert_allclose(image[0, 0], expected, atol=1e-7)


def test_four_points_by_hand() -> None:
    # [0, 1, 3, 4] -> x = [-1, -1/2, 1/2, 1] -> phi = [pi, 2pi/3, pi/3, 0]: every
    # neighbouring difference is pi/3 or 2pi/3 (sine sqrt(3)/2); phi_0 - phi_3 = pi.
    s = SQRT3_2
    expected = np.array(
        [
            [0.0, s, s, 0.0],
            [-s, 0.0, s, s],
            [-s, -s, 0.0, s],
            [0.0, -s, -s, 0.0],
        ]
    )
    np.testing.assert_allclose(gadf([[0, 1, 3, 4]])[0, 0], expected, atol=1e-7)


def test_matches_the_closed_form_on_random_data(rng: np.random.Generator) -> None:
    closes = minute_closes(rng, 200)
    np.testing.assert_allclose(gadf(closes)[:, 0], closed_form(closes), atol=1e-6)


def test_antisymmetric_with_zero_diagonal(rng: np.random.Generator) -> None:
    images = gadf(minute_closes(rng, 20))[:, 0]
    np.testing.assert_array_equal(images, -np.transpose(images, (0, 2, 1)))
    np.testing.assert_array_equal(np.diagonal(images, axis1=1, axis2=2), 0.0)


@pytest.mark.parametrize(("scale", "shift"), [(3.0, 0.0), (0.01, -50.0), (1000.0, 7.0), (1e-12, 1e-12), (1e300, 0.0)])
def test_invariant_to_positive_affine_price_changes(rng: np.random.Generator, scale: float, shift: float) -> None:
    closes = minute_closes(rng, 10)
    np.testing.assert_allclose(gadf(scale * closes + shift), gadf(closes), atol=1e-5)


def test_same_as_pyts_on_ordinary_prices(rng: np.random.Generator) -> None:
    from pyts.image import GramianAngularField

    closes = minute_closes(rng, 50)
    raw = GramianAngularField(method="difference", sample_range=(-1, 1)).transform(closes)
    np.testing.assert_allclose(gadf(closes)[:, 0], raw, atol=1e-7)


# --- flat windows ------------------------------------------------------------


def test_flat_and_near_flat_windows_give_zeros_and_are_flagged(rng: np.random.Generator) -> None:
    from pyts.image import GramianAngularField

    closes = minute_closes(rng, 4)
    closes[1] = 18000.0  # constant
    closes[2] = 18000.0 + rng.normal(0, 1e-9, FIRST_HOUR_MINUTES)  # rounding noise around a level
    closes[3] = 0.0  # all zero
    np.testing.assert_array_equal(flat_windows(closes), [False, True, True, True])
    images = gadf(closes)
    np.testing.assert_array_equal(images[1:], 0.0)
    assert np.abs(images[0]).max() > 0.5
    # what the rule protects against: pyts alone turns the noise into a full-contrast image
    raw = GramianAngularField(method="difference", sample_range=(-1, 1)).transform(closes)
    assert np.abs(raw[2]).max() > 0.9


@pytest.mark.parametrize(
    ("spread", "tolerance", "flat"),
    [
        (5e-5, 1e-6, True),  # relative range 5e-7
        (2e-4, 1e-6, False),  # relative range 2e-6
        (2e-4, 1e-5, True),
        (0.0, 0.0, True),
        (1e-9, 0.0, False),
    ],
)
def test_flat_rule_is_relative_range(spread: float, tolerance: float, flat: bool) -> None:
    closes = np.array([[100.0, 100.0 + spread, 100.0 + spread / 2]])
    assert flat_windows(closes, tolerance).tolist() == [flat]
    image = GADFEncoder(flat_tolerance=tolerance).transform(closes)
    assert (np.abs(image).max() == 0) == flat


def test_tiny_prices_are_not_flat() -> None:
    # 1e-20-sized prices: scikit-learn's scaler (inside pyts) would call the
    # range zero; the encoder rescales first, so the field is the usual one.
    np.testing.assert_allclose(gadf([[0, 1e-20, 3e-20, 4e-20]])[0, 0], gadf([[0, 1, 3, 4]])[0, 0], atol=1e-7)


# --- sizes and pixel spans ---------------------------------------------------


def test_upsampling_maps_each_pixel_to_one_minute(rng: np.random.Generator) -> None:
    closes = minute_closes(rng, 3)
    base = gadf(closes)
    big = gadf(closes, image_size=224)
    assert big.shape == (3, 1, 224, 224)
    spans = gadf_pixel_spans(224, FIRST_HOUR_MINUTES)
    np.testing.assert_array_equal(spans[:, 1] - spans[:, 0], 1)
    minute = spans[:, 0]
    assert (np.diff(minute) >= 0).all()
    # 224 / 60 = 3.73: every minute gets 3 or 4 pixels, and all 60 appear
    counts = np.bincount(minute, minlength=FIRST_HOUR_MINUTES)
    assert counts.sum() == 224
    assert set(counts.tolist()) == {3, 4}
    # pixel p shows minute floor((p + 1/2) * 60 / 224)
    np.testing.assert_array_equal(minute[:8], [0, 0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(big, base[:, :, minute[:, None], minute[None, :]])


def test_size_equal_to_length_is_the_default(rng: np.random.Generator) -> None:
    closes = minute_closes(rng, 2)
    np.testing.assert_array_equal(gadf(closes, FIRST_HOUR_MINUTES), gadf(closes))
    np.testing.assert_array_equal(gadf_pixel_spans(60, 60), np.stack([np.arange(60), np.arange(1, 61)], axis=1))


@pytest.mark.parametrize(
    ("size", "n_timestamps", "expected"),
    [
        (30, 60, np.stack([np.arange(0, 60, 2), np.arange(2, 61, 2)], axis=1)),
        (20, 60, np.stack([np.arange(0, 60, 3), np.arange(3, 61, 3)], axis=1)),
        (4, 10, np.array([[0, 2], [2, 5], [5, 7], [7, 10]])),
        (7, 60, np.array([[0, 8], [8, 17], [17, 25], [25, 34], [34, 42], [42, 51], [51, 60]])),
    ],
)
def test_paa_spans(size: int, n_timestamps: int, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(gadf_pixel_spans(size, n_timestamps), expected)


def test_spans_are_pyts_segments() -> None:
    from pyts.utils import segmentation

    for n_timestamps in (10, 37, 60, 61, 390):
        for size in range(2, n_timestamps):
            window, remainder = divmod(n_timestamps, size)
            start, end, _ = segmentation(n_timestamps, window + (remainder > 0), False, size)
            np.testing.assert_array_equal(gadf_pixel_spans(size, n_timestamps), np.stack([start, end], axis=1))


@pytest.mark.parametrize("size", [20, 30, 45, 59])
def test_downsampled_field_is_the_field_of_span_means(rng: np.random.Generator, size: int) -> None:
    closes = minute_closes(rng, 5)
    spans = gadf_pixel_spans(size, FIRST_HOUR_MINUTES)
    means = np.stack([closes[:, a:b].mean(axis=1) for a, b in spans], axis=1)
    np.testing.assert_allclose(gadf(closes, size), gadf(means), atol=1e-6)


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("closes", "error", "message"),
    [
        (
            np.arange(3.0),
            DataError,
            "closes must be 2-D (n_windows, n_timestamps), got shape (3,); for one window pass closes[np.newaxis]",
        ),
        (np.zeros((2, 3, 4)), DataError, "closes must be 2-D (n_windows, n_timestamps), got shape (2, 3, 4)"),
        (np.zeros((0, 5)), DataError, "closes must hold at least 1 window, got shape (0, 5)"),
        (np.zeros((3, 1)), DataError, "closes must hold at least 2 timestamps per window, got shape (3, 1)"),
        (np.array([["1", "2"]]), TypeError, "closes must be an array of real numbers, got dtype <U1"),
        (np.array([[1 + 1j, 2]]), TypeError, "closes must be an array of real numbers, got dtype complex128"),
        (
            np.where(np.isin(np.arange(9), [3, 7])[:, None], np.nan, np.ones((9, 5))),
            DataError,
            "closes must be finite; windows [3, 7] contain NaN or inf",
        ),
        (np.array([[1.0, np.inf]]), DataError, "closes must be finite; windows [0] contain NaN or inf"),
    ],
)
def test_bad_closes_are_refused(closes: np.ndarray, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        GADFEncoder().transform(closes)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"image_size": 1}, DataError, "image_size must be >= 2, got 1"),
        ({"image_size": 64.0}, TypeError, "image_size must be an int or None, got float 64.0"),
        ({"image_size": "64"}, TypeError, "image_size must be an int or None, got str '64'"),
        ({"flat_tolerance": -1e-6}, DataError, "flat_tolerance must be finite and >= 0, got -1e-06"),
        ({"flat_tolerance": float("nan")}, DataError, "flat_tolerance must be finite and >= 0, got nan"),
        ({"flat_tolerance": None}, TypeError, "flat_tolerance must be a real number, got NoneType None"),
    ],
)
def test_bad_parameters_are_refused(params: dict[str, object], error: type[Exception], message: str) -> None:
    encoder = GADFEncoder(**params)  # type: ignore[arg-type]  # __init__ only stores
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        encoder.transform(np.ones((1, 5)))


@pytest.mark.parametrize(
    ("size", "n_timestamps", "error", "message"),
    [
        (1, 60, DataError, "image_size must be >= 2, got 1"),
        (30, 1, DataError, "n_timestamps must be >= 2, got 1"),
        (None, 60, TypeError, "image_size must be an int, got NoneType None"),
    ],
)
def test_bad_span_arguments_are_refused(size: object, n_timestamps: int, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        gadf_pixel_spans(size, n_timestamps)  # type: ignore[arg-type]


def test_flat_windows_validates_like_the_encoder() -> None:
    with pytest.raises(DataError, match=re.escape("closes must be finite; windows [1] contain NaN or inf")):
        flat_windows(np.array([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(DataError, match=re.escape("tolerance must be finite and >= 0, got -1.0")):
        flat_windows(np.ones((1, 3)), -1.0)


# --- properties --------------------------------------------------------------


@st.composite
def any_closes(draw: st.DrawFn) -> np.ndarray:
    n_windows = draw(st.integers(min_value=1, max_value=4))
    n_timestamps = draw(st.integers(min_value=2, max_value=40))
    elements = st.floats(allow_nan=False, allow_infinity=False, width=64)
    return draw(arrays(np.float64, (n_windows, n_timestamps), elements=elements))


@settings(deadline=None, max_examples=200)
@given(any_closes(), st.one_of(st.none(), st.integers(min_value=2, max_value=80)))
def test_any_finite_input_gives_finite_values_in_range(closes: np.ndarray, image_size: int | None) -> None:
    images = GADFEncoder(image_size=image_size).transform(closes)
    size = closes.shape[1] if image_size is None else image_size
    assert images.shape == (len(closes), 1, size, size)
    assert images.dtype == np.float32
    assert np.isfinite(images).all()
    assert (np.abs(images) <= 1).all()
    np.testing.assert_array_equal(images, -np.transpose(images, (0, 1, 3, 2)))
