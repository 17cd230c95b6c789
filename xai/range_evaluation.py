"""The engine's aggregate views over a date range, in one call (no Streamlit here).

:func:`evaluate_range` picks the samples of a checkpoint's task whose time falls in a date range
(a NIFTY day, or the last hourly bar of a ticker window: :func:`xai.localisation.sample_times`),
explains them with :func:`xai.explain`, projects every map onto time and computes, per method:

* **up versus down** — the mean per-time importance of predicted-up and predicted-down samples
  with Student-t 95 % bands (:func:`xai.importance_by_prediction`), and where it peaks
  (:func:`xai.aggregate.peak_summary`);
* **agreement** between methods — rank correlation and top-k overlap of the time profiles
  (:func:`xai.method_agreement`);
* **deletion and insertion curves** (:func:`xai.deletion_insertion`, pixel units, removed to the
  baseline 0) on a subset, next to the same curves for random orders;
* the **sanity check** (:func:`xai.model_randomisation`) on a smaller subset;
* **localisation** on the demo market's planted patterns (:func:`xai.planted_intervals`,
  :func:`xai.localisation`) against three chances; other sources have no ground truth, and the
  result says so.

Time profiles: GADF maps go through ``equalise_gadf(gadf_time_importance(|map|, T))`` (every minute
weighed by one pixel line, so a flat map gives a flat profile), candlestick maps through
``candlestick_time_importance(|map|, T).per_bar``: absolute mass, whatever its sign.

The figures the Evaluate page shows are built here too (plotly only): :func:`bands_figure`,
:func:`sanity_figure`, :func:`faithfulness_figure`, :func:`agreement_figure`; each carries the
synthetic-data label when the samples come from the demo market.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each message names the
parameter, the rule and the value received, and says what to do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from data.windows import make_nifty_days
from models.checkpoints import LoadedCheckpoint
from models.datasets import SPLIT_NAMES, TaskSamples, load_samples
from xai.aggregate import Agreement, Band, PeakSummary, equalise_gadf, importance_by_prediction, method_agreement
from xai.aggregate import peak_summary as _peak_summary
from xai.checks import check_int
from xai.explain import explain
from xai.faithfulness import deletion_insertion, target_score
from xai.localisation import Localisation, interval_specificity, localisation, planted_intervals, sample_times
from xai.methods import ALL_METHODS, METHODS
from xai.sanity import SanityResult, model_randomisation
from xai.time_projection import candlestick_time_importance, gadf_time_importance

__all__ = [
    "DateSpan",
    "FaithfulnessSummary",
    "LocalisationSummary",
    "RangeEvaluation",
    "SanityCheck",
    "available_range",
    "evaluate_range",
]

#: Samples explained per call of :func:`xai.explain`.
EXPLAIN_BATCH = 16
#: Top-k of the agreement's overlap (time steps).
AGREEMENT_K = 10

Progress = Callable[[float, str], None]


# --- results -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class FaithfulnessSummary:
    """Deletion and insertion curves per method, averaged over a subset of the samples.

    Attributes:
        indices: ``(n,) int64`` positions (in :attr:`RangeEvaluation.indices`) of the samples scored.
        fractions: ``(K+1,) float64`` fraction of pixels removed (deletion) or restored (insertion).
        deletion: method → ``(K+1,) float64`` mean target score as the map's most important pixels
            are replaced by the baseline 0 (lower area is better).
        insertion: method → ``(K+1,) float64`` mean score as they are put back into a blank image
            (higher area is better).
        deletion_auc: method → ``(n,) float64`` area per sample. insertion_auc: likewise.
        random_deletion: ``(K+1,) float64`` mean curve of ``n_random`` random orders per sample.
        random_insertion: ``(K+1,) float64`` likewise for insertion.
        random_deletion_auc: ``(n,) float64`` each sample's mean random area. random_insertion_auc: likewise.
        n_random: random orders per sample. steps: pixel chunks (``K``).
        score: what the curves measure (the target class's probability, or the signed predicted change).
    """

    indices: np.ndarray
    fractions: np.ndarray
    deletion: dict[str, np.ndarray]
    insertion: dict[str, np.ndarray]
    deletion_auc: dict[str, np.ndarray]
    insertion_auc: dict[str, np.ndarray]
    random_deletion: np.ndarray
    random_insertion: np.ndarray
    random_deletion_auc: np.ndarray
    random_insertion_auc: np.ndarray
    n_random: int
    steps: int
    score: str


@dataclasses.dataclass(frozen=True, eq=False)
class SanityCheck:
    """The model-randomisation check on a subset.

    Attributes:
        indices: ``(n,) int64`` positions (in :attr:`RangeEvaluation.indices`) of the samples checked.
        result: :class:`~xai.sanity.SanityResult` (correlation per method per randomised layer group).
    """

    indices: np.ndarray
    result: SanityResult


@dataclasses.dataclass(frozen=True, eq=False)
class LocalisationSummary:
    """Localisation of every method's time profiles on the planted patterns.

    Attributes:
        intervals: ``(N, 2) int64`` each sample's planted ``[start, stop)`` in time steps, ``(-1, -1)`` without one.
        uniform: method → :class:`~xai.localisation.Localisation` against a flat map (``L / T``).
        habit: method → the same against the model's habit (the samples *without* a pattern scored on
            the same intervals); ``None`` when every sample has a pattern.
        other_days: method → each map scored on the other samples' intervals
            (:func:`~xai.localisation.interval_specificity`).
        n: samples with a pattern. note: what the interval is.
    """

    intervals: np.ndarray
    uniform: dict[str, Localisation]
    habit: dict[str, Localisation] | None
    other_days: dict[str, Localisation]
    n: int
    note: str


@dataclasses.dataclass(frozen=True, eq=False)
class RangeEvaluation:
    """Everything :func:`evaluate_range` computed (plain arrays, dataclasses and DataFrames).

    Attributes:
        task: ``"nifty"`` or ``"ticker"``. source: the data source. synthetic: demo-market data.
        checkpoint: the checkpoint's folder.
        start, end: the date range asked for (midnight timestamps, both days included).
        methods: method keys, in the order asked.
        indices: ``(N,) int64`` the samples evaluated (indices into the task's samples).
        times: ``(N,)`` each sample's day (NIFTY) or last bar (ticker).
        n_in_range: samples in the range before the cap. sampling_note: how the N were chosen.
        split_counts: ``{"train": .., "validation": .., "test": ..}`` of the N samples.
        unit: ``"minute"`` or ``"bar"``. step_labels: ``(T,)`` one label per time step.
        predicted_up: ``(N,) bool`` the model's prediction (classifier: the class, regressor: the sign
            of the predicted change). actual_up: ``(N,) bool`` what happened.
        direction: regressor only — +1 explains "pushes the forecast up", −1 "down".
        per_time: method → ``(N, T) float64`` absolute importance per time step (GADF equalised).
        bands: method → ``{"up": Band, "down": Band}`` of the max-normalised profiles.
        peaks: method → :class:`~xai.aggregate.PeakSummary`.
        agreement: :class:`~xai.aggregate.Agreement` of the time profiles.
        faithfulness: :class:`FaithfulnessSummary`. sanity: :class:`SanityCheck`.
        localisation: :class:`LocalisationSummary`, or ``None`` with ``localisation_reason`` saying why.
        seconds: wall time of the evaluation.
        peak_table, sanity_table, faithfulness_table, localisation_table: the tables the page shows
            (one row per method; ``localisation_table`` empty when there is no localisation).
    """

    task: str
    source: str
    synthetic: bool
    checkpoint: str
    start: pd.Timestamp
    end: pd.Timestamp
    methods: tuple[str, ...]
    indices: np.ndarray
    times: pd.DatetimeIndex
    n_in_range: int
    sampling_note: str
    split_counts: dict[str, int]
    unit: str
    step_labels: tuple[str, ...]
    predicted_up: np.ndarray
    actual_up: np.ndarray
    direction: int
    per_time: dict[str, np.ndarray]
    bands: dict[str, dict[str, Band]]
    peaks: dict[str, PeakSummary]
    agreement: Agreement
    faithfulness: FaithfulnessSummary
    sanity: SanityCheck
    localisation: LocalisationSummary | None
    localisation_reason: str
    seconds: float
    peak_table: pd.DataFrame
    sanity_table: pd.DataFrame
    faithfulness_table: pd.DataFrame
    localisation_table: pd.DataFrame

    @property
    def barely_changes(self) -> list[str]:
        """Methods whose maps barely change when the model is destroyed (mean correlation ≥ 0.5)."""
        return [key for key, flag in self.sanity.result.barely_changes.items() if flag]


# --- validation --------------------------------------------------------------


def _day(value: Any, name: str) -> pd.Timestamp:
    """A date, datetime, Timestamp or ISO string as a midnight Timestamp (tz dropped)."""
    if isinstance(value, bool) or not isinstance(value, (dt.date, pd.Timestamp, np.datetime64, str)):
        raise TypeError(f"{name} must be a date (datetime.date, Timestamp or 'YYYY-MM-DD'), got {type(value).__name__}")
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise ValueError(f"{name} must be a date like '2024-03-15', got {value!r}") from None
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def _methods(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"methods must be a list of method keys from {ALL_METHODS}, got {type(value).__name__}")
    chosen = tuple(value)
    unknown = [key for key in chosen if key not in METHODS]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"methods must be a non-empty list of distinct keys from {ALL_METHODS}, got {list(chosen)!r}; "
            "pick at least one method"
        )
    return chosen


def _direction(value: Any) -> int:
    if isinstance(value, bool) or value not in (1, -1):
        raise ValueError(f"direction must be +1 (pushes the forecast up) or -1 (down), got {value!r}")
    return int(value)


def _evenly(n_items: int, n_wanted: int) -> np.ndarray:
    """``min(n_items, n_wanted)`` evenly spaced positions in ``range(n_items)``, first and last included."""
    if n_items <= n_wanted:
        return np.arange(n_items)
    return np.unique(np.linspace(0, n_items - 1, n_wanted).round().astype(np.int64))


def _day_index(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(times)
    return (times.tz_localize(None) if times.tz is not None else times).normalize()


def _samples_for(loaded: LoadedCheckpoint, source: str, samples: TaskSamples | None) -> TaskSamples:
    if samples is None:
        return load_samples(loaded.spec, source)
    if not isinstance(samples, TaskSamples):
        raise TypeError(f"samples must be a models.datasets.TaskSamples or None, got {type(samples).__name__}")
    if samples.spec != loaded.spec:
        raise ValueError(
            f"samples must be made for the checkpoint's model ({loaded.spec}), got samples for {samples.spec}; "
            "load them with models.datasets.load_samples(loaded.spec, source)"
        )
    if str(samples.loaded.source).lower() != str(source).lower():
        raise ValueError(f"samples must come from source {source!r}, got samples of {samples.loaded.source!r}")
    return samples


@dataclasses.dataclass(frozen=True)
class DateSpan:
    """The days a task's samples span (what a date picker may offer).

    Attributes:
        first, last: the first and last sample's day.
        samples: how many samples there are.
        recent_start: the day of the ``recent``-th sample from the end (a default range start).
    """

    first: dt.date
    last: dt.date
    samples: int
    recent_start: dt.date


def available_range(samples: TaskSamples, *, recent: int = 64) -> DateSpan:
    """The days ``samples`` span, and where the last ``recent`` (``>= 1``) of them begin."""
    recent = check_int(recent, "recent", 1)
    if not isinstance(samples, TaskSamples):
        raise TypeError(f"samples must be a models.datasets.TaskSamples, got {type(samples).__name__}")
    days = _day_index(sample_times(samples))
    start = days[max(0, len(days) - recent)]
    return DateSpan(first=days[0].date(), last=days[-1].date(), samples=len(days), recent_start=start.date())


# --- the evaluation ----------------------------------------------------------


class _Meter:
    """Reports cumulative work as a fraction in ``[0, 1]``, never going back."""

    def __init__(self, progress: Progress | None, total: float) -> None:
        self.progress = progress
        self.total = max(float(total), 1e-9)
        self.done = 0.0

    def report(self, work: float, message: str) -> None:
        self.done += work
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total), message)


def _step_labels(samples: TaskSamples, rows: np.ndarray, n_steps: int) -> tuple[str, tuple[str, ...]]:
    """The time unit and a label per step: clock minutes of the first hour, or bar positions."""
    if samples.spec.task == "nifty":
        starts = make_nifty_days(samples.loaded.bars).start_time[rows]
        clocks = {stamp.strftime("%H:%M") for stamp in starts}
        if len(clocks) == 1:
            first = starts[0]
            return "minute", tuple(f"{first + pd.Timedelta(minutes=i):%H:%M}" for i in range(n_steps))
        return "minute", tuple(f"minute {i + 1}" for i in range(n_steps))
    return "bar", tuple(f"bar {i + 1}" + (" (last)" if i == n_steps - 1 else "") for i in range(n_steps))


def _per_time(attribution: np.ndarray, image_kind: str, n_steps: int) -> np.ndarray:
    """``(B, 1, S, S)`` maps → ``(B, T)`` absolute importance per minute (equalised GADF) or bar."""
    if image_kind == "gadf":
        return equalise_gadf(gadf_time_importance(np.abs(attribution), n_steps))
    return np.array(candlestick_time_importance(np.abs(attribution), n_steps).per_bar)


def evaluate_range(
    loaded: LoadedCheckpoint,
    source: str,
    start: dt.date | pd.Timestamp | str,
    end: dt.date | pd.Timestamp | str,
    *,
    methods: Sequence[str] = ALL_METHODS,
    max_samples: int = 64,
    direction: int = 1,
    faithfulness_inputs: int = 16,
    steps: int = 10,
    n_random: int = 1,
    sanity_inputs: int = 4,
    samples: TaskSamples | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> RangeEvaluation:
    """Explain the samples of ``[start, end]`` and compute every aggregate view of the engine.

    Args:
        loaded: a checkpoint (:func:`models.checkpoints.load_checkpoint`; its model is made Captum-ready).
        source: the data source of the samples (e.g. the card's ``data.source``, ``"demo:NIFTY-DEMO"``).
        start, end: the first and last day, both included (a NIFTY sample counts by its day, a ticker
            window by the day of its last bar).
        methods: method keys of :data:`xai.METHODS`, in the order to show.
        max_samples: at most this many samples (``>= 2``) are explained; more in the range are thinned
            to evenly spaced ones (first and last kept), and ``sampling_note`` says so.
        direction: regressor only — +1 explains "what pushes the forecast up", −1 "down".
        faithfulness_inputs: samples (evenly spaced among the chosen) for deletion/insertion (``>= 1``).
        steps: pixel chunks of the deletion/insertion curves (``>= 2``).
        n_random: random orders per sample for the curves' reference (``>= 1``).
        sanity_inputs: samples for the model-randomisation check (``>= 1``).
        samples: the task's samples of ``source`` if already loaded (else loaded here).
        seed: seeds the random orders and the randomised weights.
        progress: called as ``progress(fraction, message)`` with fractions rising from 0 to 1.

    Returns:
        :class:`RangeEvaluation`.

    Raises:
        TypeError / ValueError: a parameter breaks its rule (the message names it); ``start`` after
            ``end``; no samples in the range (the message gives the range that has some).
        DataError: the source cannot be loaded.
    """
    began = time.perf_counter()
    if not isinstance(loaded, LoadedCheckpoint):
        raise TypeError(f"loaded must be a models.checkpoints.LoadedCheckpoint, got {type(loaded).__name__}")
    if not isinstance(source, str) or not source:
        raise TypeError(f"source must be a non-empty str (e.g. 'demo:NIFTY-DEMO'), got {source!r}")
    first_day, last_day = _day(start, "start"), _day(end, "end")
    if last_day < first_day:
        raise ValueError(f"end must be on or after start, got start {first_day:%Y-%m-%d} and end {last_day:%Y-%m-%d}")
    methods = _methods(methods)
    max_samples = check_int(max_samples, "max_samples", 2)
    direction = _direction(direction)
    faithfulness_inputs = check_int(faithfulness_inputs, "faithfulness_inputs", 1)
    steps = check_int(steps, "steps", 2)
    n_random = check_int(n_random, "n_random", 1)
    sanity_inputs = check_int(sanity_inputs, "sanity_inputs", 1)
    seed = check_int(seed, "seed", 0)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable (fraction, message) or None, got {type(progress).__name__}")

    if progress is not None:
        progress(0.0, "Loading the samples…")
    samples = _samples_for(loaded, source, samples)
    times = sample_times(samples)
    days = _day_index(times)
    in_range = np.flatnonzero((days >= first_day) & (days <= last_day))
    if not len(in_range):
        raise ValueError(
            f"no samples between {first_day:%Y-%m-%d} and {last_day:%Y-%m-%d}: "
            f"pick a range within {days[0]:%Y-%m-%d}–{days[-1]:%Y-%m-%d}"
        )
    chosen = in_range[_evenly(len(in_range), max_samples)]
    n = len(chosen)
    if n < len(in_range):
        note = (
            f"{len(in_range)} samples in the range; {n} evenly spaced ones were explained "
            f"(at most {max_samples}, the first and last included)"
        )
    else:
        note = f"all {n} samples in the range were explained"

    model = loaded.model
    task = loaded.spec.task
    regressor = task == "ticker"
    n_steps = samples.ohlc.shape[1]
    faith_at = _evenly(n, faithfulness_inputs)
    sanity_at = _evenly(n, sanity_inputs)
    n_methods = len(methods)
    # work in forward-pass equivalents (an explanation: one forward and up to three backward passes)
    explain_work = 6.0 * n
    faith_work = 2.0 * (steps - 1) * len(faith_at) * (n_methods + n_random)
    sanity_work = 6.0 * len(sanity_at) * 8
    meter = _Meter(progress, explain_work + faith_work + sanity_work + 1.0)

    # explanations, batch by batch; only the faithfulness subset's maps are kept
    per_time = {key: np.empty((n, n_steps)) for key in methods}
    predicted_up = np.empty(n, dtype=bool)
    kept = {key: [] for key in methods}
    meter.report(0.0, f"Explaining {n} samples…")
    for begin in range(0, n, EXPLAIN_BATCH):
        rows = np.arange(begin, min(begin + EXPLAIN_BATCH, n))
        inputs, _ = samples.batch(chosen[rows])
        extra = inputs[1] if regressor else None
        explained = explain(model, inputs[0], methods=methods, additional_forward_args=extra, direction=direction)
        if regressor:
            predicted_up[rows] = target_score(model, inputs[0], additional_forward_args=extra).numpy() > 0
        else:
            predicted_up[rows] = np.asarray(explained.target) == 1
        keep = np.isin(rows, faith_at)
        for key in methods:
            attribution = explained.maps[key].attribution
            per_time[key][rows] = _per_time(attribution, loaded.spec.image, n_steps)
            kept[key].append(attribution[keep])
        meter.report(6.0 * len(rows), f"Explained {rows[-1] + 1} of {n} samples")

    actual_up = samples.targets[chosen] > samples.last_log10[chosen] if regressor else samples.targets[chosen] == 1
    bands = {key: importance_by_prediction(per_time[key], predicted_up) for key in methods}
    peaks = {key: _peak_summary(per_time[key]) for key in methods}
    agreement = method_agreement(per_time, k=min(AGREEMENT_K, n_steps))

    faithfulness = _faithfulness(
        loaded,
        samples,
        chosen[faith_at],
        faith_at,
        {key: np.concatenate(kept[key]) for key in methods},
        predicted_up[faith_at],
        direction,
        steps,
        n_random,
        seed,
        meter,
    )
    meter.report(0.0, f"Sanity check: randomising the model layer by layer on {len(sanity_at)} samples…")
    images, _ = samples.batch(chosen[sanity_at])
    sanity_result = model_randomisation(
        model,
        images[0],
        methods=methods,
        additional_forward_args=images[1] if regressor else None,
        direction=direction,
        seed=seed,
    )
    sanity = SanityCheck(indices=sanity_at, result=sanity_result)
    meter.report(sanity_work, "Sanity check done; localisation…")

    located, reason = _localisation(samples, chosen, per_time)
    unit, labels = _step_labels(samples, chosen, n_steps)
    meter.report(1.0, "Done")
    return RangeEvaluation(
        task=task,
        source=str(source),
        synthetic=bool(samples.loaded.synthetic),
        checkpoint=str(loaded.folder),
        start=first_day,
        end=last_day,
        methods=methods,
        indices=chosen.astype(np.int64),
        times=pd.DatetimeIndex(times[chosen]),
        n_in_range=len(in_range),
        sampling_note=note,
        split_counts=_split_counts(samples, chosen),
        unit=unit,
        step_labels=labels,
        predicted_up=predicted_up,
        actual_up=np.asarray(actual_up, dtype=bool),
        direction=direction,
        per_time=per_time,
        bands=bands,
        peaks=peaks,
        agreement=agreement,
        faithfulness=faithfulness,
        sanity=sanity,
        localisation=located,
        localisation_reason=reason,
        seconds=time.perf_counter() - began,
        peak_table=_peak_table(peaks, labels),
        sanity_table=_sanity_table(sanity_result),
        faithfulness_table=_faithfulness_table(faithfulness),
        localisation_table=_localisation_table(located),
    )


def _split_counts(samples: TaskSamples, rows: np.ndarray) -> dict[str, int]:
    """How many of ``rows`` lie in each split part; samples purged between parts count as ``"purged"``."""
    counts = {
        name: int(((rows >= part.start) & (rows < part.stop)).sum())
        for name, part in zip(SPLIT_NAMES, samples.split.parts, strict=True)
    }
    purged = len(rows) - sum(counts.values())
    return {**counts, "purged": purged} if purged else counts


def _faithfulness(
    loaded: LoadedCheckpoint,
    samples: TaskSamples,
    rows: np.ndarray,
    positions: np.ndarray,
    maps: dict[str, np.ndarray],
    predicted_up: np.ndarray,
    direction: int,
    steps: int,
    n_random: int,
    seed: int,
    meter: _Meter,
) -> FaithfulnessSummary:
    """Deletion/insertion per method on ``rows``, and the same for ``n_random`` random orders per sample."""
    regressor = loaded.spec.task == "ticker"
    inputs, _ = samples.batch(rows)
    image = inputs[0]
    extra = inputs[1] if regressor else None
    common: dict[str, Any] = {"steps": steps, "n_random": 0, "seed": seed}
    if regressor:
        common.update(additional_forward_args=extra, direction=direction)
    else:
        common["target"] = predicted_up.astype(np.int64)  # the class each map explains
    n_rows = len(rows)
    deletion, insertion, deletion_auc, insertion_auc = {}, {}, {}, {}
    fractions = np.linspace(0.0, 1.0, steps + 1)
    for key, attribution in maps.items():
        meter.report(0.0, f"Deletion and insertion: {METHODS[key].label} on {n_rows} samples…")
        curves = deletion_insertion(loaded.model, image, attribution, **common)
        fractions = curves.fractions
        deletion[key], insertion[key] = curves.deletion.mean(axis=0), curves.insertion.mean(axis=0)
        deletion_auc[key], insertion_auc[key] = curves.deletion_auc, curves.insertion_auc
        meter.report(2.0 * (steps - 1) * n_rows, f"Deletion and insertion: {METHODS[key].label} done")

    # random orders: a uniform random map ranks the pixels in a random order
    generator = np.random.default_rng(seed)
    random_maps = generator.random((n_random * n_rows, *image.shape[1:]))
    repeated = dict(common)
    if regressor:
        repeated["additional_forward_args"] = extra.repeat(n_random, 1)
    else:
        repeated["target"] = np.tile(common["target"], n_random)
    meter.report(0.0, "Deletion and insertion: random orders…")
    curves = deletion_insertion(loaded.model, image.repeat(n_random, 1, 1, 1), random_maps, **repeated)
    meter.report(2.0 * (steps - 1) * n_rows * n_random, "Deletion and insertion: random orders done")
    return FaithfulnessSummary(
        indices=positions.astype(np.int64),
        fractions=np.asarray(fractions),
        deletion=deletion,
        insertion=insertion,
        deletion_auc=deletion_auc,
        insertion_auc=insertion_auc,
        random_deletion=curves.deletion.mean(axis=0),
        random_insertion=curves.insertion.mean(axis=0),
        random_deletion_auc=curves.deletion_auc.reshape(n_random, n_rows).mean(axis=0),
        random_insertion_auc=curves.insertion_auc.reshape(n_random, n_rows).mean(axis=0),
        n_random=n_random,
        steps=steps,
        score=(
            f"predicted change explained ({'up' if direction == 1 else 'down'}), thousandths of log10"
            if regressor
            else "probability of the predicted class"
        ),
    )


def _localisation(
    samples: TaskSamples, rows: np.ndarray, per_time: dict[str, np.ndarray]
) -> tuple[LocalisationSummary | None, str]:
    """Localisation on the planted patterns, or ``None`` and the reason there is none."""
    ticker = samples.spec.task == "ticker"
    try:
        intervals = planted_intervals(samples, max_age=0 if ticker else None)[rows]
    except ValueError as error:
        return None, f"Localisation needs the demo market's planted patterns as ground truth: {error}."
    valid = intervals[:, 0] >= 0
    if not valid.any():
        what = "ends on a planted breakout bar" if ticker else "has a planted pattern"
        return None, (
            f"None of the {len(rows)} samples evaluated {what}, so there is nothing to localise: "
            "widen the date range or raise the number of samples."
        )
    uniform, habit, other = {}, {}, {}
    for key, profile in per_time.items():
        uniform[key] = localisation(profile, intervals)
        if not valid.all():
            habit[key] = localisation(profile, intervals, reference=profile[~valid])
        other[key] = interval_specificity(profile, intervals)
    note = (
        "the planted breakout bar of windows that end on it (the bar whose next hour the forecast is)"
        if ticker
        else "the planted V / inverted-V minutes of the first hour"
    )
    summary = LocalisationSummary(
        intervals=intervals,
        uniform=uniform,
        habit=habit or None,
        other_days=other,
        n=int(valid.sum()),
        note=note,
    )
    return summary, ""


# --- tables ------------------------------------------------------------------


def _label(key: str) -> str:
    return METHODS[key].label


def _span(labels: tuple[str, ...], region: tuple[int, int]) -> str:
    start, stop = region
    if start < 0:
        return "—"
    return labels[start] if stop - start == 1 else f"{labels[start]} – {labels[stop - 1]}"


def _peak_table(peaks: dict[str, PeakSummary], labels: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for key, peak in peaks.items():
        rows.append(
            {
                "method": _label(key),
                "peak": labels[peak.peak] if peak.peak >= 0 else "—",
                "half-maximum region": _span(labels, peak.region),
                "middle-third share": peak.middle_share,
                "95 % low": float(peak.thirds.low[1]),
                "95 % high": float(peak.thirds.high[1]),
                "samples": peak.n,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def _sanity_table(result: SanityResult) -> pd.DataFrame:
    columns = [name if i == 0 else f"+ {name}" for i, name in enumerate(result.layers)]
    table = pd.DataFrame(
        {_label(key): values for key, values in result.correlation.items()}, index=columns, dtype=np.float64
    ).T
    table["mean"] = [float(np.nanmean(values)) if np.isfinite(values).any() else np.nan for values in table.to_numpy()]
    table["barely changes"] = [result.barely_changes[key] for key in result.correlation]
    table.index.name = "method"
    return table


def _faithfulness_table(summary: FaithfulnessSummary) -> pd.DataFrame:
    random_deletion = float(summary.random_deletion_auc.mean())
    random_insertion = float(summary.random_insertion_auc.mean())
    rows = []
    for key in summary.deletion:
        deletion = float(summary.deletion_auc[key].mean())
        insertion = float(summary.insertion_auc[key].mean())
        better = [
            name
            for name, ok in (("deletion", deletion < random_deletion), ("insertion", insertion > random_insertion))
            if ok
        ]
        rows.append(
            {
                "method": _label(key),
                "deletion AUC ↓": deletion,
                "random deletion": random_deletion,
                "insertion AUC ↑": insertion,
                "random insertion": random_insertion,
                "better than random": " and ".join(better) if better else "neither",
            }
        )
    return pd.DataFrame(rows).set_index("method")


def _band_text(band: Band) -> str:
    if not np.isfinite(band.low[0]):
        return "—"
    return f"[{band.low[0]:+.3f}, {band.high[0]:+.3f}]"


def _localisation_table(summary: LocalisationSummary | None) -> pd.DataFrame:
    if summary is None:
        return pd.DataFrame()
    rows = []
    for key, flat in summary.uniform.items():
        habit = summary.habit[key] if summary.habit is not None else None
        other = summary.other_days[key]
        rows.append(
            {
                "method": _label(key),
                "samples with a pattern": flat.n,
                "share": flat.mean_share,
                "chance: flat map": flat.mean_chance_share,
                "share − flat (95 %)": _band_text(flat.excess_band()),
                "chance: habit": habit.mean_chance_share if habit is not None else np.nan,
                "share − habit (95 %)": _band_text(habit.excess_band()) if habit is not None else "—",
                "chance: other days": other.mean_chance_share,
                "hit rate": flat.hit_rate,
                "chance hit rate": flat.chance_hit_rate,
                "hit p-value": flat.hit_p_value,
            }
        )
    return pd.DataFrame(rows).set_index("method")
