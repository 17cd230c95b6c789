"""What a page shows for one ticker window or one NIFTY day, computed without Streamlit.

A page asks for a view by position (a slider or a date picker), and gets the
bars, the images a model sees, the known outcome and — on the demo market —
the planted patterns that fall inside. Keeping this here keeps pages thin and
lets tests check the numbers without a browser.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from data.bars import LoadedBars
from data.errors import DataError
from data.images import CandlestickEncoder, GADFEncoder, flat_windows, to_rgb
from data.settings import CANDLESTICK_SIZE, OHLC, TICKER_WINDOW_BARS
from data.windows import NiftyDays, make_ticker_windows


@dataclasses.dataclass(frozen=True)
class WindowView:
    """One sample as a page shows it.

    Attributes:
        bars: (T, 4) the window's open/high/low/close bars, time-indexed.
        candlestick: (S, S) float32 signed raster (the model input).
        candlestick_rgb: (S, S, 3) uint8 the same raster in display colours.
        gadf: (T, T) float32 in [-1, 1], GADF of the window's closes.
        flat: the closes are constant, so the GADF is defined as all zeros.
        outcome: the known answer (``pct_change``/``target_close`` for a ticker
            window, ``label``/``last_close`` for a day); NaN where unknown.
        planted: demo ground truth inside the window (empty for other sources).
    """

    bars: pd.DataFrame
    candlestick: np.ndarray
    candlestick_rgb: np.ndarray
    gadf: np.ndarray
    flat: bool
    outcome: dict[str, float]
    planted: pd.DataFrame


def _view(bars: pd.DataFrame, image_size: int, outcome: dict[str, float], planted: pd.DataFrame) -> WindowView:
    """Encode ``bars`` ((T, 4) OHLC) as both model images and bundle them with what is known."""
    ohlc = bars.to_numpy(dtype=np.float64)[None]
    candle = CandlestickEncoder(image_size).transform(ohlc)
    closes = ohlc[:, :, 3]
    return WindowView(
        bars=bars,
        candlestick=candle[0, 0],
        candlestick_rgb=to_rgb(candle)[0],
        gadf=GADFEncoder().transform(closes)[0, 0],
        flat=bool(flat_windows(closes)[0]),
        outcome=outcome,
        planted=planted,
    )


def _planted(loaded: LoadedBars, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Planted patterns of a demo source whose pattern minutes fall in [start, end]."""
    if not loaded.synthetic or not loaded.source.startswith("demo:"):
        return pd.DataFrame()
    from data.demo import planted_patterns

    patterns = planted_patterns(loaded.source.removeprefix("demo:"))
    inside = (patterns["start"] >= start) & (patterns["end"] <= end)
    # "pattern": the row in planted_patterns, what data.edits.WithoutPattern names
    return patterns.loc[inside].rename_axis("pattern").reset_index()


def count_ticker_windows(loaded: LoadedBars, window: int = TICKER_WINDOW_BARS) -> int:
    """Windows a slider can choose from, the newest (no known target) included."""
    return max(0, len(loaded.bars) - window + 1)


def ticker_window_view(
    loaded: LoadedBars, position: int, *, window: int = TICKER_WINDOW_BARS, image_size: int = CANDLESTICK_SIZE
) -> WindowView:
    """The ticker-task window number ``position`` (0 = oldest, -1 = newest).

    Raises:
        DataError: ``position`` outside the available windows, or too few bars.
    """
    n_windows = count_ticker_windows(loaded, window)
    if n_windows < 1:
        make_ticker_windows(loaded.bars, window, include_latest=True)  # raises the loader's WindowError
    if not -n_windows <= position < n_windows:
        raise DataError(f"position must be in [0, {n_windows - 1}], got {position}")
    position %= n_windows
    # this window and its next bar only: cutting every window of the history cost ≈ 20 ms a run
    windows = make_ticker_windows(loaded.bars.iloc[position : position + window + 1], window, include_latest=True)
    bars = loaded.bars.iloc[position : position + window].loc[:, list(OHLC)]
    outcome = {
        "last_close": float(windows.last_close[0]),
        "target_close": float(windows.target_close[0]),
        "pct_change": float(windows.pct_change[0]),
    }
    # an hourly bar covers the minutes of its hour
    planted = _planted(loaded, bars.index[0], bars.index[-1] + pd.Timedelta(minutes=59))
    return _view(bars, image_size, outcome, planted)


def nifty_day_view(
    loaded: LoadedBars, days: NiftyDays, position: int, *, image_size: int = CANDLESTICK_SIZE
) -> WindowView:
    """The NIFTY-task day number ``position`` of ``days`` (0 = oldest, -1 = newest).

    Raises:
        DataError: ``position`` outside the usable days.
    """
    if not -len(days) <= position < len(days):
        raise DataError(f"position must be in [0, {len(days) - 1}], got {position}")
    position %= len(days)
    ohlc = days.first_hour_ohlc[position]
    minutes = pd.to_timedelta(np.arange(len(ohlc)), unit="min")
    index = pd.DatetimeIndex(days.start_time[position] + minutes, name="timestamp").as_unit("ns")
    bars = pd.DataFrame(ohlc, index=index, columns=list(OHLC))
    outcome = {
        "label": float(days.label[position]),
        "first_open": float(days.first_open[position]),
        "last_close": float(days.last_close[position]),
        "filled_minutes": float(days.filled_minutes[position]),
    }
    return _view(bars, image_size, outcome, _planted(loaded, index[0], index[-1]))
