"""Bars from CSV or Parquet files, whatever their layout.

Layouts recognised without being told:

* ``kaggle-nifty`` — the NIFTY 100 minute file from Kaggle:
  ``date,open,high,low,close,volume``, a row a minute, 09:15-15:29, naive
  times read as IST;
* ``yfinance-csv`` — a yfinance export: ``Date``/``Datetime``, ``Open``,
  ``High``, ``Low``, ``Close``, ``Adj Close``, ``Volume``, including the
  three-line header yfinance 1.x writes for its MultiIndex columns
  (``Price,…`` / ``Ticker,…`` / ``Datetime,,,``);
* ``generic-csv`` — a timestamp column plus open/high/low/close in any case
  and order, volume optional, the timestamp column possibly unnamed;
* ``parquet`` — the same columns (or a datetime index) in a Parquet file.

Nothing in a file is executed: CSV is parsed as text, Parquet by pyarrow.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from data.bars import LoadedBars, clean_bars, infer_interval
from data.errors import DataError, FileFormatError
from data.numbers import parse_prices
from data.settings import NSE_CLOSE, NSE_OPEN, NSE_TIMEZONE, OHLC
from data.timestamps import parse_timestamps

#: Largest file the loader reads (the dashboard's upload limit is the same).
MAX_FILE_MB = 200
_PARQUET_MAGIC = b"PAR1"
_TIMESTAMP_NAMES = ("timestamp", "datetime", "date", "time", "dt")
_DELIMITERS = ",;\t|"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def load_bar_file(source: str | Path | bytes, *, name: str | None = None, date_order: str = "auto") -> LoadedBars:
    """Load OHLC(V) bars from a CSV or Parquet file.

    Args:
        source: a path, or the file's bytes (an upload).
        name: how to name the file in messages and in ``LoadedBars.source``
            (default: the path; ``"upload"`` for bytes).
        date_order: ``"auto"``, ``"dayfirst"`` or ``"monthfirst"`` (see
            :mod:`data.timestamps`).

    Returns:
        :class:`LoadedBars` with the layout detected and every rejected row counted.

    Raises:
        FileFormatError: the file cannot be read as bars; the message says why
            and what to do.
    """
    raw, label = _read_bytes(source, name)
    if raw.startswith(_PARQUET_MAGIC):
        table = _CsvTable(_read_parquet(raw, label), header_lines=1, layout="parquet")
    else:
        text, encoding_note = _decode(raw, label)
        table = _read_csv(text, label)
        if encoding_note:
            table.notes.insert(0, encoding_note)
    return _frame_to_bars(table, label, date_order)


@dataclasses.dataclass
class _CsvTable:
    """A file read as a table of strings, before its columns are interpreted.

    ``header_lines`` counts the lines before the first row of bars (so rejected rows can be named
    by their line number); ``layout`` is a hint (``""`` when the columns must decide).
    """

    frame: pd.DataFrame
    header_lines: int
    layout: str
    delimiter: str = ","
    notes: list[str] = dataclasses.field(default_factory=list)


def _read_bytes(source: str | Path | bytes, name: str | None) -> tuple[bytes, str]:
    limit = MAX_FILE_MB * 1024 * 1024
    if isinstance(source, bytes | bytearray):
        label = name or "upload"
        raw = bytes(source)
    else:
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise FileFormatError(f"{label}: no such file; check the path")
        if path.stat().st_size > limit:
            raise FileFormatError(
                f"{label}: {path.stat().st_size / 2**20:.0f} MB is over the {MAX_FILE_MB} MB limit; "
                "load a shorter date range"
            )
        raw = path.read_bytes()
    if len(raw) > limit:
        raise FileFormatError(f"{label}: {len(raw) / 2**20:.0f} MB is over the {MAX_FILE_MB} MB limit")
    if not raw.strip():
        raise FileFormatError(f"{label} is empty; give a CSV or Parquet file of bars with a header row")
    return raw, label


def _decode(raw: bytes, label: str) -> tuple[str, str | None]:
    """Decode CSV bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    Returns ``(text, note)``; the note says when the text was not UTF-8.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "read as UTF-16 text"
        except UnicodeDecodeError as error:
            raise FileFormatError(f"{label}: not valid UTF-16 text ({error}); save it as UTF-8 CSV") from error
    if b"\x00" in raw[:4096]:
        raise FileFormatError(f"{label} looks like a binary file, not CSV or Parquet; export the bars as CSV")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "not UTF-8: read as Windows-1252 text"


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_csv(text: str, label: str) -> _CsvTable:
    """Parse CSV text as strings, after any leading ``#`` comment lines."""
    lines = _LINE_BREAK.split(text)  # not str.splitlines: a form feed in a cell is not a new row
    comments = next((i for i, line in enumerate(lines) if not line.lstrip().startswith("#")), len(lines))
    lines = lines[comments:]
    first = next((line.lstrip() for line in lines if line.strip()), "")
    if first.startswith("<"):
        raise FileFormatError(f"{label} is an HTML or XML page, not a CSV of bars; save the table itself as CSV")
    if first.startswith(("{", "[")):
        raise FileFormatError(f"{label} looks like JSON, not a CSV of bars; convert it to CSV with a header row")
    text = "\n".join(lines)
    delimiter = _sniff_delimiter(text)
    yfinance_multi = (
        len(lines) >= 3
        and lines[0].split(delimiter)[0].strip() == "Price"
        and lines[1].split(delimiter)[0].strip() == "Ticker"
    )
    skip = [1, 2] if yfinance_multi else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                skiprows=skip,
                skipinitialspace=True,
                keep_default_na=False,
                index_col=False,  # a row with an extra cell must not turn the first column into the index
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
        raise FileFormatError(
            f"{label}: not a readable CSV table ({error}); check the delimiter and quoting"
        ) from error
    notes = [f"{comments} leading comment line(s) skipped"] if comments else []
    if any(issubclass(warning.category, pd.errors.ParserWarning) for warning in caught):
        notes.append("some rows have more cells than the header; the extra cells were ignored")
    if yfinance_multi:
        frame = frame.rename(columns={frame.columns[0]: "Datetime"})
        return _CsvTable(frame, comments + 3, "yfinance-csv", delimiter, notes)
    return _CsvTable(frame, comments + 1, "", delimiter, notes)


def _read_parquet(raw: bytes, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except (OSError, ValueError) as error:
        raise FileFormatError(f"{label}: not a readable Parquet file ({error})") from error
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = frame.columns.get_level_values(0)
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index()
    return frame


def _normalise(name: object) -> str:
    return re.sub(r"[\s_]+", " ", str(name)).strip().lower()


def _find_columns(frame: pd.DataFrame, label: str) -> tuple[str, dict[str, str]]:
    """Map the frame's columns to (timestamp column, {ohlcv name: column})."""
    by_name: dict[str, str] = {}
    for column in frame.columns:
        by_name.setdefault(_normalise(column), column)
    prices = {field: by_name[field] for field in (*OHLC, "volume") if field in by_name}
    if "volume" not in prices and "vol" in by_name:
        prices["volume"] = by_name["vol"]
    missing = [field for field in OHLC if field not in prices]
    if missing:
        found = ", ".join(repr(str(c)) for c in frame.columns[:12])
        raise FileFormatError(
            f"{label}: missing price column(s) {', '.join(missing)}; found columns {found}. "
            "A bar file needs a timestamp and open, high, low, close (any case, any order)"
        )
    stamp = next((by_name[n] for n in _TIMESTAMP_NAMES if n in by_name), None)
    if stamp is None:
        unnamed = [c for c in frame.columns if _normalise(c) == "" or _normalise(c).startswith("unnamed")]
        stamp = unnamed[0] if unnamed else None
    if stamp is None:
        raise FileFormatError(
            f"{label}: no timestamp column; name one of {', '.join(_TIMESTAMP_NAMES)} "
            "or leave the first column's header empty"
        )
    return stamp, prices


def _detect_layout(frame: pd.DataFrame, stamp: str, hint: str, wall: pd.DatetimeIndex) -> str:
    if hint:
        return hint
    names = [str(c) for c in frame.columns]
    if "Adj Close" in names or stamp in ("Date", "Datetime"):
        return "yfinance-csv"
    valid = wall.dropna()
    if names[:6] == ["date", "open", "high", "low", "close", "volume"] and len(valid):
        times = valid.time
        if min(times) >= NSE_OPEN and max(times) < NSE_CLOSE and infer_interval(valid) == "1m":
            return "kaggle-nifty"
    return "generic-csv"


def _frame_to_bars(table: _CsvTable, label: str, date_order: str) -> LoadedBars:
    frame = table.frame
    if frame.empty:
        raise FileFormatError(f"{label} has a header but no rows of bars")
    stamp, price_columns = _find_columns(frame, label)
    parsed = parse_timestamps(frame[stamp], date_order, column=str(stamp))
    layout = _detect_layout(frame, stamp, table.layout, parsed.wall)
    columns, conventions = {}, set()
    for field, column in price_columns.items():
        columns[field], convention = parse_prices(frame[column], table.delimiter)
        conventions.add(convention)
    prices = pd.DataFrame(columns)
    row_numbers = np.arange(len(frame)) + table.header_lines + 1
    try:
        cleaned = clean_bars(parsed.wall, prices, row_numbers=row_numbers, what=label)
    except DataError as error:
        raise FileFormatError(str(error)) from error
    notes = [*table.notes, *sorted(c for c in conventions if c), *cleaned.notes]
    timezone = parsed.timezone
    if layout == "kaggle-nifty" and timezone is None:
        timezone = NSE_TIMEZONE
        notes.append("Kaggle NIFTY layout: naive times read as IST (Asia/Kolkata)")
    if "Adj Close" in frame.columns:
        notes.append("'Adj Close' ignored; open/high/low/close used as given")
    if parsed.date_order in ("dayfirst", "monthfirst"):
        notes.append(f"dates read {parsed.date_order.replace('first', '-first')}")
    return LoadedBars(
        bars=cleaned.bars,
        source=label,
        layout=layout,
        interval=infer_interval(cleaned.bars.index),
        timezone=timezone,
        rejected=cleaned.rejected,
        rejected_examples=cleaned.rejected_examples,
        notes=tuple(notes),
    )
