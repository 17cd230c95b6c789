"""One window explained, ready for a page: the prediction, the maps, the image they sit on, their time profiles.

* :func:`explain_window` runs the engine on one window of bars and projects every map back onto
  the window's time axis with the rule that suits the image (:func:`xai.profiles.time_profiles`:
  signed per bar for a candlestick, absolute mass per minute for a GADF).
* :func:`sanity_table` — the model-randomisation figures of a checkpoint, on a few of its test windows.
* :func:`window_trust_table` — deletion/insertion, infidelity and sensitivity of one window's maps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from models.checkpoints import LoadedCheckpoint
from models.datasets import load_samples
from models.predict import DayCall, Forecast, model_inputs
from xai.explain import ExplanationSet, GradCamOptions, explain
from xai.faithfulness import trust_scores
from xai.methods import ALL_METHODS, METHODS
from xai.price_space import PriceSpaceCurves, price_space_curves
from xai.profiles import signed_profiles, time_profiles
from xai.sanity import model_randomisation

#: Test windows the sanity table is computed on.
SANITY_WINDOWS = 4


@dataclasses.dataclass(frozen=True)
class WindowExplanation:
    """A window's prediction and maps.

    Attributes:
        prediction: :class:`~models.tasks.DayCall` or :class:`~models.tasks.Forecast` (the task's).
        explanations: the engine's result for the one input.
        image: (S, S) float32 the model's input image.
        image_kind: ``"candlestick"`` or ``"gadf"``.
        per_time: method key → (T,) float64 time profile (see the module docstring).
        per_time_signed: whether ``per_time`` is signed (candlestick) or mass (GADF).
        direction: the regressor's explained direction (+1 up, −1 down), or ``None``.
        closes: (1, W) float32 the window's log10 closes (both models' second input), or ``None``.
    """

    prediction: DayCall | Forecast
    explanations: ExplanationSet
    image: np.ndarray
    image_kind: str
    per_time: dict[str, np.ndarray]
    per_time_signed: bool
    direction: int | None
    closes: np.ndarray | None

    @property
    def extra_inputs(self) -> torch.Tensor | None:
        """The model's second input as a tensor (the window's log10 closes), or ``None``."""
        return None if self.closes is None else torch.from_numpy(self.closes)


def explain_window(
    loaded: LoadedCheckpoint,
    ohlc: Any,
    *,
    methods: Sequence[str] = ALL_METHODS,
    direction: int | None = None,
    target: int | None = None,
    gradcam: GradCamOptions | None = None,
) -> WindowExplanation:
    """Predict and explain one window, with one forward pass: the prediction is read from the
    explanation's own forward (:attr:`xai.explain.ExplanationSet.output`), equal to
    :func:`models.predict.predict_inputs`'.

    Args:
        loaded: the checkpoint.
        ohlc: (W, 4) the window's bars.
        methods: method keys.
        direction: regressor only — +1 / −1; default: the way the forecast went (up when the
            predicted change is ≥ 0), read from the explanation's own forward pass.
        target: classifier only — 0 / 1; default: the predicted class.
        gradcam: Grad-CAM options.
    """
    inputs = model_inputs(loaded, ohlc)  # validates ohlc
    image, extra = inputs[0], (inputs[1] if len(inputs) > 1 else None)
    if loaded.task.is_regression:  # direction None: the way the forecast goes, from the explanation's forward
        result = explain(
            loaded.model, image, methods=methods, additional_forward_args=extra, direction=direction, gradcam=gradcam
        )
    else:
        result = explain(
            loaded.model, image, methods=methods, target=target, additional_forward_args=extra, gradcam=gradcam
        )
    explained = int(result.target[0])
    direction = explained if loaded.task.is_regression else None
    # the prediction from the explanation's own forward pass: no second pass (equal to predict_inputs')
    prediction = loaded.task.prediction_from_output(
        loaded, torch.from_numpy(result.output[0]), explained, float(np.asarray(ohlc, dtype=np.float64)[-1, 3])
    )
    maps = np.stack([result.maps[key].attribution[0, 0] for key in methods])  # (M, S, S)
    profiles = time_profiles(maps, loaded.spec.image, loaded.spec.sequence_length)
    return WindowExplanation(
        prediction=prediction,
        explanations=result,
        image=image[0, 0].numpy(),
        image_kind=loaded.spec.image,
        per_time={key: np.asarray(profiles[i]) for i, key in enumerate(methods)},
        per_time_signed=signed_profiles(loaded.spec.image),
        direction=direction,
        closes=None if extra is None else extra.numpy(),
    )


def sanity_table(loaded: LoadedCheckpoint, *, files: bool = False) -> pd.DataFrame:
    """Model-randomisation figures of ``loaded``'s model on the first :data:`SANITY_WINDOWS` of its test windows.

    The windows come from the data source its card names (``files=False``: never a file path).
    One row per method (display label), one column per cascade step and ``"mean"``.
    """
    samples = load_samples(loaded.spec, loaded.card.data.source, files=files)
    inputs, _ = samples.batch(samples.indices("test")[:SANITY_WINDOWS])
    extra = inputs[1] if len(inputs) > 1 else None
    return model_randomisation(loaded.model, inputs[0], additional_forward_args=extra).as_frame()


def window_price_curves(loaded: LoadedCheckpoint, bars: np.ndarray, result: WindowExplanation) -> PriceSpaceCurves:
    """Price-space deletion and insertion of every map of ``result`` on its ``(W, 4)`` ``bars``
    (:func:`xai.price_space.price_space_curves`: 10 steps of bars flattened, 2 random orders)."""
    explained = np.asarray(result.explanations.target, dtype=np.int64)[:1]
    profiles = {key: profile[None] for key, profile in result.per_time.items()}
    return price_space_curves(loaded, np.asarray(bars, dtype=np.float64)[None], profiles, explained, steps=10)


def window_trust_table(
    loaded: LoadedCheckpoint, result: WindowExplanation, price: PriceSpaceCurves | None = None
) -> pd.DataFrame:
    """Deletion / insertion (10 pixel steps, 2 random orders), infidelity and sensitivity of one window's maps;
    with the window's price-space curves (:func:`window_price_curves`), their areas beside them.

    One row per method (display label).
    """
    scores = trust_scores(
        loaded.model,
        torch.from_numpy(result.image[None, None]),
        result.explanations,
        additional_forward_args=result.extra_inputs,
        steps=10,
        n_random=2,
        sensitivity_samples=4,
    )
    table = pd.DataFrame(
        {
            METHODS[key].label: {
                "deletion area ↓": float(s.deletion_auc[0]),
                "random order deletion": float(s.random_deletion_auc[0]),
                "insertion area ↑": float(s.insertion_auc[0]),
                "random order insertion": float(s.random_insertion_auc[0]),
                "infidelity share ↓": float(s.infidelity_share[0]),
                "sensitivity ↓": float(s.sensitivity[0]) if s.sensitivity is not None else float("nan"),
            }
            for key, s in scores.items()
        }
    ).T
    if price is not None:
        labels = [METHODS[key].label for key in scores]
        table["price-space deletion ↓"] = pd.Series([price.deletion_auc[key][0] for key in scores], index=labels)
        table["random order, price space"] = float(price.random_deletion_auc[0])
        table["price-space insertion ↑"] = pd.Series([price.insertion_auc[key][0] for key in scores], index=labels)
        table["random insertion, price space"] = float(price.random_insertion_auc[0])
    return table
