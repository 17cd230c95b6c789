"""The demo market replayed for a class: a simulated clock runs the checker over a chosen period.

The demo's future is known, so every alert's outcome is filled in as the replay passes its next
bar, and the replay ends with precision and recall over every window it evaluated — the What-if
page's rule (:func:`models.what_if.alert_table`) on the same forecasts, so the two agree for the
same model, threshold and period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from alerts.calendars import calendar_for
from alerts.check import CHECK_EVERY_MINUTES, CheckReport, is_due, load_bars, run_check
from alerts.entries import WatchEntry
from alerts.store import AlertStore
from data.sources import DEMO_PREFIX
from models.what_if import AlertCounts, alert_table

#: The longest replay, in calendar days.
MAX_REPLAY_DAYS = 92


@dataclasses.dataclass(frozen=True)
class ReplaySummary:
    """A replay's figures per watch entry: the What-if page's rule, counting only the entry's
    direction's alerts and moves for ``rises`` and ``falls``."""

    checks: int
    alerts: int
    counts: dict[int, AlertCounts]


def replay_ticks(first: dt.date, last: dt.date, every_minutes: int = CHECK_EVERY_MINUTES) -> list[dt.datetime]:
    """Every quarter hour (UTC) from ``first`` 00:00 to the end of ``last``.

    Raises:
        ValueError: ``last`` before ``first``, or a period over :data:`MAX_REPLAY_DAYS` days.
    """
    if last < first:
        raise ValueError(f"the replay's end ({last}) must not be before its start ({first})")
    if (last - first).days + 1 > MAX_REPLAY_DAYS:
        raise ValueError(f"a replay covers at most {MAX_REPLAY_DAYS} days, got {(last - first).days + 1}")
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    count = int((end - start) / dt.timedelta(minutes=every_minutes))
    return [start + dt.timedelta(minutes=every_minutes * i) for i in range(count + 1)]


def replay(
    store: AlertStore,
    first: dt.date,
    last: dt.date,
    *,
    on_report: Callable[[CheckReport], None] | None = None,
    check: Callable[..., CheckReport] = run_check,
) -> ReplaySummary:
    """Run the store's demo entries' checks over ``first`` … ``last`` on a simulated clock.

    Raises:
        ValueError: a bad period, or an enabled entry that is not on the demo market.
    """
    entries = store.entries(enabled_only=True)
    live = [entry.source for entry in entries if not entry.source.lower().startswith(DEMO_PREFIX)]
    if live:
        raise ValueError(
            f"a replay runs on the demo market only; disable or remove {', '.join(sorted(set(live)))} "
            "in this store, or replay into another store (--db)"
        )
    hours = [calendar_for(entry.source, entry.calendar) for entry in entries]
    checks = alerts = 0
    for tick in replay_ticks(first, last):
        if not any(is_due(market, tick) for market in hours):
            continue  # the simulated clock skips the nights and weekends without a record
        report = check(store, tick)
        checks += 1
        alerts += len(report.alerts)
        if on_report is not None:
            on_report(report)
    return ReplaySummary(checks=checks, alerts=alerts, counts=replay_counts(store, entries, first, last))


def replay_counts(
    store: AlertStore, entries: Sequence[WatchEntry], first: dt.date, last: dt.date
) -> dict[int, AlertCounts]:
    """Per entry: alerts, events, correct, precision and recall over the windows its checks between
    ``first`` and ``last`` (simulated clock) evaluated, whose next bar is known — the What-if rule at
    the entry's threshold."""
    counts = {}
    for entry in entries:
        forecasts = store.evaluations(entry.id)
        ends = pd.to_datetime(forecasts["window_end"])
        window = (ends >= pd.Timestamp(first) - pd.Timedelta(days=4)) & (
            ends < pd.Timestamp(last) + pd.Timedelta(days=1)
        )
        forecasts = forecasts[window.to_numpy()]
        if forecasts.empty:
            continue
        bars = load_bars(entry.source, "60m").bars
        ends = pd.DatetimeIndex(pd.to_datetime(forecasts["window_end"]))
        position = bars.index.get_indexer(ends)
        known = (position >= 0) & (position + 1 < len(bars))
        close = bars["close"].to_numpy(dtype=np.float64)
        actual = 100.0 * (close[position[known] + 1] / close[position[known]] - 1.0)
        predicted = forecasts["forecast_pct"].to_numpy()[known]
        if entry.direction != "both":  # only moves the entry's way count, as alerts and as events
            keep = np.maximum if entry.direction == "rises" else np.minimum
            predicted, actual = keep(predicted, 0.0), keep(actual, 0.0)
        counts[entry.id] = alert_table(predicted, actual, entry.threshold_pct)
    return counts
