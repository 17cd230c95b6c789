"""Integrated Gradients from a flat window — the seventh, optional map.

Captum's ``IntegratedGradients`` needs a baseline: an input that "carries no information". Black
pixels are not a chart; the baseline here is the chart of the same window with every bar removed
in price space (:func:`data.edits.interpolate_bars`: flat at its first open, whose GADF is all
zeros and whose candlestick is one level line), drawn by the model's own encoder. The path runs
from that flat chart to the real one, image only; the regressor's closes stay the window's. By
completeness the map sums to the score's change from the flat chart (Captum's convergence delta
says how far the Riemann sum is from it). Not part of the fused engine: ``n_steps`` forward and
backward passes per window, under the model's lock.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients

from data.checks import check_int
from data.edits import interpolate_bars
from models.checkpoints import LoadedCheckpoint
from models.locks import eval_mode, model_lock
from xai.price_space.inputs import _windows, edited_inputs

#: Riemann steps of the path unless asked.
DEFAULT_STEPS = 32


@dataclasses.dataclass(frozen=True)
class FlatIntegratedGradients:
    """Integrated Gradients of ``B`` windows from their flat charts.

    Attributes:
        maps: ``(B, S, S) float64`` attribution per pixel of the model's image.
        delta: ``(B,)`` Captum's convergence delta (the sum of a map minus the score's change).
        n_steps: Riemann steps. seconds: wall time.
    """

    maps: np.ndarray
    delta: np.ndarray
    n_steps: int
    seconds: float


def flat_integrated_gradients(
    loaded: LoadedCheckpoint, ohlc: Any, explained: Any, *, n_steps: int = DEFAULT_STEPS
) -> FlatIntegratedGradients:
    """Integrated Gradients of ``(B, W, 4)`` windows' images from the charts of their flat windows.

    Args:
        loaded: the checkpoint.
        ohlc: ``(B, W, 4)`` windows.
        explained: ``(B,)`` the class (classifier) or the direction +1 / −1 (regressor) each explains.
        n_steps: Riemann steps (``>= 2``).
    """
    began = time.perf_counter()
    bars = _windows(loaded, ohlc)
    n_steps = check_int(n_steps, "n_steps", 2)
    chosen = np.asarray(explained, dtype=np.int64).reshape(-1)
    inputs = edited_inputs(loaded, bars)
    flat = edited_inputs(loaded, interpolate_bars(bars, np.ones(bars.shape[:2], dtype=bool)))
    extra = inputs[1] if len(inputs) > 1 else None
    if loaded.task.is_regression:  # the regressor's wrapper explains one direction per call
        out, deltas = np.empty((len(bars), *inputs[0].shape[2:])), np.empty(len(bars))
        for direction in np.unique(chosen):
            rows = np.flatnonzero(chosen == direction)
            out[rows], deltas[rows] = _attribute(
                loaded, inputs[0][rows], flat[0][rows], extra[rows], {"direction": int(direction)}, n_steps
            )
    else:
        out, deltas = _attribute(loaded, inputs[0], flat[0], extra, {"target": torch.from_numpy(chosen)}, n_steps)
    return FlatIntegratedGradients(maps=out, delta=deltas, n_steps=n_steps, seconds=time.perf_counter() - began)


def _attribute(
    loaded: LoadedCheckpoint,
    image: torch.Tensor,
    baseline: torch.Tensor,
    extra: torch.Tensor | None,
    explaining: dict[str, Any],
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrated Gradients of ``image`` from ``baseline`` for what ``explaining`` names (a direction or targets)."""
    model = loaded.model
    explained = loaded.task.explained_output(model, len(image), extra=extra, **explaining)
    with model_lock(model), eval_mode(model):
        attribution, delta = IntegratedGradients(explained.forward).attribute(
            image,
            baselines=baseline,
            target=explained.target,
            additional_forward_args=None if extra is None else (extra,),
            n_steps=n_steps,
            internal_batch_size=n_steps * len(image),
            return_convergence_delta=True,
        )
    return attribution[:, 0].detach().double().numpy(), delta.detach().double().numpy()
