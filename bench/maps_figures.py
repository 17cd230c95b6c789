"""The figures of :mod:`bench.maps`, computed (no printing): blank maps, Grad-CAM cells, localisation, baselines.

* :func:`blank_maps` — every window explained the way the dashboard explains it by default
  (:func:`workflows.window.explain_window`: the classifier's predicted class, the regressor's
  forecast direction), in batches; per method, the share of all-zero maps and of near-blank maps,
  the Grad-CAM layer's map shape, and how much of the Grad-CAM layer's output is alive.
* :func:`planted_localisation` — the Evaluate page's localisation on the demo market's planted
  patterns (:func:`workflows.range_evaluation.evaluate_range`) over the test split's days, with the
  verdict against the three chances.
* :func:`baseline_comparison` — the card's metrics (:func:`models.training.evaluate`) read for the
  strongest baseline and its paired interval, with fallbacks for cards that predate ``baselines``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from models.checkpoints import LoadedCheckpoint
from models.datasets import TaskSamples
from workflows.planted import planted_intervals, sample_times
from workflows.range_evaluation import evaluate_range
from xai.explain import explain
from xai.methods import ALL_METHODS

#: Windows per call of :func:`xai.explain`.
BATCH = 64
#: A map is near blank when its largest |value| is below this share of the median (over windows)
#: of every map's largest |value| for that method.
NEAR_BLANK_RATIO = 1e-12


@dataclasses.dataclass(frozen=True)
class BlankMaps:
    """Blank maps of one model over some windows.

    Attributes:
        indices: ``(N,) int64`` the samples explained.
        max_abs: method → ``(N,) float64`` each map's largest absolute value.
        all_zero: method → ``(N,) bool`` the map is all exactly zero (``np.all(attr == 0)``).
        directions: ``(N,) int64`` the explained direction (+1 / −1; the classifier's predicted
            class as +1 up / −1 down).
        layer_shape: ``(rows, columns)`` of Grad-CAM's map at its layer.
        layer_live_share: share of the Grad-CAM layer's output values above zero, over all windows.
        dead_layer_share: share of windows whose Grad-CAM layer output has no value above zero.
    """

    indices: np.ndarray
    max_abs: dict[str, np.ndarray]
    all_zero: dict[str, np.ndarray]
    directions: np.ndarray
    layer_shape: tuple[int, int]
    layer_live_share: float
    dead_layer_share: float

    def blank_share(self) -> dict[str, float]:
        """Method → share of windows whose map is all exactly zero."""
        return {key: float(zero.mean()) for key, zero in self.all_zero.items()}

    def near_blank(self) -> dict[str, np.ndarray]:
        """Method → ``(N,) bool``: max |attr| < :data:`NEAR_BLANK_RATIO` × the method's median max |attr|,
        or exactly zero (so a method whose median map is blank still counts its blank maps)."""
        return {
            key: (values < NEAR_BLANK_RATIO * float(np.median(values))) | self.all_zero[key]
            for key, values in self.max_abs.items()
        }

    def near_blank_share(self) -> dict[str, float]:
        """Method → share of near-blank windows (see :meth:`near_blank`)."""
        return {key: float(flags.mean()) for key, flags in self.near_blank().items()}


class _LayerWatch:
    """Forward hook on the Grad-CAM layer: its output's shape, live values and dead windows."""

    def __init__(self) -> None:
        self.shape: tuple[int, ...] = ()
        self.live = 0
        self.total = 0
        self.dead_windows = 0

    def __call__(self, module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
        values = output.detach()
        self.shape = tuple(values.shape)
        above = values > 0
        self.live += int(above.sum())
        self.total += values.numel()
        self.dead_windows += int((~above.flatten(1).any(dim=1)).sum())


def _explain_batch(
    loaded: LoadedCheckpoint, inputs: Sequence[torch.Tensor], calls_up: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, tuple[int, int]]:
    """One batch explained as the dashboard does by default: maps ``(B, 1, S, S)``, directions, Grad-CAM cells."""
    image, extra = inputs[0], (inputs[1] if len(inputs) > 1 else None)
    directions = np.where(calls_up, 1, -1).astype(np.int64)
    maps = {key: np.empty(tuple(image.shape), dtype=np.float32) for key in ALL_METHODS}
    cells = (0, 0)
    if loaded.task.is_regression:  # one explained direction per call: the forecast's, window by window
        groups = [(direction, directions == direction) for direction in (1, -1)]
    else:  # the predicted class, which explain picks itself (target=None)
        groups = [(1, np.ones(len(image), dtype=bool))]
    for direction, rows in groups:
        if not rows.any():
            continue
        where = torch.from_numpy(np.flatnonzero(rows))
        result = explain(
            loaded.model,
            image[where],
            methods=ALL_METHODS,
            additional_forward_args=None if extra is None else extra[where],
            direction=direction,
        )
        for key in ALL_METHODS:
            maps[key][rows] = result.maps[key].attribution
        layer_map = result.maps["gradcam"].layer_map
        cells = (int(layer_map.shape[-2]), int(layer_map.shape[-1]))
    return maps, directions, cells


def blank_maps(loaded: LoadedCheckpoint, samples: TaskSamples, indices: np.ndarray, *, batch: int = BATCH) -> BlankMaps:
    """Explain ``samples`` at ``indices`` with all five methods and record which maps are blank.

    The regressor's windows are explained in the direction of their forecast (up when the task
    calls them up, :meth:`~models.tasks.base.Task.calls_up`), the classifier's for their predicted
    class — the dashboard's defaults. (The Ticker page reads "up" as a change ``>= 0``, ``calls_up``
    as ``> 0``: they differ only on an exactly zero forecast change.)
    """
    model, task = loaded.model, loaded.task
    indices = np.asarray(indices, dtype=np.int64)
    max_abs = {key: np.empty(len(indices)) for key in ALL_METHODS}
    all_zero = {key: np.empty(len(indices), dtype=bool) for key in ALL_METHODS}
    directions = np.empty(len(indices), dtype=np.int64)
    watch = _LayerWatch()
    cells = (0, 0)
    for begin in range(0, len(indices), batch):
        rows = slice(begin, min(begin + batch, len(indices)))
        inputs, _ = samples.batch(indices[rows])
        handle = model.gradcam_layer.register_forward_hook(watch)
        try:  # one plain forward pass per batch, watched: the calls and the layer's live values
            calls_up = np.asarray(task.calls_up(model, inputs), dtype=bool)
        finally:
            handle.remove()
        maps, directions[rows], cells = _explain_batch(loaded, inputs, calls_up)
        for key, attribution in maps.items():
            flat = attribution.reshape(len(attribution), -1)
            max_abs[key][rows] = np.abs(flat).max(axis=1)
            all_zero[key][rows] = np.all(flat == 0, axis=1)
    return BlankMaps(
        indices=indices,
        max_abs=max_abs,
        all_zero=all_zero,
        directions=directions,
        layer_shape=cells,
        layer_live_share=watch.live / watch.total if watch.total else float("nan"),
        dead_layer_share=watch.dead_windows / len(indices) if len(indices) else float("nan"),
    )


# --- localisation on the planted patterns -------------------------------------------------------


def _test_days(samples: TaskSamples) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last day whose samples all lie in the test split (the split is chronological, test last)."""
    test = samples.indices("test")
    times = pd.DatetimeIndex(sample_times(samples))
    days = (times.tz_localize(None) if times.tz is not None else times).normalize()
    first = int(test[0])
    start = days[first]
    if first > 0 and days[first - 1] == start:  # that day also holds earlier (validation or purged) samples
        later = days[test][days[test] > start]
        start = later[0] if len(later) else start
    return start, days[int(test[-1])]


def planted_localisation(loaded: LoadedCheckpoint, source: str, samples: TaskSamples, limit: int | None) -> dict:
    """The Evaluate page's localisation on the test split's days, with its verdict per method.

    Runs :func:`~workflows.range_evaluation.evaluate_range` as the page does (direction +1, the
    page's default for the regressor) on every sample of the test days (at most ``limit``, evenly
    spaced, when given); its deletion/insertion and sanity parts, which localisation does not use,
    are cut to their minimum. A method *beats* a chance when the 95 % interval of its share minus
    that chance lies above 0 (the intervals the page's table shows); the verdict is that it beats
    all three: a flat map, the model's habit (samples without a pattern) and other samples' intervals.

    Returns:
        ``{"available": False, "reason"}`` without ground truth, else the windows used and, per
        method, the share, the three chances, their excess intervals, the hit rate and the verdict.
    """
    try:
        planted_intervals(samples)
    except ValueError as error:
        return {"available": False, "reason": f"no planted ground truth for {source}: {error}"}
    start, end = _test_days(samples)
    n_days = len(samples.indices("test"))
    result = evaluate_range(
        loaded,
        source,
        start,
        end,
        max_samples=max(2, min(limit, n_days) if limit else n_days),
        faithfulness_inputs=1,
        steps=2,
        n_random=1,
        sanity_inputs=1,
        samples=samples,
    )
    base = {
        "windows": len(result.indices),
        "selection": f"test days {start:%Y-%m-%d} – {end:%Y-%m-%d}: {result.sampling_note}",
        "split_counts": result.split_counts,
        "direction": result.direction if loaded.task.is_regression else None,
    }
    summary = result.localisation
    if summary is None:
        return {"available": False, "reason": result.localisation_reason, **base}
    methods = {}
    for key, flat in summary.uniform.items():
        chances = {"flat": flat, "habit": None if summary.habit is None else summary.habit[key]}
        chances["other_days"] = summary.other_days[key]
        entry: dict[str, Any] = {"share": _num(flat.mean_share), "hit_rate": _num(flat.hit_rate)}
        beats: dict[str, bool | None] = {}
        for name, scored in chances.items():
            # other days: undefined with fewer than 2 patterns, or when every pattern sits at the same steps
            defined = scored is not None and np.isfinite(scored.mean_chance_share)
            band = scored.excess_band() if defined else None
            low = None if band is None else _num(band.low[0])
            entry[f"chance_{name}"] = None if scored is None else _num(scored.mean_chance_share)
            entry[f"excess_{name}_ci95"] = None if band is None else [low, _num(band.high[0])]
            beats[name] = None if band is None else (low is not None and low > 0)
        entry["beats"] = beats
        entry["beats_all_three"] = all(beats.values())  # strict: an undefined chance is not beaten
        applicable = [value for value in beats.values() if value is not None]
        entry["beats_every_defined_chance"] = bool(applicable) and all(applicable)
        methods[key] = entry
    return {"available": True, "with_pattern": summary.n, "interval": summary.note, **base, "methods": methods}


def _num(value: Any) -> float | None:
    """A finite float, or ``None`` (JSON has no NaN)."""
    number = float(value)
    return number if np.isfinite(number) else None


# --- model against its baselines ----------------------------------------------------------------


def _legacy_paired(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The paired comparison of a card that predates ``baselines``: the regressor's RMSE ratio, if any."""
    if metrics.get("rmse_ratio") is None:
        return None
    return {
        "statistic": "rmse_ratio",
        "value": metrics["rmse_ratio"],
        "ci95": metrics.get("rmse_ratio_ci95"),
        "p_value": None,
        "model_better": metrics.get("beats_baseline"),
    }


def baseline_comparison(metrics: dict[str, Any], headline: Sequence[tuple[str, str, str, bool]] = ()) -> dict:
    """The model against its strongest baseline, read from the card's ``metrics``.

    Reads ``baselines`` / ``strongest_baseline`` / ``baseline["paired"]`` where present, else the
    single ``baseline`` of older cards (its paired figure: ``rmse_ratio`` and its interval, or none).
    ``headline`` is the task's :attr:`~models.tasks.base.Task.headline_metrics`: each figure of the
    model next to the strongest baseline's, where the baseline has it.
    """
    single = dict(metrics.get("baseline") or {})
    entries = [dict(entry) for entry in metrics.get("baselines") or []]
    if not entries and single:
        entries = [{"key": single.get("key", "baseline"), **single}]
    strongest_key = metrics.get("strongest_baseline") or (entries[0].get("key") if entries else None)
    strongest = next((entry for entry in entries if entry.get("key") == strongest_key), single or None)
    paired = (strongest or {}).get("paired") or _legacy_paired(metrics)
    model = metrics.get("model") or {}
    figures = {
        key: {"label": label, "model": model.get(key), "baseline": (strongest or {}).get(key), "lower_is_better": low}
        for key, label, _, low in headline
        if key in model
    }
    return {
        "baselines": [{"key": e.get("key"), "name": e.get("name"), "paired": e.get("paired")} for e in entries],
        "strongest_baseline": strongest_key,
        "strongest_name": (strongest or {}).get("name"),
        "paired": paired,
        "headline": figures,
        "beats_baseline": metrics.get("beats_baseline"),
        "verdict": metrics.get("verdict"),
    }


def forecast_parts(loaded: LoadedCheckpoint, samples: TaskSamples, indices: np.ndarray) -> dict[str, Any]:
    """Which part of the regressor forecasts the planted patterns: on the windows among ``indices``
    that end on a planted pattern's bar, the mean of each part of the predicted change
    (``CnnLstmRegressor.change_parts``: autoregression, chart, LSTM; thousandths of log10) signed
    by the pattern's direction, so a part that forecasts the planted move is positive.

    Returns:
        ``{"available": False, "reason"}`` for a classifier, a source without planted ground truth
        or no such window; else the windows and each part's mean, their total, and the chart's share.
    """
    from data.demo import planted_patterns
    from models.architectures import window_volatility
    from workflows.planted import demo_symbol

    if not hasattr(loaded.model, "change_parts"):
        return {"available": False, "reason": "a classifier's output has no forecast parts"}
    try:
        intervals = planted_intervals(samples, max_age=0)[indices]
    except ValueError as error:
        return {"available": False, "reason": f"no planted ground truth: {error}"}
    ending = np.asarray(indices)[intervals[:, 0] >= 0]
    if ending.size == 0:
        return {"available": False, "reason": "no window ends on a planted pattern's bar"}
    patterns = planted_patterns(demo_symbol(samples))
    signs = dict(zip(pd.DatetimeIndex(patterns["pattern_hour"]), patterns["expected_sign"], strict=True))
    sign = torch.tensor([float(signs[time]) for time in samples.times[ending]])
    (image, closes), _ = samples.batch(ending)
    model = loaded.model
    with torch.no_grad():
        parts = model.change_parts(image, closes)
        volatility = window_volatility(closes)
    signed = {
        "autoregression": parts.autoregression,
        "chart": volatility * parts.chart,
        "sequence": volatility * parts.sequence,
    }
    means = {name: float((sign * value).mean()) for name, value in signed.items()}
    total = sum(means.values())
    share = means["chart"] / total
    return {"available": True, "windows": int(ending.size), **means, "total": total, "chart_share": share}
