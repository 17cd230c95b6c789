"""Explanations over many windows: mean time profiles with confidence bands, and method agreement.

One map says which minutes mattered for one day; a claim such as the GADF paper's "the middle of
the first hour matters most" is about many days. This module turns per-input time profiles (from
:mod:`xai.time_projection`) into numbers with their uncertainty:

* :func:`mean_band` — the mean per time step with a Student-t confidence band;
* :func:`importance_by_prediction` — those bands for predicted-up and predicted-down inputs, each
  profile normalised first so that every window weighs the same;
* :func:`peak_summary` — where the mean profile peaks, and the share of attribution mass in each
  third of the window (the paper's claim as a number: the middle third's share against 1/3);
* :func:`method_agreement` — how far the five methods agree with each other, input by input:
  Spearman rank correlation and top-k overlap of absolute importance;
* :func:`equalise_gadf` — GADF time profiles with every timestamp weighed by one pixel line, so
  that a uniform map gives a flat profile (compare minutes, and chance, on equal terms).

GADF geometry: a 64-px GADF of 60 minutes gives four timestamps (7, 22, 37, 52) two pixel lines
each; :func:`~xai.time_projection.gadf_time_importance` adds their parts up (right for mass), so
even a uniform map spikes there, and the peak of a mean profile lands on one of them. Aggregate
:func:`equalise_gadf` profiles when the question is "which minute".

Band choice: for each time step, ``mean ± t_{(1 + c)/2, n - 1} · s / sqrt(n)`` with ``s`` the
sample standard deviation (ddof = 1). The t quantile rather than the normal one because ``n`` is
often a few dozen windows; the normalised importances are bounded, so the t interval of the mean
is well behaved. The bands are *pointwise* (each time step's own interval), not simultaneous over
the whole window: read them one minute at a time.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each message names the
parameter, the rule and the value received. Pure NumPy/SciPy, no Streamlit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from data.checks import real_matrix
from xai.sanity import spearman
from xai.time_projection import NORMALISE_MODES, GadfImportance, normalise

__all__ = [
    "Agreement",
    "Band",
    "PeakSummary",
    "equalise_gadf",
    "importance_by_prediction",
    "mean_band",
    "method_agreement",
    "peak_summary",
    "third_bounds",
]


# --- results -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Band:
    """The mean of ``n`` profiles per time step, with its confidence band.

    Attributes:
        mean: ``(T,) float64`` mean over the inputs (NaN when ``n = 0``).
        low: ``(T,) float64`` lower end of the Student-t interval (NaN when ``n < 2``).
        high: ``(T,) float64`` upper end (NaN when ``n < 2``).
        n: inputs averaged.
        confidence: the interval's coverage, e.g. 0.95.
        reason: why the band is undefined (``n < 2``), or ``""`` when it is defined.

    ``eq=False``: instances compare by identity.
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int
    confidence: float
    reason: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class PeakSummary:
    """Where the mean time profile peaks, and how the mass splits over the window's thirds.

    Attributes:
        peak: index of the mean (max-normalised, absolute) profile's maximum (the first one on a tie).
        region: ``[start, stop)`` the contiguous run of time steps around ``peak`` where the mean
            profile is at least half its maximum (the full width at half maximum).
        thirds: :class:`Band` of ``(3,)``: each input's share of absolute mass in the first,
            middle and last third of the window (bounds in ``bounds``), averaged; a uniform
            profile scores 1/3 each (up to rounding of the bounds).
        bounds: ``(0, b1, b2, T)`` the thirds are ``[0, b1)``, ``[b1, b2)``, ``[b2, T)``.
        n: inputs with any attribution mass (all-zero profiles are left out: they point nowhere).
    """

    peak: int
    region: tuple[int, int]
    thirds: Band
    bounds: tuple[int, int, int, int]
    n: int

    @property
    def middle_share(self) -> float:
        """Mean share of mass in the middle third (NaN when no input has mass)."""
        return float(self.thirds.mean[1])


@dataclasses.dataclass(frozen=True, eq=False)
class Agreement:
    """How far attribution methods agree, averaged over inputs.

    Attributes:
        methods: the method keys, in the order of the rows and columns.
        rank_correlation: ``(M, M) float64`` mean over inputs of the Spearman correlation of the
            two methods' absolute maps; NaN where no input has two non-constant maps.
        top_k_overlap: ``(M, M) float64`` mean over inputs of ``|top-k(a) ∩ top-k(b)| / k`` on
            absolute maps; NaN likewise.
        counts: ``(M, M) int64`` inputs that entered each mean (both maps non-constant).
        k: the ``k`` of the top-k overlap.
        n: inputs compared.
    """

    methods: tuple[str, ...]
    rank_correlation: np.ndarray
    top_k_overlap: np.ndarray
    counts: np.ndarray
    k: int
    n: int


# --- validation --------------------------------------------------------------


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"confidence must be a float, got {type(value).__name__} {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def _flags(value: Any, name: str, n_rows: int) -> np.ndarray:
    """Return ``value`` as ``(n_rows,) bool``; bools or the integers 0 / 1."""
    array = np.asarray(value)
    if array.dtype.kind not in "biu":
        raise TypeError(f"{name} must be an array of bools (or 0 / 1), got dtype {array.dtype}")
    if array.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},), one flag per row of per_time, got shape {array.shape}")
    if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 / 1 (or bools), got values {np.unique(array)[:10].tolist()}")
    return array.astype(bool)


# --- bands -------------------------------------------------------------------


def mean_band(values: Any, confidence: float = 0.95) -> Band:
    """Mean per time step and its Student-t confidence interval.

    Args:
        values: ``(N, T)`` finite real numbers, one row per input.
        confidence: coverage of the interval, in ``(0, 1)``.

    Returns:
        :class:`Band` of ``(T,)`` arrays: ``mean ± t_{(1+c)/2, N-1} · s / sqrt(N)``, ``s`` the
        sample standard deviation (ddof = 1). With ``N < 2`` the band is NaN and ``reason`` says
        why (and with ``N = 0`` the mean too); this is a result, not an error.

    Raises:
        TypeError: ``values`` not real numbers, ``confidence`` not a number.
        ValueError: ``values`` not 2-D or not finite, ``confidence`` outside ``(0, 1)``.
    """
    confidence = _confidence(confidence)
    rows = real_matrix(values, "values")
    n, n_steps = rows.shape
    if n < 2:
        mean = rows.mean(axis=0) if n == 1 else np.full(n_steps, np.nan)
        nan = np.full(n_steps, np.nan)
        reason = f"n = {n}: a confidence band needs at least 2 inputs"
        return Band(mean=mean, low=nan, high=nan.copy(), n=n, confidence=confidence, reason=reason)
    mean = rows.mean(axis=0)
    half_width = stats.t.ppf((1.0 + confidence) / 2.0, df=n - 1) * rows.std(axis=0, ddof=1) / np.sqrt(n)
    return Band(mean=mean, low=mean - half_width, high=mean + half_width, n=n, confidence=confidence)


def importance_by_prediction(
    per_time: Any, predicted_up: Any, *, mode: str = "absolute", confidence: float = 0.95
) -> dict[str, Band]:
    """Mean time profile of predicted-up and predicted-down inputs, with confidence bands.

    Each row is first scaled on its own with :func:`xai.time_projection.normalise` (largest
    magnitude 1), so every window weighs the same whatever its attribution's scale; an all-zero
    row stays zero and still counts.

    Args:
        per_time: ``(N, T)`` finite real numbers (e.g. ``gadf_time_importance(...).per_time``).
        predicted_up: ``(N,)`` bools (or 0 / 1): True where the model predicted "up".
        mode: a :data:`~xai.time_projection.NORMALISE_MODES` value; ``"absolute"`` (mass) by default.
        confidence: coverage of the bands.

    Returns:
        ``{"up": Band, "down": Band}``, each of ``(T,)`` arrays; a group with fewer than two inputs
        has a NaN band and a ``reason``.

    Raises:
        TypeError / ValueError: as the parameters' rules above, naming the parameter.
    """
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, got {type(mode).__name__} {mode!r}")
    if mode not in NORMALISE_MODES:
        raise ValueError(f"mode must be one of {NORMALISE_MODES}, got {mode!r}")
    rows = real_matrix(per_time, "per_time")
    up = _flags(predicted_up, "predicted_up", len(rows))
    scaled = normalise(rows, mode) if len(rows) else rows
    return {"up": mean_band(scaled[up], confidence), "down": mean_band(scaled[~up], confidence)}


def third_bounds(n_steps: int) -> tuple[int, int, int, int]:
    """``(0, b1, b2, T)``: the window's thirds ``[0, b1)``, ``[b1, b2)``, ``[b2, T)``, ``b_k = round(k·T/3)``.

    For the 60-minute first hour: minutes 0–19, 20–39 and 40–59.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 3:
        raise ValueError(f"n_steps must be an int >= 3 to have thirds, got {n_steps!r}")
    return 0, round(n_steps / 3), round(2 * n_steps / 3), int(n_steps)


def peak_summary(per_time: Any, *, confidence: float = 0.95) -> PeakSummary:
    """Where the mean absolute profile peaks, and the share of mass in each third of the window.

    Args:
        per_time: ``(N, T)`` finite real numbers, ``T >= 3`` (absolute values are taken).
        confidence: coverage of the thirds' bands.

    Returns:
        :class:`PeakSummary`. The peak and its half-maximum region come from the mean of the
        max-normalised absolute rows (as :func:`importance_by_prediction` draws them); the
        thirds from each row's share of absolute mass (rows summing to 1), banded with
        :func:`mean_band`. All-zero rows are left out of both; with none left, ``peak`` is -1,
        ``region`` ``(-1, -1)`` and the thirds are NaN.

    Raises:
        TypeError / ValueError: ``per_time`` not ``(N, T)`` finite reals or ``T < 3``; bad ``confidence``.
    """
    rows = np.abs(real_matrix(per_time, "per_time"))
    bounds = third_bounds(rows.shape[1])
    total = rows.sum(axis=1)
    rows = rows[total > 0]
    shares = np.add.reduceat(rows, list(bounds[:3]), axis=1) / rows.sum(axis=1, keepdims=True)
    thirds = mean_band(shares, confidence)
    if not len(rows):
        return PeakSummary(peak=-1, region=(-1, -1), thirds=thirds, bounds=bounds, n=0)
    profile = normalise(rows, "absolute").mean(axis=0)
    peak = int(np.argmax(profile))
    return PeakSummary(peak=peak, region=_half_max_region(profile, peak), thirds=thirds, bounds=bounds, n=len(rows))


def _half_max_region(profile: np.ndarray, peak: int) -> tuple[int, int]:
    """``[start, stop)`` the run of ``profile >= profile[peak] / 2`` that contains ``peak``."""
    above = profile >= profile[peak] / 2.0
    below_left = np.flatnonzero(~above[:peak])
    below_right = np.flatnonzero(~above[peak:])
    start = int(below_left[-1]) + 1 if len(below_left) else 0
    stop = peak + int(below_right[0]) if len(below_right) else len(profile)
    return start, stop


def equalise_gadf(importance: GadfImportance) -> np.ndarray:
    """GADF time profiles with every timestamp weighed by one pixel line.

    ``per_time[t]`` collects the parts of every pixel line standing for ``t`` (``c_t`` lines in
    all, counting a PAA line that stands for ``k`` timestamps as ``1/k``); upsampling gives some
    timestamps more lines than others. Dividing by ``c_t`` and multiplying by ``S / T`` (the mean
    of ``c_t``) makes a uniform map a flat profile with the same total.

    Args:
        importance: a :class:`~xai.time_projection.GadfImportance`.

    Returns:
        ``(N, T) float64`` ``per_time / c * (S / T)``.

    Raises:
        TypeError: ``importance`` is not a GadfImportance.
    """
    if not isinstance(importance, GadfImportance):
        raise TypeError(f"importance must be a GadfImportance, got {type(importance).__name__}")
    spans = np.asarray(importance.spans)
    n_steps = importance.per_time.shape[1]
    lines = np.zeros(n_steps)
    for start, stop in spans:
        lines[start:stop] += 1.0 / (stop - start)
    return importance.per_time / lines * (len(spans) / n_steps)


# --- agreement between methods -----------------------------------------------


def _method_maps(per_method: Any) -> dict[str, np.ndarray]:
    """Return the maps as ``{key: (N, D) float64}``, all of the same shape."""
    if not isinstance(per_method, Mapping):
        raise TypeError(
            f"per_method must be a mapping of method key to (N, ...) array, got {type(per_method).__name__}"
        )
    if not per_method:
        raise ValueError("per_method must hold at least 1 method, got an empty mapping")
    maps: dict[str, np.ndarray] = {}
    shapes = {key: np.shape(value) for key, value in per_method.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"per_method must hold arrays of one shape (N, ...), got shapes {shapes}")
    for key, value in per_method.items():
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"per_method[{key!r}] must be an array of real numbers, got dtype {array.dtype}")
        if array.ndim < 2 or array.shape[0] < 1:
            raise ValueError(f"per_method[{key!r}] must have shape (N, T) or (N, ...) with N >= 1, got {array.shape}")
        array = np.abs(array.reshape(len(array), -1).astype(np.float64))
        if not np.isfinite(array).all():
            raise ValueError(f"per_method[{key!r}] must be finite, got NaN or inf")
        maps[str(key)] = array
    return maps


def _top_k_sets(maps: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, D) bool`` membership of each row's k largest values (ties: the earlier position first), and
    ``(N,) bool`` whether the row is non-constant (a constant row has no top k)."""
    order = np.argsort(-maps, axis=1, kind="stable")[:, :k]
    member = np.zeros(maps.shape, dtype=bool)
    np.put_along_axis(member, order, True, axis=1)
    return member, maps.max(axis=1) > maps.min(axis=1)


def method_agreement(per_method: Mapping[str, Any], *, k: int = 10) -> Agreement:
    """Rank correlation and top-k overlap between every pair of methods, averaged over inputs.

    Both scores compare absolute importance (mass, whatever its sign), input by input:

    * ``rank_correlation[a, b]`` — :func:`xai.sanity.spearman` of the two maps of an input
      (average ranks for ties), averaged over inputs;
    * ``top_k_overlap[a, b]`` — ``|top-k(a) ∩ top-k(b)| / k``, the share of the k most important
      positions (pixels, or time steps) the two maps share; ties at the k-th value are broken by
      position (the earlier first). Two random maps overlap ``k / D`` on average.

    An input whose map is constant for either method (e.g. an all-zero Grad-CAM) has no ranking;
    it is left out of that pair's mean (``nanmean``), and ``counts`` says how many inputs entered.
    The diagonal is 1 for any method with a non-constant map.

    Args:
        per_method: method key → ``(N, T)`` time profiles or ``(N, ...)`` maps, all one shape.
        k: positions in the top-k overlap, ``1 <= k <= D`` (``D`` values per input).

    Returns:
        :class:`Agreement` with ``(M, M)`` matrices in the order of ``per_method``.

    Raises:
        TypeError / ValueError: not a mapping, mixed shapes, non-real or non-finite arrays, bad ``k``.
    """
    maps = _method_maps(per_method)
    methods = tuple(maps)
    n_inputs, n_values = next(iter(maps.values())).shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__} {k!r}")
    if not 1 <= k <= n_values:
        raise ValueError(f"k must be between 1 and the {n_values} values per input, got {k}")
    tops = {key: _top_k_sets(value, int(k)) for key, value in maps.items()}

    size = len(methods)
    correlation, overlap = np.full((size, size), np.nan), np.full((size, size), np.nan)
    counts = np.zeros((size, size), dtype=np.int64)
    for i, first in enumerate(methods):
        for j in range(i, size):
            second = methods[j]
            both = tops[first][1] & tops[second][1]
            counts[i, j] = counts[j, i] = int(both.sum())
            if not both.any():
                continue
            rho = [spearman(a, b) for a, b in zip(maps[first][both], maps[second][both], strict=True)]
            shared = (tops[first][0][both] & tops[second][0][both]).sum(axis=1) / k
            correlation[i, j] = correlation[j, i] = float(np.nanmean(rho))
            overlap[i, j] = overlap[j, i] = float(shared.mean())
    return Agreement(
        methods=methods,
        rank_correlation=correlation,
        top_k_overlap=overlap,
        counts=counts,
        k=int(k),
        n=n_inputs,
    )
