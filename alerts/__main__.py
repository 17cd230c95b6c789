"""``python -m alerts``: the watchlist and its checker from the command line.

``add`` / ``list`` / ``remove`` edit the watchlist; ``check`` runs one check now; ``watch`` checks
every 15 minutes while each symbol's market is open (one checker per store); ``replay`` runs the
demo market over a period on a simulated clock and prints precision and recall. ``--db`` picks the
store (default ``$CHART_XAI_ALERTS_DB`` or ``<cache>/alerts.sqlite``). Bad input exits with code 2
and one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from alerts.entries import DIRECTIONS, SHIPPED_MODEL, WatchEntry
from alerts.store import AlertStore, StoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alerts", description=__doc__.split("\n\n")[1])
    parser.add_argument("--db", type=Path, default=None, help="the alert store (SQLite file)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="watch a symbol")
    add.add_argument("source", help="demo:ACME, a Yahoo ticker, or upload:<digest>")
    add.add_argument("--threshold", type=float, required=True, help="predicted move in %% that fires an alert")
    add.add_argument("--direction", choices=DIRECTIONS, default="both")
    add.add_argument("--model", default=SHIPPED_MODEL, help="'shipped' or a trained ticker model's name")
    add.add_argument("--calendar", default="", help="exchange calendar (XNYS, XBOM…), 'demo' or 'always'")
    commands.add_parser("list", help="the watchlist and the newest alerts")
    remove = commands.add_parser("remove", help="stop watching an entry (its alerts stay)")
    remove.add_argument("id", type=int)
    check = commands.add_parser("check", help="run one check now")
    check.add_argument("--all", action="store_true", help="check every entry, its market open or not")
    check.add_argument("--notify-config", type=Path, default=None, help="an apprise configuration file")
    watch = commands.add_parser("watch", help="check every 15 minutes until stopped (Ctrl-C)")
    watch.add_argument("--notify-config", type=Path, default=None, help="an apprise configuration file")
    replay = commands.add_parser("replay", help="replay the demo market over a period")
    replay.add_argument("--from", dest="first", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    replay.add_argument("--to", dest="last", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        store = AlertStore(args.db)
        return _run(args, store)
    except (StoreError, ValueError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, store: AlertStore) -> int:
    if args.command == "add":
        from alerts.calendars import calendar_for

        entry = WatchEntry(args.source, args.threshold, args.direction, args.model, args.calendar)
        calendar_for(entry.source, entry.calendar)  # a calendar that does not exist is refused now
        print(f"watching #{store.add_entry(entry).id}: {entry.source} at {entry.threshold_pct:g} % ({entry.direction})")
    elif args.command == "remove":
        store.remove_entry(args.id)
        print(f"removed #{args.id}")
    elif args.command == "list":
        _print_list(store)
    elif args.command == "check":
        from alerts.check import run_check
        from alerts.notify import Notifier

        report = run_check(
            store, dt.datetime.now(dt.UTC), notify=Notifier.from_store(store, args.notify_config), only_due=not args.all
        )
        _print_report(report)
    elif args.command == "watch":
        from alerts.check import run_check
        from alerts.notify import Notifier
        from alerts.service import CheckerRunningError, watch

        notifier = Notifier.from_store(store, args.notify_config)
        try:
            watch(store, check=lambda s, when: run_check(s, when, notify=notifier), on_report=_print_report)
        except CheckerRunningError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    elif args.command == "replay":
        from alerts.replay import replay

        summary = replay(store, args.first, args.last)
        print(f"{summary.checks} checks, {summary.alerts} alerts")
        for entry in store.entries(enabled_only=True):
            counts = summary.counts.get(entry.id)
            if counts is not None:
                print(
                    f"#{entry.id} {entry.source} at {entry.threshold_pct:g} %: {counts.alerts} alerts, "
                    f"{counts.correct} right, {counts.events} moves reached the threshold; precision "
                    f"{counts.precision:.2f}, recall {counts.recall:.2f}"
                )
    return 0


def _print_list(store: AlertStore) -> None:
    for entry in store.entries():
        state = "" if entry.enabled else " (off)"
        failing = f" — failing: {entry.failing}" if entry.failing else ""
        print(f"#{entry.id} {entry.source} {entry.threshold_pct:g} % {entry.direction} [{entry.model}]{state}{failing}")
    for alert in store.alerts(limit=10, payload=False):
        outcome = f", {alert.outcome} ({alert.actual_pct:+.2f} %)" if alert.outcome else ""
        print(f"  alert {alert.id}: {alert.source} after {alert.window_end}: {alert.forecast_pct:+.2f} %{outcome}")


def _print_report(report) -> None:
    print(
        f"{report.clock:%Y-%m-%d %H:%M} UTC: {report.entries_due} entries due, {report.windows} windows, "
        f"{len(report.alerts)} new alerts, {report.outcomes} outcomes, {report.seconds:.2f} s"
        + (f"; errors: {'; '.join(report.errors)}" if report.errors else ""),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
