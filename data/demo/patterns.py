"""Patterns planted in the demo market, with their ground truth.

Two families, each edited into :class:`~data.demo.process.MinutePaths` in
place before the bars are built:

* the index: a V-shaped reversal (or an inverted V) in the middle of the first
  hour, followed by a drift over the rest of the day that makes an up day
  (last close above first open) likely after a V and unlikely after an
  inverted V;
* the tickers: a breakout to a new 20-hour high (or a breakdown to a new
  20-hour low) in the last ~20 minutes of an hour, on heavy volume, followed by
  a sharp move the same way during the next hour.

Each function returns one row per planted pattern (see ``data.demo.planted_patterns``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from data.demo.process import INTRADAY_SHARE, SIGMA_CLIP, T_DOF, MinutePaths
from data.settings import FIRST_HOUR_MINUTES

# --- Index: first-hour V / inverted V ------------------------------------------

#: Share of days with a V, and with an inverted V (independent draw per day).
V_SHARE = 0.25
INVERTED_V_SHARE = 0.25
#: First-hour offsets of the pattern: start in [low, high], length in [low, high] minutes.
V_START_RANGE = (15, 30)
V_LENGTH_RANGE = (12, 20)
#: Share of the pattern spent on the first leg.
V_FIRST_LEG_SHARE = (0.4, 0.6)
#: Depth in units of the first leg's own noise (sigma of the leg's summed minute returns).
V_DEPTH_RANGE = (3.0, 4.0)
#: Probability of an up day after a V (and of a down day after an inverted V).
V_UP_PROBABILITY = 0.85

# --- Tickers: hourly breakout / breakdown --------------------------------------

#: No pattern among the first hourly bars of history (room for a 50-bar window).
BREAKOUT_FIRST_HOUR_BAR = 60
#: Lookback of the "new high / new low" rule, in hourly bars.
BREAKOUT_LOOKBACK_BARS = 20
#: Minimum distance between two patterns, in hourly bars.
BREAKOUT_MIN_SPACING = 4
#: Chance that an allowed hour is tried at all (tuned so that about 3.5 % of
#: hourly bars carry a pattern); a tried hour takes a pattern if it can.
BREAKOUT_HOUR_CHANCE = 0.3
#: P(breakout) = 1/2 - this × (breakouts so far - breakdowns so far), clipped to
#: BREAKOUT_UP_CLIP: a soft pull that keeps the two kinds near 50/50.
BREAKOUT_BALANCE_PULL = 0.05
BREAKOUT_UP_CLIP = (0.2, 0.8)
#: Pattern hours allowed within a session (0 = the opening hour); the effect
#: hour (the next one) is then a full 60-minute hour of the same session.
BREAKOUT_LAST_PATTERN_HOUR = 4
#: Length of the climb (minutes, inclusive range) at the end of the pattern hour.
BREAKOUT_MINUTES_RANGE = (16, 24)
#: Smallest climb, in units of the hour's sigma; the climb ends this far beyond the old extreme.
BREAKOUT_SIZE_RANGE = (1.2, 1.8)
BREAKOUT_MARGIN_SIGMAS = 0.1
#: Largest climb (hour sigmas): an hour whose 20-hour high or low is farther away is skipped.
BREAKOUT_REACH_SIGMAS = 6.0
#: Volume multiplier during the climb.
BREAKOUT_VOLUME_RANGE = (3.0, 5.0)
#: Share of the minute noise kept during the climb, and of the wicks.
BREAKOUT_NOISE_KEPT = 0.25
BREAKOUT_WICK_KEPT = 0.3
#: Log drift added over the effect hour, in units of the day's sigma.
BREAKOUT_DRIFT_SIGMAS = (1.4, 2.0)
#: GARCH(1,1) of the tickers, fed by the realised returns (planted moves included).
TICKER_GARCH_ALPHA = 0.10
TICKER_GARCH_PERSISTENCE = 0.98
#: Starting guess of the mean squared standardised return (planted moves make it > 1).
TICKER_SHOCK_MEAN_SQUARE = 1.9


# The patterns' drifts are tuned with this closed form, so the process must draw its shocks
# from the same distribution: a change of process.T_DOF has to come with a new quantile here.
T4_DOF = 4.0
if T4_DOF != T_DOF:
    raise RuntimeError(
        f"data.demo.patterns assumes Student-t shocks with {T4_DOF:g} degrees of freedom; "
        f"data.demo.process.T_DOF is {T_DOF:g}"
    )


def unit_t4_quantile(probability: float) -> float:
    """Quantile of the unit-variance Student-t with 4 degrees of freedom.

    Inverts the closed-form CDF ``F(x) = 1/2 + x(x² + 6) / (2(x² + 4)^(3/2))``
    by bisection, then scales by sqrt(2/4) to unit variance.
    """
    low, high = -1e3, 1e3
    for _ in range(100):
        middle = 0.5 * (low + high)
        if 0.5 + middle * (middle**2 + 6.0) / (2.0 * (middle**2 + 4.0) ** 1.5) < probability:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high) * math.sqrt((T4_DOF - 2.0) / T4_DOF)


def _check_skip_type(skip: object) -> None:
    """Refuse a ``skip`` that is neither None nor an int (bool included)."""
    if skip is not None and (isinstance(skip, bool) or not isinstance(skip, (int, np.integer))):
        raise TypeError(f"skip must be an int row number of the patterns or None, got {type(skip).__name__} {skip!r}")


def _check_skip(skip: int | None, found: int, rule: str) -> None:
    """Refuse a ``skip`` that names no pattern (``found`` patterns, ``rule`` says which)."""
    _check_skip_type(skip)
    if skip is not None and not 0 <= skip < found:
        raise ValueError(f"skip must be a row number of the {rule}, 0..{found - 1}; got {skip}")


def plant_index_patterns(
    rng: np.random.Generator, paths: MinutePaths, stamps: pd.DatetimeIndex, symbol: str, *, skip: int | None = None
) -> pd.DataFrame:
    """Plant first-hour V / inverted-V patterns and their rest-of-day drift.

    On each pattern day the first leg moves ``depth`` (log) against the
    pattern's sign over ``first`` minutes and the second leg undoes it exactly,
    added on top of the minute noise; then a drift ``± k·sigma_intraday``
    spread evenly over minutes 60 .. M-1, with ``k`` the unit-t quantile that
    makes P(up | V) = V_UP_PROBABILITY (the day's intraday move is unit-t).

    Args:
        rng: the pattern generator.
        paths: (D, M) minute paths, edited in place.
        stamps: (D * M,) minute stamps, day-major.
        symbol: written into the ``symbol`` column.
        skip: row number (time order) of one pattern day to leave out: every
            draw is still made and every other day planted exactly as without
            ``skip``; that day gets neither the V nor the drift.

    Returns:
        One row per planted pattern day, columns as ``planted_patterns``
        documents for the index (the skipped day has none).

    Raises:
        ValueError: ``skip`` outside 0 .. (pattern days - 1).
    """
    n_days, n_minutes = paths.returns.shape
    draw = rng.random(n_days)
    start = rng.integers(V_START_RANGE[0], V_START_RANGE[1] + 1, n_days)
    length = rng.integers(V_LENGTH_RANGE[0], V_LENGTH_RANGE[1] + 1, n_days)
    first = np.rint(length * rng.uniform(*V_FIRST_LEG_SHARE, n_days)).astype(np.int64)
    depth_units = rng.uniform(*V_DEPTH_RANGE, n_days)

    sign = np.where(draw < V_SHARE, 1, np.where(draw < V_SHARE + INVERTED_V_SHARE, -1, 0))
    days = np.flatnonzero(sign != 0)
    start, length, first, sign = start[days], length[days], first[days], sign[days]
    end = start + length
    _check_skip(skip, len(days), f"{len(days)} index pattern days (one per V / inverted-V day, time order)")

    offset = np.arange(FIRST_HOUR_MINUTES)[None, :]
    in_first = (offset >= start[:, None]) & (offset < (start + first)[:, None])
    in_second = (offset >= (start + first)[:, None]) & (offset < end[:, None])
    minute_sigma = paths.minute_sigma()[days, :FIRST_HOUR_MINUTES]
    leg_sigma = np.sqrt(np.where(in_first, minute_sigma**2, 0.0).sum(axis=1))
    depth = depth_units[days] * leg_sigma
    shape = np.where(in_first, -1.0 / first[:, None], 0.0) + np.where(in_second, 1.0 / (length - first)[:, None], 0.0)
    drift = sign * unit_t4_quantile(V_UP_PROBABILITY) * paths.sigma[days] * INTRADAY_SHARE
    rest = n_minutes - FIRST_HOUR_MINUTES

    # Everything above is computed for every pattern day; a skipped day is only left out from here on.
    keep = np.ones(len(days), dtype=bool)
    if skip is not None:
        keep[skip] = False
    days, start, end, first, length, sign = days[keep], start[keep], end[keep], first[keep], length[keep], sign[keep]
    depth, shape, drift = depth[keep], shape[keep], drift[keep]
    paths.returns[days, :FIRST_HOUR_MINUTES] += (sign * depth)[:, None] * shape
    paths.returns[days, FIRST_HOUR_MINUTES:] += (drift / rest)[:, None]

    base = days * n_minutes
    return pd.DataFrame(
        {
            "symbol": symbol,
            "kind": np.where(sign > 0, "v_reversal", "inverted_v"),
            "day": stamps[base].normalize(),
            "start": stamps[base + start],
            "end": stamps[base + end - 1],
            "effect_start": stamps[base + FIRST_HOUR_MINUTES],
            "effect_end": stamps[base + n_minutes - 1],
            "expected_sign": sign.astype(np.int64),
            "first_hour_start": start.astype(np.int64),
            "first_hour_end": end.astype(np.int64),
            "size": depth,
            "effect_drift": drift,
        }
    )


def plant_breakouts(
    rng: np.random.Generator, paths: MinutePaths, stamps: pd.DatetimeIndex, symbol: str, *, skip: int | None = None
) -> pd.DataFrame:
    """Plant hourly breakouts / breakdowns and the sharp move of the next hour.

    Hourly bars are the session-anchored ones of ``resample_bars``: hour j of
    a day covers minutes ``60j .. min(60j + 60, M) - 1``. The scan runs left to
    right, day by day, and does two things:

    * GARCH feedback: when it reaches a day it rescales that day's gap, minute
      returns and wicks to the sigma of a GARCH(1,1) recursion driven by the
      realised close-to-close returns so far, planted moves included, so big
      planted days raise the volatility of the following days like any other
      news (the recursion's persistence is lowered by the running mean square
      of the standardised returns, which keeps the long-run level stable).
    * Patterns: every allowed hour (not among the first BREAKOUT_FIRST_HOUR_BAR,
      at most hour BREAKOUT_LAST_PATTERN_HOUR of its session, at least
      BREAKOUT_MIN_SPACING hours after the last pattern) is tried with chance
      BREAKOUT_HOUR_CHANCE, and takes a pattern if its 20-hour high *and* low
      are both within BREAKOUT_REACH_SIGMAS hour sigmas of the price. The rule
      is the same for both directions, so which hours are taken says nothing
      about the direction, and the random tries keep the spacing irregular.
      The direction is then a coin that depends only on the running count of
      breakouts minus breakdowns (P(up) = 1/2 − BREAKOUT_BALANCE_PULL × count,
      clipped), never on prices. The climb replaces the last L minutes'
      returns by a steady move (plus a little of their noise) of at least
      BREAKOUT_SIZE_RANGE hour sigmas, ending BREAKOUT_MARGIN_SIGMAS beyond
      every high (low) of the previous 20 hourly bars and of the hour so far:
      the new extreme is made within the hour. The next hour gets a log drift
      of BREAKOUT_DRIFT_SIGMAS × the day's sigma.

    Args:
        rng: the pattern generator.
        paths: (D, M) minute paths, edited in place (``sigma`` and ``gap`` too).
        stamps: (D * M,) minute stamps, day-major.
        symbol: written into the ``symbol`` column.
        skip: number (time order) of one pattern to leave out: the scan makes
            its draws and counts its direction as if it were planted, but
            edits no returns, wicks, volume or next-hour drift, and goes on
            (later prices differ, so later patterns may too; the GARCH
            feedback sees the unplanted prices).

    Returns:
        One row per planted pattern, columns as ``planted_patterns`` documents
        for tickers (the skipped one has none).

    Raises:
        ValueError: ``skip`` outside 0 .. (patterns found - 1), known once the scan ends.
    """
    _check_skip_type(skip)  # the range is known once the scan ends
    n_days, n_minutes = paths.returns.shape
    hours_per_day = math.ceil(n_minutes / 60)
    n_hours = n_days * hours_per_day
    returns = paths.returns.reshape(-1)
    wick_up, wick_down = paths.wick_up.reshape(-1), paths.wick_down.reshape(-1)
    boost = paths.volume_boost.reshape(-1)
    gap_at = np.zeros(n_days * n_minutes)
    hour_share = np.sqrt(np.add.reduceat(paths.weights**2, np.arange(0, n_minutes, 60))) * INTRADAY_SHARE
    hour_sigma = np.zeros(n_hours)

    base_sigma = paths.sigma.copy()
    long_run = paths.daily_vol**2
    omega = long_run * (1.0 - TICKER_GARCH_PERSISTENCE)
    low, high = SIGMA_CLIP[0] ** 2 * long_run, SIGMA_CLIP[1] ** 2 * long_run
    state = {"variance": long_run, "squares": TICKER_SHOCK_MEAN_SQUARE * 50.0, "count": 50.0, "ready": 0}

    def materialize(day: int) -> None:
        """Rescale days up to ``day`` to the GARCH sigma of the realised returns before each."""
        while state["ready"] <= day:
            t = int(state["ready"])
            variance = state["variance"]
            if t > 0:
                r = paths.gap[t - 1] + paths.returns[t - 1].sum() - paths.drift
                state["squares"] += r * r / variance
                state["count"] += 1.0
                beta = TICKER_GARCH_PERSISTENCE - TICKER_GARCH_ALPHA * state["squares"] / state["count"]
                variance = min(max(omega + TICKER_GARCH_ALPHA * r * r + beta * variance, low), high)
            sigma = math.sqrt(variance)
            factor = sigma / base_sigma[t]
            paths.returns[t] *= factor
            paths.wick_up[t] *= factor
            paths.wick_down[t] *= factor
            paths.gap[t] = paths.drift + (paths.gap[t] - paths.drift) * factor
            paths.sigma[t] = sigma
            gap_at[t * n_minutes] = paths.gap[t]
            hour_sigma[t * hours_per_day : (t + 1) * hours_per_day] = sigma * hour_share
            state["variance"], state["ready"] = variance, t + 1

    def first_minute(hour: int) -> int:
        day, within = divmod(hour, hours_per_day)
        return day * n_minutes + 60 * within

    def needed_moves(hour: int, climb: int) -> tuple[float, float]:
        """Log moves from the close before the climb to just beyond the 20-hour high and low."""
        lo, hi = first_minute(hour - BREAKOUT_LOOKBACK_BARS), first_minute(hour) + 60 - climb
        log_close = np.cumsum(returns[lo:hi] + gap_at[lo:hi])
        log_open = log_close - returns[lo:hi]
        top = (np.maximum(log_open, log_close) + wick_up[lo:hi]).max()
        bottom = (np.minimum(log_open, log_close) - wick_down[lo:hi]).min()
        margin = BREAKOUT_MARGIN_SIGMAS * hour_sigma[hour]
        return float(top - log_close[-1] + margin), float(log_close[-1] - bottom + margin)

    found: list[tuple[int, int, int, float, float]] = []
    imbalance = 0
    hour = BREAKOUT_FIRST_HOUR_BAR
    while hour < n_hours:
        day = hour // hours_per_day
        materialize(day)
        if hour % hours_per_day > BREAKOUT_LAST_PATTERN_HOUR or rng.random() >= BREAKOUT_HOUR_CHANCE:
            hour += 1
            continue
        climb = int(rng.integers(BREAKOUT_MINUTES_RANGE[0], BREAKOUT_MINUTES_RANGE[1] + 1))
        up, down = needed_moves(hour, climb)
        if max(up, down) > BREAKOUT_REACH_SIGMAS * hour_sigma[hour]:
            hour += 1
            continue
        size_units, drift_units = rng.uniform(*BREAKOUT_SIZE_RANGE), rng.uniform(*BREAKOUT_DRIFT_SIGMAS)
        p_up = min(max(0.5 - BREAKOUT_BALANCE_PULL * imbalance, BREAKOUT_UP_CLIP[0]), BREAKOUT_UP_CLIP[1])
        sign = 1 if rng.random() < p_up else -1
        need = up if sign > 0 else down
        size = max(size_units * hour_sigma[hour], need)
        drift = sign * drift_units * paths.sigma[day]
        found.append((hour, climb, sign, size, drift))
        imbalance += sign
        if len(found) - 1 == skip:
            rng.uniform(*BREAKOUT_VOLUME_RANGE)  # the volume boost's draw, as if planted
            hour += BREAKOUT_MIN_SPACING
            continue
        lo = first_minute(hour) + 60 - climb
        kept = returns[lo : lo + climb]
        returns[lo : lo + climb] = sign * size / climb + BREAKOUT_NOISE_KEPT * (kept - kept.mean())
        wick_up[lo : lo + climb] *= BREAKOUT_WICK_KEPT
        wick_down[lo : lo + climb] *= BREAKOUT_WICK_KEPT
        boost[lo : lo + climb] = rng.uniform(*BREAKOUT_VOLUME_RANGE)
        effect = first_minute(hour + 1)
        returns[effect : effect + 60] += drift / 60
        hour += BREAKOUT_MIN_SPACING
    materialize(n_days - 1)

    _check_skip(skip, len(found), f"{len(found)} ticker patterns this scan found (time order)")
    if skip is not None:
        del found[skip]
    hours, climbs, signs, sizes, drifts = (
        np.array([row[column] for row in found], dtype=dtype)
        for column, dtype in enumerate((np.int64, np.int64, np.int64, np.float64, np.float64))
    )
    pattern_minute = (hours // hours_per_day) * n_minutes + 60 * (hours % hours_per_day)
    start = pattern_minute + 60 - climbs
    effect = pattern_minute + 60
    return pd.DataFrame(
        {
            "symbol": symbol,
            "kind": np.where(signs > 0, "breakout_up", "breakdown_down"),
            "day": stamps[start].normalize(),
            "start": stamps[start],
            "end": stamps[start + climbs - 1],
            "effect_start": stamps[effect],
            "effect_end": stamps[effect + 59],
            "expected_sign": signs.astype(np.int64),
            "pattern_hour": stamps[pattern_minute],
            "effect_hour": stamps[effect],
            "size": sizes,
            "effect_drift": drifts,
        }
    )
