"""The explanation engine: the five Captum methods, mapped back to time, and scored.

Functions of models and tensors only — a researcher can use them without this app (no Streamlit,
no data loading, no demo market). What depends on the kind of model comes from its task object
(:mod:`models.tasks`); what a page asks for is composed in :mod:`workflows`.

* :func:`explain` — Grad-CAM, vanilla gradients, DeconvNet, Guided Backprop and Guided
  Grad-CAM for either model, computed with Captum; thread-safe on a shared model.
* :data:`METHODS` — the registry pages list methods from (names from Captum).
* :func:`captum_ready` — the in-place-ReLU fix, applied once where models are loaded.
* :func:`sequence_attribution` — the CNN-LSTM's per-hour attribution and the chart-vs-sequence share.
* :func:`model_randomisation` — the sanity check: do the maps change when the model is destroyed?
* :mod:`xai.time_projection` — per-bar and per-minute importance, localisation helpers.
* :func:`trust_scores` (:mod:`xai.faithfulness`) — deletion/insertion curves, Captum's
  ``infidelity`` and ``sensitivity_max`` for every map.
* :mod:`xai.localisation` — scores against known intervals (the demo market's planted patterns:
  :mod:`workflows.planted`).
* :mod:`xai.profiles` — maps → one time profile per window, by image kind.
* :mod:`xai.aggregate` — over many windows: per-time importance for up vs down with bands, and how
  far the methods agree.
* :mod:`xai.render`, :mod:`xai.export` — plotly figures, PNG through kaleido, CSV/NPZ/JSON out.
"""

from xai.aggregate import Agreement, Band, equalise_gadf, importance_by_prediction, mean_band, method_agreement
from xai.explain import ENGINES, Explanation, ExplanationSet, GradCamOptions, explain
from xai.faithfulness import FaithfulnessCurves, MethodScores, deletion_insertion, trust_scores
from xai.localisation import Localisation, localisation
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
    "ENGINES",
    "METHODS",
    "Agreement",
    "Band",
    "CandlestickImportance",
    "Explanation",
    "ExplanationSet",
    "FaithfulnessCurves",
    "GadfImportance",
    "GradCamOptions",
    "Localisation",
    "MethodInfo",
    "MethodScores",
    "SanityResult",
    "SequenceAttribution",
    "candlestick_time_importance",
    "captum_ready",
    "deletion_insertion",
    "equalise_gadf",
    "explain",
    "gadf_time_importance",
    "importance_by_prediction",
    "interval_share",
    "localisation",
    "mean_band",
    "method_agreement",
    "model_randomisation",
    "normalise",
    "pointing_game",
    "sequence_attribution",
    "trust_scores",
]
