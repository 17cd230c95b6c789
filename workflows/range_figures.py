"""Figures of a :class:`~workflows.range_evaluation.RangeEvaluation` for the Evaluate page (plotly, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from data.settings import DOWN_RGB, UP_RGB
from workflows.batch_view import DatasetView
from workflows.range_evaluation import RangeEvaluation
from xai.methods import ALL_METHODS, method_label
from xai.render import COLOR_SCALES, with_synthetic_label
from xai.sanity import UNCHANGED_CORRELATION

#: One colour per method, the same in every figure of the page.
METHOD_COLORS: dict[str, str] = dict(zip(ALL_METHODS, qualitative.D3, strict=False))
#: Colours of predicted-up and predicted-down samples (the candlestick colours).
UP_COLOR = f"rgb{UP_RGB}"
DOWN_COLOR = f"rgb{DOWN_RGB}"
RANDOM_COLOR = "rgb(90,90,90)"

# --- figures -----------------------------------------------------------------


def _labelled(figure: go.Figure, synthetic: bool, title: str) -> go.Figure:
    """Title the figure at the top and, for demo data, put the synthetic label between the title and the plots."""
    figure.update_layout(
        title={"text": title, "y": 1.0, "yref": "container", "yanchor": "top", "pad": {"t": 12}},
        margin={"l": 10, "r": 10, "t": 130 if synthetic else 80, "b": 10},
    )
    return with_synthetic_label(figure, synthetic, yshift=50)  # above the subplot titles, below the title


def _translucent(rgb: str, alpha: float) -> str:
    return rgb.replace("rgb(", "rgba(").replace(")", f",{alpha})")


def bands_figure(result: RangeEvaluation | DatasetView) -> go.Figure:
    """Mean normalised importance per time step, predicted up versus down, with shaded 95 % bands.

    One row per method; x: ``result.step_labels``; a group with fewer than 2 samples has no band.
    """
    methods = result.methods
    figure = make_subplots(
        rows=len(methods),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.08, 0.3 / len(methods)),
        subplot_titles=[method_label(key) for key in methods],
    )
    x = list(result.step_labels)
    for row, key in enumerate(methods, start=1):
        for side, color in (("up", UP_COLOR), ("down", DOWN_COLOR)):
            band = result.bands[key][side]
            name = f"predicted {side} (n = {band.n})"
            if np.isfinite(band.low).all():
                figure.add_trace(
                    go.Scatter(
                        x=x + x[::-1],
                        y=np.concatenate([band.high, band.low[::-1]]),
                        fill="toself",
                        fillcolor=_translucent(color, 0.18),
                        line={"width": 0},
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=side,
                    ),
                    row=row,
                    col=1,
                )
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=band.mean,
                    mode="lines",
                    line={"color": color, "width": 2},
                    name=name,
                    legendgroup=side,
                    showlegend=row == 1,
                    hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>",
                ),
                row=row,
                col=1,
            )
        figure.update_yaxes(title_text="of peak", rangemode="tozero", row=row, col=1)
    figure.update_xaxes(type="category", nticks=12)
    figure.update_layout(height=200 + 190 * len(methods), legend={"orientation": "h", "y": -0.04})
    title = (
        f"Mean |importance| per {result.unit}, predicted up vs down ({len(result.indices)} samples, "
        "each profile scaled to its own peak; shaded: 95 % band)"
    )
    return _labelled(figure, result.synthetic, title)


def sanity_figure(result: RangeEvaluation) -> go.Figure:
    """Rank correlation with the original map as layers are randomised, output first; 0.5 marked."""
    sanity = result.sanity.result
    x = [name if i == 0 else f"+ {name}" for i, name in enumerate(sanity.layers)]
    figure = go.Figure()
    for key, values in sanity.correlation.items():
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                mode="lines+markers",
                name=method_label(key) + (" (barely changes)" if sanity.barely_changes[key] else ""),
                line={"color": METHOD_COLORS[key], "dash": "dot" if sanity.barely_changes[key] else "solid"},
            )
        )
    figure.add_hline(
        y=UNCHANGED_CORRELATION,
        line={"dash": "dash", "color": RANDOM_COLOR},
        annotation_text="barely changes above this (mean)",
        annotation_position="top left",
    )
    figure.update_yaxes(title_text="Spearman ρ with the original map", range=[-1.05, 1.05])
    figure.update_xaxes(title_text="layers randomised (cumulative, output first)")
    figure.update_layout(height=420)
    title = f"Sanity check: model randomisation on {len(result.sanity.indices)} samples"
    return _labelled(figure, result.synthetic, title)


def faithfulness_figure(result: RangeEvaluation) -> go.Figure:
    """Deletion (left) and insertion (right) curves per method, the random orders dashed."""
    summary = result.faithfulness
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["Deletion (lower is better)", "Insertion (higher is better)"],
        horizontal_spacing=0.08,
    )
    x = summary.fractions
    for col, curves, random_curve in (
        (1, summary.deletion, summary.random_deletion),
        (2, summary.insertion, summary.random_insertion),
    ):
        for key, curve in curves.items():
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=curve,
                    mode="lines",
                    name=method_label(key),
                    legendgroup=key,
                    showlegend=col == 1,
                    line={"color": METHOD_COLORS[key]},
                ),
                row=1,
                col=col,
            )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=random_curve,
                mode="lines",
                name=f"random order ({summary.n_random} per sample)",
                legendgroup="random",
                showlegend=col == 1,
                line={"color": RANDOM_COLOR, "dash": "dash"},
            ),
            row=1,
            col=col,
        )
        figure.update_xaxes(
            title_text="fraction of pixels removed" if col == 1 else "fraction of pixels restored", row=1, col=col
        )
    figure.update_yaxes(title_text=summary.score, row=1, col=1)
    figure.update_layout(height=440, legend={"orientation": "h", "y": -0.2})
    title = f"Deletion and insertion on {len(summary.indices)} samples (removed pixels set to the baseline 0)"
    return _labelled(figure, result.synthetic, title)


def agreement_figure(result: RangeEvaluation | DatasetView) -> go.Figure:
    """Heat maps of the methods' mean rank correlation and top-k overlap of time profiles."""
    agreement = result.agreement
    names = [method_label(key) for key in agreement.methods]
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["Rank correlation (Spearman ρ)", f"Top-{agreement.k} overlap"],
        horizontal_spacing=0.18,
    )
    for col, values, low in ((1, agreement.rank_correlation, -1.0), (2, agreement.top_k_overlap, 0.0)):
        figure.add_trace(
            go.Heatmap(
                z=values,
                x=names,
                y=names,
                zmin=low,
                zmax=1.0,
                colorscale=COLOR_SCALES["signed" if col == 1 else "absolute"],  # the project's one colour place
                text=np.round(values, 2),
                texttemplate="%{text}",
                colorbar={"x": 0.41 if col == 1 else 1.0, "len": 0.9},
                hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(height=460)
    title = f"Agreement between methods per {result.unit} ({agreement.n} samples, absolute importance)"
    return _labelled(figure, result.synthetic, title)


def trust_figure(trust: pd.DataFrame, synthetic: bool) -> go.Figure:
    """Per method, box plots of each window's map − random-order area: deletion (below 0 is better)
    and insertion (above 0 is better), from a batch dataset's trust scores."""
    scores = list(dict.fromkeys(trust["score"]))
    figure = make_subplots(rows=1, cols=len(scores), subplot_titles=scores, horizontal_spacing=0.12)
    for col, score in enumerate(scores, start=1):
        part = trust[trust["score"] == score]
        for label, group in part.groupby("method", sort=False):
            key = next((key for key in ALL_METHODS if method_label(key) == label), None)
            figure.add_trace(
                go.Box(
                    y=group["map − random"], name=label, marker_color=METHOD_COLORS.get(key, RANDOM_COLOR),
                    boxpoints=False, showlegend=False,
                ),
                row=1, col=col,
            )  # fmt: skip
        figure.add_hline(y=0.0, line={"dash": "dot", "color": RANDOM_COLOR}, row=1, col=col)
    figure.update_yaxes(title_text="map − random order (area)", col=1)
    figure.update_layout(height=460)
    windows = len(trust) // max(1, len(scores) * trust["method"].nunique())
    return _labelled(figure, synthetic, f"Trust scores of every map, window by window ({windows} windows)")
