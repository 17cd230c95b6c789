"""Scores that say which map to trust: faithfulness of attribution maps (no Streamlit here).

One module per score: :mod:`~xai.faithfulness.deletion`, :mod:`~xai.faithfulness.infidelity`,
:mod:`~xai.faithfulness.sensitivity`; :mod:`~xai.faithfulness.trust` runs them all for the pages,
and :mod:`~xai.faithfulness.common` holds the score they share. What the score is comes from the
model's task (:mod:`models.tasks`).

Every map claims "these pixels drove the answer". Three scores test the claim against the
model itself, per input, so the dashboard can rank the five maps of one chart:

* :func:`deletion_insertion` — deletion and insertion curves (Petsiuk et al., 2018, RISE).
  Deletion removes the map's most important units first and watches the score fall (lower area
  is better); insertion starts from a blank image and puts the most important units back first
  (higher area is better). The same curves for random orders are the reference, so the UI can
  say "better than random by X".
* :func:`infidelity_score` — Captum's ``infidelity`` (Yeh et al., 2019): how well the map, read
  as a local linear model, predicts the output's change under Gaussian noise (lower is better).
* :func:`sensitivity_score` — Captum's ``sensitivity_max``: how much the map itself changes when
  the input moves a little (lower is more stable).
* :func:`trust_scores` — all of them for every map of an :class:`~xai.explain.ExplanationSet`.

The score explained — one definition, :func:`target_score`
----------------------------------------------------------
* a classifier (the up-day task's model, or any module without a task, returning ``(N, C)``
  logits): the softmax probability of the target class, by default the class the model predicts
  for the unperturbed input. The target is fixed once, on the original input, and kept for every
  perturbed copy: the curves ask "how sure is the model still of *that* class".
* the regressor (the next-hour task's model, called as ``model(image, log10_close)``): the
  signed predicted change :class:`~models.tasks.ForecastDirection` explains — up (``direction=+1``)
  or down (``-1``), in thousandths of log10 (the closes are never perturbed). It is read from
  :meth:`~models.architectures.CnnLstmRegressor.predicted_change`, not as ``forecast − last``:
  through the price level in float32 it would be rounded to about 2.4e-4 (measured: up to 1.1e-4
  off a float64 run, on scores of 0.08–0.18), as large as the whole output change that
  infidelity's noise causes; read directly it matches the float64 run to 1e-8.

Infidelity is a statement about the local linear behaviour of the very output the maps were
computed from, so it uses that output: the target class's *logit* (Captum's ``target`` on the
model's output, as :func:`~xai.explain.explain` does) and the same ``ForecastDirection``. Measured
against the probability, a perfect gradient of the logit would be charged for the softmax's
curvature and for the other class.

Baseline
--------
"Removed" means replaced by ``baseline`` (default ``0.0``). Zero is the encoders' background — the
blank candlestick raster — and the GADF of a flat window (all zeros): an image that carries no
information. Any constant or an ``(N, 1, S, S)`` image can be given instead.

Order and units
---------------
``order="positive"`` ranks units by the signed attribution (evidence *for* the target first — a
faithful map makes the deletion curve fall fastest); ``"absolute"`` by ``|attribution|``. Ties
keep the pixel (or unit) index order. Units are pixels (``units=None``: removed in ``steps``
near-equal chunks, ``round(k * P / steps)`` pixels after step ``k``) or time steps: a ``(G, S, S)``
bool array of masks from :func:`candlestick_units` or :func:`gadf_units` with per-unit scores
(e.g. :func:`~xai.time_projection.candlestick_time_importance` ``.per_bar``), one unit per step.
Masks may overlap (a GADF pixel stands for two minutes): removing a set of units removes the union
of their masks. The curves' x axis is the fraction of *units* removed. Areas are trapezoids over
that fraction; the random reference is the mean area over ``n_random`` seeded random orders.

Captum's metrics
----------------
Both expand each input ``n`` times with ``repeat_interleave`` (copies of input ``i`` are
consecutive) and expand ``target`` and ``additional_forward_args`` the same way, so the fixed
target and the regressor's closes line up with every perturbed copy (tests check both with models
whose answer changes if they did not). ``sensitivity_max`` hands the explanation function a tuple
of inputs on its first call and ``additional_forward_args`` as a tuple (both are unpacked here),
iterates over the original explanation as a tuple of tensors (so one is returned), and calls it
under ``torch.no_grad`` (gradients are switched back on around :func:`~xai.explain.explain`).
Perturbations come from a ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched),
so every score is deterministic.

Shared models: every forward pass runs under :func:`~xai.explain.model_lock` in eval mode
(:func:`~models.locks.eval_mode`), and each module's own training flag is restored afterwards.
Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each message names the
parameter, the rule and the value received.
"""

from xai.faithfulness.common import BATCH_SIZE, target_score
from xai.faithfulness.deletion import ORDERS, FaithfulnessCurves, candlestick_units, deletion_insertion, gadf_units
from xai.faithfulness.infidelity import INFIDELITY_NOISE_STD, infidelity_score
from xai.faithfulness.sensitivity import sensitivity_score
from xai.faithfulness.trust import MethodScores, trust_scores

__all__ = [
    "BATCH_SIZE",
    "INFIDELITY_NOISE_STD",
    "ORDERS",
    "FaithfulnessCurves",
    "MethodScores",
    "candlestick_units",
    "deletion_insertion",
    "gadf_units",
    "infidelity_score",
    "sensitivity_score",
    "target_score",
    "trust_scores",
]
