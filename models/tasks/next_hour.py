"""The ticker task: where will the next hour close, from a candlestick of the last 50 hours and their closes?

The first source paper's question. The CNN-LSTM reads the window's image and its log10 closes and
forecasts the next log10 close; an alert fires when the forecast move passes the user's threshold.
Samples are overlapping windows, split 0.81 / 0.09 / 0.10 in time as in the paper and purged by one
window at each boundary so that no bar serves two parts. Explanations explain the signed predicted
change — what pushes the forecast up (+1) or down (−1) — and faithfulness scores that change.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from data.demo import DEMO_TICKERS
from data.settings import TICKER_WINDOW_BARS
from data.windows import chronological_split, make_ticker_windows
from models.baseline_report import judge_regressor
from models.baselines import Baseline, LinearAutoregression, MeanMove, Persistence
from models.evaluation import OffsetCorrection, fit_offset_correction, percent_change, regressor_report
from models.locks import model_lock
from models.tasks.base import BaselineCall, ExplainedOutput, Task, batched_outputs, check_closes, check_direction

if TYPE_CHECKING:
    from data.bars import LoadedBars
    from models.architectures import ModelSpec
    from models.card import ModelCard
    from models.checkpoints import LoadedCheckpoint
    from models.datasets import TaskSamples

#: Bootstrap block (windows) for the regressor's confidence intervals; shorter test splits use their length.
BOOTSTRAP_BLOCK = 50
#: Alert thresholds (%) the card reports.
ALERT_THRESHOLDS_PCT = (0.5, 1.0, 1.5, 2.0)


@dataclasses.dataclass(frozen=True)
class Forecast:
    """The regressor on one window.

    Attributes:
        last_close: the window's last close.
        forecast_close: the predicted next close.
        pct_change: ``100 · (forecast / last − 1)``.
        corrected_close, corrected_pct_change: the same with the card's offset correction
            (the paper's formula), or ``None`` when the card has none.
    """

    last_close: float
    forecast_close: float
    pct_change: float
    corrected_close: float | None
    corrected_pct_change: float | None

    @property
    def predicted_up(self) -> bool:
        """A forecast of exactly no change is a "down" call (:mod:`models.evaluation`'s rule)."""
        return self.pct_change > 0

    def change(self, corrected: bool = False) -> float:
        """The % change the alert compares: corrected when asked and available."""
        if corrected and self.corrected_pct_change is not None:
            return self.corrected_pct_change
        return self.pct_change

    def alert(self, threshold_pct: float, corrected: bool = False) -> bool:
        """Does the predicted move reach ``threshold_pct`` (> 0) in either direction?"""
        if not (isinstance(threshold_pct, (int, float)) and math.isfinite(threshold_pct) and threshold_pct > 0):
            raise ValueError(f"threshold_pct must be a finite number > 0, got {threshold_pct!r}")
        return abs(self.change(corrected)) >= threshold_pct


class ForecastDirection(nn.Module):
    """The regressor's predicted change, signed: ``direction · (forecast − last close) · LOG10_SCALE``, (N, 1).

    Explaining output 0 of this wrapper answers "what pushes the forecast up" (+1) or "down" (−1).
    The last close does not depend on the image, so image gradients equal those of the forecast.
    """

    def __init__(self, regressor: nn.Module, direction: int) -> None:
        super().__init__()
        self.regressor = regressor
        self.direction = direction

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        if hasattr(self.regressor, "predicted_change"):  # exact: without the price level's float32 rounding
            change = self.regressor.predicted_change(image, log10_close)
        else:
            from models.architectures import LOG10_SCALE

            change = (self.regressor(image, log10_close) - log10_close[:, -1]) * LOG10_SCALE
        return (self.direction * change).unsqueeze(1)


def card_correction(card: ModelCard) -> OffsetCorrection | None:
    """The offset correction recorded in a regressor's card (``metrics.offset_correction``), or ``None``.

    Raises:
        ValueError: the card holds a correction that is not three finite numbers.
    """
    recorded = card.metrics.offset_correction
    if recorded is None:
        return None
    from models.card import CheckpointError

    try:
        return OffsetCorrection.from_dict({field: recorded[field] for field in ("gap_avg", "deviation", "sign")})
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"the card's metrics.offset_correction is unreadable ({error}); retrain the model to rewrite its card"
        ) from error


@torch.no_grad()
def image_branch_live_share(model: nn.Module, samples: TaskSamples, part: str = "validation") -> float:
    """Share of the regressor's extract-layer activations above zero on ``part``.

    0 means the image branch is dead: the forecast ignores the chart and every image map is blank.
    """
    model.eval()
    where = next(model.parameters()).device
    indices = samples.indices(part)
    live, total = 0, 0
    for start in range(0, len(indices), 256):
        (image, _), _ = samples.batch(indices[start : start + 256])
        features = model.image_features(image.to(where))
        live += int((features > 0).sum())
        total += features.numel()
    return live / total


class NextHourTask(Task):
    """The next hour's close, and an alert past a threshold: a regressor (see the module docstring)."""

    name = "ticker"
    title = "Ticker regressor — the close one hour ahead, with alerts"
    interval = "60m"
    sequence_length = TICKER_WINDOW_BARS
    time_unit = "bar"
    sample_noun = "hourly forecasts"
    archs = ("cnn-lstm-resnet34", "cnn-lstm-resnet18")
    #: ResNet-18's layout: with the finer extract map, ResNet-34's costs 2.2× the multiply-adds.
    default_arch = "cnn-lstm-resnet18"
    default_image = "candlestick"
    split_fractions = (0.81, 0.09, 0.10)
    #: A third of the paper's 0.003: at 0.003 the chart branch's loss stayed flat for ten epochs.
    default_lr = 0.001
    default_weight_decay = 0.0
    #: Pooled over the five demo tickers (29,000 windows), seven epochs fit the 10-minute budget.
    default_epochs = 7
    #: Half the classifiers' width: a quarter of the multiply-adds, so the pooled demo fits the budget.
    default_width = 8
    chart_heads = ("column", "cam")
    default_chart_head = "column"  # the newest bars get weights of their own (models.architectures.ColumnHead)
    train_loss_name = "MSE in window-volatility units"
    validation_name = "val RMSE log10"
    loss_description = "MSE of the log10 close in units of each window's volatility"
    demo_symbols = DEMO_TICKERS
    yahoo_example = "AAPL"
    is_regression = True
    target_kind = "direction"
    validation_in_loss_units = False  # RMSE of log10 against MSE in (log10 × 1000)²
    headline_metrics = (
        ("rmse_log", "RMSE (log10 close)", "{:.5f}", True),
        ("mape_pct", "MAPE", "{:.3f} %", True),
        ("direction_accuracy", "Direction accuracy", "{:.3f}", False),
    )

    baseline_kinds = (Persistence, MeanMove, LinearAutoregression)

    def build_model(self, spec: ModelSpec) -> nn.Module:
        from models.architectures import CnnLstmRegressor

        return CnnLstmRegressor(spec)

    def purge_samples(self, spec: ModelSpec) -> int:
        return spec.sequence_length

    def start_from_baseline(self, model: nn.Module, samples: TaskSamples) -> None:
        """The autoregressive part starts at the linear autoregression fitted on the training split."""
        train, validation = samples.indices("train"), samples.indices("validation")
        fitted = LinearAutoregression.fit(
            samples.sequences[train],
            samples.targets[train],
            validation=(samples.sequences[validation], samples.targets[validation]),
        )
        model.start_at(fitted.coef, fitted.intercept)

    # --- samples

    def cut_samples(self, spec: ModelSpec, loaded: LoadedBars) -> TaskSamples:
        from models.datasets import TaskSamples

        windows = make_ticker_windows(loaded.bars, spec.sequence_length)
        return TaskSamples(
            spec=spec,
            loaded=loaded,
            split=chronological_split(len(windows), self.split_fractions, purge=self.purge_samples(spec)),
            targets=np.asarray(windows.target_log10_close, dtype=np.float64),
            last_log10=np.log10(np.asarray(windows.last_close, dtype=np.float64)),
            sequences=np.asarray(windows.log10_close, dtype=np.float64),
            ohlc=np.asarray(windows.ohlc),
            times=pd.DatetimeIndex(windows.end_time),
        )

    def inputs(self, samples: TaskSamples, indices: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return images, torch.from_numpy(samples.sequences[indices].astype(np.float32))

    def window_inputs(self, spec: ModelSpec, windows: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return images, torch.from_numpy(np.log10(windows[:, :, 3]).astype(np.float32))

    def actual_up(self, samples: TaskSamples, indices: np.ndarray) -> np.ndarray:
        return samples.targets[indices] > samples.last_log10[indices]

    def step_labels(self, samples: TaskSamples, indices: np.ndarray) -> tuple[str, ...]:
        last = self.sequence_length - 1
        return tuple(f"bar {i + 1}" + (" (last)" if i == last else "") for i in range(self.sequence_length))

    # --- explanations

    def explained_output(
        self,
        model: nn.Module,
        n_inputs: int,
        *,
        target: Any = None,
        direction: Any = 1,
        extra: torch.Tensor | None = None,
    ) -> ExplainedOutput:
        if target is not None:
            raise ValueError(
                f"target is for the classifier; the regressor's output is chosen by direction, got {target!r}"
            )
        check_closes(extra, n_inputs, "the ticker regressor")
        if direction is None:  # the way each forecast goes, read from the engine's own forward pass
            return ExplainedOutput(forward=ForecastDirection(model, 1), target=0, direction=None, follows_forecast=True)
        direction = check_direction(direction)
        return ExplainedOutput(forward=ForecastDirection(model, direction), target=0, direction=direction)

    def score(self, output: torch.Tensor, target: Any) -> tuple[torch.Tensor, None]:
        """The signed predicted change the wrapper returns, in thousandths of log10."""
        return output[:, 0], None

    def score_words(self, direction: int | None) -> str:
        return f"predicted change explained ({'up' if direction == 1 else 'down'}), thousandths of log10"

    # --- predictions

    def outputs(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        with model_lock(model), torch.no_grad():
            return model(*inputs)

    def calls_up(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> np.ndarray:
        """The predicted change is above zero (read exactly, not through the price level)."""
        with model_lock(model), torch.no_grad():
            return (ForecastDirection(model, 1)(*inputs)[:, 0] > 0).cpu().numpy()

    def predict(self, loaded: LoadedCheckpoint, inputs: Sequence[torch.Tensor], last_close: float) -> Forecast:
        model = loaded.model
        with model_lock(model), torch.no_grad():  # explanations in other sessions may have hooks on it
            change = float(model.predicted_change(*inputs)[0])  # exact, not through the price level
        return self._forecast(loaded, change, last_close)

    def answers(self, output: np.ndarray, explained: np.ndarray) -> np.ndarray:
        """The forecast moves in %: ``output`` holds ``explained · change`` (thousandths of log10)."""
        from models.architectures import LOG10_SCALE

        change = np.asarray(output, dtype=np.float64)[:, 0] * np.asarray(explained, dtype=np.float64)
        return 100.0 * (np.power(10.0, change / LOG10_SCALE) - 1.0)

    def prediction_from_output(
        self, loaded: LoadedCheckpoint, output: torch.Tensor, explained: int, last_close: float
    ) -> Forecast:
        """The forecast from :class:`ForecastDirection`'s output (``explained · change``; ±1 is exact)."""
        return self._forecast(loaded, float(output[0] * check_direction(int(explained))), last_close)

    def _forecast(self, loaded: LoadedCheckpoint, change: float, last_close: float) -> Forecast:
        """The :class:`Forecast` of a predicted change (thousandths of log10) from ``last_close``."""
        from models.architectures import LOG10_SCALE

        predicted_log10 = math.log10(last_close) + change / LOG10_SCALE
        forecast_close = 10.0**predicted_log10
        correction = card_correction(loaded.card)
        corrected_close = corrected_pct = None
        if correction is not None:
            corrected_close = 10.0 ** float(correction.apply([predicted_log10])[0])
            corrected_pct = 100.0 * (corrected_close / last_close - 1.0)
        return Forecast(
            last_close=last_close,
            forecast_close=forecast_close,
            pct_change=100.0 * (forecast_close / last_close - 1.0),
            corrected_close=corrected_close,
            corrected_pct_change=corrected_pct,
        )

    def predicted_up(self, prediction: Forecast) -> bool:
        return prediction.predicted_up

    # --- training and the card

    def training_loss(self, model: nn.Module, inputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """MSE of the forecast move in units of each window's volatility (``window_volatility``).

        On raw moves the loss is dominated by the most volatile hours and rewards a forecast of
        no move; in volatility units a planted breakout's move (about 4 of them) stands out.
        """
        from models.architectures import LOG10_SCALE, window_volatility

        image, log10_close = inputs
        volatility = window_volatility(log10_close)
        move = ((target.double() - log10_close[:, -1].double()) * LOG10_SCALE).to(log10_close.dtype)
        return ((model.predicted_change(image, log10_close) - move) / volatility).pow(2).mean()

    def validation_figure(self, predicted: np.ndarray, truth: np.ndarray) -> float:
        """RMSE of the log10 close."""
        return float(np.sqrt(np.mean((predicted - truth) ** 2)))

    def evaluate(self, model: nn.Module, samples: TaskSamples) -> dict[str, Any]:
        """Test metrics against persistence, the same with the paper's offset correction, the live image branch."""
        test, train = samples.indices("test"), samples.indices("train")
        predicted = batched_outputs(model, samples, test)
        up_share = float(np.mean(samples.targets[train] > samples.last_log10[train]))
        common = {
            "thresholds": ALERT_THRESHOLDS_PCT,
            "train_up_share": up_share,
            "block": min(BOOTSTRAP_BLOCK, len(test)),
        }
        report = regressor_report(samples.targets[test], predicted, samples.last_log10[test], **common)
        # the paper's offset correction, fitted on the most recent data before the test split
        validation = samples.indices("validation")
        correction = fit_offset_correction(samples.targets[validation], batched_outputs(model, samples, validation))
        corrected = regressor_report(
            samples.targets[test], correction.apply(predicted), samples.last_log10[test], **common
        )
        report["model_with_offset_correction"] = corrected["model"]
        report["offset_correction"] = {
            **correction.to_dict(),
            "fitted_on": "validation split (most recent before test)",
        }
        report["verdict_with_offset_correction"] = corrected["verdict"]
        report["image_branch_live_share"] = image_branch_live_share(model, samples)
        windows = self.baseline_windows(samples.ohlc[test])
        return judge_regressor(
            report,
            self.fit_baselines(samples),
            windows,
            samples.targets[test],
            predicted,
            thresholds=ALERT_THRESHOLDS_PCT,
            block=common["block"],
        )

    # --- baselines

    def baseline_windows(self, windows: np.ndarray) -> np.ndarray:
        return np.log10(np.asarray(windows, dtype=np.float64)[:, :, 3])

    def baseline_call(self, baseline: Baseline, windows: np.ndarray) -> BaselineCall:
        closes = self.baseline_windows(windows[:1])
        forecast = baseline.predict(closes)
        change = float(percent_change(forecast, closes[:, -1])[0])
        return BaselineCall(
            name=baseline.name, calls_up=change > 0, words=f"{change:+.3f} % (to {10 ** float(forecast[0]):,.2f})"
        )
