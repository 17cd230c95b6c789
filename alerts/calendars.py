"""When a symbol's market is open, and which bars are complete.

Exchange sessions and holidays come from ``exchange_calendars`` (``XNYS``, ``XBOM`` — the NSE's
hours —, ``XLON`` …); the demo market has its own calendar (every weekday, no holidays, the demo
session's hours, :func:`data.demo.session_of`); ``always`` is for markets that never close
(crypto, FX, an upload whose market is unknown). Bars are stamped at their first minute in the
exchange's local wall-clock time (naive), as the rest of the app stamps them; a bar is complete at
the earliest of its stamp plus its interval, the next bar's stamp and its session's close.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Any

import numpy as np
import pandas as pd

from data.sources import DEMO_PREFIX

#: Calendar names besides ``exchange_calendars``' own.
DEMO_CALENDAR = "demo"
ALWAYS_OPEN = "always"
#: Yahoo suffix → exchange calendar; a ticker without a suffix trades in New York.
SUFFIX_CALENDARS = {
    ".NS": "XBOM", ".BO": "XBOM", ".L": "XLON", ".T": "XTKS", ".DE": "XETR", ".PA": "XPAR", ".TO": "XTSE",
    ".HK": "XHKG", ".AX": "XASX",
}  # fmt: skip
INDEX_CALENDARS = {"^NSEI": "XBOM", "^BSESN": "XBOM", "^GSPC": "XNYS", "^DJI": "XNYS", "^IXIC": "XNYS"}
DEFAULT_CALENDAR = "XNYS"


@dataclasses.dataclass(frozen=True)
class MarketHours:
    """A market's sessions.

    Attributes:
        name: ``exchange_calendars``' name, ``"demo"`` or ``"always"``.
        timezone: the zone its bars are stamped in.
        demo_symbol: the demo symbol whose session the demo calendar uses.
    """

    name: str
    timezone: str
    demo_symbol: str = ""

    def local(self, when: dt.datetime) -> pd.Timestamp:
        """The aware instant ``when`` as the market's naive wall-clock time (how bars are stamped)."""
        return pd.Timestamp(when).tz_convert(self.timezone).tz_localize(None)

    def is_open(self, when: dt.datetime) -> bool:
        """Is the market in session at the aware instant ``when``?"""
        if self.name == ALWAYS_OPEN:
            return True
        if self.name == DEMO_CALENDAR:
            local = self.local(when)
            session = _demo_session(self.demo_symbol)
            return local.weekday() < 5 and session.open <= local.time() < session.close
        return bool(_exchange(self.name).is_open_on_minute(pd.Timestamp(when).tz_convert("UTC").floor("min")))

    def session_closes(self, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Each day's session close, naive local (``NaT`` on ``always``: no close)."""
        if self.name == ALWAYS_OPEN:
            return pd.DatetimeIndex([pd.NaT] * len(days))
        if self.name == DEMO_CALENDAR:
            close = _demo_session(self.demo_symbol).close
            return days + pd.Timedelta(hours=close.hour, minutes=close.minute)
        exchange = _exchange(self.name)
        closes = []
        for day in days:
            label = day.normalize()
            closes.append(
                exchange.session_close(label).tz_convert(self.timezone).tz_localize(None)
                if exchange.is_session(label)
                else pd.NaT
            )
        return pd.DatetimeIndex(closes)

    def complete_bars(self, stamps: pd.DatetimeIndex, interval: pd.Timedelta, when: dt.datetime) -> int:
        """How many of ``stamps`` (sorted bar starts, naive local) are complete at ``when``."""
        if len(stamps) == 0:
            return 0
        ends = (stamps + interval).to_numpy(dtype="datetime64[ns]")
        following = np.append(stamps[1:].to_numpy(dtype="datetime64[ns]"), ends[-1])
        ends = np.minimum(ends, following)
        days = stamps.normalize()
        unique_days = days.unique()
        closes = (
            pd.Series(self.session_closes(unique_days), index=unique_days)
            .reindex(days)
            .to_numpy(dtype="datetime64[ns]")
        )
        known = ~np.isnat(closes)
        ends[known] = np.minimum(ends[known], closes[known])
        return int(np.searchsorted(ends, self.local(when).to_datetime64(), side="right"))


def calendar_for(source: str, chosen: str = "") -> MarketHours:
    """The calendar of a watch entry: ``chosen`` when given, else the source's own.

    Raises:
        ValueError: ``chosen`` is not a calendar ``exchange_calendars`` knows, ``demo`` or ``always``.
    """
    name = chosen.strip() or source_calendar(source)
    if name == ALWAYS_OPEN:
        return MarketHours(ALWAYS_OPEN, "UTC")
    if name == DEMO_CALENDAR:
        symbol = _demo_symbol(source)
        return MarketHours(DEMO_CALENDAR, _demo_session(symbol).timezone, symbol)
    import exchange_calendars

    try:
        exchange = _exchange(name)
    except exchange_calendars.errors.InvalidCalendarName as error:
        raise ValueError(
            f"calendar must be an exchange_calendars name (e.g. XNYS, XBOM, XLON), {DEMO_CALENDAR!r} or "
            f"{ALWAYS_OPEN!r}, got {name!r}"
        ) from error
    return MarketHours(name, str(exchange.tz))


def source_calendar(source: str) -> str:
    """The calendar a source trades on, by its name (a Yahoo suffix, a demo symbol…)."""
    text = source.strip()
    if text.lower().startswith(DEMO_PREFIX):
        return DEMO_CALENDAR
    upper = text.upper()
    if upper in INDEX_CALENDARS:
        return INDEX_CALENDARS[upper]
    if upper.endswith(("-USD", "=X")) or text.lower().startswith("upload:"):
        return ALWAYS_OPEN
    for suffix, name in SUFFIX_CALENDARS.items():
        if upper.endswith(suffix):
            return name
    return DEFAULT_CALENDAR


def _demo_symbol(source: str) -> str:
    text = source.strip()
    return text[len(DEMO_PREFIX) :].strip().upper() if text.lower().startswith(DEMO_PREFIX) else "ACME"


@functools.lru_cache(maxsize=16)
def _exchange(name: str) -> Any:
    import exchange_calendars

    return exchange_calendars.get_calendar(name)


def _demo_session(symbol: str) -> Any:
    from data.demo import session_of

    return session_of(symbol or "ACME")
