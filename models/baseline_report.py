"""Every baseline of a task fitted on the training split and set against the model on the test split.

:func:`judge_classifier` and :func:`judge_regressor` add to a task's test report (from
:func:`models.evaluation.classifier_report` / :func:`~models.evaluation.regressor_report`):

* ``baselines`` — one entry per baseline (:mod:`models.baselines`): ``key``, ``name``,
  ``description``, its test figures under the same names as the model's (``accuracy``, ``auc``…;
  ``rmse_log``, ``mape_pct``, ``direction_accuracy``, ``alerts``…), its fitted ``params`` and
  ``paired`` — the paired comparison with the model (:mod:`models.paired`);
* ``strongest_baseline`` — the key of the one with the best test figure; ``baseline`` — its entry;
* ``beats_baseline`` — the model beats *every* baseline (paired interval on its side);
* ``verdict`` — one sentence; names each baseline the model does not beat.

:func:`baseline_table` lays a card's entries out for a page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.baselines import Baseline
from models.evaluation import percent_change, point_metrics, roc_auc, threshold_alerts, wilson_interval
from models.paired import compare_accuracy, compare_rmse, strongest, verdict

if TYPE_CHECKING:
    from models.card import ModelCard
    from models.datasets import TaskSamples
    from models.tasks import Task


def baseline_table(card: ModelCard) -> pd.DataFrame:
    """The model and each baseline of ``card`` on the test split: headline figures and the paired comparison.

    One row per entry (the model first); empty comparison cells for the model and for an old card
    that records only one baseline without a paired comparison.
    """
    from models.tasks import task_named

    task = task_named(card.spec.task)
    metrics = card.metrics
    entries = metrics.extra.get("baselines") or [dict(metrics.baseline)]
    strongest_key = metrics.extra.get("strongest_baseline")
    rows = [{"": "model", **_headline(task, metrics.model), "paired comparison (95 % CI)": "", "model better": ""}]
    for entry in entries:
        paired = entry.get("paired")
        form = "" if paired is None else ("+.3f" if paired["no_difference"] == 0 else ".3f")
        rows.append(
            {
                "": entry.get("name", "baseline") + (" — strongest" if entry.get("key") == strongest_key else ""),
                **_headline(task, entry),
                "paired comparison (95 % CI)": ""
                if paired is None
                else (
                    f"{paired['statistic']}: {paired['value']:{form}} "
                    f"({paired['ci95'][0]:{form}} to {paired['ci95'][1]:{form}})"
                ),
                "model better": "" if paired is None else ("yes" if paired["model_better"] else "no"),
            }
        )
    return pd.DataFrame(rows)


def _headline(task: Task, figures: Mapping[str, Any]) -> dict[str, str]:
    return {
        label: "n/a" if figures.get(key) is None else form.format(figures[key])
        for key, label, form, _ in task.headline_metrics
    }


def fit_baselines(
    kinds: Sequence[type[Baseline]], windows: np.ndarray, targets: np.ndarray, samples: TaskSamples
) -> list[Baseline]:
    """Each baseline kind fitted on the training split of ``windows`` / ``targets`` (validation may tune it)."""
    train, validation = samples.indices("train"), samples.indices("validation")
    held = (windows[validation], targets[validation])
    return [kind.fit(windows[train], targets[train], validation=held) for kind in kinds]


def _entry(baseline: Baseline) -> dict[str, Any]:
    return {"key": baseline.key, "name": baseline.name, "description": baseline.describe(), "params": baseline.params()}


def _finish(report: dict[str, Any], entries: list[dict[str, Any]], model_words: str, figure: str, lower: bool) -> None:
    best = strongest(entries, figure, lower)
    beats, sentence = verdict(model_words, entries, best)
    report.update(
        baselines=entries, strongest_baseline=best["key"], baseline=best, beats_baseline=beats, verdict=sentence
    )


def judge_classifier(
    report: dict[str, Any], baselines: Sequence[Baseline], windows: np.ndarray, labels: np.ndarray, prob_up: np.ndarray
) -> dict[str, Any]:
    """``report`` (a classifier report of the test split) with every baseline judged on the same days.

    Args:
        baselines: fitted on the training split.
        windows, labels: the test split's baseline inputs and 0/1 labels.
        prob_up: the model's P(up) on them (it calls "up" above 0.5, as the report does).
    """
    truth = np.asarray(labels) == 1
    model_hits = (np.asarray(prob_up) > 0.5) == truth
    entries = []
    for baseline in baselines:
        probability = baseline.predict(windows)
        hits = (probability > 0.5) == truth
        auc = roc_auc(truth.astype(int), probability)
        entries.append(
            {
                **_entry(baseline),
                "accuracy": float(hits.mean()),
                "accuracy_ci95": list(wilson_interval(int(hits.sum()), len(hits))),
                "auc": None if np.isnan(auc) else auc,
                "paired": compare_accuracy(model_hits, hits).to_json(),
            }
        )
    model = report["model"]
    low, high = model["accuracy_ci95"]
    _finish(report, entries, f"accuracy {model['accuracy']:.3f} (95 % CI {low:.3f}–{high:.3f})", "accuracy", False)
    return report


def judge_regressor(
    report: dict[str, Any],
    baselines: Sequence[Baseline],
    windows: np.ndarray,
    target: np.ndarray,
    predicted: np.ndarray,
    *,
    thresholds: Sequence[float],
    block: int,
) -> dict[str, Any]:
    """``report`` (a regressor report of the test split) with every baseline judged on the same windows.

    Args:
        baselines: fitted on the training split.
        windows: the test split's ``(N, W)`` log10 closes; ``target`` their next log10 close.
        predicted: the model's forecasts of it.
        thresholds, block: the alert thresholds and bootstrap block of the report.
    """
    last = windows[:, -1]
    actual_up = target > last
    model_sq = (predicted - target) ** 2
    entries = []
    for baseline in baselines:
        forecast = baseline.predict(windows)
        figures = point_metrics(target, forecast)
        entries.append(
            {
                **_entry(baseline),
                **figures,
                "direction_accuracy": float(np.mean((forecast > last) == actual_up)),
                "alerts": threshold_alerts(
                    percent_change(forecast, last), percent_change(target, last), tuple(thresholds)
                ),
                "paired": compare_rmse(model_sq, (forecast - target) ** 2, block=block).to_json(),
            }
        )
    model = report["model"]
    low, high = model["rmse_log_ci95"]
    words = f"RMSE {model['rmse_log']:.4g} log10 (95 % CI {low:.4g}–{high:.4g})"
    _finish(report, entries, words, "rmse_log", True)
    return report
