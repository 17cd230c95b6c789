"""Many windows explained at once: the engine's batched passes, grouped by what each window explains.

One function shared by the alert checker (:mod:`alerts.check`) and the batch command
(:mod:`batch`): the classifier's windows go through :func:`~xai.explain.explain` in batches with
their own class each; the regressor explains one direction per call, so its windows are grouped by
direction (the way each forecast went, unless given) and each group batched. Every map is projected
onto the window's time axis (:func:`xai.profiles.time_profiles`), signed where the image allows and
as absolute mass (what the Evaluate page aggregates). With ``trust=True`` each batch's maps are
scored as the Ticker page's trust table scores one window's (:data:`TRUST_SETTINGS`): deletion and
insertion areas against random orders, and Captum's infidelity share — about 60× the maps' cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from xai.explain import explain
from xai.faithfulness import MethodScores, trust_scores
from xai.methods import ALL_METHODS
from xai.profiles import signed_profiles, time_profiles

#: Windows per batched pass (batch 64 costs a third per window of batch 1 on the CPU).
BATCH = 64
#: The per-window trust scores' settings: the Ticker page's trust table, less max-sensitivity
#: (it re-explains noisy copies of every window: another 5 × 4 explanations per window).
TRUST_SETTINGS = {"steps": 10, "n_random": 2, "include_sensitivity": False}
#: Trust score columns per method, and those shared by every method of a window.
TRUST_SCORES = ("deletion_auc", "insertion_auc", "infidelity_share")
SHARED_TRUST_SCORES = ("random_deletion_auc", "random_insertion_auc")


@dataclasses.dataclass(frozen=True)
class ManyExplained:
    """The maps of N windows.

    Attributes:
        maps: method key → ``(N, S, S)`` float32 map, in the windows' order.
        per_time: method key → ``(N, T)`` float64 time profile (signed for a candlestick).
        per_time_mass: method key → ``(N, T)`` float64 absolute mass per time step.
        trust: score name → method key → ``(N,)`` float64 (:data:`TRUST_SCORES`; the
            :data:`SHARED_TRUST_SCORES` under the key ``"random"``), empty unless asked.
        targets: ``(N,)`` int64 — the class (classifier) or direction (+1 / −1, regressor) explained.
        per_time_signed: whether the profiles are signed (candlestick) or mass (GADF).
    """

    maps: dict[str, np.ndarray]
    per_time: dict[str, np.ndarray]
    per_time_mass: dict[str, np.ndarray]
    trust: dict[str, dict[str, np.ndarray]]
    targets: np.ndarray
    per_time_signed: bool


def explain_many(
    model: nn.Module,
    images: torch.Tensor,
    extra: torch.Tensor | None,
    targets: Sequence[int] | np.ndarray,
    *,
    is_regression: bool,
    image_kind: str,
    n_steps: int,
    methods: Sequence[str] = ALL_METHODS,
    batch: int = BATCH,
    trust: bool = False,
) -> ManyExplained:
    """Explain ``images`` (N, 1, S, S) with their second input ``extra`` (N, W) or ``None``.

    Args:
        targets: per window, the classifier's class or the regressor's direction (+1 / −1).
        is_regression: the model's task is a regressor (one direction per engine call).
        image_kind, n_steps: for the time profiles.
        trust: also score every map (:data:`TRUST_SETTINGS`).
    """
    wanted = np.asarray(targets, dtype=np.int64)
    if wanted.shape != (len(images),):
        raise ValueError(f"targets must hold one class or direction per image ({len(images)}), got {wanted.shape}")
    if is_regression and not np.isin(wanted, (-1, 1)).all():
        raise ValueError(f"targets must be directions +1 or -1 for a regressor, got {sorted(set(wanted.tolist()))}")
    side = images.shape[-1]
    maps = {key: np.zeros((len(images), side, side), dtype=np.float32) for key in methods}
    scores: dict[str, dict[str, np.ndarray]] = {}
    if trust:
        scores = {name: {key: np.full(len(images), np.nan) for key in methods} for name in TRUST_SCORES}
        scores |= {name: {"random": np.full(len(images), np.nan)} for name in SHARED_TRUST_SCORES}
    groups = [(direction, np.flatnonzero(wanted == direction)) for direction in (1, -1)] if is_regression else [
        (None, np.arange(len(images)))
    ]  # fmt: skip
    for direction, chosen in groups:
        for start in range(0, len(chosen), batch):
            part = chosen[start : start + batch]
            part_extra = None if extra is None else extra[part]
            if direction is None:
                result = explain(
                    model, images[part], methods=methods, target=torch.as_tensor(wanted[part]),
                    additional_forward_args=part_extra,
                )  # fmt: skip
            else:
                result = explain(
                    model, images[part], methods=methods, additional_forward_args=part_extra, direction=direction
                )
            for key in methods:
                maps[key][part] = result.maps[key].attribution[:, 0]
            if trust:
                _score_into(
                    scores,
                    part,
                    trust_scores(model, images[part], result, additional_forward_args=part_extra, **TRUST_SETTINGS),
                )
    per_time = {key: np.asarray(time_profiles(maps[key], image_kind, n_steps)) for key in methods}
    mass = {key: np.asarray(time_profiles(maps[key], image_kind, n_steps, absolute=True)) for key in methods}
    return ManyExplained(
        maps=maps, per_time=per_time, per_time_mass=mass, trust=scores, targets=wanted,
        per_time_signed=signed_profiles(image_kind),
    )  # fmt: skip


def _score_into(
    scores: dict[str, dict[str, np.ndarray]], part: np.ndarray, batch_scores: dict[str, MethodScores]
) -> None:
    """Copy one batch's trust scores into the rows ``part`` of ``scores``."""
    for key, method_scores in batch_scores.items():
        for name in TRUST_SCORES:
            scores[name][key][part] = getattr(method_scores, name)
    for name in SHARED_TRUST_SCORES:  # the random orders are one reference for every method
        scores[name]["random"][part] = getattr(next(iter(batch_scores.values())), name)
