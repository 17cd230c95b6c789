"""The demo market's planted patterns as each task's ground truth (what localisation is scored on).

On the bundled demo market we know where the signal is: :func:`data.demo.planted_patterns` lists
every planted pattern. :func:`planted_intervals` turns them into each sample's interval in
time-step coordinates, by the task's rule:

* NIFTY-DEMO days (up-day task, T = 60 first-hour minutes): the day's V / inverted V,
  ``[first_hour_start, first_hour_end)``;
* demo ticker windows (next-hour task, T = 50 hourly bars): the pattern bar (the hourly bar whose
  last ~20 minutes hold the breakout), ``[i, i + 1)`` with ``i`` its position in the window. The
  breakout moves the *next* hour, so with ``max_age=0`` only windows that end on the pattern bar
  count — the ones whose forecast the pattern drives.

Rows without a pattern are ``(-1, -1)``. Other sources have no ground truth and are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from data.demo import DEMO_INDEX, DEMO_SYMBOLS, planted_patterns
from models.datasets import TaskSamples
from models.tasks import NextHourTask, UpDayTask
from workflows.range_results import LocalisationSummary
from xai.localisation import interval_specificity, localisation

__all__ = ["DEMO_PREFIX", "demo_symbol", "localise", "planted_intervals", "sample_times", "scored_intervals"]

#: Prefix of a demo market source (``"demo:NIFTY-DEMO"``).
DEMO_PREFIX = "demo:"


def sample_times(samples: TaskSamples) -> pd.DatetimeIndex:
    """``(N,)`` when each sample was taken: the day (midnight) of a NIFTY sample, the stamp of a
    ticker window's last hourly bar (the task's :meth:`~models.tasks.base.Task.sample_times`).

    Raises:
        TypeError: ``samples`` is not a :class:`~models.datasets.TaskSamples`.
    """
    if not isinstance(samples, TaskSamples):
        raise TypeError(f"samples must be a models.datasets.TaskSamples, got {type(samples).__name__}")
    return samples.task.sample_times(samples)


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
    task = samples.task
    rule = _RULES.get(task.name)
    if rule is None:
        raise ValueError(f"the {task.name!r} task has no planted patterns in the demo market")
    if symbol not in task.demo_symbols:
        raise ValueError(
            f"samples of the {task.name!r} task are scored against {rule.patterns}; got source 'demo:{symbol}'"
        )
    if max_age is not None and not rule.takes_max_age:
        raise ValueError(f"max_age applies to ticker windows, not to NIFTY days; got max_age {max_age!r}")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, np.integer))):
        raise TypeError(f"max_age must be an int or None, got {type(max_age).__name__} {max_age!r}")
    if max_age is not None and max_age < 0:
        raise ValueError(f"max_age must be >= 0 (bars before the window's last bar), got {max_age}")
    return rule.intervals(samples, planted_patterns(symbol), max_age)


@dataclasses.dataclass(frozen=True)
class _PlantedRule:
    """How one task's samples meet the demo's planted patterns."""

    patterns: str
    intervals: Callable[[TaskSamples, pd.DataFrame, int | None], np.ndarray]
    takes_max_age: bool


def _day_intervals(samples: TaskSamples, patterns: pd.DataFrame, max_age: int | None) -> np.ndarray:
    """NIFTY-DEMO days: the day's V / inverted V, ``[first_hour_start, first_hour_end)`` in minutes."""
    days = sample_times(samples)
    intervals = np.full((len(days), 2), -1, dtype=np.int64)
    row = days.get_indexer(pd.DatetimeIndex(patterns["day"]))
    found = row >= 0
    intervals[row[found], 0] = patterns["first_hour_start"].to_numpy()[found]
    intervals[row[found], 1] = patterns["first_hour_end"].to_numpy()[found]
    return intervals


def _window_intervals(samples: TaskSamples, patterns: pd.DataFrame, max_age: int | None) -> np.ndarray:
    """Demo ticker windows: the pattern bar's ``[i, i + 1)``, the most recent within ``max_age`` bars."""
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


#: Task name → its rule. A task without one has no planted ground truth.
_RULES: dict[str, _PlantedRule] = {
    UpDayTask.name: _PlantedRule(f"{DEMO_INDEX}'s first-hour patterns", _day_intervals, takes_max_age=False),
    NextHourTask.name: _PlantedRule("a demo ticker's hourly breakouts", _window_intervals, takes_max_age=True),
}


def scored_intervals(samples: TaskSamples) -> np.ndarray:
    """:func:`planted_intervals` by the rule localisation is scored with: a forecast is driven by the
    breakout at its window's end (``max_age=0``), a NIFTY day by its pattern wherever it is.

    Raises:
        ValueError: as :func:`planted_intervals` (not the demo market, a symbol without patterns).
    """
    return planted_intervals(samples, max_age=0 if samples.task.is_regression else None)


def localise(per_time: dict[str, np.ndarray], intervals: np.ndarray, *, regression: bool) -> LocalisationSummary:
    """Every method's ``(N, T)`` profiles scored on ``intervals`` (``(N, 2)``, at least one row not ``-1``)
    against three chances: a flat map, the model's habit on the rows without a pattern (when there
    are some), and each map on the other rows' intervals. ``regression``: the intervals are
    :func:`scored_intervals` of a forecast's windows (it says what the interval is)."""
    valid = intervals[:, 0] >= 0
    uniform, habit, other = {}, {}, {}
    for key, profile in per_time.items():
        uniform[key] = localisation(profile, intervals)
        if not valid.all():
            habit[key] = localisation(profile, intervals, reference=profile[~valid])
        other[key] = interval_specificity(profile, intervals)
    note = (
        "the planted breakout bar of windows that end on it (the bar whose next hour the forecast is)"
        if regression
        else "the planted V / inverted-V minutes of the first hour"
    )
    return LocalisationSummary(
        intervals=intervals, uniform=uniform, habit=habit or None, other_days=other, n=int(valid.sum()), note=note
    )
