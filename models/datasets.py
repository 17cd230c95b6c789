"""Samples of the two tasks as tensors, with their chronological split.

* ``nifty``: minute bars → :func:`data.make_nifty_days` → one image per day
  (computed once: 1,000 days of 64-px GADFs are 16 MB) and the up/down label.
  Split 0.7 / 0.1 / 0.2: the last 20 % is the test split (the paper's 80/20
  validation share), and the 10 % before it is the validation split used for
  early stopping — so the reported figures never saw model selection.
* ``ticker``: hourly bars → :func:`data.make_ticker_windows` → images rendered
  per batch (0.03 ms each), the window's log10 closes, and the next log10
  close. Split 0.81 / 0.09 / 0.10 as in the paper, purged by one window at
  each boundary so that no bar serves two splits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from data import LoadedBars, chronological_split, load_source, make_nifty_days, make_ticker_windows
from data.images import CandlestickEncoder, GADFEncoder
from data.windows import NiftyDays, Split, TickerWindows
from models.architectures import ModelSpec

NIFTY_TRAIN_SPLIT = (0.7, 0.1, 0.2)
TICKER_TRAIN_SPLIT = (0.81, 0.09, 0.10)
SPLIT_NAMES = ("train", "validation", "test")


@dataclasses.dataclass
class TaskSamples:
    """Every sample of one task and source, ready to batch.

    Attributes:
        spec: the model configuration the images are made for.
        loaded: the bars they come from.
        split: train / validation / test sample ranges.
        targets: (N,) float64 next log10 close (ticker) or int64 label (nifty).
        last_log10: (N,) float64 log10 of each window's last close (ticker only).
        sequences: (N, W) float64 log10 closes (ticker only).
        ohlc: (N, W, 4) float64 each sample's bars (the images are drawn from them).
        precomputed_images: (N, 1, S, S) float32 images when cheap to hold (nifty), else None.
    """

    spec: ModelSpec
    loaded: LoadedBars
    split: Split
    targets: np.ndarray
    last_log10: np.ndarray | None
    sequences: np.ndarray | None
    ohlc: np.ndarray
    precomputed_images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.targets)

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
        image = self.images(indices)
        if self.spec.task == "nifty":
            return (image,), torch.from_numpy(self.targets[indices])
        sequence = torch.from_numpy(self.sequences[indices].astype(np.float32))
        return (image, sequence), torch.from_numpy(self.targets[indices])

    def describe(self) -> dict[str, Any]:
        """What the card records about the data and the split."""
        index = self.loaded.bars.index
        fractions = NIFTY_TRAIN_SPLIT if self.spec.task == "nifty" else TICKER_TRAIN_SPLIT
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
                "fractions": list(fractions),
                "purged_at_each_boundary": self.split.purged // 2,
                **{name: int(size) for name, size in zip(SPLIT_NAMES, self.split.sizes(), strict=True)},
                "chronological": True,
            },
        }


def encode_images(ohlc: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """(B, T, 4) OHLC windows → (B, 1, S, S) float32 images of ``spec.image``."""
    if spec.image == "gadf":
        return GADFEncoder(spec.image_size).transform(ohlc[:, :, 3])
    return CandlestickEncoder(spec.image_size).transform(ohlc)


def load_samples(spec: ModelSpec, source: str, *, date_order: str = "auto", files: bool = True) -> TaskSamples:
    """Load ``source`` and cut it into the samples of ``spec.task``.

    ``files=False`` (the dashboard) refuses file paths: see :func:`data.load_source`.

    Raises:
        DataError: the source cannot be loaded or is too short for a split.
    """
    if spec.task == "nifty":
        loaded = load_source(source, "1m", date_order=date_order, files=files)
        return _nifty_samples(spec, loaded, make_nifty_days(loaded.bars))
    loaded = load_source(source, "60m", date_order=date_order, files=files)
    return _ticker_samples(spec, loaded, make_ticker_windows(loaded.bars, spec.sequence_length))


def _nifty_samples(spec: ModelSpec, loaded: LoadedBars, days: NiftyDays) -> TaskSamples:
    split = chronological_split(len(days), NIFTY_TRAIN_SPLIT)
    ohlc = days.first_hour_ohlc
    return TaskSamples(
        spec=spec,
        loaded=loaded,
        split=split,
        targets=days.label.astype(np.int64),
        last_log10=None,
        sequences=None,
        ohlc=ohlc,
        precomputed_images=encode_images(ohlc, spec),
    )


def _ticker_samples(spec: ModelSpec, loaded: LoadedBars, windows: TickerWindows) -> TaskSamples:
    split = chronological_split(len(windows), TICKER_TRAIN_SPLIT, purge=spec.sequence_length)
    return TaskSamples(
        spec=spec,
        loaded=loaded,
        split=split,
        targets=np.asarray(windows.target_log10_close, dtype=np.float64),
        last_log10=np.log10(np.asarray(windows.last_close, dtype=np.float64)),
        sequences=np.asarray(windows.log10_close, dtype=np.float64),
        ohlc=np.asarray(windows.ohlc),
    )
