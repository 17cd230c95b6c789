"""``python -m batch explain``: a universe's windows explained into a dataset (local engine).

Example: ``python -m batch explain demo:* --task ticker --from 2024-09-01 --to 2024-12-31 --out runs/q4``.
A rerun with the same arguments skips the sources already written. Bad input exits with code 2
and one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from xai.methods import ALL_METHODS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m batch", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("explain", help="explain every window of every source")
    run.add_argument("sources", nargs="+", help="demo:*, demo:ACME, files, a folder of files, tickers")
    run.add_argument("--task", default="ticker", help="ticker, nifty or nifty-rest (default ticker)")
    run.add_argument("--model", default="shipped", help="'shipped' or a model trained here (default shipped)")
    run.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    run.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    run.add_argument("--methods", default=",".join(ALL_METHODS), help="comma-separated method keys")
    run.add_argument("--batch", type=int, default=64, help="windows per batched pass (default 64)")
    run.add_argument("--out", type=Path, required=True, help="the dataset's folder")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tqdm import tqdm

    from batch.run import explain_universe, resolve_checkpoint
    from batch.universe import expand_universe
    from models.checkpoints import CheckpointError
    from xai.methods import METHODS

    try:
        methods = [key.strip() for key in args.methods.split(",") if key.strip()]
        unknown = [key for key in methods if key not in METHODS]
        if unknown or not methods:
            raise ValueError(f"methods must be some of {', '.join(ALL_METHODS)}, got {args.methods!r}")
        if args.batch < 1:
            raise ValueError(f"batch must be >= 1, got {args.batch}")
        sources = expand_universe(args.sources, args.task)
        loaded = resolve_checkpoint(args.task, args.model)
        with tqdm(desc="windows", unit="window", disable=args.quiet) as bar:
            summary = explain_universe(
                loaded, args.model, sources, args.out, first=args.first, last=args.last, methods=methods,
                batch=args.batch, progress=bar.update,
            )  # fmt: skip
    except (ValueError, CheckpointError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{len(summary.written)} sources written, {len(summary.skipped)} already done, {len(summary.failed)} failed; "
        f"{summary.windows} windows in {summary.seconds:.1f} s ({summary.windows_per_s:.1f} windows/s) → {args.out}"
    )
    for source, reason in summary.failed.items():
        print(f"  failed: {source}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
