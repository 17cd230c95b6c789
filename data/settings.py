"""One place for every fact the data layer and its users share.

Window lengths, session hours, image sizes, the colour palette and the cache
folder are defined here and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

# --- The two tasks -----------------------------------------------------------

#: Hourly bars in one ticker-task window (the CNN-LSTM paper: 50 hours).
TICKER_WINDOW_BARS = 50
#: One-minute closes in one NIFTY-day input (09:15-10:14, the GADF paper).
FIRST_HOUR_MINUTES = 60
#: Longest run of missing first-hour minutes that is forward-filled; a day
#: with a longer run is skipped and counted.
MAX_FILLED_MINUTES = 3

#: Default chronological split fractions (train, validation, test).
TICKER_SPLIT = (0.81, 0.09, 0.10)
#: Default chronological split fractions (train, validation).
NIFTY_SPLIT = (0.8, 0.2)

# --- Sessions ----------------------------------------------------------------

#: NSE cash session: first minute bar 09:15, last 15:29 (close 15:30).
NSE_OPEN = dt.time(9, 15)
NSE_CLOSE = dt.time(15, 30)
NSE_TIMEZONE = "Asia/Kolkata"
#: US cash session, used by the demo market's made-up tickers.
US_OPEN = dt.time(9, 30)
US_CLOSE = dt.time(16, 0)
US_TIMEZONE = "America/New_York"

# --- Bars --------------------------------------------------------------------

#: Columns of the canonical bar frame, in order.
OHLCV = ("open", "high", "low", "close", "volume")
OHLC = ("open", "high", "low", "close")
#: Bar intervals the loaders and the command line accept.
INTERVALS = ("1m", "60m", "1d")
INTERVAL_STEP = {
    "1m": dt.timedelta(minutes=1),
    "60m": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
}

# --- Images ------------------------------------------------------------------

#: Default candlestick raster side in pixels (suited to CPU training).
CANDLESTICK_SIZE = 128
#: The source paper's candlestick side in pixels.
PAPER_CANDLESTICK_SIZE = 350
#: Fraction of a bar's slot left empty between neighbouring bodies
#: (plotly's ``layout.boxgap``; the reference renderer uses the same value).
CANDLE_GAP_FRACTION = 0.3
#: Display palette (RGB): background, rising bar, falling bar.
BACKGROUND_RGB = (255, 255, 255)
UP_RGB = (38, 166, 91)
DOWN_RGB = (234, 57, 67)
#: Label every figure and page that shows demo-market data.
SYNTHETIC_LABEL = "Synthetic demo data — not real market prices"

# --- Cache -------------------------------------------------------------------

#: Environment variable that sets the cache folder.
CACHE_ENV_VAR = "CHART_XAI_CACHE"
#: Environment variable: torch threads per dashboard process (default 1 — concurrent sessions
#: each running torch with several threads on a few cores slow every session down; measured on 2
#: cores under load: explaining a day 3.3 s with 2 threads, 0.10 s with 1).
TORCH_THREADS_ENV_VAR = "CHART_XAI_TORCH_THREADS"
#: Each HTTP request yfinance makes is bounded by this many seconds.
NETWORK_TIMEOUT_S = 15.0
#: A whole call to Yahoo (cookie, crumb, time zone and prices requests together) is abandoned after
#: this many seconds, however yfinance behaves inside it.
NETWORK_DEADLINE_S = 30.0


def cache_dir() -> Path:
    """Return the cache folder, creating it if needed.

    ``$CHART_XAI_CACHE`` when set, otherwise the user's cache directory
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on
    macOS, ``%LOCALAPPDATA%`` on Windows) followed by ``chart-xai``. Never a
    folder inside the repository.
    """
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        folder = Path(configured).expanduser()
    elif sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        folder = Path(base) / "chart-xai" / "Cache"
    elif sys.platform == "darwin":
        folder = Path.home() / "Library" / "Caches" / "chart-xai"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "chart-xai"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
