"""Bars → the model's inputs, and the score its maps explain, for many (edited) windows at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models.checkpoints import LoadedCheckpoint
from models.datasets import encode_images
from xai.faithfulness import target_score

#: Windows per forward pass of :func:`window_scores` (a 10-step curve of five maps and two random
#: orders is 128 windows: one pass).
SCORE_BATCH = 256


def _windows(loaded: LoadedCheckpoint, ohlc: Any) -> np.ndarray:
    bars = np.asarray(ohlc, dtype=np.float64)
    length = loaded.spec.sequence_length
    if bars.ndim != 3 or bars.shape[1:] != (length, 4):
        raise ValueError(f"ohlc must be (B, {length}, 4) open/high/low/close windows, got shape {bars.shape}")
    if not np.isfinite(bars).all() or (bars <= 0).any():
        raise ValueError("ohlc must hold finite prices > 0")
    return bars


def edited_inputs(loaded: LoadedCheckpoint, ohlc: Any) -> tuple[torch.Tensor, ...]:
    """The model's inputs for ``(B, W, 4)`` bars: the ``(B, 1, S, S)`` image of the spec's kind, and
    for the regressor the ``(B, W)`` log10 closes of the same bars."""
    bars = _windows(loaded, ohlc)
    images = torch.from_numpy(encode_images(bars, loaded.spec))
    return loaded.task.window_inputs(loaded.spec, bars, images)


def window_scores(loaded: LoadedCheckpoint, ohlc: Any, explained: Any) -> np.ndarray:
    """``(B,) float64``: the score the maps explain, for each of ``(B, W, 4)`` bars.

    Args:
        loaded: the checkpoint.
        ohlc: ``(B, W, 4)`` windows (edited or not).
        explained: ``(B,)`` what each window's maps explain — the class (classifier) or the
            direction +1 / −1 (regressor), as :attr:`xai.explain.ExplanationSet.target` holds it.

    Returns:
        P(explained class), or the predicted change times the direction (thousandths of log10;
        :func:`xai.faithfulness.target_score`).
    """
    inputs = edited_inputs(loaded, ohlc)
    extra = inputs[1] if len(inputs) > 1 else None
    chosen = np.asarray(explained, dtype=np.int64).reshape(-1)
    if len(chosen) != len(inputs[0]):
        raise ValueError(f"explained must hold one target per window ({len(inputs[0])}), got {len(chosen)}")
    if loaded.task.is_regression:
        change = target_score(loaded.model, inputs[0], additional_forward_args=extra, batch_size=SCORE_BATCH)
        return change.double().numpy() * chosen
    score = target_score(
        loaded.model, inputs[0], target=torch.from_numpy(chosen), additional_forward_args=extra, batch_size=SCORE_BATCH
    )
    return score.double().numpy()
