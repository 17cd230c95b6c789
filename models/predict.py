"""One window through a model: the inputs it sees and what it says (no Streamlit).

* :func:`model_inputs` — a window's bars → the model's image (and the regressor's closes).
* :func:`predict_window` — the NIFTY classifier's up-day probability, or the ticker regressor's
  next close, % change and alert (with the paper's offset correction beside it, from the card).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from models.architectures import LOG10_SCALE
from models.checkpoints import LoadedCheckpoint
from models.datasets import encode_images
from models.evaluation import OffsetCorrection
from models.locks import model_lock


@dataclasses.dataclass(frozen=True)
class DayCall:
    """The classifier on one day: ``probability_up`` in [0, 1] and the predicted class (1 = up)."""

    probability_up: float
    predicted_up: bool

    def decided_up(self, threshold: float = 0.5) -> bool:
        """Up when ``probability_up >= threshold``."""
        return self.probability_up >= threshold


@dataclasses.dataclass(frozen=True)
class Forecast:
    """The regressor on one window.

    Attributes:
        last_close: the window's last close.
        forecast_close: the predicted next close.
        pct_change: ``100 · (forecast / last − 1)``.
        corrected_close, corrected_pct_change: the same with the card's offset correction
            (the paper's formula), or ``None`` when the card has none.
    """

    last_close: float
    forecast_close: float
    pct_change: float
    corrected_close: float | None
    corrected_pct_change: float | None

    def change(self, corrected: bool = False) -> float:
        """The % change the alert compares: corrected when asked and available."""
        if corrected and self.corrected_pct_change is not None:
            return self.corrected_pct_change
        return self.pct_change

    def alert(self, threshold_pct: float, corrected: bool = False) -> bool:
        """Does the predicted move reach ``threshold_pct`` (> 0) in either direction?"""
        if not (isinstance(threshold_pct, (int, float)) and math.isfinite(threshold_pct) and threshold_pct > 0):
            raise ValueError(f"threshold_pct must be a finite number > 0, got {threshold_pct!r}")
        return abs(self.change(corrected)) >= threshold_pct


def _window(ohlc: Any, length: int) -> np.ndarray:
    window = np.asarray(ohlc, dtype=np.float64)
    if window.ndim != 2 or window.shape != (length, 4):
        raise ValueError(f"ohlc must be a ({length}, 4) open/high/low/close window, got shape {window.shape}")
    if not np.isfinite(window).all() or (window <= 0).any():
        raise ValueError("ohlc must hold finite prices > 0")
    return window


def model_inputs(loaded: LoadedCheckpoint, ohlc: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(1, 1, S, S)`` float32 image of the window, and for the regressor its ``(1, W)`` log10 closes.

    Args:
        loaded: the checkpoint (its spec decides the image and its size).
        ohlc: ``(W, 4)`` the window's bars, W = the spec's ``sequence_length``.
    """
    window = _window(ohlc, loaded.spec.sequence_length)
    image = torch.from_numpy(encode_images(window[None], loaded.spec))
    if loaded.spec.task == "nifty":
        return image, None
    return image, torch.from_numpy(np.log10(window[None, :, 3]).astype(np.float32))


def predict_window(loaded: LoadedCheckpoint, ohlc: Any) -> DayCall | Forecast:
    """What the model says about one window (eval mode, no gradients)."""
    image, closes = model_inputs(loaded, ohlc)
    return predict_inputs(loaded, image, closes, last_close=float(np.asarray(ohlc, dtype=np.float64)[-1, 3]))


def predict_inputs(
    loaded: LoadedCheckpoint, image: torch.Tensor, closes: torch.Tensor | None, *, last_close: float
) -> DayCall | Forecast:
    """:func:`predict_window` on inputs already made by :func:`model_inputs`; ``last_close`` the window's last close."""
    model = loaded.model
    with model_lock(model), torch.no_grad():  # explanations in other sessions may have hooks on it
        if closes is None:
            probability = float(torch.softmax(model(image), dim=1)[0, 1])
            return DayCall(probability_up=probability, predicted_up=probability >= 0.5)
        change = float(model.predicted_change(image, closes)[0])  # exact, not through the price level
    predicted_log10 = math.log10(last_close) + change / LOG10_SCALE
    forecast_close = 10.0**predicted_log10
    correction = loaded.card.get("metrics", {}).get("offset_correction")
    corrected_close = corrected_pct = None
    if correction:
        fitted = OffsetCorrection.from_dict({key: correction[key] for key in ("gap_avg", "deviation", "sign")})
        corrected_log10 = float(fitted.apply([predicted_log10])[0])
        corrected_close = 10.0**corrected_log10
        corrected_pct = 100.0 * (corrected_close / last_close - 1.0)
    return Forecast(
        last_close=last_close,
        forecast_close=forecast_close,
        pct_change=100.0 * (forecast_close / last_close - 1.0),
        corrected_close=corrected_close,
        corrected_pct_change=corrected_pct,
    )
