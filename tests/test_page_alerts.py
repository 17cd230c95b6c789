"""The Alerts page through AppTest: the watchlist edited with validation, a replay that fills the
feed, an alert opened in full from the stored maps, a deep link, notification targets checked."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from alerts.entries import WatchEntry  # the package, imported before the page (pages/alerts.py)
from alerts.notify import URLS_KEY
from alerts.payload import decode_maps
from alerts.replay import replay
from alerts.store import AlertStore
from tests.apptest_helpers import no_errors, open_page

TIMEOUT_S = 240


def test_the_watchlist_is_edited_with_its_rules_and_nothing_bad_is_stored():
    app = open_page("pages/alerts.py", TIMEOUT_S)
    no_errors(app)
    assert any("Nothing watched yet" in info.value for info in app.info)
    app.text_input(key="add_source").set_value("demo:NOPE")
    app.button(key="add").click().run()
    assert [error.value for error in app.error] == [
        "Not added: symbol must be one of the demo symbols ACME, GLOBEX, INITECH, UMBRELLA, WAYNE, NIFTY-DEMO; "
        "got 'NOPE'"
    ]
    assert AlertStore().entries() == []
    app.text_input(key="add_source").set_value("demo:ACME")
    app.number_input(key="add_threshold").set_value(0.3)
    app.selectbox(key="add_direction").set_value("rises")
    app.button(key="add").click().run()
    no_errors(app)
    (entry,) = AlertStore().entries()
    assert (entry.source, entry.threshold_pct, entry.direction, entry.model) == ("demo:ACME", 0.3, "rises", "shipped")
    rows = app.dataframe[0].value[["symbol", "threshold %", "direction", "calendar"]].to_numpy().tolist()
    assert rows == [["demo:ACME", 0.3, "rises", "demo"]]
    app.number_input(key=f"edit_t{entry.id}").set_value(0.5)
    app.button(key="save_entry").click().run()
    assert AlertStore().entries()[0].threshold_pct == 0.5
    app.button(key="remove_entry").click().run()
    assert AlertStore().entries() == []


def test_a_replay_fills_the_feed_and_an_alert_opens_from_what_was_stored():
    store = AlertStore()
    store.add_entry(WatchEntry("demo:ACME", 0.3))
    app = open_page("pages/alerts.py", TIMEOUT_S)
    app.date_input(key="replay_period").set_value((dt.date(2024, 9, 2), dt.date(2024, 9, 6)))
    app.button(key="replay").click().run()
    no_errors(app)
    alerts = store.alerts()
    assert len(alerts) >= 1
    summary = next(m.value for m in app.markdown if m.value.startswith("**demo:ACME** at 0.3 %"))
    assert f": {len(alerts)} alerts," in summary
    newest = alerts[0]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics[f"Forecast after {newest.window_end[:16].replace('T', ' ')}"] == f"{newest.forecast_pct:+.2f} %"
    assert metrics["Actual next hour"] == f"{newest.actual_pct:+.2f} %"
    link = next(m.value for m in app.markdown if "Open this window on the Ticker page" in m.value)
    assert f"end={newest.window_end[:13]}%3A30" in link
    assert "source=demo%3AACME&model=shipped" in link
    assert len(app.get("plotly_chart")) >= 2  # the five maps and the per-bar importance

    # a link to an older alert opens it, its maps those stored
    oldest = alerts[-1]
    again = open_page("pages/alerts.py", TIMEOUT_S, alert=str(oldest.id))
    no_errors(again)
    assert again.selectbox(key="open_alert").value == oldest.id
    stored = decode_maps(oldest.maps)
    assert set(stored.maps) == {"gradcam", "saliency", "deconvolution", "guided_backprop", "guided_gradcam"}
    assert all(np.abs(values).max() > 0 for values in stored.maps.values())  # none blank


def test_notification_targets_are_checked_before_they_are_kept():
    store = AlertStore()
    app = open_page("pages/alerts.py", TIMEOUT_S)
    app.text_area(key="notify_urls").set_value("smoke://signals/secret")
    app.button(key="save_urls").click().run()
    assert next(error.value for error in app.error).startswith("notification URL 'smoke://signals' is not one apprise")
    assert store.setting(URLS_KEY) == ""
    app.text_area(key="notify_urls").set_value("ntfy://ntfy.sh/my-alerts")
    app.button(key="save_urls").click().run()
    no_errors(app)
    assert store.setting(URLS_KEY) == "ntfy://ntfy.sh/my-alerts"


def test_the_replay_refuses_live_symbols_with_what_to_do():
    store = AlertStore()
    store.add_entry(WatchEntry("AAPL", 1.0))
    message = (
        "a replay runs on the demo market only; disable or remove AAPL in this store, or replay into another store "
        "(--db)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        replay(store, dt.date(2024, 9, 2), dt.date(2024, 9, 3))


def test_the_page_starts_one_checker_and_stops_it():
    import time

    from alerts.service import checker_running

    store = AlertStore()
    app = open_page("pages/alerts.py", TIMEOUT_S)
    app.button[[b.label for b in app.button].index("Start the checker")].click().run()
    assert any("Checker started (process" in s.value for s in app.success)
    deadline = time.monotonic() + 60
    while not checker_running(store) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checker_running(store)  # the real `python -m alerts watch`, holding the store's lock
    while "pid" not in checker_state_of(store) and time.monotonic() < deadline:
        time.sleep(0.2)
    app.run()
    assert {m.label: m.value for m in app.metric}["Checker"] == "running"
    app.button[[b.label for b in app.button].index("Stop the checker")].click().run()
    while checker_running(store) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not checker_running(store)  # stopped, and its lock released


def checker_state_of(store: AlertStore) -> dict:
    from alerts.service import checker_state

    return {key: value for key, value in checker_state(store).items() if value is not None}


def test_a_model_of_another_task_is_refused_by_name():
    from alerts.check import resolve_model

    with pytest.raises(ValueError, match=r"model must be 'shipped' or a trained ticker model's name, got 'nifty'"):
        resolve_model("nifty")
