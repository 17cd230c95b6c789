"""The rasteriser against plotly + kaleido, and the plotly figures themselves.

Tests marked ``browser`` start Debian's chromium through kaleido; they are not
skipped when it is missing: a missing browser fails them loudly.

How close is close enough (measured here with the seed below, kaleido 1.5,
plotly 7.1, Debian chromium): plotly strokes every body with a 1-px outline and
antialiases its edges, so its bodies are about 1 px wider than the raster's.
Pixels are classified by nearest palette colour and compared class by class.

* 350 px (slot 7 px, raster body 5 px): IoU rising 0.978-0.995, falling
  0.990-0.992, background 0.999. Threshold 0.96 / 0.99.
* 128 px (slot 2.56 px, raster body 2 px against plotly's 1.8 px fill plus
  a 1-px stroke, so most candle pixels are edge pixels): IoU rising
  0.730-0.764, falling 0.746-0.779, background 0.967-0.984. Threshold
  0.68 / 0.95.

What the thresholds catch (measured): the raster moved right by one pixel
drops the colour IoU to 0.27-0.36 at 128 px and 0.51-0.56 at 350 px; one bar
slot off (350 px) to below 0.06; a flipped price axis to below 0.1; one row down to
0.62-0.73 (128 px) and 0.86-0.96 (350 px), which the per-bar wick check below
(ends within one row) catches besides. Bar centres agree within half a pixel.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from data.demo.random_walk import random_walk_ohlc
from data.errors import DataError, RendererUnavailableError
from data.images.candlestick import CandlestickEncoder, candle_geometry, to_rgb
from data.images.reference import candlestick_figure, raster_figure, render_reference
from data.settings import (
    BACKGROUND_RGB,
    CANDLE_GAP_FRACTION,
    CANDLESTICK_SIZE,
    DOWN_RGB,
    PAPER_CANDLESTICK_SIZE,
    SYNTHETIC_LABEL,
    TICKER_WINDOW_BARS,
    UP_RGB,
)

SEED = 7
PALETTE = np.array([BACKGROUND_RGB, UP_RGB, DOWN_RGB], dtype=np.float64)
CLASS_NAMES = ("background", "rising", "falling")
#: (size, windows, minimum IoU for background, minimum IoU for rising/falling)
CASES = {
    "128px": (CANDLESTICK_SIZE, 4, 0.95, 0.68),
    "350px": (PAPER_CANDLESTICK_SIZE, 2, 0.99, 0.96),
}


def classify(rgb: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour (0 background, 1 rising, 2 falling) per pixel."""
    distance = ((rgb[..., np.newaxis, :].astype(np.float64) - PALETTE) ** 2).sum(axis=-1)
    return distance.argmin(axis=-1)


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request: pytest.FixtureRequest) -> dict[str, object]:
    """Windows of 50 bars rendered both ways (one kaleido batch per size)."""
    size, n_windows, min_background, min_colour = CASES[request.param]
    ohlc = random_walk_ohlc(np.random.default_rng(SEED), n_windows, TICKER_WINDOW_BARS)
    reference = render_reference(ohlc, size)
    raster = to_rgb(CandlestickEncoder(image_size=size).transform(ohlc))
    return {
        "size": size,
        "ohlc": ohlc,
        "reference": classify(reference),
        "raster": classify(raster),
        "reference_rgb": reference,
        "thresholds": (min_background, min_colour, min_colour),
    }


@pytest.mark.browser
def test_reference_images_have_the_right_shape_and_colours(rendered: dict) -> None:
    size = rendered["size"]
    reference = rendered["reference_rgb"]
    assert reference.shape == (len(rendered["ohlc"]), size, size, 3)
    assert reference.dtype == np.uint8
    # most pixels are exactly a palette colour (the rest are antialiased edges)
    exact = (reference[..., np.newaxis, :] == PALETTE.astype(np.uint8)).all(axis=-1).any(axis=-1)
    assert exact.mean() > 0.8


@pytest.mark.browser
def test_raster_and_plotly_cover_the_same_pixels(rendered: dict) -> None:
    reference, raster = rendered["reference"], rendered["raster"]
    report = []
    for label, (name, threshold) in enumerate(zip(CLASS_NAMES, rendered["thresholds"], strict=True)):
        intersection = ((reference == label) & (raster == label)).sum(axis=(1, 2))
        union = ((reference == label) | (raster == label)).sum(axis=(1, 2))
        iou = intersection / union
        report.append(f"{name}: {np.round(iou, 3).tolist()} (threshold {threshold})")
        assert (iou >= threshold).all(), f"{rendered['size']} px IoU per window -- " + "; ".join(report)
    print(f"\n{rendered['size']} px IoU per window -- " + "; ".join(report))


@pytest.mark.browser
def test_each_candle_is_in_the_same_place(rendered: dict) -> None:
    """Per bar: coloured columns in its slot share a centre; its wick column
    starts and ends on the same rows (plotly's antialiased wick ends may fall
    to the background, so up to one row short at each end)."""
    reference, raster = rendered["reference"], rendered["raster"]
    geometry = candle_geometry(rendered["ohlc"], rendered["size"])
    worst_centre, worst_row = 0.0, 0
    for window in range(len(reference)):
        for bar, (x0, x1) in enumerate(geometry.slots):
            ours = raster[window, :, x0:x1] != 0
            theirs = reference[window, :, x0:x1] != 0
            assert theirs.any(), f"window {window} bar {bar}: plotly drew nothing in columns [{x0}, {x1})"
            ours_columns, theirs_columns = np.flatnonzero(ours.any(axis=0)), np.flatnonzero(theirs.any(axis=0))
            centre = abs(
                (ours_columns.min() + ours_columns.max()) / 2 - (theirs_columns.min() + theirs_columns.max()) / 2
            )
            assert centre <= 1, f"window {window} bar {bar}: centres {centre} px apart"

            wick = slice(geometry.wick_x0[bar], geometry.wick_x1[bar])
            ours_rows = np.flatnonzero((raster[window, :, wick] != 0).any(axis=1))
            theirs_rows = np.flatnonzero((reference[window, :, wick] != 0).any(axis=1))
            rows = max(abs(ours_rows.min() - theirs_rows.min()), abs(ours_rows.max() - theirs_rows.max()))
            assert rows <= 1, f"window {window} bar {bar}: wick top or bottom {rows} rows apart"
            worst_centre, worst_row = max(worst_centre, centre), max(worst_row, rows)
    print(f"\n{rendered['size']} px: worst centre offset {worst_centre} px, worst wick end offset {worst_row} rows")


def test_missing_browser_fails_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    # choreographer (kaleido's browser driver) honours BROWSER_PATH before searching.
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    ohlc = random_walk_ohlc(np.random.default_rng(SEED), 1, 10)
    with pytest.raises(RendererUnavailableError, match=re.escape("apt-get install chromium")) as caught:
        render_reference(ohlc, 64)
    assert "plotly_get_chrome" in str(caught.value)


def test_render_reference_validates_before_starting_a_browser() -> None:
    with pytest.raises(DataError, match=re.escape("ohlc must be finite; windows [0] contain NaN or inf")):
        render_reference(np.full((1, 3, 4), np.nan), 64)
    with pytest.raises(DataError, match=re.escape("size must be >= 8, got 4")):
        render_reference(np.ones((1, 3, 4)), 4)


# --- the figures -------------------------------------------------------------


def bars_frame(rng: np.random.Generator, n_bars: int) -> pd.DataFrame:
    ohlc = random_walk_ohlc(rng, 1, n_bars)[0]
    # hourly bars over two sessions with an overnight gap
    index = pd.DatetimeIndex(
        list(pd.date_range("2024-03-04 09:30", periods=n_bars // 2, freq="h"))
        + list(pd.date_range("2024-03-05 09:30", periods=n_bars - n_bars // 2, freq="h")),
        name="timestamp",
    )
    return pd.DataFrame(ohlc, index=index, columns=["open", "high", "low", "close"]).assign(volume=1.0)


def test_candlestick_figure_puts_bars_at_their_indices(rng: np.random.Generator) -> None:
    bars = bars_frame(rng, 12)
    figure = candlestick_figure(bars, title="ACME, 60m")
    (trace,) = figure.data
    assert trace.type == "candlestick"
    np.testing.assert_array_equal(trace.x, np.arange(12))
    np.testing.assert_array_equal(trace.open, bars["open"].to_numpy())
    np.testing.assert_array_equal(trace.close, bars["close"].to_numpy())
    assert list(trace.hovertext) == [f"{t:%Y-%m-%d %H:%M}" for t in bars.index]
    assert figure.layout.xaxis.tickvals == (0, 2, 3, 5, 6, 8, 9, 11)
    assert figure.layout.xaxis.ticktext[0] == "2024-03-04 09:30"
    assert figure.layout.xaxis.ticktext[-1] == f"{bars.index[-1]:%Y-%m-%d %H:%M}"
    assert tuple(figure.layout.xaxis.range) == (-0.5, 11.5)
    assert figure.layout.xaxis.rangeslider.visible is False
    assert trace.increasing.fillcolor == "rgb({}, {}, {})".format(*UP_RGB)
    assert trace.decreasing.line.color == "rgb({}, {}, {})".format(*DOWN_RGB)
    assert figure.layout.title.text == "ACME, 60m"
    assert SYNTHETIC_LABEL not in figure.layout.title.text


def test_candlestick_figure_labels_synthetic_data(rng: np.random.Generator) -> None:
    bars = bars_frame(rng, 5)
    assert SYNTHETIC_LABEL in candlestick_figure(bars, title="DEMO", synthetic=True).layout.title.text
    assert candlestick_figure(bars, synthetic=True).layout.title.text == SYNTHETIC_LABEL


def test_candlestick_figure_shows_dates_for_daily_bars(rng: np.random.Generator) -> None:
    bars = bars_frame(rng, 4)
    bars.index = pd.date_range("2024-01-01", periods=4, freq="D", name="timestamp")
    figure = candlestick_figure(bars)
    assert list(figure.layout.xaxis.ticktext) == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda bars: bars.to_numpy(), TypeError, "bars_window must be a pandas DataFrame, got ndarray"),
        (lambda bars: bars.reset_index(drop=True), TypeError, "bars_window must have a DatetimeIndex, got RangeIndex"),
        (
            lambda bars: bars.drop(columns=["low"]),
            DataError,
            "bars_window must have columns ['open', 'high', 'low', 'close'], missing ['low']",
        ),
        (lambda bars: bars.iloc[:0], DataError, "bars_window must hold at least 1 bar, got 0 rows"),
        (
            lambda bars: bars.assign(close=np.where(np.arange(6) % 2, np.nan, 1.0)),
            DataError,
            "bars_window must be finite; rows at 2024-03-04 10:30:00, 2024-03-05 09:30:00, "
            "2024-03-05 11:30:00 contain NaN or inf",
        ),
        (
            lambda bars: bars.assign(high=0.0),
            DataError,
            "bars_window must have high >= low; rows at 2024-03-04 09:30:00, 2024-03-04 10:30:00, "
            "2024-03-04 11:30:00 and 3 more break it",
        ),
    ],
)
def test_candlestick_figure_refuses_bad_frames(
    rng: np.random.Generator, make: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        candlestick_figure(make(bars_frame(rng, 6)))  # type: ignore[operator]


def test_raster_figure_matches_the_raster_geometry(rng: np.random.Generator) -> None:
    ohlc = random_walk_ohlc(rng, 1, TICKER_WINDOW_BARS)[0]
    figure = raster_figure(ohlc, CANDLESTICK_SIZE)
    layout = figure.layout
    assert (layout.width, layout.height) == (CANDLESTICK_SIZE, CANDLESTICK_SIZE)
    assert (layout.margin.l, layout.margin.r, layout.margin.t, layout.margin.b) == (0, 0, 0, 0)
    assert layout.boxgap == CANDLE_GAP_FRACTION
    assert layout.boxgroupgap == 0
    assert layout.showlegend is False
    assert layout.xaxis.visible is False
    assert layout.yaxis.visible is False
    assert tuple(layout.xaxis.range) == (-0.5, TICKER_WINDOW_BARS - 0.5)
    assert tuple(layout.yaxis.range) == (ohlc[:, 2].min(), ohlc[:, 1].max())
    assert layout.plot_bgcolor == layout.paper_bgcolor == "rgb({}, {}, {})".format(*BACKGROUND_RGB)
    (trace,) = figure.data
    assert trace.increasing.line.width == trace.decreasing.line.width == 1
    assert not layout.annotations
    assert layout.title.text is None


def test_raster_figure_centres_a_constant_window() -> None:
    figure = raster_figure(np.full((3, 4), 50.0), 16)
    low, high = figure.layout.yaxis.range
    assert low < 50.0 < high
    assert (low + high) / 2 == 50.0


@pytest.mark.parametrize(
    ("ohlc", "size", "message"),
    [
        (np.ones((1, 3, 4)), 16, "ohlc_window must be 2-D (n_bars, 4), got shape (1, 3, 4)"),
        (np.ones((20, 4)), 16, "size must be >= the number of bars, got size 16 for 20 bars"),
        (np.ones((3, 4)), 6, "size must be >= 8, got 6"),
    ],
)
def test_raster_figure_refuses_bad_input(ohlc: np.ndarray, size: int, message: str) -> None:
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        raster_figure(ohlc, size)
