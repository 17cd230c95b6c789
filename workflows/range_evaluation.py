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

from data.checks import check_int
from models.checkpoints import LoadedCheckpoint
from models.datasets import SPLIT_NAMES, TaskSamples, load_samples
from models.tasks import check_direction
from workflows.planted import sample_times, scored_intervals
from workflows.range_results import FaithfulnessSummary, LocalisationSummary, RangeEvaluation, SanityCheck
from workflows.range_tables import faithfulness_table, localisation_table, peak_table, sanity_table
from workflows.reliance import relied_localisation
from xai.aggregate import importance_by_prediction, method_agreement, peak_summary
from xai.explain import explain
from xai.faithfulness import deletion_insertion
from xai.methods import ALL_METHODS, METHODS
from xai.price_space import price_space_curves
from xai.profiles import time_profiles
from xai.sanity import model_randomisation

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
    direction = check_direction(direction)
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
    task = loaded.task
    n_steps = samples.ohlc.shape[1]
    faith_at = _evenly(n, faithfulness_inputs)
    sanity_at = _evenly(n, sanity_inputs)
    n_methods = len(methods)
    # work in forward-pass equivalents (an explanation: one forward and up to three backward passes)
    explain_work = 6.0 * n
    faith_work = 2.0 * (steps - 1) * len(faith_at) * (n_methods + n_random)
    sanity_work = 6.0 * len(sanity_at) * 8
    meter = _Meter(progress, explain_work + faith_work + sanity_work + 1.0)

    meter.report(0.0, f"Explaining {n} samples…")
    per_time, predicted_up, kept = _explain_all(loaded, samples, chosen, methods, direction, faith_at, meter)
    actual_up = task.actual_up(samples, chosen)
    bands = {key: importance_by_prediction(per_time[key], predicted_up) for key in methods}
    peaks = {key: peak_summary(per_time[key]) for key in methods}
    agreement = method_agreement(per_time, k=min(AGREEMENT_K, n_steps))

    faithfulness = _faithfulness(
        loaded,
        samples,
        chosen[faith_at],
        faith_at,
        kept,
        {key: profile[faith_at] for key, profile in per_time.items()},
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
        additional_forward_args=images[1] if len(images) > 1 else None,
        direction=direction,
        seed=seed,
    )
    sanity = SanityCheck(indices=sanity_at, result=sanity_result)
    meter.report(sanity_work, "Sanity check done; localisation…")

    located, reason = _localisation(loaded, samples, chosen, per_time)
    unit, labels = task.time_unit, task.step_labels(samples, chosen)
    meter.report(1.0, "Done")
    return RangeEvaluation(
        task=task.name,
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
        peak_table=peak_table(peaks, labels, len(chosen)),
        sanity_table=sanity_table(sanity_result),
        faithfulness_table=faithfulness_table(faithfulness),
        localisation_table=localisation_table(located),
    )


def _explain_all(
    loaded: LoadedCheckpoint,
    samples: TaskSamples,
    chosen: np.ndarray,
    methods: tuple[str, ...],
    direction: int,
    keep_at: np.ndarray,
    meter: _Meter,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Explain the samples at ``chosen`` batch by batch.

    Returns each method's ``(n, T)`` absolute time profiles, the model's ``(n,)`` up calls, and the
    full maps of the positions ``keep_at`` only (for deletion and insertion).
    """
    model, task, n = loaded.model, loaded.task, len(chosen)
    n_steps = samples.ohlc.shape[1]
    per_time = {key: np.empty((n, n_steps)) for key in methods}
    predicted_up = np.empty(n, dtype=bool)
    kept: dict[str, list[np.ndarray]] = {key: [] for key in methods}
    for begin in range(0, n, EXPLAIN_BATCH):
        rows = np.arange(begin, min(begin + EXPLAIN_BATCH, n))
        inputs, _ = samples.batch(chosen[rows])
        extra = inputs[1] if len(inputs) > 1 else None
        explained = explain(model, inputs[0], methods=methods, additional_forward_args=extra, direction=direction)
        predicted_up[rows] = task.calls_up(model, inputs)
        keep = np.isin(rows, keep_at)
        for key in methods:
            attribution = explained.maps[key].attribution
            per_time[key][rows] = time_profiles(attribution, loaded.spec.image, n_steps, absolute=True)
            kept[key].append(attribution[keep])
        meter.report(6.0 * len(rows), f"Explained {rows[-1] + 1} of {n} samples")
    return per_time, predicted_up, {key: np.concatenate(maps) for key, maps in kept.items()}


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
    profiles: dict[str, np.ndarray],
    predicted_up: np.ndarray,
    direction: int,
    steps: int,
    n_random: int,
    seed: int,
    meter: _Meter,
) -> FaithfulnessSummary:
    """Deletion/insertion per method on ``rows``, and the same for ``n_random`` random orders per sample;
    beside them the same curves in price space (whole bars or minutes flattened, ranked by ``profiles``)."""
    regressor = loaded.task.is_regression
    n_steps = samples.ohlc.shape[1]
    inputs, _ = samples.batch(rows)
    image = inputs[0]
    extra = inputs[1] if len(inputs) > 1 else None
    common: dict[str, Any] = {"steps": steps, "n_random": 0, "seed": seed, "additional_forward_args": extra}
    if regressor:
        common["direction"] = direction
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
    if extra is not None:
        repeated["additional_forward_args"] = extra.repeat(n_random, 1)
    if not regressor:
        repeated["target"] = np.tile(common["target"], n_random)
    meter.report(0.0, "Deletion and insertion: random orders…")
    curves = deletion_insertion(loaded.model, image.repeat(n_random, 1, 1, 1), random_maps, **repeated)
    meter.report(2.0 * (steps - 1) * n_rows * n_random, "Deletion and insertion: random orders done")
    explained = np.full(n_rows, direction) if regressor else predicted_up.astype(np.int64)
    price = price_space_curves(
        loaded, samples.ohlc[rows], profiles, explained, steps=min(steps, n_steps), n_random=n_random, seed=seed
    )
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
        score=loaded.task.score_words(direction),
        price_space=price,
    )


def _localisation(
    loaded: LoadedCheckpoint, samples: TaskSamples, rows: np.ndarray, per_time: dict[str, np.ndarray]
) -> tuple[LocalisationSummary | None, str]:
    """Localisation on the planted patterns of the samples whose pattern the model relies on
    (:func:`workflows.reliance.pattern_reliance`), or ``None`` and the reason there is none."""
    ticker = samples.task.is_regression  # a forecast is driven by the breakout at the window's end
    try:
        intervals = scored_intervals(samples)[rows]
    except ValueError:  # its message names the internal source: not for the page
        return None, (
            "Localisation needs ground truth: the patterns planted in the demo market, where each one's bars are "
            "known. Real prices (an upload, a ticker) have none, so there is nothing to score here."
        )
    valid = intervals[:, 0] >= 0
    if not valid.any():
        what = "ends on a planted breakout bar" if ticker else "has a planted pattern"
        return None, (
            f"None of the {len(rows)} samples evaluated {what}, so there is nothing to localise: "
            "widen the date range or raise the number of samples."
        )
    return relied_localisation(loaded, samples, rows, per_time, intervals)
