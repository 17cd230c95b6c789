"""The bundled demo market: deterministic synthetic prices with planted patterns.

Five made-up New York stocks and one NIFTY-like index, minute bars for every
weekday from 2021-01-04 to 2024-12-31, generated offline from a seed derived
from the symbol's name (the same numbers on every machine and every run).

* Tickers (:data:`DEMO_TICKERS`) trade 09:30–16:00 New York time (390 minute
  bars a day) and carry hourly breakouts / breakdowns followed by a sharp move
  in the next hour.
* The index (:data:`DEMO_INDEX`) trades 09:15–15:30 India time (375 minute bars
  a day) and carries first-hour V / inverted-V reversals that make an up / down
  day likely.

Prices show the stylised facts of real ones: fat-tailed daily returns,
volatility clustering (GARCH), U-shaped intraday volatility and volume,
overnight gaps. :func:`planted_patterns` is the ground truth an explanation
can be scored against. Everything is labelled synthetic.

:func:`demo_bars_without` regenerates a symbol with one planted pattern left
out (every random draw made as before), so that a model's reliance on the
pattern can be measured on "the same window without it".

Generation is cached in-process per symbol (and per left-out pattern); every
call returns fresh frames, so callers cannot change what later callers get.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import zlib

import numpy as np
import pandas as pd

from data.bars import LoadedBars, clean_bars, resample_bars
from data.demo.calendar import Session, minute_stamps, session_days
from data.demo.patterns import plant_breakouts, plant_index_patterns
from data.demo.process import MinutePaths, ProcessParams, assemble_bars, simulate_minutes
from data.errors import DataError
from data.settings import (
    INTERVALS,
    NSE_CLOSE,
    NSE_OPEN,
    NSE_TIMEZONE,
    OHLCV,
    SYNTHETIC_LABEL,
    US_CLOSE,
    US_OPEN,
    US_TIMEZONE,
)

__all__ = [
    "DEMO_INDEX",
    "DEMO_SYMBOLS",
    "DEMO_TICKERS",
    "PATTERN_COLUMNS",
    "demo_bars",
    "demo_bars_without",
    "planted_patterns",
]

DEMO_TICKERS: tuple[str, ...] = ("ACME", "GLOBEX", "INITECH", "UMBRELLA", "WAYNE")
DEMO_INDEX: str = "NIFTY-DEMO"
DEMO_SYMBOLS: tuple[str, ...] = (*DEMO_TICKERS, DEMO_INDEX)

#: Fixed project seed; each symbol's stream is seeded by (PROJECT_SEED, crc32(symbol)).
PROJECT_SEED = 20210104

_US_SESSION = Session(US_OPEN, US_CLOSE, US_TIMEZONE)
_NSE_SESSION = Session(NSE_OPEN, NSE_CLOSE, NSE_TIMEZONE)

#: Per-symbol process: daily vol, start price, mean minute volume, drift per year.
_PARAMS: dict[str, ProcessParams] = {
    "ACME": ProcessParams(daily_vol=0.016, start_price=84.20, minute_volume=3_000.0, annual_drift=0.08),
    "GLOBEX": ProcessParams(daily_vol=0.019, start_price=212.50, minute_volume=1_800.0, annual_drift=0.05),
    "INITECH": ProcessParams(daily_vol=0.020, start_price=47.80, minute_volume=5_200.0, annual_drift=0.10),
    "UMBRELLA": ProcessParams(daily_vol=0.015, start_price=138.90, minute_volume=2_400.0, annual_drift=0.06),
    "WAYNE": ProcessParams(daily_vol=0.017, start_price=356.10, minute_volume=1_200.0, annual_drift=0.07),
    DEMO_INDEX: ProcessParams(daily_vol=0.010, start_price=14_980.0, minute_volume=250_000.0, annual_drift=0.10),
}

#: Columns of :func:`planted_patterns`: shared ones, then the index's or the tickers' own.
PATTERN_COLUMNS: dict[str, tuple[str, ...]] = {
    "common": ("symbol", "kind", "day", "start", "end", "effect_start", "effect_end", "expected_sign"),
    "index": ("first_hour_start", "first_hour_end", "size", "effect_drift"),
    "ticker": ("pattern_hour", "effect_hour", "size", "effect_drift"),
}
_TIME_COLUMNS = ("day", "start", "end", "effect_start", "effect_end", "pattern_hour", "effect_hour")
_INT_COLUMNS = ("expected_sign", "first_hour_start", "first_hour_end")


@dataclasses.dataclass(frozen=True)
class _Market:
    """One symbol's cached minute bars (canonical) and planted patterns."""

    minutes: pd.DataFrame
    patterns: pd.DataFrame


def _seed(symbol: str) -> np.random.SeedSequence:
    """Stable seed: the project seed and the CRC-32 of the symbol (never ``hash()``)."""
    return np.random.SeedSequence([PROJECT_SEED, zlib.crc32(symbol.encode("utf-8"))])


def _check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str naming a demo symbol, got {type(symbol).__name__} {symbol!r}")
    name = symbol.strip().upper()
    if name not in DEMO_SYMBOLS:
        raise DataError(f"symbol must be one of the demo symbols {', '.join(DEMO_SYMBOLS)}; got {symbol!r}")
    return name


def _check_interval(interval: object) -> str:
    if not isinstance(interval, str):
        raise TypeError(f"interval must be a str, one of {', '.join(INTERVALS)}; got {type(interval).__name__}")
    name = interval.strip().lower()
    if name not in INTERVALS:
        raise DataError(f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}")
    return name


def _finish_patterns(rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Fix the column order and dtypes (also for an empty table)."""
    columns = PATTERN_COLUMNS["common"] + PATTERN_COLUMNS[kind]
    out = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    for column in columns:
        values = rows[column] if column in rows else pd.Series([], dtype=object)
        if column in _TIME_COLUMNS:
            out[column] = pd.DatetimeIndex(values).as_unit("ns")
        elif column in _INT_COLUMNS:
            out[column] = np.asarray(values, dtype=np.int64)
        elif column in ("size", "effect_drift"):
            out[column] = np.asarray(values, dtype=np.float64)
        else:
            out[column] = pd.Series(np.asarray(values, dtype=object), dtype="str")
    return out


def session_of(symbol: str) -> Session:
    """The trading hours of a demo symbol: the NSE's for the index, New York's for the tickers."""
    return _NSE_SESSION if _check_symbol(symbol) == DEMO_INDEX else _US_SESSION


@functools.lru_cache(maxsize=2)
def _simulated(symbol: str) -> tuple[MinutePaths, pd.DatetimeIndex]:
    """One symbol's unplanted minute paths and minute stamps (cached; plant only into a deep copy).

    The process stream is a child seed of its own, so its draws do not depend
    on what is planted afterwards; a regeneration without one pattern reuses them.
    """
    process_seed = _seed(symbol).spawn(3)[0]
    session = session_of(symbol)
    days = session_days()
    stamps = minute_stamps(days, session)
    paths = simulate_minutes(np.random.default_rng(process_seed), len(days), session.minutes, _PARAMS[symbol])
    return paths, stamps


def _market(symbol: str, skip: int | None = None) -> _Market:
    """One symbol's minute bars and patterns, without planted pattern ``skip`` when given (cached).

    The full markets and the pattern-less ones are cached apart (a minute frame is ≈ 20 MB): walking
    through many patterns never evicts the markets every page reads.
    """
    return _full_market(symbol) if skip is None else _market_without(symbol, int(skip))


@functools.lru_cache(maxsize=len(DEMO_SYMBOLS))
def _full_market(symbol: str) -> _Market:
    return _generated(symbol, None)


@functools.lru_cache(maxsize=4)
def _market_without(symbol: str, skip: int) -> _Market:
    return _generated(symbol, skip)


def _generated(symbol: str, skip: int | None) -> _Market:
    """Generate one symbol's minute bars and patterns (cached; never hand these out).

    ``skip`` is passed to the planting function: the row of :func:`planted_patterns`
    left unplanted, every random draw made as without it (ValueError when out of range).
    """
    _, pattern_seed, volume_seed = _seed(symbol).spawn(3)
    is_index = symbol == DEMO_INDEX
    params = _PARAMS[symbol]
    simulated, stamps = _simulated(symbol)
    paths = copy.deepcopy(simulated)

    plant = plant_index_patterns if is_index else plant_breakouts
    rows = plant(np.random.default_rng(pattern_seed), paths, stamps, symbol, skip=skip)
    values = assemble_bars(np.random.default_rng(volume_seed), paths, params)

    cleaned = clean_bars(stamps, pd.DataFrame(values, columns=list(OHLCV)), what=f"demo:{symbol}")
    if cleaned.rejected or len(cleaned.bars) != len(stamps):
        raise RuntimeError(f"demo market generated invalid bars for {symbol}: {cleaned.rejected}")
    return _Market(minutes=cleaned.bars, patterns=_finish_patterns(rows, "index" if is_index else "ticker"))


def _aggregated(symbol: str, interval: str, skip: int | None = None) -> pd.DataFrame:
    """Hourly or daily bars from the cached minutes (cached; never hand these out)."""
    return _resampled(symbol, interval, None if skip is None else int(skip))


@functools.lru_cache(maxsize=2 * len(DEMO_SYMBOLS) + 4)
def _resampled(symbol: str, interval: str, skip: int | None) -> pd.DataFrame:
    """Resample one (possibly pattern-less) market once per interval (cached; never hand these out)."""
    return resample_bars(_market(symbol, skip).minutes, interval)


def clear_cache() -> None:
    """Forget every generated symbol (the next call generates afresh)."""
    _resampled.cache_clear()
    _full_market.cache_clear()
    _market_without.cache_clear()
    _simulated.cache_clear()


def demo_bars(symbol: str, interval: str = "60m") -> LoadedBars:
    """Bars of one demo symbol.

    Args:
        symbol: one of :data:`DEMO_SYMBOLS` (case and surrounding spaces ignored).
        interval: ``"1m"``, ``"60m"`` (session-anchored: 09:30, 10:30 … or
            09:15, 10:15 …, the last one shorter) or ``"1d"``.

    Returns:
        :class:`LoadedBars` with canonical bars (naive wall-clock stamps of the
        exchange, float64 OHLCV; 1m: 390 bars a day for tickers, 375 for the
        index; 60m: 7 a day; 1d: one per weekday, 1042 in all), ``source``
        ``"demo:SYMBOL"``, layout ``"demo"``, ``synthetic=True`` and the
        synthetic-data label in ``notes``. The frame is the caller's own copy.

    Raises:
        DataError: unknown symbol or interval (the message lists the valid ones).
        TypeError: symbol or interval not a str.
    """
    name, step = _check_symbol(symbol), _check_interval(interval)
    bars = _market(name).minutes if step == "1m" else _aggregated(name, step)
    return _loaded(name, step, bars, (SYNTHETIC_LABEL,))


def _loaded(name: str, step: str, bars: pd.DataFrame, notes: tuple[str, ...]) -> LoadedBars:
    """A demo symbol's bars as the caller's own copy, labelled synthetic."""
    return LoadedBars(
        bars=bars.copy(deep=True),
        source=f"demo:{name}",
        layout="demo",
        interval=step,
        timezone=NSE_TIMEZONE if name == DEMO_INDEX else US_TIMEZONE,
        synthetic=True,
        notes=notes,
    )


def demo_bars_without(symbol: str, pattern: int, interval: str = "60m") -> LoadedBars:
    """Bars of one demo symbol regenerated with one planted pattern left out.

    The market is generated again by the same procedure and the same random
    draws, except that planted pattern number ``pattern`` is not planted:

    * index: that day gets neither its first-hour V nor its rest-of-day drift;
      every bar before the pattern's ``start`` is unchanged, and every other
      day's minute returns are too (later prices shift by the removed drift);
    * tickers: the climb, its volume and the next hour's drift are not planted
      and the scan goes on from the unplanted prices, so every bar before the
      pattern's ``start`` and every earlier pattern are unchanged, while later
      bars and patterns may differ (the GARCH volatility sees other prices).

    Args:
        symbol: one of :data:`DEMO_SYMBOLS` (case and surrounding spaces ignored).
        pattern: a row number of ``planted_patterns(symbol)``, 0 .. len - 1.
        interval: ``"1m"``, ``"60m"`` or ``"1d"``, as for :func:`demo_bars`.

    Returns:
        :class:`LoadedBars` as :func:`demo_bars` returns, ``synthetic=True``,
        with a note naming the pattern removed (kind and start stamp). The
        frame is the caller's own copy.

    Raises:
        DataError: unknown symbol or interval, or ``pattern`` not a row of the table.
        TypeError: symbol or interval not a str, ``pattern`` not an int (bools refused).
    """
    name, step = _check_symbol(symbol), _check_interval(interval)
    if isinstance(pattern, bool) or not isinstance(pattern, (int, np.integer)):
        raise TypeError(
            f"pattern must be an int, a row number of planted_patterns({name!r}); got {type(pattern).__name__} "
            f"{pattern!r}"
        )
    table = _market(name).patterns
    if not 0 <= pattern < len(table):
        raise DataError(
            f"pattern must be a row number of planted_patterns({name!r}), 0..{len(table) - 1}; got {pattern}"
        )
    row = table.iloc[int(pattern)]
    bars = _market(name, int(pattern)).minutes if step == "1m" else _aggregated(name, step, int(pattern))
    removed = (
        f"planted pattern {int(pattern)} removed: the {row['kind']} starting {row['start']:%Y-%m-%d %H:%M} "
        f"is not planted (the market regenerated with the same random draws)"
    )
    return _loaded(name, step, bars, (SYNTHETIC_LABEL, removed))


def planted_patterns(symbol: str) -> pd.DataFrame:
    """Ground truth: one row per pattern planted in ``symbol`` (RangeIndex, time order).

    Columns for every symbol:

    * ``symbol`` (str), ``kind`` (str): ``"v_reversal"`` / ``"inverted_v"``
      for the index, ``"breakout_up"`` / ``"breakdown_down"`` for tickers;
    * ``day`` (datetime64[ns], normalized date of the pattern);
    * ``start``, ``end``: stamps of the first and last minute bar of the
      pattern (inclusive);
    * ``effect_start``, ``effect_end``: first and last minute bar of the
      effect (index: 10:15–15:29, the rest of the day after the first hour;
      tickers: the 60 minutes of the next hourly bar);
    * ``expected_sign`` (int64, +1 / −1): the direction the effect pushes.

    Index only: ``first_hour_start``, ``first_hour_end`` (int64 offsets
    within the first hour's 60 minutes, end exclusive). Tickers only:
    ``pattern_hour``, ``effect_hour`` (stamps of hourly bars in
    ``demo_bars(symbol, "60m").bars``). Both end with ``size`` (log move of the
    pattern: the V's depth or the climb, > 0) and ``effect_drift`` (signed log
    drift added over the effect interval).

    Days without a pattern have no row. The frame is the caller's own copy.

    Raises:
        DataError: unknown symbol. TypeError: symbol not a str.
    """
    return _market(_check_symbol(symbol)).patterns.copy(deep=True)
