"""The alert store, the watch entry and the market calendars: known answers, bad input refused."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pandas as pd
import pytest

from alerts.calendars import calendar_for, source_calendar
from alerts.entries import WatchEntry
from alerts.store import _V1, SCHEMA_VERSION, AlertStore, StoreError, _explain, _statements


def _alert_columns(**overrides):
    columns = {
        "source": "demo:ACME", "model": "shipped", "card_digest": "abc", "last_close": 100.0,
        "forecast_close": 101.5, "forecast_pct": 1.5, "threshold_pct": 1.0, "direction": "both",
        "created": "2024-06-03T15:00:00+00:00", "maps": b"npz", "png": b"png",
    }  # fmt: skip
    return {**columns, **overrides}


def test_entries_validate_threshold_direction_and_source():
    with pytest.raises(ValueError, match=r"threshold_pct must be in \(0, 50\] percent, got 0"):
        WatchEntry("demo:ACME", 0)
    with pytest.raises(ValueError, match=r"threshold_pct must be in \(0, 50\] percent, got 75"):
        WatchEntry("demo:ACME", 75)
    with pytest.raises(ValueError, match=r"threshold_pct must be a number in \(0, 50\] percent, got 'x'"):
        WatchEntry("demo:ACME", "x")
    with pytest.raises(ValueError, match=r"direction must be one of \('rises', 'falls', 'both'\), got 'up'"):
        WatchEntry("demo:ACME", 1.0, "up")
    with pytest.raises(ValueError, match="source must be a demo symbol, ticker or upload, got '  '"):
        WatchEntry("  ", 1.0)
    rises, falls, both = (WatchEntry("demo:ACME", 1.0, way) for way in ("rises", "falls", "both"))
    assert [rises.fires(x) for x in (1.0, 0.99, -1.5)] == [True, False, False]
    assert [falls.fires(x) for x in (1.0, -0.99, -1.0)] == [False, False, True]
    assert [both.fires(x) for x in (1.0, -1.0, 0.5, float("nan"))] == [True, True, False, False]


def test_the_watchlist_round_trips_and_alerts_stay_when_an_entry_goes(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    assert store.schema_version() == SCHEMA_VERSION
    first = store.add_entry(WatchEntry("demo:ACME", 1.0))
    second = store.add_entry(WatchEntry("AAPL", 2.5, "falls", calendar="XNYS"))
    assert [(e.id, e.source, e.threshold_pct, e.direction) for e in store.entries()] == [
        (first.id, "demo:ACME", 1.0, "both"), (second.id, "AAPL", 2.5, "falls"),
    ]  # fmt: skip
    store.update_entry(second.with_changes(threshold_pct=3.0, enabled=False))
    assert [e.source for e in store.entries(enabled_only=True)] == ["demo:ACME"]
    check = store.start_check(dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC))
    store.record_evaluations(check, [{"watch_id": first.id, "window_end": "2024-06-03T09:30:00",
                                      "forecast_pct": 1.5, "alert": _alert_columns()}])  # fmt: skip
    store.remove_entry(first.id)
    assert [alert.window_end for alert in store.alerts()] == ["2024-06-03T09:30:00"]
    with pytest.raises(KeyError, match="no watch entry has id 99"):
        store.remove_entry(99)


def test_an_alert_is_stored_once_per_entry_and_window_end_whatever_reruns(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    entry = store.add_entry(WatchEntry("demo:ACME", 1.0))
    item = {"watch_id": entry.id, "window_end": "2024-06-03T09:30:00", "forecast_pct": 1.5, "alert": _alert_columns()}
    check = store.start_check(dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC))
    assert store.record_evaluations(check, [item]) == 1
    assert store.record_evaluations(check, [item, {**item, "alert": _alert_columns(forecast_pct=9.9)}]) == 0
    alerts = store.alerts()
    assert len(alerts) == 1
    assert alerts[0].forecast_pct == 1.5  # the first one kept, never overwritten


def test_two_writers_racing_store_each_alert_once(tmp_path):
    path = tmp_path / "a.sqlite"
    entry = AlertStore(path).add_entry(WatchEntry("demo:ACME", 1.0))
    items = [
        {"watch_id": entry.id, "window_end": f"2024-06-03T{hour:02d}:30:00", "forecast_pct": 1.5,
         "alert": _alert_columns()}
        for hour in range(9, 16)
    ]  # fmt: skip
    added: list[int] = []
    barrier = threading.Barrier(4)

    def writer() -> None:
        store = AlertStore(path)  # its own connections, as a second process would have
        barrier.wait()
        added.append(store.record_evaluations(store.start_check(dt.datetime.now(dt.UTC)), items))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(added) == [0, 0, 0, 7]
    assert len(AlertStore(path).alerts()) == 7


def test_a_crash_in_the_middle_of_storing_leaves_neither_the_evaluation_nor_the_alert(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    entry = store.add_entry(WatchEntry("demo:ACME", 1.0))
    check = store.start_check(dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC))
    good = {"watch_id": entry.id, "window_end": "2024-06-03T09:30:00", "forecast_pct": 1.5, "alert": _alert_columns()}
    broken = {**good, "window_end": "2024-06-03T10:30:00", "alert": _alert_columns(outcome="made up")}  # CHECK fails
    with pytest.raises(StoreError, match="CHECK constraint failed"):
        store.record_evaluations(check, [good, broken])
    assert store.alerts() == []
    assert store.evaluated_ends(entry.id) == set()  # all or nothing: the next check evaluates both again
    assert store.record_evaluations(check, [good]) == 1


def test_a_killed_check_is_marked_interrupted_by_the_next(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    killed = store.start_check(dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC))
    store.start_check(dt.datetime(2024, 6, 3, 15, 15, tzinfo=dt.UTC))
    assert {record.id: record.status for record in store.checks()}[killed] == "interrupted"


def test_an_old_store_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)
    for statement in _statements(_V1):
        connection.execute(statement)
    connection.execute(
        "INSERT INTO watch (source, threshold_pct, direction, model, created, updated)"
        " VALUES ('demo:ACME', 1.0, 'both', 'shipped', 'x', 'x')"
    )
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    store = AlertStore(path)
    assert store.schema_version() == 2
    assert [(e.source, e.failing) for e in store.entries()] == [("demo:ACME", None)]
    store.set_setting("notify_urls", "json://localhost")  # a version-2 table
    assert store.setting("notify_urls") == "json://localhost"


def test_a_file_that_is_not_a_store_and_a_newer_schema_are_refused(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match=r"notes.sqlite is not an alert store .not a SQLite database.: move it away"):
        AlertStore(text)
    assert text.read_text().startswith("these are my notes")  # nothing overwritten
    newer = tmp_path / "newer.sqlite"
    connection = sqlite3.connect(newer)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(StoreError, match="schema version 99, newer than this app's 2: upgrade the app"):
        AlertStore(newer)


def test_read_only_and_full_disks_are_named_with_what_to_do(tmp_path):
    """The messages for SQLite's own errors (root ignores chmod, so the read-only error is made
    by SQLite on a read-only connection; a full disk by its own message)."""
    path = tmp_path / "a.sqlite"
    AlertStore(path).add_entry(WatchEntry("demo:ACME", 1.0))
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        read_only.execute("DELETE FROM watch")
    read_only.close()
    assert _explain(path, raised.value).endswith("a.sqlite is read-only: make it writable or choose another path")
    full = sqlite3.OperationalError("database or disk is full")
    assert _explain(path, full).endswith("a.sqlite is full: free space, then check again")


def test_calendars_follow_the_exchange_and_the_demo_session():
    assert [source_calendar(s) for s in ("AAPL", "RELIANCE.NS", "^NSEI", "BTC-USD", "demo:ACME", "upload:ab")] == [
        "XNYS", "XBOM", "XBOM", "always", "demo", "always",
    ]  # fmt: skip
    nyse = calendar_for("AAPL")
    assert nyse.is_open(dt.datetime(2024, 7, 3, 16, 0, tzinfo=dt.UTC))  # 12:00 in New York
    assert not nyse.is_open(dt.datetime(2024, 7, 3, 17, 30, tzinfo=dt.UTC))  # early close at 13:00
    assert not nyse.is_open(dt.datetime(2024, 7, 4, 16, 0, tzinfo=dt.UTC))  # Independence Day
    hourly = pd.date_range("2024-07-03 09:30", periods=4, freq="60min")
    # the 12:30 bar ends at the early close, 13:00 New York = 17:00 UTC
    assert nyse.complete_bars(hourly, pd.Timedelta("60min"), dt.datetime(2024, 7, 3, 16, 59, tzinfo=dt.UTC)) == 3
    assert nyse.complete_bars(hourly, pd.Timedelta("60min"), dt.datetime(2024, 7, 3, 17, 0, tzinfo=dt.UTC)) == 4
    demo = calendar_for("demo:NIFTY-DEMO")
    assert demo.timezone == "Asia/Kolkata"
    assert demo.is_open(dt.datetime(2024, 6, 3, 4, 0, tzinfo=dt.UTC))  # 09:30 in Mumbai, a Monday
    assert not demo.is_open(dt.datetime(2024, 6, 8, 4, 0, tzinfo=dt.UTC))  # a Saturday
    with pytest.raises(ValueError, match=r"calendar must be an exchange_calendars name .* got 'XMARS'"):
        calendar_for("AAPL", "XMARS")
