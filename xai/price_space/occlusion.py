"""Occlusion in time: Captum's ``FeatureAblation`` over bars or minutes, removed in price space.

Captum perturbs a ``(B, W)`` tensor of ones — bar ``t`` present — with one feature per bar
(candlestick) or per minute (GADF), or per ``group`` consecutive steps; the forward function
removes the absent steps from the bars (:func:`data.edits.interpolate_bars`: the straight line
through their kept neighbours), draws the model's inputs again (:func:`edited_inputs`) and returns
the score the maps explain. Its attribution for step ``t`` is ``score(window) − score(window
without t)``: how much the model's answer owes to that bar having happened as it did. Every
ablated window of the batch goes through the model in one pass (``perturbations_per_eval``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from captum.attr import FeatureAblation

from data.checks import check_int
from data.edits import interpolate_bars
from models.checkpoints import LoadedCheckpoint
from xai.price_space.inputs import _windows, window_scores


@dataclasses.dataclass(frozen=True)
class Occlusion:
    """Occlusion in time of ``B`` windows.

    Attributes:
        per_time: ``(B, W) float64`` score of the window minus its score without each step (> 0:
            the step supported the explained answer).
        original: ``(B,)`` each window's score.
        group: consecutive steps removed together.
        windows_scored: edited windows the model scored (B · (W / group)).
        seconds: wall time.
    """

    per_time: np.ndarray
    original: np.ndarray
    group: int
    windows_scored: int
    seconds: float


def occlusion_in_time(loaded: LoadedCheckpoint, ohlc: Any, explained: Any, *, group: int = 1) -> Occlusion:
    """Occlude each bar (or ``group`` of them) of ``(B, W, 4)`` windows in price space.

    Args:
        loaded: the checkpoint.
        ohlc: ``(B, W, 4)`` windows.
        explained: ``(B,)`` the class or direction each window's maps explain.
        group: steps per feature (1: every bar or minute alone).
    """
    began = time.perf_counter()
    bars = _windows(loaded, ohlc)
    n_windows, n_steps = bars.shape[:2]
    group = check_int(group, "group", 1)
    if group > n_steps // 2:
        raise ValueError(f"group must be at most half the window ({n_steps // 2} steps), got {group}")
    chosen = torch.as_tensor(np.asarray(explained, dtype=np.int64).reshape(-1))
    seen: dict[str, Any] = {"windows": 0, "original": None}

    def forward(present: torch.Tensor, windows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        edited = interpolate_bars(windows.numpy(), present.numpy() < 0.5)
        scores = window_scores(loaded, edited, targets.numpy())
        if seen["original"] is None:  # Captum's first call is the windows as they are
            seen["original"] = scores
        seen["windows"] += len(edited)
        return torch.from_numpy(scores)

    features = torch.arange(n_steps) // group
    n_features = int(features[-1]) + 1
    present = torch.ones(n_windows, n_steps, dtype=torch.float64)
    attribution = FeatureAblation(forward).attribute(
        present,
        baselines=0.0,
        additional_forward_args=(torch.tensor(bars), chosen),
        feature_mask=features[None].expand(n_windows, n_steps),
        perturbations_per_eval=n_features,
    )
    return Occlusion(
        per_time=attribution.double().numpy(),
        original=np.asarray(seen["original"]),
        group=group,
        windows_scored=seen["windows"] - n_windows,
        seconds=time.perf_counter() - began,
    )
