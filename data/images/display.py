"""Display figures for model inputs (the interactive candlestick lives in :mod:`data.images.reference`)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from data.settings import SYNTHETIC_LABEL

#: Diverging scale for signed fields in [-1, 1]: blue negative, white zero, red positive.
SIGNED_COLORSCALE = "RdBu_r"


def gadf_figure(
    gadf: np.ndarray, *, times: list[str] | None = None, title: str = "", synthetic: bool = False
) -> go.Figure:
    """A GADF as a heat map on a fixed [-1, 1] diverging scale.

    Args:
        gadf: (T, T) float values in [-1, 1]; pixel (i, j) is sin(phi_i - phi_j)
            of timestamps i and j.
        times: (T,) labels for the axes (e.g. ``"09:15"``); default 0..T-1.
        title: shown above the figure.
        synthetic: add :data:`~data.settings.SYNTHETIC_LABEL` to the title.
    """
    labels = times if times is not None else list(range(gadf.shape[0]))
    figure = go.Figure(
        go.Heatmap(
            z=gadf, x=labels, y=labels, zmin=-1, zmax=1, colorscale=SIGNED_COLORSCALE, colorbar={"title": "GADF"}
        )
    )
    full_title = "<br>".join(part for part in (title, SYNTHETIC_LABEL if synthetic else "") if part)
    figure.update_layout(title={"text": full_title}, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    figure.update_yaxes(autorange="reversed", scaleanchor="x", title_text="time i")
    figure.update_xaxes(title_text="time j")
    return figure
