"""One entry point for every kind of source a user can name.

``SOURCE`` is ``demo:SYMBOL`` (the bundled synthetic market), a path to a CSV
or Parquet file, or a Yahoo ticker. Finer bars are aggregated on request
(a minute file can feed the hourly ticker task); coarser bars are never
invented.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from data.bars import LoadedBars, infer_interval, resample_bars
from data.errors import DataError
from data.files import load_bar_file
from data.settings import INTERVAL_STEP, INTERVALS
from data.uploads import is_upload_source, load_upload_source

DEMO_PREFIX = "demo:"
_FILE_SUFFIXES = (".csv", ".txt", ".parquet", ".pq")


def load_source(
    source: str, interval: str | None = None, *, date_order: str = "auto", files: bool = True
) -> LoadedBars:
    """Load bars from a demo name, a stored upload, a file path or a ticker.

    Args:
        source: ``"demo:ACME"``, ``"upload:<digest>"`` (see :mod:`data.uploads`),
            ``"prices/nifty.csv"`` or ``"AAPL"``.
        interval: ``"1m"``, ``"60m"`` or ``"1d"``. Demo and Yahoo sources are
            fetched at this interval (default ``"60m"``); a file is aggregated
            to it when its bars are finer (default: as stored).
        date_order: for files: ``"auto"``, ``"dayfirst"`` or ``"monthfirst"``.
        files: read file paths; ``False`` (the dashboard, where the text comes from a browser)
            treats every other text as a ticker, so no one can make the server read its files.

    Raises:
        DataError: the source cannot be loaded; the message says why.
        ValueError: ``interval`` is not one of :data:`~data.settings.INTERVALS`.
    """
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    text = str(source).strip()
    if not text:
        raise DataError("source is empty; give demo:SYMBOL, a CSV/Parquet path or a ticker such as AAPL")
    if text.lower().startswith(DEMO_PREFIX):
        from data.demo import demo_bars

        return demo_bars(text[len(DEMO_PREFIX) :].strip().upper(), interval or "60m")
    if is_upload_source(text):
        loaded = load_upload_source(text)
        return loaded if interval is None else to_interval(loaded, interval)
    path = Path(text).expanduser()
    if not files and looks_like_a_file(text):
        raise DataError(f"{text!r} is a file path; the dashboard reads files only as uploads: upload it instead")
    if files and (looks_like_a_file(text) or path.is_file()):
        loaded = load_bar_file(path, date_order=date_order)
        return loaded if interval is None else to_interval(loaded, interval)
    from data.yahoo import fetch_ticker

    return fetch_ticker(text, interval or "60m")


def looks_like_a_file(text: str) -> bool:
    """Whether a source names a file (a path, or a CSV/Parquet name) rather than a ticker."""
    return text.lower().endswith(_FILE_SUFFIXES) or "/" in text or "\\" in text


def to_interval(loaded: LoadedBars, interval: str) -> LoadedBars:
    """Return ``loaded`` at ``interval``, aggregating finer bars.

    Raises:
        DataError: the bars are coarser than ``interval`` or irregular.
    """
    if loaded.interval == interval:
        return loaded
    if len(loaded.bars) < 2:
        note = f"a single bar: its interval cannot be told, taken as {interval}"
        return dataclasses.replace(loaded, interval=interval, notes=(*loaded.notes, note))
    name = loaded.file_name or loaded.source  # an upload by its file's name, never its internal id
    if loaded.interval not in INTERVAL_STEP:
        raise DataError(
            f"{name} holds {loaded.interval} bars, which cannot be turned into {interval} bars; give 1m, 60m or 1d bars"
        )
    if INTERVAL_STEP[loaded.interval] > INTERVAL_STEP[interval]:
        raise DataError(
            f"{name} holds {loaded.interval} bars; {interval} bars cannot be made from them. "
            f"Ask for {loaded.interval} or coarser, or give a file of {interval} bars"
        )
    bars = resample_bars(loaded.bars, interval)
    note = f"aggregated from {loaded.interval} to {interval} bars"
    return dataclasses.replace(
        loaded,
        bars=bars,
        interval=infer_interval(bars.index) if len(bars) > 1 else interval,
        notes=(*loaded.notes, note),
    )
