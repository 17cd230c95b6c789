"""Candlestick images as a model sees them: a vectorised NumPy rasteriser.

Model-input contract
--------------------
A candlestick image is one signed channel, ``(N, 1, S, S) float32`` with
values in ``{-1, -0.5, 0, 0.5, 1}``:

* ``+1``   body of a rising bar (``close >= open``),
* ``-1``   body of a falling bar,
* ``+0.5`` wick of a rising bar, ``-0.5`` wick of a falling bar,
* ``0``    background.

Colour is a display palette applied on top (:func:`to_rgb`); it is never part
of the model input. Candlestick and GADF images therefore share the same
``(N, 1, S, S)`` float32 ``[-1, 1]`` contract.

Geometry (one source of truth, also used to map heat maps back to bars)
------------------------------------------------------------------------
* Bar ``i`` of ``T`` owns the pixel columns ``[x0_i, x1_i)`` with
  ``x0_i = round(i * S / T)``; the slots tile the width exactly
  (:func:`bar_columns`). "round" is round-half-up, computed exactly in
  integers, everywhere in this module.
* Every body is ``w = max(1, round(S / T * (1 - CANDLE_GAP_FRACTION)))``
  pixels wide and every wick ``max(1, round(S / PAPER_CANDLESTICK_SIZE))``
  pixels (at most ``w``); both are centred on the bar's true centre
  ``(i + 0.5) * S / T`` -- the x position plotly gives bar ``i`` on an axis
  ranging over ``[-0.5, T - 0.5]`` -- and lie inside the bar's slot.
* The price axis of each window spans ``[min low, max high]``; row 0 (the top)
  is the window's highest price: ``y(p) = (hi - p) / (hi - lo) * S``. Body rows
  are ``[floor(y(max(o, c))), ceil(y(min(o, c))))``, wick rows
  ``[floor(y(high)), ceil(y(low)))``, each at least one pixel and clipped to
  ``[0, S]``. A constant window (``hi == lo``) draws every bar on the middle
  row ``S // 2``.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np

from data.errors import DataError
from data.settings import (
    BACKGROUND_RGB,
    CANDLE_GAP_FRACTION,
    CANDLESTICK_SIZE,
    DOWN_RGB,
    PAPER_CANDLESTICK_SIZE,
    UP_RGB,
)

__all__ = [
    "MIN_IMAGE_SIZE",
    "CandleGeometry",
    "CandlestickEncoder",
    "bar_columns",
    "candle_geometry",
    "to_rgb",
    "validate_image_size",
    "validate_ohlc",
]

#: Smallest raster side accepted.
MIN_IMAGE_SIZE = 8
#: Magnitude of a wick pixel in the signed channel (a body pixel is 1).
WICK_VALUE = 0.5
#: Pixels (windows x rows x columns) processed per chunk: small enough to stay
#: in cache (measured fastest) and to cap temporary memory whatever the batch.
_CHUNK_PIXELS = 1 << 19
#: Window indices quoted in an error message before it says "...".
_MAX_QUOTED = 10
#: ``1 - CANDLE_GAP_FRACTION`` as an exact fraction (0.7 -> 7/10), so that the
#: body width is rounded exactly rather than at the mercy of binary floats.
_FILL = Fraction(1) - Fraction(CANDLE_GAP_FRACTION).limit_denominator(1000)


# --- validation --------------------------------------------------------------


def _quote_indices(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_QUOTED])
    more = f", ... ({len(indices)} in all)" if len(indices) > _MAX_QUOTED else ""
    return f"[{shown}{more}]"


def validate_image_size(image_size: Any, name: str = "image_size") -> int:
    """Return ``image_size`` as an ``int`` if it is an integer >= 8.

    Raises:
        TypeError: not an integer (``bool`` and floats such as ``128.0`` are
            refused).
        DataError: smaller than :data:`MIN_IMAGE_SIZE`.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(image_size).__name__} {image_size!r}")
    if image_size < MIN_IMAGE_SIZE:
        raise DataError(f"{name} must be >= {MIN_IMAGE_SIZE}, got {int(image_size)}")
    return int(image_size)


def validate_ohlc(ohlc: Any, name: str = "ohlc") -> np.ndarray:
    """Check OHLC windows and return them as ``(N, T, 4) float64``.

    Args:
        ohlc: ``(N, T, 4)`` or ``(T, 4)`` (one window) real numbers, columns
            open, high, low, close.

    Raises:
        TypeError: not a real numeric array.
        DataError: wrong shape, no window or bar, NaN/inf, or ``high < low``;
            the message names the windows at fault.
    """
    array = np.asarray(ohlc)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim not in (2, 3):
        raise DataError(f"{name} must be 3-D (n_windows, n_bars, 4) or 2-D (n_bars, 4), got shape {array.shape}")
    if array.shape[-1] != 4:
        raise DataError(
            f"{name} must have 4 columns (open, high, low, close) on its last axis, got shape {array.shape}"
        )
    windows = array[np.newaxis] if array.ndim == 2 else array
    if windows.shape[0] < 1:
        raise DataError(f"{name} must hold at least 1 window, got shape {array.shape}")
    if windows.shape[1] < 1:
        raise DataError(f"{name} must hold at least 1 bar per window, got shape {array.shape}")
    windows = windows.astype(np.float64, copy=False)
    bad = ~np.isfinite(windows).all(axis=(1, 2))
    if bad.any():
        raise DataError(f"{name} must be finite; windows {_quote_indices(np.flatnonzero(bad))} contain NaN or inf")
    inverted = windows[:, :, 1] < windows[:, :, 2]
    if inverted.any():
        window, bar = np.argwhere(inverted)[0]
        high, low = float(windows[window, bar, 1]), float(windows[window, bar, 2])
        raise DataError(
            f"{name} must have high >= low; windows {_quote_indices(np.flatnonzero(inverted.any(axis=1)))} "
            f"break it (first: window {window}, bar {bar}: high {high!r} < low {low!r})"
        )
    return windows


def _check_bars_fit(n_bars: int, image_size: int) -> None:
    if n_bars > image_size:
        raise DataError(
            f"image_size must be >= the number of bars so each bar gets a pixel column, "
            f"got image_size {image_size} for {n_bars} bars"
        )


# --- geometry ----------------------------------------------------------------


def _round_half_up(numerator: np.ndarray | int, denominator: int) -> np.ndarray:
    """``floor(numerator / denominator + 1/2)`` in exact integer arithmetic."""
    return (2 * np.asarray(numerator, dtype=np.int64) + denominator) // (2 * denominator)


def bar_columns(n_bars: int, image_size: int) -> np.ndarray:
    """Pixel-column slot of each bar.

    Args:
        n_bars: ``T >= 1`` bars per window.
        image_size: raster side ``S >= max(8, T)``.

    Returns:
        ``(T, 2) int64``: ``[x0, x1)`` per bar with ``x0_i = round(i * S / T)``,
        ``x1_i = x0_{i+1}``; ``x0_0 = 0``, ``x1_{T-1} = S`` (exact tiling).
    """
    if isinstance(n_bars, bool) or not isinstance(n_bars, (int, np.integer)):
        raise TypeError(f"n_bars must be an int, got {type(n_bars).__name__} {n_bars!r}")
    if n_bars < 1:
        raise DataError(f"n_bars must be >= 1, got {int(n_bars)}")
    size = validate_image_size(image_size)
    _check_bars_fit(int(n_bars), size)
    edges = _round_half_up(np.arange(n_bars + 1, dtype=np.int64) * size, int(n_bars))
    return np.stack([edges[:-1], edges[1:]], axis=1)


@dataclasses.dataclass(frozen=True)
class CandleGeometry:
    """Where every candle of every window is drawn (half-open pixel ranges).

    Attributes:
        image_size: raster side ``S``.
        slots: ``(T, 2) int64`` bar slots ``[x0, x1)`` (:func:`bar_columns`).
        body_x0, body_x1: ``(T,) int64`` body columns ``[body_x0, body_x1)``.
        wick_x0, wick_x1: ``(T,) int64`` wick columns, inside the body columns.
        body_top, body_bottom: ``(N, T) int64`` body rows ``[top, bottom)``.
        wick_top, wick_bottom: ``(N, T) int64`` wick rows ``[top, bottom)``;
            they always contain the body rows.
        rising: ``(N, T) bool``, ``close >= open``.
    """

    image_size: int
    slots: np.ndarray
    body_x0: np.ndarray
    body_x1: np.ndarray
    wick_x0: np.ndarray
    wick_x1: np.ndarray
    body_top: np.ndarray
    body_bottom: np.ndarray
    wick_top: np.ndarray
    wick_bottom: np.ndarray
    rising: np.ndarray


def _centred_columns(n_bars: int, size: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``[round(c_i - width/2), +width)`` around ``c_i = (i + 0.5) S / T``."""
    i = np.arange(n_bars, dtype=np.int64)
    # c_i - width / 2 = ((2i + 1) S - width T) / (2T)
    x0 = _round_half_up((2 * i + 1) * size - width * n_bars, 2 * n_bars)
    return x0, x0 + width


def _rows(y_top: np.ndarray, y_bottom: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``[floor(y_top), ceil(y_bottom))`` clipped to the image, at least 1 px."""
    top = np.clip(np.floor(y_top), 0, size - 1).astype(np.int64)
    bottom = np.clip(np.ceil(y_bottom), 0, size).astype(np.int64)
    return top, np.maximum(bottom, top + 1)


def candle_geometry(ohlc: Any, image_size: int = CANDLESTICK_SIZE) -> CandleGeometry:
    """Compute the pixel geometry of candlestick windows.

    Args:
        ohlc: ``(N, T, 4)`` or ``(T, 4)`` floats (open, high, low, close).
        image_size: raster side ``S``, an int >= max(8, T).

    Returns:
        :class:`CandleGeometry` with ``(N, T)`` row arrays (``N = 1`` for a
        2-D input).
    """
    windows = validate_ohlc(ohlc)
    size = validate_image_size(image_size)
    n_bars = windows.shape[1]
    slots = bar_columns(n_bars, size)

    body_width = max(1, int(_round_half_up(size * _FILL.numerator, n_bars * _FILL.denominator)))
    wick_width = min(body_width, max(1, int(_round_half_up(size, PAPER_CANDLESTICK_SIZE))))
    body_x0, body_x1 = _centred_columns(n_bars, size, body_width)
    wick_x0, wick_x1 = _centred_columns(n_bars, size, wick_width)

    # Prices are used as given, so that exact inputs give exact rows. Only a
    # window whose hi - lo overflows (|prices| near 1e308) is halved first, a
    # positive scale the image ignores.
    with np.errstate(over="ignore"):  # the overflow is what this line detects
        span = windows[:, :, 1].max(axis=1) - windows[:, :, 2].min(axis=1)
    scaled = windows * np.where(np.isfinite(span), 1.0, 0.5)[:, np.newaxis, np.newaxis]
    open_, high, low, close = (scaled[:, :, k] for k in range(4))
    hi = high.max(axis=1, keepdims=True)
    lo = low.min(axis=1, keepdims=True)
    flat = hi <= lo
    span = np.where(flat, 1.0, hi - lo)

    def y(price: np.ndarray) -> np.ndarray:
        # an open or close far outside [low, high] may overflow to +-inf: _rows clips it to the image
        with np.errstate(over="ignore"):
            return (hi - price) / span * size

    body_top, body_bottom = _rows(y(np.maximum(open_, close)), y(np.minimum(open_, close)), size)
    wick_top, wick_bottom = _rows(y(high), y(low), size)
    middle = size // 2
    flat_rows = np.broadcast_to(flat, body_top.shape)
    for rows, value in ((body_top, middle), (body_bottom, middle + 1), (wick_top, middle), (wick_bottom, middle + 1)):
        rows[flat_rows] = value
    # The wick always spans the body, even where rounding (or an open/close
    # a hair outside [low, high]) would leave the body poking out of it.
    wick_top = np.minimum(wick_top, body_top)
    wick_bottom = np.maximum(wick_bottom, body_bottom)

    return CandleGeometry(
        image_size=size,
        slots=slots,
        body_x0=body_x0,
        body_x1=body_x1,
        wick_x0=wick_x0,
        wick_x1=wick_x1,
        body_top=body_top,
        body_bottom=body_bottom,
        wick_top=wick_top,
        wick_bottom=wick_bottom,
        # from the prices as given: halving can round a subnormal open and close to the same value
        rising=windows[:, :, 3] >= windows[:, :, 0],
    )


# --- rasterising -------------------------------------------------------------


def _rasterise(geometry: CandleGeometry) -> np.ndarray:
    """Paint the signed ``(N, 1, S, S) float32`` images described by ``geometry``.

    Per window and pixel column the column holds an "outer" run of rows (the
    wick's rows in wick columns, the body's rows in the other body columns)
    and a body run inside it. A pixel's value is ``0.5 * sign * (in_outer +
    in_body)``: 1 in the body, 0.5 on the wick, 0 elsewhere. Row ``r`` is in a
    run ``[top, top + height)`` when ``(r - top)`` read as unsigned is
    ``< height``: one subtraction and one comparison per pixel. Everything is
    done on whole chunks of windows in small integer types.
    """
    size = geometry.image_size
    n_windows = geometry.body_top.shape[0]
    signed, unsigned = (np.int16, np.uint16) if size < np.iinfo(np.int16).max else (np.int32, np.uint32)
    columns = np.arange(size)
    # Which bar owns each pixel column, and is the column in its body / wick?
    column_bar = np.repeat(np.arange(geometry.slots.shape[0]), np.diff(geometry.slots, axis=1)[:, 0])
    in_body_column = (columns >= geometry.body_x0[column_bar]) & (columns < geometry.body_x1[column_bar])
    in_wick_column = (columns >= geometry.wick_x0[column_bar]) & (columns < geometry.wick_x1[column_bar])

    body_top = geometry.body_top[:, column_bar]
    body_height = np.where(in_body_column, geometry.body_bottom[:, column_bar] - body_top, 0)
    wick_top = geometry.wick_top[:, column_bar]
    outer_height = np.where(in_wick_column, geometry.wick_bottom[:, column_bar] - wick_top, body_height)
    # C order matters: the broadcast results below follow their inputs' layout,
    # and a column-major chunk is several times slower to write out.
    outer_top = np.where(in_wick_column, wick_top, body_top).astype(signed, order="C")
    outer_height = outer_height.astype(unsigned, order="C")
    body_top = body_top.astype(signed, order="C")
    body_height = body_height.astype(unsigned, order="C")
    sign = np.where(geometry.rising, 1, -1).astype(np.int8)[:, column_bar].astype(np.int8, order="C")

    rows = np.arange(size, dtype=signed)[np.newaxis, :, np.newaxis]
    half = np.float32(WICK_VALUE)
    images = np.empty((n_windows, 1, size, size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, n_windows, chunk):
        part = slice(start, start + chunk)
        in_outer = (rows - outer_top[part, np.newaxis, :]).view(unsigned) < outer_height[part, np.newaxis, :]
        in_body = (rows - body_top[part, np.newaxis, :]).view(unsigned) < body_height[part, np.newaxis, :]
        level = in_outer.view(np.int8)  # 0, 1 (wick) or 2 (body) after the next line
        np.add(level, in_body.view(np.int8), out=level)
        np.multiply(level, sign[part, np.newaxis, :], out=level)
        np.multiply(level, half, out=images[part, 0])
    return images


class CandlestickEncoder:
    """Turn OHLC windows into signed candlestick images (scikit-learn style).

    Parameters:
        image_size: raster side ``S`` in pixels, an int >= 8 and >= the number
            of bars per window (default :data:`~data.settings.CANDLESTICK_SIZE`).

    ``__init__`` only stores the parameter; :meth:`transform` checks it.
    """

    def __init__(self, image_size: int = CANDLESTICK_SIZE) -> None:
        self.image_size = image_size

    def transform(self, ohlc: Any) -> np.ndarray:
        """Rasterise candlestick windows.

        Args:
            ohlc: ``(N, T, 4)`` or ``(T, 4)`` real numbers (open, high, low,
                close); finite, ``high >= low``.

        Returns:
            ``(N, 1, S, S) float32`` in ``{-1, -0.5, 0, 0.5, 1}`` (``N = 1`` for
            a 2-D input); see the module docstring for the meaning of values.
        """
        size = validate_image_size(self.image_size)
        return _rasterise(candle_geometry(ohlc, size))

    def __repr__(self) -> str:
        return f"CandlestickEncoder(image_size={self.image_size!r})"


def to_rgb(images: Any) -> np.ndarray:
    """Colour signed candlestick images with the display palette.

    Args:
        images: ``(N, 1, S, S)`` real numbers; ``> 0`` rising (body or wick),
            ``< 0`` falling, ``0`` background.

    Returns:
        ``(N, S, S, 3) uint8``: background ``BACKGROUND_RGB``, rising
        ``UP_RGB``, falling ``DOWN_RGB`` (wicks in their body's colour, as
        plotly draws them).
    """
    array = np.asarray(images)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"images must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim != 4 or array.shape[1] != 1:
        raise DataError(f"images must be 4-D (n_images, 1, height, width), got shape {array.shape}")
    palette = np.array([BACKGROUND_RGB, UP_RGB, DOWN_RGB], dtype=np.uint8)
    channel = array[:, 0]
    index = (channel > 0).astype(np.intp) + 2 * (channel < 0)
    return palette[index]
