"""Localisation scores: how much of a map's time profile falls on known intervals, against chance.

Where the signal is known — on the demo market, :func:`workflows.planted.planted_intervals` gives
each sample's planted pattern as a ``[start, stop)`` interval of time steps (``(-1, -1)`` where
there is none) — a map that explains a model should put its mass there more than a map that
points anywhere would. These functions take any such intervals; they know nothing of the app.

* :func:`localisation` — per input, the share of absolute mass inside the interval
  (:func:`~xai.time_projection.interval_share`) and the pointing-game hit
  (:func:`~xai.time_projection.pointing_game`), each next to what chance scores: a uniform
  profile puts ``L / T`` of its mass in an interval of ``L`` steps, and a peak at a uniformly
  random step hits it with the same probability ``L / T``. A stricter chance is the model's own
  positional habit: ``reference`` profiles of inputs without a pattern, scored on the same
  intervals (:meth:`Localisation.excess_band` then uses Welch's interval).
* :func:`interval_specificity` — the strictest chance: each map scored on the *other* inputs'
  intervals. Beating it means the map follows where this input's pattern is, not only where
  patterns usually are.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each message names the
parameter, the rule and the value received. No Streamlit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import stats

from data.checks import real_matrix
from xai.aggregate import Band, mean_band
from xai.time_projection import interval_share, pointing_game

__all__ = ["Localisation", "interval_specificity", "localisation", "welch_band"]


@dataclasses.dataclass(frozen=True, eq=False)
class Localisation:
    """Localisation of N time profiles against their planted intervals.

    Attributes:
        share: ``(N,) float64`` share of absolute mass inside each interval, in ``[0, 1]``
            (NaN for a row without an interval).
        hit: ``(N,) bool`` pointing-game hit (False for a row without an interval).
        chance_share: ``(N,) float64`` what chance scores on that interval: ``L / T`` (uniform),
            the mean share of the reference profiles in it, or the row's own mean share in the
            other rows' intervals (NaN without an interval).
        chance_hit: ``(N,) float64`` the probability that chance hits it: ``L' / T`` for a uniformly
            random peak (``L'`` with the tolerance added), the reference profiles' hit rate, or
            the row's hit rate on the other rows' intervals.
        valid: ``(N,) bool`` rows that have an interval.
        n: rows with an interval.
        chance: what chance is: ``"uniform"``, ``"reference (K inputs)"`` or ``"other intervals"``.
        reference_share: ``(K,) float64`` each reference profile's share averaged over the valid
            rows' intervals (``None`` without a reference); its mean is the mean of ``chance_share``.
        reference_hit: ``(K,) float64`` each reference profile's hit rate over those intervals, or ``None``.
    """

    share: np.ndarray
    hit: np.ndarray
    chance_share: np.ndarray
    chance_hit: np.ndarray
    valid: np.ndarray
    n: int
    chance: str = "uniform"
    reference_share: np.ndarray | None = None
    reference_hit: np.ndarray | None = None

    @property
    def mean_share(self) -> float:
        """Mean share over rows with an interval (NaN when none)."""
        return float(self.share[self.valid].mean()) if self.n else float("nan")

    @property
    def mean_chance_share(self) -> float:
        """What chance scores on the same rows (NaN when none)."""
        return float(self.chance_share[self.valid].mean()) if self.n else float("nan")

    @property
    def hit_rate(self) -> float:
        """Share of rows with an interval whose peak hits it (NaN when none)."""
        return float(self.hit[self.valid].mean()) if self.n else float("nan")

    @property
    def chance_hit_rate(self) -> float:
        """Expected hit rate of chance on the same rows (NaN when none)."""
        return float(self.chance_hit[self.valid].mean()) if self.n else float("nan")

    def excess_band(self, confidence: float = 0.95) -> Band:
        """Confidence band of the mean share minus chance, ``(1,)`` arrays; ``low[0] > 0`` means
        the maps put more mass on the planted intervals than chance, at that confidence.

        Uniform and other-interval chance are per row (paired): a one-sample Student-t interval of
        ``share − chance_share``. A reference is itself a sample: Welch's interval of
        ``mean(share) − mean(reference_share)``, two independent samples (``n`` and ``K`` inputs).
        """
        return self._band(self.share, self.chance_share, self.reference_share, confidence)

    def hit_excess_band(self, confidence: float = 0.95) -> Band:
        """As :meth:`excess_band`, for the pointing game: hit rate minus chance's hit rate."""
        return self._band(self.hit.astype(np.float64), self.chance_hit, self.reference_hit, confidence)

    def _band(self, score: np.ndarray, chance: np.ndarray, reference: np.ndarray | None, confidence: float) -> Band:
        if reference is None:
            return mean_band((score - chance)[self.valid][:, np.newaxis], confidence)
        return welch_band(score[self.valid], reference, confidence)

    @property
    def hit_p_value(self) -> float:
        """One-sided p-value of the hits under chance: P(at least this many hits) when row ``i``
        hits with probability ``chance_hit[i]`` independently (the exact Poisson-binomial tail).
        Exact for uniform chance; the other chances' rates are estimates, so prefer
        :meth:`hit_excess_band` there. NaN when ``n = 0``."""
        if not self.n:
            return float("nan")
        hits = int(self.hit[self.valid].sum())
        pmf = np.ones(1)
        for p in self.chance_hit[self.valid]:
            pmf = np.convolve(pmf, (1.0 - p, p))
        return float(min(1.0, pmf[hits:].sum()))


def welch_band(sample: Any, reference: Any, confidence: float = 0.95) -> Band:
    """Welch's interval of ``mean(sample) − mean(reference)`` (unequal variances), ``(1,)`` arrays.

    Args:
        sample: ``(n,)`` finite reals. reference: ``(K,)`` finite reals, independent of ``sample``.
        confidence: coverage in ``(0, 1)``.

    Returns:
        :class:`~xai.aggregate.Band` with ``n = len(sample)``; NaN with a ``reason`` when either
        side has fewer than 2 values.
    """
    first = real_matrix(np.reshape(sample, (-1, 1)), "sample")[:, 0]
    second = real_matrix(np.reshape(reference, (-1, 1)), "reference")[:, 0]
    band = mean_band(first[:, np.newaxis], confidence)  # validates confidence
    if len(first) < 2 or len(second) < 2:
        nan = np.full(1, np.nan)
        reason = f"n = {len(first)}, K = {len(second)}: Welch's interval needs at least 2 values on each side"
        return Band(mean=nan, low=nan.copy(), high=nan.copy(), n=len(first), confidence=band.confidence, reason=reason)
    diff = first.mean() - second.mean()
    v1, v2 = first.var(ddof=1) / len(first), second.var(ddof=1) / len(second)
    se = np.sqrt(v1 + v2)
    if se == 0:
        half = 0.0
    else:
        df = (v1 + v2) ** 2 / (v1**2 / (len(first) - 1) + v2**2 / (len(second) - 1))
        half = float(stats.t.ppf((1.0 + band.confidence) / 2.0, df) * se)
    return Band(
        mean=np.array([diff]),
        low=np.array([diff - half]),
        high=np.array([diff + half]),
        n=len(first),
        confidence=band.confidence,
    )


# --- scores ------------------------------------------------------------------


def _intervals(value: Any, n_rows: int, n_steps: int) -> np.ndarray:
    """Return ``value`` as ``(n_rows, 2) int64``; each row ``(-1, -1)`` or ``0 <= start < stop <= T``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"intervals must be an array of ints, got dtype {array.dtype}")
    if array.shape != (n_rows, 2):
        raise ValueError(f"intervals must have shape ({n_rows}, 2), one [start, stop) per row, got {array.shape}")
    array = array.astype(np.int64)
    none = (array == -1).all(axis=1)
    good = (array[:, 0] >= 0) & (array[:, 0] < array[:, 1]) & (array[:, 1] <= n_steps)
    bad = np.flatnonzero(~(none | good))
    if len(bad):
        raise ValueError(
            f"intervals must be (-1, -1) or 0 <= start < stop <= {n_steps}; "
            f"row {int(bad[0])} is {array[bad[0]].tolist()}"
        )
    return array


def _unique_intervals(spans: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct intervals ``(U, 2)``, each valid row's index into them ``(N,)`` (-1 for none), and
    how many valid rows have each ``(U,)``."""
    unique, which, counts = np.unique(spans[valid], axis=0, return_inverse=True, return_counts=True)
    index = np.full(len(spans), -1)
    index[valid] = np.ravel(which)
    return unique, index, counts


def _scorereal_matrix(rows: np.ndarray, unique: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, U)`` share of each row in each interval, and ``(N, U)`` whether its peak hits it."""
    shares = np.stack([interval_share(rows, int(a), int(b)) for a, b in unique], axis=1)
    hits = np.stack([pointing_game(rows, int(a), int(b), tolerance=tolerance) for a, b in unique], axis=1)
    return shares, hits.astype(np.float64)


def _validate_common(per_time: Any, intervals: Any, tolerance: Any) -> tuple[np.ndarray, np.ndarray, int]:
    rows = real_matrix(per_time, "per_time")
    spans = _intervals(intervals, *rows.shape)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, np.integer)):
        raise TypeError(f"tolerance must be an int, got {type(tolerance).__name__} {tolerance!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return rows, spans, int(tolerance)


def localisation(per_time: Any, intervals: Any, *, tolerance: int = 0, reference: Any = None) -> Localisation:
    """Share of mass inside, and pointing-game hits on, each row's planted interval, next to chance.

    Args:
        per_time: ``(N, T)`` finite real numbers (absolute values are taken), e.g.
            ``gadf_time_importance(np.abs(maps), 60).per_time``.
        intervals: ``(N, 2)`` ints from :func:`planted_intervals`; ``(-1, -1)`` rows are skipped.
        tolerance: steps of slack on either side for the pointing game (the share is exact).
        reference: optional ``(K, T)`` profiles of inputs *without* a pattern (K >= 1), the
            model's positional habit: chance is then what they score on each planted interval —
            a map that always lights up the middle of the window scores well against uniform
            chance but not against this.

    Returns:
        :class:`Localisation`. Uniform chance: a flat profile puts ``L / T`` of its mass in an
        interval of ``L`` steps; a uniformly random peak hits it with probability ``L' / T``,
        ``L'`` the interval widened by the tolerance and clipped to the window.

    Raises:
        TypeError / ValueError: bad shapes or values, naming the parameter.
    """
    rows, spans, tolerance = _validate_common(per_time, intervals, tolerance)
    n_steps = rows.shape[1]
    others = None if reference is None else real_matrix(reference, "reference")
    if others is not None and (len(others) < 1 or others.shape[1] != n_steps):
        raise ValueError(f"reference must have shape (K, {n_steps}) with K >= 1, like per_time; got {others.shape}")
    valid = spans[:, 0] >= 0
    unique, index, counts = _unique_intervals(spans, valid)
    result = _own_scores(rows, spans, valid, unique, index, tolerance)
    if others is None:
        widened = np.minimum(spans[:, 1] + tolerance, n_steps) - np.maximum(spans[:, 0] - tolerance, 0)
        chance_share = np.where(valid, (spans[:, 1] - spans[:, 0]) / n_steps, np.nan)
        chance_hit = np.where(valid, widened / n_steps, np.nan)
        return dataclasses.replace(result, chance_share=chance_share, chance_hit=chance_hit)
    if not valid.any():
        return dataclasses.replace(result, chance=f"reference ({len(others)} inputs)")
    their_share, their_hit = _scorereal_matrix(others, unique, tolerance)
    at = np.maximum(index, 0)
    weights = counts / counts.sum()  # each reference profile is scored on the valid rows' intervals
    return dataclasses.replace(
        result,
        chance_share=np.where(valid, their_share.mean(axis=0)[at], np.nan),
        chance_hit=np.where(valid, their_hit.mean(axis=0)[at], np.nan),
        chance=f"reference ({len(others)} inputs)",
        reference_share=their_share @ weights,
        reference_hit=their_hit @ weights,
    )


def interval_specificity(per_time: Any, intervals: Any, *, tolerance: int = 0) -> Localisation:
    """Does each map follow *its own* input's interval, or only where intervals usually are?

    Chance for row ``i`` is its own profile scored on the other rows' intervals (the mean over
    ``j != i``): a map that lights up the region where patterns are usually planted, whatever the
    day, scores the same on its own interval and on the others'. Paired, so
    :meth:`Localisation.excess_band` is a one-sample interval of ``share − chance_share``.

    Args:
        per_time: ``(N, T)`` finite real numbers (absolute values are taken).
        intervals: ``(N, 2)`` ints from :func:`planted_intervals`; ``(-1, -1)`` rows are skipped.
        tolerance: steps of slack on either side for the pointing game.

    Returns:
        :class:`Localisation` with ``chance == "other intervals"``; NaN chance with fewer than 2 rows
        with an interval, or when every row's interval is the same (the ticker's planted bar is
        always the window's last): other rows' intervals are then this row's own, and the test has
        no power — the model's habit is the chance that asks the question there.

    Raises:
        TypeError / ValueError: bad shapes or values, naming the parameter.
    """
    rows, spans, tolerance = _validate_common(per_time, intervals, tolerance)
    valid = spans[:, 0] >= 0
    unique, index, counts = _unique_intervals(spans, valid)
    result = _own_scores(rows, spans, valid, unique, index, tolerance)
    n = int(valid.sum())
    if n < 2 or len(unique) < 2:
        return dataclasses.replace(result, chance="other intervals")
    shares, hits = _scorereal_matrix(rows[valid], unique, tolerance)
    own = index[valid]
    chance_share = np.full(len(rows), np.nan)
    chance_hit = np.full(len(rows), np.nan)
    chance_share[valid] = (shares @ counts - result.share[valid]) / (n - 1)
    chance_hit[valid] = (hits @ counts - hits[np.arange(n), own]) / (n - 1)
    return dataclasses.replace(result, chance_share=chance_share, chance_hit=chance_hit, chance="other intervals")


def _own_scores(
    rows: np.ndarray, spans: np.ndarray, valid: np.ndarray, unique: np.ndarray, index: np.ndarray, tolerance: int
) -> Localisation:
    """Each row's share and hit on its own interval; chance left NaN for the caller to fill."""
    n_rows = len(rows)
    share, hit = np.full(n_rows, np.nan), np.zeros(n_rows, dtype=bool)
    for u, (start, stop) in enumerate(unique):
        group = index == u
        share[group] = interval_share(rows[group], int(start), int(stop))
        hit[group] = pointing_game(rows[group], int(start), int(stop), tolerance=tolerance)
    nan = np.full(n_rows, np.nan)
    return Localisation(share=share, hit=hit, chance_share=nan, chance_hit=nan.copy(), valid=valid, n=int(valid.sum()))
