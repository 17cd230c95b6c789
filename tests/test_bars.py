"""The canonical bar frame: validation rules, interval, gaps and aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.bars import clean_bars, count_gaps, infer_interval, resample_bars
from data.errors import DataError


def raw(rows: list[tuple[str, float, float, float, float]]) -> tuple[pd.DatetimeIndex, pd.DataFrame]:
    stamps = pd.DatetimeIndex([pd.Timestamp(r[0]) if r[0] else pd.NaT for r in rows])
    prices = pd.DataFrame([r[1:] for r in rows], columns=["open", "high", "low", "close"], dtype=float)
    return stamps, prices


GOOD = [
    ("2024-01-02 09:15", 10.0, 11.0, 9.0, 10.5),
    ("2024-01-02 09:16", 10.5, 11.0, 10.0, 10.8),
    ("2024-01-02 09:17", 10.8, 11.2, 10.6, 11.0),
    ("2024-01-02 09:18", 11.0, 11.5, 10.9, 11.4),
    ("2024-01-02 09:19", 11.4, 11.6, 11.0, 11.1),
    ("2024-01-02 09:20", 11.1, 11.3, 10.9, 11.2),
]


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        (("", 10.0, 11.0, 9.0, 10.0), "unreadable timestamp"),
        (("2024-01-02 10:00", np.nan, 11.0, 9.0, 10.0), "missing or non-numeric price"),
        (("2024-01-02 10:00", 10.0, 11.0, 0.0, 10.0), "zero, negative or infinite price"),
        (("2024-01-02 10:00", -1.0, 11.0, 9.0, 10.0), "zero, negative or infinite price"),
        (("2024-01-02 10:00", 10.0, np.inf, 9.0, 10.0), "zero, negative or infinite price"),
        (("2024-01-02 10:00", 10.0, 9.0, 11.0, 10.0), "high below low"),
        (("2024-01-02 10:00", 12.0, 11.0, 9.0, 10.0), "open or close outside the low-high range"),
        (("2024-01-02 09:15", 10.0, 11.0, 9.0, 10.0), "duplicate timestamp (kept the first)"),
    ],
)
def test_each_bad_row_is_rejected_with_its_reason_and_row_number(bad_row, reason):
    stamps, prices = raw([*GOOD, bad_row])
    result = clean_bars(stamps, prices)
    assert result.rejected == {reason: 1}
    assert result.rejected_examples == {reason: [7]}
    assert len(result.bars) == len(GOOD)
    np.testing.assert_array_equal(result.bars["close"], [r[4] for r in GOOD])


def test_canonical_frame_shape_and_types():
    stamps, prices = raw(GOOD)
    prices["volume"] = [1, 2, np.nan, 4, 5, 6]
    result = clean_bars(stamps, prices)
    assert list(result.bars.columns) == ["open", "high", "low", "close", "volume"]
    assert result.bars.index.name == "timestamp"
    assert result.bars.index.dtype == "datetime64[ns]"
    assert (result.bars.dtypes == "float64").all()
    assert result.bars["volume"].tolist() == [1, 2, 0, 4, 5, 6]
    assert result.notes == ("1 rows had no volume; set to 0",)


def test_missing_volume_column_is_zero_and_said():
    stamps, prices = raw(GOOD)
    result = clean_bars(stamps, prices)
    assert (result.bars["volume"] == 0).all()
    assert result.notes == ("no volume column; volume set to 0",)


def test_newest_first_rows_are_reversed_and_said():
    stamps, prices = raw(GOOD[::-1])
    result = clean_bars(stamps, prices)
    assert result.bars.index.is_monotonic_increasing
    np.testing.assert_array_equal(result.bars["close"], [r[4] for r in GOOD])
    assert "rows were newest first; put in time order" in result.notes


def test_shuffled_rows_are_sorted_and_counted():
    order = [2, 0, 1, 3, 5, 4]
    stamps, prices = raw([GOOD[i] for i in order])
    result = clean_bars(stamps, prices)
    np.testing.assert_array_equal(result.bars["close"], [r[4] for r in GOOD])
    assert "2 rows were out of time order; sorted by time" in result.notes


def test_mostly_bad_data_is_refused_with_reasons():
    rows = [(*GOOD[0][:1], 10.0, 9.0, 11.0, 10.0)] * 3 + GOOD[:2]
    stamps, prices = raw(rows)
    with pytest.raises(DataError, match=r"3 of 5 rows rejected \(high below low: 3 \(rows \[1, 2, 3\]\)\)"):
        clean_bars(stamps, prices, what="prices.csv")


def test_times_beyond_nanoseconds_are_unreadable_not_an_overflow():
    # Found by tests/test_fuzz.py (through parse_yahoo_frame): an index in seconds can hold times
    # nanoseconds cannot; clean_bars raised OutOfBoundsDatetime. Now the row is rejected as unreadable.
    stamps, prices = raw([*GOOD, ("2024-01-02 10:00", 10.0, 11.0, 9.0, 10.0)])
    seconds = stamps.as_unit("s").to_numpy().copy()
    seconds[-1] = np.datetime64(2**62, "s")  # year 146 billion
    result = clean_bars(pd.DatetimeIndex(seconds), prices)
    assert result.rejected == {"unreadable timestamp": 1}
    assert result.rejected_examples == {"unreadable timestamp": [7]}
    assert result.bars.index.dtype == "datetime64[ns]"
    np.testing.assert_array_equal(result.bars["close"], [r[4] for r in GOOD])


def test_no_rows_is_refused():
    stamps, prices = raw([])
    with pytest.raises(DataError, match="holds no rows of bars"):
        clean_bars(stamps, prices)


def minute_session(day: str, start: str = "09:15", minutes: int = 375) -> pd.DatetimeIndex:
    return pd.date_range(f"{day} {start}", periods=minutes, freq="min")


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (minute_session("2024-01-02").append(minute_session("2024-01-03")), "1m"),
        (pd.DatetimeIndex([f"2024-01-0{d} {h}:30" for d in (2, 3) for h in range(9, 16)]), "60m"),
        (pd.bdate_range("2024-01-01", periods=30), "1d"),
        (pd.date_range("2024-01-02 09:15", periods=50, freq="5min"), "irregular (5 min)"),
        (pd.DatetimeIndex(["2024-01-02"]), "unknown"),
    ],
)
def test_interval_is_named_from_the_median_step(index, expected):
    assert infer_interval(index) == expected


def test_gaps_count_missing_stretches_within_a_session_only():
    index = minute_session("2024-01-02").append(minute_session("2024-01-03"))
    index = index.delete([10, 11, 12, 100])  # two holes on day one; the overnight step is not a gap
    assert count_gaps(index, "1m") == 2
    daily = pd.bdate_range("2024-01-01", periods=20).delete([5, 6, 7, 8])  # a 6-day hole, weekends are fine
    assert count_gaps(daily, "1d") == 1


def test_hourly_aggregation_is_anchored_at_the_session_open():
    index = minute_session("2024-01-02", minutes=125)  # 09:15 .. 11:19
    close = np.arange(125, dtype=float) + 100
    bars = pd.DataFrame(
        {"open": close - 0.5, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}, index=index
    )
    hourly = resample_bars(bars, "60m")
    assert list(hourly.index) == [
        pd.Timestamp("2024-01-02 09:15"),
        pd.Timestamp("2024-01-02 10:15"),
        pd.Timestamp("2024-01-02 11:15"),
    ]
    np.testing.assert_array_equal(hourly["open"], [99.5, 159.5, 219.5])
    np.testing.assert_array_equal(hourly["high"], [160.0, 220.0, 225.0])
    np.testing.assert_array_equal(hourly["low"], [99.0, 159.0, 219.0])
    np.testing.assert_array_equal(hourly["close"], [159.0, 219.0, 224.0])
    np.testing.assert_array_equal(hourly["volume"], [60.0, 60.0, 5.0])
    daily = resample_bars(bars, "1d")
    assert daily.index.tolist() == [pd.Timestamp("2024-01-02")]
    assert daily.iloc[0].tolist() == [99.5, 225.0, 99.0, 224.0, 125.0]


def test_aggregation_refuses_other_intervals():
    with pytest.raises(DataError, match=r"interval must be '60m' or '1d' to aggregate to, got '1m'"):
        resample_bars(pd.DataFrame(), "1m")
