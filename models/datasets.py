"""Samples of a task as tensors, with their chronological split.

Each task cuts its own samples (:meth:`models.tasks.base.Task.cut_samples`): trading days of
first-hour minute bars for the up-day classifier, overlapping hourly windows for the next-hour
regressor. :class:`TaskSamples` holds them, ready to batch; images are drawn from each sample's
bars by the encoder of the spec's image kind (:data:`ENCODERS`): precomputed when cheap to hold
(1,000 days of 64-px GADFs are 16 MB), else per batch (a candlestick raster costs 0.03 ms).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from data import LoadedBars, load_source
from data.errors import DataError
from data.images import CandlestickEncoder, GADFEncoder
from data.windows import Split
from models.architectures import ModelSpec

if TYPE_CHECKING:
    from models.card import ModelCard
    from models.tasks import Task

SPLIT_NAMES = ("train", "validation", "test")

#: Image kind → ``(B, T, 4)`` OHLC windows and a side S → ``(B, 1, S, S)`` float32 images.
ENCODERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "gadf": lambda ohlc, size: GADFEncoder(size).transform(ohlc[:, :, 3]),
    "candlestick": lambda ohlc, size: CandlestickEncoder(size).transform(ohlc),
}


@dataclasses.dataclass
class TaskSamples:
    """Every sample of one task and source, ready to batch.

    Attributes:
        spec: the model configuration the images are made for.
        loaded: the bars they come from.
        split: train / validation / test sample ranges.
        targets: (N,) float64 next log10 close (regressor) or int64 label (classifier).
        last_log10: (N,) float64 log10 of each window's last close (regressor only).
        sequences: (N, W) float64 log10 closes (regressor only).
        ohlc: (N, W, 4) float64 each sample's bars (the images are drawn from them).
        times: (N,) when each sample was taken: the day of a first hour, the last bar of a window.
        session_starts: (N,) the first bar of each day's session (classifier only), else ``None``.
        precomputed_images: (N, 1, S, S) float32 images when cheap to hold, else None.
        pool: indices of samples pooled from other sources (:meth:`pooled_with`), appended after
            this source's own and part of the training split only.
        pooled_from: one :class:`PooledSource` per source pooled in.
    """

    spec: ModelSpec
    loaded: LoadedBars
    split: Split
    targets: np.ndarray
    last_log10: np.ndarray | None
    sequences: np.ndarray | None
    ohlc: np.ndarray
    times: pd.DatetimeIndex
    session_starts: pd.DatetimeIndex | None = None
    precomputed_images: np.ndarray | None = None
    pool: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pooled_from: tuple[PooledSource, ...] = ()

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def task(self) -> Task:
        """The task these samples are of."""
        from models.tasks import task_named

        return task_named(self.spec.task)

    def indices(self, part: str) -> np.ndarray:
        """Sample indices of ``"train"``, ``"validation"`` or ``"test"`` (training includes the pool)."""
        block = self.split.parts[SPLIT_NAMES.index(part)]
        own = np.arange(block.start, block.stop)
        return np.concatenate([own, self.pool]) if part == "train" and self.pool.size else own

    def images(self, indices: np.ndarray) -> torch.Tensor:
        """(B, 1, S, S) float32 model images of the samples at ``indices``."""
        if self.precomputed_images is not None:
            return torch.from_numpy(self.precomputed_images[indices])
        return torch.from_numpy(encode_images(self.ohlc[indices], self.spec))

    def batch(self, indices: np.ndarray) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Model inputs and targets for ``indices``: ``((image,), label)`` or ``((image, log10_close), target)``."""
        inputs = self.task.inputs(self, indices, self.images(indices))
        return inputs, torch.from_numpy(self.targets[indices])

    def describe(self) -> dict[str, Any]:
        """What the card records about the data and the split."""
        index = self.loaded.bars.index
        return {
            "data": {
                "source": self.loaded.source,
                "layout": self.loaded.layout,
                "interval": self.loaded.interval,
                "first": index[0].isoformat(),
                "last": index[-1].isoformat(),
                "synthetic": self.loaded.synthetic,
                "samples": len(self) - self.pool.size,
                **({"pooled": [source.to_json() for source in self.pooled_from]} if self.pooled_from else {}),
            },
            "split": {
                "fractions": list(self.task.split_fractions),
                "purged_at_each_boundary": self.split.purged // 2,
                **{name: int(size) for name, size in zip(SPLIT_NAMES, self.split.sizes(), strict=True)},
                "chronological": True,
            },
        }

    def pooled_with(self, others: Sequence[TaskSamples]) -> TaskSamples:
        """These samples with the windows of ``others`` that end by this source's last training sample
        added to the training split; validation and test stay this source's own.

        A pooled window's target is never later than the last training target here, so nothing of
        the validation or test period is learnt from another source (the same purge applies).

        Raises:
            DataError: another task or model configuration, times that cannot be compared (one
                source with a time zone, one without), or a source with no window early enough.
        """
        if self.pooled_from:
            raise ValueError("these samples are already pooled: pool every source in one call")
        last_training_time = self.times[self.split.parts[0].stop - 1]
        parts, kept_sources = [], []
        for other in others:
            if other.loaded.source == self.loaded.source:
                raise DataError(f"pooled source {other.loaded.source!r} is the source trained on: pool other sources")
            if other.spec != self.spec:
                raise DataError(
                    f"pooled source {other.loaded.source!r} was cut for {other.spec.task} "
                    f"({other.spec.image} {other.spec.image_size} px), not {self.spec.task} "
                    f"({self.spec.image} {self.spec.image_size} px): pool sources of one task and model"
                )
            try:
                early = np.flatnonzero(np.asarray(other.times <= last_training_time))
            except TypeError as error:
                raise DataError(
                    f"the times of pooled source {other.loaded.source!r} cannot be compared with those of "
                    f"{self.loaded.source!r} (one has a time zone, the other not): pool sources of one kind"
                ) from error
            if early.size == 0:
                raise DataError(
                    f"pooled source {other.loaded.source!r} has no window ending by {last_training_time} "
                    f"(the last training window of {self.loaded.source!r}): pool sources that cover that period"
                )
            parts.append((other, early))
            kept_sources.append(
                PooledSource(
                    source=other.loaded.source,
                    samples=int(early.size),
                    first=other.times[early[0]].isoformat(),
                    last=other.times[early[-1]].isoformat(),
                    synthetic=bool(other.loaded.synthetic),
                )
            )
        if not parts:
            return self

        def joined(name: str) -> Any:
            mine = getattr(self, name)
            if mine is None or any(getattr(other, name) is None for other, _ in parts):
                return None
            return np.concatenate([mine, *(np.asarray(getattr(other, name))[early] for other, early in parts)])

        n_pooled = sum(early.size for _, early in parts)
        times = self.times.append([other.times[early] for other, early in parts])
        starts = joined("session_starts")
        return dataclasses.replace(
            self,
            targets=joined("targets"),
            last_log10=joined("last_log10"),
            sequences=joined("sequences"),
            ohlc=joined("ohlc"),
            times=times,
            session_starts=None if starts is None else pd.DatetimeIndex(starts),
            precomputed_images=joined("precomputed_images"),
            pool=np.arange(len(self), len(self) + n_pooled),
            pooled_from=tuple(kept_sources),
        )


@dataclasses.dataclass(frozen=True)
class PooledSource:
    """One source whose early windows were pooled into another's training split (the card's ``data.pooled``)."""

    source: str
    samples: int
    first: str
    last: str
    synthetic: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def encode_images(ohlc: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """(B, T, 4) OHLC windows → (B, 1, S, S) float32 images of ``spec.image``."""
    return ENCODERS[spec.image](ohlc, spec.image_size)


def samples_from_bars(spec: ModelSpec, loaded: LoadedBars) -> TaskSamples:
    """The samples of ``spec.task`` cut from bars already loaded (e.g. an upload read from memory).

    ``loaded`` must be at the task's interval: minute bars for the up-day task, hourly bars for the
    next-hour task.

    Raises:
        DataError: too few samples for a split, or bars at another interval.
    """
    from models.tasks import task_named

    return task_named(spec.task).cut_samples(spec, loaded)


def load_samples(spec: ModelSpec, source: str, *, date_order: str = "auto", files: bool = True) -> TaskSamples:
    """Load ``source`` at the task's interval and cut it into the samples of ``spec.task``.

    ``files=False`` (the dashboard) refuses file paths: see :func:`data.load_source`.

    Raises:
        DataError: the source cannot be loaded or is too short for a split.
    """
    from models.tasks import task_named

    task = task_named(spec.task)
    return task.cut_samples(spec, load_source(source, task.interval, date_order=date_order, files=files))


def card_samples(spec: ModelSpec, card: ModelCard, *, files: bool = True) -> TaskSamples:
    """The samples a card was trained and tested on: its source, with the sources it pooled in.

    What re-evaluates a card (its baselines are fitted on the training split) needs the pool; what
    reads only the validation or test split can use :func:`load_samples` on ``card.data.source``.

    Raises:
        DataError: a source cannot be loaded or cut into samples.
    """
    samples = load_samples(spec, card.data.source, files=files)
    pooled = [entry["source"] for entry in card.data.pooled]
    return samples.pooled_with([load_samples(spec, source, files=files) for source in pooled]) if pooled else samples
