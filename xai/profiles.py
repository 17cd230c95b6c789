"""Maps → one importance profile over the window's time steps, with the rule that suits the image.

* candlestick: the attribution per bar (:func:`~xai.time_projection.candlestick_time_importance`,
  summed over each bar's pixel columns), signed — positive bars pushed the answer, negative ones
  held it back — or its absolute mass;
* GADF: the absolute attribution mass per minute (:func:`~xai.time_projection.gadf_time_importance`
  on ``|map|``, every minute weighed by one pixel line, :func:`~xai.aggregate.equalise_gadf`);
  always mass: signed GADF profiles cancel, since the GADF is antisymmetric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from data.checks import check_choice
from xai.aggregate import equalise_gadf
from xai.time_projection import candlestick_time_importance, gadf_time_importance


def _candlestick(maps: np.ndarray, n_steps: int, absolute: bool) -> np.ndarray:
    return np.asarray(candlestick_time_importance(maps, n_steps, absolute=absolute).per_bar)


def _gadf(maps: np.ndarray, n_steps: int, absolute: bool) -> np.ndarray:
    return equalise_gadf(gadf_time_importance(np.abs(maps), n_steps))


#: Image kind → (its profile rule, whether that profile keeps the attribution's sign).
PROFILES: dict[str, tuple[Callable[[np.ndarray, int, bool], np.ndarray], bool]] = {
    "candlestick": (_candlestick, True),
    "gadf": (_gadf, False),
}


def signed_profiles(image_kind: str) -> bool:
    """Whether :func:`time_profiles` of ``image_kind`` keeps the sign (candlestick) or gives mass (GADF)."""
    return PROFILES[check_choice(image_kind, "image_kind", tuple(PROFILES))][1]


def time_profiles(maps: np.ndarray, image_kind: str, n_steps: int, *, absolute: bool = False) -> np.ndarray:
    """``(B, S, S)`` or ``(B, 1, S, S)`` maps → ``(B, T) float64`` importance per time step.

    Args:
        maps: attribution maps of images of ``image_kind``.
        image_kind: ``"candlestick"`` or ``"gadf"``.
        n_steps: T, the window's time steps.
        absolute: mass of either sign (a candlestick's profile is otherwise signed).
    """
    rule, _ = PROFILES[check_choice(image_kind, "image_kind", tuple(PROFILES))]
    return rule(np.asarray(maps), n_steps, absolute)
