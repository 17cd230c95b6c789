"""The simple rules a model has to beat, fitted on the training split only.

A model is worth explaining only if it does better than what a one-line rule already does on
the same samples. Each baseline here is one object with the same contract — :meth:`Baseline.fit`
on the training split, :meth:`Baseline.predict` on any windows, :meth:`Baseline.params` /
:meth:`Baseline.from_params` so that its fitted parameters travel in the model card and the pages
can show its call for one window beside the model's.

Up/down-day tasks read the first hour's ``(B, M, 4)`` OHLC minute bars and predict P(up):

* :class:`MajorityClass` — always the training split's majority class;
* :class:`FirstHourDirection` — up when the first hour closes above its first open (on real
  NIFTY 50 data 2012–2023 right on 70.6 % of days, because the day's label contains the first
  hour's own move);
* :class:`FirstHourLogistic` — a logistic regression (scikit-learn) on four first-hour features
  (:func:`first_hour_features`).

The next-hour task reads ``(B, W)`` log10 closes and predicts the next log10 close:

* :class:`Persistence` — the next close is the last one;
* :class:`MeanMove` — the last close plus the training split's mean move;
* :class:`LinearAutoregression` — ordinary least squares (scikit-learn) on the last k log
  returns, k chosen on the validation split among :data:`AR_ORDERS`.

Bad input (a split too short, one class only, flat first hours) raises
:class:`~data.errors.DataError` with what to do.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from data.errors import DataError

#: Minutes at the end of the first hour whose return is a feature.
LAST_MINUTES = 15
#: Orders tried for the autoregression (number of lagged log returns).
AR_ORDERS = (1, 2, 5, 10, 20)
#: Fewest training samples a fitted baseline accepts.
MIN_FIT_SAMPLES = 10
#: Names of :func:`first_hour_features`' columns, in order.
FIRST_HOUR_FEATURES = ("return", "range", "last 15-minute return", "close in range")


def first_hour_features(ohlc: np.ndarray) -> np.ndarray:
    """``(B, M, 4)`` first-hour OHLC → ``(B, 4)`` features, in :data:`FIRST_HOUR_FEATURES` order.

    The hour's log return (last close over first open), its log range (highest high over lowest
    low), the log return of its last :data:`LAST_MINUTES` minutes, and where the last close sits
    in the hour's range (0 = at the low, 1 = at the high; 0.5 for a flat hour).
    """
    ohlc = np.asarray(ohlc, dtype=np.float64)
    if ohlc.ndim != 3 or ohlc.shape[2] != 4 or ohlc.shape[1] <= LAST_MINUTES:
        raise ValueError(f"ohlc must be (B, M > {LAST_MINUTES}, 4) first-hour bars, got shape {ohlc.shape}")
    first_open, close = ohlc[:, 0, 0], ohlc[:, :, 3]
    high, low = ohlc[:, :, 1].max(axis=1), ohlc[:, :, 2].min(axis=1)
    span = high - low
    position = np.divide(close[:, -1] - low, span, out=np.full(len(ohlc), 0.5), where=span > 0)
    return np.column_stack(
        [
            np.log(close[:, -1] / first_open),
            np.log(high / low),
            np.log(close[:, -1] / close[:, -1 - LAST_MINUTES]),
            position,
        ]
    )


def fit_logistic(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A logistic regression (scikit-learn, L2, C = 1) on standardised ``(N, F)`` features.

    Returns:
        ``(mean, scale, coef, intercept)``: the standardisation (a constant feature keeps scale 1)
        and the fitted log-odds ``((x − mean) / scale) · coef + intercept``.

    Raises:
        DataError: every feature constant (flat first hours), or one class only.
    """
    labels = np.asarray(labels).astype(np.int64)
    mean, scale = features.mean(axis=0), features.std(axis=0)
    if not (scale > 0).any():
        raise DataError(
            "every first hour in the training split is flat (no price moved): nothing to learn from; "
            "check that the file holds real minute prices"
        )
    if len(np.unique(labels)) < 2:
        raise DataError(
            f"every training day has the same label ({labels[0]}): a classifier cannot be trained; "
            "load a longer history with both up and down days"
        )
    scale = np.where(scale > 0, scale, 1.0)
    from sklearn.linear_model import LogisticRegression  # fitting only: scikit-learn costs 1.2 s to import

    fitted = LogisticRegression(C=1.0).fit((features - mean) / scale, labels)
    return mean, scale, fitted.coef_[0], float(fitted.intercept_[0])


def _check_fit(windows: np.ndarray, targets: np.ndarray, what: str) -> None:
    if len(windows) != len(targets):
        raise ValueError(f"targets must hold one value per window ({len(windows)}), got {len(targets)}")
    if len(windows) < MIN_FIT_SAMPLES:
        raise DataError(
            f"the training split holds {len(windows)} {what}, fewer than the {MIN_FIT_SAMPLES} the baselines "
            "need: load a longer history"
        )


class Baseline(abc.ABC):
    """One simple rule: fitted on the training split, then asked about any windows.

    Class attributes:
        key: short identifier (the card's ``metrics.baselines[*].key``).
        name: what the rule does, in words.
    """

    key: ClassVar[str]
    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        """The rule fitted on training ``windows`` and ``targets`` (``validation`` may choose a setting)."""

    @abc.abstractmethod
    def predict(self, windows: np.ndarray) -> np.ndarray:
        """``(B,)`` float64: P(up) for a classifier's windows, the next log10 close for a regressor's."""

    def params(self) -> dict[str, Any]:
        """The fitted parameters, JSON-ready (none for a rule with nothing fitted)."""
        return {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Baseline:
        """The inverse of :meth:`params` (a rule with nothing fitted takes none)."""
        return cls()

    def describe(self) -> str:
        """The rule with its fitted parameters, in words (for a card or a caption)."""
        return self.name


# --------------------------------------------------------------------------- up/down day


class MajorityClass(Baseline):
    """Always the training split's majority class ("up" on a tie)."""

    key = "majority"
    name = "majority class of the training split"

    def __init__(self, up_share: float) -> None:
        self.up_share = float(up_share)

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "days")
        return cls(float(np.mean(np.asarray(targets) == 1)))

    @property
    def calls_up(self) -> bool:
        return self.up_share >= 0.5

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return np.full(len(windows), 1.0 if self.calls_up else 0.0)

    def params(self) -> dict[str, Any]:
        return {"train_up_share": self.up_share}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Baseline:
        return cls(params["train_up_share"])

    def describe(self) -> str:
        return f"always '{'up' if self.calls_up else 'down'}' ({self.up_share:.1%} of training days were up)"


class FirstHourDirection(Baseline):
    """Up when the first hour's last close is above its first open; nothing to fit."""

    key = "first_hour_rule"
    name = "first-hour direction rule (up if the first hour closes above its open)"

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "days")
        return cls()

    def predict(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float64)
        return (windows[:, -1, 3] > windows[:, 0, 0]).astype(np.float64)


class FirstHourLogistic(Baseline):
    """Logistic regression (scikit-learn, L2, standardised inputs) on :func:`first_hour_features`."""

    key = "first_hour_logistic"
    name = "logistic regression on first-hour return, range, last-15-minute return and close-in-range"

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float) -> None:
        self.mean, self.scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), float(intercept)

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "days")
        return cls(*fit_logistic(first_hour_features(windows), targets))

    def logit(self, windows: np.ndarray) -> np.ndarray:
        """``(B,)`` the fitted log-odds of an up day."""
        return (first_hour_features(windows) - self.mean) / self.scale @ self.coef + self.intercept

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(windows)))

    def params(self) -> dict[str, Any]:
        return {
            "features": list(FIRST_HOUR_FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Baseline:
        return cls(params["mean"], params["scale"], params["coef"], params["intercept"])


# --------------------------------------------------------------------------- next hour


class Persistence(Baseline):
    """The next close is the last close (no move)."""

    key = "persistence"
    name = "persistence (next close = last close)"

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "windows")
        return cls()

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(windows, dtype=np.float64)[:, -1].copy()


class MeanMove(Baseline):
    """The last close moved by the training split's mean move (in log10)."""

    key = "mean_move"
    name = "training mean move (last close + the training split's average move)"

    def __init__(self, move_log10: float) -> None:
        self.move_log10 = float(move_log10)

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "windows")
        return cls(float(np.mean(np.asarray(targets) - np.asarray(windows)[:, -1])))

    def predict(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(windows, dtype=np.float64)[:, -1] + self.move_log10

    def params(self) -> dict[str, Any]:
        return {"move_log10": self.move_log10}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Baseline:
        return cls(params["move_log10"])


def _lagged_returns(windows: np.ndarray, order: int) -> np.ndarray:
    """``(B, order)`` the last ``order`` log10 returns of each window, the newest last."""
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 2 or windows.shape[1] <= order:
        raise ValueError(f"windows must be (B, W > {order}) log10 closes, got shape {windows.shape}")
    return np.diff(windows[:, -order - 1 :], axis=1)


class LinearAutoregression(Baseline):
    """Next log10 move = intercept + a linear combination of the last k log10 returns (OLS).

    k is chosen among :data:`AR_ORDERS` (those shorter than the window) by the validation
    split's RMSE; the coefficients are fitted on the training split only.
    """

    key = "linear_ar"
    name = "linear autoregression on the last k log returns"

    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), float(intercept)

    @property
    def order(self) -> int:
        return len(self.coef)

    @classmethod
    def fit(cls, windows: np.ndarray, targets: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray]) -> Baseline:
        _check_fit(windows, targets, "windows")
        windows, targets = np.asarray(windows, dtype=np.float64), np.asarray(targets, dtype=np.float64)
        moves = targets - windows[:, -1]
        held_windows, held_targets = (np.asarray(part, dtype=np.float64) for part in validation)
        from sklearn.linear_model import LinearRegression  # fitting only: scikit-learn costs 1.2 s to import

        best: tuple[float, LinearAutoregression] | None = None
        for order in (k for k in AR_ORDERS if k < windows.shape[1]):
            fitted = LinearRegression().fit(_lagged_returns(windows, order), moves)
            candidate = cls(fitted.coef_, float(fitted.intercept_))
            error = (
                float(np.sqrt(np.mean((candidate.predict(held_windows) - held_targets) ** 2)))
                if len(held_windows)
                else 0.0
            )
            if best is None or error < best[0]:
                best = (error, candidate)
        if best is None:
            raise ValueError(f"windows must hold more than {min(AR_ORDERS)} closes, got {windows.shape[1]}")
        return best[1]

    def predict(self, windows: np.ndarray) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float64)
        return windows[:, -1] + _lagged_returns(windows, self.order) @ self.coef + self.intercept

    def params(self) -> dict[str, Any]:
        return {"order": self.order, "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Baseline:
        return cls(params["coef"], params["intercept"])

    def describe(self) -> str:
        return f"linear autoregression on the last {self.order} log returns (OLS on the training split)"


#: Every baseline by key (to rebuild one from a card).
BASELINES: dict[str, type[Baseline]] = {
    kind.key: kind
    for kind in (MajorityClass, FirstHourDirection, FirstHourLogistic, Persistence, MeanMove, LinearAutoregression)
}


def baseline_from_card(entry: Mapping[str, Any]) -> Baseline:
    """The fitted baseline a card's ``metrics.baselines`` entry records.

    Raises:
        ValueError: an unknown key or unreadable parameters.
    """
    kind = BASELINES.get(entry.get("key")) if isinstance(entry, Mapping) else None
    if kind is None:
        raise ValueError(f"baseline key must be one of {sorted(BASELINES)}, got {entry!r}")
    try:
        return kind.from_params(entry.get("params", {}))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"the card's {kind.key} baseline has unreadable params ({error})") from error
