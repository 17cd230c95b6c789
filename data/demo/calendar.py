"""The demo market's calendar: sessions and minute stamps.

Every weekday from :data:`FIRST_SESSION` to :data:`LAST_SESSION` is a session
(no holidays). Stamps are naive wall-clock times in the exchange's zone, one
per minute bar, stamped at the bar's first minute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

#: First and last session of the demo market (inclusive).
FIRST_SESSION = dt.date(2021, 1, 4)
LAST_SESSION = dt.date(2024, 12, 31)


@dataclasses.dataclass(frozen=True)
class Session:
    """Trading hours of one exchange.

    Attributes:
        open: time of the first minute bar.
        close: closing time; the last minute bar is stamped one minute earlier.
        timezone: the exchange's IANA zone (kept beside the naive stamps).
    """

    open: dt.time
    close: dt.time
    timezone: str

    @property
    def minutes(self) -> int:
        """Minute bars per session (390 in New York, 375 on the NSE)."""
        day = dt.date(2000, 1, 3)
        span = dt.datetime.combine(day, self.close) - dt.datetime.combine(day, self.open)
        return int(span.total_seconds() // 60)


def session_days() -> pd.DatetimeIndex:
    """Every weekday from FIRST_SESSION to LAST_SESSION: (D,) normalized dates, ns."""
    days = pd.bdate_range(FIRST_SESSION, LAST_SESSION, freq="B")
    return pd.DatetimeIndex(days.to_numpy(), name="day").as_unit("ns")


def minute_stamps(days: pd.DatetimeIndex, session: Session) -> pd.DatetimeIndex:
    """Minute-bar stamps of every session, day-major.

    Args:
        days: (D,) normalized session dates.
        session: the exchange's hours.

    Returns:
        (D * session.minutes,) naive DatetimeIndex in ns named ``"timestamp"``:
        for each day ``open, open + 1 min, ..., close - 1 min``.
    """
    open_offset = np.timedelta64(session.open.hour * 60 + session.open.minute, "m").astype("m8[ns]")
    minute = np.arange(session.minutes).astype("m8[m]").astype("m8[ns]")
    base = days.to_numpy().astype("M8[ns]") + open_offset
    stamps = (base[:, None] + minute[None, :]).ravel()
    return pd.DatetimeIndex(stamps, name="timestamp").as_unit("ns")
