"""Images a model sees: candlestick rasters and GADF fields.

Both encoders return ``(N, 1, S, S) float32`` in ``[-1, 1]``:

* :class:`CandlestickEncoder` -- OHLC windows ``(N, T, 4)`` to signed
  candlestick rasters (bodies +-1, wicks +-0.5, background 0); :func:`to_rgb`
  colours them for display; :func:`bar_columns` and :func:`candle_geometry`
  say which pixels belong to which bar.
* :class:`GADFEncoder` -- closes ``(N, T)`` to Gramian Angular Difference
  Fields (pyts); :func:`gadf_pixel_spans` maps pixels back to timestamps and
  :func:`flat_windows` flags windows whose field is defined as zeros.

:mod:`data.images.reference` holds the plotly figures: the interactive chart
(:func:`candlestick_figure`) and the slow plotly + kaleido reference renderer
(:func:`render_reference`) the rasteriser is checked against.
"""

from data.images.candlestick import (
    CandleGeometry,
    CandlestickEncoder,
    bar_columns,
    candle_geometry,
    to_rgb,
)
from data.images.gadf import GADFEncoder, flat_windows, gadf_pixel_spans
from data.images.reference import candlestick_figure, raster_figure, render_reference

__all__ = [
    "CandleGeometry",
    "CandlestickEncoder",
    "GADFEncoder",
    "bar_columns",
    "candle_geometry",
    "candlestick_figure",
    "flat_windows",
    "gadf_pixel_spans",
    "raster_figure",
    "render_reference",
    "to_rgb",
]
