"""A time profile painted back onto the image, so a per-bar (per-minute) map sits beside pixel maps.

* candlestick: every pixel column of bar ``t`` (:func:`data.images.bar_columns`) takes ``v[t]``;
* GADF: pixel ``(i, j)`` stands for the minutes of row ``i`` and of column ``j``
  (:func:`data.images.gadf_pixel_spans`) and takes the mean of their two values.

The time chart shows the profile itself, never a projection of the painted map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from data.checks import check_choice
from data.images import bar_columns, gadf_pixel_spans


def _candlestick(profile: np.ndarray, size: int) -> np.ndarray:
    painted = np.zeros((size, size))
    for value, (start, stop) in zip(profile, bar_columns(len(profile), size), strict=True):
        painted[:, start:stop] = value
    return painted


def _gadf(profile: np.ndarray, size: int) -> np.ndarray:
    spans = gadf_pixel_spans(size, len(profile))
    per_pixel = np.array([profile[start:stop].mean() for start, stop in spans])
    return (per_pixel[:, None] + per_pixel[None, :]) / 2.0


PAINTERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"candlestick": _candlestick, "gadf": _gadf}


def paint_profile(profile: np.ndarray, image_kind: str, size: int) -> np.ndarray:
    """``(T,)`` importance per time step → an ``(S, S) float64`` map on the image of ``image_kind``."""
    values = np.asarray(profile, dtype=np.float64).reshape(-1)
    return PAINTERS[check_choice(image_kind, "image_kind", tuple(PAINTERS))](values, size)
