"""Fuzzing (DESIGN.md §5): hostile input never crashes the process or hangs.

Each property feeds one public entry point input built to hurt it -- broken
CSV and Parquet files, garbage timestamp columns, mangled Yahoo replies,
path-like ticker text, non-finite or wrongly shaped arrays, corrupted
checkpoints -- and checks that the call ends in exactly one of two ways:

* a result that keeps every documented invariant (shapes, value ranges,
  counts that add up), or
* the documented error type, with a message.

Any other exception fails the test, and so does a hang: every test has a
``pytest-timeout`` limit (hypothesis's per-example deadline is off, so a busy
machine cannot make it flake). The other test files mostly generate *valid*
input; the strategies here generate hostile input, built on enough valid rows
that the "it loaded" branch runs too (``pytest --hypothesis-show-statistics``
shows how often each branch ran).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from data.bars import EXAMPLES_PER_REASON, MAX_REJECTED_SHARE, RANGE_TOLERANCE, LoadedBars
from data.cache import cache_path
from data.errors import DataError, FileFormatError, TickerDataError
from data.files import load_bar_file
from data.images.candlestick import CandlestickEncoder, bar_columns
from data.images.gadf import GADFEncoder, flat_windows
from data.settings import INTERVALS, OHLCV, cache_dir
from data.timestamps import DATE_ORDERS, parse_timestamps
from data.yahoo import normalise_ticker, parse_yahoo_frame
from models.checkpoints import CARD_NAME, WEIGHTS_NAME, CheckpointError, load_checkpoint
from tests.conftest import REPO_ROOT
from xai.time_projection import (
    candlestick_time_importance,
    gadf_time_importance,
    interval_share,
    normalise,
    pointing_game,
)

#: Seconds a whole property may run before pytest-timeout calls it a hang: a few
#: times its run time on the busy 2-core machine (the GADF one includes pyts's
#: first import, about 20 s when numba's cache is cold).
HANG_LIMIT_S = 180
#: Time zones of aware timestamps (None: naive).
ZONES = (None, "UTC", "America/New_York", "Asia/Kolkata", "Etc/GMT-14")
#: Years a parsed timestamp may fall in (data.timestamps reads others as unreadable).
PLAUSIBLE = (pd.Timestamp("1800-01-01"), pd.Timestamp("2201-01-01"))


def fuzz_settings(max_examples: int) -> settings:
    """No per-example deadline (the machine is shared); the timeout mark catches hangs."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n`` draws. False is the simpler choice, so shrinking drops the damage
    (hypothesis favours the simplest value, so "== 0" would come up far more often than 1 in n)."""
    return draw(st.integers(1, n)) == n


def refused(error: Exception, documented: type[Exception] = Exception) -> None:
    """A refusal must be of the ``documented`` type and say something."""
    assert isinstance(error, documented), f"{type(error).__name__} where {documented.__name__} is documented"
    assert str(error).strip(), f"{type(error).__name__} without a message"
    event(f"refused: {type(error).__name__}")


# --- shared invariants -------------------------------------------------------------


def check_canonical_bars(bars: pd.DataFrame) -> None:
    """The canonical bar frame of data/bars.py, every rule of its module docstring."""
    assert list(bars.columns) == list(OHLCV)
    assert (bars.dtypes == np.float64).all(), bars.dtypes
    index = bars.index
    assert isinstance(index, pd.DatetimeIndex)
    assert index.name == "timestamp"
    assert index.tz is None
    assert index.unit == "ns"
    assert not index.hasnans
    assert index.is_monotonic_increasing
    assert index.is_unique
    assert len(bars) >= 1
    values = bars.to_numpy()
    assert np.isfinite(values).all()
    open_, high, low, close, volume = values.T
    assert (values[:, :4] > 0).all()
    assert (volume >= 0).all()
    assert (high >= low).all()
    slack = RANGE_TOLERANCE * np.abs(high)
    with np.errstate(over="ignore"):
        assert (np.maximum(open_, close) <= high + slack).all()
        assert (np.minimum(open_, close) >= low - slack).all()


def check_loaded(loaded: LoadedBars, data_rows: int | None, *, exact: bool = True) -> None:
    """Canonical bars, and every data row either kept or counted as rejected.

    ``data_rows`` is the number of rows the input holds (``exact``), at most
    holds (not ``exact``), or ``None`` when it cannot be known.
    """
    check_canonical_bars(loaded.bars)
    kept, rejected = len(loaded.bars), loaded.rejected_rows
    if data_rows is not None and exact:
        assert kept + rejected == data_rows, (kept, rejected, data_rows)
    elif data_rows is not None:
        assert kept + rejected <= data_rows, (kept, rejected, data_rows)
    assert rejected <= MAX_REJECTED_SHARE * (kept + rejected)
    assert set(loaded.rejected_examples) == set(loaded.rejected)
    for reason, count in loaded.rejected.items():
        assert count >= 1
        examples = loaded.rejected_examples[reason]
        assert len(examples) == min(count, EXAMPLES_PER_REASON)
        assert all(isinstance(row, int) and row >= 1 for row in examples)
    summary = json.loads(json.dumps(loaded.summary()))
    assert summary["rows"] == kept
    assert summary["rejected_rows"] == rejected


# --- 1. file loader: hostile CSV -------------------------------------------------------

TIMESTAMP_HEADERS = ("timestamp", "datetime", "date", "time", "dt", "", "Datetime", "Date", " Time ")
PRICE_HEADERS = ("open", "high", "low", "close")
EXTRA_HEADERS = ("volume", "Vol", "Adj Close", "Price", "Ticker", "Unnamed: 0", "open interest", "\ufeffdate", "näme")
DELIMITERS = (",", ";", "\t", "|")
NEWLINES = ("\n", "\r\n", "\r")
#: Characters that make a CSV line parse into a different number of cells or rows.
STRUCTURAL = frozenset(',;\t|"\r\n')
HOSTILE_PRICES = (
    "", " ", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "1e309", "-1e308", "1.7976931348623157e308",
    "5e-324", "0", "-0", "-1", "-0.0001", "1,5", "1.5.5", "0x10", "1_000", "١٢٣", "１２", "abc", "None", "null",
    "#N/A", "TRUE", "  12.5  ", "12.5abc", "€", "é", "\u200b", "9" * 400, "'", "=1+1", '"3"', '"1,5"', '"', "1e-400",
)  # fmt: skip
HOSTILE_STAMPS = (
    "", "x", "NaT", "nan", "0", "-1", "1e308", "2024-02-30", "2024-13-01", "2024-01-02 24:00", "2024-01-02 09:61",
    "0000-00-00", "9999-12-31 23:59:59", "1677-09-21", "2262-04-12", "1799-12-31", "2201-01-01", "31/02/2024",
    "13/13/2024", "00/00/00", "1/1/1", "2024-01-02T09:15+99:99", "2024-01-02 09:15+05:30", "2024-01-02 09:15Z",
    "2024-01-02 09:15-0400", "+14:00", "Jan 2, 2024", '"2024-01-02', "2024-01-02\x00", "２０２４-01-02",
    "1704186900", "1704186900000", "2024-W01-1", "2024-001", "99999-01-01",
)  # fmt: skip
STAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S+05:30",
    "%Y-%m-%d %H:%M:%S-0400", "%Y/%m/%d %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y", "%d-%m-%y",
    "%m-%d-%y %H:%M", "%Y-%m-%d", "epoch-s", "epoch-ms", "dst",
)  # fmt: skip
#: Encodings, the loader's own (UTF-8, UTF-16 with a BOM, Windows-1252) most often.
ENCODINGS = ("utf-8",) * 6 + ("utf-8-sig", "utf-16", "cp1252", "cp1252", "utf-16-le", "utf-32", "latin-1")


def format_stamp(moment: dt.datetime, form: str, position: int) -> str:
    if form == "epoch-s":
        return str(int(moment.replace(tzinfo=dt.UTC).timestamp()))
    if form == "epoch-ms":
        return str(int(moment.replace(tzinfo=dt.UTC).timestamp() * 1000))
    if form == "dst":  # a yfinance export across a daylight-saving switch: two offsets an hour apart
        return moment.strftime("%Y-%m-%d %H:%M:%S") + ("-05:00" if position % 2 else "-04:00")
    return moment.strftime(form)


def format_price(value: float, style: int) -> str:
    return (repr(value), f"{value:.2f}", f"{value:.6e}", f" {value} ", str(value).replace(".", ","))[style]


#: Random cell text; no NUL, which would make the whole file binary (HOSTILE_STAMPS has one).
cell_text = st.text(st.characters(exclude_characters="\x00"), max_size=12)


@st.composite
def hostile_csv(draw: st.DrawFn) -> tuple[bytes, int, bool]:
    """``(file bytes, data rows the file holds at most, whether that count is exact)``.

    Built on a valid table (a timestamp column, OHLC, maybe volume) that is then
    damaged: header names, case, spacing and duplicates; delimiters (also mixed);
    timestamps in many forms, reversed, shuffled, duplicated or replaced by
    garbage; prices as text, NaN, inf, zero, negative, huge, with high < low;
    quotes, blank lines, ragged rows, very long lines, raw bytes, and encodings.
    """
    n_rows = draw(st.integers(1, 25))
    # header
    columns = [draw(st.sampled_from(TIMESTAMP_HEADERS)), *PRICE_HEADERS]
    columns += draw(st.lists(st.sampled_from(EXTRA_HEADERS), max_size=2))
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if one_in(draw, 5):  # a duplicated column
        columns.insert(draw(st.integers(0, len(columns))), draw(st.sampled_from(columns)))
    if one_in(draw, 7):  # a column lost
        columns.pop(draw(st.integers(0, len(columns) - 1)))
    case = draw(st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase]))
    pad = draw(st.sampled_from(["", " ", "  ", "_"]))
    header = [f"{pad}{case(name)}{pad}" if draw(st.booleans()) else name for name in columns]

    # a valid table underneath
    start = draw(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)))
    step = draw(
        st.sampled_from([dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(0)])
    )
    form = draw(st.sampled_from(STAMP_FORMATS))
    order = list(range(n_rows))
    arrangement = draw(st.sampled_from(["as is", "reversed", "shuffled", "duplicated"]))
    if arrangement == "reversed":
        order.reverse()
    elif arrangement == "shuffled":
        order = draw(st.permutations(order))
    elif arrangement == "duplicated":
        order = sorted(draw(st.lists(st.sampled_from(order), min_size=n_rows, max_size=n_rows)))
    closes = draw(
        st.lists(
            st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    price_style = draw(st.integers(0, 4))
    damage = draw(st.sampled_from([0, 0, 20, 5, 2]))  # a cell in how many is garbage (0: none)

    def cell(name: str, position: int) -> str:
        key = name.strip(" _").lower().lstrip("\ufeff")
        i = order[position]
        close = closes[i]
        if damage and one_in(draw, damage):
            pool = HOSTILE_STAMPS if key in ("timestamp", "datetime", "date", "time", "dt", "") else HOSTILE_PRICES
            return draw(st.one_of(st.sampled_from(pool), cell_text))
        if key in ("timestamp", "datetime", "date", "time", "dt", ""):
            return format_stamp(start + i * step, form, i)
        value = {"open": close * 0.99, "high": close * 1.02, "low": close * 0.97, "close": close}.get(key, 1000.0 + i)
        return format_price(value, price_style)

    rows = [[cell(name, position) for name in columns] for position in range(n_rows)]
    if one_in(draw, 6):  # high below low in some rows
        high, low = (columns.index(n) if n in columns else None for n in ("high", "low"))
        if high is not None and low is not None:
            for row in draw(st.lists(st.sampled_from(rows), max_size=3)):
                row[high], row[low] = row[low], row[high]
    ragged = False
    if one_in(draw, 8):  # ragged rows: a cell missing or one too many
        for row in draw(st.lists(st.sampled_from(rows), min_size=1, max_size=2)):
            if row and draw(st.booleans()):
                row.pop()
            else:
                row.append(draw(st.sampled_from(["", "7", "extra"])))
            ragged = True
    if one_in(draw, 9):  # a very long line
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, len(row) - 1))] = draw(st.sampled_from(["9", "x", "1.5"])) * 3_000
    quoted = one_in(draw, 6)

    delimiter = draw(st.sampled_from(DELIMITERS))
    mixed = one_in(draw, 9)

    def line(cells: list[str]) -> str:
        sep = draw(st.sampled_from(DELIMITERS)) if mixed else delimiter
        return sep.join(f'"{c}"' if quoted and '"' not in c else c for c in cells)

    lines = [line(header)] + [line(row) for row in rows]
    blank = 0
    for _ in range(draw(st.integers(0, 2)) if one_in(draw, 4) else 0):
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from(["", "   ", "\t"])))
        blank += 1
    newline = draw(st.sampled_from(NEWLINES))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(ENCODINGS))
    raw = text.encode(encoding, errors="replace")
    spliced = one_in(draw, 10)
    if spliced:  # raw bytes spliced in (invalid UTF-8, NUL, stray BOMs, line breaks)
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    # The exact row count holds when every line is one row of the header's width.
    exact = (
        not (ragged or mixed or quoted or blank or spliced)
        and encoding in ("utf-8", "utf-8-sig", "utf-16", "cp1252")
        and not any(STRUCTURAL & set(c) for c in header + [c for row in rows for c in row])
        and not (header[0].strip() == "Price" and rows[0][0].strip() == "Ticker")
    )
    if exact:
        data_rows = n_rows
    elif spliced or encoding == "utf-32":  # read as UTF-16, a UTF-32 character can hold a line break
        data_rows = len(raw)
    else:  # str.splitlines breaks at more characters than pandas does: an upper bound
        data_rows = max(0, len(text.splitlines()) - 1)
    return raw, data_rows, exact


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(400)
@given(hostile_csv(), st.sampled_from(DATE_ORDERS))
def test_hostile_csv_loads_canonical_bars_or_is_refused(case: tuple[bytes, int, bool], date_order: str) -> None:
    raw, data_rows, exact = case
    note(f"first 300 bytes: {raw[:300]!r}")
    try:
        loaded = load_bar_file(raw, name="fuzz.csv", date_order=date_order)
    except DataError as error:
        refused(error, FileFormatError)
        return
    event("loaded")
    check_loaded(loaded, data_rows, exact=exact)


# --- 1b. file loader: hostile Parquet ----------------------------------------------------

PARQUET_STAMP_TYPES = (
    "timestamp[s]", "timestamp[ms]", "timestamp[us]", "timestamp[ns]", "timestamp[ns, UTC]",
    "timestamp[s, Asia/Kolkata]", "timestamp[ms, +05:30]", "date32", "string", "large_string", "dictionary",
    "binary", "int64", "float64", "null", "time64", "duration",
)  # fmt: skip
PARQUET_PRICE_TYPES = (
    "float64", "float32", "float16", "int64", "uint64", "int8", "decimal", "string", "binary", "bool", "null",
    "dictionary", "list",
)  # fmt: skip
#: Seconds that every timestamp unit can hold once Parquet stores them in milliseconds.
MAX_EPOCH_S = 2**50


def stamp_array(kind: str, seconds: list[int | None], draw: st.DrawFn) -> pa.Array:
    if kind.startswith("timestamp"):
        unit = kind[len("timestamp[") :].split(",")[0].rstrip("]")
        zone = kind.split(", ")[1].rstrip("]") if ", " in kind else None
        scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
        limit = 2**63 // scale - 1
        values = [None if s is None else max(-limit, min(limit, s)) * scale for s in seconds]
        return pa.array(values, pa.int64()).cast(pa.timestamp(unit, zone))
    texts = [None if s is None else pd.Timestamp(s, unit="s").isoformat() if abs(s) < 9e9 else str(s) for s in seconds]
    if kind == "date32":
        days = [None if s is None else max(-(2**31), min(2**31 - 1, s // 86_400)) for s in seconds]
        return pa.array(days, pa.int32()).cast(pa.date32())
    if kind in ("string", "large_string"):
        return pa.array(texts, pa.string() if kind == "string" else pa.large_string())
    if kind == "dictionary":
        return pa.array(texts, pa.string()).dictionary_encode()
    if kind == "binary":
        junk = draw(st.binary(max_size=4))
        return pa.array([None if t is None else t.encode() + junk for t in texts], pa.binary())
    if kind == "int64":
        return pa.array(seconds, pa.int64())
    if kind == "float64":
        return pa.array([None if s is None else float(s) for s in seconds], pa.float64())
    if kind == "time64":
        return pa.array([None if s is None else (s % 86_400) * 10**6 for s in seconds], pa.int64()).cast(
            pa.time64("us")
        )
    if kind == "duration":
        return pa.array(seconds, pa.int64()).cast(pa.duration("s"))
    return pa.nulls(len(seconds))


def price_array(kind: str, values: list[float], draw: st.DrawFn) -> pa.Array:
    finite = [v if np.isfinite(v) else None for v in values]
    if kind in ("float64", "float32", "float16"):
        array = pa.array(values, pa.float64())
        if kind == "float64":
            return array
        with np.errstate(over="ignore"):
            narrowed = np.asarray(values, dtype=np.float64).astype(kind)
        return pa.array(narrowed)
    if kind in ("int64", "uint64", "int8"):
        info = np.iinfo(kind)
        ints = [None if v is None else int(min(max(v, info.min), info.max)) for v in finite]
        return pa.array(ints, getattr(pa, kind)())
    if kind == "decimal":
        return pa.array([None if v is None or abs(v) >= 1e20 else round(v, 4) for v in finite]).cast(
            pa.decimal128(30, 4)
        )
    if kind == "string":
        return pa.array([repr(v) for v in values])
    if kind == "binary":
        junk = draw(st.binary(max_size=3))
        return pa.array([repr(v).encode() + junk for v in values], pa.binary())
    if kind == "bool":
        return pa.array([bool(v) if v is not None else None for v in finite])
    if kind == "dictionary":
        return pa.array([repr(v) for v in values]).dictionary_encode()
    if kind == "list":
        return pa.array([[v] for v in values], pa.list_(pa.float64()))
    return pa.nulls(len(values))


@st.composite
def hostile_parquet(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """``(file bytes, data rows)``: a Parquet file with odd types, names and values; the row
    count is ``None`` once the file is damaged (its metadata may then say anything)."""
    n_rows = draw(st.integers(1, 12))
    start = draw(st.integers(-(2**40), 2**40) if one_in(draw, 6) else st.integers(6 * 10**8, 4 * 10**9))
    step = draw(st.sampled_from([60, 3600, 86_400, 0, -60]))
    seconds: list[int | None] = [start + i * step for i in range(n_rows)]
    if one_in(draw, 4):
        seconds = draw(st.permutations(seconds))
    for i in draw(st.lists(st.integers(0, n_rows - 1), max_size=2)):
        seconds[i] = draw(st.one_of(st.none(), st.integers(-MAX_EPOCH_S, MAX_EPOCH_S)))
    closes = np.asarray(
        draw(st.lists(st.floats(1e-3, 1e5, allow_nan=False), min_size=n_rows, max_size=n_rows)), dtype=float
    )
    base = {"open": closes * 0.99, "high": closes * 1.02, "low": closes * 0.97, "close": closes}
    hostile_value = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e308, -1e308, 5e-324, 1e40])

    names = [draw(st.sampled_from(TIMESTAMP_HEADERS)), "open", "high", "low", "close"]
    names += draw(st.lists(st.sampled_from(["volume", "Adj Close", "x"]), max_size=2))
    case = draw(st.sampled_from([str, str.upper, str.title]))
    names = [case(n) for n in names]
    arrays_: list[pa.Array] = []
    for name in names:
        key = name.strip().lower()
        if key in ("timestamp", "datetime", "date", "time", "dt", ""):
            arrays_.append(stamp_array(draw(st.sampled_from(PARQUET_STAMP_TYPES)), seconds, draw))
            continue
        values = list(base.get(key, closes * 1000))
        for i in draw(st.lists(st.integers(0, n_rows - 1), max_size=2)):
            values[i] = draw(hostile_value)
        kind = draw(st.sampled_from(PARQUET_PRICE_TYPES)) if draw(st.booleans()) else "float64"
        arrays_.append(price_array(kind, [float(v) for v in values], draw))
    if one_in(draw, 6):  # a duplicated column
        which = draw(st.integers(0, len(names) - 1))
        names.append(names[which])
        arrays_.append(arrays_[which])
    table = pa.Table.from_arrays(arrays_, names=names)

    buffer = io.BytesIO()
    layout = draw(st.sampled_from(["arrow", "pandas: datetime index", "pandas: multiindex columns"]))
    try:
        frame = table.to_pandas() if layout != "arrow" and len(set(names)) == len(names) else None
    except (pa.ArrowException, ValueError):  # e.g. a date32 in year 0: the arrow table as it is
        frame = None
    if frame is not None and layout == "pandas: datetime index":
        stamp = names[0]
        if isinstance(frame[stamp].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(frame[stamp]):
            frame = frame.set_index(stamp)
    elif frame is not None:
        frame.columns = pd.MultiIndex.from_product([frame.columns, ["AAPL"]], names=["Price", "Ticker"])
    try:
        if frame is None:
            raise TypeError("write the arrow table")
        frame.to_parquet(buffer)
    except (pa.ArrowException, ValueError, TypeError):  # a frame pandas cannot write: the table as it is
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
    raw = buffer.getvalue()
    if one_in(draw, 5):  # truncated or with bytes overwritten
        cut = draw(st.integers(4, len(raw)))
        raw = raw[:cut]
        if draw(st.booleans()) and len(raw) > 8:
            at = draw(st.integers(4, len(raw) - 1))
            raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at + 1 :]
        return raw, None
    return raw, n_rows


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(250)
@given(hostile_parquet())
def test_hostile_parquet_loads_canonical_bars_or_is_refused(case: tuple[bytes, int | None]) -> None:
    raw, n_rows = case
    try:
        loaded = load_bar_file(raw, name="fuzz.parquet")
    except DataError as error:
        refused(error, FileFormatError)
        return
    event("loaded" if n_rows is not None else "loaded although damaged")
    check_loaded(loaded, n_rows)


# --- 2. timestamp parser ---------------------------------------------------------------

stamp_text = st.one_of(
    st.text(max_size=24),
    st.sampled_from(HOSTILE_STAMPS),
    st.builds(
        lambda a, b, y, h, offset: f"{a}/{b}/{y} {h:02d}:00{offset}",
        st.integers(0, 40),
        st.integers(0, 40),
        st.integers(0, 10_000),
        st.integers(0, 30),
        st.sampled_from(["", "Z", "+05:30", "-04:00", "-05:00", "+99:99", "+0000"]),
    ),
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda d: d.strftime(STAMP_FORMATS[0])),
)
any_object = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    stamp_text,
    st.binary(max_size=6),
    st.datetimes(),
    st.dates(),
    st.booleans(),
    st.datetimes(timezones=st.timezones()),
)


@st.composite
def timestamp_columns(draw: st.DrawFn) -> pd.Series:
    """A column of anything a file or a frame could hold where timestamps belong."""
    n = draw(st.integers(0, 8))
    kind = draw(st.sampled_from(["text", "object", "datetime", "aware", "int", "float", "bool", "category", "td"]))
    if kind == "text":
        return pd.Series(draw(st.lists(st.one_of(st.none(), stamp_text), min_size=n, max_size=n)), dtype="string")
    if kind == "object":
        return pd.Series(draw(st.lists(any_object, min_size=n, max_size=n)), dtype=object)
    if kind in ("datetime", "aware"):
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        values = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
        index = pd.DatetimeIndex(np.array(values, dtype=f"datetime64[{unit}]"))
        if kind == "aware":  # instants in UTC shown in a zone (any year: nothing converted yet)
            index = index.tz_localize("UTC").tz_convert(draw(st.sampled_from(ZONES[1:])))
        return pd.Series(index)
    if kind == "int":
        return pd.Series(draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)), dtype="int64")
    if kind == "float":
        return pd.Series(draw(st.lists(st.floats(), min_size=n, max_size=n)), dtype="float64")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "category":
        return pd.Series(draw(st.lists(stamp_text, min_size=n, max_size=n)), dtype="category")
    return pd.Series(pd.to_timedelta(draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)), unit="s"))


def check_timestamp_refusal(error: ValueError, date_order: str) -> None:
    if date_order in DATE_ORDERS:
        assert isinstance(error, DataError), repr(error)
        assert "'when'" in str(error)  # the column is named
        refused(error)
    else:
        assert type(error) is ValueError, repr(error)
        assert str(error) == f"date_order must be one of {DATE_ORDERS}, got {date_order!r}"


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(400)
@given(timestamp_columns(), st.one_of(st.sampled_from(DATE_ORDERS), st.text(max_size=10)))
def test_any_column_parses_to_naive_wall_clock_or_is_refused(values: pd.Series, date_order: str) -> None:
    try:
        parsed = parse_timestamps(values, date_order, column="when")
    except ValueError as error:  # FileFormatError (a ValueError): undecidable order, mixed zones, numbers
        check_timestamp_refusal(error, date_order)
        return
    assert date_order in DATE_ORDERS
    event(f"parsed as {parsed.date_order}")
    wall = parsed.wall
    assert isinstance(wall, pd.DatetimeIndex)
    assert len(wall) == len(values)
    assert wall.tz is None
    assert wall.unit == "ns"
    readable = wall.dropna()
    assert ((readable >= PLAUSIBLE[0]) & (readable < PLAUSIBLE[1])).all()
    assert parsed.timezone is None or (isinstance(parsed.timezone, str) and parsed.timezone)
    assert parsed.date_order in ("iso", "dayfirst", "monthfirst", "datetime")
    if date_order != "auto" and parsed.date_order in ("dayfirst", "monthfirst"):
        assert parsed.date_order == date_order


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(300)
@given(
    st.lists(
        st.one_of(
            st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2200, 12, 31)).map(
                lambda d: d.replace(microsecond=0)
            ),
            stamp_text,
        ),
        min_size=1,
        max_size=10,
    ),
    st.sampled_from(DATE_ORDERS),
)
def test_iso_values_among_garbage_keep_their_exact_time(mixed: list[dt.datetime | str], date_order: str) -> None:
    text = [v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else v for v in mixed]
    try:
        parsed = parse_timestamps(pd.Series(text, dtype="string"), date_order)
    except DataError as error:
        refused(error)
        return
    for value, wall in zip(mixed, parsed.wall, strict=True):
        if isinstance(value, dt.datetime):
            assert wall == pd.Timestamp(value), (value, wall)


# --- 3. Yahoo reply parser -------------------------------------------------------------

YAHOO_COLUMNS = ("Open", "High", "Low", "Close", "Volume", "Adj Close", "Dividends", "open", "CLOSE", "x", "")


#: Indexes a reply may come with; only the first two are what yfinance sends.
INDEX_KINDS = (
    "naive", "aware", "aware", "seconds", "aware seconds", "nat", "range", "text", "mixed zones", "multi", "period",
)  # fmt: skip


@st.composite
def yahoo_replies(draw: st.DrawFn) -> tuple[object, int]:
    """``(what yfinance might return, its row count)``: frames with odd columns, dtypes and indexes."""
    if one_in(draw, 11):
        return draw(st.sampled_from([None, "", [], {}, 0, pd.Series([1.0]), pd.DataFrame()])), 0
    n = 0 if one_in(draw, 10) else draw(st.integers(1, 10))
    names = draw(st.lists(st.sampled_from(YAHOO_COLUMNS), max_size=4))
    if not one_in(draw, 4):
        names = ["Open", "High", "Low", "Close", *names]
    close = np.asarray(draw(st.lists(st.floats(1e-3, 1e5), min_size=n, max_size=n)), dtype=float)
    hostile = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -5.0, 1e308, 5e-324])
    data: dict[int, Any] = {}
    for position, name in enumerate(names):
        base = {"Open": close * 0.99, "High": close * 1.02, "Low": close * 0.97, "Close": close}.get(name, close)
        values = base.copy()
        for i in draw(st.lists(st.integers(0, n - 1), max_size=2)) if n and one_in(draw, 3) else []:
            values[i] = draw(hostile)
        kind = draw(st.sampled_from(["float"] * 6 + ["int", "text", "bool", "object", "datetime"]))
        if kind == "int":
            values = np.nan_to_num(values, posinf=2**62, neginf=-(2**62)).clip(-(2**62), 2**62).astype(np.int64)
        elif kind == "text":
            values = np.array([draw(st.sampled_from([repr(v), "abc", ""])) for v in values], dtype=object)
        elif kind == "bool":
            values = values > 1
        elif kind == "object":
            values = np.array([draw(st.one_of(st.just(v), st.none(), st.text(max_size=3))) for v in values], object)
        elif kind == "datetime":
            values = pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()
        data[position] = values
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    frame.columns = names
    if one_in(draw, 4):
        symbols = draw(st.lists(st.sampled_from(["AAPL", "MSFT", "^NSEI"]), min_size=1, max_size=2, unique=True))
        levels = [names, symbols] if draw(st.booleans()) else [names, symbols, ["z"]]
        if names:  # each column once per symbol, in from_product's order
            frame = frame.iloc[:, np.repeat(np.arange(len(names)), len(symbols))]
            frame.columns = pd.MultiIndex.from_product(levels)

    index_kind = draw(st.sampled_from(INDEX_KINDS))
    minutes = draw(st.lists(st.integers(0, 10**7), min_size=n, max_size=n))
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min")
    if index_kind == "naive":
        index: pd.Index = pd.DatetimeIndex(stamps)
    elif index_kind == "aware":
        zone = draw(st.sampled_from(ZONES[1:]))
        index = pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(zone)
    elif index_kind in ("seconds", "aware seconds"):  # a unit that reaches past the nanosecond range
        values = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
        index = pd.DatetimeIndex(np.array(values, dtype="datetime64[s]"))
        if index_kind == "aware seconds":
            index = index.tz_localize("UTC").tz_convert(draw(st.sampled_from(ZONES[1:])))
    elif index_kind == "nat":
        index = pd.DatetimeIndex([pd.NaT if draw(st.booleans()) else s for s in stamps])
    elif index_kind == "range":
        index = pd.RangeIndex(n)
    elif index_kind == "text":
        index = pd.Index([str(s) for s in stamps], dtype=object)
    elif index_kind == "mixed zones":
        index = pd.Index([s.tz_localize(draw(st.sampled_from(ZONES))) for s in stamps], dtype=object)
    elif index_kind == "multi":
        index = pd.MultiIndex.from_arrays([stamps, ["AAPL"] * n])
    else:
        index = pd.period_range("2024-01-01", periods=n, freq="h")
    frame.index = index
    return frame, n


def assert_names_the_symbol(error: TickerDataError) -> None:
    assert error.ticker == "AAPL"
    assert "'AAPL'" in str(error)


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(300)
@given(yahoo_replies())
def test_any_yahoo_reply_gives_canonical_bars_or_a_ticker_error(case: tuple[object, int]) -> None:
    raw, n_rows = case
    try:
        loaded, timezone = parse_yahoo_frame(raw, "AAPL")
    except TickerDataError as error:
        refused(error)
        assert_names_the_symbol(error)
        return
    event("parsed")
    check_loaded(loaded, n_rows)
    assert loaded.layout == "yahoo"
    assert loaded.source == "yahoo:AAPL"
    assert timezone is None or (isinstance(timezone, str) and timezone)


# --- 4. ticker normaliser --------------------------------------------------------------

ticker_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="AZaz09.=^-/\\ _\x00:~%$\n", max_size=24),
    st.sampled_from(["..", ".", "../x", "^..", "A/../B", "ß", "ﬁ", "ǆ", "ı", "Ⅻ", "１２", "İ", "ß" * 11, "a" * 20]),
)


@pytest.mark.timeout(HANG_LIMIT_S)
@fuzz_settings(500)
@given(ticker_text, st.sampled_from(INTERVALS))
def test_any_ticker_text_is_refused_or_a_safe_file_name_part(text: str, interval: str) -> None:
    try:
        symbol = normalise_ticker(text)
    except TickerDataError as error:
        refused(error)
        return
    event("accepted")
    assert isinstance(symbol, str)
    assert 1 <= len(symbol) <= 20
    assert symbol.isascii()
    assert symbol.isprintable()
    assert symbol == symbol.strip() == symbol.upper()
    assert normalise_ticker(symbol) == symbol  # idempotent
    assert not symbol.startswith(".")  # not hidden, not "." or ".."
    assert not any(c in symbol for c in "/\\\x00:")
    # exactly as data/yahoo.py names its cache file
    name = f"{urllib.parse.quote(symbol, safe='')}_{interval}.parquet"
    path = cache_path("yahoo", name)
    folder = (cache_dir() / "yahoo").resolve()
    assert path.resolve().parent == folder
    assert path.name == name


# --- 5. encoders -----------------------------------------------------------------------

ALLOWED_PIXELS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=np.float32)
any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-300, 1e308, -1e308, 1.7976931348623157e308, 1.0, -1.0]),
)
finite_float = st.floats(allow_nan=False, allow_infinity=False)
ODD_DTYPES = ("float64", "float32", "float16", "int64", "int8", "uint8", "uint64", "bool", "complex128")
odd_sizes = st.one_of(
    st.integers(-3, 160),
    st.integers(24, 160),
    st.sampled_from([8.0, "64", None, True, False, np.int64(16), np.uint8(9), np.float64(32), 2.5, [16]]),
)


def numeric_arrays(shape: st.SearchStrategy[tuple[int, ...]], elements: st.SearchStrategy[float]) -> st.SearchStrategy:
    """Arrays of an odd dtype; float elements are cast (overflow to inf, NaN to 0 in integers)."""

    def cast(values: np.ndarray, dtype: str) -> np.ndarray:
        with np.errstate(all="ignore"):
            if np.dtype(dtype).kind in "iub":
                info = np.iinfo(dtype) if np.dtype(dtype).kind != "b" else None
                clean = np.nan_to_num(values)
                if info is not None:
                    clean = np.clip(clean, info.min, info.max)
                return clean.astype(dtype)
            return values.astype(dtype)

    floats = shape.flatmap(lambda s: arrays(np.float64, s, elements=elements))
    return st.tuples(floats, st.sampled_from(ODD_DTYPES)).map(lambda pair: cast(*pair))


non_arrays = st.sampled_from(
    [None, "ohlc", 3.0, [], [[]], [[1, 2, 3, 4], [1, 2]], [["a", "b", "c", "d"]], {"open": 1}, np.array(["1"] * 4)]
)


@st.composite
def ohlc_inputs(draw: st.DrawFn) -> Any:
    """Candlestick input: windows with any magnitudes (high >= low so many are accepted), or junk."""
    kind = draw(st.sampled_from(["windows"] * 6 + ["any shape", "junk"]))
    if kind == "junk":
        return draw(non_arrays)
    if kind == "any shape":
        return draw(numeric_arrays(array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5), any_float))
    n_windows, n_bars = draw(st.integers(1, 3)), draw(st.integers(1, 24))
    elements = any_float if one_in(draw, 6) else finite_float
    values = draw(arrays(np.float64, (n_windows, n_bars, 4), elements=elements))
    if not one_in(draw, 6):  # make each bar a candle: high the largest, low the smallest
        ordered = np.sort(values, axis=-1)
        values = ordered[..., [draw(st.sampled_from([1, 2])), 3, 0, draw(st.sampled_from([1, 2]))]]
    if one_in(draw, 4):
        values = values[0]  # one window, 2-D
    return values


def as_windows(ohlc: Any) -> np.ndarray:
    windows = np.asarray(ohlc, dtype=np.float64)
    return windows[np.newaxis] if windows.ndim == 2 else windows


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow or invalid-value warnings either
@fuzz_settings(400)
@given(ohlc_inputs(), odd_sizes)
def test_candlestick_encoder_gives_valid_images_or_refuses(ohlc: Any, image_size: Any) -> None:
    try:
        images = CandlestickEncoder(image_size=image_size).transform(ohlc)
    except (TypeError, ValueError) as error:  # DataError is a ValueError
        refused(error)
        return
    event("encoded")
    windows = as_windows(ohlc)
    size = int(image_size)
    n_windows, n_bars = windows.shape[:2]
    assert images.shape == (n_windows, 1, size, size)
    assert images.dtype == np.float32
    assert np.isin(images, ALLOWED_PIXELS).all()
    assert not np.signbit(images[images == 0]).any()
    rising = windows[:, :, 3] >= windows[:, :, 0]
    for window in range(n_windows):
        for bar, (x0, x1) in enumerate(bar_columns(n_bars, size)):
            sign = 1.0 if rising[window, bar] else -1.0
            slot = images[window, 0, :, x0:x1]
            assert (slot == sign).any(), f"window {window} bar {bar}: no body pixel"
            assert not (slot == -sign).any()
            assert not (slot == -sign / 2).any()


@st.composite
def closes_inputs(draw: st.DrawFn) -> Any:
    """GADF input: windows of closes with any magnitudes (constant, tiny, huge, mixed signs), or junk."""
    kind = draw(st.sampled_from(["windows", "windows", "windows", "constant", "any shape", "junk"]))
    if kind == "junk":
        return draw(non_arrays)
    if kind == "any shape":
        return draw(numeric_arrays(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5), any_float))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 30)))
    if kind == "constant":
        return np.full(shape, draw(any_float))
    elements = any_float if one_in(draw, 4) else finite_float
    return draw(numeric_arrays(st.just(shape), elements))


odd_tolerances = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1e-6, 1, True, "1e-6", None, -0.0, np.float32(1e-3)]),
)


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow or invalid-value warnings either
@fuzz_settings(300)
@given(closes_inputs(), st.one_of(st.none(), odd_sizes), odd_tolerances)
def test_gadf_encoder_gives_valid_fields_or_refuses(closes: Any, image_size: Any, tolerance: Any) -> None:
    try:
        images = GADFEncoder(image_size=image_size, flat_tolerance=tolerance).transform(closes)
    except (TypeError, ValueError) as error:
        refused(error)
        return
    event("encoded")
    windows = np.asarray(closes, dtype=np.float64)
    size = windows.shape[1] if image_size is None else int(image_size)
    assert images.shape == (windows.shape[0], 1, size, size)
    assert images.dtype == np.float32
    assert np.isfinite(images).all()
    assert (np.abs(images) <= 1).all()
    fields = images[:, 0]
    np.testing.assert_array_equal(fields, -np.transpose(fields, (0, 2, 1)))
    np.testing.assert_array_equal(np.diagonal(fields, axis1=1, axis2=2), 0.0)
    flat = flat_windows(windows, tolerance)
    assert not fields[flat].any()


# --- 6. time projection ----------------------------------------------------------------

#: Map values: ordinary, hostile (NaN, inf), or finite but huge (their float64 sum overflows).
ordinary_values = st.floats(-1e6, 1e6)
hostile_values = st.sampled_from([0.0, -0.0, np.nan, np.inf, -np.inf, 1e308, -1e308, 1e300, 5e-324])
huge_values = st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 1e300, 0.0, 1.0])


@st.composite
def maps_inputs(draw: st.DrawFn, min_side: int) -> Any:
    """Heat maps ``(N, 1, S, S)`` or ``(N, S, S)`` of any values, sides around the minimum, or junk."""
    kind = draw(st.sampled_from(["maps"] * 4 + ["zero", "odd dtype", "any shape", "junk"]))
    if kind == "junk":
        return draw(non_arrays)
    if kind == "any shape":
        return draw(numeric_arrays(array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=6), hostile_values))
    n = draw(st.integers(1, 3))
    side = draw(st.integers(min_side - 2, min_side - 1) if one_in(draw, 8) else st.integers(min_side, 40))
    shape = (n, 1, side, side) if draw(st.booleans()) else (n, side, side)
    if kind == "zero":
        return np.zeros(shape)
    if kind == "odd dtype":
        return draw(numeric_arrays(st.just(shape), st.one_of(ordinary_values, hostile_values)))
    elements = draw(st.sampled_from([ordinary_values, ordinary_values, hostile_values, huge_values]))
    maps = draw(arrays(np.float64, shape, elements=elements))
    return np.abs(maps) if draw(st.booleans()) else maps


@st.composite
def candles(draw: st.DrawFn, n_windows: int, n_bars: int) -> np.ndarray:
    """``(n_windows, n_bars, 4)`` valid candles (high largest, low smallest) of any finite magnitude."""
    values = np.sort(draw(arrays(np.float64, (n_windows, n_bars, 4), elements=finite_float)), axis=-1)
    return values[..., [1, 3, 0, 2]] if draw(st.booleans()) else values[..., [2, 3, 0, 1]]


def finite_maps(maps: Any) -> np.ndarray:
    array = np.asarray(maps, dtype=np.float64)
    return array[:, 0] if array.ndim == 4 else array


def close_to(totals: np.ndarray, images: np.ndarray) -> bool:
    """``totals`` (N,) equal each map's sum, up to rounding relative to its absolute mass."""
    with np.errstate(over="ignore", invalid="ignore"):  # the test's own sums; the result is checked finite
        expected = images.sum(axis=(1, 2))
        scale = np.abs(images).sum(axis=(1, 2))
        return bool(np.all(np.abs(totals - expected) <= 1e-9 * scale + 1e-300))


junk_counts = st.sampled_from([4.0, "4", None, True, np.int64(3), np.uint8(2), 2**70])
odd_counts = st.one_of(st.integers(1, 12), st.integers(-2, 45), junk_counts)


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow or invalid-value warnings either
@fuzz_settings(400)
@given(
    maps_inputs(8),
    odd_counts,
    st.sampled_from(["sum", "mean", "sum", "mean", "max", "", None, 1]),
    st.sampled_from([None, "matching", "any"]),
    st.data(),
)
def test_candlestick_projection_adds_up_or_refuses(
    maps: Any, n_bars: Any, reduce: Any, ohlc_kind: str | None, data: st.DataObject
) -> None:
    ohlc = None
    if ohlc_kind == "any":
        ohlc = data.draw(ohlc_inputs(), "ohlc")
    elif ohlc_kind == "matching":  # one window per map, n_bars candles each
        n = maps.shape[0] if isinstance(maps, np.ndarray) and maps.ndim else 1
        bars = n_bars if type(n_bars) is int and 0 < n_bars < 50 else 4
        ohlc = data.draw(candles(n, bars), "ohlc")
    try:
        result = candlestick_time_importance(maps, n_bars, ohlc=ohlc, reduce=reduce)
    except (TypeError, ValueError) as error:
        refused(error)
        return
    event("projected" + (" with ohlc" if ohlc is not None else ""))
    images = finite_maps(maps)
    n_maps, size = images.shape[:2]
    n_bars = int(n_bars)
    slots = bar_columns(n_bars, size)
    np.testing.assert_array_equal(result.slots, slots)
    assert result.per_bar.shape == (n_maps, n_bars)
    assert result.per_bar.dtype == np.float64
    assert np.isfinite(result.per_bar).all()
    area = np.diff(slots, axis=1)[:, 0] * size
    per_slot = result.per_bar * area if reduce == "mean" else result.per_bar
    assert close_to(per_slot.sum(axis=1), images)
    if ohlc is not None:
        np.testing.assert_array_equal(result.per_bar, result.body + result.wick + result.background)


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("error::RuntimeWarning")
@fuzz_settings(400)
@given(maps_inputs(2), odd_counts)
def test_gadf_projection_adds_up_or_refuses(maps: Any, n_timestamps: Any) -> None:
    try:
        result = gadf_time_importance(maps, n_timestamps)
    except (TypeError, ValueError) as error:
        refused(error)
        return
    event("projected")
    images = finite_maps(maps)
    shape = (images.shape[0], int(n_timestamps))
    assert result.per_time.shape == result.diagonal.shape == result.off_diagonal.shape == shape
    assert np.isfinite(result.per_time).all()
    np.testing.assert_array_equal(result.per_time, result.diagonal + result.off_diagonal)
    assert close_to(result.per_time.sum(axis=1), images)
    assert ((result.diagonal_share >= 0) & (result.diagonal_share <= 1)).all()
    if (images >= 0).all():
        assert (result.per_time >= 0).all()


profile_values = st.one_of(st.floats(-1e3, 1e3), hostile_values, huge_values)
profiles = st.one_of(
    arrays(np.float64, array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=12), elements=profile_values),
    numeric_arrays(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), profile_values),
    non_arrays,
)


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("error::RuntimeWarning")
@fuzz_settings(400)
@given(
    profiles,
    st.sampled_from(["signed", "absolute", "positive", "negative", "abs", None, 0]),
    st.one_of(st.integers(0, 4), st.integers(-2, 14), st.sampled_from([1.0, "2", None])),
    st.one_of(st.integers(1, 12), st.integers(-2, 14), st.sampled_from([3.0, True])),
    st.one_of(st.integers(0, 3), st.sampled_from([-1, 0.5, None])),
)
def test_profile_scores_stay_in_range_or_refuse(
    per_time: Any, mode: Any, start: Any, stop: Any, tolerance: Any
) -> None:
    outcomes = []
    try:
        scaled = normalise(per_time, mode)
    except (TypeError, ValueError) as error:
        refused(error)
    else:
        outcomes.append("normalised")
        assert scaled.shape == np.shape(per_time)
        assert scaled.dtype == np.float64
        assert np.isfinite(scaled).all()
        low = -1.0 if mode == "signed" else 0.0
        assert ((scaled >= low) & (scaled <= 1.0)).all()
        rows = np.atleast_2d(np.abs(scaled))
        assert np.isin(rows.max(axis=1), [0.0, 1.0]).all()
    try:
        share = interval_share(per_time, start, stop)
    except (TypeError, ValueError) as error:
        refused(error)
    else:
        outcomes.append("shared")
        shares = np.atleast_1d(share)
        assert isinstance(share, float) == (np.ndim(per_time) == 1)
        assert np.isfinite(shares).all()
        assert ((shares >= 0) & (shares <= 1)).all()
    try:
        hit = pointing_game(per_time, start, stop, tolerance)
    except (TypeError, ValueError) as error:
        refused(error)
    else:
        outcomes.append("pointed")
        assert isinstance(hit, bool) if np.ndim(per_time) == 1 else hit.dtype == bool
    event(" + ".join(outcomes) or "all refused")


# --- 7. checkpoint loader ----------------------------------------------------------------

SHIPPED_TICKER = REPO_ROOT / "models" / "shipped" / "ticker"


@functools.cache
def real_weights() -> bytes:
    """The shipped regressor's model.pt (3 MB), read once and never modified. A function, not a
    fixture: hypothesis would print a fixture's 3 MB with every falsifying example."""
    return (SHIPPED_TICKER / WEIGHTS_NAME).read_bytes()


@pytest.fixture
def checkpoint_copy(tmp_path: Path) -> Path:
    """A copy of the shipped regressor's card in a fresh folder; each example writes its own model.pt."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    shutil.copyfile(SHIPPED_TICKER / CARD_NAME, folder / CARD_NAME)
    return folder


@st.composite
def damaged_weights(draw: st.DrawFn, real: bytes) -> bytes:
    """Arbitrary bytes, a truncated prefix of a real checkpoint, or one with bytes overwritten."""
    kind = draw(st.sampled_from(["bytes", "prefix", "prefix", "overwritten", "overwritten"]))
    if kind == "bytes":
        prefix = draw(st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95", real[:64]]))
        return prefix + draw(st.binary(max_size=512))
    if kind == "prefix":
        cut = draw(st.one_of(st.integers(0, 4096), st.integers(0, len(real) - 1)))
        return real[:cut]
    payload = bytearray(real)
    # the pickle (data.pkl) sits in the first few kilobytes of the zip; damage it most often
    where = st.one_of(st.integers(0, 4096), st.integers(0, len(real) - 1))
    for at in set(draw(st.lists(where, min_size=1, max_size=4))):
        payload[at] ^= draw(st.integers(1, 255))  # always a different byte
    return bytes(payload)


@pytest.mark.timeout(HANG_LIMIT_S)
@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about odd pickle protocols before refusing
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_damaged_weights_are_a_checkpoint_error(checkpoint_copy: Path, data: st.DataObject) -> None:
    payload = data.draw(damaged_weights(real_weights()), "payload")
    assert payload != real_weights()
    (checkpoint_copy / WEIGHTS_NAME).write_bytes(payload)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(checkpoint_copy)
    message = str(caught.value)
    assert str(checkpoint_copy) in message
    refused(caught.value)
