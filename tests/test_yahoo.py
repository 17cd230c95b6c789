"""Live tickers: the real loader against a faked yfinance network boundary."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
from yfinance import exceptions as yf_errors

from data.errors import TickerDataError
from data.yahoo import FRESH_FOR, fetch_ticker, normalise_ticker, parse_yahoo_frame
from tests.fake_yahoo import FakeYahoo, yahoo_frame

T0 = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC)


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> FakeYahoo:
    return FakeYahoo(monkeypatch)


def clock(at: dt.datetime):
    return lambda: at


def test_download_is_parsed_to_wall_clock_and_cached(yahoo, isolated_cache):
    yahoo.replies.append(yahoo_frame())
    loaded = fetch_ticker("aapl", "60m", now=clock(T0))
    assert loaded.source == "yahoo:AAPL"
    assert loaded.layout == "yahoo"
    assert loaded.timezone == "America/New_York"
    assert loaded.interval == "60m"
    assert loaded.bars.index[0] == pd.Timestamp("2026-11-19 09:30")
    assert loaded.bars.index.tz is None
    assert loaded.bars["close"].tolist() == list(100 + np.arange(14.0))
    assert loaded.cache_age is None
    assert loaded.stale_reason is None
    assert [p.name for p in (isolated_cache / "yahoo").iterdir()] == ["AAPL_60m.parquet"]
    # 60m history: asked from 729 days back, through tomorrow; a bounded network timeout
    call = yahoo.calls[0]
    assert call["ticker"] == "AAPL"
    assert call["interval"] == "60m"
    assert call["auto_adjust"] is True
    assert call["start"] == (T0 - dt.timedelta(days=729)).date()
    assert call["end"] == T0.date() + dt.timedelta(days=1)
    assert 0 < call["timeout"] <= 30


def test_fresh_cache_is_served_without_the_network(yahoo):
    yahoo.replies.append(yahoo_frame())
    first = fetch_ticker("AAPL", "60m", now=clock(T0))
    later = T0 + FRESH_FOR["60m"] / 2
    again = fetch_ticker("AAPL", "60m", now=clock(later))
    assert len(yahoo.calls) == 1
    pd.testing.assert_frame_equal(again.bars, first.bars)
    assert again.cache_age == FRESH_FOR["60m"] / 2
    assert again.stale_reason is None
    assert again.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (yf_errors.YFRateLimitError(), "rate limited by Yahoo"),
        (
            CurlConnectionError("Could not resolve host: query2.finance.yahoo.com"),
            "network unreachable (ConnectionError)",
        ),
        (TimeoutError("timed out"), "network unreachable (TimeoutError)"),
        (pd.DataFrame(), "Yahoo returned no rows"),
    ],
)
def test_failure_serves_the_cached_copy_with_its_age_and_reason(yahoo, failure, reason):
    yahoo.replies += [yahoo_frame(), failure]
    fetch_ticker("AAPL", "60m", now=clock(T0))
    later = T0 + dt.timedelta(hours=3)
    stale = fetch_ticker("AAPL", "60m", now=clock(later))
    assert len(yahoo.calls) == 2
    assert stale.cache_age == dt.timedelta(hours=3)
    assert stale.stale_reason == reason
    assert len(stale.bars) == 14


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (yf_errors.YFRateLimitError(), r"no data for ticker 'AAPL': rate limited by Yahoo\. Wait a few minutes"),
        (
            yf_errors.YFPricesMissingError("AAPL", "(period=60m)"),
            r"no data for ticker 'AAPL': unknown ticker or no 60m prices on Yahoo\. Check the symbol",
        ),
        (yf_errors.YFTzMissingError("AAPL"), r"unknown ticker or no 60m prices on Yahoo"),
        (OSError("Network is unreachable"), r"network unreachable \(OSError\)\. Check the connection"),
        (pd.DataFrame(), r"Yahoo returned no rows"),
        (
            pd.DataFrame({"Close": [1.0]}, index=pd.DatetimeIndex(["2026-11-19"])),
            r"Yahoo's reply lacks open, high, low",
        ),
        (KeyError("chart"), r"Yahoo sent a reply yfinance could not read \(KeyError"),
    ],
)
def test_failure_without_cache_is_one_clear_error(yahoo, failure, message):
    yahoo.replies.append(failure)
    with pytest.raises(TickerDataError, match=message) as caught:
        fetch_ticker("AAPL", "60m", now=clock(T0))
    assert caught.value.ticker == "AAPL"


def test_corrupted_cache_is_discarded_and_fetched_again(yahoo, isolated_cache):
    (isolated_cache / "yahoo").mkdir()
    (isolated_cache / "yahoo" / "AAPL_60m.parquet").write_bytes(b"PAR1 half written")
    yahoo.replies.append(yahoo_frame())
    loaded = fetch_ticker("AAPL", "60m", now=clock(T0))
    assert len(loaded.bars) == 14
    assert loaded.cache_age is None
    assert fetch_ticker("AAPL", "60m", now=clock(T0)).cache_age == dt.timedelta(0)


def test_minute_history_limit_and_lookback_validation(yahoo):
    yahoo.replies.append(yahoo_frame())
    fetch_ticker("^NSEI", "1m", now=clock(T0))
    assert yahoo.calls[0]["start"] == (T0 - dt.timedelta(days=7)).date()
    with pytest.raises(ValueError, match=r"lookback_days must be between 1 and 7 for 1m bars .* got 30"):
        fetch_ticker("^NSEI", "1m", lookback_days=30)
    with pytest.raises(ValueError, match=r"interval must be one of \('1m', '60m', '1d'\), got '5m'"):
        fetch_ticker("^NSEI", "5m")


def test_daily_history_asks_for_everything(yahoo):
    yahoo.replies.append(yahoo_frame())
    fetch_ticker("^GSPC", "1d", now=clock(T0))
    assert yahoo.calls[0]["period"] == "max"
    assert "start" not in yahoo.calls[0]


def test_multiindex_download_frames_are_flattened():
    flat = yahoo_frame(3)
    multi = flat.copy()
    multi.columns = pd.MultiIndex.from_product([flat.columns, ["^NSEI"]], names=["Price", "Ticker"])
    loaded, timezone = parse_yahoo_frame(multi, "^NSEI")
    assert timezone == "America/New_York"
    assert loaded.bars["close"].tolist() == [100.0, 101.0, 102.0]
    assert list(loaded.bars.columns) == ["open", "high", "low", "close", "volume"]


def test_yahoo_nan_rows_are_counted_not_hidden():
    frame = yahoo_frame(5)
    frame.iloc[2, :4] = np.nan
    loaded, _ = parse_yahoo_frame(frame, "AAPL")
    assert loaded.rejected == {"missing or non-numeric price": 1}
    assert len(loaded.bars) == 4


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "AAPL; rm -rf /", ".hidden", "A" * 21, "AAPL/X", "..."])
def test_ticker_text_never_becomes_a_path(bad):
    with pytest.raises(TickerDataError, match="not a valid Yahoo symbol"):
        normalise_ticker(bad)


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("aapl", "AAPL"),
        (" ^nsei ", "^NSEI"),
        ("brk-b", "BRK-B"),
        ("eurusd=x", "EURUSD=X"),
        ("reliance.ns", "RELIANCE.NS"),
        ("^CNX100", "^CNX100"),
    ],
)
def test_real_symbols_are_accepted(text, symbol):
    assert normalise_ticker(text) == symbol


def test_index_symbol_cache_file_stays_inside_the_cache(yahoo, isolated_cache):
    yahoo.replies.append(yahoo_frame())
    fetch_ticker("^NSEI", "60m", now=clock(T0))
    assert [p.name for p in (isolated_cache / "yahoo").iterdir()] == ["%5ENSEI_60m.parquet"]


def test_a_repeated_column_counts_once():
    frame = yahoo_frame(3)
    doubled = pd.concat([frame, frame[["Open"]] * 0], axis=1)  # a second "Open", all zeros
    loaded, _ = parse_yahoo_frame(doubled, "AAPL")
    assert loaded.bars["open"].tolist() == frame["Open"].tolist()


def test_times_beyond_pandas_range_are_one_clear_error():
    index = pd.DatetimeIndex(np.array([2**40, 2**40 + 3600], dtype="datetime64[s]")).tz_localize("UTC")
    frame = pd.DataFrame({"Open": [1.0, 1.0], "High": [2.0, 2.0], "Low": [0.5, 0.5], "Close": [1.5, 1.5]}, index=index)
    with pytest.raises(TickerDataError, match="AAPL"):
        parse_yahoo_frame(frame.tz_convert("America/New_York"), "AAPL")
