"""The CNN-LSTM paper's post-hoc offset correction of log10 forecasts.

:class:`OffsetCorrection` (``gap_avg``, ``deviation``, ``sign``), fitted by :func:`fit_offset_correction`
on the most recent windows *before* the test split and applied to the test forecasts, so the test
split never informs its own correction. Bad input raises ``TypeError`` / ``ValueError`` naming the
parameter, the rule and the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from data.checks import check_real, real_vector, same_length


@dataclasses.dataclass(frozen=True)
class OffsetCorrection:
    """The CNN-LSTM paper's post-hoc offset correction of log10 forecasts.

    Attributes:
        gap_avg: mean ``|y − ŷ|`` (log10 units) on the fitting data.
        deviation: population standard deviation (ddof = 0) of ``y − ŷ``.
        sign: ``Σ (y − ŷ)``; positive when the model forecast too low on balance.

    It is fitted on the most recent data *before* the test split (the caller picks
    which windows, e.g. the end of the validation split) and then applied to the
    test forecasts, so the test split never informs its own correction.
    :meth:`apply` follows the paper's formula as written, including its
    ``(1 − deviation)`` factor for downward corrections.
    """

    gap_avg: float
    deviation: float
    sign: float

    def __post_init__(self) -> None:
        for field in ("gap_avg", "deviation", "sign"):
            value = check_real(getattr(self, field), field)
            if field != "sign" and value < 0:
                raise ValueError(f"{field} must be >= 0, got {value}")
            object.__setattr__(self, field, value)

    def apply(self, predicted_log10: Any) -> np.ndarray:
        """Corrected forecasts ``(N,)`` float64.

        ``ŷ + (1 + deviation) · gap_avg`` when ``sign > 0``, else
        ``ŷ − (1 − deviation) · gap_avg`` (``sign == 0`` falls in the second case,
        as in the paper).
        """
        predicted = real_vector(predicted_log10, "predicted_log10", min_len=1)
        if self.sign > 0:
            return predicted + (1 + self.deviation) * self.gap_avg
        return predicted - (1 - self.deviation) * self.gap_avg

    def to_dict(self) -> dict[str, float]:
        """``{"gap_avg", "deviation", "sign"}`` as floats (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OffsetCorrection:
        """The inverse of :meth:`to_dict`; exactly the three keys are required."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        expected = {"gap_avg", "deviation", "sign"}
        if set(data) != expected:
            raise ValueError(f"data must have exactly the keys {sorted(expected)}, got {sorted(map(str, data))}")
        return cls(gap_avg=data["gap_avg"], deviation=data["deviation"], sign=data["sign"])


def fit_offset_correction(target_log10: Any, predicted_log10: Any) -> OffsetCorrection:
    """Fit :class:`OffsetCorrection` on ``(N,)`` true and forecast log10 closes (N >= 2).

    ``gap_avg = mean |y − ŷ|``, ``deviation = std(y − ŷ)`` (population std,
    ddof = 0), ``sign = Σ (y − ŷ)``. Pass the most recent windows *before* the
    test split.
    """
    target = real_vector(target_log10, "target_log10", min_len=2)
    predicted = real_vector(predicted_log10, "predicted_log10", min_len=2)
    same_length(predicted, "predicted_log10", target, "target_log10")
    residual = target - predicted
    return OffsetCorrection(
        gap_avg=float(np.mean(np.abs(residual))),
        deviation=float(np.std(residual, ddof=0)),
        sign=float(np.sum(residual)),
    )
