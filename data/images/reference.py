"""Plotly candlestick figures: the interactive chart and the slow reference renderer.

* :func:`candlestick_figure` -- the chart users look at. Bars sit at x = 0 .. T-1
  (so nights and weekends leave no blank space and the x positions agree with
  the raster's bar slots); tick labels and hover text show the timestamps.
* :func:`raster_figure` -- a bare figure drawn to the raster's geometry (no
  axes, text or margins; ``S x S`` pixels; x range ``[-0.5, T - 0.5]``, y range
  ``[min low, max high]``; body width ``CANDLE_GAP_FRACTION`` of a slot left
  empty). It is how the source paper made its images.
* :func:`render_reference` -- renders windows with plotly + kaleido (a headless
  Chrome). About a thousand times slower than
  :class:`~data.images.candlestick.CandlestickEncoder`; it exists to check that
  the rasteriser puts candles where plotly does.

Known differences between plotly's drawing and the raster:
plotly strokes each body with a 1-px outline (bodies look about 1 px wider
and taller), antialiases edges, and colours a doji (``open == close``) by
comparing its close with the previous close, where the raster calls every doji
rising.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from data.errors import DataError, RendererUnavailableError
from data.images.candlestick import validate_image_size, validate_ohlc
from data.settings import (
    BACKGROUND_RGB,
    CANDLE_GAP_FRACTION,
    DOWN_RGB,
    OHLC,
    SYNTHETIC_LABEL,
    UP_RGB,
)

__all__ = ["candlestick_figure", "raster_figure", "render_reference"]

#: How many x tick labels the interactive chart shows at most.
MAX_TICK_LABELS = 8
#: Stroke width (px) of wicks and body outlines in the reference figure.
REFERENCE_LINE_WIDTH = 1

INSTALL_CHROME_HINT = "install Chromium: `apt-get install chromium` (Debian) or `plotly_get_chrome`"


def _css(rgb: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*rgb)


def _candlestick_trace(
    x: np.ndarray, ohlc: np.ndarray, line_width: float | None = None, **kwargs: Any
) -> go.Candlestick:
    """One candlestick trace in the display palette; ``ohlc`` is ``(T, 4)``."""
    line = {} if line_width is None else {"width": line_width}
    return go.Candlestick(
        x=x,
        open=ohlc[:, 0],
        high=ohlc[:, 1],
        low=ohlc[:, 2],
        close=ohlc[:, 3],
        increasing={"line": {"color": _css(UP_RGB), **line}, "fillcolor": _css(UP_RGB)},
        decreasing={"line": {"color": _css(DOWN_RGB), **line}, "fillcolor": _css(DOWN_RGB)},
        **kwargs,
    )


def _tick_format(index: pd.DatetimeIndex) -> str:
    daily = bool((index.normalize() == index).all())
    return "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"


def _frame_ohlc(bars_window: pd.DataFrame) -> np.ndarray:
    """The frame's ``(T, 4)`` float64 prices; bad rows are named by timestamp."""
    ohlc = bars_window.loc[:, list(OHLC)].to_numpy(dtype=np.float64)
    for rule, bad in (
        ("must be finite; rows at {} contain NaN or inf", ~np.isfinite(ohlc).all(axis=1)),
        ("must have high >= low; rows at {} break it", ohlc[:, 1] < ohlc[:, 2]),
    ):
        if bad.any():
            stamps = [str(stamp) for stamp in bars_window.index[bad][:3]]
            more = f" and {int(bad.sum()) - 3} more" if bad.sum() > 3 else ""
            raise DataError("bars_window " + rule.format(", ".join(stamps) + more))
    return ohlc


def candlestick_figure(bars_window: pd.DataFrame, *, title: str | None = None, synthetic: bool = False) -> go.Figure:
    """The interactive candlestick chart of one window.

    Args:
        bars_window: ``T >= 1`` bars, a ``DataFrame`` with a ``DatetimeIndex``
            and float columns ``open, high, low, close`` (others ignored).
        title: shown above the chart.
        synthetic: when True, ``SYNTHETIC_LABEL`` is part of the title.

    Returns:
        A figure with one candlestick trace at x = 0 .. T-1, tick labels and
        hover text giving each bar's timestamp, colours from the palette.
    """
    if not isinstance(bars_window, pd.DataFrame):
        raise TypeError(f"bars_window must be a pandas DataFrame, got {type(bars_window).__name__}")
    if not isinstance(bars_window.index, pd.DatetimeIndex):
        raise TypeError(f"bars_window must have a DatetimeIndex, got {type(bars_window.index).__name__}")
    missing = [column for column in OHLC if column not in bars_window.columns]
    if missing:
        raise DataError(f"bars_window must have columns {list(OHLC)}, missing {missing}")
    if len(bars_window) == 0:
        raise DataError("bars_window must hold at least 1 bar, got 0 rows")
    ohlc = _frame_ohlc(bars_window)

    n_bars = len(ohlc)
    labels = bars_window.index.strftime(_tick_format(bars_window.index))
    x = np.arange(n_bars)
    ticks = np.unique(np.linspace(0, n_bars - 1, min(n_bars, MAX_TICK_LABELS)).round().astype(int))
    figure = go.Figure(_candlestick_trace(x, ohlc, hovertext=list(labels), name="price"))
    title_text = "<br>".join(part for part in (title, SYNTHETIC_LABEL if synthetic else None) if part)
    figure.update_layout(
        title={"text": title_text},
        showlegend=False,
        boxgap=CANDLE_GAP_FRACTION,
        boxgroupgap=0,
        plot_bgcolor=_css(BACKGROUND_RGB),
        hovermode="x",
    )
    figure.update_xaxes(
        range=[-0.5, n_bars - 0.5],
        rangeslider_visible=False,
        tickmode="array",
        tickvals=ticks.tolist(),
        ticktext=[labels[i] for i in ticks],
    )
    figure.update_yaxes(title_text="price")
    return figure


def raster_figure(ohlc_window: Any, size: int) -> go.Figure:
    """A bare plotly figure drawn to the raster's geometry.

    Args:
        ohlc_window: ``(T, 4)`` floats (open, high, low, close), finite,
            ``high >= low``.
        size: image side ``S`` in pixels, an int >= max(8, T).

    Returns:
        A ``S x S`` figure: no axes, ticks, text, legend or margins; x range
        ``[-0.5, T - 0.5]``, y range ``[min low, max high]`` (a constant window
        is centred vertically), ``boxgap = CANDLE_GAP_FRACTION``, wick width
        1 px, palette colours on ``BACKGROUND_RGB``.
    """
    array = np.asarray(ohlc_window)
    if array.ndim != 2:
        raise DataError(f"ohlc_window must be 2-D (n_bars, 4), got shape {array.shape}")
    ohlc = validate_ohlc(array, name="ohlc_window")[0]
    side = validate_image_size(size, name="size")
    n_bars = len(ohlc)
    if n_bars > side:
        raise DataError(f"size must be >= the number of bars, got size {side} for {n_bars} bars")
    low, high = float(ohlc[:, 2].min()), float(ohlc[:, 1].max())
    if high <= low:  # constant window: the raster draws it on the middle row
        pad = abs(low) * 0.01 or 1.0
        low, high = low - pad, high + pad

    figure = go.Figure(_candlestick_trace(np.arange(n_bars), ohlc, line_width=REFERENCE_LINE_WIDTH))
    figure.update_layout(
        width=side,
        height=side,
        margin={"l": 0, "r": 0, "t": 0, "b": 0, "pad": 0},
        showlegend=False,
        # plotly draws a box (candle body) of width slot * (1 - boxgap) * (1 - boxgroupgap),
        # even when traces are not grouped; boxgroupgap=0 keeps only our gap.
        boxgap=CANDLE_GAP_FRACTION,
        boxgroupgap=0,
        paper_bgcolor=_css(BACKGROUND_RGB),
        plot_bgcolor=_css(BACKGROUND_RGB),
        hovermode=False,
    )
    figure.update_xaxes(visible=False, range=[-0.5, n_bars - 0.5], rangeslider_visible=False, fixedrange=True)
    figure.update_yaxes(visible=False, range=[low, high], fixedrange=True)
    return figure


def render_reference(ohlc: Any, size: int) -> np.ndarray:
    """Render candlestick windows with plotly + kaleido (headless Chrome).

    All windows are rendered in one kaleido session (one browser start, about
    2 s, then roughly 0.1 s per image on two cores) to PNG files in a
    temporary folder, which is deleted afterwards.

    Args:
        ohlc: ``(N, T, 4)`` or ``(T, 4)`` floats, as for
            :class:`~data.images.candlestick.CandlestickEncoder`.
        size: image side ``S``, an int >= max(8, T).

    Returns:
        ``(N, S, S, 3) uint8`` RGB images.

    Raises:
        RendererUnavailableError: kaleido is missing, or no Chrome/Chromium
            can be found or started; the message says how to install one.
    """
    windows = validate_ohlc(ohlc)
    side = validate_image_size(size, name="size")
    figures = [raster_figure(window, side) for window in windows]

    try:
        import kaleido  # imported here: only this slow path needs it
        from kaleido.errors import BrowserFailedError, ChromeNotFoundError
    except ImportError as error:
        raise RendererUnavailableError(
            f"the plotly + kaleido reference renderer needs kaleido >= 1 ({error}); pip install 'kaleido>=1'"
        ) from error

    with tempfile.TemporaryDirectory(prefix="chart-xai-reference-") as folder:
        paths = [Path(folder) / f"window-{i:06d}.png" for i in range(len(figures))]
        specs = [
            {
                "fig": figure.to_dict(),
                "path": path,
                "opts": {"format": "png", "width": side, "height": side, "scale": 1},
            }
            for figure, path in zip(figures, paths, strict=True)
        ]
        try:
            # kaleido directly rather than plotly.io.write_images: MathJax off
            # (it is fetched from a CDN, which halves the speed offline), and
            # cancel_on_error=True so a failed render raises instead of
            # leaving a missing file behind.
            kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False}, cancel_on_error=True)
        except ChromeNotFoundError as error:
            raise RendererUnavailableError(
                f"the plotly + kaleido reference renderer needs Chrome or Chromium and found none ({error}); "
                f"{INSTALL_CHROME_HINT}"
            ) from error
        except BrowserFailedError as error:
            raise RendererUnavailableError(
                f"the plotly + kaleido reference renderer could not start Chrome ({error}); "
                f"check the browser runs, or {INSTALL_CHROME_HINT}"
            ) from error
        return np.stack([_read_png(path, side) for path in paths])


def _read_png(path: Path, side: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    if pixels.shape != (side, side, 3):
        raise RuntimeError(f"kaleido wrote a {pixels.shape} image to {path.name}, expected ({side}, {side}, 3)")
    return pixels
