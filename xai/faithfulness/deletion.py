"""Deletion and insertion curves (Petsiuk et al., 2018, RISE), in pixels or in time steps.

Deletion removes the map's most important units first and watches the score fall (lower area is
better); insertion starts from the baseline image and puts the most important units back first
(higher area is better). The same curves for random orders are the reference.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from data.checks import check_choice, check_int
from data.images.candlestick import bar_columns
from data.images.gadf import gadf_pixel_spans
from xai.faithfulness.common import Target, _scores, _validate_attribution, _validate_image, _validate_model_args

#: Accepted ``order`` values of :func:`deletion_insertion`.
ORDERS = ("positive", "absolute")


@dataclasses.dataclass(frozen=True, eq=False)
class FaithfulnessCurves:
    """Deletion and insertion curves of one map per input.

    Attributes:
        fractions: ``(K+1,) float64`` fraction of units removed (deletion) or restored
            (insertion), from 0 to 1.
        deletion: ``(N, K+1) float64`` target score as units are replaced by the baseline, most
            important first; ``deletion[:, 0]`` is the original score, ``deletion[:, -1]`` the
            baseline image's.
        insertion: ``(N, K+1) float64`` target score as units are put back into the baseline
            image in the same order; ``insertion[:, 0]`` is the baseline's score,
            ``insertion[:, -1]`` the original.
        deletion_auc: ``(N,)`` trapezoid area under ``deletion`` over ``fractions`` (lower is
            better).
        insertion_auc: ``(N,)`` area under ``insertion`` (higher is better).
        random_deletion_auc: ``(N,)`` mean deletion area over ``n_random`` random orders (NaN
            when ``n_random == 0``).
        random_insertion_auc: ``(N,)`` the same for insertion.
        unit: ``"pixel"`` or ``"time step"``.
        order: ``"positive"`` or ``"absolute"``.

    ``eq=False``: instances compare by identity.
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray
    random_deletion_auc: np.ndarray
    random_insertion_auc: np.ndarray
    unit: str
    order: str

    @property
    def deletion_gain(self) -> np.ndarray:
        """``(N,)`` random deletion area minus the map's: > 0 means better than random."""
        return self.random_deletion_auc - self.deletion_auc

    @property
    def insertion_gain(self) -> np.ndarray:
        """``(N,)`` the map's insertion area minus the random one: > 0 means better than random."""
        return self.insertion_auc - self.random_insertion_auc


# --- units -------------------------------------------------------------------


def candlestick_units(n_bars: int, size: int) -> np.ndarray:
    """Pixel masks of the bars of a candlestick image.

    Args:
        n_bars: ``T >= 1`` bars per window.
        size: image side ``S >= max(8, T)``.

    Returns:
        ``(T, S, S) bool``: bar ``t`` owns every row of its columns ``bar_columns(T, S)[t]``; the
        masks tile the image (every pixel in exactly one bar).
    """
    slots = bar_columns(n_bars, size)
    columns = np.arange(slots[-1, 1])
    owns = (columns >= slots[:, :1]) & (columns < slots[:, 1:])  # (T, S)
    return np.repeat(owns[:, np.newaxis, :], len(columns), axis=1)


def gadf_units(n_timestamps: int, size: int) -> np.ndarray:
    """Pixel masks of the timestamps of a GADF image.

    Args:
        n_timestamps: ``T >= 2`` closes per window.
        size: image side ``S >= 2``.

    Returns:
        ``(T, S, S) bool``: pixel ``(i, j)`` encodes the timestamps of row ``i`` and column ``j``
        (:func:`~data.images.gadf.gadf_pixel_spans`), so timestamp ``t`` owns every row and every
        column that stands for it. For ``S == T`` that is row ``t`` and column ``t``. Masks overlap
        (pixel ``(i, j)`` is in the masks of both of its timestamps).
    """
    spans = gadf_pixel_spans(size, n_timestamps)
    times = np.arange(n_timestamps)[:, np.newaxis]
    stands = (times >= spans[:, 0]) & (times < spans[:, 1])  # (T, S)
    return stands[:, :, np.newaxis] | stands[:, np.newaxis, :]


def _validate_units(units: Any, size: int) -> np.ndarray:
    """Return ``units`` as ``(G, S*S) bool``; every pixel must be in at least one unit."""
    array = np.asarray(units)
    if array.dtype != np.bool_:
        raise TypeError(f"units must be a bool array (G, S, S), got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[1:] != (size, size) or array.shape[0] < 1:
        raise ValueError(f"units must have shape (G, {size}, {size}) with G >= 1, got {array.shape}")
    masks = array.reshape(len(array), -1)
    uncovered = int((~masks.any(axis=0)).sum())
    if uncovered:
        raise ValueError(
            f"units must cover every pixel (else deletion never reaches the baseline), {uncovered} pixels are in none"
        )
    return masks


def _validate_unit_importance(unit_importance: Any, n_inputs: int, n_units: int) -> np.ndarray:
    array = unit_importance.detach().cpu().numpy() if isinstance(unit_importance, torch.Tensor) else unit_importance
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"unit_importance must be an array of real numbers, got dtype {array.dtype}")
    if array.shape != (n_inputs, n_units):
        raise ValueError(f"unit_importance must have shape (N, G) = ({n_inputs}, {n_units}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("unit_importance must be finite, got NaN or inf")
    return array.astype(np.float64, copy=False)


# --- deletion and insertion --------------------------------------------------


def _pixel_removal(ranking: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Step at which each pixel is removed, ``(N, P)`` in ``1..K``, and the fractions ``(K+1,)``.

    ``ranking`` is ``(N, P)`` pixel indices, first removed first; after step ``k``
    ``round(k * P / steps)`` pixels are gone.
    """
    n_inputs, n_pixels = ranking.shape
    bounds = (2 * np.arange(steps + 1) * n_pixels + steps) // (2 * steps)  # round half up, exactly
    position = np.empty_like(ranking)
    np.put_along_axis(position, ranking, np.arange(n_pixels)[np.newaxis].repeat(n_inputs, axis=0), axis=1)
    return np.searchsorted(bounds, position, side="right"), bounds / n_pixels


def _unit_removal(ranking: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step at which each pixel is removed — its first unit's rank + 1 — and the fractions ``(G+1,)``."""
    n_units = masks.shape[0]
    removal = np.full((ranking.shape[0], masks.shape[1]), n_units + 1, dtype=np.int64)
    for step in range(n_units, 0, -1):  # the earliest unit that holds a pixel wins
        removal = np.where(masks[ranking[:, step - 1]], step, removal)
    return removal, np.arange(n_units + 1) / n_units


def _trapezoid(curves: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return ((curves[..., 1:] + curves[..., :-1]) / 2 * np.diff(fractions)).sum(axis=-1)


def _random_auc(curves: np.ndarray, fractions: np.ndarray, n_random: int) -> np.ndarray:
    """Mean area of the random orders' curves ``curves[1:]``; NaN per input when there are none."""
    if n_random == 0:
        return np.full(curves.shape[1], np.nan)
    return _trapezoid(curves[1:], fractions).mean(axis=0)


def _curves(
    model: nn.Module,
    image: torch.Tensor,
    base: torch.Tensor,
    removals: list[np.ndarray],
    n_steps: int,
    targets: torch.Tensor | None,
    extra: torch.Tensor | None,
    direction: int,
    ends: tuple[torch.Tensor, torch.Tensor],
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion curves ``(R, N, K+1)`` for ``R`` orders: ``(N, P)`` removal steps in ``1..K``.

    ``ends`` are the original and baseline scores (the curves' known end points). Each step's
    perturbed images — every order, deletion and insertion, the whole batch — go through
    :func:`_scores` together (chunked there).
    """
    n_inputs = len(image)
    original, empty = (score.double().numpy() for score in ends)
    deletion = np.empty((len(removals), n_inputs, n_steps + 1))
    insertion = np.empty_like(deletion)
    deletion[:, :, 0], deletion[:, :, -1] = original, empty
    insertion[:, :, 0], insertion[:, :, -1] = empty, original
    flat_image, flat_base = image.reshape(n_inputs, -1), base.reshape(n_inputs, -1)
    copies = 2 * len(removals)
    step_targets = None if targets is None else targets.repeat(copies)
    step_extra = None if extra is None else extra.repeat(copies, 1)
    steps_of = torch.from_numpy(np.stack(removals))  # (R, N, P)
    for step in range(1, n_steps):
        removed = steps_of <= step
        deleted = torch.where(removed, flat_base, flat_image)
        inserted = torch.where(removed, flat_image, flat_base)
        batch = torch.stack([deleted, inserted], dim=1).reshape(copies * n_inputs, *image.shape[1:])
        scores = _scores(model, batch, step_targets, step_extra, direction)[0].double().numpy()
        scores = scores.reshape(len(removals), 2, n_inputs)
        deletion[:, :, step], insertion[:, :, step] = scores[:, 0], scores[:, 1]
    return deletion, insertion


def _baseline_image(baseline: Any, image: torch.Tensor) -> torch.Tensor:
    if isinstance(baseline, (int, float, np.integer, np.floating)) and not isinstance(baseline, bool):
        if not np.isfinite(baseline):
            raise ValueError(f"baseline must be finite, got {baseline!r}")
        return torch.full_like(image, float(baseline))
    if isinstance(baseline, (torch.Tensor, np.ndarray)):
        base = torch.as_tensor(baseline, dtype=image.dtype).detach().cpu()
        try:
            base = base.expand_as(image).clone()
        except RuntimeError:
            raise ValueError(
                f"baseline must be a number or broadcast to the image's shape {tuple(image.shape)}, "
                f"got shape {tuple(base.shape)}"
            ) from None
        if not torch.isfinite(base).all():
            raise ValueError("baseline must be finite, got NaN or inf")
        return base
    raise TypeError(f"baseline must be a number or a tensor/array, got {type(baseline).__name__}")


def deletion_insertion(
    model: nn.Module,
    image: torch.Tensor,
    attribution: np.ndarray | torch.Tensor,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    units: np.ndarray | None = None,
    unit_importance: np.ndarray | None = None,
    steps: int = 20,
    baseline: float | np.ndarray | torch.Tensor = 0.0,
    order: str = "positive",
    n_random: int = 4,
    seed: int = 0,
) -> FaithfulnessCurves:
    """Deletion and insertion curves of a map, with a random-order reference.

    Args:
        model, target, additional_forward_args, direction: as for :func:`target_score`; the class
            target is fixed on the original image and kept for every perturbed copy.
        image: ``(N, 1, S, S)`` float images.
        attribution: ``(N, 1, S, S)`` finite map per image (NumPy or tensor).
        units: ``None`` — pixels; or ``(G, S, S) bool`` masks (:func:`candlestick_units`,
            :func:`gadf_units`) covering every pixel, one step per unit (``steps`` is then unused).
        unit_importance: with ``units``: ``(N, G)`` score per unit (e.g. a time projection of the
            map); default: the attribution summed over each unit's mask.
        steps: pixel units only — ``1 <= steps <= S*S`` near-equal chunks.
        baseline: the "removed" value — a number (default 0: blank raster / flat-window GADF) or
            an image broadcastable to ``(N, 1, S, S)``.
        order: ``"positive"`` (signed, evidence for the target first) or ``"absolute"``.
        n_random: ``>= 0`` random orders for the reference areas (0: NaN references).
        seed: seeds the random orders.

    Returns:
        :class:`FaithfulnessCurves` with ``K = steps`` (pixels) or ``K = G`` (units).

    Raises:
        TypeError, ValueError: any argument of the wrong type, shape or value.
    """
    image = _validate_image(image).cpu()
    n_inputs, size = image.shape[0], image.shape[-1]
    maps = _validate_attribution(attribution, image.shape).reshape(n_inputs, -1)
    order = check_choice(order, "order", ORDERS)
    n_random = check_int(n_random, "n_random", 0)
    seed = check_int(seed, "seed", 0)
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    base = _baseline_image(baseline, image)
    if units is None:
        if unit_importance is not None:
            raise ValueError("unit_importance needs units: with units=None every pixel is a unit")
        steps = check_int(steps, "steps", 1)
        if steps > maps.shape[1]:
            raise ValueError(f"steps must be <= the number of pixels ({maps.shape[1]}), got {steps}")
        importance, unit = maps, "pixel"
    else:
        masks = _validate_units(units, size)
        if unit_importance is None:
            importance = maps @ masks.T.astype(np.float64)
        else:
            importance = _validate_unit_importance(unit_importance, n_inputs, len(masks))
        unit = "time step"
    ranked = importance if order == "positive" else np.abs(importance)
    rankings = [np.argsort(-ranked, axis=1, kind="stable")]
    generator = np.random.default_rng(seed)
    rankings += [
        generator.permuted(np.tile(np.arange(ranked.shape[1]), (n_inputs, 1)), axis=1) for _ in range(n_random)
    ]
    if units is None:
        removals, fractions = zip(*(_pixel_removal(ranking, steps) for ranking in rankings), strict=True)
    else:
        removals, fractions = zip(*(_unit_removal(ranking, masks) for ranking in rankings), strict=True)
    original, targets = _scores(model, image, target, extra, direction)
    empty = _scores(model, base, targets, extra, direction)[0]
    fractions = fractions[0]
    deletion, insertion = _curves(
        model, image, base, list(removals), len(fractions) - 1, targets, extra, direction, (original, empty)
    )
    return FaithfulnessCurves(
        fractions=fractions,
        deletion=deletion[0],
        insertion=insertion[0],
        deletion_auc=_trapezoid(deletion[0], fractions),
        insertion_auc=_trapezoid(insertion[0], fractions),
        random_deletion_auc=_random_auc(deletion, fractions, n_random),
        random_insertion_auc=_random_auc(insertion, fractions, n_random),
        unit=unit,
        order=order,
    )
