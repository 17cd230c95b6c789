"""Display figures for model inputs (the interactive candlestick lives in :mod:`data.images.reference`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from data.settings import SYNTHETIC_LABEL

#: Diverging scale for signed fields in [-1, 1]: blue negative, white zero, red positive.
SIGNED_COLORSCALE = "RdBu_r"
#: How many tick labels an axis shows at most.
MAX_TICK_LABELS = 8


def gadf_figure(
    gadf: np.ndarray, *, times: Sequence[str] | None = None, title: str = "", synthetic: bool = False
) -> go.Figure:
    """A GADF as a heat map on a fixed [-1, 1] diverging scale.

    Pixels sit at integer positions 0..T-1 on both axes (so repeated labels —
    the same time of day on two days — never merge cells); ``times`` label the
    ticks and the hover text.

    Args:
        gadf: (T, T) float values in [-1, 1]; pixel (i, j) is sin(phi_i - phi_j)
            of timestamps i and j.
        times: (T,) labels of the timestamps (e.g. ``"12-20 15:30"``); default 0..T-1.
        title: shown above the figure.
        synthetic: add :data:`~data.settings.SYNTHETIC_LABEL` to the title.
    """
    n = gadf.shape[0]
    labels = [str(t) for t in times] if times is not None else [str(i) for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"times must have one label per GADF row ({n}), got {len(labels)}")
    hover = [[f"i {labels[i]} · j {labels[j]}" for j in range(n)] for i in range(n)]
    figure = go.Figure(
        go.Heatmap(
            z=gadf,
            zmin=-1,
            zmax=1,
            colorscale=SIGNED_COLORSCALE,
            colorbar={"title": "GADF"},
            text=hover,
            hovertemplate="%{text}<br>sin(φi − φj) = %{z:.3f}<extra></extra>",
        )
    )
    ticks = np.unique(np.linspace(0, n - 1, min(n, MAX_TICK_LABELS)).round().astype(int)).tolist()
    axis = {"tickmode": "array", "tickvals": ticks, "ticktext": [labels[i] for i in ticks]}
    full_title = "<br>".join(part for part in (title, SYNTHETIC_LABEL if synthetic else "") if part)
    figure.update_layout(title={"text": full_title}, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    figure.update_yaxes(autorange="reversed", scaleanchor="x", title_text="time i", **axis)
    figure.update_xaxes(title_text="time j", **axis)
    return figure
