"""One window explained, ready for a page: the maps, the image they sit on, and their time profiles.

:func:`explain_window` runs the engine on one window of bars and projects every map back onto
the window's time axis, with the rule that suits the image:

* candlestick: the signed attribution per bar (:func:`~xai.time_projection.candlestick_time_importance`,
  summed over each bar's pixel columns) — positive bars pushed the answer, negative ones held it back;
* GADF: the absolute attribution mass per minute (:func:`~xai.time_projection.gadf_time_importance`
  on ``|map|``, every minute weighed by one pixel line, :func:`~xai.aggregate.equalise_gadf`) —
  signed GADF profiles cancel, since the GADF is antisymmetric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.checkpoints import LoadedCheckpoint
from models.predict import DayCall, Forecast, model_inputs, predict_inputs
from xai.aggregate import equalise_gadf
from xai.explain import ExplanationSet, GradCamOptions, explain
from xai.methods import ALL_METHODS
from xai.time_projection import candlestick_time_importance, gadf_time_importance


@dataclasses.dataclass(frozen=True)
class WindowExplanation:
    """A window's prediction and maps.

    Attributes:
        prediction: :class:`~models.predict.DayCall` or :class:`~models.predict.Forecast`.
        explanations: the engine's result for the one input.
        image: (S, S) float32 the model's input image.
        image_kind: ``"candlestick"`` or ``"gadf"``.
        per_time: method key → (T,) float64 time profile (see the module docstring).
        per_time_signed: whether ``per_time`` is signed (candlestick) or mass (GADF).
        direction: the regressor's explained direction (+1 up, −1 down), or ``None``.
        closes: (1, W) float32 the regressor's log10 closes (its second input), or ``None``.
    """

    prediction: DayCall | Forecast
    explanations: ExplanationSet
    image: np.ndarray
    image_kind: str
    per_time: dict[str, np.ndarray]
    per_time_signed: bool
    direction: int | None
    closes: np.ndarray | None


def explain_window(
    loaded: LoadedCheckpoint,
    ohlc: Any,
    *,
    methods: Sequence[str] = ALL_METHODS,
    direction: int | None = None,
    target: int | None = None,
    gradcam: GradCamOptions | None = None,
) -> WindowExplanation:
    """Predict and explain one window.

    Args:
        loaded: the checkpoint.
        ohlc: (W, 4) the window's bars.
        methods: method keys.
        direction: regressor only — +1 / −1; default: the way the forecast went (up when the
            predicted change is ≥ 0).
        target: classifier only — 0 / 1; default: the predicted class.
        gradcam: Grad-CAM options.
    """
    image, closes = model_inputs(loaded, ohlc)  # validates ohlc; encoded once for both passes
    prediction = predict_inputs(loaded, image, closes, last_close=float(np.asarray(ohlc, dtype=np.float64)[-1, 3]))
    if isinstance(prediction, Forecast):
        direction = direction if direction is not None else (1 if prediction.pct_change >= 0 else -1)
        result = explain(
            loaded.model, image, methods=methods, additional_forward_args=closes, direction=direction, gradcam=gradcam
        )
    else:
        direction = None
        result = explain(loaded.model, image, methods=methods, target=target, gradcam=gradcam)
    n_steps = loaded.spec.sequence_length
    maps = np.stack([result.maps[key].attribution[0, 0] for key in methods])  # (M, S, S)
    if loaded.spec.image == "gadf":
        profiles = equalise_gadf(gadf_time_importance(np.abs(maps), n_steps))
    else:
        profiles = candlestick_time_importance(maps, n_steps).per_bar
    return WindowExplanation(
        prediction=prediction,
        explanations=result,
        image=image[0, 0].numpy(),
        image_kind=loaded.spec.image,
        per_time={key: np.asarray(profiles[i]) for i, key in enumerate(methods)},
        per_time_signed=loaded.spec.image != "gadf",
        direction=direction,
        closes=None if closes is None else closes.numpy(),
    )
