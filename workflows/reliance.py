"""Does the model rely on the planted pattern? Measured before localisation is scored.

Localisation against a planted pattern is only meaningful where the model uses it: a map that
points at a pattern the model ignores should not be credited. For every demo sample with a planted
pattern (:func:`workflows.planted.scored_intervals`), :func:`pattern_reliance` asks the model about
the same window regenerated without that one pattern (:func:`data.demo.demo_bars_without`: the
generator draws the market again with the pattern left out) and compares the two answers. A
sample counts as *relied on* when the answer moves by more than the task's stated amount
(:data:`RELIANCE_THRESHOLDS`): the forecast move by more than 0.05 percentage points (the
regressor), P(up) by more than 0.05 (the classifier). No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from data.demo import demo_bars_without, planted_patterns
from data.settings import OHLC
from models.checkpoints import LoadedCheckpoint
from models.datasets import TaskSamples
from workflows.planted import demo_symbol, localise, sample_times
from workflows.range_results import LocalisationSummary
from xai.price_space import window_scores

#: Whether the task is a regressor → (smallest shift of the answer that counts as reliance, its units).
RELIANCE_THRESHOLDS: dict[bool, tuple[float, str]] = {
    True: (0.05, "percentage points of the forecast move"),
    False: (0.05, "of P(up)"),
}


@dataclasses.dataclass(frozen=True)
class Reliance:
    """The model's answer with and without each sample's planted pattern.

    Attributes:
        rows: ``(n,)`` positions (into the rows asked about) of the samples with a pattern.
        patterns: ``(n,)`` each one's row of :func:`data.demo.planted_patterns`.
        with_pattern, without_pattern: ``(n,)`` the answer (forecast move in %, or P(up)).
        relied: ``(n,) bool`` the answer moved by more than ``threshold``.
        threshold, units: the stated amount.
        seconds: wall time (each regeneration of the market ≈ 0.2–0.5 s).
    """

    rows: np.ndarray
    patterns: np.ndarray
    with_pattern: np.ndarray
    without_pattern: np.ndarray
    relied: np.ndarray
    threshold: float
    units: str
    seconds: float

    @property
    def shift(self) -> np.ndarray:
        return self.without_pattern - self.with_pattern

    @property
    def sentence(self) -> str:
        return (
            f"the model relies on the pattern (removing it moves the answer by more than {self.threshold:g} "
            f"{self.units}) in {int(self.relied.sum())} of {len(self.rows)} windows with one"
        )


def _answers(loaded: LoadedCheckpoint, bars: np.ndarray) -> np.ndarray:
    """The forecast move in % (regressor) or P(up) (classifier) of ``(B, W, 4)`` bars."""
    up = np.ones(len(bars), dtype=np.int64)
    scores = window_scores(loaded, bars, up)
    return loaded.task.answers(scores[:, None], up) if loaded.task.is_regression else scores


def _window_stamps(samples: TaskSamples, row: int) -> pd.DatetimeIndex:
    """The bar stamps of sample ``row``: a first hour of minutes, or an hourly window."""
    length = samples.spec.sequence_length
    if samples.session_starts is not None:
        return pd.DatetimeIndex(samples.session_starts[row] + pd.to_timedelta(np.arange(length), unit="min"))
    return samples.loaded.bars.index[row : row + length]


def _pattern_rows(samples: TaskSamples, indices: np.ndarray, patterns: pd.DataFrame) -> np.ndarray:
    """Each sample's pattern row (−1 without one): the day's pattern, or the one on a window's last bar."""
    if samples.session_starts is not None:
        keys, column = sample_times(samples)[indices], "day"
    else:
        keys, column = samples.loaded.bars.index[indices + samples.spec.sequence_length - 1], "pattern_hour"
    return pd.Index(pd.DatetimeIndex(patterns[column])).get_indexer(pd.DatetimeIndex(keys))


def pattern_reliance(
    loaded: LoadedCheckpoint,
    samples: TaskSamples,
    indices: np.ndarray,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Reliance:
    """The answer with and without the planted pattern of each demo sample at ``indices`` that has one.

    Args:
        loaded: the checkpoint.
        samples: demo-market samples of its task.
        indices: sample indices (as :func:`workflows.planted.scored_intervals` rows).
        progress: called as ``progress(done, total)`` after each regenerated window.

    Raises:
        ValueError: not the demo market (no planted ground truth).
    """
    began = time.perf_counter()
    symbol = demo_symbol(samples)
    patterns = planted_patterns(symbol)
    indices = np.asarray(indices, dtype=np.int64)
    found = _pattern_rows(samples, indices, patterns)
    rows = np.flatnonzero(found >= 0)
    without = np.empty((len(rows), samples.spec.sequence_length, 4))
    for done, row in enumerate(rows):
        regenerated = demo_bars_without(symbol, int(found[row]), loaded.task.interval).bars
        without[done] = regenerated.loc[_window_stamps(samples, int(indices[row])), list(OHLC)].to_numpy()
        if progress is not None:
            progress(done + 1, len(rows))
    with_pattern = _answers(loaded, samples.ohlc[indices[rows]]) if len(rows) else np.empty(0)
    without_pattern = _answers(loaded, without) if len(rows) else np.empty(0)
    return reliance_of(
        rows, found[rows], with_pattern, without_pattern, regression=loaded.task.is_regression, began=began
    )


def reliance_of(
    rows: np.ndarray,
    patterns: np.ndarray,
    with_pattern: np.ndarray,
    without_pattern: np.ndarray,
    *,
    regression: bool,
    began: float | None = None,
) -> Reliance:
    """A :class:`Reliance` from answers already known (a batch dataset's rows), by the task's stated amount."""
    threshold, units = RELIANCE_THRESHOLDS[regression]
    with_pattern, without_pattern = np.asarray(with_pattern, float), np.asarray(without_pattern, float)
    return Reliance(
        rows=np.asarray(rows, dtype=np.int64),
        patterns=np.asarray(patterns, dtype=np.int64),
        with_pattern=with_pattern,
        without_pattern=without_pattern,
        relied=np.abs(without_pattern - with_pattern) > threshold,
        threshold=threshold,
        units=units,
        seconds=0.0 if began is None else time.perf_counter() - began,
    )


def relied_localisation(
    loaded: LoadedCheckpoint,
    samples: TaskSamples,
    indices: np.ndarray,
    per_time: dict[str, np.ndarray],
    intervals: np.ndarray,
) -> tuple[LocalisationSummary | None, str]:
    """:func:`workflows.planted.localise` on the samples whose pattern the model relies on, the samples
    without a pattern kept as the habit's reference; the same on every pattern sample beside it.

    Args:
        indices: ``(N,)`` the samples; per_time: method → ``(N, T)`` profiles; intervals: ``(N, 2)``
            their :func:`~workflows.planted.scored_intervals` (at least one not ``-1``).

    Returns:
        The summary (with :attr:`LocalisationSummary.reliance` and ``unfiltered``), or ``None`` and
        the reason when the model relies on none of the patterns.
    """
    reliance = pattern_reliance(loaded, samples, indices)
    return localise_relied(per_time, intervals, reliance, regression=loaded.task.is_regression)


def localise_relied(
    per_time: dict[str, np.ndarray], intervals: np.ndarray, reliance: Reliance, *, regression: bool
) -> tuple[LocalisationSummary | None, str]:
    """:func:`workflows.planted.localise` on the rows without a pattern and those whose pattern the model
    relies on (``reliance.rows`` index ``intervals``' rows), with every pattern row's scores beside it."""
    everything = localise(per_time, intervals, regression=regression)
    has_pattern = intervals[:, 0] >= 0
    keep = ~has_pattern
    keep[reliance.rows[reliance.relied]] = True
    if not (keep & has_pattern).any():
        return None, (
            f"Nothing to credit: {reliance.sentence}. A map that points at a pattern the model ignores is not "
            "credited; widen the date range to find windows where it does rely on one."
        )
    kept = localise({key: profile[keep] for key, profile in per_time.items()}, intervals[keep], regression=regression)
    return dataclasses.replace(kept, reliance=reliance, unfiltered=everything.uniform), ""
