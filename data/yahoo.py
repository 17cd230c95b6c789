"""Live bars from Yahoo Finance through yfinance, cached on disk.

Every yfinance quirk is handled here and nowhere else:

* errors: yfinance 1.x hides them by default (an empty frame comes back);
  we ask for them (``yf.config.debug.hide_exceptions = False``) and turn each
  into one :class:`~data.errors.TickerDataError` naming the ticker and the
  reason — rate limited, unknown ticker, network down, unreadable reply;
* MultiIndex columns (``(Price, Ticker)``) and extra columns are flattened;
* the timezone-aware index becomes naive exchange wall-clock time, with the
  zone kept in :attr:`LoadedBars.timezone`;
* each interval's history limit: 1m bars reach back about 30 days (at most
  8 per request), 60m bars 730 days, daily bars to the listing.

A successful download is cached in ``<cache>/yahoo/``; when Yahoo fails, the
cached copy is returned with its age and the reason. A cached copy younger
than :data:`FRESH_FOR` is served without touching the network.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable

import pandas as pd

from data.bars import LoadedBars, clean_bars, infer_interval
from data.cache import cache_path, read_frame, write_frame
from data.errors import DataError, TickerDataError
from data.settings import INTERVALS, NETWORK_DEADLINE_S, NETWORK_TIMEOUT_S, OHLC, cache_dir

#: Most days of history Yahoo serves per interval (``None``: everything).
MAX_LOOKBACK_DAYS: dict[str, int | None] = {"1m": 7, "60m": 729, "1d": None}
#: A cached copy younger than this is served without a download.
FRESH_FOR: dict[str, dt.timedelta] = {
    "1m": dt.timedelta(minutes=2),
    "60m": dt.timedelta(minutes=15),
    "1d": dt.timedelta(hours=6),
}
_TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9.=^\-]{0,19}$")
_CHECK_SYMBOL = "Check the symbol on finance.yahoo.com (indices start with ^, e.g. ^NSEI, ^GSPC)"

Clock = Callable[[], dt.datetime]


def normalise_ticker(ticker: str) -> str:
    """Upper-case and validate a Yahoo symbol (``AAPL``, ``^NSEI``, ``BRK-B``, ``EURUSD=X``).

    Raises:
        TickerDataError: the text cannot be a Yahoo symbol.
    """
    symbol = str(ticker).strip().upper()
    if not _TICKER.match(symbol):
        raise TickerDataError(
            symbol,
            "not a valid Yahoo symbol (1-20 letters, digits, or . = ^ -)",
            "Type a symbol such as AAPL, ^NSEI or RELIANCE.NS",
        )
    return symbol


def fetch_ticker(
    ticker: str,
    interval: str = "60m",
    *,
    lookback_days: int | None = None,
    now: Clock | None = None,
) -> LoadedBars:
    """Bars for a Yahoo symbol: fresh, cached, or a clear error.

    Args:
        ticker: a Yahoo symbol; validated by :func:`normalise_ticker`.
        interval: ``"1m"``, ``"60m"`` or ``"1d"``.
        lookback_days: days of history to ask for; at most the interval's
            limit (:data:`MAX_LOOKBACK_DAYS`), default the limit.
        now: clock returning an aware UTC datetime (tests pass their own).

    Returns:
        :class:`LoadedBars` with ``layout="yahoo"``; when served from the cache,
        ``cache_age`` is set and, if Yahoo failed, ``stale_reason`` says why.

    Raises:
        ValueError: ``interval`` or ``lookback_days`` out of range.
        TickerDataError: Yahoo failed and no cached copy exists.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    limit = MAX_LOOKBACK_DAYS[interval]
    if lookback_days is not None and (lookback_days < 1 or (limit is not None and lookback_days > limit)):
        raise ValueError(
            f"lookback_days must be between 1 and {limit or 'any'} for {interval} bars "
            f"(Yahoo's history limit), got {lookback_days}"
        )
    symbol = normalise_ticker(ticker)
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    path = cache_path("yahoo", f"{urllib.parse.quote(symbol, safe='')}_{interval}.parquet")
    cached = read_frame(path)
    if cached is not None:
        age = clock() - dt.datetime.fromisoformat(cached[1]["fetched_at"])
        if age < FRESH_FOR[interval]:
            return _loaded(symbol, interval, cached[0], cached[1], cache_age=age)

    try:
        raw = _within_deadline(lambda: _download(symbol, interval, lookback_days or limit, clock), symbol)
        bars, timezone = parse_yahoo_frame(raw, symbol)
    except TickerDataError as error:
        if cached is None:
            raise
        age = clock() - dt.datetime.fromisoformat(cached[1]["fetched_at"])
        return _loaded(symbol, interval, cached[0], cached[1], cache_age=age, stale_reason=error.reason)

    metadata = {"fetched_at": clock().isoformat(), "timezone": timezone or "", "ticker": symbol}
    try:
        write_frame(path, bars.bars, metadata)
    except OSError as error:  # a full or read-only disk: the fresh bars are still good
        note = f"not cached ({type(error).__name__}: {error}); free space in {cache_dir()}"
        bars = dataclasses.replace(bars, notes=(*bars.notes, note))
    return _loaded(symbol, interval, bars.bars, metadata, rejected=bars)


def _loaded(
    symbol: str,
    interval: str,
    frame: pd.DataFrame,
    metadata: dict[str, str],
    *,
    cache_age: dt.timedelta | None = None,
    stale_reason: str | None = None,
    rejected: LoadedBars | None = None,
) -> LoadedBars:
    """Wrap bars (fresh or cached) with what the user should know about them."""
    return LoadedBars(
        bars=frame,
        source=f"yahoo:{symbol}",
        layout="yahoo",
        interval=infer_interval(frame.index) if len(frame) > 1 else interval,
        timezone=metadata.get("timezone") or None,
        rejected=rejected.rejected if rejected else {},
        rejected_examples=rejected.rejected_examples if rejected else {},
        notes=rejected.notes if rejected else (),
        cache_age=cache_age,
        stale_reason=stale_reason,
    )


def _within_deadline(call: Callable[[], pd.DataFrame], symbol: str) -> pd.DataFrame:
    """Run ``call`` in a daemon thread; give up after :data:`NETWORK_DEADLINE_S` seconds.

    yfinance bounds each HTTP request, but a call makes several and retries some; this bounds the
    whole. A call that overruns is abandoned (its daemon thread cannot keep the process alive).

    Raises:
        TickerDataError: the deadline passed, or whatever ``call`` raised.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["frame"] = call()
        except BaseException as error:  # handed to the caller's thread, re-raised there
            outcome["error"] = error

    worker = threading.Thread(target=run, name=f"yahoo-{symbol}", daemon=True)
    worker.start()
    worker.join(NETWORK_DEADLINE_S)
    if worker.is_alive():
        raise TickerDataError(
            symbol, f"Yahoo did not answer within {NETWORK_DEADLINE_S:g} s", "Try again later, or use the demo market"
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["frame"]  # type: ignore[return-value]


def _download(symbol: str, interval: str, lookback_days: int | None, clock: Clock) -> pd.DataFrame:
    """Call yfinance; map every failure to :class:`TickerDataError`."""
    import yfinance as yf
    from yfinance import exceptions as yf_errors

    _quiet_yfinance_log()
    yf.config.debug.hide_exceptions = False
    yf.set_tz_cache_location(str(cache_dir() / "yfinance-internal"))
    window: dict[str, object] = {"period": "max"}
    if lookback_days is not None:
        end = clock()
        window = {"start": (end - dt.timedelta(days=lookback_days)).date(), "end": end.date() + dt.timedelta(days=1)}
    try:
        return yf.Ticker(symbol).history(
            interval=interval, auto_adjust=True, actions=False, timeout=NETWORK_TIMEOUT_S, **window
        )
    except yf_errors.YFRateLimitError as error:
        raise TickerDataError(symbol, "rate limited by Yahoo", "Wait a few minutes, then try again") from error
    except (yf_errors.YFTickerMissingError, yf_errors.YFTzMissingError, yf_errors.YFInvalidPeriodError) as error:
        raise TickerDataError(symbol, f"unknown ticker or no {interval} prices on Yahoo", _CHECK_SYMBOL) from error
    except yf_errors.YFException as error:
        raise TickerDataError(symbol, f"Yahoo refused the request ({error})", "Try again later") from error
    except OSError as error:
        raise TickerDataError(
            symbol, f"network unreachable ({type(error).__name__})", "Check the connection, or use the demo market"
        ) from error
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise TickerDataError(
            symbol, f"Yahoo sent a reply yfinance could not read ({type(error).__name__}: {error})", "Try again later"
        ) from error


def parse_yahoo_frame(raw: object, symbol: str) -> tuple[LoadedBars, str | None]:
    """Turn what yfinance returned (``Ticker.history`` or ``download``) into canonical bars.

    Args:
        raw: a DataFrame with ``Open, High, Low, Close[, Volume]`` columns, flat or
            MultiIndex ``(Price, Ticker)``, indexed by (usually zone-aware) times.
        symbol: the ticker, to pick its columns from a multi-ticker frame and
            to name it in errors.

    Returns:
        ``(bars, timezone)``; ``bars.rejected`` counts Yahoo's unusable rows.

    Raises:
        TickerDataError: an empty or malformed frame.
    """
    if not isinstance(raw, pd.DataFrame) or raw.empty:
        raise TickerDataError(symbol, "Yahoo returned no rows", _CHECK_SYMBOL)
    frame = raw
    if isinstance(frame.columns, pd.MultiIndex):
        tickers = frame.columns.get_level_values(-1)
        frame = frame.xs(symbol, axis=1, level=-1) if symbol in set(tickers) else frame.droplevel(-1, axis=1)
    frame = frame.loc[:, ~frame.columns.duplicated()]  # a repeated column: the first one counts
    columns = {str(c).lower(): c for c in frame.columns}
    missing = [c for c in OHLC if c not in columns]
    if missing or not isinstance(frame.index, pd.DatetimeIndex):
        raise TickerDataError(symbol, f"Yahoo's reply lacks {', '.join(missing) or 'a time index'}", "Try again later")
    index = frame.index
    timezone = str(index.tz) if index.tz is not None else None
    try:
        wall = index.tz_localize(None) if index.tz is not None else index
    except (ValueError, NotImplementedError, OverflowError) as error:  # times beyond what pandas can hold
        raise TickerDataError(symbol, f"Yahoo's times are out of range ({error})", "Try again later") from error
    prices = pd.DataFrame(
        {
            field: pd.to_numeric(frame[columns[field]], errors="coerce").to_numpy()
            for field in (*OHLC, "volume")
            if field in columns
        }
    )
    try:
        cleaned = clean_bars(pd.DatetimeIndex(wall), prices, what=f"Yahoo's reply for {symbol}")
    except DataError as error:
        raise TickerDataError(symbol, f"Yahoo's rows are unusable ({error})", "Try again later") from error
    loaded = LoadedBars(
        bars=cleaned.bars,
        source=f"yahoo:{symbol}",
        layout="yahoo",
        interval=infer_interval(cleaned.bars.index),
        timezone=timezone,
        rejected=cleaned.rejected,
        rejected_examples=cleaned.rejected_examples,
        notes=cleaned.notes,
    )
    return loaded, timezone


def _quiet_yfinance_log() -> None:
    """Keep yfinance's own warnings ("Cookie/crumb fetch failed …") off stderr: every failure already
    reaches the user as one :class:`TickerDataError`. A handler the application configures still gets them."""
    logger = logging.getLogger("yfinance")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
