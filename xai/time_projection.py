"""Project attribution heat maps back onto the time axis of their window.

A heat map says which *pixels* mattered; a user asks which *bars* or
*minutes* mattered. This module answers with the image geometry of
:mod:`data.images` -- the same functions that drew the images -- so a map and
its time profile can never disagree about where a bar or a minute is.

Maps arrive as ``(N, 1, S, S)`` or ``(N, S, S)`` real arrays (signed, or
absolute values if the caller took them); everything is summed in float64.
Signed maps can cancel: pass ``np.abs(maps)`` when you want attribution
*mass* rather than net evidence.

Candlestick rule (:func:`candlestick_time_importance`)
------------------------------------------------------
Bar ``t`` owns the pixel columns ``bar_columns(T, S)[t] = [x0, x1)`` (the
slots tile the width, so every pixel belongs to exactly one bar):

* ``per_bar[t]`` -- the attribution summed over all rows of those columns
  (``reduce="sum"``), or that sum divided by the slot's area ``(x1 - x0) * S``
  (``reduce="mean"``, attribution per pixel: slots differ in width by one
  pixel when ``S / T`` is not whole, and a wider slot would otherwise collect
  more attribution for no reason).
* With the OHLC windows, each slot is split into three disjoint pixel sets
  from :func:`~data.images.candlestick.candle_geometry`:
  ``body`` = body rows x body columns; ``wick`` = wick rows x wick columns
  minus the body (the 1-px line above and below it); ``background`` = every
  other pixel of the slot (the gaps either side of the candle and the empty
  space above and below it -- attribution there is about where the candle is
  *not*, e.g. the price level, and is kept rather than dropped). These are
  exactly the pixels the rasteriser paints ``+-1``, ``+-0.5`` and ``0``.
  ``per_bar`` is then computed as ``body + wick + background``, so that
  identity holds exactly; it equals the plain slot sum up to float rounding.

GADF rule (:func:`gadf_time_importance`)
----------------------------------------
GADF pixel ``(i, j)`` encodes ``sin(phi_i - phi_j)``: a *pair* of
timestamps. Its attribution is shared equally between the two: half goes to
the timestamps its row stands for, half to those its column stands for
(:func:`~data.images.gadf.gadf_pixel_spans`). A pixel row or column that
stands for a PAA segment of ``k`` timestamps (``S < T``) shares its half
equally among those ``k``; when the image is upsampled (``S > T``) several
pixels stand for one timestamp and their parts add up. Hence::

    per_time[t] = (sum over rows r standing for t of row_sum[r] / k_r
                   + sum over columns c standing for t of column_sum[c] / k_c) / 2

and ``per_time`` sums to the map's total. Pixels whose row and column stand
for the same timestamps (the diagonal, or the diagonal blocks of an
upsampled image) encode a timestamp with itself; the GADF is identically zero
there, so attribution on them says something about the model, not the input.
They are reported separately as ``diagonal``, the rest as ``off_diagonal``,
with ``per_time = diagonal + off_diagonal`` exactly. A signed map that is
antisymmetric (as the GADF itself is) has equal and opposite row and column
sums, so its signed ``per_time`` is zero: use absolute maps to see mass.

Display and scores
------------------
:func:`normalise` scales time profiles for display; :func:`interval_share`
(share of absolute mass in an interval) and :func:`pointing_game` (does the
peak fall in it) score a profile against a known interval, e.g. a planted
pattern.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each
message names the parameter, the rule and the value received. Pure NumPy, no
Streamlit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from data.checks import check_choice, check_int
from data.images.candlestick import MIN_IMAGE_SIZE, bar_columns, candle_geometry, validate_ohlc
from data.images.gadf import gadf_pixel_spans

__all__ = [
    "NORMALISE_MODES",
    "REDUCE_MODES",
    "CandlestickImportance",
    "GadfImportance",
    "candlestick_time_importance",
    "gadf_time_importance",
    "interval_share",
    "normalise",
    "pointing_game",
]

#: Accepted ``reduce`` values of :func:`candlestick_time_importance`.
REDUCE_MODES = ("sum", "mean")
#: Accepted ``mode`` values of :func:`normalise`.
NORMALISE_MODES = ("signed", "absolute", "positive", "negative")
#: Pixels (maps x rows x columns) processed per chunk, capping temporaries
#: (a few float64 copies of a chunk) whatever the batch size.
_CHUNK_PIXELS = 1 << 20
#: Map indices quoted in an error message before it says "...".
_MAX_QUOTED = 10


# --- results -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class CandlestickImportance:
    """Attribution per bar of candlestick windows (read-only arrays).

    Attributes:
        per_bar: ``(N, T) float64`` attribution in each bar's pixel-column slot.
        body: ``(N, T) float64`` on the bar's body pixels, or ``None`` when no
            OHLC was given.
        wick: ``(N, T) float64`` on the wick pixels outside the body, or
            ``None``.
        background: ``(N, T) float64`` on the slot's other pixels, or ``None``.
            When present, ``per_bar == body + wick + background`` exactly.
        slots: ``(T, 2) int64`` pixel columns ``[x0, x1)`` of each bar.
        reduce: ``"sum"`` or ``"mean"`` (sums divided by the slot's area).

    ``eq=False``: instances compare by identity (arrays have no single truth
    value).
    """

    per_bar: np.ndarray
    body: np.ndarray | None
    wick: np.ndarray | None
    background: np.ndarray | None
    slots: np.ndarray
    reduce: str


@dataclasses.dataclass(frozen=True, eq=False)
class GadfImportance:
    """Attribution per timestamp of GADF windows (read-only arrays).

    Attributes:
        per_time: ``(N, T) float64``, ``diagonal + off_diagonal`` (exactly);
            sums to each map's total.
        diagonal: ``(N, T) float64`` from pixels whose row and column stand for
            the same timestamps (the GADF is zero there).
        off_diagonal: ``(N, T) float64`` from all other pixels.
        diagonal_share: ``(N,) float64`` in ``[0, 1]``: the share of each map's
            absolute attribution on those diagonal pixels (0 for an all-zero
            map).
        spans: ``(S, 2) int64`` timestamps ``[start, end)`` each pixel row and
            column stands for (:func:`~data.images.gadf.gadf_pixel_spans`).

    ``eq=False``: instances compare by identity.
    """

    per_time: np.ndarray
    diagonal: np.ndarray
    off_diagonal: np.ndarray
    diagonal_share: np.ndarray
    spans: np.ndarray


# --- validation --------------------------------------------------------------


def _quote_indices(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_QUOTED])
    more = f", ... ({len(indices)} in all)" if len(indices) > _MAX_QUOTED else ""
    return f"[{shown}{more}]"


def _real_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    return array


def _validate_maps(maps: Any, min_size: int) -> np.ndarray:
    """Return ``maps`` as ``(N, S, S)`` (see :func:`_maps_and_column_sums`)."""
    return _maps_and_column_sums(maps, min_size)[0]


def _maps_and_column_sums(maps: Any, min_size: int, *, absolute: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``maps`` as ``(N, S, S)``, and their ``(N, S)`` float64 pixel-column sums (of ``|maps|`` with
    ``absolute``), refused unless finite.

    Float32 maps (the engine's) keep their dtype — every caller sums them in float64 — and are
    checked by the column sums themselves, summed by torch in float64 (one pass, a third of
    NumPy's time): each |value| < 3.5e38, so a sum is finite unless a value is not. Any other
    dtype becomes float64, checked in full.
    """
    array = _real_array(maps, "maps")
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[1] == 1)):
        raise ValueError(f"maps must have shape (N, 1, S, S) or (N, S, S), got shape {array.shape}")
    if array.ndim == 4:
        array = array[:, 0]
    if array.shape[0] < 1:
        raise ValueError(f"maps must hold at least 1 map, got shape {array.shape}")
    if array.shape[1] != array.shape[2]:
        raise ValueError(f"maps must be square (S x S), got shape {array.shape}")
    if array.shape[1] < min_size:
        raise ValueError(f"maps must be at least {min_size} x {min_size} pixels, got shape {array.shape}")
    if array.dtype == np.float32 and array.flags.writeable:  # torch does not take read-only arrays
        wide = torch.from_numpy(np.ascontiguousarray(array)).double()
        column_totals = (wide.abs_() if absolute else wide).sum(dim=1).numpy()
        if np.isfinite(column_totals).all():
            return array, column_totals
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"maps must be finite; maps {_quote_indices(np.flatnonzero(bad))} contain NaN or inf")
    with np.errstate(over="ignore"):  # the overflow is what is checked
        overflow = np.isinf(np.abs(array).sum(axis=(1, 2)))
    if overflow.any():
        raise ValueError(
            f"maps must have a finite total |attribution| in float64; maps {_quote_indices(np.flatnonzero(overflow))} "
            f"overflow it (largest |value| {np.abs(array[overflow]).max():.3g}); divide them by a constant first"
        )
    return array, (np.abs(array) if absolute else array).sum(axis=1)


def _validate_per_time(per_time: Any) -> np.ndarray:
    """Return ``per_time`` as ``(N, T) float64`` (a 1-D input becomes ``N = 1``)."""
    array = _real_array(per_time, "per_time")
    if array.ndim not in (1, 2):
        raise ValueError(f"per_time must have shape (T,) or (N, T), got shape {array.shape}")
    if array.shape[-1] < 1:
        raise ValueError(f"per_time must hold at least 1 timestamp, got shape {array.shape}")
    array = np.atleast_2d(array).astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError("per_time must be finite, got NaN or inf")
    return array


def _validate_interval(start: Any, stop: Any, n_timestamps: int) -> tuple[int, int]:
    start = check_int(start, "start", 0)
    stop = check_int(stop, "stop", 0)
    if stop <= start:
        raise ValueError(f"stop must be > start (a half-open interval [start, stop)), got start {start}, stop {stop}")
    if stop > n_timestamps:
        raise ValueError(f"stop must be <= the number of timestamps ({n_timestamps}), got {stop}")
    return start, stop


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _chunks(n_maps: int, size: int) -> list[slice]:
    """Consecutive slices of the maps, each about ``_CHUNK_PIXELS`` pixels."""
    step = max(1, _CHUNK_PIXELS // (size * size))
    return [slice(start, start + step) for start in range(0, n_maps, step)]


# --- candlestick -------------------------------------------------------------


def candlestick_time_importance(
    maps: Any, n_bars: int, *, ohlc: Any = None, reduce: str = "sum", absolute: bool = False
) -> CandlestickImportance:
    """Attribution per bar of candlestick heat maps.

    Args:
        maps: ``(N, 1, S, S)`` or ``(N, S, S)`` finite real numbers, ``S >= 8``.
        n_bars: ``T``, bars per window, ``1 <= T <= S``.
        ohlc: optional ``(N, T, 4)`` (or ``(T, 4)`` when ``N = 1``) open, high,
            low, close of the windows the maps explain; adds the body / wick /
            background split.
        reduce: ``"sum"`` (attribution per slot) or ``"mean"`` (per slot
            pixel, comparable across slots of unequal width).
        absolute: project ``|maps|`` (attribution mass) — the same as passing
            ``np.abs(maps)``, without its copy.

    Returns:
        :class:`CandlestickImportance` with ``(N, T) float64`` arrays; see the
        module docstring for the rules.

    Raises:
        TypeError: ``maps``/``ohlc`` not real arrays, ``n_bars`` not an int,
            ``reduce`` not a str, ``absolute`` not a bool.
        ValueError: wrong shapes, NaN/inf, ``n_bars`` out of range, OHLC that
            does not match the maps, unknown ``reduce``.
    """
    if not isinstance(absolute, bool):
        raise TypeError(f"absolute must be True or False, got {absolute!r}")
    images, column_totals = _maps_and_column_sums(maps, MIN_IMAGE_SIZE, absolute=absolute)
    reduce = check_choice(reduce, "reduce", REDUCE_MODES)
    n_maps, size = images.shape[0], images.shape[1]
    n_bars = check_int(n_bars, "n_bars", 1)
    if n_bars > size:
        raise ValueError(
            f"n_bars must be <= the map side S so that each bar owns a pixel column, got n_bars {n_bars} for S {size}"
        )
    slots = bar_columns(n_bars, size)
    starts = slots[:, 0]
    area = (np.diff(slots, axis=1)[:, 0] * size).astype(np.float64)

    def finish(per_slot: np.ndarray) -> np.ndarray:
        return per_slot / area if reduce == "mean" else per_slot

    if ohlc is None:
        per_bar = finish(np.add.reduceat(column_totals, starts, axis=1))
        return CandlestickImportance(_readonly(per_bar), None, None, None, _readonly(slots), reduce)

    windows = validate_ohlc(ohlc, "ohlc")
    if windows.shape[0] != n_maps or windows.shape[1] != n_bars:
        raise ValueError(
            f"ohlc must hold one window of n_bars bars per map, shape ({n_maps}, {n_bars}, 4), "
            f"got shape {np.shape(ohlc)}"
        )
    geometry = candle_geometry(windows, size)
    columns = np.arange(size)
    column_bar = np.repeat(np.arange(n_bars), np.diff(slots, axis=1)[:, 0])
    in_body_column = (columns >= geometry.body_x0[column_bar]) & (columns < geometry.body_x1[column_bar])
    in_wick_column = (columns >= geometry.wick_x0[column_bar]) & (columns < geometry.wick_x1[column_bar])
    rows = np.arange(size)[np.newaxis, :, np.newaxis]

    def in_rows(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        """``(n, S, S) bool``: row ``r`` of column ``c`` lies in its bar's ``[top, bottom)``."""
        return (rows >= top[:, np.newaxis, column_bar]) & (rows < bottom[:, np.newaxis, column_bar])

    column_sums = np.empty((3, n_maps, size))  # body, wick, background per pixel column
    for part in _chunks(n_maps, size):
        image = images[part].astype(np.float64, copy=False)
        image = np.abs(image) if absolute else image
        body = in_body_column & in_rows(geometry.body_top[part], geometry.body_bottom[part])
        wick = in_wick_column & in_rows(geometry.wick_top[part], geometry.wick_bottom[part]) & ~body
        column_sums[0, part] = np.where(body, image, 0.0).sum(axis=1)
        column_sums[1, part] = np.where(wick, image, 0.0).sum(axis=1)
        column_sums[2, part] = np.where(body | wick, 0.0, image).sum(axis=1)
    body_bar, wick_bar, background_bar = (finish(sums) for sums in np.add.reduceat(column_sums, starts, axis=2))
    per_bar = body_bar + wick_bar + background_bar
    return CandlestickImportance(
        per_bar=_readonly(per_bar),
        body=_readonly(body_bar),
        wick=_readonly(wick_bar),
        background=_readonly(background_bar),
        slots=_readonly(slots),
        reduce=reduce,
    )


# --- GADF --------------------------------------------------------------------


def gadf_time_importance(maps: Any, n_timestamps: int) -> GadfImportance:
    """Attribution per timestamp of GADF heat maps.

    Args:
        maps: ``(N, 1, S, S)`` or ``(N, S, S)`` finite real numbers, ``S >= 2``
            (any ``S``: PAA below ``T``, upsampled above).
        n_timestamps: ``T >= 2``, closes per window.

    Returns:
        :class:`GadfImportance`: ``per_time``, ``diagonal``, ``off_diagonal``
        ``(N, T) float64``, ``diagonal_share`` ``(N,)``; the rule is in the
        module docstring.

    Raises:
        TypeError: ``maps`` not a real array, ``n_timestamps`` not an int.
        ValueError: wrong shape, NaN/inf, ``n_timestamps < 2``.
    """
    images = _validate_maps(maps, 2).astype(np.float64, copy=False)
    n_timestamps = check_int(n_timestamps, "n_timestamps", 2)
    n_maps, size = images.shape[0], images.shape[1]
    spans = gadf_pixel_spans(size, n_timestamps)
    # share[p, t] = 1 / k_p when pixel row/column p stands for t among k_p timestamps
    times = np.arange(n_timestamps)
    covers = (times >= spans[:, :1]) & (times < spans[:, 1:])
    share = covers / np.diff(spans, axis=1)
    same_span = (spans[:, np.newaxis, 0] == spans[np.newaxis, :, 0]) & (
        spans[:, np.newaxis, 1] == spans[np.newaxis, :, 1]
    )

    diagonal_rows = np.empty((n_maps, size))
    off_halves = np.empty((n_maps, size))  # (row sum + column sum) / 2 per pixel line, off the diagonal
    diagonal_mass = np.empty(n_maps)
    for part in _chunks(n_maps, size):
        image = images[part]
        on = np.where(same_span, image, 0.0)
        off = np.where(same_span, 0.0, image)
        diagonal_rows[part] = on.sum(axis=2)
        off_halves[part] = (off.sum(axis=2) + off.sum(axis=1)) / 2
        diagonal_mass[part] = np.abs(on).sum(axis=(1, 2))
    diagonal = diagonal_rows @ share
    off_diagonal = off_halves @ share
    total_mass = np.abs(images).sum(axis=(1, 2))
    diagonal_share = np.divide(diagonal_mass, total_mass, out=np.zeros(n_maps), where=total_mass > 0)
    return GadfImportance(
        per_time=_readonly(diagonal + off_diagonal),
        diagonal=_readonly(diagonal),
        off_diagonal=_readonly(off_diagonal),
        diagonal_share=_readonly(diagonal_share),
        spans=_readonly(spans),
    )


# --- display and scores ------------------------------------------------------


def normalise(per_time: Any, mode: str = "signed") -> np.ndarray:
    """Scale time profiles for display, each row on its own.

    Args:
        per_time: ``(T,)`` or ``(N, T)`` finite real numbers.
        mode: ``"signed"`` -- ``x / max|x|`` in ``[-1, 1]``; ``"absolute"`` --
            ``|x| / max|x|`` in ``[0, 1]``; ``"positive"`` -- the positive part
            over its maximum, in ``[0, 1]``; ``"negative"`` -- the magnitude of
            the negative part over its maximum, in ``[0, 1]``.

    Returns:
        ``float64`` of ``per_time``'s shape, each row's largest magnitude 1; a
        row with nothing to show (all zero, or no values of the asked sign)
        stays all zeros.
    """
    mode = check_choice(mode, "mode", NORMALISE_MODES)
    values = _validate_per_time(per_time)
    if mode == "absolute":
        values = np.abs(values)
    elif mode == "positive":
        values = np.maximum(values, 0.0)
    elif mode == "negative":
        values = np.maximum(-values, 0.0)
    peak = np.abs(values).max(axis=1, keepdims=True)
    scaled = np.divide(values, peak, out=np.zeros_like(values), where=peak > 0)
    return scaled.reshape(np.shape(per_time))


def interval_share(per_time: Any, start: int, stop: int) -> float | np.ndarray:
    """Share of absolute attribution mass inside ``[start, stop)``.

    Args:
        per_time: ``(T,)`` or ``(N, T)`` finite real numbers.
        start, stop: ints, ``0 <= start < stop <= T``.

    Returns:
        ``sum |x[start:stop]| / sum |x|`` in ``[0, 1]``: a ``float`` for a 1-D
        input, ``(N,) float64`` otherwise; 0 for an all-zero row (a map that
        points nowhere localises nothing).
    """
    values = np.abs(_validate_per_time(per_time))
    start, stop = _validate_interval(start, stop, values.shape[1])
    with np.errstate(over="ignore"):
        total = values.sum(axis=1)
    overflow = np.isinf(total)
    if overflow.any():  # a share ignores scale: rows whose sum overflows are divided by their peak first
        values[overflow] /= values[overflow].max(axis=1, keepdims=True)
        total = values.sum(axis=1)
    inside = values[:, start:stop].sum(axis=1)
    share = np.clip(np.divide(inside, total, out=np.zeros_like(total), where=total > 0), 0.0, 1.0)
    return float(share[0]) if np.ndim(per_time) == 1 else share


def pointing_game(per_time: Any, start: int, stop: int, tolerance: int = 0) -> bool | np.ndarray:
    """Does the peak of ``|per_time|`` fall inside ``[start - tolerance, stop + tolerance)``?

    Args:
        per_time: ``(T,)`` or ``(N, T)`` finite real numbers.
        start, stop: ints, ``0 <= start < stop <= T``.
        tolerance: int ``>= 0``, timestamps of slack on either side.

    Returns:
        A hit: ``bool`` for a 1-D input, ``(N,) bool`` otherwise. A tie for the
        peak is a hit only if every tied position is inside (the map must point
        unambiguously); an all-zero row points nowhere and is a miss.
    """
    values = np.abs(_validate_per_time(per_time))
    start, stop = _validate_interval(start, stop, values.shape[1])
    tolerance = check_int(tolerance, "tolerance", 0)
    peak = values.max(axis=1, keepdims=True)
    at_peak = values == peak
    positions = np.arange(values.shape[1])
    inside = (positions >= start - tolerance) & (positions < stop + tolerance)
    hit = (peak[:, 0] > 0) & ~(at_peak & ~inside).any(axis=1)
    return bool(hit[0]) if np.ndim(per_time) == 1 else hit
