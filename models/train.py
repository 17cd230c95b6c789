"""``python -m models.train``: train either model on the demo market, a ticker or a CSV.

Examples::

    python -m models.train --task nifty --data demo:NIFTY-DEMO --out checkpoints/nifty
    python -m models.train --task ticker --data demo:ACME --out checkpoints/acme
    python -m models.train --task ticker --data demo:ACME --pool demo:GLOBEX,demo:WAYNE --out checkpoints/pooled
    python -m models.train --task ticker --data prices.csv --image gadf --epochs 20 --out my-model
    python -m models.train --task ticker --data demo:GLOBEX --init-from models/shipped/ticker --epochs 3 --out tuned

Writes ``OUT/model.pt`` and ``OUT/card.json`` (the card records this exact
command). Refuses to replace an existing checkpoint unless ``--force``.
``--init-from CHECKPOINT`` fine-tunes: the model is the checkpoint's own
(architecture, image, size) and training starts from its weights.
Bad input exits with code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from data.cli import OneLineParser
from data.errors import DataError
from data.timestamps import DATE_ORDERS
from models.architectures import IMAGES, STEMS, ModelSpec
from models.tasks import TASK_NAMES, TASKS, task_named

DEFAULTS = {"batch_size": 64, "patience": 5, "seed": 0}  # epochs: the task's default_epochs


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m models.train",
        description=(
            "Train the NIFTY-day classifier or the ticker CNN-LSTM regressor and write a checkpoint with its card."
        ),
    )
    parser.add_argument(
        "--task", required=True, choices=TASK_NAMES, help="nifty: up/down day classifier; ticker: next-hour regressor"
    )
    parser.add_argument("--data", required=True, help="demo:SYMBOL, a CSV/Parquet path, or a Yahoo ticker")
    parser.add_argument(
        "--pool",
        help="comma-separated sources of the same kind whose windows up to the end of --data's training "
        "split are added to the training split (validation and test stay --data's own)",
    )
    all_archs = sorted({arch for task in TASKS.values() for arch in task.archs})
    parser.add_argument("--arch", choices=all_archs, help="default: resnet18 (nifty), cnn-lstm-resnet18 (ticker)")
    parser.add_argument("--image", choices=IMAGES, help="default: gadf (nifty), candlestick (ticker)")
    parser.add_argument(
        "--image-size", type=int, help="image side in pixels (default: 64 for gadf, 128 for candlestick)"
    )
    parser.add_argument(
        "--stem",
        choices=STEMS,
        help="classifiers: small (3x3 stride 1, no max-pool: 8x8 Grad-CAM cells at 64 px; default) or imagenet "
        "(torchvision's, for --imagenet-weights with --width 64)",
    )
    parser.add_argument("--width", type=int, help="base channel width of the trunk (default 16; ticker 8)")
    parser.add_argument("--epochs", type=int, help="at most this many epochs (default 30; ticker 7)")
    parser.add_argument(
        "--patience", type=int, default=DEFAULTS["patience"], help="early-stopping patience (default 5)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="default 64")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default 0.001)")
    parser.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.05 nifty, 0 ticker)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="default 0")
    parser.add_argument("--half", action="store_true", help="store the weights in float16 (half the size)")
    parser.add_argument(
        "--imagenet-weights", type=Path, help="nifty only: a local torchvision ImageNet state dict to start from"
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        help="fine-tune: start from this checkpoint's weights (its architecture, image and size are used)",
    )
    parser.add_argument("--date-order", choices=DATE_ORDERS, default="auto", help="how to read 01/02/2024 in CSV files")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    parser.add_argument("--force", action="store_true", help="replace a checkpoint already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from models.checkpoints import CARD_NAME
    from models.datasets import load_samples
    from models.training import TrainConfig, fine_tune_spec, train

    try:
        if (args.out / CARD_NAME).exists() and not args.force:
            raise ValueError(
                f"{args.out} already holds a checkpoint; choose another --out or pass --force to replace it"
            )
        if args.imagenet_weights is not None and not task_named(args.task).accepts_imagenet_weights:
            raise ValueError("--imagenet-weights applies to the nifty classifier only")
        if args.imagenet_weights is not None and args.init_from is not None:
            raise ValueError("--imagenet-weights and --init-from exclude each other: start from one set of weights")
        overrides = {
            "arch": args.arch,
            "image": args.image,
            "image_size": args.image_size,
            "stem": args.stem,
            "width": args.width,
        }
        if args.init_from is None:
            spec = ModelSpec.default(args.task, **overrides)
        else:  # the checkpoint's own model; a different --arch/--image/--image-size is refused by train()
            given = {name: value for name, value in overrides.items() if value is not None}
            spec = dataclasses.replace(fine_tune_spec(args.init_from, args.task), **given)
        config = TrainConfig(
            epochs=task_named(args.task).default_epochs if args.epochs is None else args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            patience=args.patience,
            seed=args.seed,
            half=args.half,
        )
        samples = load_samples(spec, args.data, date_order=args.date_order)
        if args.pool:
            pooled = [source.strip() for source in args.pool.split(",")]
            if not all(pooled) or len(set(pooled)) != len(pooled):
                raise ValueError(f"--pool must list distinct sources separated by commas, got {args.pool!r}")
            samples = samples.pooled_with([load_samples(spec, source, date_order=args.date_order) for source in pooled])
        prepare = None
        if args.imagenet_weights is not None:
            prepare = partial(_load_imagenet, path=args.imagenet_weights)
        command = shlex.join(["python", "-m", "models.train", *argv])
        card = train(
            spec,
            samples,
            config,
            args.out,
            command=command,
            prepare=prepare,
            progress=not args.quiet,
            init_from=args.init_from,
        )
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print(f"error: {stop}", file=sys.stderr)
        return 130
    metrics = card.metrics
    print(metrics.verdict)
    for line in baseline_lines(metrics.extra.get("baselines") or []):
        print(line)
    if "verdict_with_offset_correction" in metrics.extra:
        print("with the offset correction: " + metrics.extra["verdict_with_offset_correction"])
    print(f"checkpoint: {args.out}")
    summary = {"model": dict(metrics.model), "baseline": dict(metrics.baseline)}
    summary["baselines"] = list(metrics.extra.get("baselines") or [])
    print(json.dumps(summary))
    return 0


def baseline_lines(baselines: Sequence[dict]) -> list[str]:
    """One line per baseline of a card: the paired comparison with the model on the test split."""
    lines = []
    for entry in baselines:
        paired = entry["paired"]
        form = "+.3f" if paired["no_difference"] == 0 else ".3f"
        low, high = paired["ci95"]
        p_value = f", McNemar p = {paired['p_value']:.3g}" if paired.get("p_value") is not None else ""
        lines.append(
            f"  vs {entry['name']}: {paired['statistic']} {paired['value']:{form}} "
            f"(paired 95 % CI {low:{form}} to {high:{form}}{p_value}) — "
            + ("model better" if paired["model_better"] else "model NOT better")
        )
    return lines


def _load_imagenet(model, path: Path) -> None:
    model.load_imagenet_weights(path)


if __name__ == "__main__":
    sys.exit(main())
