"""Honest metrics for the two models, each set against the baseline it has to beat.

NumPy and SciPy (no torch, no Streamlit, no scikit-learn). Every report is JSON-ready:
Python ``float``/``int``/``bool``/``str``, lists and dicts only, with NaN written
as ``None``, so it goes straight into a model card (``card.json``).

* NIFTY classifier (up/down day): :func:`classifier_report` — accuracy with a
  Wilson 95 % interval (:func:`wilson_interval`), ROC AUC (:func:`roc_auc`) and
  the confusion matrix, against always predicting the majority class of the
  *training* split.
* Ticker regressor (next-hour log10 close): :func:`regressor_report` — RMSE in
  log10 and price units, MAPE, direction accuracy and alert precision/recall per
  threshold, against persistence (next close = last close), with moving-block
  bootstrap intervals (:func:`block_bootstrap_indices`). The alert rule itself
  is :func:`count_alerts`.
* The CNN-LSTM paper's post-hoc offset correction: :mod:`models.offset_correction`
  (:class:`OffsetCorrection`, re-exported here).

Rules used throughout:

* **Direction.** A window is *up* when its close rises strictly; a zero move
  counts as *down* (not up). The same rule applies to the actual move, to the
  model's forecast move and to the baseline, so a forecast of exactly no change
  is a "down" call.
* **Percent change** of a log10 close ``x`` from the window's last log10 close
  ``last`` is ``100 * (10**(x - last) - 1)``.
* **Majority class / direction** of the training split: "up" when at least half
  of the training windows are up (a tie goes to "up"), else "down".

Bad input raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with
a message naming the parameter, the rule and the value received.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from data.checks import binary_labels, check_int, check_real, real_vector, same_length

#: The 97.5 % point of the standard normal distribution (two-sided 95 %).
Z_95 = 1.959964
#: Default alert thresholds, in percent.
DEFAULT_THRESHOLDS = (0.5, 1.0, 1.5, 2.0)
#: Bootstrap resamples are drawn this many at a time (bounds memory at chunk × N indices).
_BOOT_CHUNK = 100


# --------------------------------------------------------------------------- JSON helpers


def _num(value: Any) -> float | None:
    """A Python float, or ``None`` for NaN/inf/None (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _interval(low_high: Sequence[Any]) -> list[float | None]:
    return [_num(low_high[0]), _num(low_high[1])]


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


# --------------------------------------------------------------------------- classifier


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    ``centre = (p + z²/2n) / (1 + z²/n)``,
    ``half = z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²)``, returned as
    ``(centre − half, centre + half)`` clipped to [0, 1]. With the default ``z`` it is
    the 95 % interval. ``n = 0`` gives ``(nan, nan)``.
    """
    n = check_int(n, "n", minimum=0)
    successes = check_int(successes, "successes", minimum=0)
    if successes > n:
        raise ValueError(f"successes must be <= n ({n}), got {successes}")
    z = check_real(z, "z")
    if z <= 0:
        raise ValueError(f"z must be > 0, got {z}")
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # The ends are exactly 0 at 0 successes and exactly 1 at n; say so without rounding error.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def roc_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve by the Mann–Whitney U statistic.

    Args:
        labels: ``(N,)`` of 0/1 (1 = the positive class, "up").
        scores: ``(N,)`` finite floats; higher means more likely positive.

    Returns:
        ``U / (n_pos · n_neg)`` with average ranks for ties, so a tied
        (positive, negative) pair counts one half: the probability that a random
        positive scores above a random negative. NaN when only one class is present.
    """
    positive = binary_labels(labels, "labels")
    scores = real_vector(scores, "scores")
    same_length(scores, "scores", positive, "labels")
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = stats.rankdata(scores)  # average ranks for ties
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _majority_is_up(up_share: float) -> bool:
    return up_share >= 0.5


def classifier_report(
    labels: Any,
    prob_up: Any,
    *,
    train_labels: Any,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Accuracy, its Wilson 95 % interval, AUC and confusion matrix, against the majority class.

    Args:
        labels: ``(N,)`` int {0, 1}, the true test labels (1 = up day), N >= 2.
        prob_up: ``(N,)`` float in [0, 1], the model's probability of "up".
        train_labels: ``(M,)`` int {0, 1}, the *training* split's labels; the baseline
            always predicts their majority class ("up" on a tie).
        threshold: the model predicts "up" when ``prob_up > threshold`` (strictly, so
            at 0.5 it agrees with an argmax over the (down, up) logits, which picks
            "down" on an exact tie).

    Returns:
        A JSON-ready dict::

            {"n": N,
             "model": {"accuracy", "accuracy_ci95": [low, high], "auc",
                       "confusion": [[tn, fp], [fn, tp]]},   # rows true down/up, cols predicted down/up
             "baseline": {"name", "predicts": "up"|"down", "accuracy", "accuracy_ci95", "auc"},
             "beats_baseline": bool, "verdict": str}

        ``auc`` is ``None`` when the test labels hold one class only; the baseline's
        constant score has AUC 0.5. ``beats_baseline`` is deliberately strict: it is
        true only when the *lower* end of the model's accuracy interval is above the
        baseline's accuracy, i.e. the model is better than the baseline beyond
        sampling noise, not merely on the point estimate.
    """
    truth = binary_labels(labels, "labels", min_len=2)
    prob = real_vector(prob_up, "prob_up", min_len=2)
    same_length(prob, "prob_up", truth, "labels")
    bad = np.flatnonzero((prob < 0) | (prob > 1))
    if bad.size:
        raise ValueError(f"prob_up must lie in [0, 1], got {prob[bad[0]]} at index {bad[0]}")
    train = binary_labels(train_labels, "train_labels", min_len=1)
    threshold = check_real(threshold, "threshold")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")

    n = truth.size
    predicted = prob > threshold
    tn = int(np.sum(~truth & ~predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    tp = int(np.sum(truth & predicted))
    accuracy = (tn + tp) / n
    accuracy_ci = wilson_interval(tn + tp, n)

    baseline_up = _majority_is_up(float(train.mean()))
    baseline_hits = int(np.sum(truth == baseline_up))
    baseline_accuracy = baseline_hits / n
    baseline_ci = wilson_interval(baseline_hits, n)
    predicts = "up" if baseline_up else "down"

    beats = bool(accuracy_ci[0] > baseline_accuracy)
    verdict = (
        f"accuracy {accuracy:.2f} (95 % CI {accuracy_ci[0]:.2f}–{accuracy_ci[1]:.2f}) "
        f"vs {baseline_accuracy:.2f} for always predicting '{predicts}': "
        + ("beats the baseline" if beats else "does NOT beat the baseline")
    )
    return {
        "n": n,
        "model": {
            "accuracy": float(accuracy),
            "accuracy_ci95": _interval(accuracy_ci),
            "auc": _num(roc_auc(truth.astype(int), prob)),
            "confusion": [[tn, fp], [fn, tp]],
        },
        "baseline": {
            "name": "majority class of the training split",
            "predicts": predicts,
            "accuracy": float(baseline_accuracy),
            "accuracy_ci95": _interval(baseline_ci),
            "auc": _num(roc_auc(truth.astype(int), np.full(n, 0.5))),
        },
        "beats_baseline": beats,
        "verdict": verdict,
    }


# --------------------------------------------------------------------------- regressor


#: Blocks a resample joins at least: a block as long as the data resamples only rotations of it,
#: and every interval it gives has zero width (a 29-window test split with 50-window blocks did).
MIN_BLOCKS = 4


def usable_block(block: int, n: int) -> int:
    """``block`` shortened, where needed, so that a resample of ``n`` windows joins :data:`MIN_BLOCKS` blocks."""
    return max(1, min(block, n // MIN_BLOCKS))


def block_bootstrap_indices(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Index resamples of the circular moving-block bootstrap (Politis & Romano, 1992).

    Each resample joins ``ceil(n / block)`` blocks of ``block`` consecutive windows,
    each block starting at a uniformly drawn window and wrapping from the last
    window to the first (circular, so every window is equally likely to be drawn),
    cut to length ``n``. Blocks keep the serial correlation of neighbouring
    windows, which overlap in time.

    Returns:
        ``(n_boot, n)`` int64 indices into the original windows.
    """
    n = check_int(n, "n", minimum=1)
    block = check_int(block, "block", minimum=1)
    n_boot = check_int(n_boot, "n_boot", minimum=1)
    if block > n:
        raise ValueError(f"block must be <= the number of windows ({n}), got {block}")
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    indices = (starts[:, :, None] + np.arange(block)) % n
    return indices.reshape(n_boot, n_blocks * block)[:, :n]


def percent_change(log10_close: np.ndarray, last_log10: np.ndarray) -> np.ndarray:
    """``100 · (10^(log10_close − last_log10) − 1)``: the move from the last close, in percent."""
    return 100.0 * (np.power(10.0, log10_close - last_log10) - 1.0)


def count_alerts(predicted_pct: Any, actual_pct: Any, thresholds: Any) -> dict[str, np.ndarray]:
    """The alert rule, counted at every threshold at once (sort once, then binary search).

    At threshold ``t`` (percent, > 0) an **alert** fires when ``|predicted| >= t``; an
    **event** is a window whose actual move has ``|actual| >= t``; an alert is **correct**
    when it fires on an event of the same sign, and **wrong-sign** when it fires on an
    event of the opposite sign. The rest of the alerts (``alerts − correct − wrong_sign``)
    are false alarms: the actual move stayed below ``t``.

    Args:
        predicted_pct: ``(N,)`` finite forecast moves in percent.
        actual_pct: ``(N,)`` finite actual moves in percent.
        thresholds: ``(T,)`` finite thresholds in percent, each > 0, in any order.

    Returns:
        ``{"alerts", "events", "correct", "wrong_sign"}``, each ``(T,)`` int64 aligned with
        ``thresholds``. Costs ``O((N + T) log N)``.
    """
    predicted = real_vector(predicted_pct, "predicted_pct")
    actual = real_vector(actual_pct, "actual_pct")
    same_length(actual, "actual_pct", predicted, "predicted_pct")
    levels = real_vector(np.atleast_1d(np.asarray(thresholds)), "thresholds")
    bad = np.flatnonzero(levels <= 0)
    if bad.size:
        raise ValueError(f"thresholds must be > 0 (percent), got {levels[bad[0]]:g} at index {bad[0]}")
    # Both |predicted| >= t and |actual| >= t exactly when their minimum is >= t.
    both = np.minimum(np.abs(predicted), np.abs(actual))
    same_sign = np.sign(predicted) == np.sign(actual)

    def at_or_above(values: np.ndarray) -> np.ndarray:
        ordered = np.sort(values)
        return (ordered.size - np.searchsorted(ordered, levels, side="left")).astype(np.int64)

    return {
        "alerts": at_or_above(np.abs(predicted)),
        "events": at_or_above(np.abs(actual)),
        "correct": at_or_above(both[same_sign]),
        "wrong_sign": at_or_above(both[~same_sign]),
    }


def threshold_alerts(
    predicted_pct: np.ndarray, actual_pct: np.ndarray, thresholds: tuple[float, ...]
) -> dict[str, Any]:
    counts = count_alerts(predicted_pct, actual_pct, np.asarray(thresholds, dtype=np.float64))
    table: dict[str, Any] = {}
    for i, t in enumerate(thresholds):
        n_alerts, n_events, n_correct = (int(counts[key][i]) for key in ("alerts", "events", "correct"))
        table[str(t)] = {
            "threshold_pct": t,
            "alerts": n_alerts,
            "events": n_events,
            "correct": n_correct,
            "precision": n_correct / n_alerts if n_alerts else None,
            "recall": n_correct / n_events if n_events else None,
        }
    return table


def point_metrics(target: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    price_target = np.power(10.0, target)
    price_predicted = np.power(10.0, predicted)
    return {
        "rmse_log": float(np.sqrt(np.mean((predicted - target) ** 2))),
        "rmse_price": float(np.sqrt(np.mean((price_predicted - price_target) ** 2))),
        "mape_pct": float(np.mean(np.abs(price_predicted - price_target) / price_target) * 100.0),
    }


def _check_thresholds(thresholds: Any) -> tuple[float, ...]:
    if isinstance(thresholds, str | bytes) or not isinstance(thresholds, Sequence | np.ndarray):
        raise TypeError(f"thresholds must be a sequence of numbers, got {thresholds!r}")
    values = tuple(check_real(t, "thresholds") for t in thresholds)
    if not values:
        raise ValueError("thresholds must hold at least one value, got none")
    for t in values:
        if t <= 0:
            raise ValueError(f"thresholds must be > 0 (percent), got {t}")
    if len(set(values)) != len(values):
        raise ValueError(f"thresholds must not repeat, got {list(values)}")
    return values


def regressor_report(
    target_log10: Any,
    predicted_log10: Any,
    last_log10: Any,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    train_up_share: float,
    block: int = 50,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Error, direction and alert metrics of the regressor, against persistence.

    Args:
        target_log10: ``(N,)`` float64, the true next log10 close of each window (N >= 2).
        predicted_log10: ``(N,)`` float64, the model's forecast of it.
        last_log10: ``(N,)`` float64, the log10 close of each window's last bar.
        thresholds: alert thresholds in percent (> 0). The model alerts at ``t`` when
            its forecast move satisfies ``|pct| >= t``; an *event* is an actual move
            with ``|pct| >= t``; a *correct* alert is an alert on an event of the same
            sign. ``precision = correct / alerts`` (None without alerts),
            ``recall = correct / events`` (None without events).
        train_up_share: the share of up windows in the *training* split, in [0, 1];
            persistence forecasts no change and so has no direction, so the baseline's
            direction accuracy is that of always calling the training split's majority
            direction ("up" on a tie; see ``baseline.direction_rule``).
        block: bootstrap block length in windows, 1 <= block <= N.
        n_boot: number of bootstrap resamples (>= 1).
        seed: seed of ``numpy.random.default_rng`` for the bootstrap (>= 0).

    Metrics: ``rmse_log`` — RMSE of the log10 closes; ``rmse_price`` — RMSE of
    ``10**pred`` vs ``10**target`` in price units; ``mape_pct`` — mean of
    ``|10**pred − 10**target| / 10**target`` × 100; ``direction_accuracy`` — share
    of windows where forecast and actual move agree on up vs not-up (a zero move is
    "down", see the module docstring).

    Intervals: percentile 95 % intervals from the circular moving-block bootstrap
    (:func:`block_bootstrap_indices`) with ``n_boot`` resamples, for ``rmse_log``
    and ``direction_accuracy`` of both model and baseline and for the *paired*
    ratio ``rmse_model / rmse_baseline`` (both computed on the same resampled
    windows). ``beats_baseline`` is true when the ratio's interval lies wholly
    below 1. The ratio (and its interval) is ``None`` when persistence has zero
    error (on the data, or on some resample).

    Returns:
        A JSON-ready dict: ``{"n", "model": {...}, "baseline": {...}, "rmse_ratio",
        "rmse_ratio_ci95", "beats_baseline", "verdict"}``; alert tables are keyed by
        ``str(float(t))`` ("0.5", "1.0", ...).
    """
    target = real_vector(target_log10, "target_log10", min_len=2)
    predicted = real_vector(predicted_log10, "predicted_log10", min_len=2)
    last = real_vector(last_log10, "last_log10", min_len=2)
    same_length(predicted, "predicted_log10", target, "target_log10")
    same_length(last, "last_log10", target, "target_log10")
    thresholds = _check_thresholds(thresholds)
    train_up_share = check_real(train_up_share, "train_up_share")
    if not 0 <= train_up_share <= 1:
        raise ValueError(f"train_up_share must lie in [0, 1], got {train_up_share}")
    n = target.size
    block = check_int(block, "block", minimum=1)
    if block > n:
        raise ValueError(f"block must be <= the number of windows ({n}), got {block}")
    block = usable_block(block, n)
    n_boot = check_int(n_boot, "n_boot", minimum=1)
    seed = check_int(seed, "seed", minimum=0)

    actual_up = target > last
    model_hits = (predicted > last) == actual_up
    baseline_up = _majority_is_up(train_up_share)
    baseline_hits = actual_up == baseline_up
    model_sq = (predicted - target) ** 2
    baseline_sq = (last - target) ** 2

    model_point = point_metrics(target, predicted)
    baseline_point = point_metrics(target, last)
    rmse_ratio = model_point["rmse_log"] / baseline_point["rmse_log"] if baseline_point["rmse_log"] > 0 else math.nan

    # Bootstrap: every statistic of a resample uses the same indices (paired).
    rng = np.random.default_rng(seed)
    stats = np.empty((5, n_boot))
    for start in range(0, n_boot, _BOOT_CHUNK):
        count = min(_BOOT_CHUNK, n_boot - start)
        idx = block_bootstrap_indices(n, block, count, rng)
        chunk = slice(start, start + count)
        stats[0, chunk] = np.sqrt(model_sq[idx].mean(axis=1))
        stats[1, chunk] = np.sqrt(baseline_sq[idx].mean(axis=1))
        stats[2, chunk] = model_hits[idx].mean(axis=1)
        stats[3, chunk] = baseline_hits[idx].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        stats[4] = stats[0] / stats[1]
    ratio_defined = np.isfinite(stats[4]).all()
    ci = np.percentile(stats[:4], [2.5, 97.5], axis=1).T
    ratio_ci = np.percentile(stats[4], [2.5, 97.5]) if ratio_defined else (math.nan, math.nan)

    actual_pct = percent_change(target, last)
    model = {
        "rmse_log": model_point["rmse_log"],
        "rmse_log_ci95": _interval(ci[0]),
        "rmse_price": model_point["rmse_price"],
        "mape_pct": model_point["mape_pct"],
        "direction_accuracy": float(model_hits.mean()),
        "direction_accuracy_ci95": _interval(ci[2]),
        "alerts": threshold_alerts(percent_change(predicted, last), actual_pct, thresholds),
    }
    direction = "up" if baseline_up else "down"
    baseline = {
        "name": "persistence (next close = last close)",
        "rmse_log": baseline_point["rmse_log"],
        "rmse_log_ci95": _interval(ci[1]),
        "rmse_price": baseline_point["rmse_price"],
        "mape_pct": baseline_point["mape_pct"],
        "direction_accuracy": float(baseline_hits.mean()),
        "direction_accuracy_ci95": _interval(ci[3]),
        "direction_rule": (
            f"always '{direction}', the majority direction of the training split "
            f"({train_up_share:.1%} up); persistence itself forecasts no change"
        ),
        # persistence forecasts a 0 % move, so it never alerts
        "alerts": threshold_alerts(np.zeros(n), actual_pct, thresholds),
    }
    ratio = _num(rmse_ratio)
    ratio_ci95 = _interval(ratio_ci)
    beats = ratio_ci95[1] is not None and ratio_ci95[1] < 1
    verdict = (
        f"RMSE {model['rmse_log']:.3g} log10 (95 % CI {_fmt(model['rmse_log_ci95'][0], '.3g')}–"
        f"{_fmt(model['rmse_log_ci95'][1], '.3g')}) vs {baseline['rmse_log']:.3g} for persistence, "
        f"ratio {_fmt(ratio, '.3f')} (95 % CI {_fmt(ratio_ci95[0], '.3f')}–{_fmt(ratio_ci95[1], '.3f')}); "
        f"direction accuracy {model['direction_accuracy']:.2f} vs {baseline['direction_accuracy']:.2f} "
        f"for always '{direction}': "
        + ("beats persistence" if beats else "does NOT beat persistence (the ratio's interval does not lie below 1)")
    )
    return {
        "n": n,
        "model": model,
        "baseline": baseline,
        "rmse_ratio": ratio,
        "rmse_ratio_ci95": ratio_ci95,
        "beats_baseline": bool(beats),
        "verdict": verdict,
    }


# The offset correction lives in its own module; imported last, for the names callers know here.
from models.offset_correction import OffsetCorrection, fit_offset_correction  # noqa: E402

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Z_95",
    "OffsetCorrection",
    "block_bootstrap_indices",
    "classifier_report",
    "count_alerts",
    "fit_offset_correction",
    "regressor_report",
    "roc_auc",
    "wilson_interval",
]
