"""The network boundary, faked: ``yfinance.Ticker.history`` returns or raises what a test scripts.

Everything behind it — our error mapping, parsing, caching — is the real code.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import yfinance as yf


def yahoo_frame(periods: int = 14, tz: str = "America/New_York") -> pd.DataFrame:
    """A frame shaped like ``Ticker.history(interval="60m")``: aware index, Title-case columns.

    Seven bars a day (09:30 … 15:30) from 2026-11-19; ``periods`` at most 84 (to 2026-11-30).
    """
    index = pd.DatetimeIndex(
        [pd.Timestamp(f"2026-11-{19 + i // 7} {9 + i % 7}:30", tz=tz) for i in range(periods)], name="Datetime"
    )
    close = 100 + np.arange(periods, dtype=float)
    return pd.DataFrame(
        {"Open": close - 0.5, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 1000 + np.arange(periods)},
        index=index,
    )


class FakeYahoo:
    """Stands in for the network: records calls and returns or raises what the test scripts.

    ``replies`` are used one per call, in order; once they run out, ``always`` (if set) answers
    every call. A reply that is an exception is raised; :attr:`HANG` blocks until :meth:`release`.
    """

    HANG = object()

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.replies: list[object] = []
        self.always: object | None = None
        self.calls: list[dict[str, object]] = []
        self._released = threading.Event()
        fake = self

        def history(ticker_self: yf.Ticker, **kwargs: object) -> pd.DataFrame:
            fake.calls.append({"ticker": ticker_self.ticker, **kwargs})
            reply = fake.replies.pop(0) if fake.replies else fake.always
            if reply is FakeYahoo.HANG:
                fake._released.wait(timeout=120)
                raise TimeoutError("released by the test")
            if isinstance(reply, BaseException):
                raise reply
            return reply

        monkeypatch.setattr(yf.Ticker, "history", history)

    def release(self) -> None:
        """Let every hanging call return."""
        self._released.set()
