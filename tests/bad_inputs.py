"""The catalogue of bad inputs the dashboard and the command lines must survive (issue 6 §1).

No tests in here: ``tests/test_bad_inputs.py`` runs every case through the app (Streamlit's
AppTest) and through the command lines, and checks that ``docs/reliability.md`` (:data:`TABLE_PAGE`)
lists the catalogue as :func:`catalogue_markdown` writes it (``python -m tests.bad_inputs`` prints
it). Each case says what the user gives and what they must see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

#: The page that holds the catalogue's table (relative to the repository root).
TABLE_PAGE = "docs/reliability.md"
#: Hourly bars in the well-formed base file (enough for the ticker task's 50-bar windows).
BASE_BARS = 80
#: Rows in the "millions of rows" case.
MILLIONS = 2_000_000
#: The hourly bars they make (from 09:15, the first hour has 45 minutes).
MILLIONS_HOURS = 33_334


def hourly_frame(n_bars: int = BASE_BARS) -> pd.DataFrame:
    """(n_bars, 6) well-formed hourly bars from 2024-01-02 10:00: timestamp and OHLCV as text."""
    index = pd.date_range("2024-01-02 10:00", periods=n_bars, freq="h")
    close = 100 + 5 * np.sin(np.arange(n_bars) / 6)
    return pd.DataFrame(
        {
            "timestamp": index.strftime("%Y-%m-%d %H:%M:%S"),
            "open": [f"{c - 0.3:.2f}" for c in close],
            "high": [f"{c + 1:.2f}" for c in close],
            "low": [f"{c - 1:.2f}" for c in close],
            "close": [f"{c:.2f}" for c in close],
            "volume": "1000",
        }
    )


def csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep)


def base_csv() -> str:
    return csv_text(hourly_frame())


def _with(column: str, rows: slice, value: str) -> bytes:
    frame = hourly_frame()
    frame.loc[frame.index[rows], column] = value
    return csv_text(frame).encode()


def _thousands() -> bytes:
    frame = hourly_frame()
    for column in ("open", "high", "low", "close"):
        frame[column] = [f"{float(v) * 20:,.2f}" for v in frame[column]]  # "2,006.00"
    return csv_text(frame).encode()


def _decimal_comma() -> bytes:
    frame = hourly_frame()
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column].str.replace(".", ",", regex=False)
    return csv_text(frame, sep=";").encode()


def _duplicated() -> bytes:
    lines = base_csv().splitlines()
    return "\n".join([*lines, *lines[1:4]]).encode()


def _reversed() -> bytes:
    lines = base_csv().splitlines()
    return "\n".join([lines[0], *lines[:0:-1]]).encode()


def _mixed_zones() -> bytes:
    frame = hourly_frame()
    frame["timestamp"] = [f"{t}+05:30" if i % 2 else f"{t}+00:00" for i, t in enumerate(frame["timestamp"])]
    return csv_text(frame).encode()


def _high_below_low() -> bytes:
    frame = hourly_frame()
    frame["high"], frame["low"] = frame["low"].copy(), frame["high"].copy()
    return csv_text(frame).encode()


def _cp1252() -> bytes:
    frame = hourly_frame().rename(columns={"volume": "Volume (Stück)"})
    return ("# Kurse in €, Börse Frankfurt\n" + csv_text(frame)).encode("cp1252")


def millions_csv() -> bytes:
    """(2,000,000 rows) minute bars, ~88 MB of CSV."""
    index = pd.date_range("2015-01-01 09:15", periods=MILLIONS, freq="min")
    close = 100 + np.sin(np.arange(MILLIONS) / 500)
    frame = pd.DataFrame({"timestamp": index, "open": close, "high": close + 0.5, "low": close - 0.5, "close": close})
    return frame.to_csv(index=False, float_format="%.3f").encode()


@dataclasses.dataclass(frozen=True)
class FileCase:
    """A bad file.

    ``refused``: the loader says no, with ``expect`` in its message. Otherwise the file loads with
    ``rows`` bars (at its own interval; ``page_rows`` hourly bars on the Data page when different)
    and ``expect`` among its notes or rejection reasons (``""``: nothing to report); ``page_error`` is
    what the Data page then says when the bars cannot make a window.
    """

    name: str
    case: str
    payload: Callable[[], bytes]
    refused: bool
    expect: str
    rows: int | None = None
    file_name: str = "prices.csv"
    page_rows: int | None = None
    page_error: str | None = None

    @property
    def outcome(self) -> str:
        if self.refused:
            return f"refused: “{self.expect}”"
        said = f": “{self.expect}”" if self.expect else ""
        then = f"; then “{self.page_error}”" if self.page_error else ""
        return f"read ({self.rows:,} bars){said}{then}"


FILE_CASES: tuple[FileCase, ...] = (
    FileCase("empty", "an empty file (0 bytes)", lambda: b"", True, "is empty; give a CSV or Parquet file"),
    FileCase(
        "header-only",
        "a header and no rows",
        lambda: b"timestamp,open,high,low,close\n",
        True,
        "has a header but no rows of bars",
    ),
    FileCase(
        "binary",
        "a binary file (a PNG renamed .csv)",
        lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        True,
        "looks like a binary file, not CSV or Parquet",
    ),
    FileCase(
        "broken-parquet",
        "a damaged Parquet file",
        lambda: b"PAR1" + bytes(200),
        True,
        "not a readable Parquet file",
        file_name="prices.parquet",
    ),
    FileCase(
        "html",
        "a web page saved as .csv",
        lambda: b"<!DOCTYPE html><html><body><table><tr><td>AAPL</td></tr></table></body></html>",
        True,
        "is an HTML or XML page, not a CSV of bars",
    ),
    FileCase("json", "a JSON file", lambda: b'{"close": [1, 2, 3]}', True, "looks like JSON, not a CSV of bars"),
    FileCase(
        "utf16",
        "UTF-16 text (Excel's “Unicode text”)",
        lambda: base_csv().encode("utf-16"),
        False,
        "read as UTF-16 text",
        BASE_BARS,
    ),
    FileCase("cp1252", "Windows-1252 text with a comment line", _cp1252, False, "read as Windows-1252 text", BASE_BARS),
    FileCase(
        "decimal-comma",
        "semicolons and decimal commas (a European spreadsheet)",
        _decimal_comma,
        False,
        "decimal commas read as decimal points",
        BASE_BARS,
    ),
    FileCase("tabs", "tab-separated", lambda: csv_text(hourly_frame(), "\t").encode(), False, "", BASE_BARS),
    FileCase(
        "thousands",
        "quoted thousands separators (“2,006.00”)",
        _thousands,
        False,
        "thousands separators removed",
        BASE_BARS,
    ),
    FileCase(
        "no-close",
        "the close column missing",
        lambda: csv_text(hourly_frame().drop(columns="close")).encode(),
        True,
        "missing price column(s) close",
    ),
    FileCase(
        "renamed",
        "renamed columns (Eröffnung, Hoch, Tief, Schluss)",
        lambda: csv_text(
            hourly_frame().rename(columns={"open": "Eröffnung", "high": "Hoch", "low": "Tief", "close": "Schluss"})
        ).encode(),
        True,
        "missing price column(s) open, high, low, close; found columns 'timestamp', 'Eröffnung'",
    ),
    FileCase(
        "no-timestamp",
        "no timestamp column",
        lambda: csv_text(hourly_frame().rename(columns={"timestamp": "when"})).encode(),
        True,
        "no timestamp column; name one of timestamp, datetime, date, time, dt",
    ),
    FileCase(
        "bad-quoting",
        "an unbalanced quote",
        lambda: (base_csv() + '"2024-01-09 10:00:00,1,2\n').encode(),
        True,
        "not a readable CSV table",
    ),
    FileCase(
        "some-text",
        "text in five price cells (“n/a”)",
        lambda: _with("close", slice(3, 8), "n/a"),
        False,
        "missing or non-numeric price",
        BASE_BARS - 5,
    ),
    FileCase(
        "all-text",
        "text in every close cell",
        lambda: _with("close", slice(None), "closed"),
        True,
        f"{BASE_BARS} of {BASE_BARS} rows rejected (missing or non-numeric price",
    ),
    FileCase(
        "nan-run",
        "a run of 20 empty closes",
        lambda: _with("close", slice(40, 60), ""),
        False,
        "missing or non-numeric price",
        BASE_BARS - 20,
    ),
    FileCase(
        "duplicates",
        "three duplicated timestamps",
        _duplicated,
        False,
        "duplicate timestamp (kept the first)",
        BASE_BARS,
    ),
    FileCase("reversed", "newest row first", _reversed, False, "rows were newest first; put in time order", BASE_BARS),
    FileCase(
        "mixed-zones",
        "mixed time zones (+00:00 and +05:30)",
        _mixed_zones,
        True,
        "mixes time zones (+00:00, +05:30); convert every timestamp to one zone first",
    ),
    FileCase(
        "bad-timestamps",
        "timestamps that are not dates (“yesterday”)",
        lambda: _with("timestamp", slice(None), "yesterday"),
        True,
        "unreadable timestamp",
    ),
    FileCase("high-below-low", "high below low on every row", _high_below_low, True, "high below low"),
    FileCase(
        "zero-prices",
        "zero prices",
        lambda: _with("open", slice(None), "0"),
        True,
        "zero, negative or infinite price",
    ),
    FileCase(
        "negative-prices",
        "negative prices in a few rows",
        lambda: _with("low", slice(0, 3), "-1.5"),
        False,
        "zero, negative or infinite price",
        BASE_BARS - 3,
    ),
    FileCase(
        "single-row",
        "a single row",
        lambda: csv_text(hourly_frame(1)).encode(),
        False,
        "",
        1,
        page_error="the ticker task needs at least 50 hourly bars, got 1",
    ),
    FileCase(
        "millions",
        f"{MILLIONS:,} rows of minute bars (88 MB)",
        millions_csv,
        False,
        "",
        MILLIONS,
        page_rows=MILLIONS_HOURS,
    ),
    FileCase(
        "over-limit",
        "a file over the 200 MB upload limit",
        lambda: b"timestamp,open,high,low,close\n" + b"0" * (201 * 2**20),
        True,
        "MB limit",
    ),
)


@dataclasses.dataclass(frozen=True)
class OtherCase:
    """A bad ticker, day, window, link or checkpoint: ``where`` the user meets it and what they see."""

    name: str
    case: str
    where: str
    outcome: str


TICKER_CASES: tuple[OtherCase, ...] = (
    OtherCase(
        "not-a-symbol",
        "a symbol that is a path (“../../etc/passwd”)",
        "Data page, CLI",
        "refused: “is a file path; … upload it instead” (CLI: “not a valid Yahoo symbol”); never read",
    ),
    OtherCase(
        "unknown",
        "an unknown ticker",
        "Data page, Ticker page, CLI",
        "“unknown ticker or no 60m prices on Yahoo. Check the symbol”",
    ),
    OtherCase("empty-frame", "Yahoo returns an empty frame", "Data page, CLI", "“Yahoo returned no rows”"),
    OtherCase("network-down", "network down", "Data page, Ticker page, CLI", "“network unreachable (…)”"),
    OtherCase("rate-limited", "rate limited", "Data page, CLI", "“rate limited by Yahoo. Wait a few minutes”"),
    OtherCase(
        "hangs", "Yahoo never answers", "Data page, CLI", "“Yahoo did not answer within 30 s” (every call bounded)"
    ),
    OtherCase("garbage", "a reply without price columns", "Data page, CLI", "“Yahoo's reply lacks open, high, low”"),
    OtherCase(
        "unparseable",
        "a reply yfinance itself cannot read",
        "Data page, CLI",
        "“Yahoo sent a reply yfinance could not read”",
    ),
    OtherCase(
        "offline-cached",
        "network down, a cached copy 3 h old",
        "Data page, Ticker page, CLI",
        "the cached bars, with “showing the cached copy from 3.0 h ago”",
    ),
)

PAGE_CASES: tuple[OtherCase, ...] = (
    OtherCase(
        "constant-day", "a constant-price day", "NIFTY-day page", "the call and maps, with “the GADF is all zeros”"
    ),
    OtherCase(
        "no-first-hour",
        "a day without its first hour (opens 10:30)",
        "NIFTY-day page",
        "day skipped and counted; a link to it: “not a usable trading day”",
    ),
    OtherCase(
        "first-day", "the first day of the data, then “Previous day”", "NIFTY-day page", "the first day stays, no error"
    ),
    OtherCase(
        "too-short", "fewer hourly bars than one window", "Ticker page", "“a window needs 50”, pick a longer history"
    ),
    OtherCase(
        "first-window", "the window at the very start of history", "Ticker page", "the first window's forecast and maps"
    ),
    OtherCase(
        "before-history",
        "a link to a time before the history",
        "Ticker page",
        "“outside this data's full windows …; showing the nearest”",
    ),
    OtherCase(
        "bad-links",
        "nonsense in every link parameter",
        "NIFTY-day, Ticker pages",
        "one warning per parameter, the defaults used",
    ),
)

CHECKPOINT_CASES: tuple[OtherCase, ...] = (
    OtherCase(
        "truncated",
        "a truncated model.pt",
        "Model picker, CLI",
        "“is truncated, corrupted or not a torch state dict”; other models still usable",
    ),
    OtherCase(
        "other-task-weights",
        "weights of the other task under this task's card",
        "Model picker, CLI",
        "refused: “card and weights disagree”",
    ),
    OtherCase(
        "other-task-link",
        "a link to a checkpoint of the other task",
        "NIFTY-day page",
        "“is not available here; using 'shipped'”",
    ),
    OtherCase(
        "other-size",
        "a checkpoint for 32-px images",
        "Model picker, CLI",
        "used at its own size: 32 × 32 images and maps",
    ),
    OtherCase(
        "pickle-code",
        "a pickle carrying code",
        "Model picker, CLI",
        "refused: “would need to run code to load”; the code never runs",
    ),
    OtherCase(
        "bad-card", "a card that is not JSON", "Model picker, CLI", "left out of the picker; CLI: “not valid JSON”"
    ),
    OtherCase(
        "shipped-broken", "the shipped model damaged", "every page", "that task's pages say so; every other page works"
    ),
)


def catalogue_markdown() -> str:
    """The catalogue as the table in :data:`TABLE_PAGE` (one row per case)."""
    rows = ["| # | Bad input | Where | What the user gets |", "| --- | --- | --- | --- |"]
    number = 0
    for case in FILE_CASES:
        number += 1
        rows.append(f"| {number} | file: {case.case} | Data page upload, CLI | {case.outcome} |")
    for group, cases in (("ticker", TICKER_CASES), ("page", PAGE_CASES), ("checkpoint", CHECKPOINT_CASES)):
        for case in cases:
            number += 1
            rows.append(f"| {number} | {group}: {case.case} | {case.where} | {case.outcome} |")
    return "\n".join(rows)


def all_names() -> list[str]:
    return [case.name for case in (*FILE_CASES, *TICKER_CASES, *PAGE_CASES, *CHECKPOINT_CASES)]


if __name__ == "__main__":
    print(catalogue_markdown())
