"""Samples of a task as tensors, with their chronological split.

Each task cuts its own samples (:meth:`models.tasks.base.Task.cut_samples`): trading days of
first-hour minute bars for the up-day classifier, overlapping hourly windows for the next-hour
regressor. :class:`TaskSamples` holds them, ready to batch; images are drawn from each sample's
bars by the encoder of the spec's image kind (:data:`ENCODERS`): precomputed when cheap to hold
(1,000 days of 64-px GADFs are 16 MB), else per batch (a candlestick raster costs 0.03 ms).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from data import LoadedBars, load_source
from data.images import CandlestickEncoder, GADFEncoder
from data.windows import Split
from models.architectures import ModelSpec

if TYPE_CHECKING:
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

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def task(self) -> Task:
        """The task these samples are of."""
        from models.tasks import task_named

        return task_named(self.spec.task)

    def indices(self, part: str) -> np.ndarray:
        """Sample indices of ``"train"``, ``"validation"`` or ``"test"``."""
        block = self.split.parts[SPLIT_NAMES.index(part)]
        return np.arange(block.start, block.stop)

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
                "samples": len(self),
            },
            "split": {
                "fractions": list(self.task.split_fractions),
                "purged_at_each_boundary": self.split.purged // 2,
                **{name: int(size) for name, size in zip(SPLIT_NAMES, self.split.sizes(), strict=True)},
                "chronological": True,
            },
        }


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
