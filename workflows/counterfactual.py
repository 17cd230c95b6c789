"""What if the chart were different: one window edited in price space, predicted and explained again.

:func:`counterfactual` applies a :class:`~data.edits.PriceEdit` to the window a page shows, draws
the model's inputs again from the edited bars (the image and, for the regressor, its closes) and
explains the edited window for the *same* class or direction as the original, so the two sets of
maps answer the same question. It says which bars changed, whether anything the model reads
changed at all, and whether the model's call flips. No Streamlit here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from data.bars import LoadedBars
from data.edits import EditError, PriceEdit
from data.settings import OHLC
from models.checkpoints import LoadedCheckpoint
from workflows.window import WindowExplanation, explain_window


@dataclasses.dataclass(frozen=True)
class Counterfactual:
    """An edited window beside the original.

    Attributes:
        edit: what was changed.
        bars: the edited ``(W, 4)`` bars, indexed like the original window.
        result: the edited window's prediction and maps (the original's class or direction explained).
        changed: ``(W,) bool`` the bars the edit changed.
        inputs_changed: the model's inputs differ from the original's (``False``: the edit touched
            nothing the model reads).
        call_flipped: the model's up / down call differs from the original's.
    """

    edit: PriceEdit
    bars: pd.DataFrame
    result: WindowExplanation
    changed: np.ndarray
    inputs_changed: bool
    call_flipped: bool

    def answer_shift(self, original: WindowExplanation, loaded: LoadedCheckpoint) -> float:
        """The edited answer minus the original's: the forecast move in % points, or P(up)."""
        return float(
            loaded.task.answers(_output(self.result), self.result.explanations.target)[0]
            - loaded.task.answers(_output(original), original.explanations.target)[0]
        )


def _output(result: WindowExplanation) -> np.ndarray:
    return np.asarray(result.explanations.output)


def counterfactual(
    loaded: LoadedCheckpoint,
    window: pd.DataFrame,
    source: LoadedBars,
    edit: PriceEdit,
    original: WindowExplanation,
) -> Counterfactual:
    """Edit ``window`` (a time-indexed OHLC slice of ``source``), predict and explain it again.

    Raises:
        EditError: the edit does not fit the window (its message says why and what to do).
        TypeError: ``edit`` is not a :class:`~data.edits.PriceEdit`.
    """
    if not isinstance(edit, PriceEdit):
        raise TypeError(f"edit must be a data.edits.PriceEdit, got {type(edit).__name__}")
    before = window[list(OHLC)].to_numpy(dtype=np.float64)
    after = edit.edit_window(window, source)
    if after.shape != before.shape:
        raise EditError(f"the edit gave {after.shape[0]} bars for a window of {before.shape[0]}; pick another edit")
    changed = ~np.isclose(after, before, rtol=1e-12, atol=0.0).all(axis=1)
    explained = int(original.explanations.target[0])
    if loaded.task.is_regression:
        result = explain_window(loaded, after, direction=explained)
    else:
        result = explain_window(loaded, after, target=explained)
    flipped = loaded.task.predicted_up(result.prediction) != loaded.task.predicted_up(original.prediction)
    # the inputs each explanation was computed from: the image, and the closes beside it
    inputs_changed = not np.array_equal(result.image, original.image) or not np.array_equal(
        result.closes, original.closes
    )
    return Counterfactual(
        edit=edit,
        bars=pd.DataFrame(after, index=window.index, columns=list(OHLC)),
        result=result,
        changed=changed,
        inputs_changed=inputs_changed,
        call_flipped=bool(flipped),
    )
