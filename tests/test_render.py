"""Tests of the attribution figures (xai/render.py).

Expected answers are worked out by hand on tiny maps (the cumulative-mass
peak of a 4 x 4 map, the four display modes of a 2 x 2 map) or checked
against Captum's own visualisation normaliser. ``figure_png`` renders for real
with Debian's chromium (marked ``browser``, never skipped) and is also driven
down every "no browser" path kaleido and plotly can take.
"""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image

from data.errors import RendererUnavailableError
from data.settings import SYNTHETIC_LABEL
from tests.test_map_images import heatmaps, pixels
from xai.map_images import colorize
from xai.methods import METHODS
from xai.png import figure_png
from xai.render import (
    ABSOLUTE_COLOR,
    COLOR_SCALES,
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    color_range,
    comparison_figure,
    display_maps,
    robust_peak,
)
from xai.time_figure import time_importance_figure
from xai.time_projection import NORMALISE_MODES, normalise

SIZE = 8


# --- helpers -----------------------------------------------------------------


def scale_colors(scale) -> list[tuple[float, str]]:
    return [(float(position), str(color)) for position, color in scale]


@pytest.fixture
def image(rng: np.random.Generator) -> np.ndarray:
    """An (S, S) candlestick-like raster with values in {-1, -0.5, 0, 0.5, 1}."""
    return rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(SIZE, SIZE)).astype(np.float32)


@pytest.fixture
def maps(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Three signed maps of different units; the last key is not in the registry."""
    return {
        "gradcam": rng.normal(size=(SIZE, SIZE)).astype(np.float32) * 50.0,
        "saliency": rng.normal(size=(1, SIZE, SIZE)).astype(np.float32) * 1e-6,
        "custom": rng.normal(size=(SIZE, SIZE)).astype(np.float32),
    }


@pytest.fixture
def price() -> pd.DataFrame:
    """Six hourly bars across a night (a gap a date axis would show)."""
    index = pd.DatetimeIndex(
        ["2024-01-02 14:30", "2024-01-02 15:30", "2024-01-03 09:30", "2024-01-03 10:30", "2024-01-03 11:30",
         "2024-01-03 12:30"],
        tz="America/New_York",
    )  # fmt: skip
    close = np.array([10.0, 10.5, 10.2, 9.8, 10.1, 10.6])
    return pd.DataFrame(
        {"open": close - 0.1, "high": close + 0.3, "low": close - 0.4, "close": close, "volume": 100.0}, index=index
    )


# --- display_maps: known answers ---------------------------------------------


@pytest.mark.parametrize(
    ("outlier_percent", "peak"),
    [
        (0.0, 16.0),  # the maximum
        (2.0, 16.0),  # 98 % of 136 = 133.28 > 1 + ... + 15 = 120
        (20.0, 15.0),  # 80 % of 136 = 108.8: 1 + ... + 14 = 105 < 108.8 <= 120 = 1 + ... + 15
        (50.0, 12.0),  # 50 % of 136 = 68: 1 + ... + 11 = 66 < 68 <= 78 = 1 + ... + 12
    ],
)
def test_robust_peak_is_the_cumulative_mass_threshold(outlier_percent: float, peak: float) -> None:
    values = np.arange(1.0, 17.0).reshape(4, 4)
    assert robust_peak(values, outlier_percent) == peak
    expected = (values / peak).clip(-1, 1).astype(np.float32)
    np.testing.assert_array_equal(display_maps({"m": values}, outlier_percent=outlier_percent)["m"], expected)


def test_robust_peak_rejects() -> None:
    with pytest.raises(ValueError, match=re.escape("magnitudes must be >= 0 (absolute values), got a minimum of -1.0")):
        robust_peak(np.array([2.0, -1.0]), 2.0)
    with pytest.raises(ValueError, match=re.escape("outlier_percent must be in [0, 100), got 100.0")):
        robust_peak(np.ones(3), 100.0)
    assert robust_peak(np.zeros((3, 3)), 2.0) == 0.0


def test_values_above_the_peak_saturate() -> None:
    values = np.arange(1.0, 17.0).reshape(4, 4)  # peak 12 at 50 %, as above
    shown = display_maps({"m": values}, outlier_percent=50.0)["m"]
    assert (shown.reshape(-1)[11:] == 1.0).all()
    np.testing.assert_array_equal(shown.reshape(-1)[:11], (np.arange(1.0, 12.0) / 12.0).astype(np.float32))


def test_one_outlier_among_ones() -> None:
    # [10, 1 x 15]: total 25. 98 % (24.5) needs the 10, so the peak is 10; 50 % (12.5) is reached
    # by the thirteenth 1, so the peak is 1 and everything saturates.
    values = np.ones((4, 4))
    values[2, 3] = 10.0
    shown = display_maps({"m": values})["m"]
    expected = np.full((4, 4), np.float32(0.1))
    expected[2, 3] = 1.0
    np.testing.assert_array_equal(shown, expected)
    np.testing.assert_array_equal(display_maps({"m": values}, outlier_percent=50.0)["m"], np.ones((4, 4)))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("signed", [[0.75, -0.25], [0.0, -1.0]]),  # peak 4 of |x| = [3, 1, 0, 4]
        ("absolute", [[0.75, 0.25], [0.0, 1.0]]),
        ("positive", [[1.0, 0.0], [0.0, 0.0]]),  # only the 3 is left: its own peak
        ("negative", [[0.0, 0.25], [0.0, 1.0]]),  # magnitudes 1 and 4 of the negative part
    ],
)
def test_modes_of_a_signed_map(mode: str, expected: list[list[float]]) -> None:
    shown = display_maps({"m": np.array([[3.0, -1.0], [0.0, -4.0]])}, mode)["m"]
    assert shown.dtype == np.float32
    assert shown.shape == (2, 2)
    np.testing.assert_array_equal(shown, np.array(expected, dtype=np.float32))


@pytest.mark.parametrize("mode", NORMALISE_MODES)
def test_nothing_to_show_stays_zero(mode: str) -> None:
    shown = display_maps({"zero": np.zeros((1, 5, 5)), "no_negatives": np.arange(25.0).reshape(5, 5)}, mode)
    np.testing.assert_array_equal(shown["zero"], np.zeros((5, 5), np.float32))
    if mode == "negative":
        np.testing.assert_array_equal(shown["no_negatives"], np.zeros((5, 5), np.float32))


def test_each_map_is_scaled_by_its_own_peak(maps: dict[str, np.ndarray]) -> None:
    # Units differ by 1e7 between the maps; each fills the shared scale anyway (tiny gradients are not blanked).
    shown = display_maps(maps)
    for key, value in shown.items():
        assert value.shape == (SIZE, SIZE)
        assert np.abs(value).max() == 1.0, key
        assert value.min() >= -1.0
    tiny = maps["gradcam"] * np.float32(2.0**-30)  # a power of two: exact, so the result must be too
    np.testing.assert_array_equal(display_maps({"a": tiny})["a"], shown["gradcam"])


@pytest.mark.parametrize(
    ("mode", "captum_sign"),
    [("signed", "all"), ("absolute", "absolute_value"), ("positive", "positive"), ("negative", "negative")],
)
@pytest.mark.parametrize("outlier_percent", [0.0, 2.0, 10.0])
def test_matches_captums_visualisation_normaliser(
    rng: np.random.Generator, mode: str, captum_sign: str, outlier_percent: float
) -> None:
    from captum.attr._utils.visualization import _normalize_attr  # the reference, test-only

    values = rng.normal(size=(16, 16)) * 3.0
    values[3, 4] = 40.0  # an outlier on each side
    values[9, 1] = -40.0
    expected = _normalize_attr(values, captum_sign, outlier_percent)
    np.testing.assert_allclose(display_maps({"m": values}, mode, outlier_percent)["m"], expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "both"}, ValueError, "mode must be one of 'signed', 'absolute', 'positive', 'negative', got 'both'"),
        ({"mode": 1}, TypeError, "mode must be a str, got int 1"),
        ({"outlier_percent": 100}, ValueError, "outlier_percent must be in [0, 100), got 100"),
        ({"outlier_percent": -0.5}, ValueError, "outlier_percent must be in [0, 100), got -0.5"),
        ({"outlier_percent": "2"}, TypeError, "outlier_percent must be a real number, got str '2'"),
        ({"maps": [np.zeros((2, 2))]}, TypeError, "maps must be a mapping of method key to array, got list"),
        (
            {"maps": {"a": np.zeros((2, 3))}},
            ValueError,
            "maps['a'] must have shape (S, S) or (1, S, S), got shape (2, 3)",
        ),
        ({"maps": {"a": np.zeros((2, 2, 2))}}, ValueError, "maps['a'] must have shape (S, S) or (1, S, S)"),
        ({"maps": {"a": np.array([[np.nan, 0], [0, 0]])}}, ValueError, "maps['a'] must be finite, got NaN or inf"),
        ({"maps": {"a": np.array([["x"]])}}, TypeError, "maps['a'] must be an array of real numbers, got dtype <U1"),
    ],
)
def test_display_maps_rejects(kwargs: dict, error: type[Exception], message: str) -> None:
    arguments = {"maps": {"a": np.ones((2, 2))}, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        display_maps(**arguments)


# --- colour scales -----------------------------------------------------------


def test_one_colour_scale_per_mode_red_positive_white_zero() -> None:
    assert set(COLOR_SCALES) == set(NORMALISE_MODES)
    signed = scale_colors(COLOR_SCALES["signed"])
    assert signed[0] == (0.0, "rgb(5,48,97)")  # the strongest negative evidence is dark blue
    assert dict(signed)[0.5] == "rgb(255,255,255)"  # zero is white
    assert signed[-1] == (1.0, "rgb(103,0,31)")  # the strongest positive evidence is dark red
    # A value has the same colour on the signed scale and on its one-sided scale.
    positive = scale_colors(COLOR_SCALES["positive"])
    negative = scale_colors(COLOR_SCALES["negative"])
    assert [color for _, color in positive] == [color for position, color in signed if position >= 0.5]
    assert [color for _, color in negative] == [color for position, color in signed if position <= 0.5][::-1]
    for position, color in positive:
        assert dict(signed)[0.5 + position / 2] == color
    assert POSITIVE_COLOR in dict(positive).values()
    assert NEGATIVE_COLOR in dict(negative).values()
    assert ABSOLUTE_COLOR in dict(scale_colors(COLOR_SCALES["absolute"])).values()
    assert scale_colors(COLOR_SCALES["absolute"])[0][1] == "rgb(255,255,255)"


def test_color_range() -> None:
    assert color_range("signed") == (-1.0, 1.0)
    for mode in ("absolute", "positive", "negative"):
        assert color_range(mode) == (0.0, 1.0)
    with pytest.raises(ValueError, match=re.escape("mode must be one of")):
        color_range("all")


# --- comparison_figure -------------------------------------------------------


def test_comparison_figure_layout(image: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    figure = comparison_figure(image, maps, opacity=0.35)
    images, attributions = heatmaps(figure)
    assert len(figure.data) == 1  # the colour bar's trace; the image and the map of each subplot are layout images
    assert len(figure.layout.images) == 6
    assert len(images) == len(attributions) == 3
    assert [trace.name for trace in attributions] == [METHODS["gradcam"].label, METHODS["saliency"].label, "custom"]
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == [METHODS["gradcam"].label, METHODS["saliency"].label, "custom"]
    assert titles[:2] == ["Grad-CAM", "Vanilla gradient (saliency)"]
    (bar,) = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert bar.marker.showscale is True
    assert (bar.marker.cmin, bar.marker.cmax) == (-1.0, 1.0)
    assert scale_colors(bar.marker.colorscale) == scale_colors(COLOR_SCALES["signed"])
    assert bar.xaxis == "x"
    assert list(bar.x) == [None]

    shown = display_maps(maps)
    for column, (key, trace) in enumerate(zip(maps, attributions, strict=True), start=1):
        np.testing.assert_array_equal(pixels(trace), colorize(shown[key], COLOR_SCALES["signed"], -1.0, 1.0))
        assert trace.opacity == 0.35
        grey = images[column - 1]
        greys = pixels(grey)  # candlestick: by magnitude, 0 white, 1 dark grey
        np.testing.assert_array_equal(greys[np.abs(image) == 0], 255)
        np.testing.assert_array_equal(greys[np.abs(image) == 1], 60)
        np.testing.assert_array_equal(greys[np.abs(image) == 0.5], 158)  # halfway, rounded
        suffix = "" if column == 1 else str(column)
        assert (trace.xref, trace.yref) == (grey.xref, grey.yref) == (f"x{suffix}", f"y{suffix}")
        # the image goes underneath the map; both cover the pixel centres 0 … S-1, row 0 at the top
        assert (grey.layer, trace.layer) == ("below", "above")
        assert (trace.x, trace.y, trace.sizex, trace.sizey) == (-0.5, -0.5, SIZE, SIZE)
        assert (trace.xanchor, trace.yanchor, trace.sizing) == ("left", "top", "stretch")
        y_axis = figure.layout[f"yaxis{suffix}"]
        assert tuple(y_axis.range) == (SIZE - 0.5, -0.5)  # reversed: row 0 on top
        assert tuple(figure.layout[f"xaxis{suffix}"].range) == (-0.5, SIZE - 0.5)
        assert y_axis.scaleanchor == f"x{suffix}"
        assert y_axis.showticklabels is False
        assert figure.layout[f"xaxis{suffix}"].showticklabels is False


def test_comparison_figure_wraps_five_maps_onto_two_rows(image: np.ndarray, rng: np.random.Generator) -> None:
    keys = ["gradcam", "saliency", "deconvolution", "guided_backprop", "guided_gradcam"]
    five = {key: rng.normal(size=image.shape) for key in keys}
    figure = comparison_figure(image, five)
    _, attributions = heatmaps(figure)
    assert [annotation.text for annotation in figure.layout.annotations] == [METHODS[key].label for key in keys]
    assert [trace.xref for trace in attributions] == ["x", "x2", "x3", "x4", "x5"]
    top, bottom = figure.layout.yaxis.domain, figure.layout.yaxis4.domain
    assert bottom[1] < top[0]  # the fourth map starts the second row
    assert figure.layout.xaxis4.domain == figure.layout.xaxis.domain  # under the first
    assert figure.layout.height == 2 * 360
    one_row = comparison_figure(image, five, columns=5)
    assert one_row.layout.yaxis5.domain == one_row.layout.yaxis.domain
    assert one_row.layout.height == 360


def test_comparison_figure_modes_and_gadf(image: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    figure = comparison_figure(image, maps, mode="negative", image_kind="gadf", outlier_percent=10.0)
    images, attributions = heatmaps(figure)
    shown = display_maps(maps, "negative", 10.0)
    for key, trace in zip(maps, attributions, strict=True):
        np.testing.assert_array_equal(pixels(trace), colorize(shown[key], COLOR_SCALES["negative"], 0.0, 1.0))
    (bar,) = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert (bar.marker.cmin, bar.marker.cmax) == (0.0, 1.0)
    assert scale_colors(bar.marker.colorscale) == scale_colors(COLOR_SCALES["negative"])
    greys = pixels(images[0])  # GADF: signed values as they are, -1 dark, +1 white
    np.testing.assert_array_equal(greys[image == -1], 30)
    np.testing.assert_array_equal(greys[image == 1], 255)


def test_comparison_figure_synthetic_label(image: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    plain = comparison_figure(image, maps, title="AAA 2024-01-03")
    assert plain.layout.title.text == "AAA 2024-01-03"
    assert SYNTHETIC_LABEL not in [annotation.text for annotation in plain.layout.annotations]
    marked = comparison_figure(image, maps, synthetic=True)
    labels = [annotation for annotation in marked.layout.annotations if annotation.text == SYNTHETIC_LABEL]
    assert len(labels) == 1
    assert labels[0].visible is not False


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"opacity": 1.5}, ValueError, "opacity must be in [0, 1], got 1.5"),
        ({"columns": 0}, ValueError, "columns must be an int >= 1, got 0"),
        ({"opacity": -0.1}, ValueError, "opacity must be in [0, 1], got -0.1"),
        ({"opacity": None}, TypeError, "opacity must be a real number, got NoneType None"),
        ({"mode": "abs"}, ValueError, "mode must be one of 'signed', 'absolute', 'positive', 'negative', got 'abs'"),
        ({"image_kind": "line"}, ValueError, "image_kind must be one of 'candlestick', 'gadf', got 'line'"),
        ({"outlier_percent": 150}, ValueError, "outlier_percent must be in [0, 100), got 150"),
        ({"maps": {}}, ValueError, "maps must hold at least 1 method, got an empty mapping"),
        (
            {"maps": {"gradcam": np.zeros((SIZE, SIZE)), "saliency": np.zeros((4, 4))}},
            ValueError,
            "maps['saliency'] must have the image's shape (8, 8), got shape (4, 4)",
        ),
        (
            {"image": np.zeros((SIZE, SIZE + 1))},
            ValueError,
            "image must have shape (S, S) or (1, S, S), got shape (8, 9)",
        ),
    ],
)
def test_comparison_figure_rejects(
    image: np.ndarray, maps: dict[str, np.ndarray], kwargs: dict, error: type[Exception], message: str
) -> None:
    arguments = {"image": image, "maps": maps, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        comparison_figure(**arguments)


# --- time_importance_figure --------------------------------------------------


def test_time_importance_figure_layout(price: pd.DataFrame) -> None:
    per_time = {"gradcam": np.array([0.0, 2.0, -1.0, 4.0, 0.5, -4.0]), "saliency": np.arange(6.0)}
    figure = time_importance_figure(price, per_time, title="AAA")
    assert [type(trace).__name__ for trace in figure.data] == ["Candlestick", "Bar", "Bar"]
    candles, *bars = figure.data
    np.testing.assert_array_equal(candles.close, price["close"])
    np.testing.assert_array_equal(candles.open, price["open"])
    assert figure.layout.xaxis.rangeslider.visible is False
    # one row per method below the price, all on the bottom row's x axis
    assert [trace.yaxis for trace in figure.data] == ["y", "y2", "y3"]
    assert "yaxis4" not in figure.layout
    assert figure.layout.xaxis.matches == figure.layout.xaxis2.matches == "x3"
    assert figure.layout.xaxis.domain == figure.layout.xaxis3.domain
    assert figure.layout.xaxis.type == figure.layout.xaxis3.type == "category"  # no gap over the night
    assert [annotation.text for annotation in figure.layout.annotations] == [
        "price",
        "Grad-CAM",
        "Vanilla gradient (saliency)",
    ]

    labels = list(price.index.strftime("%Y-%m-%d %H:%M"))
    assert list(candles.x) == labels
    # the tick labels are category names that exist (Timestamps as tick values matched none: no labels shown)
    assert set(figure.layout.xaxis3.tickvals) <= set(labels)
    assert list(figure.layout.xaxis3.ticktext) == list(figure.layout.xaxis3.tickvals)
    for key, trace in zip(per_time, bars, strict=True):
        assert list(trace.x) == labels
        np.testing.assert_array_equal(trace.y, normalise(per_time[key], "signed"))
    np.testing.assert_array_equal(bars[0].y, [0.0, 0.5, -0.25, 1.0, 0.125, -1.0])
    positive, negative = POSITIVE_COLOR, NEGATIVE_COLOR
    assert list(bars[0].marker.color) == [positive, positive, negative, positive, positive, negative]
    assert figure.layout.yaxis2.range == (-1.05, 1.05)


def test_time_importance_figure_one_sided_modes(price: pd.DataFrame) -> None:
    per_time = {"gradcam": np.array([0.0, 2.0, -1.0, 4.0, 0.5, -4.0])}
    absolute = time_importance_figure(price, per_time, mode="absolute", chart="line").data
    assert isinstance(absolute[0], go.Scatter)
    np.testing.assert_array_equal(absolute[0].y, price["close"])
    np.testing.assert_array_equal(absolute[1].y, [0.0, 0.5, 0.25, 1.0, 0.125, 1.0])
    assert set(absolute[1].marker.color) == {ABSOLUTE_COLOR}
    negative = time_importance_figure(price, per_time, mode="negative").data[1]
    np.testing.assert_array_equal(negative.y, [0.0, 0.0, 0.25, 0.0, 0.0, 1.0])
    assert set(negative.marker.color) == {NEGATIVE_COLOR}
    positive = time_importance_figure(price, per_time, mode="positive").data[1]
    np.testing.assert_array_equal(positive.y, [0.0, 0.5, 0.0, 1.0, 0.125, 0.0])
    assert set(positive.marker.color) == {POSITIVE_COLOR}


def test_time_importance_figure_synthetic_label(price: pd.DataFrame) -> None:
    figure = time_importance_figure(price, {"gradcam": np.ones(6)}, synthetic=True)
    assert SYNTHETIC_LABEL in [annotation.text for annotation in figure.layout.annotations]
    assert SYNTHETIC_LABEL not in [a.text for a in time_importance_figure(price, {"m": np.ones(6)}).layout.annotations]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"per_time": {"gradcam": np.ones(6), "saliency": np.ones(5)}},
            ValueError,
            "per_time['saliency'] must have shape (T,) with T = len(price) = 6, got shape (5,)",
        ),
        ({"per_time": {"gradcam": np.ones((1, 6))}}, ValueError, "per_time['gradcam'] must have shape (T,)"),
        ({"per_time": {}}, ValueError, "per_time must hold at least 1 method, got an empty mapping"),
        ({"per_time": {"gradcam": np.full(6, np.inf)}}, ValueError, "per_time['gradcam'] must be finite"),
        ({"chart": "ohlc"}, ValueError, "chart must be one of 'candlestick', 'line', got 'ohlc'"),
        ({"mode": "all"}, ValueError, "mode must be one of 'signed', 'absolute', 'positive', 'negative', got 'all'"),
        ({"price": np.ones((6, 4))}, TypeError, "price must be a pandas DataFrame, got ndarray"),
    ],
)
def test_time_importance_figure_rejects(
    price: pd.DataFrame, kwargs: dict, error: type[Exception], message: str
) -> None:
    arguments = {"price": price, "per_time": {"gradcam": np.ones(6)}, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        time_importance_figure(**arguments)


def test_time_importance_figure_rejects_bad_frames(price: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=re.escape("price must have columns ['open', 'high', 'low', 'close']")):
        time_importance_figure(price[["close"]], {"m": np.ones(6)})
    time_importance_figure(price[["close"]], {"m": np.ones(6)}, chart="line")  # the line needs only the close
    doubled = price.set_axis(price.index[[0, 0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match=re.escape("price must have a unique index")):
        time_importance_figure(doubled, {"m": np.ones(6)})


# --- figure_png --------------------------------------------------------------


@pytest.mark.browser
def test_figure_png_renders_with_chromium(image: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    png = figure_png(comparison_figure(image, maps, synthetic=True), width=300, height=200, scale=1.5)
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG"
        assert decoded.size == (450, 300)
        pixels = np.asarray(decoded.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # drawn, not blank


def _raise(error: Exception):
    def fail(*args, **kwargs):
        raise error

    return fail


def test_figure_png_without_chrome(monkeypatch: pytest.MonkeyPatch) -> None:
    from kaleido.errors import ChromeNotFoundError

    monkeypatch.setattr(go.Figure, "to_image", _raise(ChromeNotFoundError("no chrome here")))
    with pytest.raises(RendererUnavailableError) as caught:
        figure_png(go.Figure(), width=100, height=100)
    message = str(caught.value)
    assert "chromium" in message.lower()
    assert "apt-get install chromium" in message
    assert "no chrome here" in message


def test_figure_png_through_plotlys_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    # plotly catches kaleido's ChromeNotFoundError and raises a RuntimeError of its own (no "from").
    import kaleido
    from kaleido.errors import ChromeNotFoundError

    monkeypatch.setattr(kaleido, "calc_fig_sync", _raise(ChromeNotFoundError("none found")))
    with pytest.raises(RendererUnavailableError, match="apt-get install chromium"):
        figure_png(go.Figure(), width=100, height=100)


def test_figure_png_with_no_browser_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real chain, no fakes: choreographer honours BROWSER_PATH before searching.
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    with pytest.raises(RendererUnavailableError, match="apt-get install chromium"):
        figure_png(go.Figure(), width=100, height=100)


def test_figure_png_browser_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from kaleido.errors import BrowserFailedError

    monkeypatch.setattr(go.Figure, "to_image", _raise(BrowserFailedError("crashed")))
    with pytest.raises(RendererUnavailableError, match=r"could not start Chrome \(crashed\).*apt-get install chromium"):
        figure_png(go.Figure(), width=100, height=100)


def test_figure_png_without_kaleido(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kaleido", None)
    monkeypatch.setitem(sys.modules, "kaleido.errors", None)
    with pytest.raises(RendererUnavailableError, match=re.escape("pip install 'kaleido>=1'")):
        figure_png(go.Figure(), width=100, height=100)


def test_figure_png_lets_other_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(go.Figure, "to_image", _raise(RuntimeError("something else")))
    with pytest.raises(RuntimeError, match="something else") as caught:
        figure_png(go.Figure(), width=100, height=100)
    assert not isinstance(caught.value, RendererUnavailableError)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"width": 0}, ValueError, "width must be >= 1 pixel, got 0"),
        ({"height": 2.5}, TypeError, "height must be an int, got float 2.5"),
        ({"scale": 0}, ValueError, "scale must be a finite number > 0, got 0"),
        ({"scale": "2"}, TypeError, "scale must be a real number, got str '2'"),
        ({"fig": {"data": []}}, TypeError, "fig must be a plotly.graph_objects.Figure, got dict"),
    ],
)
def test_figure_png_rejects(kwargs: dict, error: type[Exception], message: str) -> None:
    arguments = {"fig": go.Figure(), "width": 100, "height": 100, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        figure_png(**arguments)
