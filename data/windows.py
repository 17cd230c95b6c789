"""Cutting bars into the samples of the two tasks, and splitting them in time.

* Ticker task (CNN-LSTM paper): ``window`` consecutive hourly bars → the close
  one bar later, as log10 price, and its % change against the window's last close.
* NIFTY-day task (GADF paper): the first 60 one-minute closes of a day
  (09:15-10:14 on the NSE; the session open is inferred from the data) →
  label 1 when the day's last close is above its first open.
  Missing first-hour minutes are forward-filled when a gap is at most
  :data:`~data.settings.MAX_FILLED_MINUTES` long; other days are skipped and
  counted by reason, never silently dropped.
* Splits are chronological. Overlapping ticker windows are purged at each
  boundary so that no bar (input or target) serves two splits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from data.errors import WindowError
from data.settings import FIRST_HOUR_MINUTES, MAX_FILLED_MINUTES, OHLC, TICKER_WINDOW_BARS


@dataclasses.dataclass(frozen=True)
class TickerWindows:
    """Samples of the ticker task; N windows of W bars (arrays are read-only views).

    Attributes:
        ohlc: (N, W, 4) float64 open, high, low, close of each window.
        log10_close: (N, W) float64 log10 closes (the LSTM's input).
        last_close: (N,) float64 close of each window's last bar.
        target_close: (N,) float64 close one bar later (NaN for a window with no next bar).
        target_log10_close: (N,) float64 log10 of ``target_close`` (the regression target).
        pct_change: (N,) float64 ``100 * (target_close / last_close - 1)`` (what the alert compares).
        end_time: (N,) time of each window's last bar.
        target_time: (N,) time of the bar after it (NaT when unknown).
    """

    ohlc: np.ndarray
    log10_close: np.ndarray
    last_close: np.ndarray
    target_close: np.ndarray
    target_log10_close: np.ndarray
    pct_change: np.ndarray
    end_time: pd.DatetimeIndex
    target_time: pd.DatetimeIndex

    def __len__(self) -> int:
        return len(self.last_close)


def make_ticker_windows(
    bars: pd.DataFrame, window: int = TICKER_WINDOW_BARS, *, include_latest: bool = False
) -> TickerWindows:
    """Every window of ``window`` consecutive bars with its next-bar target.

    Args:
        bars: canonical bars (hourly for the paper's task), at least ``window + 1`` rows.
        window: bars per window (W).
        include_latest: also return the final window, whose next bar is not
            known yet (its target fields are NaN / NaT) — what a live forecast uses.

    Raises:
        ValueError: ``window`` is not an int >= 2.
        WindowError: too few bars.
    """
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ValueError(f"window must be an int >= 2, got {window!r}")
    needed = window if include_latest else window + 1
    if len(bars) < needed:
        raise WindowError(
            f"the ticker task needs at least {needed} bars ({window} for the window"
            f"{'' if include_latest else ' + 1 for the target'}), got {len(bars)}; load a longer history"
        )
    prices = bars.loc[:, list(OHLC)].to_numpy(dtype=np.float64)
    n_windows = len(bars) - window + (1 if include_latest else 0)
    ohlc = np.lib.stride_tricks.sliding_window_view(prices, window, axis=0)[:n_windows].transpose(0, 2, 1)
    closes = prices[:, 3]
    last_close = closes[window - 1 : window - 1 + n_windows]
    target_close = np.full(n_windows, np.nan)
    known = len(bars) - window
    target_close[:known] = closes[window : window + known]
    index = bars.index
    target_time = pd.DatetimeIndex(list(index[window : window + known]) + [pd.NaT] * (n_windows - known))
    log10 = np.log10(closes)
    return TickerWindows(
        ohlc=ohlc,
        log10_close=np.lib.stride_tricks.sliding_window_view(log10, window)[:n_windows],
        last_close=last_close,
        target_close=target_close,
        target_log10_close=np.log10(target_close),
        pct_change=100.0 * (target_close / last_close - 1.0),
        end_time=index[window - 1 : window - 1 + n_windows],
        target_time=target_time,
    )


@dataclasses.dataclass(frozen=True)
class NiftyDays:
    """Samples of the NIFTY-day task; D usable days of M first-hour minutes.

    Attributes:
        day: (D,) midnight of each usable day.
        start_time: (D,) the first minute of each day's first hour (e.g. 09:15).
        first_hour_ohlc: (D, M, 4) float64 minute bars 09:15..10:14, gaps filled.
        first_hour_close: (D, M) float64 their closes (the GADF's input).
        first_open: (D,) float64 the day's first open (09:15).
        last_close: (D,) float64 the day's last close.
        label: (D,) int64, 1 when ``last_close > first_open`` else 0.
        filled_minutes: (D,) int64 first-hour minutes that were forward-filled.
        skipped: one row per skipped day: ``day``, ``reason``.
    """

    day: pd.DatetimeIndex
    start_time: pd.DatetimeIndex
    first_hour_ohlc: np.ndarray
    first_hour_close: np.ndarray
    first_open: np.ndarray
    last_close: np.ndarray
    label: np.ndarray
    filled_minutes: np.ndarray
    skipped: pd.DataFrame

    def __len__(self) -> int:
        return len(self.day)

    def skipped_by_reason(self) -> dict[str, int]:
        """How many days were skipped, per reason."""
        return {str(k): int(v) for k, v in self.skipped["reason"].value_counts().items()}

    def skipped_sentence(self) -> str:
        """The skipped days in one sentence, e.g. ``"3 days skipped: 2 with no bar at 09:15 …; 1 with …."``."""
        counts = self.skipped_by_reason()
        if not counts:
            return "No day skipped."
        total = sum(counts.values())
        parts = "; ".join(f"{count} with {reason}" for reason, count in counts.items())
        return f"{total} day{'s' if total != 1 else ''} skipped: {parts}."


def infer_session_open(bars: pd.DataFrame) -> dt.time:
    """The session's opening minute: the most common time of each day's first bar
    (ties go to the earlier time). 09:15 for NSE data, 09:30 for New York.

    Raises:
        WindowError: no bars.
    """
    if bars.empty:
        raise WindowError("no bars to find the session open in; load minute bars first")
    index = bars.index
    first_bars = pd.Series(index, index=index).groupby(index.normalize()).min()
    times = pd.Series(first_bars.dt.time.to_numpy())
    counts = times.value_counts()
    return min(counts.index[counts == counts.max()])


def make_nifty_days(
    bars: pd.DataFrame,
    *,
    session_open: dt.time | None = None,
    minutes: int = FIRST_HOUR_MINUTES,
    max_filled: int = MAX_FILLED_MINUTES,
) -> NiftyDays:
    """First-hour inputs and up/down labels for every usable day of minute bars.

    Rules (each skipped day is listed with its reason in ``NiftyDays.skipped``):

    * the day must have a bar at ``session_open`` (its first open);
    * a run of missing first-hour minutes of at most ``max_filled`` is filled
      with the previous close (a flat bar); a longer run skips the day;
    * the day must have a bar after its first hour, or the label would be read
      from the input itself.

    Args:
        bars: canonical one-minute bars.
        session_open: the wall-clock time of the first minute (09:15 on the NSE);
            default: inferred by :func:`infer_session_open`.
        minutes: first-hour length M.
        max_filled: longest run of minutes that may be forward-filled.

    Raises:
        WindowError: no usable day.
    """
    if not isinstance(minutes, int) or minutes < 2:
        raise ValueError(f"minutes must be an int >= 2, got {minutes!r}")
    if not isinstance(max_filled, int) or max_filled < 0:
        raise ValueError(f"max_filled must be an int >= 0, got {max_filled!r}")
    if bars.empty:
        raise WindowError("no bars to cut into days; load minute bars first")
    session_open = infer_session_open(bars) if session_open is None else session_open

    index = bars.index
    day = index.normalize()
    opening = day + pd.Timedelta(hours=session_open.hour, minutes=session_open.minute)
    offset = np.asarray((index - opening) // pd.Timedelta(minutes=1))
    in_session = offset >= 0
    days = pd.DatetimeIndex(day[in_session].unique()).as_unit("ns")
    day_codes = days.get_indexer(day[in_session])
    session_offset = offset[in_session]
    prices = bars.loc[in_session, list(OHLC)].to_numpy(dtype=np.float64)

    grid = np.full((len(days), minutes, 4), np.nan)
    in_hour = session_offset < minutes
    grid[day_codes[in_hour], session_offset[in_hour]] = prices[in_hour]
    last_of_day = np.flatnonzero(np.diff(day_codes, append=len(days)) != 0)  # bars are sorted by time
    last_offset = session_offset[last_of_day]
    last_close = prices[last_of_day, 3]

    missing = np.isnan(grid[:, :, 3])
    longest_gap = _longest_run(missing)
    reasons = np.full(len(days), "", dtype=object)
    reasons[missing.all(axis=1)] = "no first-hour bars"
    reasons[(reasons == "") & missing[:, 0]] = f"no bar at {session_open:%H:%M} (the day's first open)"
    reasons[(reasons == "") & (longest_gap > max_filled)] = (
        f"more than {max_filled} consecutive first-hour minutes missing"
    )
    reasons[(reasons == "") & (last_offset < minutes)] = (
        "no bars after the first hour (the label would come from the input)"
    )
    usable = reasons == ""
    if not usable.any():
        counts = pd.Series(reasons).value_counts()
        detail = "; ".join(f"{reason}: {count} day(s)" for reason, count in counts.items())
        raise WindowError(f"no day has a usable first hour ({detail}); the NIFTY task needs one-minute bars")

    filled = _forward_fill_flat(grid[usable])
    first_open = filled[:, 0, 0]
    return NiftyDays(
        day=days[usable],
        start_time=days[usable] + pd.Timedelta(hours=session_open.hour, minutes=session_open.minute),
        first_hour_ohlc=filled,
        first_hour_close=filled[:, :, 3],
        first_open=first_open,
        last_close=last_close[usable],
        label=(last_close[usable] > first_open).astype(np.int64),
        filled_minutes=missing[usable].sum(axis=1).astype(np.int64),
        skipped=pd.DataFrame({"day": days[~usable], "reason": reasons[~usable].astype(str)}),
    )


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """(D, M) bool → (D,) length of the longest run of True in each row."""
    longest = np.zeros(mask.shape[0], dtype=np.int64)
    current = np.zeros(mask.shape[0], dtype=np.int64)
    for column in mask.T:
        current = np.where(column, current + 1, 0)
        longest = np.maximum(longest, current)
    return longest


def _forward_fill_flat(grid: np.ndarray) -> np.ndarray:
    """Fill missing minutes of (D, M, 4) bars with flat bars at the previous close."""
    filled = grid.copy()
    for minute in range(1, filled.shape[1]):
        gap = np.isnan(filled[:, minute, 3])
        filled[gap, minute, :] = filled[gap, minute - 1, 3:4]
    return filled


@dataclasses.dataclass(frozen=True)
class Split:
    """Chronological sample ranges; ``purged`` samples were dropped at boundaries."""

    parts: tuple[slice, ...]
    purged: int

    def sizes(self) -> tuple[int, ...]:
        return tuple(part.stop - part.start for part in self.parts)


def chronological_split(n_samples: int, fractions: Sequence[float], *, purge: int = 0) -> Split:
    """Split ``n_samples`` time-ordered samples into consecutive parts.

    Args:
        n_samples: number of samples, oldest first.
        fractions: share of each part (e.g. ``(0.81, 0.09, 0.10)``); positive, summing to 1.
        purge: samples dropped at the start of every part after the first. For
            overlapping windows of W bars with a next-bar target, ``purge=W``
            guarantees no bar serves two parts.

    Raises:
        ValueError: bad fractions or purge.
        WindowError: a part would be empty.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) < 2 or any(not math.isfinite(f) or f <= 0 for f in fractions):
        raise ValueError(f"fractions must be two or more positive numbers, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions} (sum {sum(fractions):g})")
    if not isinstance(purge, int) or purge < 0:
        raise ValueError(f"purge must be an int >= 0, got {purge!r}")
    bounds = [0, *(round(n_samples * c) for c in np.cumsum(fractions)[:-1]), n_samples]
    parts = []
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        start = start + purge if i else start
        if stop - start < 1:
            raise WindowError(
                f"{n_samples} samples are too few for a {fractions} split"
                f"{f' with {purge} purged at each boundary' if purge else ''}; load a longer history"
            )
        parts.append(slice(start, stop))
    return Split(parts=tuple(parts), purged=purge * (len(fractions) - 1))
