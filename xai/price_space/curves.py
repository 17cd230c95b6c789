"""Deletion and insertion curves in price space: the map's most important bars flattened first.

Step ``k`` of ``K`` removes the ``round(k·W/K)`` steps the map ranks highest — their bars replaced
by the straight line through the kept ones (:func:`data.edits.interpolate_bars`), the image drawn
again and, for the regressor, the closes with it — and scores the model's answer (deletion:
lower area is better). Insertion starts from the window with every step removed (flat at its first
open: the GADF of a flat window is all zeros, the pixel curves' baseline) and puts the steps back
most important first (higher area is better). The same curves for ``n_random`` seeded random
orders are the reference. Every edited window of every curve goes through the model in one
batched pass.

The ranking is the map's time profile as the page shows it (:func:`xai.profiles.time_profiles`):
signed per bar for a candlestick (evidence for the answer first), mass per minute for a GADF.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from data.checks import check_int
from data.edits import interpolate_bars
from models.checkpoints import LoadedCheckpoint
from xai.price_space.inputs import _windows, window_scores

#: Random orders of the reference unless asked.
DEFAULT_RANDOM_ORDERS = 2


@dataclasses.dataclass(frozen=True)
class PriceSpaceCurves:
    """Price-space deletion and insertion of ``B`` windows, per method.

    Attributes:
        fractions: ``(K+1,)`` share of steps removed (deletion) or restored (insertion).
        deletion, insertion: method → ``(B, K+1)`` score per step.
        deletion_auc, insertion_auc: method → ``(B,)`` trapezoid areas over ``fractions``.
        random_deletion_auc, random_insertion_auc: ``(B,)`` mean areas of the random orders.
        random_deletion, random_insertion: ``(B, K+1)`` mean curves of the random orders.
        windows_scored: edited windows the model scored.
        seconds: wall time.
    """

    fractions: np.ndarray
    deletion: dict[str, np.ndarray]
    insertion: dict[str, np.ndarray]
    deletion_auc: dict[str, np.ndarray]
    insertion_auc: dict[str, np.ndarray]
    random_deletion_auc: np.ndarray
    random_insertion_auc: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray
    windows_scored: int
    seconds: float

    def deletion_gain(self, method: str) -> np.ndarray:
        """``(B,)`` random deletion area minus the map's: > 0 beats random."""
        return self.random_deletion_auc - self.deletion_auc[method]

    def insertion_gain(self, method: str) -> np.ndarray:
        """``(B,)`` the map's insertion area minus the random one: > 0 beats random."""
        return self.insertion_auc[method] - self.random_insertion_auc


def _trapezoid(curves: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return ((curves[..., 1:] + curves[..., :-1]) / 2 * np.diff(fractions)).sum(axis=-1)


def _profiles(per_time: Mapping[str, Any], n_windows: int, n_steps: int) -> dict[str, np.ndarray]:
    if not isinstance(per_time, Mapping) or not per_time:
        raise TypeError("per_time must map at least one method to its (B, W) time profiles")
    out = {}
    for key, profile in per_time.items():
        array = np.asarray(profile, dtype=np.float64).reshape(n_windows, -1)
        if array.shape != (n_windows, n_steps) or not np.isfinite(array).all():
            raise ValueError(f"per_time[{key!r}] must be ({n_windows}, {n_steps}) finite values, got {array.shape}")
        out[key] = array
    return out


def price_space_curves(
    loaded: LoadedCheckpoint,
    ohlc: Any,
    per_time: Mapping[str, Any],
    explained: Any,
    *,
    steps: int = 10,
    n_random: int = DEFAULT_RANDOM_ORDERS,
    seed: int = 0,
) -> PriceSpaceCurves:
    """Price-space deletion and insertion curves of each method's time profile.

    Args:
        loaded: the checkpoint.
        ohlc: ``(B, W, 4)`` windows.
        per_time: method → ``(B, W)`` (or ``(W,)`` for one window) time profiles; higher ranks first.
        explained: ``(B,)`` the class or direction each window's maps explain.
        steps: K, ``2 <= K <= W``.
        n_random: random orders for the reference (``>= 1``).
        seed: seeds the random orders.
    """
    began = time.perf_counter()
    bars = _windows(loaded, ohlc)
    n_windows, n_steps = bars.shape[:2]
    steps = check_int(steps, "steps", 2)
    if steps > n_steps:
        raise ValueError(f"steps must be at most the window's {n_steps} steps, got {steps}")
    n_random = check_int(n_random, "n_random", 1)
    seed = check_int(seed, "seed", 0)
    profiles = _profiles(per_time, n_windows, n_steps)
    chosen = np.asarray(explained, dtype=np.int64).reshape(-1)
    if len(chosen) != n_windows:
        raise ValueError(f"explained must hold one target per window ({n_windows}), got {len(chosen)}")

    generator = np.random.default_rng(seed)
    rankings = [np.argsort(-profile, axis=1, kind="stable") for profile in profiles.values()]
    rankings += [generator.permuted(np.tile(np.arange(n_steps), (n_windows, 1)), axis=1) for _ in range(n_random)]
    position = np.empty((len(rankings), n_windows, n_steps), dtype=np.int64)  # each step's place in each order
    for order, ranking in enumerate(rankings):
        np.put_along_axis(position[order], ranking, np.arange(n_steps)[None].repeat(n_windows, axis=0), axis=1)
    removed_after = (2 * np.arange(steps + 1) * n_steps + steps) // (2 * steps)  # round half up, exactly
    inner = removed_after[1:-1]
    # (orders, K-1, 2, B, W): deletion removes the top steps, insertion keeps only them
    gone = position[:, None] < inner[None, :, None, None]
    masks = np.stack([gone, ~gone], axis=2)
    everything = np.ones((1, n_windows, n_steps), dtype=bool)
    masks = np.concatenate([masks.reshape(-1, n_windows, n_steps), everything], axis=0)
    edited = interpolate_bars(bars[None], masks)  # (copies, B, W, 4)
    copies = len(masks)
    scores = window_scores(
        loaded,
        np.concatenate([bars, edited.reshape(-1, n_steps, 4)]),
        np.concatenate([chosen, np.tile(chosen, copies)]),
    )
    original, perturbed = scores[:n_windows], scores[n_windows:].reshape(copies, n_windows)
    empty = perturbed[-1]
    inner_scores = perturbed[:-1].reshape(len(rankings), steps - 1, 2, n_windows)
    deletion = np.empty((len(rankings), n_windows, steps + 1))
    insertion = np.empty_like(deletion)
    deletion[:, :, 0], deletion[:, :, -1] = original, empty
    insertion[:, :, 0], insertion[:, :, -1] = empty, original
    deletion[:, :, 1:-1] = inner_scores[:, :, 0].transpose(0, 2, 1)
    insertion[:, :, 1:-1] = inner_scores[:, :, 1].transpose(0, 2, 1)
    fractions = removed_after / n_steps
    areas_deletion, areas_insertion = _trapezoid(deletion, fractions), _trapezoid(insertion, fractions)
    n_methods = len(profiles)
    return PriceSpaceCurves(
        fractions=fractions,
        deletion={key: deletion[i] for i, key in enumerate(profiles)},
        insertion={key: insertion[i] for i, key in enumerate(profiles)},
        deletion_auc={key: areas_deletion[i] for i, key in enumerate(profiles)},
        insertion_auc={key: areas_insertion[i] for i, key in enumerate(profiles)},
        random_deletion_auc=areas_deletion[n_methods:].mean(axis=0),
        random_insertion_auc=areas_insertion[n_methods:].mean(axis=0),
        random_deletion=deletion[n_methods:].mean(axis=0),
        random_insertion=insertion[n_methods:].mean(axis=0),
        windows_scored=len(scores),
        seconds=time.perf_counter() - began,
    )
