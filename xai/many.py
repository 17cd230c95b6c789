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
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from xai.explain import ExplanationSet, explain
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


@dataclasses.dataclass(frozen=True)
class ExplainedBatch:
    """One batched pass of :func:`explain_batches`: the fields of :class:`ManyExplained` for the
    windows ``rows`` (positions in the images given), in that order; the time profiles computed
    when asked (:meth:`profiles`)."""

    rows: np.ndarray
    maps: dict[str, np.ndarray]
    trust: dict[str, dict[str, np.ndarray]]
    targets: np.ndarray
    outputs: np.ndarray | None
    image_kind: str
    n_steps: int

    def profiles(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Method ``key``'s ``(b, T)`` float64 time profiles: as :class:`ManyExplained`'s ``per_time``
        (signed for a candlestick) and ``per_time_mass`` (:func:`xai.profiles.time_profiles`)."""
        maps = self.maps[key]
        return (
            time_profiles(maps, self.image_kind, self.n_steps),
            time_profiles(maps, self.image_kind, self.n_steps, absolute=True),
        )


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
    """Explain ``images`` (N, 1, S, S) with their second input ``extra`` (N, W) or ``None``, every
    window's maps kept (:func:`explain_batches`, gathered).

    Args:
        targets: per window, the classifier's class or the regressor's direction (+1 / −1);
            ``None``: what the model calls, read from the engine's own forward pass (the predicted
            class, the way each forecast goes) — no pass of its own, no grouping.
        is_regression: the model's task is a regressor (one direction per engine call when given).
        image_kind, n_steps: for the time profiles.
        trust: also score every map (:data:`TRUST_SETTINGS`).
    """
    n, side = len(images), images.shape[-1]
    maps = {key: np.zeros((n, side, side), dtype=np.float32) for key in methods}
    per_time = {key: np.zeros((n, n_steps)) for key in methods}
    mass = {key: np.zeros((n, n_steps)) for key in methods}
    wanted = np.zeros(n, dtype=np.int64)
    outputs: np.ndarray | None = None
    scores: dict[str, dict[str, np.ndarray]] = {}
    if trust:
        scores = {name: {key: np.full(n, np.nan) for key in methods} for name in TRUST_SCORES}
        scores |= {name: {"random": np.full(n, np.nan)} for name in SHARED_TRUST_SCORES}
    for part in explain_batches(
        model, images, extra, targets, is_regression=is_regression, image_kind=image_kind, n_steps=n_steps,
        methods=methods, batch=batch, trust=trust,
    ):  # fmt: skip
        rows = part.rows
        wanted[rows] = part.targets
        if part.outputs is not None:
            if outputs is None:
                outputs = np.zeros((n, *part.outputs.shape[1:]), dtype=np.float32)
            outputs[rows] = part.outputs
        for key in methods:
            maps[key][rows] = part.maps[key]
            per_time[key][rows], mass[key][rows] = part.profiles(key)
        for name, by_method in part.trust.items():
            for key, values in by_method.items():
                scores[name][key][rows] = values
    return ManyExplained(
        maps=maps, per_time=per_time, per_time_mass=mass, trust=scores, targets=wanted, outputs=outputs,
        per_time_signed=signed_profiles(image_kind),
    )  # fmt: skip


def explain_batches(
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
) -> Iterator[ExplainedBatch]:
    """:func:`explain_many` one batched pass at a time, for a caller that writes each batch's maps
    away instead of holding every window's (the batch command): the same arguments; the
    batches come in the order they are explained (a regressor's given directions: grouped)."""
    follow = targets is None
    wanted = np.zeros(len(images), dtype=np.int64) if follow else np.asarray(targets, dtype=np.int64)
    if wanted.shape != (len(images),):
        raise ValueError(f"targets must hold one class or direction per image ({len(images)}), got {wanted.shape}")
    if is_regression and not follow and not np.isin(wanted, (-1, 1)).all():
        raise ValueError(f"targets must be directions +1 or -1 for a regressor, got {sorted(set(wanted.tolist()))}")
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
            maps = {key: result.maps[key].attribution[:, 0] for key in methods}
            yield ExplainedBatch(
                rows=part,
                maps=maps,
                trust=_batch_trust(model, images[part], part_extra, result, is_regression) if trust else {},
                targets=np.asarray(result.target, dtype=np.int64),
                outputs=None if result.output is None else np.asarray(result.output),
                image_kind=image_kind,
                n_steps=n_steps,
            )


def _batch_trust(
    model: nn.Module,
    images: torch.Tensor,
    extra: torch.Tensor | None,
    result: ExplanationSet,
    is_regression: bool,
) -> dict[str, dict[str, np.ndarray]]:
    """One batch's trust scores; a regressor's windows one direction at a time (a score explains one)."""
    n, methods = len(images), list(result.maps)
    scores = {name: {key: np.full(n, np.nan) for key in methods} for name in TRUST_SCORES}
    scores |= {name: {"random": np.full(n, np.nan)} for name in SHARED_TRUST_SCORES}
    groups = [np.flatnonzero(result.target == sign) for sign in (1, -1)] if is_regression else [np.arange(n)]
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
            rows,
            trust_scores(model, images[rows], subset, additional_forward_args=part_extra, **TRUST_SETTINGS),
        )
    return scores


def _score_into(
    scores: dict[str, dict[str, np.ndarray]], part: np.ndarray, batch_scores: dict[str, MethodScores]
) -> None:
    """Copy one batch's trust scores into the rows ``part`` of ``scores``."""
    for key, method_scores in batch_scores.items():
        for name in TRUST_SCORES:
            scores[name][key][part] = getattr(method_scores, name)
    for name in SHARED_TRUST_SCORES:  # the random orders are one reference for every method
        scores[name]["random"][part] = getattr(next(iter(batch_scores.values())), name)
