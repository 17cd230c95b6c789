"""Scores that say which map to trust: faithfulness of attribution maps (no Streamlit here).

Every map claims "these pixels drove the answer". Three scores test the claim against the
model itself, per input, so the dashboard can rank the five maps of one chart:

* :func:`deletion_insertion` — deletion and insertion curves (Petsiuk et al., 2018, RISE).
  Deletion removes the map's most important units first and watches the score fall (lower area
  is better); insertion starts from a blank image and puts the most important units back first
  (higher area is better). The same curves for random orders are the reference, so the UI can
  say "better than random by X".
* :func:`infidelity_score` — Captum's ``infidelity`` (Yeh et al., 2019): how well the map, read
  as a local linear model, predicts the output's change under Gaussian noise (lower is better).
* :func:`sensitivity_score` — Captum's ``sensitivity_max``: how much the map itself changes when
  the input moves a little (lower is more stable).
* :func:`trust_scores` — all of them for every map of an :class:`~xai.explain.ExplanationSet`.

The score explained — one definition, :func:`target_score`
----------------------------------------------------------
* the classifier (any model whose ``spec.task`` is not ``"ticker"``, returning ``(N, C)``
  logits): the softmax probability of the target class, by default the class the model predicts
  for the unperturbed input. The target is fixed once, on the original input, and kept for every
  perturbed copy: the curves ask "how sure is the model still of *that* class".
* the regressor (``model.spec.task == "ticker"``, called as ``model(image, log10_close)``): the
  signed predicted change :class:`~xai.explain.ForecastDirection` explains — up (``direction=+1``)
  or down (``-1``), in thousandths of log10 (the closes are never perturbed). It is read from
  :meth:`~models.architectures.CnnLstmRegressor.predicted_change`, not as ``forecast − last``:
  through the price level in float32 it would be rounded to about 2.4e-4 (measured: up to 1.1e-4
  off a float64 run, on scores of 0.08–0.18), as large as the whole output change that
  infidelity's noise causes; read directly it matches the float64 run to 1e-8.

Infidelity is a statement about the local linear behaviour of the very output the maps were
computed from, so it uses that output: the target class's *logit* (Captum's ``target`` on the
model's output, as :func:`~xai.explain.explain` does) and the same ``ForecastDirection``. Measured
against the probability, a perfect gradient of the logit would be charged for the softmax's
curvature and for the other class.

Baseline
--------
"Removed" means replaced by ``baseline`` (default ``0.0``). Zero is the encoders' background — the
blank candlestick raster — and the GADF of a flat window (all zeros): an image that carries no
information. Any constant or an ``(N, 1, S, S)`` image can be given instead.

Order and units
---------------
``order="positive"`` ranks units by the signed attribution (evidence *for* the target first — a
faithful map makes the deletion curve fall fastest); ``"absolute"`` by ``|attribution|``. Ties
keep the pixel (or unit) index order. Units are pixels (``units=None``: removed in ``steps``
near-equal chunks, ``round(k * P / steps)`` pixels after step ``k``) or time steps: a ``(G, S, S)``
bool array of masks from :func:`candlestick_units` or :func:`gadf_units` with per-unit scores
(e.g. :func:`~xai.time_projection.candlestick_time_importance` ``.per_bar``), one unit per step.
Masks may overlap (a GADF pixel stands for two minutes): removing a set of units removes the union
of their masks. The curves' x axis is the fraction of *units* removed. Areas are trapezoids over
that fraction; the random reference is the mean area over ``n_random`` seeded random orders.

Captum's metrics
----------------
Both expand each input ``n`` times with ``repeat_interleave`` (copies of input ``i`` are
consecutive) and expand ``target`` and ``additional_forward_args`` the same way, so the fixed
target and the regressor's closes line up with every perturbed copy (tests check both with models
whose answer changes if they did not). ``sensitivity_max`` hands the explanation function a tuple
of inputs on its first call and ``additional_forward_args`` as a tuple (both are unpacked here),
iterates over the original explanation as a tuple of tensors (so one is returned), and calls it
under ``torch.no_grad`` (gradients are switched back on around :func:`~xai.explain.explain`).
Perturbations come from a ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched),
so every score is deterministic.

Shared models: every forward pass runs under :func:`~xai.explain.model_lock` in eval mode
(:func:`~xai.explain._eval_mode`), and each module's own training flag is restored afterwards.
Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each message names the
parameter, the rule and the value received.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from data.images.candlestick import bar_columns
from data.images.gadf import gadf_pixel_spans
from xai.checks import check_choice, check_int
from xai.explain import ExplanationSet, ForecastDirection, GradCamOptions, _eval_mode, explain, model_lock
from xai.methods import ALL_METHODS, METHODS

__all__ = [
    "ORDERS",
    "FaithfulnessCurves",
    "MethodScores",
    "candlestick_units",
    "deletion_insertion",
    "gadf_units",
    "infidelity_score",
    "sensitivity_score",
    "target_score",
    "trust_scores",
]

#: Accepted ``order`` values of :func:`deletion_insertion`.
#: Infidelity's default noise: 1 % of the images' [-1, 1] range, a local question. Measured on 16
#: test days of the shipped classifier (infidelity share, 0 = the map predicts every output change,
#: 1 = none): at 0.02 Saliency 0.31, the other four 0.94–0.95; at 0.1 all five 0.87–0.95 (the
#: score no longer tells the maps apart); at 0.005 Saliency 0.08.
INFIDELITY_NOISE_STD = 0.02

ORDERS = ("positive", "absolute")
#: Images per forward pass: thousands of perturbed copies never sit in one batch.
BATCH_SIZE = 64

Target = int | np.ndarray | torch.Tensor | list[int] | tuple[int, ...] | None
UnitImportance = Mapping[str, Any] | Callable[[np.ndarray], Any] | None


# --- results -----------------------------------------------------------------


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


@dataclasses.dataclass(frozen=True, eq=False)
class MethodScores:
    """Every trust score of one method's map, per input (``(N,) float64`` arrays).

    Attributes:
        method: key in :data:`~xai.methods.METHODS`.
        deletion_auc, insertion_auc: areas of the map's curves (lower / higher is better).
        random_deletion_auc, random_insertion_auc: the same for random orders (shared by all
            methods of one call).
        infidelity: Captum's normalised infidelity, in squared output units (lower is better).
        infidelity_share: ``infidelity / E[(f(x) − f(x − I))²]`` under the same perturbations:
            ``1 − ρ²`` in ``[0, 1]`` (ρ the uncentred correlation of ``Iᵀφ`` with the output's
            change) — the share of the change the best-rescaled map fails to predict; 0 is
            perfect, 1 no better than an all-zero map; comparable across inputs and models (NaN
            where the output does not move).
        sensitivity: Captum's max-sensitivity (lower is more stable), or ``None`` when not asked.
        curves: the full :class:`FaithfulnessCurves`, for plotting.
    """

    method: str
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray
    random_deletion_auc: np.ndarray
    random_insertion_auc: np.ndarray
    infidelity: np.ndarray
    infidelity_share: np.ndarray
    sensitivity: np.ndarray | None
    curves: FaithfulnessCurves


# --- validation --------------------------------------------------------------


def _validate_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


def _validate_image(image: Any) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor (N, 1, S, S), got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 1 or image.shape[2] != image.shape[3] or image.shape[0] < 1:
        raise ValueError(f"image must have shape (N, 1, S, S) with N >= 1, got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"image must hold floats, got dtype {image.dtype}")
    return image.detach()


def _validate_attribution(attribution: Any, shape: torch.Size) -> np.ndarray:
    """Return ``attribution`` as ``(N, 1, S, S) float64`` NumPy."""
    if isinstance(attribution, torch.Tensor):
        attribution = attribution.detach().cpu().numpy()
    array = np.asarray(attribution)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"attribution must be an array of real numbers, got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"attribution must have the image's shape {tuple(shape)}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("attribution must be finite, got NaN or inf")
    return array.astype(np.float64, copy=False)


def _validate_direction(direction: Any) -> int:
    if isinstance(direction, bool) or direction not in (1, -1):
        raise ValueError(f"direction must be +1 (pushes the forecast up) or -1 (down), got {direction!r}")
    return int(direction)


def _is_regressor(model: nn.Module) -> bool:
    """The CNN-LSTM regressor (``spec.task == "ticker"``); any other model is a classifier."""
    return getattr(getattr(model, "spec", None), "task", None) == "ticker"


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _validate_model_args(
    model: nn.Module, image: torch.Tensor, target: Target, extra: Any, direction: Any
) -> tuple[torch.Tensor | None, int]:
    """Check the arguments that depend on the model kind; return the closes (or None) and the direction."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not _is_regressor(model):
        if extra is not None:
            raise ValueError("additional_forward_args is for the ticker regressor; the classifier takes the image only")
        return None, 1
    direction = _validate_direction(direction)
    if target is not None:
        raise ValueError(f"target is for the classifier; the regressor's output is chosen by direction, got {target!r}")
    if not isinstance(extra, torch.Tensor) or extra.ndim != 2 or extra.shape[0] != image.shape[0]:
        got = tuple(extra.shape) if isinstance(extra, torch.Tensor) else type(extra).__name__
        raise ValueError(
            f"additional_forward_args must hold the ({image.shape[0]}, W) log10 closes for the ticker regressor, "
            f"got {got}"
        )
    return extra.detach(), direction


def _class_targets(target: Target, n_inputs: int, n_classes: int) -> torch.Tensor:
    """``target`` as ``(N,) int64``: one class per input or one for all, each in ``[0, C)``."""
    array = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    if array.dtype.kind not in "iu":
        raise TypeError(f"target must be an int class index or one per input, got {target!r}")
    if array.ndim > 1:
        raise ValueError(f"target must be one class for all inputs or one per input (1-D), got {target!r}")
    array = array.reshape(-1).astype(np.int64)
    if len(array) == 1:
        array = np.repeat(array, n_inputs)
    if len(array) != n_inputs or (array < 0).any() or (array >= n_classes).any():
        raise ValueError(
            f"target must be a class in [0, {n_classes}), one per input ({n_inputs}) or one for all, got {target!r}"
        )
    return torch.from_numpy(array)


# --- the score explained -----------------------------------------------------


def _scores(
    model: nn.Module,
    image: torch.Tensor,
    target: Target,
    extra: torch.Tensor | None,
    direction: int,
    batch_size: int = BATCH_SIZE,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Target scores ``(N,)`` and the class targets used ``(N,)`` (``None`` for the regressor).

    Arguments already validated; forward passes in chunks of ``batch_size`` under the model's lock.
    """
    regressor = _is_regressor(model)
    outputs = []
    with model_lock(model):
        device = _device(model)
        forward = ForecastDirection(model, direction) if regressor else model
        with _eval_mode(model, device), torch.no_grad():
            for start in range(0, len(image), batch_size):
                chunk = image[start : start + batch_size].to(device)
                args = (chunk,) if extra is None else (chunk, extra[start : start + batch_size].to(device))
                outputs.append(forward(*args).float().cpu())
    output = torch.cat(outputs)
    if regressor:
        return output[:, 0], None
    if output.ndim != 2:
        raise ValueError(f"model must return (N, C) logits, got shape {tuple(output.shape)}")
    targets = output.argmax(dim=1) if target is None else _class_targets(target, len(image), output.shape[1])
    probabilities = torch.softmax(output, dim=1)
    return probabilities.gather(1, targets[:, None])[:, 0], targets


def target_score(
    model: nn.Module,
    image: torch.Tensor,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """The score the maps explain, per input, under ``torch.no_grad`` in eval mode.

    Args:
        model: the classifier (``(N, C)`` logits; any model whose ``spec.task`` is not
            ``"ticker"``) or the CNN-LSTM regressor (``spec.task == "ticker"``).
        image: ``(N, 1, S, S)`` float images (moved to the model's device in chunks).
        target: classifier only — class per input (int or ``(N,)``); default: the class the model
            predicts for each ``image``.
        additional_forward_args: regressor only — ``(N, W)`` log10 closes.
        direction: regressor only — ``+1`` scores "the forecast goes up", ``-1`` "down".
        batch_size: images per forward pass.

    Returns:
        ``(N,) float32`` CPU tensor: the softmax probability of the target class (classifier), or
        ``ForecastDirection``'s signed predicted change (regressor; for the CNN-LSTM read from its
        head, without float32 rounding through the price level — module docstring).

    Raises:
        TypeError, ValueError: bad image, arguments that do not fit the model, a bad target.
    """
    image = _validate_image(image)
    batch_size = check_int(batch_size, "batch_size", 1)
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    return _scores(model, image, target, extra, direction, batch_size)[0]


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


# --- Captum's metrics --------------------------------------------------------


def _explained_output(
    model: nn.Module, image: torch.Tensor, target: Target, extra: torch.Tensor | None, direction: int
) -> tuple[nn.Module, int | torch.Tensor]:
    """The output the maps were computed from, and Captum's ``target`` on it.

    Classifier: the model's logits and the class per input (default: predicted). Regressor: its
    signed change (:class:`~xai.explain.ForecastDirection`'s value) and output 0.
    """
    if _is_regressor(model):
        return ForecastDirection(model, direction), 0
    return model, _scores(model, image, target, None, direction)[1]


def _samples_per_batch(n_inputs: int, n_samples: int, batch_size: int = BATCH_SIZE) -> int:
    """Captum's ``max_examples_per_batch``: whole copies of the batch, between N and N·n_samples."""
    return n_inputs * max(1, min(n_samples, batch_size // n_inputs))


def infidelity_score(
    model: nn.Module,
    image: torch.Tensor,
    attribution: np.ndarray | torch.Tensor,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    n_perturb_samples: int = 16,
    noise_std: float = INFIDELITY_NOISE_STD,
    seed: int = 0,
) -> np.ndarray:
    """Captum's normalised infidelity of a map, per input.

    ``E_I[(β · Iᵀφ − (f(x) − f(x − I)))²]`` over Gaussian perturbations ``I ~ N(0, noise_std²)``
    per pixel (perturbed input ``x − I``, Captum's convention for local maps such as saliency),
    with Captum's ``normalize=True``: ``β`` is the best scalar for each input, so maps in
    different units compare. ``f`` is the output the maps explain (the target class's logit, or
    the regressor's signed change; module docstring). A map equal to the gradient of a linear
    ``f`` scores 0.

    Args:
        model, image, target, additional_forward_args, direction: as for :func:`target_score`.
        attribution: ``(N, 1, S, S)`` the map of ``image``.
        n_perturb_samples: ``>= 1`` perturbations per input.
        noise_std: ``> 0`` the noise's standard deviation (images lie in ``[-1, 1]``); default
            :data:`INFIDELITY_NOISE_STD`.
        seed: seeds the noise (a private generator; the global RNG is untouched).

    Returns:
        ``(N,) float64``, in squared output units (lower is better).
    """
    image = _validate_image(image)
    maps = torch.from_numpy(_validate_attribution(attribution, image.shape)).to(image.dtype)
    n_samples = check_int(n_perturb_samples, "n_perturb_samples", 1)
    noise_std = _validate_positive(noise_std, "noise_std")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    forward, captum_target = _explained_output(model, image, target, extra, direction)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype).to(inputs.device) * noise_std
        return noise, inputs - noise

    with model_lock(model):
        device = _device(model)
        if isinstance(captum_target, torch.Tensor):
            captum_target = captum_target.to(device)
        with _eval_mode(model, device):
            values = infidelity(
                forward,
                perturb,
                image.to(device),
                maps.to(device),
                additional_forward_args=None if extra is None else extra.to(device),
                target=captum_target,
                n_perturb_samples=n_samples,
                max_examples_per_batch=_samples_per_batch(len(image), n_samples),
                normalize=True,
            )
    return values.detach().double().cpu().numpy()


def sensitivity_score(
    model: nn.Module,
    image: torch.Tensor,
    method: str,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    perturb_radius: float = 0.02,
    n_perturb_samples: int = 8,
    seed: int = 0,
    gradcam: GradCamOptions | None = None,
) -> np.ndarray:
    """Captum's max-sensitivity of one method, per input.

    The largest ``‖φ(x + ε) − φ(x)‖ / ‖φ(x)‖`` (Frobenius norms; ``‖φ(x)‖ = 0`` counts as 1) over
    ``n_perturb_samples`` uniform perturbations ``ε ∈ [−perturb_radius, perturb_radius]`` per pixel,
    where ``φ`` is :func:`~xai.explain.explain` of ``method`` with the target fixed to the original
    input's (class, or direction) and the regressor's closes kept per input.

    Args:
        model, image, target, additional_forward_args, direction: as for :func:`target_score`.
        method: a key of :data:`~xai.methods.METHODS`.
        perturb_radius: ``> 0`` half-width of the uniform noise.
        n_perturb_samples: ``>= 1`` perturbations per input.
        seed: seeds the noise (a private generator).
        gradcam: Grad-CAM options, as the maps being scored were made.

    Returns:
        ``(N,) float64`` (0: the map does not move; lower is more stable).
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {ALL_METHODS}, got {method!r}")
    image = _validate_image(image)
    radius = _validate_positive(perturb_radius, "perturb_radius")
    n_samples = check_int(n_perturb_samples, "n_perturb_samples", 1)
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    kwargs: dict[str, Any] = {}
    if extra is None:
        kwargs["target"] = _scores(model, image, target, None, direction)[1]
    else:
        kwargs["additional_forward_args"] = extra

    def perturb(inputs: torch.Tensor) -> torch.Tensor:
        noise = (torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype) * 2 - 1) * radius
        return inputs + noise.to(inputs.device)

    def explanation(inputs: Any, target: Any = None, additional_forward_args: Any = None) -> tuple[torch.Tensor]:
        images = inputs[0] if isinstance(inputs, tuple) else inputs
        closes = additional_forward_args
        closes = closes[0] if isinstance(closes, tuple) else closes
        with torch.enable_grad():  # Captum calls this under no_grad
            result = explain(
                model,
                images,
                methods=[method],
                target=target,
                additional_forward_args=closes,
                direction=direction,
                gradcam=gradcam,
            )
        # a tuple: Captum iterates over the original explanation as a tuple of tensors
        return (torch.from_numpy(result.maps[method].attribution),)

    values = sensitivity_max(
        explanation,
        image,
        perturb_func=perturb,
        n_perturb_samples=n_samples,
        max_examples_per_batch=_samples_per_batch(len(image), n_samples),
        **kwargs,
    )
    return values.detach().double().cpu().numpy()


# --- one call for the UI -----------------------------------------------------


def _importance_for(unit_importance: UnitImportance, method: str, attribution: np.ndarray) -> Any:
    if unit_importance is None:
        return None
    if isinstance(unit_importance, Mapping):
        if method not in unit_importance:
            raise ValueError(f"unit_importance must hold every method's (N, G) array, {method!r} is missing")
        return unit_importance[method]
    if callable(unit_importance):
        return unit_importance(attribution)
    raise TypeError(
        f"unit_importance must be a mapping method → (N, G) or a callable map → (N, G), "
        f"got {type(unit_importance).__name__}"
    )


def _explained_target(model: nn.Module, explanations: Any, direction: int | None) -> tuple[Target, int]:
    """The classifier's fixed classes (or ``None``) and the direction, from ``explanations``."""
    if not isinstance(explanations, ExplanationSet):
        raise TypeError(f"explanations must be an xai.explain.ExplanationSet, got {type(explanations).__name__}")
    regressor = _is_regressor(model)
    expected_kind = "direction" if regressor else "class"
    if explanations.target_kind != expected_kind:
        raise ValueError(
            f"explanations must explain a {expected_kind} for this model, got target_kind {explanations.target_kind!r}"
        )
    if not regressor:
        return np.asarray(explanations.target, dtype=np.int64), 1
    explained = int(explanations.target[0])
    if direction is not None and direction != explained:
        raise ValueError(f"direction must match the explanations' direction ({explained:+d}), got {direction!r}")
    return None, explained


def trust_scores(
    model: nn.Module,
    image: torch.Tensor,
    explanations: ExplanationSet,
    *,
    additional_forward_args: torch.Tensor | None = None,
    direction: int | None = None,
    units: np.ndarray | None = None,
    unit_importance: UnitImportance = None,
    include_sensitivity: bool = True,
    steps: int = 20,
    baseline: float | np.ndarray | torch.Tensor = 0.0,
    order: str = "positive",
    n_random: int = 4,
    infidelity_samples: int = 16,
    noise_std: float = INFIDELITY_NOISE_STD,
    sensitivity_samples: int = 8,
    perturb_radius: float = 0.02,
    seed: int = 0,
) -> dict[str, MethodScores]:
    """Every trust score for every map of ``explanations``.

    Args:
        model, image, additional_forward_args: as passed to :func:`~xai.explain.explain`.
        explanations: the maps of ``image``; its ``target`` fixes the classifier's class (and the
            regressor's direction), its ``gradcam`` options are reused for sensitivity.
        direction: regressor only; default the explanations' direction (a different one is an
            error).
        units, baseline, order, steps, n_random, seed: as for :func:`deletion_insertion` (the
            random reference is computed once and shared by all methods).
        unit_importance: with ``units``: a mapping method → ``(N, G)``, or a callable
            ``(N, 1, S, S)`` map → ``(N, G)`` (e.g. ``lambda m: candlestick_time_importance(m,
            50).per_bar``); default: each map summed over each unit.
        include_sensitivity: compute max-sensitivity (re-explains ``sensitivity_samples`` noisy
            copies per input and method — the costliest score).
        infidelity_samples, noise_std: for :func:`infidelity_score` (every map and the
            ``infidelity_share`` scale see the same perturbations).
        sensitivity_samples, perturb_radius: for :func:`sensitivity_score`.

    Returns:
        method key → :class:`MethodScores`, in the order of ``explanations.maps``.
    """
    target, direction = _explained_target(model, explanations, direction)
    common = {"target": target, "additional_forward_args": additional_forward_args, "direction": direction}
    infidelity_kwargs = {"n_perturb_samples": infidelity_samples, "noise_std": noise_std, "seed": seed, **common}
    # E[(f(x) − f(x − I))²] under the very perturbations every map is scored with (same seed)
    change_power = infidelity_score(model, image, np.zeros(tuple(image.shape)), **infidelity_kwargs)
    scores: dict[str, MethodScores] = {}
    reference: FaithfulnessCurves | None = None
    for key, entry in explanations.maps.items():
        curves = deletion_insertion(
            model,
            image,
            entry.attribution,
            units=units,
            unit_importance=_importance_for(unit_importance, key, entry.attribution),
            steps=steps,
            baseline=baseline,
            order=order,
            n_random=n_random if reference is None else 0,
            seed=seed,
            **common,
        )
        if reference is None:
            reference = curves
        curves = dataclasses.replace(  # random orders do not depend on the map: one reference for all
            curves,
            random_deletion_auc=reference.random_deletion_auc,
            random_insertion_auc=reference.random_insertion_auc,
        )
        infidelity = infidelity_score(model, image, entry.attribution, **infidelity_kwargs)
        sensitivity = None
        if include_sensitivity:
            sensitivity = sensitivity_score(
                model,
                image,
                key,
                perturb_radius=perturb_radius,
                n_perturb_samples=sensitivity_samples,
                seed=seed,
                gradcam=explanations.gradcam,
                **common,
            )
        scores[key] = MethodScores(
            method=key,
            deletion_auc=curves.deletion_auc,
            insertion_auc=curves.insertion_auc,
            random_deletion_auc=curves.random_deletion_auc,
            random_insertion_auc=curves.random_insertion_auc,
            infidelity=infidelity,
            infidelity_share=np.divide(
                infidelity, change_power, out=np.full_like(infidelity, np.nan), where=change_power > 0
            ),
            sensitivity=sensitivity,
            curves=curves,
        )
    return scores
