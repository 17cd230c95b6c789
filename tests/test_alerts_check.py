"""One check of the watchlist on the demo market with the shipped CNN-LSTM, on a fake clock:
batched equals one by one, map for map; windows shared; nothing twice; outcomes when known; the
replay agrees with the What-if page."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alerts.check import CATCH_UP_WINDOWS, load_bars, resolve_model, run_check
from alerts.entries import WatchEntry
from alerts.payload import decode_maps
from alerts.replay import replay
from alerts.store import AlertStore
from data.errors import DataError
from models.what_if import alert_table, prediction_history
from workflows.window import explain_window

#: 11:00 New York on Monday 3 June 2024: the 09:30 bar is complete, the 10:30 one is not.
MONDAY_11 = dt.datetime(2024, 6, 3, 15, 0, tzinfo=dt.UTC)
LOW = 0.01  # a threshold every window passes: each check stores an alert


@pytest.fixture
def store(tmp_path):
    return AlertStore(tmp_path / "alerts.sqlite")


def _window(source: str, end: str) -> np.ndarray:
    bars = load_bars(source, "60m").bars
    stop = bars.index.get_loc(pd.Timestamp(end)) + 1
    return bars[["open", "high", "low", "close"]].to_numpy()[stop - 50 : stop]


def test_batched_check_equals_each_window_explained_alone(store):
    for source in ("demo:ACME", "demo:GLOBEX", "demo:INITECH"):
        store.add_entry(WatchEntry(source, LOW))
    report = run_check(store, MONDAY_11)
    assert (report.entries_due, report.symbols, report.windows, report.explained) == (3, 3, 3, 3)
    assert report.errors == []
    loaded = resolve_model("shipped")
    for alert in store.alerts():
        assert alert.window_end == "2024-06-03T09:30:00"
        alone = explain_window(loaded, _window(alert.source, alert.window_end))
        assert alert.forecast_pct == pytest.approx(alone.prediction.pct_change, rel=1e-5, abs=1e-7)
        assert alert.card_digest == loaded.card.weights_sha256
        stored = decode_maps(alert.maps)
        assert stored.direction == alone.direction
        for key, explanation in alone.explanations.maps.items():
            expected = explanation.attribution[0, 0]
            peak = np.abs(expected).max()
            np.testing.assert_allclose(stored.maps[key], expected, atol=2e-3 * peak, rtol=0)  # float16 kept
            np.testing.assert_allclose(
                stored.per_time[key], alone.per_time[key], atol=2e-3 * np.abs(alone.per_time[key]).max()
            )
        assert alert.png.startswith(b"\x89PNG")


def test_entries_watching_one_window_share_its_computation_and_reruns_add_nothing(store):
    store.add_entry(WatchEntry("demo:ACME", LOW))
    store.add_entry(WatchEntry("demo:ACME", LOW, "rises"))
    store.add_entry(WatchEntry("demo:ACME", LOW, "falls"))
    report = run_check(store, MONDAY_11)
    assert (report.windows, report.explained) == (1, 1)
    assert len(report.alerts) == 2  # "both" and the forecast's own direction
    again = run_check(store, MONDAY_11 + dt.timedelta(minutes=15))  # the same window, already evaluated
    assert (again.windows, again.alerts) == (0, [])
    assert len(store.alerts()) == 2


def test_a_checker_that_was_down_catches_up_and_a_new_entry_starts_now(store):
    entry = store.add_entry(WatchEntry("demo:ACME", LOW))
    run_check(store, MONDAY_11)
    later = run_check(store, MONDAY_11 + dt.timedelta(hours=3))  # 14:00: 10:30, 11:30 and 12:30 completed
    assert later.windows == 3
    assert sorted(store.evaluated_ends(entry.id)) == [f"2024-06-03T{h}:30:00" for h in ("09", "10", "11", "12")]
    week_later = run_check(store, MONDAY_11 + dt.timedelta(days=7))
    assert week_later.windows == CATCH_UP_WINDOWS  # the newest ones, not the whole week
    newcomer = store.add_entry(WatchEntry("demo:GLOBEX", LOW))
    run_check(store, MONDAY_11 + dt.timedelta(days=7, minutes=15))
    assert store.evaluated_ends(newcomer.id) == {"2024-06-10T09:30:00"}


def test_an_outcome_is_filled_only_once_the_next_bar_is_complete(store):
    store.add_entry(WatchEntry("demo:ACME", LOW))
    run_check(store, MONDAY_11)
    (alert,) = store.alerts()
    assert alert.outcome is None
    run_check(store, MONDAY_11 + dt.timedelta(minutes=29))  # 11:29: the 10:30 bar still runs
    assert store.alerts()[-1].outcome is None
    run_check(store, MONDAY_11 + dt.timedelta(minutes=30))
    kept = store.alert(alert.id)
    closes = load_bars("demo:ACME", "60m").bars["close"]
    expected = 100 * (closes[pd.Timestamp("2024-06-03 10:30")] / closes[pd.Timestamp("2024-06-03 09:30")] - 1)
    assert kept.target_time == "2024-06-03T10:30:00"
    assert kept.actual_pct == pytest.approx(expected, rel=1e-12)
    assert kept.outcome == (
        "below threshold"
        if abs(expected) < LOW
        else "right"
        if np.sign(expected) == np.sign(kept.forecast_pct)
        else "wrong sign"
    )


def test_a_source_that_fails_is_marked_and_the_others_are_checked(store):
    unknown = store.add_entry(WatchEntry("demo:NOPE", LOW))
    offline = store.add_entry(WatchEntry("AAPL", LOW))
    good = store.add_entry(WatchEntry("demo:ACME", LOW))

    def loader(source: str, interval: str):  # the network boundary: Yahoo unreachable
        if source == "AAPL":
            raise DataError("no data for ticker 'AAPL': network unreachable (DNSError)")
        return load_bars(source, interval)

    report = run_check(store, MONDAY_11, loader=loader)
    assert report.errors == [
        "demo:NOPE: symbol must be one of the demo symbols ACME, GLOBEX, INITECH, UMBRELLA, WAYNE, NIFTY-DEMO; "
        "got 'NOPE'",
        "AAPL: no data for ticker 'AAPL': network unreachable (DNSError)",
    ]
    failing = {entry.id: entry.failing for entry in store.entries()}
    assert failing == {unknown.id: report.errors[0], offline.id: report.errors[1], good.id: None}
    assert len(report.alerts) == 1
    assert store.checks(1)[0].errors == report.errors


def test_closed_markets_are_not_checked_unless_asked(store):
    store.add_entry(WatchEntry("demo:ACME", LOW))
    saturday = dt.datetime(2024, 6, 8, 15, 0, tzinfo=dt.UTC)
    assert run_check(store, saturday).entries_due == 0
    forced = run_check(store, saturday, only_due=False)
    assert (forced.entries_due, forced.windows) == (1, 1)
    assert store.alerts()[0].window_end == "2024-06-07T15:30:00"  # Friday's last bar


def test_the_replay_agrees_with_the_what_if_page(store):
    """Two weeks of the shipped model's test split, 0.5 % both ways: the same alerts, events,
    correct alerts, precision and recall as What-if's rule over the same windows."""
    entry = store.add_entry(WatchEntry("demo:ACME", 0.5))
    summary = replay(store, dt.date(2024, 9, 2), dt.date(2024, 9, 13))
    counts = summary.counts[entry.id]
    evaluated = pd.to_datetime(store.evaluations(entry.id)["window_end"])
    history = prediction_history(resolve_model("shipped"), "demo:ACME", "test")
    bars = load_bars("demo:ACME", "60m").bars.index
    window_ends = bars[bars.get_indexer(pd.DatetimeIndex(history.times)) - 1]
    chosen = np.isin(window_ends, evaluated)
    # the window complete at the first check (Friday's last bar), then ten sessions of seven hourly bars
    assert chosen.sum() == len(evaluated) == 71
    expected = alert_table(history.predicted_pct[chosen], history.actual_pct[chosen], 0.5)
    assert (counts.alerts, counts.events, counts.correct, counts.wrong_sign) == (
        expected.alerts, expected.events, expected.correct, expected.wrong_sign,
    )  # fmt: skip
    assert counts.alerts >= 2
    assert summary.alerts == counts.alerts == len(store.alerts())
    outcomes = [alert.outcome for alert in store.alerts()]
    assert outcomes.count("right") == counts.correct


def test_an_offline_ticker_served_from_its_cache_is_checked_and_says_how_old(store):
    import dataclasses

    store.add_entry(WatchEntry("AAPL", LOW))
    acme = load_bars("demo:ACME", "60m")

    def loader(source: str, interval: str):  # the network boundary: Yahoo down, the data layer's cached copy
        return dataclasses.replace(
            acme, source="AAPL", synthetic=False, cache_age=dt.timedelta(hours=5),
            stale_reason="network unreachable (DNSError)",
        )  # fmt: skip

    report = run_check(store, MONDAY_11, loader=loader)
    assert (report.windows, report.errors) == (1, [])
    (entry,) = store.entries()
    assert entry.failing == "checked on the cached copy, 5.0 h old: network unreachable (DNSError)"


def test_a_source_with_exactly_one_window_is_checked_and_a_shorter_one_says_why(store):
    import dataclasses

    acme = load_bars("demo:ACME", "60m")
    short = {"BTC-USD": 50, "ETH-USD": 49}  # crypto: always open, every bar complete at once

    def loader(source: str, interval: str):  # the network boundary: what Yahoo would have sent
        return dataclasses.replace(acme, bars=acme.bars.iloc[: short[source]], source=source, synthetic=False)

    exact = store.add_entry(WatchEntry("BTC-USD", LOW))
    too_short = store.add_entry(WatchEntry("ETH-USD", LOW))
    report = run_check(store, MONDAY_11, loader=loader)
    assert report.windows == 1
    assert store.evaluated_ends(exact.id) == {acme.bars.index[49].isoformat()}
    assert report.errors == ["ETH-USD: 49 complete bars, fewer than the model's window of 50"]
    assert {entry.id: entry.failing for entry in store.entries()}[too_short.id] == report.errors[0]
