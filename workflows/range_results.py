"""What a range evaluation returns (:func:`workflows.range_evaluation.evaluate_range`): plain arrays,
dataclasses and the page's tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from xai.aggregate import Agreement, Band, PeakSummary
from xai.localisation import Localisation
from xai.sanity import SanityResult


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
        price_space: the same samples' curves in price space
            (:class:`xai.price_space.PriceSpaceCurves`: whole bars or minutes flattened, ``K`` steps, the
            maps' absolute time profiles ranked), or ``None``.
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
    price_space: Any = None


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
        reliance: the model's answer with and without each pattern
            (:class:`workflows.reliance.Reliance`) when only the samples it relies on were scored, else ``None``.
        unfiltered: method → the flat-map localisation on every sample with a pattern, relied on or not.
    """

    intervals: np.ndarray
    uniform: dict[str, Localisation]
    habit: dict[str, Localisation] | None
    other_days: dict[str, Localisation]
    n: int
    note: str
    reliance: Any = None
    unfiltered: dict[str, Localisation] | None = None


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
