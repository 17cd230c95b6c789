"""The demo market regenerated without one planted pattern (``demo_bars_without``).

Known answers: what leaving a pattern out must change (exactly the planted
shape and drift on the index; the climb on a ticker) and what it must leave
alone (every bar before the pattern, every other index day's returns, the
earlier ticker patterns). Each market is generated once per module.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from data.bars import resample_bars
from data.demo import DEMO_INDEX, _market, _seed, _simulated, demo_bars, demo_bars_without, planted_patterns
from data.demo.patterns import (
    BREAKOUT_BALANCE_PULL,
    BREAKOUT_DRIFT_SIGMAS,
    BREAKOUT_UP_CLIP,
    BREAKOUT_VOLUME_RANGE,
    plant_breakouts,
)
from data.errors import DataError
from data.settings import FIRST_HOUR_MINUTES, SYNTHETIC_LABEL

INDEX_MINUTES = 375
TICKER = "ACME"


@dataclasses.dataclass(frozen=True)
class Pair:
    """A symbol's minute bars with and without planted pattern ``k``."""

    symbol: str
    k: int
    patterns: pd.DataFrame
    original: pd.DataFrame
    without: pd.DataFrame

    @property
    def row(self) -> pd.Series:
        return self.patterns.iloc[self.k]


def make_pair(symbol: str) -> Pair:
    patterns = planted_patterns(symbol)
    k = len(patterns) // 2  # a pattern in the middle of history
    return Pair(
        symbol=symbol,
        k=k,
        patterns=patterns,
        original=demo_bars(symbol, "1m").bars,
        without=demo_bars_without(symbol, k, "1m").bars,
    )


@pytest.fixture(scope="module")
def index_pair() -> Pair:
    return make_pair(DEMO_INDEX)


@pytest.fixture(scope="module")
def ticker_pair() -> Pair:
    return make_pair(TICKER)


def minute_log_returns(bars: pd.DataFrame) -> np.ndarray:
    """Close-to-close log returns of consecutive minutes (the gap sits in a session's first minute)."""
    return np.diff(np.log(bars["close"].to_numpy()))


def assert_identical_before(pair: Pair, stamp: pd.Timestamp) -> None:
    before = pair.original.index < stamp
    assert before.sum() > 0
    assert pair.without.index.equals(pair.original.index)
    assert np.array_equal(pair.without.to_numpy()[before], pair.original.to_numpy()[before])


# --- Index: first-hour V ------------------------------------------------------


def test_index_bars_before_the_pattern_are_identical(index_pair: Pair) -> None:
    assert_identical_before(index_pair, index_pair.row["start"])
    at_start = index_pair.original.index.get_loc(index_pair.row["start"])
    assert not np.array_equal(index_pair.without.iloc[at_start:], index_pair.original.iloc[at_start:])


def test_index_first_hour_differs_by_exactly_the_planted_v(index_pair: Pair) -> None:
    row = index_pair.row
    day_start = index_pair.original.index.get_loc(row["effect_start"]) - FIRST_HOUR_MINUTES
    assert index_pair.original.index[day_start] == row["day"] + pd.Timedelta(hours=9, minutes=15)
    # minute i's log return is diff[i - 1]: the first hour's 60 returns
    diff = (minute_log_returns(index_pair.original) - minute_log_returns(index_pair.without))[
        day_start - 1 : day_start - 1 + FIRST_HOUR_MINUTES
    ]
    low, high, sign, size = row["first_hour_start"], row["first_hour_end"], row["expected_sign"], row["size"]
    assert np.abs(diff[:low]).max() < 1e-12
    assert np.abs(diff[high:]).max() < 1e-12
    legs = diff[low:high]
    first = int((np.sign(legs) == -sign).sum())  # the first leg moves against the pattern's sign
    length = high - low
    assert 0 < first < length
    assert np.all(np.sign(legs[:first]) == -sign)
    assert np.all(np.sign(legs[first:]) == sign)
    shape = np.r_[np.full(first, -1.0 / first), np.full(length - first, 1.0 / (length - first))]
    np.testing.assert_allclose(legs, sign * size * shape, rtol=0, atol=1e-9)
    assert abs(legs.sum()) < 1e-12
    assert size > 0


def test_index_rest_of_day_differs_by_the_drift_and_other_days_not_at_all(index_pair: Pair) -> None:
    row = index_pair.row
    effect = index_pair.original.index.get_loc(row["effect_start"])
    day_end = index_pair.original.index.get_loc(row["effect_end"])
    rest = INDEX_MINUTES - FIRST_HOUR_MINUTES
    assert day_end - effect + 1 == rest
    diff = minute_log_returns(index_pair.original) - minute_log_returns(index_pair.without)
    np.testing.assert_allclose(diff[effect - 1 : day_end], row["effect_drift"] / rest, rtol=0, atol=1e-12)
    day_start = effect - FIRST_HOUR_MINUTES
    other_days = np.r_[diff[: day_start - 1], diff[day_end:]]
    assert len(other_days) == len(diff) - INDEX_MINUTES
    assert np.abs(other_days).max() < 1e-12
    # the removed drift and the V's rounding shift every later price by the same log amount
    shift = np.log(index_pair.original["close"].to_numpy()[-1] / index_pair.without["close"].to_numpy()[-1])
    assert shift == pytest.approx(row["effect_drift"], abs=1e-9)


def test_index_patterns_are_the_original_less_the_left_out_row(index_pair: Pair) -> None:
    expected = index_pair.patterns.drop(index=index_pair.k).reset_index(drop=True)
    pd.testing.assert_frame_equal(_market(DEMO_INDEX, index_pair.k).patterns, expected, check_exact=True)


# --- Tickers: hourly breakout -------------------------------------------------


def test_ticker_bars_before_the_climb_are_identical(ticker_pair: Pair) -> None:
    assert_identical_before(ticker_pair, ticker_pair.row["start"])


def test_ticker_climb_and_effect_hour_differ_by_exactly_the_planted_move(ticker_pair: Pair) -> None:
    row, index = ticker_pair.row, ticker_pair.original.index
    lo, hi = index.get_loc(row["start"]), index.get_loc(row["end"]) + 1
    climb = hi - lo
    assert 16 <= climb <= 24
    original, without = minute_log_returns(ticker_pair.original), minute_log_returns(ticker_pair.without)
    kept = without[lo - 1 : hi - 1]  # the climb minutes' own returns, unplanted
    sign, size = row["expected_sign"], row["size"]
    # planted: a steady move of `size` plus a quarter of the minutes' demeaned noise
    expected = sign * size / climb + 0.25 * (kept - kept.mean())
    np.testing.assert_allclose(original[lo - 1 : hi - 1], expected, rtol=0, atol=1e-12)
    assert original[lo - 1 : hi - 1].sum() == pytest.approx(sign * size, abs=1e-12)

    # wicks cut to 30 %, volume boosted 3-5 times
    def wicks(bars: pd.DataFrame) -> np.ndarray:
        part = bars.iloc[lo:hi]
        return np.log(part["high"] / np.maximum(part["open"], part["close"])).to_numpy()

    np.testing.assert_allclose(wicks(ticker_pair.original), 0.3 * wicks(ticker_pair.without), rtol=0, atol=1e-12)
    volume = ticker_pair.original["volume"].iloc[lo:hi].sum() / ticker_pair.without["volume"].iloc[lo:hi].sum()
    assert volume > 2.0
    # the next hour: the drift, spread evenly over its 60 minutes
    effect = index.get_loc(row["effect_start"])
    assert effect == hi
    diff = original[effect - 1 : effect + 59] - without[effect - 1 : effect + 59]
    np.testing.assert_allclose(diff, row["effect_drift"] / 60, rtol=0, atol=1e-12)
    assert np.sign(row["effect_drift"]) == sign


def test_ticker_earlier_patterns_are_identical_and_the_left_out_one_is_gone(ticker_pair: Pair) -> None:
    k, row = ticker_pair.k, ticker_pair.row
    regenerated = _market(TICKER, k).patterns
    pd.testing.assert_frame_equal(regenerated.iloc[:k], ticker_pair.patterns.iloc[:k], check_exact=True)
    assert row["start"] not in set(regenerated["start"])
    assert regenerated["start"].is_monotonic_increasing
    assert len(regenerated) > k


class RecordingRng:
    """A Generator that records every draw: (method, args, value)."""

    def __init__(self, seed: np.random.SeedSequence) -> None:
        self.rng = np.random.default_rng(seed)
        self.calls: list[tuple[str, tuple, object]] = []

    def __getattr__(self, name: str):
        method = getattr(self.rng, name)

        def call(*args: object):
            value = method(*args)
            self.calls.append((name, args, value))
            return value

        return call


@pytest.fixture(scope="module")
def ticker_scans(ticker_pair: Pair) -> dict[int | None, tuple[list, pd.DataFrame]]:
    """The ticker scan run with skip=None and skip=k on recording generators."""
    pattern_seed = _seed(TICKER).spawn(3)[1]
    simulated, stamps = _simulated(TICKER)
    scans = {}
    for skip in (None, ticker_pair.k):
        rng = RecordingRng(pattern_seed)
        table = plant_breakouts(rng, copy.deepcopy(simulated), stamps, TICKER, skip=skip)  # type: ignore[arg-type]
        scans[skip] = (rng.calls, table)
    return scans


def test_ticker_skip_makes_every_draw_of_the_left_out_pattern(ticker_pair: Pair, ticker_scans: dict) -> None:
    k = ticker_pair.k
    planted, skipped = ticker_scans[None][0], ticker_scans[k][0]
    volume_draws = [
        i for i, (name, args, _) in enumerate(planted) if (name, args) == ("uniform", BREAKOUT_VOLUME_RANGE)
    ]
    assert len(volume_draws) == len(ticker_pair.patterns)
    # the same draws up to the left-out pattern's volume boost, and the next hour's try after it
    through = volume_draws[k] + 2
    assert skipped[:through] == planted[:through]
    assert skipped[through - 2][:2] == ("uniform", BREAKOUT_VOLUME_RANGE)


def test_ticker_skip_counts_the_left_out_direction(ticker_pair: Pair, ticker_scans: dict) -> None:
    """Every coin of the scan without pattern k follows P(up) from the imbalance that counts k."""
    k = ticker_pair.k
    calls, table = ticker_scans[k]
    coins = [
        calls[i + 1][2] for i, (name, args, _) in enumerate(calls) if (name, args) == ("uniform", BREAKOUT_DRIFT_SIGMAS)
    ]
    signs = [*table["expected_sign"].iloc[:k], ticker_pair.row["expected_sign"], *table["expected_sign"].iloc[k:]]
    assert len(coins) == len(signs) == len(table) + 1
    imbalance = 0
    for coin, sign in zip(coins, signs, strict=True):
        p_up = min(max(0.5 - BREAKOUT_BALANCE_PULL * imbalance, BREAKOUT_UP_CLIP[0]), BREAKOUT_UP_CLIP[1])
        assert sign == (1 if coin < p_up else -1)
        imbalance += sign
    pd.testing.assert_series_equal(table["start"], _market(TICKER, k).patterns["start"], check_names=False)


def test_hourly_bars_are_the_minutes_resampled_and_differ_only_from_the_pattern_hour(ticker_pair: Pair) -> None:
    k, row = ticker_pair.k, ticker_pair.row
    hourly = demo_bars_without(TICKER, k, "60m").bars
    pd.testing.assert_frame_equal(hourly, resample_bars(ticker_pair.without, "60m"), check_exact=True)
    original = demo_bars(TICKER, "60m").bars
    at = original.index.get_loc(row["pattern_hour"])
    window = slice(at - 49, at + 1)  # a 50-bar window ending at the pattern hour
    assert np.array_equal(hourly.iloc[window].iloc[:-1].to_numpy(), original.iloc[window].iloc[:-1].to_numpy())
    assert hourly.iloc[at]["close"] != original.iloc[at]["close"]
    assert hourly.iloc[at]["open"] == original.iloc[at]["open"]
    daily = demo_bars_without(TICKER, k, "1d").bars
    pd.testing.assert_frame_equal(daily, resample_bars(ticker_pair.without, "1d"), check_exact=True)


# --- API ----------------------------------------------------------------------


@pytest.mark.parametrize("symbol", [TICKER, DEMO_INDEX])
def test_skip_none_is_the_default_market(symbol: str) -> None:
    assert _market(symbol, None) is _market(symbol)
    pd.testing.assert_frame_equal(_market(symbol, None).minutes, demo_bars(symbol, "1m").bars, check_exact=True)
    pd.testing.assert_frame_equal(_market(symbol, None).patterns, planted_patterns(symbol), check_exact=True)


def test_loaded_bars_say_which_pattern_was_removed(index_pair: Pair) -> None:
    loaded = demo_bars_without(f" {DEMO_INDEX.lower()} ", index_pair.k, "1m")
    row = index_pair.row
    assert loaded.synthetic is True
    assert loaded.source == f"demo:{DEMO_INDEX}"
    assert loaded.interval == "1m"
    assert loaded.notes[0] == SYNTHETIC_LABEL
    assert f"pattern {index_pair.k}" in loaded.notes[1]
    assert row["kind"] in loaded.notes[1]
    assert f"{row['start']:%Y-%m-%d %H:%M}" in loaded.notes[1]


@pytest.mark.parametrize("symbol", [TICKER, DEMO_INDEX])
def test_a_pattern_outside_the_table_is_refused(symbol: str) -> None:
    n = len(planted_patterns(symbol))
    for bad in (-1, n):
        with pytest.raises(DataError, match=rf"pattern must be a row number.*0\.\.{n - 1}; got {bad}"):
            demo_bars_without(symbol, bad)


@pytest.mark.parametrize("bad", [1.5, True, "3", None])
def test_a_pattern_that_is_not_an_int_is_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="pattern must be an int"):
        demo_bars_without(TICKER, bad)  # type: ignore[arg-type]


def test_numpy_ints_are_accepted(index_pair: Pair) -> None:
    pd.testing.assert_frame_equal(
        demo_bars_without(DEMO_INDEX, np.int64(index_pair.k), "1m").bars, index_pair.without, check_exact=True
    )


def test_bad_symbol_and_interval_are_refused() -> None:
    with pytest.raises(DataError, match="symbol must be one of"):
        demo_bars_without("NOPE", 0)
    with pytest.raises(DataError, match="interval must be one of"):
        demo_bars_without(TICKER, 0, "5m")


@pytest.mark.parametrize("symbol", [TICKER, DEMO_INDEX])
def test_planting_refuses_a_skip_out_of_range(symbol: str) -> None:
    n = len(planted_patterns(symbol))
    with pytest.raises(
        ValueError, match=rf"skip must be a row number of the {n} .*pattern.*, 0\.\.{n - 1}; got {n + 5}"
    ):
        _market(symbol, n + 5)
    with pytest.raises(ValueError, match=r"skip must be a row number .*; got -1"):
        _market(symbol, -1)


def test_callers_get_their_own_copies(ticker_pair: Pair) -> None:
    for interval in ("1m", "60m"):
        first = demo_bars_without(TICKER, ticker_pair.k, interval).bars
        expected = first.copy()
        first.iloc[0, 0] = -1.0
        first["close"] *= 2.0
        del first["volume"]
        pd.testing.assert_frame_equal(demo_bars_without(TICKER, ticker_pair.k, interval).bars, expected)
    pd.testing.assert_frame_equal(demo_bars_without(TICKER, ticker_pair.k, "1m").bars, ticker_pair.without)
