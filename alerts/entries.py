"""A watch entry: which symbol, how large a predicted move, which way, by which model."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

#: Which predicted moves fire an alert.
DIRECTIONS = ("rises", "falls", "both")
#: Thresholds allowed, in percent of the last close (exclusive low, inclusive high).
THRESHOLD_RANGE_PCT = (0.0, 50.0)
#: Model names besides trained checkpoints' folder names.
SHIPPED_MODEL = "shipped"
#: Longest source text kept.
MAX_SOURCE_CHARS = 200


@dataclasses.dataclass(frozen=True)
class WatchEntry:
    """One line of the watchlist.

    Attributes:
        source: a demo symbol (``demo:ACME``), a Yahoo ticker (``AAPL``) or a kept upload
            (``upload:<digest>``).
        threshold_pct: the predicted move, in percent of the last close, that fires an alert.
        direction: ``"rises"``, ``"falls"`` or ``"both"``.
        model: ``"shipped"`` or the folder name of a ticker model trained here.
        calendar: the market calendar that says when to check (see :mod:`alerts.calendars`);
            ``""`` picks the source's own.
        enabled: checked at all.
        id: the store's id (``None`` before it is stored).
        failing: why the last check could not check it, or ``None``.
    """

    source: str
    threshold_pct: float
    direction: str = "both"
    model: str = SHIPPED_MODEL
    calendar: str = ""
    enabled: bool = True
    id: int | None = None
    failing: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(f"source must be a demo symbol, ticker or upload, got {self.source!r}")
        if len(self.source) > MAX_SOURCE_CHARS:
            raise ValueError(f"source must be at most {MAX_SOURCE_CHARS} characters, got {len(self.source)}")
        object.__setattr__(self, "source", self.source.strip())
        threshold = self.threshold_pct
        low, high = THRESHOLD_RANGE_PCT
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ValueError(f"threshold_pct must be a number in ({low:g}, {high:g}] percent, got {threshold!r}")
        if not low < threshold <= high:
            raise ValueError(f"threshold_pct must be in ({low:g}, {high:g}] percent, got {threshold:g}")
        object.__setattr__(self, "threshold_pct", float(threshold))
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model must be {SHIPPED_MODEL!r} or a trained ticker model's name, got {self.model!r}")

    def fires(self, forecast_pct: float) -> bool:
        """Does a forecast move of ``forecast_pct`` percent fire this entry's alert?

        The What-if page's rule (``|forecast| >= threshold``), restricted to the entry's direction.
        """
        if not math.isfinite(forecast_pct):
            return False
        if self.direction == "rises":
            return forecast_pct >= self.threshold_pct
        if self.direction == "falls":
            return -forecast_pct >= self.threshold_pct
        return abs(forecast_pct) >= self.threshold_pct

    def with_changes(self, **changes: Any) -> WatchEntry:
        """A copy with ``changes`` applied, validated again."""
        return dataclasses.replace(self, **changes)
