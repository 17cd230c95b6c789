"""Price cells as numbers: plain, with a decimal comma, or with thousands separators.

A file written by a spreadsheet in a European locale holds ``101,25`` (semicolon-separated), and an
export with thousands separators holds ``"1,234.50"``. Each column is read as plain numbers first;
only when that rejects cells is a convention tried: it is used for the whole column when every
cell plain reading accepted also fits it (so ``100.5`` is never read as ``1005``) and it reads more
cells than plain reading did; a note says so. Cells that do not fit it stay NaN (counted as rejected
rows by :func:`data.bars.clean_bars`). Nothing is guessed cell by cell.
"""

from __future__ import annotations

import re

import pandas as pd

#: ``1,234.50`` / ``1234.5`` / ``-3`` — comma thousands separators, point decimals.
_COMMA_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})*(?:\.\d+)?$")
#: ``1.234,50`` / ``1234,5`` / ``-3`` — point thousands separators, comma decimals.
_DECIMAL_COMMA = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")

NOTE_DECIMAL_COMMA = "decimal commas read as decimal points (e.g. 101,25 → 101.25)"
NOTE_THOUSANDS = "thousands separators removed (e.g. 1,234.50 → 1234.50)"


def parse_prices(cells: pd.Series, delimiter: str = ",") -> tuple[pd.Series, str | None]:
    """Read a column of price cells as float64.

    Args:
        cells: (N,) strings (or numbers, e.g. from Parquet).
        delimiter: the file's field separator; decides which convention wins for ambiguous
            cells such as ``1,234`` (``","``: a quoted thousands separator; else a decimal comma).

    Returns:
        ``(numbers, note)``: (N,) float64 with NaN where a cell is empty or unreadable, and the
        convention used, or ``None`` for plain numbers.
    """
    plain = pd.to_numeric(cells, errors="coerce").astype("float64")
    textual = cells.dtype == object or pd.api.types.is_string_dtype(cells.dtype)
    if not textual or not plain.isna().any():
        return plain, None
    text = cells.map(_as_text).str.strip()
    if not (plain.isna() & (text != "")).any():
        return plain, None
    conventions = [(_COMMA_THOUSANDS, NOTE_THOUSANDS), (_DECIMAL_COMMA, NOTE_DECIMAL_COMMA)]
    if delimiter != ",":
        conventions.reverse()
    readable = text[plain.notna()]
    for pattern, note in conventions:
        if readable.str.match(pattern).all():
            converted = _convert(text.where(text.str.match(pattern)), note)
            if converted.notna().sum() > plain.notna().sum():
                return converted, note
    return plain, None


def _convert(text: pd.Series, note: str) -> pd.Series:
    """Numbers of the cells that fit the convention (the others are NaN already)."""
    if note == NOTE_THOUSANDS:
        cleaned = text.str.replace(",", "", regex=False)
    else:
        cleaned = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def _as_text(cell: object) -> str:
    """A cell as text; bytes (a Parquet binary column) decoded leniently, never raising."""
    return cell.decode("utf-8", errors="replace") if isinstance(cell, bytes | bytearray) else str(cell)
