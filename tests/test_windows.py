"""The two tasks' samples and chronological splits, on series with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from data.errors import WindowError
from data.windows import chronological_split, infer_session_open, make_nifty_days, make_ticker_windows


def hourly(closes: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-02 09:30", periods=len(closes), freq="h")
    close = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {"open": close - 0.5, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}, index=index
    )


def test_ticker_windows_known_values():
    bars = hourly([10, 20, 40, 80, 100, 50])
    w = make_ticker_windows(bars, window=3)
    assert len(w) == 3
    assert w.ohlc.shape == (3, 3, 4)
    np.testing.assert_array_equal(w.ohlc[1, :, 3], [20, 40, 80])
    np.testing.assert_array_equal(w.ohlc[1, 0], [19.5, 21, 19, 20])
    np.testing.assert_array_equal(w.last_close, [40, 80, 100])
    np.testing.assert_array_equal(w.target_close, [80, 100, 50])
    np.testing.assert_allclose(w.pct_change, [100.0, 25.0, -50.0])
    np.testing.assert_allclose(w.target_log10_close, np.log10([80, 100, 50]))
    np.testing.assert_allclose(w.log10_close[0], np.log10([10, 20, 40]))
    assert list(w.end_time) == list(bars.index[2:5])
    assert list(w.target_time) == list(bars.index[3:6])


def test_latest_window_has_no_target():
    bars = hourly([10, 20, 40, 80])
    w = make_ticker_windows(bars, window=3, include_latest=True)
    assert len(w) == 2
    np.testing.assert_array_equal(w.ohlc[-1, :, 3], [20, 40, 80])
    assert np.isnan(w.target_close[-1])
    assert np.isnan(w.pct_change[-1])
    assert pd.isna(w.target_time[-1])
    assert w.end_time[-1] == bars.index[-1]


def test_default_window_is_the_papers_fifty_hours():
    w = make_ticker_windows(hourly(list(range(100, 160))))
    assert w.ohlc.shape == (10, 50, 4)


def test_too_short_history_says_how_many_bars_are_needed():
    with pytest.raises(WindowError, match=r"needs at least 51 bars \(50 for the window \+ 1 for the target\), got 30"):
        make_ticker_windows(hourly(list(range(100, 130))))


@pytest.mark.parametrize("window", [1, 0, 2.5, "50", True])
def test_bad_window_parameter(window):
    with pytest.raises(ValueError, match=r"window must be an int >= 2, got"):
        make_ticker_windows(hourly([1, 2, 3]), window=window)


def day_of_minutes(day: str, first_open: float, last_close: float, start: str = "09:15", end: str = "15:29"):
    index = pd.date_range(f"{day} {start}", f"{day} {end}", freq="min")
    close = np.linspace(first_open, last_close, len(index))
    close[: min(60, len(index))] = first_open + np.arange(min(60, len(index))) * 0.01
    close[-1] = last_close
    open_ = np.concatenate([[first_open], close[:-1]])
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + 0.1,
            "low": np.minimum(open_, close) - 0.1,
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )


def test_nifty_days_labels_fill_rule_and_skips():
    up = day_of_minutes("2024-01-01", 100.0, 101.0)
    down = day_of_minutes("2024-01-02", 100.0, 99.0)
    filled = day_of_minutes("2024-01-03", 100.0, 100.5).drop(pd.date_range("2024-01-03 09:20", periods=3, freq="min"))
    too_long_gap = day_of_minutes("2024-01-04", 100.0, 101.0).drop(
        pd.date_range("2024-01-04 09:20", periods=4, freq="min")
    )
    no_open = day_of_minutes("2024-01-05", 100.0, 101.0).drop(pd.Timestamp("2024-01-05 09:15"))
    no_first_hour = day_of_minutes("2024-01-08", 100.0, 101.0, start="10:30")
    ends_early = day_of_minutes("2024-01-09", 100.0, 101.0, end="10:14")
    flat = day_of_minutes("2024-01-10", 100.0, 100.0)  # last close == first open → label 0
    bars = pd.concat([up, down, filled, too_long_gap, no_open, no_first_hour, ends_early, flat])

    days = make_nifty_days(bars)  # the open is inferred: 09:15

    assert list(days.day) == [pd.Timestamp(d) for d in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-10")]
    np.testing.assert_array_equal(days.label, [1, 0, 1, 0])
    np.testing.assert_array_equal(days.first_open, [100.0, 100.0, 100.0, 100.0])
    np.testing.assert_array_equal(days.last_close, [101.0, 99.0, 100.5, 100.0])
    np.testing.assert_array_equal(days.filled_minutes, [0, 0, 3, 0])
    assert days.first_hour_close.shape == (4, 60)
    assert days.first_hour_ohlc.shape == (4, 60, 4)
    # 09:20-09:22 were missing on 2024-01-03: flat bars at the 09:19 close
    np.testing.assert_allclose(days.first_hour_close[2, 4:9], [100.04, 100.04, 100.04, 100.04, 100.08])
    np.testing.assert_allclose(days.first_hour_ohlc[2, 5], [100.04] * 4)
    np.testing.assert_allclose(days.first_hour_close[0], 100.0 + np.arange(60) * 0.01)
    assert days.skipped_by_reason() == {
        "more than 3 consecutive first-hour minutes missing": 1,
        "no bar at 09:15 (the day's first open)": 1,
        "no first-hour bars": 1,
        "no bars after the first hour (the label would come from the input)": 1,
    }
    sentence = days.skipped_sentence()
    assert sentence.startswith("4 days skipped: 1 with more than 3 consecutive first-hour minutes missing; ")
    assert sentence.endswith("; 1 with no bars after the first hour (the label would come from the input).")
    assert list(days.skipped["day"]) == [
        pd.Timestamp(d) for d in ("2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09")
    ]


def test_session_open_is_inferred_or_given():
    new_york = pd.concat(
        [day_of_minutes(d, 50.0, 51.0, start="09:30", end="15:59") for d in ("2024-01-02", "2024-01-03", "2024-01-04")]
    )
    # one day with a stray pre-open bar does not move the inferred open
    early = pd.DataFrame(
        new_york.iloc[:1].to_numpy(), index=[pd.Timestamp("2024-01-02 09:25")], columns=new_york.columns
    )
    bars = pd.concat([early, new_york])
    assert infer_session_open(bars) == dt.time(9, 30)
    days = make_nifty_days(bars)
    assert list(days.start_time) == [pd.Timestamp(f"2024-01-0{d} 09:30") for d in (2, 3, 4)]
    np.testing.assert_array_equal(days.label, [1, 1, 1])
    with pytest.raises(WindowError, match=r"no bar at 09:15 \(the day's first open\): 3 day\(s\)"):
        make_nifty_days(new_york, session_open=dt.time(9, 15))


def test_no_usable_day_is_an_error_with_reasons():
    bars = day_of_minutes("2024-01-08", 100.0, 101.0, start="10:30")
    with pytest.raises(WindowError, match=r"no day has a usable first hour \(no first-hour bars: 1 day\(s\)\)"):
        make_nifty_days(bars, session_open=dt.time(9, 15))


def test_split_sizes_follow_the_fractions():
    split = chronological_split(1000, (0.8, 0.2))
    assert split.parts == (slice(0, 800), slice(800, 1000))
    assert split.purged == 0


def test_purged_ticker_split_shares_no_bar_between_parts():
    n_bars, window = 1050, 50
    n_windows = n_bars - window
    split = chronological_split(n_windows, (0.81, 0.09, 0.10), purge=window)
    train, val, test = split.parts
    assert (train.start, train.stop) == (0, 810)
    assert (val.start, val.stop) == (810 + window, 900)
    assert (test.start, test.stop) == (900 + window, 1000)
    assert split.sizes() == (810, 40, 50)
    # window i reads bars i..i+W-1 and its target bar i+W
    last_bar_used = {name: part.stop - 1 + window for name, part in zip("tvs", split.parts, strict=True)}
    first_bar_used = {name: part.start for name, part in zip("tvs", split.parts, strict=True)}
    assert last_bar_used["t"] < first_bar_used["v"]
    assert last_bar_used["v"] < first_bar_used["s"]
    assert split.purged == 2 * window


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((0.8, 0.3), r"fractions must sum to 1, got \(0.8, 0.3\) \(sum 1.1\)"),
        ((1.0,), r"fractions must be two or more positive numbers, got \(1.0,\)"),
        ((1.2, -0.2), r"fractions must be two or more positive numbers"),
        ((0.5, float("nan"), 0.5), r"fractions must be two or more positive numbers"),
    ],
)
def test_bad_split_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        chronological_split(100, fractions)


def test_too_few_samples_for_a_purged_split():
    with pytest.raises(WindowError, match=r"60 samples are too few for a \(0.81, 0.09, 0.1\) split with 50 purged"):
        chronological_split(60, (0.81, 0.09, 0.10), purge=50)
