"""Gramian Angular Difference Field (GADF) images, computed with pyts.

Each window of closes ``x`` (one row of ``(N, T)``) is min-max scaled to
``[-1, 1]``, read as angles ``phi = arccos(x)``, and turned into
``GADF[i, j] = sin(phi_i - phi_j) = sqrt(1 - x_i^2) * x_j - x_i * sqrt(1 - x_j^2)``:
an antisymmetric ``T x T`` image with a zero diagonal, invariant to any
affine price change ``a * x + b`` with ``a > 0``. pyts's
``GramianAngularField(method="difference", sample_range=(-1, 1))`` does the work.

Image size ``S`` (``image_size``; ``None`` means ``S = T``):

* ``S < T``: pyts averages the closes over ``S`` consecutive segments first
  (piecewise aggregate approximation, PAA), then builds an ``S x S`` field.
* ``S > T``: the ``T x T`` field is upsampled by nearest neighbour, pixel ``p``
  showing timestamp ``floor((p + 1/2) * T / S)`` (its centre's timestamp).

:func:`gadf_pixel_spans` says which timestamps each pixel row/column stands
for, so heat maps can be projected back onto minutes.

Flat windows: pyts maps a constant window to an all-zero image, and a window
that is constant but for rounding noise to a full-contrast image of that
noise. Here a window is *flat* when ``max - min <= flat_tolerance *
mean(|x|)``; its GADF is all zeros (no angle differences), a defined result.
:func:`flat_windows` tells callers which windows those are so they can warn.

1-D input is refused: ``(T,)`` could be one window of ``T`` closes or ``T``
windows of one close, so callers say which (``closes[np.newaxis]``), as in pyts.

pyts is imported on the first :meth:`GADFEncoder.transform`, not with this
module: importing ``pyts.image`` compiles its numba kernels (about 20 s on the
2-core machine the first time; about 2 s afterwards, from numba's disk cache —
see :mod:`data.images.pyts_import`), which code that only needs
:func:`gadf_pixel_spans` or the candlestick encoder should not pay.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from data.errors import DataError
from data.images.pyts_import import gramian_angular_field_class

__all__ = [
    "DEFAULT_FLAT_TOLERANCE",
    "GADFEncoder",
    "flat_windows",
    "gadf_pixel_spans",
    "validate_closes",
]

#: Default relative range below which a window counts as flat.
DEFAULT_FLAT_TOLERANCE = 1e-6
#: Window indices quoted in an error message before it says "...".
_MAX_QUOTED = 10


# --- validation --------------------------------------------------------------


def _quote_indices(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_QUOTED])
    more = f", ... ({len(indices)} in all)" if len(indices) > _MAX_QUOTED else ""
    return f"[{shown}{more}]"


def validate_closes(closes: Any, name: str = "closes") -> np.ndarray:
    """Check windows of closes and return them as ``(N, T) float64``.

    Args:
        closes: ``(N, T)`` real numbers, ``N >= 1`` windows of ``T >= 2``
            closes, all finite.

    Raises:
        TypeError: not a real numeric array.
        DataError: not 2-D, empty, fewer than 2 timestamps, or NaN/inf (the
            message names the windows at fault).
    """
    array = np.asarray(closes)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        hint = f"; for one window pass {name}[np.newaxis]" if array.ndim == 1 else ""
        raise DataError(f"{name} must be 2-D (n_windows, n_timestamps), got shape {array.shape}{hint}")
    if array.shape[0] < 1:
        raise DataError(f"{name} must hold at least 1 window, got shape {array.shape}")
    if array.shape[1] < 2:
        raise DataError(f"{name} must hold at least 2 timestamps per window, got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise DataError(f"{name} must be finite; windows {_quote_indices(np.flatnonzero(bad))} contain NaN or inf")
    return array


def _validate_tolerance(tolerance: Any, name: str) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(tolerance).__name__} {tolerance!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise DataError(f"{name} must be finite and >= 0, got {tolerance!r}")
    return float(tolerance)


def _validate_size(image_size: Any, name: str, *, allow_none: bool) -> int | None:
    if image_size is None and allow_none:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        kind = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {kind}, got {type(image_size).__name__} {image_size!r}")
    if image_size < 2:
        raise DataError(f"{name} must be >= 2, got {int(image_size)}")
    return int(image_size)


# --- geometry ----------------------------------------------------------------


def gadf_pixel_spans(image_size: int, n_timestamps: int) -> np.ndarray:
    """Timestamps that each GADF pixel row (and column) stands for.

    Args:
        image_size: ``S >= 2``, the GADF side.
        n_timestamps: ``T >= 2``, closes per window.

    Returns:
        ``(S, 2) int64``, half-open ``[start, end)`` per pixel. For ``S < T``
        these are pyts's PAA segments (``np.linspace(0, T, S + 1)`` truncated to
        integers, exactly as ``pyts.utils.segmentation`` computes them with
        ``overlapping=False``); the spans tile ``[0, T)``. For ``S >= T`` each
        pixel stands for the single timestamp ``floor((p + 1/2) * T / S)``.
    """
    size = _validate_size(image_size, "image_size", allow_none=False)
    n = _validate_size(n_timestamps, "n_timestamps", allow_none=False)
    if size < n:
        bounds = np.linspace(0, n, size + 1).astype(np.int64)
        return np.stack([bounds[:-1], bounds[1:]], axis=1)
    pixels = np.arange(size, dtype=np.int64)
    start = ((2 * pixels + 1) * n) // (2 * size)
    return np.stack([start, start + 1], axis=1)


# --- flat windows ------------------------------------------------------------


def _unit_scaled(windows: np.ndarray) -> np.ndarray:
    """Scale each window by a power of two so that its largest ``|value|`` lies
    in ``[0.5, 1)`` (all-zero windows stay as they are).

    A power of two is exact in binary floating point, and a positive scale does
    not change a GADF, so ordinary prices give exactly pyts's own result; but
    ranges and means can no longer overflow (prices near 1e308), and tiny
    prices (1e-20) no longer fall under the absolute ``10 * eps`` range below
    which scikit-learn's scaler, used by pyts, treats a window as constant.
    """
    _, exponent = np.frexp(np.abs(windows).max(axis=1, keepdims=True))
    return np.ldexp(windows, -exponent)


def _flat(scaled: np.ndarray, tolerance: float) -> np.ndarray:
    spread = scaled.max(axis=1) - scaled.min(axis=1)
    return spread <= tolerance * np.abs(scaled).mean(axis=1)


def flat_windows(closes: Any, tolerance: float = DEFAULT_FLAT_TOLERANCE) -> np.ndarray:
    """Which windows are flat (their GADF is defined as all zeros).

    Args:
        closes: ``(N, T)`` finite real numbers, ``T >= 2``.
        tolerance: ``>= 0``; a window is flat when ``max - min <= tolerance *
            mean(|closes|)``.

    Returns:
        ``(N,) bool``.
    """
    windows = validate_closes(closes)
    return _flat(_unit_scaled(windows), _validate_tolerance(tolerance, "tolerance"))


# --- encoder -----------------------------------------------------------------


class GADFEncoder:
    """Turn windows of closes into GADF images (scikit-learn style).

    Parameters:
        image_size: ``S`` (int >= 2), or ``None`` for ``S = T``. ``S < T``
            uses pyts's PAA, ``S > T`` nearest-neighbour upsampling (see the
            module docstring and :func:`gadf_pixel_spans`).
        flat_tolerance: ``>= 0``; windows with ``max - min <= flat_tolerance *
            mean(|closes|)`` give all-zero images (see :func:`flat_windows`).
            Below about ``1e-14`` pyts's own scaler treats ranges under ten
            machine epsilons of the window's level as zero anyway.

    ``__init__`` only stores the parameters; :meth:`transform` checks them.
    """

    def __init__(self, image_size: int | None = None, flat_tolerance: float = DEFAULT_FLAT_TOLERANCE) -> None:
        self.image_size = image_size
        self.flat_tolerance = flat_tolerance

    def transform(self, closes: Any) -> np.ndarray:
        """Compute the GADF of each window.

        Args:
            closes: ``(N, T)`` finite real numbers, ``T >= 2`` (1-D is refused).

        Returns:
            ``(N, 1, S, S) float32`` in ``[-1, 1]``, antisymmetric with a zero
            diagonal; all zeros for flat windows.
        """
        size = _validate_size(self.image_size, "image_size", allow_none=True)
        tolerance = _validate_tolerance(self.flat_tolerance, "flat_tolerance")
        windows = validate_closes(closes)
        n_timestamps = windows.shape[1]
        size = n_timestamps if size is None else size

        GramianAngularField = gramian_angular_field_class()  # noqa: N806 (a class); slow first import

        scaled = _unit_scaled(windows)
        field = GramianAngularField(
            image_size=min(size, n_timestamps),
            sample_range=(-1, 1),
            method="difference",
        ).transform(scaled)
        field[_flat(scaled, tolerance)] = 0.0
        # in place: a fresh 30 MB array per step costs more in page faults than pyts's own work
        np.clip(field, -1.0, 1.0, out=field)
        images = field.astype(np.float32)
        if size > n_timestamps:
            timestamp = gadf_pixel_spans(size, n_timestamps)[:, 0]
            images = images[:, timestamp[:, np.newaxis], timestamp[np.newaxis, :]]
        return images[:, np.newaxis]

    def __repr__(self) -> str:
        return f"GADFEncoder(image_size={self.image_size!r}, flat_tolerance={self.flat_tolerance!r})"
