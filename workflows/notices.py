"""What a map cannot show, said next to it: an all-zero map, or one whose weight sits on empty chart.

A map that is all zero is not "nothing mattered": the explained output does not change with the
image there (a gated unit, or the model's other input deciding), and Grad-CAM keeps only evidence
*for* what is explained. A candlestick map whose weight sits on the blank background rather than
on the bars points at the model's receptive fields, not at the market. Each finding is a short
sentence for the page and for the export's metadata. No Streamlit here.
"""

from __future__ import annotations

import numpy as np

from workflows.window import WindowExplanation

__all__ = ["BAR_MASS_FLOOR", "map_notices"]

#: A candlestick map is flagged when the mass on drawn pixels is below this share of what a flat map
#: puts there (the drawn share of the image): it prefers empty background to the bars.
BAR_MASS_FLOOR = 0.5
#: Image kind → the value it draws where there is nothing: candlestick rasters leave exactly 0
#: (data.images.candlestick); every pixel of a GADF is a pair of minutes, so it has no background.
BACKGROUND = {"candlestick": 0.0}

_ZERO_WHY = {
    "gradcam": "no cell of the Grad-CAM layer speaks for {what} — the chart's evidence leans the other way, "
    "or the model's other input decides",
    "guided_gradcam": "it is Guided Backprop times Grad-CAM, and Grad-CAM is zero: no cell speaks for {what}",
}
_ZERO_DEFAULT = "{what} does not change with any pixel of this chart: the chart does not drive it here"


def map_notices(result: WindowExplanation, what: str) -> dict[str, str]:
    """Method key → a sentence for each map of ``result`` that cannot be read as usual.

    Args:
        result: one window explained.
        what: the explained output in words, e.g. ``"the up call"`` or ``"the forecast's rise"``.
    """
    notices: dict[str, str] = {}
    background = BACKGROUND.get(result.image_kind)
    drawn = None if background is None else result.image != background
    for key, explanation in result.explanations.maps.items():
        attribution = np.abs(np.asarray(explanation.attribution[0, 0], dtype=np.float64))
        total = float(attribution.sum())
        if not np.isfinite(total) or total == 0.0:
            why = _ZERO_WHY.get(key, _ZERO_DEFAULT).format(what=what)
            notices[key] = f"All zero: {why[0].upper()}{why[1:]}."
            continue
        if drawn is not None and drawn.any() and not drawn.all():
            on_bars = float(attribution[drawn].sum()) / total
            flat = float(drawn.mean())
            if on_bars < BAR_MASS_FLOOR * flat:
                notices[key] = (
                    f"Mostly on empty chart: {1 - on_bars:.0%} of this map's weight is on the blank background "
                    f"(a flat map would put {flat:.0%} on the bars; this one puts {on_bars:.0%}): it shows where the "
                    "model's filters reach, more than which bars matter."
                )
    return notices
