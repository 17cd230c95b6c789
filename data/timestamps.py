"""Reading a column of timestamps the way a careful analyst would.

Accepted forms:

* ISO 8601 (``2024-01-31``, ``2024-01-31 09:15``, ``2024-01-31T09:15:00+05:30``,
  ``...Z``), year-first with ``/`` too;
* day-first or month-first dates (``31/01/2024 09:15``, ``01-31-24``,
  ``31.01.2024``) — which of the two is decided from the **whole column**:
  a first field above 12 proves day-first, a second field above 12 proves
  month-first; when no value decides, the order under which the rows run
  monotonically in time wins; when both (or neither) do, the column is refused
  and the user is asked to say the order. Never silently swapped.
* datetime columns (e.g. from Parquet), naive or zone-aware.

Zones: the result is naive exchange wall-clock time. One UTC offset in the
column, or two offsets an hour apart (daylight saving, as in a yfinance
export), are accepted and reported; anything else is refused.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from data.errors import FileFormatError

DATE_ORDERS = ("auto", "dayfirst", "monthfirst")

_YEAR_FIRST = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}")
_DAY_MONTH = r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<year>\d{4}|\d{2})(?P<rest>(?:[ T].*)?)$"
_OFFSET = r"(?P<offset>Z|[+-]\d{2}:?\d{2})$"
#: Years outside this range are read as unreadable timestamps.
_PLAUSIBLE_YEARS = (1800, 2200)


@dataclasses.dataclass(frozen=True)
class ParsedTimestamps:
    """Result of :func:`parse_timestamps`.

    Attributes:
        wall: (N,) naive wall-clock times in ns; ``NaT`` where a value was unreadable.
        timezone: the zone or offsets found (``"UTC+05:30"``, ``"Asia/Kolkata"``,
            ``"UTC-05:00/-04:00 (daylight saving)"``), or ``None`` when naive.
        date_order: ``"iso"``, ``"dayfirst"``, ``"monthfirst"`` or ``"datetime"``.
    """

    wall: pd.DatetimeIndex
    timezone: str | None
    date_order: str


def parse_timestamps(values: pd.Series, date_order: str = "auto", *, column: str = "timestamp") -> ParsedTimestamps:
    """Parse a column of timestamps into naive wall-clock times.

    Args:
        values: (N,) strings or datetimes.
        date_order: ``"auto"`` (decide from the column), ``"dayfirst"`` or ``"monthfirst"``.
        column: the column's name, used in messages.

    Raises:
        ValueError: ``date_order`` is not one of :data:`DATE_ORDERS`.
        FileFormatError: the order of day and month cannot be decided, or the
            column mixes orders or time zones.
    """
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {DATE_ORDERS}, got {date_order!r}")
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        zone = str(values.dt.tz)
        return ParsedTimestamps(_as_ns(_plausible(pd.DatetimeIndex(values)).tz_localize(None)), zone, "datetime")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ParsedTimestamps(_as_ns(_plausible(pd.DatetimeIndex(values))), None, "datetime")
    if pd.api.types.is_numeric_dtype(values.dtype):
        raise FileFormatError(f"column {column!r} holds numbers, not timestamps; write times like 2024-01-31 09:15")

    if values.dtype == object:  # e.g. a Parquet binary column: bytes that need not be UTF-8
        values = values.map(_bytes_as_text, na_action="ignore")
    text = values.astype("string").fillna("").str.strip()
    iso_text, order = _to_iso(text, date_order, column)
    wall, zone = _strip_offsets(iso_text, column)
    return ParsedTimestamps(wall, zone, order)


def _as_ns(values: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values).as_unit("ns")


def _plausible(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """``NaT`` outside :data:`_PLAUSIBLE_YEARS`, as for text: a datetime column in seconds can
    reach years that nanoseconds cannot hold (past 2262), which would overflow on conversion."""
    earliest = pd.Timestamp(year=_PLAUSIBLE_YEARS[0], month=1, day=1).tz_localize(index.tz)
    after = pd.Timestamp(year=_PLAUSIBLE_YEARS[1] + 1, month=1, day=1).tz_localize(index.tz)
    return index.where((index >= earliest) & (index < after))


def _bytes_as_text(value: object) -> object:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes | bytearray) else value


def _to_iso(text: pd.Series, date_order: str, column: str) -> tuple[pd.Series, str]:
    """Rewrite day/month forms as ISO; return the text and the order used."""
    parts = text.str.extract(_DAY_MONTH)
    is_day_month = parts["a"].notna()
    if not is_day_month.any():
        return text, "iso"
    first = parts.loc[is_day_month, "a"].astype(int)
    second = parts.loc[is_day_month, "b"].astype(int)
    day_first_proof = text[is_day_month][first.to_numpy() > 12]
    month_first_proof = text[is_day_month][second.to_numpy() > 12]

    if date_order == "auto":
        if len(day_first_proof) and len(month_first_proof):
            raise FileFormatError(
                f"column {column!r} mixes day-first dates (e.g. {day_first_proof.iloc[0]!r}) and month-first "
                f"dates (e.g. {month_first_proof.iloc[0]!r}); write every date in one order, ideally YYYY-MM-DD"
            )
        if len(day_first_proof):
            date_order = "dayfirst"
        elif len(month_first_proof):
            date_order = "monthfirst"
        else:
            date_order = _order_from_sequence(text, parts, is_day_month, column)
    else:
        contradiction = month_first_proof if date_order == "dayfirst" else day_first_proof
        if len(contradiction):
            raise FileFormatError(
                f"column {column!r}: date_order={date_order!r} does not fit {contradiction.iloc[0]!r}; "
                "use the other order or 'auto'"
            )

    return _rewrite(text, parts, is_day_month, date_order), date_order


def _rewrite(text: pd.Series, parts: pd.DataFrame, is_day_month: pd.Series, date_order: str) -> pd.Series:
    day, month = ("a", "b") if date_order == "dayfirst" else ("b", "a")
    year = parts["year"].where(parts["year"].str.len() == 4, "20" + parts["year"].fillna(""))
    iso = year + "-" + parts[month].str.zfill(2) + "-" + parts[day].str.zfill(2) + parts["rest"].fillna("")
    return text.where(~is_day_month, iso)


def _order_from_sequence(text: pd.Series, parts: pd.DataFrame, is_day_month: pd.Series, column: str) -> str:
    """Every day and month is <= 12: pick the order under which time runs one way."""
    monotonic = {}
    for order in ("dayfirst", "monthfirst"):
        parsed = pd.to_datetime(
            _rewrite(text, parts, is_day_month, order).str.replace(_OFFSET, "", regex=True),
            format="ISO8601",
            errors="coerce",
        ).dropna()
        monotonic[order] = len(parsed) > 2 and (parsed.is_monotonic_increasing or parsed.is_monotonic_decreasing)
    winners = [order for order, ok in monotonic.items() if ok]
    if len(winners) == 1:
        return winners[0]
    example = text[is_day_month].iloc[0]
    raise FileFormatError(
        f"column {column!r}: cannot tell whether {example!r} is day-first or month-first — every date has "
        "day and month <= 12 and both readings are plausible; pass --date-order dayfirst|monthfirst "
        "(date_order=...) or write dates as YYYY-MM-DD"
    )


def _strip_offsets(text: pd.Series, column: str) -> tuple[pd.DatetimeIndex, str | None]:
    """Parse ISO text; keep wall-clock time and report the offsets found."""
    offsets = text.str.extract(_OFFSET)["offset"]
    has_offset = offsets.notna()
    wall = pd.to_datetime(text.str.replace(_OFFSET, "", regex=True), format="ISO8601", errors="coerce")
    wall = wall.where(wall.dt.year.between(*_PLAUSIBLE_YEARS))  # NaT outside; keeps ns arithmetic safe
    wall_index = pd.DatetimeIndex(wall).as_unit("ns")
    if not has_offset.any():
        return wall_index, None
    naive_but_readable = ~has_offset & wall.notna()
    if naive_but_readable.any():
        without = text[naive_but_readable].iloc[0]
        raise FileFormatError(
            f"column {column!r}: some timestamps carry a time zone and some (e.g. {without!r}) do not; "
            "give every timestamp the same form"
        )

    minutes = offsets[has_offset].map(_offset_minutes)
    distinct = sorted(set(minutes.tolist()))
    names = [_offset_name(m) for m in distinct]
    if len(distinct) == 1:
        return wall_index, f"UTC{names[0]}"
    if len(distinct) == 2 and distinct[1] - distinct[0] == 60:
        return wall_index, f"UTC{names[0]}/{names[1]} (daylight saving)"
    raise FileFormatError(
        f"column {column!r} mixes time zones ({', '.join(names)}); convert every timestamp to one zone first"
    )


def _offset_minutes(offset: str) -> int:
    if offset == "Z":
        return 0
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:]))


def _offset_name(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(int(minutes)), 60)
    return f"{sign}{hours:02d}:{mins:02d}"
