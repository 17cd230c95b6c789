"""Every trust score for every map of an explanation, in one call (what the pages show)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from models.tasks import task_of
from xai.explain import ExplanationSet
from xai.faithfulness.common import Target
from xai.faithfulness.deletion import FaithfulnessCurves, deletion_insertion
from xai.faithfulness.infidelity import INFIDELITY_NOISE_STD, infidelity_score
from xai.faithfulness.sensitivity import sensitivity_score

UnitImportance = Mapping[str, Any] | Callable[[np.ndarray], Any] | None


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
    task = task_of(model)
    if explanations.target_kind != task.target_kind:
        raise ValueError(
            f"explanations must explain a {task.target_kind} for this model, "
            f"got target_kind {explanations.target_kind!r}"
        )
    if not task.is_regression:
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
