"""The canonical bar frame, its validation, and what a loader reports.

Canonical bars: a ``pandas.DataFrame`` with

* index: ``DatetimeIndex`` named ``"timestamp"``, timezone-naive, in
  nanoseconds, strictly increasing, holding the exchange's wall-clock time
  (the zone, when known, is kept beside the frame in :class:`LoadedBars`);
* columns: ``open, high, low, close, volume`` (float64), every price finite and
  positive, ``low <= open, close <= high``, volume finite and ``>= 0``.

Every loader (demo market, files, yfinance) ends in :func:`clean_bars`, so the
rules are enforced in one place and every rejected row is counted by reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd

from data.errors import DataError
from data.settings import INTERVAL_STEP, OHLC, OHLCV

#: Above this share of rejected rows a file is refused rather than half-read.
MAX_REJECTED_SHARE = 0.5
#: Relative slack allowed when checking ``low <= open, close <= high``.
RANGE_TOLERANCE = 1e-9
#: Row numbers kept as examples per rejection reason.
EXAMPLES_PER_REASON = 5
#: Timestamps that nanoseconds can hold, a day inside pandas's limits (1677-09-21 .. 2262-04-11).
_NS_RANGE = (pd.Timestamp("1677-09-22"), pd.Timestamp("2262-04-10"))


@dataclasses.dataclass(frozen=True)
class LoadedBars:
    """Bars plus everything a user should know about where they came from.

    Attributes:
        bars: canonical bars (see module docstring).
        source: what was asked for, e.g. ``"demo:ACME"`` or a file path.
        layout: the detected layout (``"demo"``, ``"kaggle-nifty"``,
            ``"yfinance-csv"``, ``"generic-csv"``, ``"parquet"``, ``"yahoo"``).
        interval: ``"1m"``, ``"60m"``, ``"1d"`` or ``"irregular (N min)"``.
        timezone: the exchange's zone when known, else ``None``.
        synthetic: True for the demo market (label it as synthetic).
        rejected: rows dropped, by reason.
        rejected_examples: up to five row numbers per reason (file line
            numbers for CSV files, counting the header as line 1).
        notes: what was repaired and how (sorting, filled volume ...).
        cache_age: age of the cached copy when one was served, else ``None``.
        stale_reason: why a cached copy was served instead of fresh data.
        file_name: the uploaded file's name, for an upload kept in the cache (``upload:<digest>``).
    """

    bars: pd.DataFrame
    source: str
    layout: str
    interval: str
    timezone: str | None = None
    synthetic: bool = False
    rejected: dict[str, int] = dataclasses.field(default_factory=dict)
    rejected_examples: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    cache_age: dt.timedelta | None = None
    stale_reason: str | None = None
    file_name: str | None = None

    @property
    def rejected_rows(self) -> int:
        """Total number of rejected rows."""
        return sum(self.rejected.values())

    def summary(self) -> dict[str, object]:
        """A JSON-ready description (what ``python -m data describe`` prints)."""
        index = self.bars.index
        gaps = count_gaps(index, self.interval)
        return {
            "source": self.source,
            "layout": self.layout,
            "rows": len(self.bars),
            "first": index[0].isoformat() if len(index) else None,
            "last": index[-1].isoformat() if len(index) else None,
            "interval": self.interval,
            "timezone": self.timezone,
            "gaps": gaps,
            "rejected_rows": self.rejected_rows,
            "rejected": dict(self.rejected),
            "rejected_examples": {k: list(v) for k, v in self.rejected_examples.items()},
            "notes": list(self.notes),
            "synthetic": self.synthetic,
            "cache_age_s": None if self.cache_age is None else round(self.cache_age.total_seconds(), 1),
            "stale_reason": self.stale_reason,
        }


@dataclasses.dataclass(frozen=True)
class CleanResult:
    """Output of :func:`clean_bars`."""

    bars: pd.DataFrame
    rejected: dict[str, int]
    rejected_examples: dict[str, list[int]]
    notes: tuple[str, ...]


def clean_bars(
    timestamps: pd.Series | pd.DatetimeIndex,
    prices: pd.DataFrame,
    *,
    row_numbers: np.ndarray | None = None,
    what: str = "the data",
) -> CleanResult:
    """Validate raw bars and return canonical bars plus a rejection report.

    Args:
        timestamps: (N,) naive wall-clock datetimes; ``NaT`` marks an
            unreadable timestamp.
        prices: (N, 4 or 5) frame with columns ``open, high, low, close`` and
            optionally ``volume``; values already numeric, ``NaN`` where a cell
            was empty or not a number.
        row_numbers: (N,) integers used to name rejected rows in messages
            (default: 1..N).
        what: how to name the input in error messages (e.g. a file name).

    Returns:
        :class:`CleanResult` with canonical bars sorted by time.

    Raises:
        DataError: no row survives, or more than half of the rows are rejected.
    """
    n_rows = len(prices)
    if n_rows == 0:
        raise DataError(f"{what} holds no rows of bars; give a file with a header and at least one row")
    if len(timestamps) != n_rows:
        raise DataError(f"timestamps has {len(timestamps)} entries but prices has {n_rows} rows")
    row_numbers = np.arange(1, n_rows + 1) if row_numbers is None else np.asarray(row_numbers)

    stamps = pd.DatetimeIndex(pd.to_datetime(timestamps))
    # a coarser unit (e.g. seconds from Parquet or yfinance) can hold times nanoseconds cannot: unreadable
    inside = (stamps >= _NS_RANGE[0].tz_localize(stamps.tz)) & (stamps <= _NS_RANGE[1].tz_localize(stamps.tz))
    stamps = stamps.where(inside).as_unit("ns")
    price = prices.loc[:, list(OHLC)].to_numpy(dtype=np.float64)
    has_volume = "volume" in prices.columns
    volume = prices["volume"].to_numpy(dtype=np.float64) if has_volume else np.zeros(n_rows)

    reasons = np.full(n_rows, "", dtype=object)

    def reject(mask: np.ndarray, reason: str) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason

    reject(np.asarray(stamps.isna()), "unreadable timestamp")
    reject(np.isnan(price).any(axis=1), "missing or non-numeric price")
    reject(~np.isfinite(price).all(axis=1) | (price <= 0).any(axis=1), "zero, negative or infinite price")
    # rows with a non-finite price are rejected above; compare only finite rows (no inf - inf)
    finite = np.isfinite(price).all(axis=1)
    open_, high, low, close = np.where(finite[:, None], price, 1.0).T
    reject(high < low, "high below low")
    slack = RANGE_TOLERANCE * np.abs(high)
    with np.errstate(over="ignore"):  # near 1.8e308, high + slack is inf: the comparison is still right
        outside = (np.maximum(open_, close) > high + slack) | (np.minimum(open_, close) < low - slack)
    reject(outside, "open or close outside the low-high range")
    reject(np.isinf(volume) | (volume < 0), "negative or infinite volume")

    notes: list[str] = []
    keep = reasons == ""
    missing_volume = keep & np.isnan(volume)
    if not has_volume:
        notes.append("no volume column; volume set to 0")
    elif missing_volume.any():
        notes.append(f"{int(missing_volume.sum())} rows had no volume; set to 0")
    volume = np.where(np.isnan(volume), 0.0, volume)

    kept_stamps = stamps[keep]
    order = np.argsort(kept_stamps.asi8, kind="stable")
    if not kept_stamps.is_monotonic_increasing:
        if kept_stamps.is_monotonic_decreasing:
            notes.append("rows were newest first; put in time order")
        else:
            out_of_order = int((np.diff(kept_stamps.asi8) < 0).sum())
            notes.append(f"{out_of_order} rows were out of time order; sorted by time")
    kept_positions = np.flatnonzero(keep)[order]
    sorted_stamps = stamps[kept_positions]
    duplicate = np.asarray(sorted_stamps.duplicated(keep="first"))
    reasons[kept_positions[duplicate]] = "duplicate timestamp (kept the first)"
    kept_positions = kept_positions[~duplicate]

    rejected_mask = reasons != ""
    counts = Counter(reasons[rejected_mask].tolist())
    examples = {reason: [int(r) for r in row_numbers[reasons == reason][:EXAMPLES_PER_REASON]] for reason in counts}
    n_rejected = int(rejected_mask.sum())
    if n_rejected == n_rows or n_rejected > MAX_REJECTED_SHARE * n_rows:
        detail = "; ".join(f"{reason}: {count} (rows {examples[reason]})" for reason, count in counts.most_common())
        raise DataError(
            f"{what}: {n_rejected} of {n_rows} rows rejected ({detail}); "
            "check that the columns hold timestamps and prices, then load the file again"
        )

    bars = pd.DataFrame(
        np.column_stack([price[kept_positions], volume[kept_positions]]),
        index=pd.DatetimeIndex(stamps[kept_positions], name="timestamp"),
        columns=list(OHLCV),
    )
    return CleanResult(bars=bars, rejected=dict(counts), rejected_examples=examples, notes=tuple(notes))


def infer_interval(index: pd.DatetimeIndex) -> str:
    """Name the bar interval of a sorted index from its median step.

    Returns ``"1m"``, ``"60m"``, ``"1d"`` or ``"irregular (N min)"``; a single
    bar gives ``"unknown"``.
    """
    if len(index) < 2:
        return "unknown"
    index = pd.DatetimeIndex(index).as_unit("ns")
    step = pd.Timedelta(int(np.median(np.diff(index.asi8))), unit="ns")
    for name, expected in INTERVAL_STEP.items():
        if name == "1d":
            if pd.Timedelta(hours=20) <= step <= pd.Timedelta(days=4):
                return name
        elif step == expected:
            return name
    return f"irregular ({step.total_seconds() / 60:g} min)"


def count_gaps(index: pd.DatetimeIndex, interval: str) -> int:
    """Count missing stretches: intraday steps over 1.5 intervals within one
    calendar day, or daily steps over 4 days (longer than a long weekend)."""
    if len(index) < 2 or interval not in INTERVAL_STEP:
        return 0
    index = pd.DatetimeIndex(index).as_unit("ns")
    steps = np.diff(index.asi8)
    if interval == "1d":
        return int((steps > pd.Timedelta(days=4).value).sum())
    same_day = np.asarray(index.normalize()[1:] == index.normalize()[:-1])
    limit = 1.5 * INTERVAL_STEP[interval] / pd.Timedelta(1, unit="ns")
    return int(((steps > limit) & same_day).sum())


def resample_bars(bars: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Aggregate finer bars into ``"60m"`` or ``"1d"`` bars.

    Hourly bars are anchored at each day's first bar (09:15, 10:15 … on the
    NSE; 09:30, 10:30 … in New York), as Yahoo's 60m bars are.

    Args:
        bars: canonical bars, finer than ``interval``.
        interval: ``"60m"`` or ``"1d"``.

    Returns:
        Canonical bars; an hourly bar is stamped with its hour's start, a
        daily bar with midnight of its day.
    """
    if interval not in ("60m", "1d"):
        raise DataError(f"interval must be '60m' or '1d' to aggregate to, got {interval!r}")
    day = bars.index.normalize()
    if interval == "1d":
        key = day
    else:
        first_of_day = pd.Series(bars.index, index=bars.index).groupby(day).transform("min")
        hours_in = ((bars.index - pd.DatetimeIndex(first_of_day)) // pd.Timedelta(hours=1)).to_numpy()
        key = pd.DatetimeIndex(first_of_day) + pd.to_timedelta(hours_in, unit="h")
    grouped = bars.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    out.index = pd.DatetimeIndex(out.index, name="timestamp").as_unit("ns")
    return out
