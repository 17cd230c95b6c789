"""Command line of the models: ``python -m models describe CHECKPOINT``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from data.cli import OneLineParser


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m models",
        description="Inspect model checkpoints (a folder holding model.pt and card.json).",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    describe = commands.add_parser(
        "describe",
        help="validate a checkpoint fully and print its model card",
        description=(
            "Load CHECKPOINT the way the dashboard does (weights only, nothing executed; SHA-256, spec and "
            "state dict checked against the card) and print its card as indented JSON. The last line is the "
            "card again as one JSON object. Unsafe, corrupted or mismatched checkpoints are refused."
        ),
    )
    describe.add_argument(
        "checkpoint", help="checkpoint folder (as written by python -m models.train --out) or its model.pt"
    )
    return parser


def describe(checkpoint: str) -> dict[str, object]:
    """Fully load ``checkpoint`` and print its card; return the card."""
    from models.checkpoints import load_checkpoint

    card = load_checkpoint(checkpoint).card.to_json()
    print(json.dumps(card, indent=2))
    print(json.dumps(card))
    return card


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from models.checkpoints import CheckpointError

    try:
        describe(args.checkpoint)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
