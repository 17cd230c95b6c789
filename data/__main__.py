"""Command line of the data layer: ``python -m data describe SOURCE``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from data.cli import OneLineParser
from data.errors import DataError
from data.settings import INTERVALS
from data.timestamps import DATE_ORDERS


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m data",
        description="Inspect price sources: the demo market, CSV/Parquet files, Yahoo tickers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    describe = commands.add_parser(
        "describe",
        help="say what a source holds and what was rejected",
        description=(
            "Load SOURCE and print what was found: layout, rows, first and last timestamp, interval, "
            "gaps, rejected rows by reason. The last line is one JSON object."
        ),
    )
    describe.add_argument(
        "source", help="demo:SYMBOL (e.g. demo:ACME, demo:NIFTY-DEMO), a CSV/Parquet path, or a ticker"
    )
    describe.add_argument(
        "--interval",
        choices=INTERVALS,
        help="bar interval: fetched at this interval (demo, ticker) or aggregated to it (files with finer bars)",
    )
    describe.add_argument("--date-order", choices=DATE_ORDERS, default="auto", help="how to read 01/02/2024 in files")
    return parser


def describe(source: str, interval: str | None, date_order: str) -> dict[str, object]:
    """Load a source and print a readable description; return the summary."""
    from data.sources import load_source

    loaded = load_source(source, interval, date_order=date_order)
    summary = loaded.summary()
    print(f"source     {summary['source']}" + ("  [SYNTHETIC demo data]" if loaded.synthetic else ""))
    print(f"layout     {summary['layout']}")
    print(f"rows       {summary['rows']:,}")
    print(f"first      {summary['first']}")
    print(f"last       {summary['last']}")
    print(f"interval   {summary['interval']}   timezone {summary['timezone'] or 'not given (naive)'}")
    print(f"gaps       {summary['gaps']} missing stretch(es) within sessions")
    print(f"rejected   {summary['rejected_rows']} row(s)")
    for reason, count in loaded.rejected.items():
        print(f"  - {reason}: {count} (e.g. rows {loaded.rejected_examples.get(reason, [])})")
    for note in loaded.notes:
        print(f"note       {note}")
    if loaded.cache_age is not None:
        print(
            f"cache      served a cached copy {summary['cache_age_s']} s old"
            + (f" because {loaded.stale_reason}" if loaded.stale_reason else "")
        )
    print(json.dumps(summary))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        describe(args.source, args.interval, args.date_order)
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
