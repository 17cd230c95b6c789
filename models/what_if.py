"""What if the threshold were different? Cheap re-scoring of a model's history at any threshold.

The model runs once over a split (:func:`prediction_history`, the only heavy step); every
threshold after that is a count over stored arrays:

* Ticker regressor — an **alert threshold** in percent: :func:`alert_table` at one threshold
  (alerts fired, events, correct, precision and recall with Wilson 95 % intervals) and
  :func:`alert_curves` at many (sort once, binary search: microseconds per threshold). The rule
  is :func:`models.evaluation.count_alerts`, the one the model card's alert figures use.
* NIFTY classifier — a **decision threshold** on P(up): :func:`decision_point` (confusion
  matrix, accuracy with its Wilson interval, TPR, FPR) and :func:`roc_curve` /
  :func:`curve_auc` (equal to :func:`models.evaluation.roc_auc`).

No Streamlit here. Bad input raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value)
with a message naming the parameter, the rule and the value received.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from data.checks import binary_labels, check_real, real_vector, same_length
from models.baselines import baseline_from_card
from models.checkpoints import LoadedCheckpoint
from models.datasets import SPLIT_NAMES, load_samples
from models.evaluation import count_alerts, percent_change, wilson_interval
from models.tasks import batched_outputs
from models.tasks.next_hour import card_correction

# --------------------------------------------------------------------------- history


@dataclasses.dataclass(frozen=True)
class PredictionHistory:
    """A model's outputs over one split of its data source, in time order.

    Attributes:
        task: ``"ticker"`` (regressor) or ``"nifty"`` (classifier).
        source: the data source the samples came from (e.g. ``"demo:ACME"``).
        part: the split, ``"train"``, ``"validation"`` or ``"test"``.
        synthetic: the source is the synthetic demo market.
        times: ``(N,)`` datetime64[ns] — the hour whose move was forecast (ticker) or the
            trading day (nifty).
        predicted_pct: ``(N,)`` float64 forecast move in percent from each window's last close (ticker).
        predicted_pct_corrected: ``(N,)`` float64 the same after the card's offset correction
            (ticker; ``None`` when the card holds no correction).
        actual_pct: ``(N,)`` float64 the actual move in percent (ticker).
        probability_up: ``(N,)`` float64 in [0, 1], the model's P(up day) (nifty).
        label: ``(N,)`` int64, 1 for an up day, else 0 (nifty).
        correction: the offset correction applied, ``{"gap_avg", "deviation", "sign"}`` (ticker), or ``None``.
        baselines: each baseline recorded in the card (its name) → its answer on the same samples,
            in the model's units: the forecast move in percent (ticker) or P(up) (nifty); empty
            for a card without baselines.

    Fields of the other task are ``None``.
    """

    task: str
    source: str
    part: str
    synthetic: bool
    times: np.ndarray
    predicted_pct: np.ndarray | None = None
    predicted_pct_corrected: np.ndarray | None = None
    actual_pct: np.ndarray | None = None
    probability_up: np.ndarray | None = None
    label: np.ndarray | None = None
    correction: dict[str, float] | None = None
    baselines: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)


def prediction_history(
    loaded: LoadedCheckpoint, source: str, part: str = "test", *, files: bool = True
) -> PredictionHistory:
    """Run ``loaded``'s model once over split ``part`` of ``source`` (batched, no gradients, eval mode).

    Args:
        loaded: a checkpoint from :func:`models.checkpoints.load_checkpoint` (its card's
            ``data.source`` is where it was trained and tested).
        source: the data source to cut samples from (a demo name, a file path or a ticker).
        files: ``False`` (the dashboard) refuses file paths: see :func:`data.load_source`.
        part: ``"test"`` (default: the honest split, never seen in training or model
            selection), ``"validation"`` (chose the weights and fitted the offset correction)
            or ``"train"``.

    Returns:
        A :class:`PredictionHistory` of ``N`` samples, ``N`` the size of the split.

    Raises:
        TypeError: ``loaded`` is not a LoadedCheckpoint, or ``source``/``part`` not a string.
        ValueError: ``part`` is not a split name.
        DataError: the source cannot be loaded or cut into samples.
        CheckpointError: the card's offset correction is unreadable.
    """
    if not isinstance(loaded, LoadedCheckpoint):
        raise TypeError(f"loaded must be a LoadedCheckpoint, got {type(loaded).__name__}")
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {source!r} of type {type(source).__name__}")
    if not isinstance(part, str):
        raise TypeError(f"part must be a str, got {part!r} of type {type(part).__name__}")
    if part not in SPLIT_NAMES:
        raise ValueError(f"part must be one of {SPLIT_NAMES}, got {part!r}")

    samples = load_samples(loaded.spec, source, files=files)
    indices = samples.indices(part)
    outputs = batched_outputs(loaded.model, samples, indices)
    common = {"task": loaded.spec.task, "source": source, "part": part, "synthetic": bool(samples.loaded.synthetic)}
    windows = loaded.task.baseline_windows(samples.ohlc[indices])
    answers = {
        entry["name"]: baseline_from_card(entry).predict(windows)
        for entry in loaded.card.metrics.extra.get("baselines") or []
    }
    if not loaded.task.is_regression:
        return PredictionHistory(
            **common,
            times=samples.times[indices].to_numpy(dtype="datetime64[ns]"),
            probability_up=outputs,
            label=samples.targets[indices].astype(np.int64),
            baselines=answers,
        )

    last = samples.last_log10[indices]
    correction = card_correction(loaded.card)
    # window i ends at bar i + W − 1; its target is bar i + W
    target_times = samples.loaded.bars.index[indices + samples.spec.sequence_length]
    return PredictionHistory(
        **common,
        times=target_times.to_numpy(dtype="datetime64[ns]"),
        predicted_pct=percent_change(outputs, last),
        predicted_pct_corrected=None if correction is None else percent_change(correction.apply(outputs), last),
        actual_pct=percent_change(samples.targets[indices], last),
        correction=None if correction is None else correction.to_dict(),
        baselines={name: percent_change(forecast, last) for name, forecast in answers.items()},
    )


# --------------------------------------------------------------------------- regressor: alert threshold


@dataclasses.dataclass(frozen=True)
class AlertCounts:
    """What an alert threshold would have done over a history (rule: :func:`models.evaluation.count_alerts`).

    Attributes:
        threshold_pct: the threshold, in percent.
        n: windows in the history.
        alerts: alerts fired (``|predicted| >= t``).
        events: moves that reached the threshold (``|actual| >= t``).
        correct: alerts fired on an event of the same sign.
        wrong_sign: alerts fired on an event of the opposite sign.
        precision: ``correct / alerts`` (NaN when no alert fired).
        recall: ``correct / events`` (NaN when no move reached the threshold).
        precision_ci95: Wilson 95 % interval of ``precision`` (NaN, NaN when undefined).
        recall_ci95: Wilson 95 % interval of ``recall`` (NaN, NaN when undefined).
    """

    threshold_pct: float
    n: int
    alerts: int
    events: int
    correct: int
    wrong_sign: int
    precision: float
    recall: float
    precision_ci95: tuple[float, float]
    recall_ci95: tuple[float, float]

    @property
    def false_alarms(self) -> int:
        """Alerts whose actual move stayed below the threshold."""
        return self.alerts - self.correct - self.wrong_sign


def _check_threshold_pct(threshold: Any) -> float:
    value = check_real(threshold, "threshold")
    if value <= 0:
        raise ValueError(f"threshold must be > 0 (percent), got {value:g}")
    return value


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def alert_table(predicted_pct: Any, actual_pct: Any, threshold: float) -> AlertCounts:
    """Alerts, events, correct alerts, precision and recall at one threshold.

    Args:
        predicted_pct: ``(N,)`` finite forecast moves in percent.
        actual_pct: ``(N,)`` finite actual moves in percent.
        threshold: the alert threshold in percent, > 0.
    """
    threshold = _check_threshold_pct(threshold)
    counts = count_alerts(predicted_pct, actual_pct, [threshold])
    alerts, events, correct, wrong = (int(counts[key][0]) for key in ("alerts", "events", "correct", "wrong_sign"))
    return AlertCounts(
        threshold_pct=threshold,
        n=int(np.size(predicted_pct)),
        alerts=alerts,
        events=events,
        correct=correct,
        wrong_sign=wrong,
        precision=correct / alerts if alerts else math.nan,
        recall=correct / events if events else math.nan,
        precision_ci95=wilson_interval(correct, alerts),
        recall_ci95=wilson_interval(correct, events),
    )


def alert_curves(predicted_pct: Any, actual_pct: Any, thresholds: Any) -> pd.DataFrame:
    """:func:`alert_table` at many thresholds at once (sorts once; ~1 ms for 10k windows × 200 thresholds).

    Args:
        predicted_pct: ``(N,)`` finite forecast moves in percent.
        actual_pct: ``(N,)`` finite actual moves in percent.
        thresholds: ``(T,)`` finite thresholds in percent, each > 0.

    Returns:
        ``T`` rows, in the order given, with columns ``threshold_pct`` (float), ``alerts``,
        ``events``, ``correct``, ``wrong_sign`` (int64), ``precision`` and ``recall``
        (float, NaN where undefined).
    """
    counts = count_alerts(predicted_pct, actual_pct, thresholds)
    return pd.DataFrame(
        {
            "threshold_pct": np.atleast_1d(np.asarray(thresholds, dtype=np.float64)),
            **counts,
            "precision": _ratio(counts["correct"], counts["alerts"]),
            "recall": _ratio(counts["correct"], counts["events"]),
        }
    )


# --------------------------------------------------------------------------- classifier: decision threshold


@dataclasses.dataclass(frozen=True)
class DecisionPoint:
    """The classifier at one decision threshold: "up" when ``P(up) > threshold`` (strictly, as in the card).

    Attributes:
        threshold: the decision threshold in [0, 1].
        n: samples (days).
        confusion: ``((tn, fp), (fn, tp))`` — rows true down/up, columns predicted down/up.
        accuracy: ``(tn + tp) / n``.
        accuracy_ci95: its Wilson 95 % interval.
        tpr: true-positive rate ``tp / (tp + fn)`` (NaN without up days).
        fpr: false-positive rate ``fp / (fp + tn)`` (NaN without down days).
    """

    threshold: float
    n: int
    confusion: tuple[tuple[int, int], tuple[int, int]]
    accuracy: float
    accuracy_ci95: tuple[float, float]
    tpr: float
    fpr: float


def _check_probabilities(probability_up: Any, label: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` float64 probabilities in [0, 1] and ``(N,)`` bool labels (True = up)."""
    probability = real_vector(probability_up, "probability_up")
    bad = np.flatnonzero((probability < 0) | (probability > 1))
    if bad.size:
        raise ValueError(f"probability_up must lie in [0, 1], got {probability[bad[0]]:g} at index {bad[0]}")
    truth = binary_labels(label, "label")
    same_length(truth, "label", probability, "probability_up")
    return probability, truth


def decision_point(probability_up: Any, label: Any, threshold: float) -> DecisionPoint:
    """Confusion matrix, accuracy (with Wilson 95 % interval), TPR and FPR at ``threshold``.

    Args:
        probability_up: ``(N,)`` floats in [0, 1], the model's P(up).
        label: ``(N,)`` 0/1, the true labels (1 = up day).
        threshold: in [0, 1]; a sample is called "up" when ``probability_up > threshold``.
    """
    probability, truth = _check_probabilities(probability_up, label)
    threshold = check_real(threshold, "threshold")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold:g}")
    called_up = probability > threshold
    tn = int(np.sum(~truth & ~called_up))
    fp = int(np.sum(~truth & called_up))
    fn = int(np.sum(truth & ~called_up))
    tp = int(np.sum(truth & called_up))
    n = truth.size
    return DecisionPoint(
        threshold=threshold,
        n=n,
        confusion=((tn, fp), (fn, tp)),
        accuracy=(tn + tp) / n,
        accuracy_ci95=wilson_interval(tn + tp, n),
        tpr=tp / (tp + fn) if tp + fn else math.nan,
        fpr=fp / (fp + tn) if fp + tn else math.nan,
    )


def roc_curve(probability_up: Any, label: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of the rule "up when ``P(up) > threshold``", one point per distinct threshold.

    Args:
        probability_up: ``(N,)`` floats in [0, 1].
        label: ``(N,)`` 0/1 (1 = up day).

    Returns:
        ``(fpr, tpr, thresholds)``, each ``(K + 1,)`` for ``K`` distinct probabilities:
        ``thresholds`` runs down the distinct probabilities and ends with ``-inf`` (every
        sample called "up"), so the curve runs from (0, 0) to (1, 1); point ``k`` is exactly
        :func:`decision_point` at ``thresholds[k]``. A rate is NaN throughout when its class is
        absent. :func:`curve_auc` of it equals :func:`models.evaluation.roc_auc`.
    """
    probability, truth = _check_probabilities(probability_up, label)
    thresholds = np.concatenate([np.unique(probability)[::-1], [-np.inf]])

    def called_up(scores: np.ndarray) -> np.ndarray:
        ordered = np.sort(scores)
        return (ordered.size - np.searchsorted(ordered, thresholds, side="right")).astype(np.float64)

    n_up = int(truth.sum())
    n_down = truth.size - n_up
    tpr = called_up(probability[truth]) / n_up if n_up else np.full(thresholds.size, np.nan)
    fpr = called_up(probability[~truth]) / n_down if n_down else np.full(thresholds.size, np.nan)
    return fpr, tpr, thresholds


def curve_auc(fpr: Any, tpr: Any) -> float:
    """Area under a ROC curve by the trapezoid rule (NaN when a rate is undefined).

    Args:
        fpr: ``(K,)`` false-positive rates, non-decreasing, as :func:`roc_curve` returns them.
        tpr: ``(K,)`` true-positive rates, aligned with ``fpr``.
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    tpr = np.asarray(tpr, dtype=np.float64)
    if fpr.ndim != 1 or fpr.shape != tpr.shape or fpr.size < 2:
        raise ValueError(f"fpr and tpr must be 1-D of one length >= 2, got shapes {fpr.shape} and {tpr.shape}")
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        return math.nan
    if np.any(np.diff(fpr) < 0):
        raise ValueError("fpr must be non-decreasing (a curve from roc_curve), got a decreasing step")
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


# --------------------------------------------------------------------------- thresholds the UI offers


@dataclasses.dataclass(frozen=True)
class ThresholdScale:
    """The range, step and default of a threshold slider, and how to read one from text (a URL).

    Attributes:
        low, high: the inclusive range.
        step: the slider's step; values are snapped to ``low + k · step``.
        default: the value used when none (or a bad one) is given.
        unit: what the number means, for messages.
    """

    low: float
    high: float
    step: float
    default: float
    unit: str

    def grid(self) -> np.ndarray:
        """``(K,)`` float64 every slider position from ``low`` to ``high`` (the curves' thresholds)."""
        count = round((self.high - self.low) / self.step) + 1
        return np.round(self.low + self.step * np.arange(count), 10)

    def snap(self, value: float) -> float:
        """``value`` moved to the nearest slider position (assumes ``low <= value <= high``)."""
        return float(np.round(self.low + self.step * round((value - self.low) / self.step), 10))

    def parse(self, text: Any) -> float:
        """A threshold from text such as a URL query parameter, snapped to the grid.

        Raises:
            ValueError: not a number, not finite, or outside ``[low, high]``; the message says what is allowed.
        """
        try:
            value = float(str(text).strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ValueError(
                f"threshold must be a number from {self.low:g} to {self.high:g} ({self.unit}), got {str(text)!r}"
            )
        return self.snap(value)


#: Slider scales per task: the alert threshold in percent, the decision threshold on P(up).
THRESHOLD_SCALES: dict[str, ThresholdScale] = {
    "ticker": ThresholdScale(low=0.05, high=3.0, step=0.05, default=1.0, unit="percent move"),
    "nifty": ThresholdScale(low=0.0, high=1.0, step=0.01, default=0.5, unit="probability of an up day"),
    "nifty-rest": ThresholdScale(
        low=0.0, high=1.0, step=0.01, default=0.5, unit="probability the rest of the day rises"
    ),
}
