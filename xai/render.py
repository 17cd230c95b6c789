"""Figures of attribution maps for the pages (plotly; no Streamlit here).

* :func:`display_maps` -- each map transformed by a display mode and scaled by
  its own robust peak, ready for one shared colour scale.
* :data:`COLOR_SCALES`, :func:`color_range` -- the one place for the colour
  scales of attribution maps and time profiles.
* :func:`comparison_figure` -- the methods side by side, each map over the
  model image, one colour bar for all.
* :func:`xai.time_figure.time_importance_figure` -- the price window above one
  bar chart per method, on a shared time axis.
* :func:`xai.png.figure_png` -- a figure as PNG bytes through kaleido (a headless Chrome).

Why each map is scaled by its own peak
--------------------------------------
The methods measure different things in different units: Grad-CAM weights a
layer's activations, vanilla gradients are d(output)/d(pixel), Guided Grad-CAM
is a product of two maps. Their raw values cannot be compared, only their
*shapes* can. So each map is divided by its own robust peak and then every
map is drawn with ONE colour scale: the same colour means "the same share of
this map's peak" in every panel.

The robust peak (Captum's visualisation convention, ``outlier_perc`` of
``captum.attr.visualization``): sort the map's absolute values ascending and
take the first value at which their running sum reaches
``(100 - outlier_percent)`` % of the total absolute mass. A few extreme
pixels (common in gradient maps) then saturate at +-1 instead of washing the
rest of the map out to white. Unlike Captum, a map whose peak is tiny (gradients
of order 1e-6 are common) is still scaled, not blanked; only a map with nothing
to show (all zeros, or no values of the asked sign) stays all zeros.

Colours: red is positive evidence (pushes the explained output up), blue
negative, white zero -- the same colour for the same scaled value in the signed
scale and in the one-sided ``"positive"`` / ``"negative"`` scales; the
``"absolute"`` mode (mass of either sign) is purple.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each
message names the parameter, the rule and the value received.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data.checks import check_choice, check_mapping
from data.settings import SYNTHETIC_LABEL
from xai.figure_parts import assemble, cached_layout
from xai.map_images import colorize, png_data_url
from xai.methods import method_label
from xai.time_projection import NORMALISE_MODES

__all__ = [
    "ABSOLUTE_COLOR",
    "COLOR_SCALES",
    "IMAGE_KINDS",
    "NEGATIVE_COLOR",
    "POSITIVE_COLOR",
    "color_range",
    "comparison_figure",
    "display_maps",
    "robust_peak",
]

# --- colours: the one place --------------------------------------------------

_WHITE = "rgb(255,255,255)"
#: Blue (negative) half of ColorBrewer's RdBu, from zero outwards.
_BLUES = (_WHITE, "rgb(209,229,240)", "rgb(146,197,222)", "rgb(67,147,195)", "rgb(33,102,172)", "rgb(5,48,97)")
#: Red (positive) half of ColorBrewer's RdBu, from zero outwards.
_REDS = (_WHITE, "rgb(253,219,199)", "rgb(244,165,130)", "rgb(214,96,77)", "rgb(178,24,43)", "rgb(103,0,31)")
#: ColorBrewer's Purples from white, for mass of either sign.
_PURPLES = (_WHITE, "rgb(218,218,235)", "rgb(188,189,220)", "rgb(128,125,186)", "rgb(84,39,143)", "rgb(63,0,125)")


def _sequential(colors: tuple[str, ...]) -> list[list[Any]]:
    steps = len(colors) - 1
    return [[i / steps, color] for i, color in enumerate(colors)]


#: Plotly colour scales of scaled attributions, per display mode. ``"signed"`` is RdBu reversed
#: with a pure white zero (red = positive evidence, blue = negative); the one-sided modes use the
#: matching half, so a value has the same colour in the signed and the one-sided scale.
COLOR_SCALES: dict[str, list[list[Any]]] = {
    "signed": _sequential(_BLUES[::-1] + _REDS[1:]),
    "absolute": _sequential(_PURPLES),
    "positive": _sequential(_REDS),
    "negative": _sequential(_BLUES),
}
#: Bar colours of time profiles: the colour of +-0.8 on the signed scale.
POSITIVE_COLOR = _REDS[4]
NEGATIVE_COLOR = _BLUES[4]
#: Bar colour of the ``"absolute"`` mode (0.8 on its scale).
ABSOLUTE_COLOR = _PURPLES[4]
#: Colour-bar titles, per display mode.
_SCALE_TITLES = {
    "signed": "evidence<br>+ for / − against",
    "absolute": "|evidence|",
    "positive": "evidence for",
    "negative": "evidence against",
}

#: Model image kinds :func:`comparison_figure` draws underneath the maps.
IMAGE_KINDS = ("candlestick", "gadf")
#: Greyscale of the model image: candlestick pixels are drawn by magnitude (0 background is white,
#: wicks 0.5 mid grey, bodies 1 dark grey); GADF values -1..1 run from dark to white.
#: Image kind → (grey scale, its range, how the model image becomes the grey background). A
#: candlestick is signed (+ rising, − falling bars): its magnitude is drawn; a GADF as it is.
_IMAGE_GREYS = {
    "candlestick": ([[0.0, _WHITE], [1.0, "rgb(60,60,60)"]], (0.0, 1.0), np.abs),
    "gadf": ([[0.0, "rgb(30,30,30)"], [1.0, _WHITE]], (-1.0, 1.0), np.asarray),
}


def color_range(mode: str) -> tuple[float, float]:
    """``(zmin, zmax)`` of scaled attributions in display ``mode``: ``(-1, 1)`` signed, else ``(0, 1)``."""
    mode = check_choice(mode, "mode", NORMALISE_MODES)
    return (-1.0, 1.0) if mode == "signed" else (0.0, 1.0)


# --- validation --------------------------------------------------------------


def _number(value: Any, name: str, low: float, high: float, *, high_open: bool = False) -> float:
    """A real number in ``[low, high]`` (``[low, high)`` when ``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    inside = low <= number < high if high_open else low <= number <= high
    if not inside:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low:g}, {high:g}{bracket}, got {value!r}")
    return number


def _square(value: Any, name: str) -> np.ndarray:
    """``value`` as a finite ``(S, S) float64`` array (``(1, S, S)`` accepted)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 1:
        raise ValueError(f"{name} must have shape (S, S) or (1, S, S), got shape {np.shape(value)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return array.astype(np.float64, copy=False)


# --- display maps ------------------------------------------------------------


def robust_peak(magnitudes: np.ndarray, outlier_percent: float) -> float:
    """The value below which ``100 - outlier_percent`` % of the absolute mass lies.

    Args:
        magnitudes: non-negative float array of any shape.
        outlier_percent: in ``[0, 100)``.

    Returns:
        The smallest sorted value at which the running sum of the ascending
        values reaches ``(100 - outlier_percent)`` % of their total (Captum's
        ``_cumulative_sum_threshold``); 0 when the total is 0. With ``0`` the
        peak is the maximum.

    Raises:
        ValueError: a negative magnitude, ``outlier_percent`` outside ``[0, 100)``.
    """
    outlier_percent = _number(outlier_percent, "outlier_percent", 0.0, 100.0, high_open=True)
    ordered = np.sort(np.asarray(magnitudes, dtype=np.float64), axis=None)
    if ordered.size and ordered[0] < 0:
        raise ValueError(f"magnitudes must be >= 0 (absolute values), got a minimum of {float(ordered[0])!r}")
    running = np.cumsum(ordered)
    if ordered.size == 0 or running[-1] <= 0:
        return 0.0
    index = int(np.argmax(running >= running[-1] * 0.01 * (100.0 - outlier_percent)))
    return float(ordered[index])


def _transform(values: np.ndarray, mode: str) -> np.ndarray:
    if mode == "absolute":
        return np.abs(values)
    if mode == "positive":
        return np.maximum(values, 0.0)
    if mode == "negative":
        return np.maximum(-values, 0.0)
    return values


def display_maps(maps: Mapping[str, Any], mode: str = "signed", outlier_percent: float = 2.0) -> dict[str, np.ndarray]:
    """Transform and scale each map for display on one shared colour scale.

    Args:
        maps: method key -> ``(S, S)`` or ``(1, S, S)`` finite real array (raw
            attribution of one input; sizes may differ between maps).
        mode: one of :data:`~xai.time_projection.NORMALISE_MODES`: ``"signed"``
            (as is), ``"absolute"`` (``|x|``), ``"positive"`` (``max(x, 0)``),
            ``"negative"`` (``max(-x, 0)``, the magnitude of negative evidence).
        outlier_percent: in ``[0, 100)``: the share of absolute mass allowed
            above the peak (saturated at +-1); 0 scales by the maximum.

    Returns:
        method key -> ``(S, S) float32``: the transformed map divided by its own
        robust peak (see the module docstring), clipped to ``[-1, 1]``
        (signed) or ``[0, 1]``; all zeros when the map has nothing to show.
    """
    mode = check_choice(mode, "mode", NORMALISE_MODES)
    outlier_percent = _number(outlier_percent, "outlier_percent", 0.0, 100.0, high_open=True)
    if not isinstance(maps, Mapping):
        raise TypeError(f"maps must be a mapping of method key to array, got {type(maps).__name__}")
    low, high = color_range(mode)
    shown: dict[str, np.ndarray] = {}
    for key, raw in maps.items():
        values = _transform(_square(raw, f"maps[{key!r}]"), mode)
        peak = robust_peak(np.abs(values), outlier_percent)
        scaled = np.zeros_like(values) if peak <= 0 else np.clip(values / peak, low, high)
        shown[key] = scaled.astype(np.float32)
    return shown


# --- comparison figure -------------------------------------------------------


def _axis_name(axis: str, index: int) -> str:
    """Plotly's short axis name of subplot ``index`` (1-based): ``"x"``, ``"x2"``, ..."""
    return axis if index == 1 else f"{axis}{index}"


def with_synthetic_label(figure: go.Figure, synthetic: bool, *, yshift: int = 28) -> go.Figure:
    """Put :data:`~data.settings.SYNTHETIC_LABEL` above the plots when ``synthetic``; return ``figure``."""
    if synthetic:
        figure.add_annotation(
            text=SYNTHETIC_LABEL,
            xref="paper",
            yref="paper",
            x=0.0,
            y=1.0,
            xanchor="left",
            yanchor="bottom",
            yshift=yshift,
            showarrow=False,
            font={"size": 13, "color": "rgb(150,60,0)"},
            bgcolor="rgb(255,243,205)",
        )
    return figure


def _color_bar(mode: str, zmin: float, zmax: float) -> dict[str, Any]:
    """A trace with no points that draws the maps' one colour bar (the maps themselves are images)."""
    return {
        "type": "scatter",
        "x": [None],
        "y": [None],
        "mode": "markers",
        "showlegend": False,
        "hoverinfo": "skip",
        "name": "colour scale",
        "marker": {
            "color": [zmin],
            "cmin": zmin,
            "cmax": zmax,
            "colorscale": COLOR_SCALES[mode],
            "showscale": True,
            "colorbar": {"title": {"text": _SCALE_TITLES[mode]}, "len": 0.9},
        },
    }


def comparison_figure(
    image: Any,
    maps: Mapping[str, Any],
    *,
    mode: str = "signed",
    opacity: float = 0.6,
    outlier_percent: float = 2.0,
    image_kind: str = "candlestick",
    title: str | None = None,
    synthetic: bool = False,
    columns: int = 3,
) -> go.Figure:
    """The methods side by side: each map over the model image, one colour bar for all.

    Args:
        image: ``(S, S)`` (or ``(1, S, S)``) finite model image: a candlestick
            raster (``{-1, -0.5, 0, 0.5, 1}``, drawn by magnitude) or a GADF
            (``[-1, 1]``), drawn in grey underneath.
        maps: method key -> ``(S, S)`` (or ``(1, S, S)``) raw attribution of
            that image, in the order to show them.
        mode: display mode, see :func:`display_maps`.
        opacity: of the maps over the image, in ``[0, 1]``.
        outlier_percent: see :func:`display_maps`.
        image_kind: ``"candlestick"`` or ``"gadf"``.
        title: shown above the figure.
        synthetic: add a visible :data:`~data.settings.SYNTHETIC_LABEL` annotation.
        columns: maps per row, at least 1; the grid wraps onto more rows (five maps in one row
            are ~100 px wide on a 1500 px screen and their titles collide).

    Returns:
        A grid of subplots, row by row, titled with each method's name (the key for
        a method outside :data:`~xai.methods.METHODS`); per subplot the image in
        grey (layer ``"below"``) and the display map (:func:`display_maps`) on top
        with ``opacity`` (layer ``"above"``), both PNG layout images coloured here
        (:mod:`xai.map_images`; no values on hover) covering the pixel centres
        ``0 … S-1`` of the subplot's axes. One trace without points, on the first
        subplot, draws the shared colour bar. Image row 0 is at the top; equal
        aspect; no tick labels.

    Raises:
        TypeError: wrong types. ValueError: bad ``mode``, ``opacity``,
        ``outlier_percent``, ``image_kind``, shapes that differ from the image's,
        NaN/inf, no maps.
    """
    picture = _square(image, "image")
    maps = check_mapping(maps, "maps")
    mode = check_choice(mode, "mode", NORMALISE_MODES)
    opacity = _number(opacity, "opacity", 0.0, 1.0)
    image_kind = check_choice(image_kind, "image_kind", IMAGE_KINDS)
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an int >= 1, got {columns!r}")
    for key, value in maps.items():
        if _square(value, f"maps[{key!r}]").shape != picture.shape:
            raise ValueError(f"maps[{key!r}] must have the image's shape {picture.shape}, got shape {np.shape(value)}")
    shown = display_maps(maps, mode, outlier_percent)

    keys = list(shown)
    n_columns = min(columns, len(keys))
    layout = cached_layout(_comparison_layout, [method_label(k) for k in keys], n_columns, title or "", synthetic)
    greys, (grey_min, grey_max), background = _IMAGE_GREYS[image_kind]
    # PNGs, not arrays of floats: coloured here, a few kB per map (:mod:`xai.map_images`)
    grey = png_data_url(colorize(background(picture), greys, grey_min, grey_max))
    zmin, zmax = color_range(mode)
    size = picture.shape[0]
    images: list[dict[str, Any]] = []
    for number, key in enumerate(keys, start=1):
        x_name, y_name = _axis_name("x", number), _axis_name("y", number)
        # the pixel centres at 0 … S-1, as a heat map's; row 0 at the top
        layout[f"xaxis{number if number > 1 else ''}"].update(range=[-0.5, size - 0.5], autorange=False)
        layout[f"yaxis{number if number > 1 else ''}"].update(range=[size - 0.5, -0.5], autorange=False)
        place = {"xref": x_name, "yref": y_name, "x": -0.5, "y": -0.5, "sizex": size, "sizey": size}
        place |= {"xanchor": "left", "yanchor": "top", "sizing": "stretch"}
        images.append({"source": grey, "name": "model image", "layer": "below", **place})
        source = png_data_url(colorize(shown[key], COLOR_SCALES[mode], zmin, zmax))
        images.append({"source": source, "opacity": opacity, "name": method_label(key), "layer": "above", **place})
    layout["images"] = images
    # the shared colour bar, from a trace with no points (the maps are layout images: no hover values)
    return assemble([{**_color_bar(mode, zmin, zmax), "xaxis": "x", "yaxis": "y"}], layout)


def _comparison_layout(n_maps: int, n_columns: int, title: str, synthetic: bool) -> go.Figure:
    """The comparison grid without its traces: titled subplots (their texts put in later), square, no
    ticks (kept per shape: :func:`xai.figure_parts.cached_layout`)."""
    n_rows = -(-n_maps // n_columns)
    figure = make_subplots(
        rows=n_rows,
        cols=n_columns,
        subplot_titles=[str(number) for number in range(1, n_maps + 1)],
        horizontal_spacing=0.03,
        vertical_spacing=0.08 if n_rows > 1 else 0.0,
    )
    for number in range(1, n_maps + 1):
        row, column = divmod(number - 1, n_columns)
        figure.update_xaxes(
            showticklabels=False, showgrid=False, zeroline=False, constrain="domain", row=row + 1, col=column + 1
        )
        figure.update_yaxes(
            autorange="reversed",
            scaleanchor=_axis_name("x", number),
            scaleratio=1,
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            constrain="domain",
            row=row + 1,
            col=column + 1,
        )
    figure.update_layout(
        title={"text": title},
        height=360 * n_rows + (40 if synthetic else 0),
        margin={"l": 10, "r": 10, "t": 90 if (title or synthetic) else 50, "b": 10},
        plot_bgcolor=_WHITE,
    )
    return with_synthetic_label(figure, synthetic)
