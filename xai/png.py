"""A plotly figure as PNG bytes through kaleido (a headless Chrome), with a clear message without one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from data.errors import RendererUnavailableError
from data.images.reference import INSTALL_CHROME_HINT

__all__ = ["figure_png"]


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``kinds`` in ``error``'s cause/context chain (plotly re-raises without ``from``)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 pixel, got {int(value)}")
    return int(value)


def figure_png(fig: go.Figure, *, width: int, height: int, scale: float = 1.0) -> bytes:
    """Render ``fig`` to PNG with kaleido (a headless Chrome; about 2-3 s, mostly the browser start).

    Args:
        fig: a plotly figure.
        width, height: layout size in pixels, ints >= 1.
        scale: > 0; the PNG is ``round(width * scale) x round(height * scale)`` pixels.

    Returns:
        PNG bytes (they start with ``b"\\x89PNG"``).

    Raises:
        TypeError: ``fig`` not a figure, bad size types.
        ValueError: a size < 1 or ``scale <= 0``.
        RendererUnavailableError: kaleido >= 1 is missing, or no Chrome/Chromium
            can be found or started; the message says how to fix it.
    """
    if not isinstance(fig, go.Figure):
        raise TypeError(f"fig must be a plotly.graph_objects.Figure, got {type(fig).__name__}")
    width = _positive_int(width, "width")
    height = _positive_int(height, "height")
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"scale must be a real number, got {type(scale).__name__} {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    try:
        from kaleido.errors import BrowserFailedError, ChromeNotFoundError  # kaleido >= 1 only
    except ImportError as error:
        raise RendererUnavailableError(
            f"PNG export needs kaleido >= 1 ({error}); pip install 'kaleido>=1', and {INSTALL_CHROME_HINT}"
        ) from error
    try:
        return fig.to_image(format="png", width=width, height=height, scale=scale)
    except Exception as error:  # plotly wraps ChromeNotFoundError in a RuntimeError: look down the chain
        cause = _caused_by(error, (ChromeNotFoundError, BrowserFailedError))
        if isinstance(cause, ChromeNotFoundError):
            raise RendererUnavailableError(
                f"PNG export needs Chrome or Chromium and kaleido found none ({cause}); {INSTALL_CHROME_HINT}"
            ) from error
        if isinstance(cause, BrowserFailedError):
            raise RendererUnavailableError(
                f"PNG export could not start Chrome ({cause}); check that the browser runs, or {INSTALL_CHROME_HINT}"
            ) from error
        raise
