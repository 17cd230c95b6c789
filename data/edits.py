"""Counterfactual edits of a price window, in price space: what if these bars had been different?

Every explanation tool scores maps by masking *pixels*; a masked candlestick column is not a bar
that did not happen, and a masked GADF pixel breaks the field's antisymmetry. The edits here change
the *prices* instead, and the model's inputs are drawn again from the edited bars
(:func:`xai.price_space.edited_inputs`), so every question is one a market could ask.

Bars are ``(..., W, 4)`` open / high / low / close arrays; a range is ``[first, last]``, inclusive
bar positions. The level a range starts from, ``P``, is the close of the bar before it (the first
bar's open when the range starts the window); its net move is ``Δ = close[last] − P``.

* :class:`Interpolate` — the one *removal* operator (occlusion in time, price-space deletion and
  insertion, the page's "flatten"): each removed bar's close is replaced by the straight line
  between the nearest kept closes on either side (the window's first open stands before bar 0; a
  run at the end stays flat at the last kept close; nothing kept: flat at the first open); the
  removed bar opens at the previous close and has no wicks. Kept bars are never touched, the
  prices stay between kept prices (never ≤ 0), and a range that is already a straight line
  changes nothing.
* :class:`Scale` — the range's move times ``factor`` around ``P``: ``p' = P + factor·(p − P)`` in
  the range (high and low swap when ``factor < 0``) and every later price shifted by
  ``(factor − 1)·Δ``, so the range contributes ``factor·Δ``. :func:`remove_move` is ``factor 0``
  (flat at ``P``, later bars shifted by ``−Δ``: the move did not happen), :func:`invert_move`
  ``factor −1``. Prices shift additively, in the window's currency, as a trader reads them; an
  edit that would leave a price ≤ 0 is refused with the reason (:class:`EditError`), never clipped.

Edits are frozen dataclasses: hashable (a page caches on them), with :meth:`PriceEdit.to_text` /
:func:`edit_from_text` for the URL (``flatten:10-14``, ``scale:10-14:2``).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from data.bars import LoadedBars
from data.checks import check_int, check_real
from data.errors import DataError
from data.settings import OHLC

__all__ = [
    "EDIT_KINDS",
    "EditError",
    "EditKind",
    "Interpolate",
    "PriceEdit",
    "RangeEdit",
    "Scale",
    "WithoutPattern",
    "edit_from_text",
    "flatten_range",
    "interpolate_bars",
    "invert_move",
    "remove_move",
    "scale_move",
]

#: The largest |factor| a scale edit takes.
MAX_FACTOR = 10.0


class EditError(DataError):
    """An edit that cannot be applied to this window (the message says why and what to do)."""


def _bars(ohlc: Any) -> np.ndarray:
    array = np.asarray(ohlc, dtype=np.float64)
    if array.ndim < 2 or array.shape[-1] != 4 or array.shape[-2] < 2:
        raise ValueError(f"ohlc must be (..., W, 4) open/high/low/close bars with W >= 2, got shape {array.shape}")
    if not np.isfinite(array).all() or (array <= 0).any():
        raise ValueError("ohlc must hold finite prices > 0")
    return array


def interpolate_bars(ohlc: Any, removed: Any) -> np.ndarray:
    """``ohlc`` with the bars where ``removed`` is true replaced by the straight line through their kept neighbours.

    Args:
        ohlc: ``(..., W, 4)`` bars, prices > 0.
        removed: ``(..., W)`` bool, broadcastable against ``ohlc[..., 0]`` (one mask per window,
            or one for all).

    Returns:
        ``(..., W, 4)`` float64 new bars (see the module docstring); kept bars bit-for-bit unchanged.
    """
    bars = _bars(ohlc)
    mask = np.asarray(removed)
    if mask.dtype != np.bool_:
        raise TypeError(f"removed must be a bool array (..., W), got dtype {mask.dtype}")
    shape = np.broadcast_shapes(bars.shape[:-1], mask.shape)
    bars = np.broadcast_to(bars, (*shape, 4))
    mask = np.broadcast_to(mask, shape)
    n_bars = shape[-1]
    steps = np.arange(n_bars)
    # the known points: the first open at position −1, then every kept close
    levels = np.concatenate([bars[..., :1, 0], bars[..., 3]], axis=-1)  # (..., W+1), level[t+1] = close[t]
    before = np.maximum.accumulate(np.where(mask, -1, steps), axis=-1)  # last kept bar ≤ t (−1: the open)
    after = np.flip(np.minimum.accumulate(np.flip(np.where(mask, n_bars, steps), axis=-1), axis=-1), axis=-1)
    left = np.take_along_axis(levels, before + 1, axis=-1)
    has_right = after < n_bars
    right = np.take_along_axis(levels, np.minimum(after, n_bars - 1) + 1, axis=-1)
    span = np.maximum(after - before, 1)  # kept bars: after == before == t (their weight is not used)
    weight = np.where(has_right, (steps - before) / span, 0.0)
    closes = np.where(mask, left + (right - left) * weight, bars[..., 3])
    opens = np.concatenate([bars[..., :1, 0], closes[..., :-1]], axis=-1)
    opens = np.where(mask, opens, bars[..., 0])
    out = np.array(bars, dtype=np.float64, copy=True)
    out[..., 0] = opens
    out[..., 3] = closes
    out[..., 1] = np.where(mask, np.maximum(opens, closes), bars[..., 1])
    out[..., 2] = np.where(mask, np.minimum(opens, closes), bars[..., 2])
    return out


class PriceEdit(abc.ABC):
    """One counterfactual change of a window's prices."""

    #: The edit's name in the URL and on the page.
    kind: ClassVar[str]

    @property
    def name(self) -> str:
        """The edit's name as the page and the URL give it (a kind of :data:`EDIT_KINDS`, or ``without-pattern``)."""
        return self.kind

    @abc.abstractmethod
    def apply(self, ohlc: Any) -> np.ndarray:
        """``(..., W, 4)`` bars → the edited bars (float64).

        Raises:
            EditError: the edit does not fit these bars (a range outside the window, a price ≤ 0).
        """

    @abc.abstractmethod
    def describe(self, step_labels: tuple[str, ...] | None = None) -> str:
        """The edit in words (``step_labels`` name the bars; default: their positions from 1)."""

    @abc.abstractmethod
    def to_text(self) -> str:
        """The edit as :func:`edit_from_text` reads it (the URL's ``?edit=``)."""

    def edit_window(self, window: pd.DataFrame, loaded: LoadedBars) -> np.ndarray:
        """The edited ``(W, 4)`` bars of ``window`` (a time-indexed OHLC slice of ``loaded``)."""
        return self.apply(window[list(OHLC)].to_numpy(dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class RangeEdit(PriceEdit, abc.ABC):
    """An edit of the bars ``first .. last`` (inclusive positions from 0)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        first, last = check_int(self.first, "first", 0), check_int(self.last, "last", 0)
        if last < first:
            raise EditError(f"the range is empty: last ({last}) must be at or after first ({first}); pick bars again")

    def check_window(self, n_bars: int) -> None:
        """Refuse a range outside a window of ``n_bars``, or one covering all of it."""
        if self.last >= n_bars:
            raise EditError(
                f"the range {self.first + 1}–{self.last + 1} is outside this window of {n_bars} bars; "
                f"pick bars between 1 and {n_bars}"
            )
        if self.first == 0 and self.last == n_bars - 1:
            raise EditError(
                f"the range covers the whole window ({n_bars} bars): nothing would be left to compare the edit "
                "with; pick fewer bars"
            )

    def _span(self, step_labels: tuple[str, ...] | None) -> str:
        if step_labels is None:
            return f"bars {self.first + 1}–{self.last + 1}"
        return f"{step_labels[self.first]} – {step_labels[self.last]}"


@dataclasses.dataclass(frozen=True)
class Interpolate(RangeEdit):
    """Flatten: the range's bars on the straight line between the closes around it (:func:`interpolate_bars`)."""

    kind: ClassVar[str] = "flatten"

    def apply(self, ohlc: Any) -> np.ndarray:
        bars = _bars(ohlc)
        self.check_window(bars.shape[-2])
        removed = np.zeros(bars.shape[-2], dtype=bool)
        removed[self.first : self.last + 1] = True
        return interpolate_bars(bars, removed)

    def describe(self, step_labels: tuple[str, ...] | None = None) -> str:
        return f"{self._span(step_labels)} flattened (a straight line between the closes around them)"

    def to_text(self) -> str:
        return f"{self.name}:{self.first + 1}-{self.last + 1}"


@dataclasses.dataclass(frozen=True)
class Scale(RangeEdit):
    """The range's move times ``factor`` around the level it starts from; later bars follow."""

    factor: float = 1.0
    kind: ClassVar[str] = "scale"

    def __post_init__(self) -> None:
        super().__post_init__()
        factor = check_real(self.factor, "factor")
        if abs(factor) > MAX_FACTOR:
            raise EditError(f"factor must be between −{MAX_FACTOR:g} and {MAX_FACTOR:g}, got {factor:g}")

    def apply(self, ohlc: Any) -> np.ndarray:
        bars = _bars(ohlc)
        n_bars = bars.shape[-2]
        self.check_window(n_bars)
        level = bars[..., self.first - 1, 3] if self.first > 0 else bars[..., 0, 0]  # P
        level = level[..., None, None]
        move = bars[..., self.last, 3][..., None, None] - level  # Δ
        out = bars.copy()
        inside = slice(self.first, self.last + 1)
        out[..., inside, :] = level + self.factor * (bars[..., inside, :] - level)
        if self.factor < 0:  # a mirrored bar's high is the old low
            out[..., inside, 1], out[..., inside, 2] = out[..., inside, 2].copy(), out[..., inside, 1].copy()
        out[..., self.last + 1 :, :] += (self.factor - 1.0) * move
        lowest = out.min()
        if not lowest > 0:
            where = np.unravel_index(int(np.argmin(out)), out.shape)
            raise EditError(
                f"{self.describe()} would take the price to {lowest:,.4g} at bar {where[-2] + 1}: prices must stay "
                "above 0. Pick a smaller factor or a shorter range"
            )
        return out

    def describe(self, step_labels: tuple[str, ...] | None = None) -> str:
        span = self._span(step_labels)
        if self.factor == 0:
            return f"the move of {span} removed (flat at the level it started from; later bars shifted)"
        if self.factor == -1:
            return f"the move of {span} inverted (later bars shifted)"
        return f"the move of {span} scaled by {self.factor:g} (later bars shifted)"

    @property
    def name(self) -> str:
        return {0.0: "remove", -1.0: "invert"}.get(float(self.factor), self.kind)

    def to_text(self) -> str:
        if self.name != self.kind:
            return f"{self.name}:{self.first + 1}-{self.last + 1}"
        return f"{self.kind}:{self.first + 1}-{self.last + 1}:{self.factor:g}"


@dataclasses.dataclass(frozen=True)
class WithoutPattern(PriceEdit):
    """The demo window regenerated without planted pattern number ``pattern`` (a row of
    :func:`data.demo.planted_patterns`): the generator knows what it added, so it draws the same
    market again with that one pattern left out (:func:`data.demo.demo_bars_without`)."""

    pattern: int
    kind: ClassVar[str] = "without-pattern"

    def __post_init__(self) -> None:
        check_int(self.pattern, "pattern", 0)

    def apply(self, ohlc: Any) -> np.ndarray:
        raise EditError("removing a planted pattern needs the demo market's window, not bare bars (edit_window)")

    def edit_window(self, window: pd.DataFrame, loaded: LoadedBars) -> np.ndarray:
        from data.demo import DEMO_SYMBOLS, demo_bars_without

        symbol = str(loaded.source).removeprefix("demo:")
        if not loaded.synthetic or symbol not in DEMO_SYMBOLS:
            raise EditError(
                "only the demo market knows what it planted: pick flatten, remove, invert or scale for these prices"
            )
        regenerated = demo_bars_without(symbol, self.pattern, loaded.interval).bars
        missing = window.index.difference(regenerated.index)
        if len(missing):
            raise EditError(f"the regenerated market lacks {len(missing)} of this window's bars; pick another window")
        return regenerated.loc[window.index, list(OHLC)].to_numpy(dtype=np.float64)

    def describe(self, step_labels: tuple[str, ...] | None = None) -> str:
        return f"the same window without its planted pattern (pattern {self.pattern} of the demo's ground truth)"

    def to_text(self) -> str:
        return f"{self.kind}:{self.pattern}"


def flatten_range(first: int, last: int) -> Interpolate:
    """Flatten bars ``first .. last``."""
    return Interpolate(first, last)


def remove_move(first: int, last: int) -> Scale:
    """The move of bars ``first .. last`` did not happen: flat at its starting level, later bars shifted."""
    return Scale(first, last, 0.0)


def invert_move(first: int, last: int) -> Scale:
    """The move of bars ``first .. last`` mirrored: a rise becomes the same fall."""
    return Scale(first, last, -1.0)


def scale_move(first: int, last: int, factor: float) -> Scale:
    """The move of bars ``first .. last`` times ``factor``."""
    return Scale(first, last, factor)


@dataclasses.dataclass(frozen=True)
class EditKind:
    """One kind of range edit as the page offers it: how it is built from a range (and a factor)."""

    build: Any
    takes_factor: bool = False

    def __call__(self, first: int, last: int, factor: float = 1.0) -> RangeEdit:
        return self.build(first, last, factor) if self.takes_factor else self.build(first, last)


#: Edit name → how the page builds it from a range (and, for "scale", a factor).
EDIT_KINDS: dict[str, EditKind] = {
    "flatten": EditKind(flatten_range),
    "remove": EditKind(remove_move),
    "invert": EditKind(invert_move),
    "scale": EditKind(scale_move, takes_factor=True),
}


def edit_from_text(text: str) -> PriceEdit:
    """Read ``kind:first-last[:factor]`` (bar positions from 1, as :meth:`PriceEdit.to_text` writes them).

    Raises:
        EditError: anything else, with the form expected.
    """
    form = "KIND:FIRST-LAST[:FACTOR] with KIND one of " + ", ".join(EDIT_KINDS) + " (e.g. flatten:10-14, scale:3-8:2)"
    parts = str(text).strip().split(":")
    kind = parts[0].lower()
    if kind == WithoutPattern.kind and len(parts) == 2 and parts[1].isdigit():
        return WithoutPattern(int(parts[1]))
    if kind not in EDIT_KINDS or len(parts) != 2 + EDIT_KINDS[kind].takes_factor:
        raise EditError(f"the edit {text!r} is not {form}")
    try:
        first_text, last_text = parts[1].split("-")
        first, last = int(first_text) - 1, int(last_text) - 1
        factor = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise EditError(f"the edit {text!r} is not {form}") from None
    if first < 0:
        raise EditError(f"the edit {text!r} starts before bar 1; bars are numbered from 1")
    return EDIT_KINDS[kind](first, last, factor)
