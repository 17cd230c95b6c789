"""The data layer: sources → canonical bars → task samples → model images.

The first of the layers ``data → models → xai → workflows → pages``: it imports none of the
others, and every other may import it. No Streamlit here. Public API:

* sources: :func:`load_source` (demo name, file path or ticker),
  :func:`load_bar_file`, :func:`fetch_ticker`, :mod:`data.demo`;
* bars: :class:`LoadedBars` (bars plus what was rejected and why),
  :func:`resample_bars`;
* tasks: :func:`make_ticker_windows`, :func:`make_nifty_days`,
  :func:`chronological_split`;
* images: :mod:`data.images` (candlestick rasteriser, GADF, plotly reference);
* errors: :class:`DataError` and its subclasses;
* argument checks for every layer: :mod:`data.checks`.
"""

from data.bars import LoadedBars, resample_bars
from data.errors import DataError, FileFormatError, RendererUnavailableError, TickerDataError, WindowError
from data.files import load_bar_file
from data.sources import load_source
from data.windows import NiftyDays, Split, TickerWindows, chronological_split, make_nifty_days, make_ticker_windows
from data.yahoo import fetch_ticker

__all__ = [
    "DataError",
    "FileFormatError",
    "LoadedBars",
    "NiftyDays",
    "RendererUnavailableError",
    "Split",
    "TickerDataError",
    "TickerWindows",
    "WindowError",
    "chronological_split",
    "fetch_ticker",
    "load_bar_file",
    "load_source",
    "make_nifty_days",
    "make_ticker_windows",
    "resample_bars",
]
