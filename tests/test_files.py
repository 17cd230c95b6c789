"""CSV and Parquet files: every layout loads unasked; every bad file gets a message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.errors import DataError, FileFormatError
from data.files import load_bar_file

KAGGLE = (
    "date,open,high,low,close,volume\n"
    "2017-01-02 09:15:00,8210.1,8212.0,8205.3,8207.0,0\n"
    "2017-01-02 09:16:00,8207.0,8209.5,8204.0,8208.9,0\n"
    "2017-01-02 09:17:00,8208.9,8211.0,8207.2,8210.4,0\n"
)

YFINANCE_FLAT = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700\n"
    "2024-01-03,184.22,185.88,183.43,184.25,183.56,58414500\n"
    "2024-01-04,182.15,183.09,180.88,181.91,181.23,71983600\n"
)

# What yfinance 1.x writes for df.to_csv() of yf.download(...): a three-line header.
YFINANCE_MULTI = (
    "Price,Close,High,Low,Open,Volume\n"
    "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL\n"
    "Datetime,,,,,\n"
    "2024-03-08 14:30:00-05:00,170.5,171.0,170.1,170.2,1000\n"
    "2024-03-08 15:30:00-05:00,170.9,171.2,170.4,170.5,1200\n"
    "2024-03-11 09:30:00-04:00,172.0,172.5,170.8,171.0,3000\n"
)

EXPECTED_YF_MULTI = pd.DataFrame(
    {
        "open": [170.2, 170.5, 171.0],
        "high": [171.0, 171.2, 172.5],
        "low": [170.1, 170.4, 170.8],
        "close": [170.5, 170.9, 172.0],
        "volume": [1000.0, 1200.0, 3000.0],
    },
    index=pd.DatetimeIndex(["2024-03-08 14:30", "2024-03-08 15:30", "2024-03-11 09:30"], name="timestamp").as_unit(
        "ns"
    ),
)


def load_text(text: str, name: str = "prices.csv", encoding: str = "utf-8", **kwargs):
    return load_bar_file(text.encode(encoding), name=name, **kwargs)


def test_kaggle_nifty_minute_file(tmp_path):
    path = tmp_path / "NIFTY 100_minute.csv"
    path.write_text(KAGGLE)
    loaded = load_bar_file(path)
    assert loaded.layout == "kaggle-nifty"
    assert loaded.interval == "1m"
    assert loaded.timezone == "Asia/Kolkata"
    assert loaded.source == str(path)
    assert loaded.bars.index[0] == pd.Timestamp("2017-01-02 09:15")
    assert loaded.bars["close"].tolist() == [8207.0, 8208.9, 8210.4]
    assert "Kaggle NIFTY layout: naive times read as IST (Asia/Kolkata)" in loaded.notes


def test_yfinance_flat_export():
    loaded = load_text(YFINANCE_FLAT)
    assert loaded.layout == "yfinance-csv"
    assert loaded.interval == "1d"
    assert loaded.bars["close"].tolist() == [185.64, 184.25, 181.91]  # Close, not Adj Close
    assert loaded.bars["volume"].iloc[0] == 82488700
    assert "'Adj Close' ignored; open/high/low/close used as given" in loaded.notes


def test_yfinance_multiindex_export_keeps_wall_clock_across_daylight_saving():
    loaded = load_text(YFINANCE_MULTI)
    assert loaded.layout == "yfinance-csv"
    assert loaded.timezone == "UTC-05:00/-04:00 (daylight saving)"
    pd.testing.assert_frame_equal(loaded.bars, EXPECTED_YF_MULTI)


@pytest.mark.parametrize(
    "text",
    [
        # columns in another case and order, no volume, unnamed timestamp column
        ",CLOSE,Low,HIGH,open\n2024-03-08 14:30,170.5,170.1,171.0,170.2\n2024-03-08 15:30,170.9,170.4,171.2,170.5\n"
        "2024-03-11 09:30,172.0,170.8,172.5,171.0\n",
        # semicolon delimiter, day-first dates, a 'Time' column name, volume as 'Vol'
        "Time;Open;High;Low;Close;Vol\n08/03/2024 14:30;170.2;171.0;170.1;170.5;1000\n"
        "08/03/2024 15:30;170.5;171.2;170.4;170.9;1200\n11/03/2024 09:30;171.0;172.5;170.8;172.0;3000\n"
        "13/03/2024 09:30;172.0;172.5;170.8;172.0;3000\n",
        # tab separated, month-first, newest first
        "timestamp\topen\thigh\tlow\tclose\tvolume\n03/13/2024 09:30\t172.0\t172.5\t170.8\t172.0\t3000\n"
        "03/11/2024 09:30\t171.0\t172.5\t170.8\t172.0\t3000\n03/08/2024 15:30\t170.5\t171.2\t170.4\t170.9\t1200\n"
        "03/08/2024 14:30\t170.2\t171.0\t170.1\t170.5\t1000\n",
    ],
    ids=["unnamed-shuffled-case", "semicolon-dayfirst", "tab-monthfirst-reversed"],
)
def test_generic_layouts_load_the_same_bars(text):
    loaded = load_text(text)
    assert loaded.layout == "generic-csv"
    expected = EXPECTED_YF_MULTI.iloc[:3]
    pd.testing.assert_frame_equal(loaded.bars.iloc[:3, :4], expected.iloc[:, :4])


def test_parquet_with_a_datetime_index(tmp_path):
    path = tmp_path / "bars.parquet"
    EXPECTED_YF_MULTI.rename(columns=str.title).to_parquet(path)
    loaded = load_bar_file(path)
    assert loaded.layout == "parquet"
    pd.testing.assert_frame_equal(loaded.bars, EXPECTED_YF_MULTI)


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252", "utf-8-sig"])
def test_other_encodings(encoding):
    rows = "\n".join(f"2024-01-0{d},10,11,9,10.5,café" for d in range(2, 6))
    loaded = load_text("date,open,high,low,close,note\n" + rows, encoding=encoding)
    assert len(loaded.bars) == 4
    assert loaded.bars["close"].eq(10.5).all()


def test_rejected_rows_are_counted_with_their_line_numbers():
    text = (
        "date,open,high,low,close\n"
        "2024-01-02,10,11,9,10.5\n"  # line 2
        "2024-01-03,10,abc,9,10.5\n"  # line 3: text in a price cell
        "2024-01-04,10,9,11,10.5\n"  # line 4: high < low
        "2024-01-05,0,11,9,10.5\n"  # line 5: zero price
        "2024-01-05,10,11,9,10.6\n"  # line 6: kept, line 5 with the same time was rejected
        "2024-01-08,10,11,9,10.5\n"
        "2024-01-08,10,11,9,10.7\n"  # line 8: duplicate
        "2024-01-09,10,11,9,10.5\n"
        "2024-01-10,10,11,9,10.5\n"
    )
    loaded = load_text(text)
    assert loaded.rejected == {
        "missing or non-numeric price": 1,
        "high below low": 1,
        "zero, negative or infinite price": 1,
        "duplicate timestamp (kept the first)": 1,
    }
    assert loaded.rejected_examples["missing or non-numeric price"] == [3]
    assert loaded.rejected_examples["high below low"] == [4]
    assert loaded.rejected_examples["zero, negative or infinite price"] == [5]
    assert loaded.rejected_examples["duplicate timestamp (kept the first)"] == [8]
    assert loaded.bars.loc["2024-01-05", "close"] == 10.6
    assert loaded.bars.loc["2024-01-08", "close"] == 10.5
    assert loaded.rejected_rows == 4


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", r"prices.csv is empty; give a CSV or Parquet file of bars with a header row"),
        (b"   \n\n", r"prices.csv is empty"),
        (b"date,open,high,low,close\n", r"prices.csv has a header but no rows of bars"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"looks like a binary file, not CSV or Parquet"),
        (b"PAR1 not really parquet", r"not a readable Parquet file"),
        (
            b"date,open,high,close\n2024-01-02,1,2,1.5\n",
            r"missing price column\(s\) low; found columns 'date', 'open', 'high', 'close'",
        ),
        (b"when,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n", r"no timestamp column; name one of timestamp"),
        (b"date,open,high,low,close\nx,1,2,0.5,1.5\ny,1,2,0.5,1.5\n", r"2 of 2 rows rejected \(unreadable timestamp"),
        (b'date,open,high,low,close\n"2024-01-02,1,2,0.5,1.5\n', r"not a readable CSV table"),
    ],
)
def test_bad_files_are_refused_with_a_message(payload, message):
    with pytest.raises(FileFormatError, match=message):
        load_bar_file(payload, name="prices.csv")


def test_missing_path_is_named(tmp_path):
    with pytest.raises(FileFormatError, match=r"no such file; check the path"):
        load_bar_file(tmp_path / "nope.csv")


def test_file_is_never_modified(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(YFINANCE_FLAT)
    before = path.read_bytes()
    load_bar_file(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.csv"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_crash_the_loader(payload):
    try:
        loaded = load_bar_file(payload, name="fuzz.bin")
    except DataError:
        return
    assert len(loaded.bars) > 0


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "2024-01-02", "31/12/2024", "12/31/2024 09:15", "2024-01-02T09:15+05:30", "-1", "0"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(cells, min_size=5, max_size=5), min_size=1, max_size=12))
def test_csv_shaped_garbage_never_crashes_the_loader(rows):
    text = "date,open,high,low,close\n" + "\n".join(",".join(r) for r in rows)
    try:
        loaded = load_text(text)
    except DataError:
        return
    bars = loaded.bars
    assert bars.index.is_monotonic_increasing
    assert bars.index.is_unique
    assert np.isfinite(bars.to_numpy()).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars["low"] <= bars["high"]).all()


def test_a_row_with_an_extra_cell_keeps_the_columns_and_says_so():
    loaded = load_bar_file(b"date,open,high,low,close\n2024-01-02,1,2,0.5,1.5,7\n2024-01-03,1,2,0.5,1.25\n")
    assert loaded.bars["close"].tolist() == [1.5, 1.25]
    assert "some rows have more cells than the header; the extra cells were ignored" in loaded.notes


def test_a_form_feed_inside_a_cell_is_not_a_line_break():
    text = "date,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1,2,0.5,1.5\n2024-01-04,1,2,0.5\x0c,1.5\n"
    loaded = load_bar_file(text.encode())
    assert len(loaded.bars) == 3  # "0.5\x0c" is 0.5 with trailing white space
    assert loaded.rejected == {}


def test_undecodable_bytes_in_a_parquet_price_column_are_rejected_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "date": ["2024-01-02", "2024-01-03", "2024-01-04"],
            "open": pa.array([b"1", b"1", b"\x80"], pa.binary()),
            "high": [2.0, 2.0, 2.0],
            "low": [0.5, 0.5, 0.5],
            "close": [1.5, 1.5, 1.5],
        }
    )
    pq.write_table(table, tmp_path / "bars.parquet")
    loaded = load_bar_file(tmp_path / "bars.parquet")
    assert len(loaded.bars) == 2
    assert loaded.rejected == {"missing or non-numeric price": 1}
