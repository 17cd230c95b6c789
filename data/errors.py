"""Error types of the data layer.

Every error a user can cause or meet derives from :class:`DataError`, a
``ValueError``, so callers (pages, command lines) catch one type and show its
message, which always says what was wrong and what to do.
"""

from __future__ import annotations


class DataError(ValueError):
    """Bad or unusable input data; the message says what to do about it."""


class FileFormatError(DataError):
    """A CSV or Parquet file that cannot be read as bars."""


class WindowError(DataError):
    """Bars that cannot be cut into the windows a task needs."""


class TickerDataError(DataError):
    """Yahoo gave no usable bars for a ticker and no cached copy exists.

    Attributes:
        ticker: the symbol as requested (upper case).
        reason: one short phrase, e.g. ``"rate limited by Yahoo"``.
    """

    def __init__(self, ticker: str, reason: str, hint: str = "") -> None:
        self.ticker = ticker
        self.reason = reason
        message = f"no data for ticker {ticker!r}: {reason}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class RendererUnavailableError(RuntimeError):
    """The plotly + kaleido reference renderer cannot start (no Chrome)."""
