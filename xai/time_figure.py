"""The price window above one importance bar chart per method, on one time axis (plotly; no Streamlit).

Bars use the colours of :mod:`xai.render` (red pushed the answer, blue held it back, purple mass of
either sign), so a map and its time profile read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data.checks import check_choice, check_mapping
from data.settings import DOWN_RGB, OHLC, UP_RGB
from xai.figure_parts import assemble, cached_layout
from xai.methods import method_label
from xai.render import ABSOLUTE_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, color_range, with_synthetic_label
from xai.time_projection import NORMALISE_MODES, normalise

__all__ = ["PRICE_CHARTS", "time_importance_figure"]

#: Price charts :func:`time_importance_figure` draws.
PRICE_CHARTS = ("candlestick", "line")
#: Most tick labels a time axis shows.
_MAX_TICK_LABELS = 8


def _price_frame(price: Any, chart: str) -> pd.DataFrame:
    if not isinstance(price, pd.DataFrame):
        raise TypeError(f"price must be a pandas DataFrame, got {type(price).__name__}")
    needed = list(OHLC) if chart == "candlestick" else ["close"]
    missing = [column for column in needed if column not in price.columns]
    if missing:
        raise ValueError(f"price must have columns {needed} for chart={chart!r}, missing {missing}")
    if len(price) == 0:
        raise ValueError("price must hold at least 1 row, got 0 rows")
    if price.index.has_duplicates:
        raise ValueError("price must have a unique index (one row per time), got duplicated times")
    return price


def _profiles(per_time: Mapping[str, Any], n_times: int) -> dict[str, np.ndarray]:
    """Each profile as a finite ``(T,) float64`` array of the price's length."""
    profiles: dict[str, np.ndarray] = {}
    for key, value in check_mapping(per_time, "per_time").items():
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"per_time[{key!r}] must be an array of real numbers, got dtype {array.dtype}")
        if array.ndim != 1 or len(array) != n_times:
            raise ValueError(
                f"per_time[{key!r}] must have shape (T,) with T = len(price) = {n_times}, got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"per_time[{key!r}] must be finite, got NaN or inf")
        profiles[key] = array.astype(np.float64, copy=False)
    return profiles


def _time_labels(index: pd.Index) -> list[str]:
    if isinstance(index, pd.DatetimeIndex):
        daily = bool((index.normalize() == index).all())
        return list(index.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"))
    return [str(value) for value in index]


def _bar_colors(values: np.ndarray, mode: str) -> list[str]:
    if mode == "absolute":
        return [ABSOLUTE_COLOR] * len(values)
    if mode == "negative":  # magnitudes of negative evidence
        return [NEGATIVE_COLOR] * len(values)
    return [NEGATIVE_COLOR if value < 0 else POSITIVE_COLOR for value in values]


def _price_trace(price: pd.DataFrame, chart: str, labels: list[str]) -> dict[str, Any]:
    x = labels
    if chart == "line":
        return {
            "type": "scatter",
            "x": x,
            "y": price["close"].to_numpy(),
            "mode": "lines",
            "name": "close",
            "customdata": labels,
            "line": {"color": "rgb(60,60,60)"},
            "hovertemplate": "%{customdata}<br>close %{y}<extra></extra>",
        }
    return {
        "type": "candlestick",
        "x": x,
        "open": price["open"].to_numpy(),
        "high": price["high"].to_numpy(),
        "low": price["low"].to_numpy(),
        "close": price["close"].to_numpy(),
        "name": "price",
        "hovertext": labels,
        "increasing": {"line": {"color": "rgb({}, {}, {})".format(*UP_RGB)}},
        "decreasing": {"line": {"color": "rgb({}, {}, {})".format(*DOWN_RGB)}},
    }


def time_importance_figure(
    price: pd.DataFrame,
    per_time: Mapping[str, Any],
    *,
    mode: str = "signed",
    chart: str = "candlestick",
    title: str | None = None,
    synthetic: bool = False,
) -> go.Figure:
    """The price window above one bar chart of time importance per method, on one time axis.

    The x axis is categorical: bars and candles sit side by side in index
    order, so nights, weekends and missing minutes leave no gaps, and each
    importance bar sits exactly under its price bar or minute.

    Args:
        price: ``T >= 1`` rows with a unique index (the time axis) and columns
            ``open, high, low, close`` (``chart="candlestick"``) or ``close``
            (``chart="line"``).
        per_time: method key -> ``(T,)`` finite importance per bar or minute
            (e.g. ``CandlestickImportance.per_bar[i]``), in the order to show.
        mode: display mode; each profile is scaled by
            :func:`~xai.time_projection.normalise` (its largest magnitude 1).
        chart: ``"candlestick"`` or ``"line"`` (the close).
        title: shown above the figure.
        synthetic: add a visible :data:`~data.settings.SYNTHETIC_LABEL` annotation.

    Returns:
        ``1 + len(per_time)`` rows sharing the x axis: the price, then one
        ``go.Bar`` per method (x = the times as text, y in :func:`color_range`)
        titled with its Captum name; bars red for positive evidence, blue for
        negative (purple for ``"absolute"``); no range slider.

    Raises:
        TypeError: wrong types. ValueError: bad ``mode``/``chart``, missing
        columns, duplicated times, a profile whose length is not ``len(price)``.
    """
    mode = check_choice(mode, "mode", NORMALISE_MODES)
    chart = check_choice(chart, "chart", PRICE_CHARTS)
    price = _price_frame(price, chart)
    profiles = _profiles(per_time, len(price))
    labels = _time_labels(price.index)

    titles = ["price", *(method_label(key) for key in profiles)]
    layout = cached_layout(_time_layout, titles, mode, title or "", synthetic)
    ticks = np.unique(np.linspace(0, len(price) - 1, min(len(price), _MAX_TICK_LABELS)).round().astype(int))
    for name in [name for name in layout if name.startswith("xaxis")]:
        # the category names themselves: Timestamps never matched them
        layout[name].update(tickvals=[labels[i] for i in ticks], ticktext=[labels[i] for i in ticks])
    traces = [{**_price_trace(price, chart, labels), "xaxis": "x", "yaxis": "y"}]
    for row, (key, profile) in enumerate(profiles.items(), start=2):
        scaled = normalise(profile, mode)
        traces.append(
            {
                "type": "bar",
                "x": labels,
                "y": scaled,
                "marker": {"color": _bar_colors(scaled, mode), "line": {"width": 0}},
                "name": method_label(key),
                "customdata": labels,
                "hovertemplate": "%{customdata}<br>%{y:.2f} of peak<extra>%{fullData.name}</extra>",
                "xaxis": f"x{row}",
                "yaxis": f"y{row}",
            }
        )
    return assemble(traces, layout)


def _time_layout(n_rows: int, mode: str, title: str, synthetic: bool) -> go.Figure:
    """The price row above a bar row per method, one categorical time axis, without traces, ticks or
    the rows' titles' texts (kept per shape: :func:`xai.figure_parts.cached_layout`)."""
    n_methods = n_rows - 1
    figure = make_subplots(
        rows=n_rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.06, 0.3 / n_methods),
        row_heights=[0.4] + [0.6 / n_methods] * n_methods,
        subplot_titles=[str(row) for row in range(1, n_rows + 1)],
    )
    low, high = color_range(mode)
    for row in range(2, n_methods + 2):
        figure.update_yaxes(range=[low * 1.05, high * 1.05], zeroline=True, row=row, col=1)
    figure.update_xaxes(type="category", rangeslider_visible=False, tickmode="array")
    figure.update_layout(
        title={"text": title},
        showlegend=False,
        bargap=0.15,
        height=260 + 130 * n_methods,
        margin={"l": 10, "r": 10, "t": 90 if (title or synthetic) else 50, "b": 10},
        hovermode="x",
    )
    return with_synthetic_label(figure, synthetic)
