"""Blank maps, Grad-CAM resolution, planted-pattern localisation and baselines: ``python -m bench.maps``.

For every shipped model on its card's data source (or ``--checkpoint DIR`` and/or ``--data
SOURCE``: any checkpoint on any demo source or bar file), over the test split's windows (the first
``--limit N`` of them when given), figures keyed by model (``nifty``, ``ticker``, or the
checkpoint folder's name):

* ``windows`` — how many test windows were explained, of how many;
* ``blank_map_share`` — per method of :data:`xai.ALL_METHODS`, the share of windows whose full-image
  map (:func:`xai.explain`) is all exactly zero; each window explained as the dashboard does by
  default (:func:`workflows.window.explain_window`: the classifier's predicted class, the
  regressor's forecast direction), 64 windows per call;
* ``near_blank_map_share`` — the share whose largest |value| is below 1e-12 × the median over
  windows of that method's largest |value| (exactly blank maps included);
* ``gradcam_cells`` — rows × columns of Grad-CAM's map at its layer (``Explanation.layer_map``)
  and ``time_steps_per_column`` (the task's sequence length / columns);
* ``gradcam_layer_live_share`` — share of the Grad-CAM layer's output values above zero, and
  ``dead_gradcam_layer_share`` — share of windows whose Grad-CAM layer output is zero everywhere
  (the cause of a blank Grad-CAM map, not the only one);
* ``localisation`` — the Evaluate page's localisation on the demo market's planted patterns
  (:func:`workflows.range_evaluation.evaluate_range` over the test split's days, ``--limit`` of
  them evenly spaced; direction +1, the page's default, for the regressor): per method the mean
  share on the planted interval, the three chances (flat map, habit, other days), the 95 %
  intervals of the excess, ``beats_all_three`` and ``beats_every_defined_chance`` (the
  other-days chance is undefined — ``null`` — when every pattern sits at the same steps, as the
  ticker's planted bar, always the window's last, does); ``available: false`` and the reason on a source
  without planted ground truth (any file) or when no evaluated window has a pattern;
* ``forecast_parts`` — regressors on the demo market: on the test windows that end on a planted
  pattern's bar, each part of the forecast (autoregression, chart, LSTM; thousandths of log10)
  signed by the pattern's direction, and the chart's share — which part forecasts the pattern;
* ``baseline`` — :func:`models.training.evaluate` on the whole test split: the strongest baseline,
  its paired comparison (statistic, value, 95 % interval, p-value, whether the model is better),
  the headline figures side by side, ``beats_baseline`` and the card's ``verdict``.

Prints as it goes; the last line is one JSON object. Runs on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.maps_figures import (
    BATCH,
    NEAR_BLANK_RATIO,
    baseline_comparison,
    blank_maps,
    forecast_parts,
    planted_localisation,
)
from data.cli import OneLineParser
from data.errors import DataError
from models.checkpoints import CheckpointError, LoadedCheckpoint, load_checkpoint
from models.datasets import card_samples, load_samples
from models.registry import SHIPPED, load_shipped
from models.training import evaluate
from xai.methods import ALL_METHODS, method_label

#: The figures of the final JSON line, each keyed by model.
FIGURES = (
    "source",
    "windows",
    "blank_map_share",
    "near_blank_map_share",
    "gradcam_cells",
    "gradcam_layer_live_share",
    "dead_gradcam_layer_share",
    "localisation",
    "forecast_parts",
    "baseline",
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bench.maps", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a checkpoint folder (as written by python -m models.train --out)")
    parser.add_argument(
        "--data", help="a data source for the model(s): demo:SYMBOL, a CSV/Parquet file (default: the card's)"
    )
    parser.add_argument(
        "--task",
        action="append",
        choices=tuple(SHIPPED),
        help="shipped model(s) to measure (repeatable; default: all; ignored with --checkpoint)",
    )
    parser.add_argument("--limit", type=int, help="at most this many test windows (>= 2) per model")
    parser.add_argument("--batch", type=int, default=BATCH, help="windows per explain call")
    return parser


def _percent(shares: dict[str, float]) -> str:
    return ", ".join(f"{method_label(key)} {100 * value:.1f} %" for key, value in shares.items())


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _print_localisation(name: str, located: dict[str, Any]) -> None:
    if not located.get("available"):
        print(f"[{name}] localisation: none — {located['reason']}", flush=True)
        return
    print(
        f"[{name}] localisation on planted patterns: {located['windows']} windows ({located['selection']}), "
        f"{located['with_pattern']} with a pattern; interval: {located['interval']}",
        flush=True,
    )
    for key, entry in located["methods"].items():
        beaten = [chance for chance, ok in entry["beats"].items() if ok]
        undefined = [chance.replace("_", " ") for chance, ok in entry["beats"].items() if ok is None]
        if entry["beats_all_three"]:
            verdict = "beats all three"
        elif entry["beats_every_defined_chance"]:
            verdict = f"beats every defined chance ({', '.join(undefined)} undefined)"
        else:
            verdict = f"beats {', '.join(beaten)} only" if beaten else "beats none"
        print(
            f"[{name}]   {method_label(key):>16}: share {fmt(entry['share'])} vs chance flat "
            f"{fmt(entry['chance_flat'])} / habit {fmt(entry['chance_habit'])} / other days "
            f"{fmt(entry['chance_other_days'])} → {verdict}",
            flush=True,
        )


def _number(value: Any, pattern: str = "{:.3g}") -> str:
    return pattern.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _print_baseline(name: str, compared: dict[str, Any], headline: Sequence[tuple[str, str, str, bool]]) -> None:
    keys = ", ".join(str(entry["key"]) for entry in compared["baselines"]) or "none"
    print(f"[{name}] baselines: {keys}; strongest: {compared['strongest_baseline']} ({compared['strongest_name']})")
    patterns = {key: pattern for key, _, pattern, _ in headline}
    for key, figure in compared["headline"].items():
        model, baseline = (_number(figure[side], patterns[key]) for side in ("model", "baseline"))
        print(f"[{name}]   {figure['label']}: model {model} vs strongest baseline {baseline}")
    paired = compared["paired"]
    if paired:
        low, high = (paired.get("ci95") or [None, None])[:2]
        print(
            f"[{name}]   paired {paired.get('statistic')}: {_number(paired.get('value'))} "
            f"(95 % CI {_number(low)} to {_number(high)}, p {_number(paired.get('p_value'))}) "
            f"→ model better: {paired.get('model_better')}"
        )
    else:
        print(f"[{name}]   no paired comparison in these metrics")
    print(f"[{name}]   beats baseline: {compared['beats_baseline']} — {compared['verdict']}", flush=True)


def measure(name: str, loaded: LoadedCheckpoint, source: str, limit: int | None, batch: int) -> dict[str, Any]:
    """Every figure of one model on one source (printed as it goes)."""
    started = time.perf_counter()
    own = source == loaded.card.data.source  # the card's own data: its pooled sources too (baselines refit)
    samples = card_samples(loaded.spec, loaded.card) if own else load_samples(loaded.spec, source)
    test = samples.indices("test")
    chosen = test[:limit] if limit else test
    print(
        f"[{name}] {loaded.spec.arch}, {loaded.spec.image} {loaded.spec.image_size} px on {source}: "
        f"{len(chosen)} of {len(test)} test windows",
        flush=True,
    )
    blanks = blank_maps(loaded, samples, chosen, batch=batch)
    shares, near = blanks.blank_share(), blanks.near_blank_share()
    rows, columns = blanks.layer_shape
    steps = loaded.spec.sequence_length
    up = int((blanks.directions > 0).sum())
    print(f"[{name}] explained as the dashboard does: {up} up, {len(chosen) - up} down", flush=True)
    print(f"[{name}] blank maps (all exactly 0): {_percent(shares)}", flush=True)
    print(f"[{name}] near blank (max |attr| < {NEAR_BLANK_RATIO:g} × median max |attr|): {_percent(near)}", flush=True)
    print(
        f"[{name}] Grad-CAM layer: {rows} × {columns} cells → {steps / columns:g} time steps per column; "
        f"{100 * blanks.layer_live_share:.1f} % of its outputs above 0, "
        f"{100 * blanks.dead_layer_share:.1f} % of windows with none",
        flush=True,
    )
    located = planted_localisation(loaded, source, samples, limit)
    _print_localisation(name, located)
    parts = forecast_parts(loaded, samples, test)
    if parts["available"]:
        print(
            f"[{name}] forecast parts on the {parts['windows']} test windows ending on a planted pattern, in its "
            f"direction (thousandths of log10): autoregression {parts['autoregression']:.2f}, chart "
            f"{parts['chart']:.2f}, LSTM {parts['sequence']:.2f} → the chart's share {parts['chart_share']:.3f}",
            flush=True,
        )
    compared = baseline_comparison(evaluate(loaded.model, samples), loaded.task.headline_metrics)
    _print_baseline(name, compared, loaded.task.headline_metrics)
    print(f"[{name}] {time.perf_counter() - started:.1f} s", flush=True)
    return {
        "source": source,
        "windows": {"explained": len(chosen), "test": len(test), "explained_up": up},
        "blank_map_share": shares,
        "near_blank_map_share": near,
        "gradcam_cells": {"rows": rows, "columns": columns, "time_steps_per_column": steps / columns},
        "gradcam_layer_live_share": blanks.layer_live_share,
        "dead_gradcam_layer_share": blanks.dead_layer_share,
        "localisation": located,
        "forecast_parts": parts,
        "baseline": compared,
    }


def _models(args: argparse.Namespace) -> list[tuple[str, LoadedCheckpoint]]:
    if args.checkpoint:
        return [(Path(args.checkpoint).resolve().name, load_checkpoint(args.checkpoint))]
    return [(task, load_shipped(task)) for task in (args.task or tuple(SHIPPED))]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return the figures of the final JSON line (figure → model → value).

    Exits with code 2 and one line on stderr on a bad argument, checkpoint or data source.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 2:
        parser.error(f"--limit must be >= 2, got {args.limit}")
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    try:
        models = _models(args)
        per_model = {
            name: measure(name, loaded, args.data or loaded.card.data.source, args.limit, args.batch)
            for name, loaded in models
        }
    except (CheckpointError, DataError) as error:  # each message says what to do
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    figures: dict[str, Any] = {name: {model: result[name] for model, result in per_model.items()} for name in FIGURES}
    figures["methods"] = list(ALL_METHODS)
    figures["limit"] = args.limit
    print(json.dumps(figures, default=_json_default))
    return figures


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
