"""One window through a model: the inputs it sees and what it says (no Streamlit).

* :func:`model_inputs` — a window's bars → the model's inputs (its image, and the regressor's closes).
* :func:`predict_window` — what the model's task makes of them: the classifier's
  :class:`~models.tasks.DayCall` (up-day probability), or the regressor's
  :class:`~models.tasks.Forecast` (next close, % change, alert; with the paper's offset correction
  beside it, from the card).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models.checkpoints import LoadedCheckpoint
from models.datasets import encode_images
from models.tasks import DayCall, Forecast

__all__ = ["DayCall", "Forecast", "model_inputs", "predict_inputs", "predict_window"]


def _window(ohlc: Any, length: int) -> np.ndarray:
    window = np.asarray(ohlc, dtype=np.float64)
    if window.ndim != 2 or window.shape != (length, 4):
        raise ValueError(f"ohlc must be a ({length}, 4) open/high/low/close window, got shape {window.shape}")
    if not np.isfinite(window).all() or (window <= 0).any():
        raise ValueError("ohlc must hold finite prices > 0")
    return window


def model_inputs(loaded: LoadedCheckpoint, ohlc: Any) -> tuple[torch.Tensor, ...]:
    """The model's inputs for one window: its ``(1, 1, S, S)`` float32 image, and for the regressor its
    ``(1, W)`` log10 closes.

    Args:
        loaded: the checkpoint (its spec decides the image and its size; its task the inputs).
        ohlc: ``(W, 4)`` the window's bars, W = the spec's ``sequence_length``.
    """
    window = _window(ohlc, loaded.spec.sequence_length)[None]
    image = torch.from_numpy(encode_images(window, loaded.spec))
    return loaded.task.window_inputs(loaded.spec, window, image)


def predict_window(loaded: LoadedCheckpoint, ohlc: Any) -> DayCall | Forecast:
    """What the model says about one window (eval mode, no gradients)."""
    inputs = model_inputs(loaded, ohlc)
    return predict_inputs(loaded, inputs, last_close=float(np.asarray(ohlc, dtype=np.float64)[-1, 3]))


def predict_inputs(loaded: LoadedCheckpoint, inputs: tuple[torch.Tensor, ...], *, last_close: float) -> Any:
    """:func:`predict_window` on inputs already made by :func:`model_inputs`; ``last_close`` the window's last close.

    Takes the shared model's lock: explanations in other sessions may have hooks on it.
    """
    return loaded.task.predict(loaded, inputs, last_close)
