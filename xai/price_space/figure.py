"""The edited window over the original: one plotly figure (no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from data.images.reference import candlestick_figure
from data.settings import OHLC, SYNTHETIC_LABEL


def edit_figure(original: pd.DataFrame, edited: pd.DataFrame, changed: np.ndarray, *, synthetic: bool) -> go.Figure:
    """The edited bars as candlesticks, the original closes as a dotted line, the changed bars shaded.

    Args:
        original, edited: ``(W, 4)`` time-indexed OHLC frames of one window (same index).
        changed: ``(W,) bool`` the bars the edit changed.
        synthetic: label the figure as synthetic data.
    """
    figure = candlestick_figure(edited[list(OHLC)], title="Edited window", synthetic=synthetic)
    x = np.arange(len(original))
    figure.add_trace(
        go.Scatter(
            x=x,
            y=original["close"].to_numpy(),
            mode="lines",
            line={"dash": "dot", "color": "rgb(90, 90, 90)", "width": 1.5},
            name="original close",
            hoverinfo="skip",
        )
    )
    for first, last in _runs(np.asarray(changed, dtype=bool)):
        figure.add_vrect(x0=first - 0.5, x1=last + 0.5, fillcolor="rgb(255, 200, 0)", opacity=0.15, line_width=0)
    figure.update_layout(
        title={
            "text": "<br>".join(
                p for p in ("Edited window (dotted: the original closes)", SYNTHETIC_LABEL if synthetic else "") if p
            )
        },
        showlegend=False,
        height=360,
        margin={"t": 60, "b": 30},
    )
    return figure


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last), ...]`` of each run of true values (inclusive)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))
