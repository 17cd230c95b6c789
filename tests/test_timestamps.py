"""Timestamp columns: ISO, zones, and day/month order decided from the whole column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.errors import FileFormatError
from data.timestamps import parse_timestamps


def parse(values: list[str], date_order: str = "auto"):
    return parse_timestamps(pd.Series(values, dtype="string"), date_order)


def stamps(*values: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(v) for v in values]


@pytest.mark.parametrize(
    ("values", "expected", "timezone", "order"),
    [
        (["2024-01-02", "2024-01-03"], stamps("2024-01-02", "2024-01-03"), None, "iso"),
        (["2024-01-02T09:15:00", "2024-01-02 09:16"], stamps("2024-01-02 09:15", "2024-01-02 09:16"), None, "iso"),
        (["2024/01/02 09:15", "2024/01/02 09:16"], stamps("2024-01-02 09:15", "2024-01-02 09:16"), None, "iso"),
        (
            ["2024-01-02 09:15:00+05:30", "2024-01-02 09:16:00+05:30"],
            stamps("2024-01-02 09:15", "2024-01-02 09:16"),
            "UTC+05:30",
            "iso",
        ),
        (
            ["2024-01-02T14:30:00Z", "2024-01-02T15:30:00Z"],
            stamps("2024-01-02 14:30", "2024-01-02 15:30"),
            "UTC+00:00",
            "iso",
        ),
        # A yfinance export across the US switch to daylight saving: wall-clock times kept.
        (
            ["2024-03-08 09:30:00-05:00", "2024-03-11 09:30:00-04:00"],
            stamps("2024-03-08 09:30", "2024-03-11 09:30"),
            "UTC-05:00/-04:00 (daylight saving)",
            "iso",
        ),
        (["31/01/2024 09:15", "01/02/2024 09:15"], stamps("2024-01-31 09:15", "2024-02-01 09:15"), None, "dayfirst"),
        (["01/31/2024", "02/01/2024"], stamps("2024-01-31", "2024-02-01"), None, "monthfirst"),
        (["31.01.2024", "01.02.2024"], stamps("2024-01-31", "2024-02-01"), None, "dayfirst"),
        (["31-01-24", "01-02-24"], stamps("2024-01-31", "2024-02-01"), None, "dayfirst"),
        # No value is above 12, but only the day-first reading runs forward in time.
        (
            ["11/01/2024", "12/01/2024", "01/02/2024"],
            stamps("2024-01-11", "2024-01-12", "2024-02-01"),
            None,
            "dayfirst",
        ),
        (
            ["01/11/2024", "01/12/2024", "02/01/2024"],
            stamps("2024-01-11", "2024-01-12", "2024-02-01"),
            None,
            "monthfirst",
        ),
    ],
)
def test_known_forms_parse_to_wall_clock(values, expected, timezone, order):
    parsed = parse(values)
    assert list(parsed.wall) == expected
    assert parsed.timezone == timezone
    assert parsed.date_order == order
    assert parsed.wall.dtype == "datetime64[ns]"


def test_explicit_order_resolves_an_ambiguous_column():
    values = ["01/02/2024", "01/03/2024", "01/04/2024"]
    assert list(parse(values, "dayfirst").wall) == stamps("2024-02-01", "2024-03-01", "2024-04-01")
    assert list(parse(values, "monthfirst").wall) == stamps("2024-01-02", "2024-01-03", "2024-01-04")


def test_unreadable_values_become_nat_and_the_rest_parse():
    parsed = parse(["2024-01-02", "not a date", ""])
    assert parsed.wall[0] == pd.Timestamp("2024-01-02")
    assert parsed.wall[1:].isna().all()


def test_datetime_columns_keep_wall_clock_and_zone():
    aware = pd.Series(pd.date_range("2024-01-02 09:15", periods=2, freq="min", tz="Asia/Kolkata"))
    parsed = parse_timestamps(aware)
    assert list(parsed.wall) == stamps("2024-01-02 09:15", "2024-01-02 09:16")
    assert parsed.timezone == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("values", "date_order", "message"),
    [
        (
            ["01/02/2024", "01/03/2024", "01/04/2024"],
            "auto",
            r"cannot tell whether '01/02/2024' is day-first or month-first .* --date-order dayfirst\|monthfirst",
        ),
        (["31/01/2024", "01/31/2024"], "auto", r"mixes day-first dates \(e.g. '31/01/2024'\) and month-first"),
        (["01/31/2024", "02/01/2024"], "dayfirst", r"date_order='dayfirst' does not fit '01/31/2024'"),
        (["2024-01-02 09:15+00:00", "2024-01-02 09:16+05:30"], "auto", r"mixes time zones \(\+00:00, \+05:30\)"),
        (["2024-01-02 09:15+05:30", "2024-01-02 09:16"], "auto", r"some timestamps carry a time zone and some"),
    ],
)
def test_undecidable_or_mixed_columns_are_refused(values, date_order, message):
    with pytest.raises(FileFormatError, match=message):
        parse(values, date_order)


def test_datetimes_outside_the_plausible_years_are_unreadable_not_an_overflow():
    # Found by tests/test_fuzz.py: a datetime column in seconds (e.g. from Parquet) can hold years that
    # nanoseconds cannot (past 2262); they became OutOfBoundsDatetime. Now NaT, as for text.
    naive = pd.Series(np.array(["2262-04-11T23:47:17", "2024-01-02T09:15", "1700-01-01"], dtype="datetime64[s]"))
    parsed = parse_timestamps(naive)
    assert parsed.wall.dtype == "datetime64[ns]"
    assert parsed.wall[1] == pd.Timestamp("2024-01-02 09:15")
    assert parsed.wall[[0, 2]].isna().all()
    aware = pd.Series(pd.DatetimeIndex(np.array([2**40, 0], dtype="datetime64[s]")).tz_localize("Asia/Kolkata"))
    parsed = parse_timestamps(aware)
    assert parsed.timezone == "Asia/Kolkata"
    assert parsed.wall.dtype == "datetime64[ns]"
    assert pd.isna(parsed.wall[0])
    assert parsed.wall[1] == pd.Timestamp("1970-01-01")


def test_bytes_that_are_not_utf8_are_unreadable_not_a_crash():
    # Found by tests/test_fuzz.py: a Parquet binary column gives bytes; b"\x80" raised UnicodeDecodeError.
    parsed = parse_timestamps(pd.Series([b"2024-01-02 09:15", b"\x80\x81", None], dtype=object))
    assert parsed.wall[0] == pd.Timestamp("2024-01-02 09:15")
    assert parsed.wall[1:].isna().all()


def test_numbers_are_not_taken_for_timestamps():
    with pytest.raises(FileFormatError, match="holds numbers, not timestamps"):
        parse_timestamps(pd.Series([1, 2, 3]))


def test_bad_date_order_names_the_parameter():
    with pytest.raises(ValueError, match=r"date_order must be one of \('auto', 'dayfirst', 'monthfirst'\), got 'ymd'"):
        parse(["2024-01-02"], "ymd")
