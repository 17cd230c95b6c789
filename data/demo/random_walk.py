"""Bare random-walk windows: no calendar, no patterns — inputs for encoder tests and benchmarks."""

from __future__ import annotations

import numpy as np


def random_walk_ohlc(rng: np.random.Generator, n_windows: int, n_bars: int) -> np.ndarray:
    """``(n_windows, n_bars, 4) float64`` positive random-walk open/high/low/close bars around 100."""
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_windows, n_bars + 1)), axis=1))
    open_, close = closes[:, :-1], closes[:, 1:]
    wiggle = np.abs(rng.normal(0, 0.004, (n_windows, n_bars, 2)))
    high = np.maximum(open_, close) * (1 + wiggle[..., 0])
    low = np.minimum(open_, close) * (1 - wiggle[..., 1])
    return np.stack([open_, high, low, close], axis=-1)


def random_walk_closes(rng: np.random.Generator, n_windows: int, n_minutes: int) -> np.ndarray:
    """``(n_windows, n_minutes) float64`` minute closes around an index level of 18,000."""
    return 18000 * np.exp(np.cumsum(rng.normal(0, 5e-4, (n_windows, n_minutes)), axis=1))
