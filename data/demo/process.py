"""The demo market's price and volume process, on minute bars.

Daily variance follows GARCH(1,1) driven by unit-variance Student-t shocks;
each close-to-close log return is split into an overnight gap and an intraday
move, and the intraday move is spread over the session's minutes with a
U-shaped volatility profile (a Brownian bridge, so the minutes add up to the
day). Volume is lognormal, U-shaped and rises with the size of the minute's
move. Everything is vectorised over (days, minutes); only the GARCH recursion
loops, once per day.

Units: returns, gaps and wicks are natural-log changes; prices are in the
symbol's currency; volume in shares (whole numbers, stored as float64).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

#: Degrees of freedom of every Student-t shock (daily and minute level).
T_DOF = 4.0
#: GARCH(1,1) news and persistence weights.
GARCH_ALPHA = 0.10
GARCH_BETA = 0.88
#: Daily sigma is kept within these multiples of its long-run level.
SIGMA_CLIP = (0.25, 4.0)
#: Share of the close-to-close standard deviation carried by the overnight gap.
GAP_SHARE = 0.35
#: Standard deviation of the intraday move as a share of the daily sigma.
INTRADAY_SHARE = math.sqrt(1.0 - GAP_SHARE**2)
#: U-shaped intraday variance: 1 + OPEN_BOOST·e^(-m/τ) + CLOSE_BOOST·e^(-(M-1-m)/τ).
VOL_OPEN_BOOST, VOL_CLOSE_BOOST, VOL_DECAY_MIN = 3.0, 1.5, 25.0
#: U-shaped intraday volume profile, same form, steeper at the open.
VOLUME_OPEN_BOOST, VOLUME_CLOSE_BOOST, VOLUME_DECAY_MIN = 2.5, 2.0, 20.0
#: Minute volume rises by this much per unit of |standardised minute return|.
VOLUME_MOVE_GAIN = 0.6
#: Lognormal sigma of the minute and the day volume noise.
VOLUME_MINUTE_SIGMA, VOLUME_DAY_SIGMA = 0.4, 0.25
#: Day volume scales with (sigma_t / long-run sigma) to this power.
VOLUME_SIGMA_POWER = 0.8
#: Wick length as a multiple of the minute's sigma (half-normal draws).
WICK_SCALE = 0.35
TRADING_DAYS_PER_YEAR = 252


@dataclasses.dataclass(frozen=True)
class ProcessParams:
    """What sets one symbol's process apart.

    Attributes:
        daily_vol: long-run standard deviation of daily close-to-close log returns.
        start_price: price level the first session opens near.
        minute_volume: mean volume of one minute bar (shares).
        annual_drift: expected log return per year (carried by the gaps).
    """

    daily_vol: float
    start_price: float
    minute_volume: float
    annual_drift: float


@dataclasses.dataclass
class MinutePaths:
    """One symbol's simulated minutes before they become bars.

    Pattern planting edits ``returns``, ``wick_up``, ``wick_down`` and
    ``volume_boost`` in place (ticker planting also rescales ``sigma``, ``gap``,
    ``returns`` and the wicks day by day, feeding its planted moves back into
    the GARCH recursion); :func:`assemble_bars` then builds OHLCV.

    Attributes:
        sigma: (D,) daily sigma of close-to-close log returns.
        gap: (D,) overnight log gap, previous close to the session's first open.
        returns: (D, M) minute log returns, close over open of each bar.
        noise: (D, M) the unit-variance t draws behind ``returns``.
        wick_up, wick_down: (D, M) log distance from max/min(open, close) to
            high/low, >= 0.
        volume_boost: (D, M) volume multipliers set by planted patterns (1 elsewhere).
        weights: (M,) per-minute share of intraday standard deviation; sum of
            squares is 1, so ``sigma * INTRADAY_SHARE * weights`` is each
            minute's sigma.
        drift: log drift per day carried by each gap.
        daily_vol: long-run daily sigma of the GARCH recursion.
    """

    sigma: np.ndarray
    gap: np.ndarray
    returns: np.ndarray
    noise: np.ndarray
    wick_up: np.ndarray
    wick_down: np.ndarray
    volume_boost: np.ndarray
    weights: np.ndarray
    drift: float = 0.0
    daily_vol: float = 0.0

    def minute_sigma(self) -> np.ndarray:
        """(D, M) standard deviation of each minute's log return."""
        return (self.sigma * INTRADAY_SHARE)[:, None] * self.weights[None, :]


def u_profile(n_minutes: int, open_boost: float, close_boost: float, decay_min: float) -> np.ndarray:
    """(n_minutes,) U shape ``1 + open_boost·e^(-m/decay) + close_boost·e^(-(n-1-m)/decay)``."""
    minute = np.arange(n_minutes, dtype=np.float64)
    return 1.0 + open_boost * np.exp(-minute / decay_min) + close_boost * np.exp(-(n_minutes - 1 - minute) / decay_min)


def unit_t(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """Student-t draws with T_DOF degrees of freedom scaled to unit variance."""
    return rng.standard_t(T_DOF, size=size) * math.sqrt((T_DOF - 2.0) / T_DOF)


def garch_sigma(shocks: np.ndarray, daily_vol: float) -> np.ndarray:
    """Daily sigma from GARCH(1,1) driven by the realised returns ``sigma_t·shock_t``.

    Args:
        shocks: (D,) unit-variance close-to-close shocks.
        daily_vol: long-run daily sigma (the recursion starts there).

    Returns:
        (D,) sigma_t, clipped to SIGMA_CLIP × daily_vol.
    """
    long_run = daily_vol**2
    omega = long_run * (1.0 - GARCH_ALPHA - GARCH_BETA)
    low, high = SIGMA_CLIP[0] ** 2 * long_run, SIGMA_CLIP[1] ** 2 * long_run
    variance = np.empty(len(shocks))
    current = long_run
    for day, shock in enumerate(shocks.tolist()):
        variance[day] = current
        current = min(max(omega + (GARCH_ALPHA * shock * shock + GARCH_BETA) * current, low), high)
    return np.sqrt(variance)


def simulate_minutes(rng: np.random.Generator, n_days: int, n_minutes: int, params: ProcessParams) -> MinutePaths:
    """Draw one symbol's gaps, minute returns and wicks.

    The close-to-close log return of day t is ``sigma_t·(GAP_SHARE·g + INTRADAY_SHARE·i)``
    with independent unit-t draws g and i; the intraday part is split over the
    minutes by a bridge that keeps each minute's variance at
    ``(sigma_t·INTRADAY_SHARE·w_m)²`` and makes the minutes sum exactly to it.
    """
    gap_shock, day_shock = unit_t(rng, n_days), unit_t(rng, n_days)
    sigma = garch_sigma(GAP_SHARE * gap_shock + INTRADAY_SHARE * day_shock, params.daily_vol)
    drift = params.annual_drift / TRADING_DAYS_PER_YEAR
    gap = drift + sigma * GAP_SHARE * gap_shock
    intraday = sigma * INTRADAY_SHARE * day_shock

    variance_shape = u_profile(n_minutes, VOL_OPEN_BOOST, VOL_CLOSE_BOOST, VOL_DECAY_MIN)
    weights = np.sqrt(variance_shape / variance_shape.sum())
    noise = unit_t(rng, (n_days, n_minutes))
    returns = (sigma * INTRADAY_SHARE)[:, None] * weights[None, :] * noise
    returns += (weights**2)[None, :] * (intraday - returns.sum(axis=1))[:, None]

    paths = MinutePaths(
        sigma=sigma,
        gap=gap,
        returns=returns,
        noise=noise,
        wick_up=np.empty_like(returns),
        wick_down=np.empty_like(returns),
        volume_boost=np.ones_like(returns),
        weights=weights,
        drift=drift,
        daily_vol=params.daily_vol,
    )
    minute_sigma = paths.minute_sigma()
    paths.wick_up[:] = WICK_SCALE * minute_sigma * np.abs(rng.standard_normal(returns.shape))
    paths.wick_down[:] = WICK_SCALE * minute_sigma * np.abs(rng.standard_normal(returns.shape))
    return paths


def assemble_bars(rng: np.random.Generator, paths: MinutePaths, params: ProcessParams) -> np.ndarray:
    """Turn minute paths into OHLCV rows.

    Open of each bar is the previous close (the session's first bar opens at
    the gapped price); high/low extend max/min(open, close) by the wicks.

    Returns:
        (D * M, 5) float64 columns open, high, low, close, volume, day-major.
    """
    n_days, n_minutes = paths.returns.shape
    change = paths.returns.copy()
    change[:, 0] += paths.gap
    log_close = math.log(params.start_price) + np.cumsum(change.ravel())
    # Opens copy the previous close exactly (plus the gap on a session's first bar).
    log_open = np.concatenate([[math.log(params.start_price)], log_close[:-1]])
    log_open[::n_minutes] += paths.gap
    log_high = np.maximum(log_open, log_close) + paths.wick_up.ravel()
    log_low = np.minimum(log_open, log_close) - paths.wick_down.ravel()

    shape = u_profile(n_minutes, VOLUME_OPEN_BOOST, VOLUME_CLOSE_BOOST, VOLUME_DECAY_MIN)
    shape = shape / shape.mean()
    day_level = (paths.sigma / params.daily_vol) ** VOLUME_SIGMA_POWER * rng.lognormal(
        -0.5 * VOLUME_DAY_SIGMA**2, VOLUME_DAY_SIGMA, n_days
    )
    minute_noise = rng.lognormal(-0.5 * VOLUME_MINUTE_SIGMA**2, VOLUME_MINUTE_SIGMA, (n_days, n_minutes))
    move = np.abs(paths.returns) / paths.minute_sigma()
    volume = params.minute_volume * day_level[:, None] * shape[None, :] * minute_noise
    volume *= (1.0 + VOLUME_MOVE_GAIN * move) / (1.0 + VOLUME_MOVE_GAIN * math.sqrt(2.0 / math.pi))
    volume = np.maximum(np.round(volume * paths.volume_boost), 1.0)

    return np.column_stack([np.exp(log_open), np.exp(log_high), np.exp(log_low), np.exp(log_close), volume.ravel()])
