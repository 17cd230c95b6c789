"""Questions asked in price space: the model's inputs drawn again from edited bars.

* :func:`edited_inputs` — the one function from ``(B, W, 4)`` bars (edited or not) to the model's
  inputs: its image re-encoded, and the regressor's log10 closes taken from the same bars, so the
  chart and the sequence are always edited together.
* :func:`window_scores` — the score a map explains (P(explained class), or the signed predicted
  change) for many edited windows at once.
* :func:`occlusion_in_time` — Captum's ``FeatureAblation`` with one feature per bar or minute,
  each removed in price space (:func:`data.edits.interpolate_bars`) rather than blanked in pixels.
* :func:`price_space_curves` — deletion and insertion curves whose steps flatten the map's most
  important bars or minutes in price space, against random orders; every edited window of every
  curve in one batched pass.

No Streamlit here.
"""

from xai.price_space.curves import PriceSpaceCurves, price_space_curves
from xai.price_space.inputs import edited_inputs, window_scores
from xai.price_space.occlusion import Occlusion, occlusion_in_time

__all__ = [
    "Occlusion",
    "PriceSpaceCurves",
    "edited_inputs",
    "occlusion_in_time",
    "price_space_curves",
    "window_scores",
]
