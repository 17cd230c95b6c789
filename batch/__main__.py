"""``python -m batch explain``: a universe's windows explained into a dataset, here or on Ray.

Examples: ``python -m batch explain demo:* --task ticker --from 2024-09-01 --to 2024-12-31 --out runs/q4``;
the same on a Ray cluster: ``... --engine ray --address auto --workers 8``. A rerun with the same
arguments skips the sources already written. Bad input exits with code 2 and one line on stderr.
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
    run.add_argument("--trust", action="store_true", help="also score every map (deletion, insertion, infidelity)")
    run.add_argument(
        "--reliance",
        action="store_true",
        help="demo market: also each pattern window's answer without its pattern (≈ 0.2 s a pattern)",
    )
    run.add_argument("--out", type=Path, required=True, help="the dataset's folder")
    run.add_argument("--engine", choices=("local", "ray"), default="local", help="local (default) or ray")
    run.add_argument(
        "--address", default=None, help="ray: the cluster (auto, ray://host:10001); default: start one here"
    )
    run.add_argument("--workers", type=int, default=2, help="ray: actors, each loading the model once (default 2)")
    run.add_argument("--cpus-per-worker", type=float, default=1.0, help="ray: CPUs (torch threads) per actor")
    run.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when there is a GPU")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch
    from tqdm import tqdm

    from batch.on_ray import explain_universe_on_ray
    from batch.run import RunSettings, explain_universe, resolve_checkpoint
    from batch.universe import expand_universe
    from models.checkpoints import CheckpointError
    from xai.methods import METHODS

    try:
        methods = [key.strip() for key in args.methods.split(",") if key.strip()]
        unknown = [key for key in methods if key not in METHODS]
        if unknown or not methods:
            raise ValueError(f"methods must be some of {', '.join(ALL_METHODS)}, got {args.methods!r}")
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        sources = expand_universe(args.sources, args.task)
        settings = RunSettings(
            args.task, args.model, args.first, args.last, tuple(methods), args.batch, args.trust, device, args.reliance
        )
        loaded = resolve_checkpoint(args.task, args.model, device)
        if args.engine == "ray":
            with tqdm(desc="sources", unit="source", total=len(sources), disable=args.quiet) as bar:
                summary = explain_universe_on_ray(
                    loaded, settings, sources, args.out, address=args.address, workers=args.workers,
                    cpus_per_worker=args.cpus_per_worker, gpus_per_worker=1.0 if device == "cuda" else 0.0,
                    progress=lambda outcome: bar.update(1),
                )  # fmt: skip
        else:
            with tqdm(desc="windows", unit="window", disable=args.quiet) as bar:
                summary = explain_universe(
                    loaded, args.model, sources, args.out, first=args.first, last=args.last, methods=methods,
                    batch=args.batch, trust=args.trust, device=device, reliance=args.reliance, progress=bar.update,
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
