"""Alerts: the watchlist, the checker that runs it every 15 minutes, and every alert with its maps.

The store, the checks and the maps live in :mod:`alerts` and :mod:`workflows.alerts_view`; this
page only draws them. Link parameters: ``alert`` (an alert's id, opened in full), ``symbol`` (the
feed's filter).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from alerts.calendars import calendar_for
from alerts.check import CHECK_EVERY_MINUTES, resolve_model, run_check
from alerts.entries import DIRECTIONS, THRESHOLD_RANGE_PCT, WatchEntry
from alerts.notify import URLS_KEY, Notifier, parse_urls
from alerts.replay import replay
from alerts.service import checker_running, checker_state
from alerts.store import AlertStore, StoreError
from data import DataError
from data.settings import TICKER_WINDOW_BARS
from models.registry import available_checkpoints
from pages.ui.components import comparison_panel
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import load_named
from pages.ui.sources import active_source
from workflows.alerts_view import (
    OUTCOME_WORDS,
    feed_table,
    start_checker,
    stop_checker,
    stored_explanation,
    ticker_link,
)

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

REPLAY_DEFAULT = (dt.date(2024, 9, 2), dt.date(2024, 9, 13))  # two weeks of the shipped model's test split

st.title("Alerts — a watchlist checked every 15 minutes")
try:
    store = AlertStore()
except StoreError as error:
    st.error(str(error))
    st.stop()
st.caption(
    f"Every {CHECK_EVERY_MINUTES} minutes while a symbol's market is open (sessions and holidays from "
    "exchange_calendars; the demo market trades every weekday), the CNN-LSTM forecasts the next hour of each "
    f"watched symbol; a move past your threshold is an alert, kept with its five maps. Store: `{store.path}`."
)

# --- the watchlist -------------------------------------------------------------------------

st.subheader("Watchlist")
entries = store.entries()
models = list(available_checkpoints("ticker"))  # the shipped model first, then those trained here
if entries:
    st.dataframe(
        pd.DataFrame(
            [
                {"#": e.id, "symbol": e.source, "threshold %": e.threshold_pct, "direction": e.direction,
                 "model": e.model, "on": e.enabled, "calendar": calendar_for(e.source, e.calendar).name,
                 "problem": e.failing or ""}
                for e in entries
            ]
        ),
        hide_index=True,
        key="watchlist",
    )  # fmt: skip
else:
    st.info("Nothing watched yet: add a symbol below (the demo market works offline).")

with st.container(key="add_entry", border=True):
    columns = st.columns([3, 2, 2, 2])
    source = columns[0].text_input(
        "Symbol (demo:ACME, a Yahoo ticker, or upload:…)", active_source() or "demo:ACME", key="add_source"
    )
    threshold = columns[1].number_input(
        "Threshold (% move)", 0.05, THRESHOLD_RANGE_PCT[1], 1.0, 0.05, format="%.2f", key="add_threshold"
    )
    direction = columns[2].selectbox("Alert when the forecast", DIRECTIONS, index=2, key="add_direction")
    model = columns[3].selectbox("Model", models, key="add_model")
    if st.button("Add to the watchlist", key="add"):
        try:
            entry = WatchEntry(source, float(threshold), direction, model)
            calendar_for(entry.source)
            if entry.source.lower().startswith("demo:"):
                load_named(entry.source, "60m")  # an unknown demo symbol is named now, not at the next check
            store.add_entry(entry)
        except (ValueError, DataError, StoreError) as error:
            st.error(f"Not added: {error}")
        else:
            st.rerun()

if entries:
    with st.expander("Edit or remove an entry"):
        chosen = st.selectbox("Entry", entries, format_func=lambda e: f"#{e.id} {e.source} {e.threshold_pct:g} %")
        columns = st.columns(3)
        new_threshold = columns[0].number_input(
            "Threshold (% move)", 0.05, THRESHOLD_RANGE_PCT[1], chosen.threshold_pct, 0.05, key=f"edit_t{chosen.id}"
        )
        new_direction = columns[1].selectbox(
            "Direction", DIRECTIONS, index=DIRECTIONS.index(chosen.direction), key=f"edit_d{chosen.id}"
        )
        enabled = columns[2].toggle("Checked", chosen.enabled, key=f"edit_on{chosen.id}")
        save, remove = st.columns(2)
        if save.button("Save", key="save_entry"):
            store.update_entry(chosen.with_changes(threshold_pct=float(new_threshold), direction=new_direction,
                                                   enabled=enabled))  # fmt: skip
            st.rerun()
        if remove.button("Remove (its alerts stay in the feed)", key="remove_entry"):
            store.remove_entry(chosen.id)
            st.rerun()

# --- the checker ---------------------------------------------------------------------------

st.subheader("Checker")
state = checker_state(store)
running = checker_running(store)
columns = st.columns(4)
columns[0].metric("Checker", "running" if running else "stopped")
columns[1].metric("Last check", (state.get("last_check") or "—")[:16].replace("T", " "))
columns[2].metric("Next check", ((state.get("next_check") if running else None) or "—")[:16].replace("T", " "))
recent = store.checks(1)
columns[3].metric("Last check took", f"{recent[0].seconds:.2f} s" if recent and recent[0].seconds else "—")
if state.get("last_error"):
    st.warning(f"Last error: {state['last_error']}")
buttons = st.columns(3)
if not running and buttons[0].button("Start the checker", help="python -m alerts watch, in its own process"):
    pid = start_checker(store.path, store.path.with_suffix(".log"))
    st.success(f"Checker started (process {pid}); it checks on the next quarter hour.")
if running and state.get("pid") and buttons[0].button("Stop the checker"):
    stop_checker(int(state["pid"]))
    st.success("Asked the checker to stop; it finishes its current check first.")
if buttons[1].button("Check now", help="One check of every entry whose market is open"):
    with st.spinner("Checking…"):
        report = run_check(store, dt.datetime.now(dt.UTC), notify=Notifier.from_store(store))
    st.info(
        f"{report.entries_due} entries due, {report.windows} new windows, {len(report.alerts)} new alerts "
        f"in {report.seconds:.2f} s" + (f"; problems: {'; '.join(report.errors)}" if report.errors else "")
    )

with st.expander("Replay the demo market (offline, for teaching)"):
    st.caption(
        "A simulated clock runs the checker over the period for the watchlist's demo symbols; the demo's future "
        "is known, so each alert's outcome appears as the replay passes its next bar. Precision and recall follow "
        "the What if page's rule."
    )
    period = st.date_input("Period", REPLAY_DEFAULT, key="replay_period")
    first, last = (period[0], period[-1]) if isinstance(period, (tuple, list)) and period else REPLAY_DEFAULT
    if st.button("Replay", key="replay"):
        bar = st.progress(0.0, text="Replaying…")
        try:
            summary = replay(store, first, last)
        except (ValueError, DataError) as error:
            st.error(str(error))
        else:
            bar.progress(1.0, text=f"{summary.checks} checks, {summary.alerts} new alerts")
            for entry in store.entries(enabled_only=True):
                counts = summary.counts.get(entry.id)
                if counts is not None:
                    st.write(
                        f"**{entry.source}** at {entry.threshold_pct:g} % ({entry.direction}): {counts.alerts} "
                        f"alerts, {counts.correct} right, {counts.events} moves reached the threshold — precision "
                        f"{counts.precision:.2f}, recall {counts.recall:.2f}"
                    )

with st.expander("Notifications (off unless you add a target)"):
    st.caption("apprise URLs, one per line: mailto://…, slack://…, tgram://…, ntfy://…, json://… (a webhook).")
    text = st.text_area("Targets", store.setting(URLS_KEY), key="notify_urls")
    if st.button("Save the targets", key="save_urls"):
        try:
            parse_urls(text)
        except ValueError as error:
            st.error(str(error))
        else:
            store.set_setting(URLS_KEY, text)
            st.success("Saved: new alerts go to these targets.")

# --- the feed ------------------------------------------------------------------------------

st.subheader("Alerts")
symbols = store.alert_sources()
wanted = st.query_params.get("symbol")
symbol = st.selectbox("Symbol", ["all", *symbols], index=(symbols.index(wanted) + 1) if wanted in symbols else 0)
st.query_params["symbol"] = symbol
alerts = store.alerts(source=None if symbol == "all" else symbol, limit=500, payload=False)  # the feed
if not alerts:
    st.info("No alert yet. Start the checker, press Check now, or replay the demo market.")
    st.stop()
st.dataframe(feed_table(alerts), hide_index=True, key="feed")
ids = [alert.id for alert in alerts]
linked = st.query_params.get("alert")
chosen_id = st.selectbox(
    "Open an alert",
    ids,
    index=ids.index(int(linked)) if linked and linked.isdigit() and int(linked) in ids else 0,
    key="open_alert",
)
st.query_params["alert"] = str(chosen_id)
alert = store.alert(chosen_id)  # the one opened, with its maps and picture

with st.container(key="alert_view"):
    columns = st.columns(4)
    columns[0].metric(f"Forecast after {alert.window_end[:16].replace('T', ' ')}", f"{alert.forecast_pct:+.2f} %")
    columns[1].metric("Threshold", f"{alert.threshold_pct:g} % ({alert.direction})")
    columns[2].metric("Actual next hour", "pending" if alert.actual_pct is None else f"{alert.actual_pct:+.2f} %")
    columns[3].metric("Model", alert.model, help=f"weights sha256 {alert.card_digest[:12]}…", delta_color="off")
    st.write(f"Outcome: **{OUTCOME_WORDS.get(alert.outcome, alert.outcome)}**")
    st.markdown(f"[Open this window on the Ticker page]({ticker_link(alert)})")
try:
    bars = load_named(alert.source, "60m").bars
    end = bars.index.get_loc(pd.Timestamp(alert.window_end))
    window = bars.iloc[end - TICKER_WINDOW_BARS + 1 : end + 1]
    loaded = resolve_model(alert.model)
except (DataError, KeyError, ValueError) as error:
    st.warning(f"The maps are stored, but the window's bars or the model cannot be read now ({error}).")
    st.image(alert.png, caption="The chart with its Grad-CAM, as stored")
    st.stop()
result = stored_explanation(alert, window["close"].to_numpy())
comparison_panel(
    loaded,
    str(loaded.folder),
    window,
    result,
    synthetic=alert.source.lower().startswith("demo:"),
    chart="candlestick",
    window_id=f"alert {alert.id}",
)
