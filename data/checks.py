"""Argument checks for every package: each error names the parameter, the rule and the value received.

One home for the validators of ``data``, ``models``, ``xai`` and ``workflows`` (the lowest layer, so
every layer may import it), all called as ``check(value, name, ...)``: ``TypeError`` for a wrong
type, ``ValueError`` for a wrong value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (bools refused), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def check_real(value: Any, name: str) -> float:
    """``value`` as a finite ``float`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value``, a ``str`` among ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    if value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_mapping(value: Any, name: str) -> Mapping[str, Any]:
    """``value``, a non-empty mapping (of method key to array)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of method key to array, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must hold at least 1 method, got an empty mapping")
    return value


def real_vector(values: Any, name: str, min_len: int = 1) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers with at least ``min_len`` entries."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size < min_len:
        noun = "value" if min_len == 1 else "values"
        raise ValueError(f"{name} must hold at least {min_len} {noun}, got {array.size}")
    array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} must be finite, got {array[bad[0]]} at index {bad[0]}")
    return array


def same_length(array: np.ndarray, name: str, reference: np.ndarray, reference_name: str) -> None:
    """Refuse ``array`` unless it is as long as ``reference``."""
    if array.size != reference.size:
        raise ValueError(f"{name} must have the same length as {reference_name} ({reference.size}), got {array.size}")


def binary_labels(values: Any, name: str, min_len: int = 1) -> np.ndarray:
    """``values`` as a 1-D boolean array (True = up) from numbers that are all 0 or 1."""
    array = real_vector(values, name, min_len)
    bad = np.flatnonzero((array != 0) & (array != 1))
    if bad.size:
        raise ValueError(f"{name} must hold only 0 (down) and 1 (up), got {array[bad[0]]:g} at index {bad[0]}")
    return array == 1


def real_matrix(value: Any, name: str) -> np.ndarray:
    """``value`` as ``(N, T) float64``, finite, ``T >= 1`` (``N`` may be 0)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, T) with T >= 1, got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return array
