"""Explanations: the five Captum methods, mapped back to time (no Streamlit here).

* :func:`explain` — Grad-CAM, vanilla gradients, DeconvNet, Guided Backprop and Guided
  Grad-CAM for either model, computed with Captum; thread-safe on a shared model.
* :data:`METHODS` — the registry pages list methods from (names from Captum).
* :func:`captum_ready` — the in-place-ReLU fix, applied once where models are loaded.
* :func:`sequence_attribution` — the CNN-LSTM's per-hour attribution and the chart-vs-sequence share.
* :func:`model_randomisation` — the sanity check: do the maps change when the model is destroyed?
* :mod:`xai.time_projection` — per-bar and per-minute importance, localisation helpers.
"""

from xai.explain import Explanation, ExplanationSet, GradCamOptions, explain
from xai.methods import ALL_METHODS, METHODS, MethodInfo
from xai.prepare import captum_ready
from xai.sanity import SanityResult, model_randomisation
from xai.sequence import SequenceAttribution, sequence_attribution
from xai.time_projection import (
    CandlestickImportance,
    GadfImportance,
    candlestick_time_importance,
    gadf_time_importance,
    interval_share,
    normalise,
    pointing_game,
)

__all__ = [
    "ALL_METHODS",
    "METHODS",
    "CandlestickImportance",
    "Explanation",
    "ExplanationSet",
    "GadfImportance",
    "GradCamOptions",
    "MethodInfo",
    "SanityResult",
    "SequenceAttribution",
    "candlestick_time_importance",
    "captum_ready",
    "explain",
    "gadf_time_importance",
    "interval_share",
    "model_randomisation",
    "normalise",
    "pointing_game",
    "sequence_attribution",
]
