"""Localisation scores against the demo market's planted patterns.

On the bundled demo market we know where the signal is: :func:`data.demo.planted_patterns` lists
every planted pattern. A map that explains a model trained there should put its mass on those
minutes or bars more than a map that points anywhere would.

* :func:`planted_intervals` — each sample's planted interval in time-step coordinates:

  - NIFTY-DEMO days (``nifty`` task, T = 60 first-hour minutes): the day's V / inverted V,
    ``[first_hour_start, first_hour_end)``;
  - demo ticker windows (``ticker`` task, T = 50 hourly bars): the pattern bar (the hourly bar
    whose last ~20 minutes hold the breakout), ``[i, i + 1)`` with ``i`` its position in the
    window. The breakout moves the *next* hour, so with ``max_age=0`` only windows that end on
    the pattern bar count — the ones whose forecast the pattern drives.

  Rows without a pattern are ``(-1, -1)``. Other sources have no ground truth and are refused.
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
import pandas as pd
from scipy import stats

from data.demo import DEMO_INDEX, DEMO_SYMBOLS, planted_patterns
from data.windows import make_nifty_days, make_ticker_windows
from models.datasets import TaskSamples
from xai.aggregate import Band, _matrix, mean_band
from xai.time_projection import interval_share, pointing_game

__all__ = [
    "Localisation",
    "demo_symbol",
    "interval_specificity",
    "localisation",
    "planted_intervals",
    "sample_times",
    "welch_band",
]

#: Prefix of a demo market source (``"demo:NIFTY-DEMO"``).
DEMO_PREFIX = "demo:"


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
    first = _matrix(np.reshape(sample, (-1, 1)), "sample")[:, 0]
    second = _matrix(np.reshape(reference, (-1, 1)), "reference")[:, 0]
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


# --- ground truth ------------------------------------------------------------


def demo_symbol(samples: TaskSamples) -> str:
    """The demo symbol the samples were cut from (``"NIFTY-DEMO"``, ``"ACME"``, ...).

    Raises:
        TypeError: ``samples`` is not a :class:`~models.datasets.TaskSamples`.
        ValueError: the samples do not come from the demo market (no ground truth).
    """
    if not isinstance(samples, TaskSamples):
        raise TypeError(f"samples must be a models.datasets.TaskSamples, got {type(samples).__name__}")
    source = str(samples.loaded.source)
    symbol = source[len(DEMO_PREFIX) :].upper() if source.lower().startswith(DEMO_PREFIX) else ""
    if samples.loaded.layout != "demo" or symbol not in DEMO_SYMBOLS:
        raise ValueError(
            f"samples must come from the demo market (source 'demo:SYMBOL', one of {', '.join(DEMO_SYMBOLS)}), "
            f"whose planted patterns are the only ground truth; got source {source!r}"
        )
    return symbol


def sample_times(samples: TaskSamples) -> pd.DatetimeIndex:
    """``(N,)`` when each sample was taken: the day (midnight) of a NIFTY sample, the stamp of a
    ticker window's last hourly bar.

    Recomputed from ``samples.loaded.bars`` with the same function that cut the samples.

    Raises:
        ValueError: the recomputed samples do not match ``samples`` in number.
    """
    if samples.spec.task == "nifty":
        times = make_nifty_days(samples.loaded.bars).day
    else:
        times = make_ticker_windows(samples.loaded.bars, samples.spec.sequence_length).end_time
    if len(times) != len(samples):
        raise ValueError(
            f"samples must hold the {len(times)} samples its bars cut into, got {len(samples)}; "
            "build them with models.datasets.load_samples"
        )
    return pd.DatetimeIndex(times)


def planted_intervals(samples: TaskSamples, *, max_age: int | None = None) -> np.ndarray:
    """Each sample's planted interval ``[start, stop)`` in its time steps.

    Args:
        samples: demo-market samples from :func:`models.datasets.load_samples`.
        max_age: ticker windows only — keep a pattern only if its bar is at most this many bars
            before the window's last bar (0: the last bar, whose next hour is the forecast);
            ``None``: the most recent pattern anywhere in the window.

    Returns:
        ``(N, 2) int64``: NIFTY days — ``[first_hour_start, first_hour_end)`` in first-hour
        minutes; ticker windows — ``[i, i + 1)``, ``i`` the pattern bar's position in the window;
        ``(-1, -1)`` where there is none.

    Raises:
        TypeError: ``samples`` not TaskSamples, ``max_age`` not an int.
        ValueError: a source that is not the demo market, a task the symbol has no patterns for
            (NIFTY days need NIFTY-DEMO, ticker windows a demo ticker), ``max_age`` < 0 or given
            for NIFTY days.
    """
    symbol = demo_symbol(samples)
    task = samples.spec.task
    if (task == "nifty") != (symbol == DEMO_INDEX):
        wanted = f"{DEMO_INDEX}'s first-hour patterns" if task == "nifty" else "a demo ticker's hourly breakouts"
        raise ValueError(f"samples of the {task!r} task are scored against {wanted}; got source 'demo:{symbol}'")
    if task == "nifty":
        if max_age is not None:
            raise ValueError(f"max_age applies to ticker windows, not to NIFTY days; got max_age {max_age!r}")
        return _nifty_intervals(sample_times(samples), planted_patterns(symbol))
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, np.integer))):
        raise TypeError(f"max_age must be an int or None, got {type(max_age).__name__} {max_age!r}")
    if max_age is not None and max_age < 0:
        raise ValueError(f"max_age must be >= 0 (bars before the window's last bar), got {max_age}")
    return _ticker_intervals(samples, planted_patterns(symbol), max_age)


def _nifty_intervals(days: pd.DatetimeIndex, patterns: pd.DataFrame) -> np.ndarray:
    intervals = np.full((len(days), 2), -1, dtype=np.int64)
    row = days.get_indexer(pd.DatetimeIndex(patterns["day"]))
    found = row >= 0
    intervals[row[found], 0] = patterns["first_hour_start"].to_numpy()[found]
    intervals[row[found], 1] = patterns["first_hour_end"].to_numpy()[found]
    return intervals


def _ticker_intervals(samples: TaskSamples, patterns: pd.DataFrame, max_age: int | None) -> np.ndarray:
    window = samples.spec.sequence_length
    bars = samples.loaded.bars.index
    position = np.sort(bars.get_indexer(pd.DatetimeIndex(patterns["pattern_hour"])))
    position = position[position >= 0]
    first_bar = np.arange(len(samples))
    last_bar = first_bar + window - 1
    latest = np.searchsorted(position, last_bar, side="right") - 1  # the most recent pattern up to the last bar
    at = np.where(latest >= 0, position[np.maximum(latest, 0)], -1)
    oldest = first_bar if max_age is None else np.maximum(first_bar, last_bar - max_age)
    inside = (latest >= 0) & (at >= oldest)
    intervals = np.full((len(samples), 2), -1, dtype=np.int64)
    intervals[inside, 0] = at[inside] - first_bar[inside]
    intervals[inside, 1] = intervals[inside, 0] + 1
    return intervals


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


def _score_matrix(rows: np.ndarray, unique: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, U)`` share of each row in each interval, and ``(N, U)`` whether its peak hits it."""
    shares = np.stack([interval_share(rows, int(a), int(b)) for a, b in unique], axis=1)
    hits = np.stack([pointing_game(rows, int(a), int(b), tolerance=tolerance) for a, b in unique], axis=1)
    return shares, hits.astype(np.float64)


def _validate_common(per_time: Any, intervals: Any, tolerance: Any) -> tuple[np.ndarray, np.ndarray, int]:
    rows = _matrix(per_time, "per_time")
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
    others = None if reference is None else _matrix(reference, "reference")
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
    their_share, their_hit = _score_matrix(others, unique, tolerance)
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
        :class:`Localisation` with ``chance == "other intervals"`` (NaN chance with fewer than 2 rows
        with an interval).

    Raises:
        TypeError / ValueError: bad shapes or values, naming the parameter.
    """
    rows, spans, tolerance = _validate_common(per_time, intervals, tolerance)
    valid = spans[:, 0] >= 0
    unique, index, counts = _unique_intervals(spans, valid)
    result = _own_scores(rows, spans, valid, unique, index, tolerance)
    n = int(valid.sum())
    if n < 2:
        return dataclasses.replace(result, chance="other intervals")
    shares, hits = _score_matrix(rows[valid], unique, tolerance)
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
