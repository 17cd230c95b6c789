"""Which of a model's splits a window or day is in: what a page says before a user reads a forecast.

A model's call on a sample it was trained on says little about how it does on new data; the test
split is the only part it never saw. The split is the model's own: the chronological split of the
data its card names (:func:`models.datasets.load_samples`), plus the training periods it pooled in
(``card.data.pooled``). Other data was never seen. No Streamlit here.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from models.card import ModelCard
from models.datasets import TaskSamples

__all__ = ["PARTS", "SplitMark", "SplitSpan", "split_mark", "split_spans"]

PARTS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class SplitSpan:
    """One part of a model's chronological split: its first and last sample times and its size."""

    part: str
    first: pd.Timestamp
    last: pd.Timestamp
    samples: int


@dataclasses.dataclass(frozen=True)
class SplitMark:
    """Where one sample stands for a model: ``part`` (``"train"``, ``"validation"``, ``"test"``,
    ``"purged"``, ``"newer"``, ``"older"``, ``"pooled"`` or ``"unseen"``), a sentence for the page,
    and whether to warn."""

    part: str
    words: str
    warn: bool


def split_spans(samples: TaskSamples) -> tuple[SplitSpan, ...]:
    """Each non-empty part of ``samples``' chronological split, oldest first."""
    spans = []
    for part in PARTS:
        rows = samples.indices(part)
        if len(rows):
            times = samples.times[rows]
            spans.append(SplitSpan(part, times[0], times[-1], len(rows)))
    return tuple(spans)


def split_mark(
    time: pd.Timestamp, source: str, card: ModelCard, spans: tuple[SplitSpan, ...] | None, noun: str
) -> SplitMark:
    """Where the sample of ``source`` at ``time`` stands for the model of ``card``.

    Args:
        time: the sample's time (a window's last bar, a day's date), as the task's samples keep it.
        source: the data the page shows.
        card: the model's card.
        spans: :func:`split_spans` of the card's own source, or ``None`` when ``source`` is not it.
        noun: the sample in words: ``"window"`` or ``"day"``.
    """
    if spans is not None and source == card.data.source:
        time = _like(time, spans[0].first) if spans else time
        for span in spans:
            if span.first <= time <= span.last:
                return _MARKS[span.part](noun)
        before = [span for span in spans if span.last < time]
        if before and len(before) < len(spans):
            return SplitMark(
                "purged",
                f"This {noun} lies between the model's {before[-1].part} and {spans[len(before)].part} splits, "
                "in the gap left so that no bar serves two splits: the model never saw it.",
                warn=False,
            )
        if before:  # after the last split: the newest samples, whose outcome was not known yet
            return SplitMark(
                "newer",
                f"This {noun} is newer than the model's test split (its outcome was not in the data yet): "
                "the model never saw it.",
                warn=False,
            )
        return SplitMark("older", f"This {noun} is older than the data the model was trained on.", warn=False)
    for entry in card.data.pooled:
        first, last = pd.Timestamp(entry["first"]), pd.Timestamp(entry["last"])
        if entry.get("source") == source and first <= _like(time, first) <= last:
            return SplitMark(
                "pooled",
                f"The model was trained on this {noun}: its training period pooled in this data "
                f"({first:%Y-%m-%d} → {last:%Y-%m-%d}). "
                "Its call here is not a test.",
                warn=True,
            )
    return SplitMark("unseen", f"The model was not trained on this data: this {noun} is new to it.", warn=False)


def _like(time: pd.Timestamp, reference: pd.Timestamp) -> pd.Timestamp:
    """``time`` in ``reference``'s time zone, or naive like it, so that the two compare."""
    time = pd.Timestamp(time)
    if reference.tz is None:
        return time.tz_convert(None) if time.tz is not None else time
    return time.tz_localize(reference.tz) if time.tz is None else time.tz_convert(reference.tz)


_MARKS = {
    "train": lambda noun: SplitMark(
        "train",
        f"This {noun} is in the model's training split: it learnt from its outcome, so its call here is not "
        "a test of the model.",
        warn=True,
    ),
    "validation": lambda noun: SplitMark(
        "validation",
        f"This {noun} is in the model's validation split: training kept the epoch that did best on it, "
        "so it is not quite new to the model.",
        warn=True,
    ),
    "test": lambda noun: SplitMark(
        "test", f"This {noun} is in the model's test split: the model never saw it in training.", warn=False
    ),
}
