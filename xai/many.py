"""Many windows explained at once: the engine's batched passes, and what each window's model called.

One function shared by the alert checker (:mod:`alerts.check`) and the batch command
(:mod:`batch`). Without targets, each batch goes through :func:`~xai.explain.explain` once and
explains what the model calls — the predicted class, the way each forecast goes — read from the
engine's own forward pass, which also gives the answers (``outputs``). With targets, the
classifier's windows are explained with their own class each, and the regressor's (one direction per
engine call) grouped by direction and each group batched. Every map is projected
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

from xai.explain import Explanation, ExplanationSet, explain
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
        outputs: ``(N, K)`` float32 what the explained forward returned in the engine's own pass (the
            classifier's logits, the regressor's ``direction · change``; see
            :meth:`models.tasks.base.Task.answers`).
        per_time_signed: whether the profiles are signed (candlestick) or mass (GADF).
    """

    maps: dict[str, np.ndarray]
    per_time: dict[str, np.ndarray]
    per_time_mass: dict[str, np.ndarray]
    trust: dict[str, dict[str, np.ndarray]]
    targets: np.ndarray
    outputs: np.ndarray | None
    per_time_signed: bool


def explain_many(
    model: nn.Module,
    images: torch.Tensor,
    extra: torch.Tensor | None,
    targets: Sequence[int] | np.ndarray | None,
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
        targets: per window, the classifier's class or the regressor's direction (+1 / −1);
            ``None``: what the model calls, read from the engine's own forward pass (the predicted
            class, the way each forecast goes) — no pass of its own, no grouping.
        is_regression: the model's task is a regressor (one direction per engine call when given).
        image_kind, n_steps: for the time profiles.
        trust: also score every map (:data:`TRUST_SETTINGS`).
    """
    follow = targets is None
    wanted = np.zeros(len(images), dtype=np.int64) if follow else np.asarray(targets, dtype=np.int64)
    if wanted.shape != (len(images),):
        raise ValueError(f"targets must hold one class or direction per image ({len(images)}), got {wanted.shape}")
    if is_regression and not follow and not np.isin(wanted, (-1, 1)).all():
        raise ValueError(f"targets must be directions +1 or -1 for a regressor, got {sorted(set(wanted.tolist()))}")
    side = images.shape[-1]
    maps = {key: np.zeros((len(images), side, side), dtype=np.float32) for key in methods}
    per_time = {key: np.zeros((len(images), n_steps)) for key in methods}
    mass = {key: np.zeros((len(images), n_steps)) for key in methods}
    outputs: np.ndarray | None = None
    scores: dict[str, dict[str, np.ndarray]] = {}
    if trust:
        scores = {name: {key: np.full(len(images), np.nan) for key in methods} for name in TRUST_SCORES}
        scores |= {name: {"random": np.full(len(images), np.nan)} for name in SHARED_TRUST_SCORES}
    if follow or not is_regression:
        groups: list[tuple[int | None, np.ndarray]] = [(None, np.arange(len(images)))]
    else:
        groups = [(direction, np.flatnonzero(wanted == direction)) for direction in (1, -1)]
    for direction, chosen in groups:
        for start in range(0, len(chosen), batch):
            part = chosen[start : start + batch]
            part_extra = None if extra is None else extra[part]
            if is_regression:  # None: each window's own direction, from the engine's forward pass
                result = explain(
                    model, images[part], methods=methods, additional_forward_args=part_extra, direction=direction
                )
            else:
                result = explain(
                    model, images[part], methods=methods, additional_forward_args=part_extra,
                    target=None if follow else torch.as_tensor(wanted[part]),
                )  # fmt: skip
            wanted[part] = result.target
            if result.output is not None:
                if outputs is None:
                    outputs = np.zeros((len(images), *result.output.shape[1:]), dtype=np.float32)
                outputs[part] = result.output
            for key in methods:  # projected batch by batch: the float64 copies stay in the cache
                maps[key][part] = attribution = result.maps[key].attribution[:, 0]
                per_time[key][part] = time_profiles(attribution, image_kind, n_steps)
                mass[key][part] = time_profiles(attribution, image_kind, n_steps, absolute=True)
            if trust:
                _trust_into(scores, part, model, images[part], part_extra, result, is_regression)
    return ManyExplained(
        maps=maps, per_time=per_time, per_time_mass=mass, trust=scores, targets=wanted, outputs=outputs,
        per_time_signed=signed_profiles(image_kind),
    )  # fmt: skip


def _trust_into(
    scores: dict[str, dict[str, np.ndarray]],
    part: np.ndarray,
    model: nn.Module,
    images: torch.Tensor,
    extra: torch.Tensor | None,
    result: ExplanationSet,
    is_regression: bool,
) -> None:
    """Score one batch's maps; a regressor's windows one direction at a time (a score explains one)."""
    groups = [np.flatnonzero(result.target == sign) for sign in (1, -1)] if is_regression else [np.arange(len(part))]
    for rows in (rows for rows in groups if len(rows)):
        subset = dataclasses.replace(
            result,
            maps={
                key: dataclasses.replace(entry, attribution=entry.attribution[rows])
                for key, entry in result.maps.items()
            },
            target=result.target[rows],
        )
        part_extra = None if extra is None else extra[rows]
        _score_into(
            scores,
            part[rows],
            trust_scores(model, images[rows], subset, additional_forward_args=part_extra, **TRUST_SETTINGS),
        )


def _rows_of(entry: Explanation, rows: np.ndarray) -> Explanation:
    layer_map = None if entry.layer_map is None else entry.layer_map[rows]
    return dataclasses.replace(entry, attribution=entry.attribution[rows], layer_map=layer_map)


def _score_into(
    scores: dict[str, dict[str, np.ndarray]], part: np.ndarray, batch_scores: dict[str, MethodScores]
) -> None:
    """Copy one batch's trust scores into the rows ``part`` of ``scores``."""
    for key, method_scores in batch_scores.items():
        for name in TRUST_SCORES:
            scores[name][key][part] = getattr(method_scores, name)
    for name in SHARED_TRUST_SCORES:  # the random orders are one reference for every method
        scores[name]["random"][part] = getattr(next(iter(batch_scores.values())), name)
