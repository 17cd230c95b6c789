"""What every task object provides: one place for everything that differs between two kinds of model.

A *task* is a question asked of a price window — "will this day close above its open?" (a
classifier), "where will the next hour close?" (a regressor). Everything that differs between
them lives in one :class:`Task` subclass, in the habit of pytorch-grad-cam's ``targets`` and
Captum's one-class-per-method: how a window becomes the model's inputs, the output the
explanation engine explains and how a target is checked, the score faithfulness measures, the
prediction object, the training loss, the validation figure and the card's test metrics, and
the words a page shows. The rest of the code asks the task; it never compares task names.

Adding a task is one new module with a :class:`Task` subclass and one line in
:data:`models.tasks.TASKS`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

if TYPE_CHECKING:
    from data.bars import LoadedBars
    from models.architectures import ModelSpec
    from models.baselines import Baseline
    from models.card import ModelCard
    from models.checkpoints import LoadedCheckpoint
    from models.datasets import TaskSamples


@dataclasses.dataclass(frozen=True)
class ExplainedOutput:
    """What the explanation engine differentiates, for one batch.

    Attributes:
        forward: the module whose output column ``target`` is explained (the model itself, or a
            wrapper such as the regressor's signed predicted change).
        target: Captum's ``target``: ``None`` (the predicted class, read from the pass's own
            forward), an ``(N,)`` tensor of classes, or ``0`` for a wrapper's single output.
        direction: the regressor's explained direction (+1 / −1), or ``None`` for a classifier — and
            for a regressor asked to follow its forecast (``follows_forecast``).
        follows_forecast: the regressor explains the way each forecast goes: ``forward`` is the
            "up" wrapper, and the engine multiplies each input's output by its sign (+1 where the
            predicted change is ≥ 0, else −1) after the forward pass, before the backward passes —
            the same numbers as the wrapper of that direction, without a pass to find it.
    """

    forward: nn.Module
    target: int | torch.Tensor | None
    direction: int | None
    follows_forecast: bool = False


def check_direction(direction: Any) -> int:
    """``direction`` as +1 or −1 (what pushes the forecast up / down), else ``ValueError``."""
    if isinstance(direction, bool) or direction not in (1, -1):
        raise ValueError(f"direction must be +1 (pushes the forecast up) or -1 (down), got {direction!r}")
    return int(direction)


def check_closes(extra: Any, n_inputs: int, what: str) -> torch.Tensor:
    """``extra`` as the ``(N, W)`` log10 closes a model takes beside its image, else ``ValueError``."""
    if not isinstance(extra, torch.Tensor) or extra.ndim != 2 or extra.shape[0] != n_inputs:
        got = tuple(extra.shape) if isinstance(extra, torch.Tensor) else type(extra).__name__
        raise ValueError(f"additional_forward_args must hold the ({n_inputs}, W) log10 closes for {what}, got {got}")
    return extra


class Task(abc.ABC):
    """One kind of question a model answers about a price window (see the module docstring).

    Class attributes (facts of the task):
        name: the task's key — the card's ``task`` field and ``--task`` on the command line.
        title: what the model answers, in words.
        interval: the bars the task's windows are cut from (``"1m"``, ``"60m"``).
        sequence_length: time steps per window.
        time_unit: what one time step is called (``"minute"``, ``"bar"``).
        sample_noun: what the samples are called, plural.
        archs, default_arch, default_image: architectures it can be trained with, and the defaults.
        split_fractions: train / validation / test shares of the chronological split.
        purge_samples: samples dropped at each split boundary (windows that overlap the next part).
        default_lr, default_weight_decay: the optimiser's defaults.
        default_epochs: the most epochs a default training run takes (early stopping may end it sooner).
        default_width: the trunk's base channel width unless chosen (``ModelSpec.width``).
        chart_heads, default_chart_head: the heads on the Grad-CAM layer its model can be built
            with (``ModelSpec.chart_head``), and the one used unless chosen.
        train_loss_name, validation_name, loss_description: the training loss and validation figure, in words.
        demo_symbols: the demo market's symbols it is trained and shown on; yahoo_example: a ticker to suggest.
        is_regression: the model forecasts a number (and alerts on a threshold), not a class.
        target_kind: what an explanation explains: ``"class"`` or ``"direction"``.
        accepts_imagenet_weights: ``--imagenet-weights`` can start its model.
        validation_in_loss_units: the validation figure is in the training loss's units (one axis
            serves both on a loss chart).
        headline_metrics: the card's headline test metrics: (``metrics.model`` key, label, format,
            lower is better).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    interval: ClassVar[str]
    sequence_length: ClassVar[int]
    time_unit: ClassVar[str]
    sample_noun: ClassVar[str]
    archs: ClassVar[tuple[str, ...]]
    default_arch: ClassVar[str]
    default_image: ClassVar[str]
    split_fractions: ClassVar[tuple[float, float, float]]
    default_lr: ClassVar[float]
    default_weight_decay: ClassVar[float]
    default_epochs: ClassVar[int] = 30
    default_width: ClassVar[int] = 16
    chart_heads: ClassVar[tuple[str, ...]] = ("cam",)
    default_chart_head: ClassVar[str] = "cam"
    train_loss_name: ClassVar[str]
    validation_name: ClassVar[str]
    loss_description: ClassVar[str]
    demo_symbols: ClassVar[tuple[str, ...]]
    yahoo_example: ClassVar[str]
    is_regression: ClassVar[bool]
    target_kind: ClassVar[str]
    accepts_imagenet_weights: ClassVar[bool] = False
    validation_in_loss_units: ClassVar[bool]
    headline_metrics: ClassVar[tuple[tuple[str, str, str, bool], ...]]
    #: The simple rules the model has to beat (:mod:`models.baselines`), fitted on the training split.
    baseline_kinds: ClassVar[tuple[type[Baseline], ...]]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- the model -------------------------------------------------------------------------

    @abc.abstractmethod
    def build_model(self, spec: ModelSpec) -> nn.Module:
        """A fresh, randomly initialised model for ``spec`` (no weights are downloaded)."""

    @abc.abstractmethod
    def start_from_baseline(self, model: nn.Module, samples: TaskSamples) -> None:
        """Set a fresh model's baseline path to the baseline fitted on ``samples``' training split.

        Raises:
            DataError: the training split cannot fit the baseline (one class, flat prices…).
        """

    def purge_samples(self, spec: ModelSpec) -> int:
        """Samples dropped at each split boundary so that no bar serves two parts (0: none overlap)."""
        return 0

    # --- samples ---------------------------------------------------------------------------

    @abc.abstractmethod
    def cut_samples(self, spec: ModelSpec, loaded: LoadedBars) -> TaskSamples:
        """Every sample of ``loaded`` (bars at :attr:`interval`) for ``spec``, with its split.

        Raises:
            DataError: too few samples for a split, or bars at another interval.
        """

    def sample_times(self, samples: TaskSamples) -> pd.DatetimeIndex:
        """``(N,)`` when each sample was taken (a day, or a window's last bar), recorded at cutting."""
        return samples.times

    @abc.abstractmethod
    def inputs(self, samples: TaskSamples, indices: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The model's inputs for ``indices``, given their ``(B, 1, S, S)`` images."""

    @abc.abstractmethod
    def window_inputs(self, spec: ModelSpec, windows: np.ndarray, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The model's inputs for ``(B, W, 4)`` OHLC windows, given their ``(B, 1, S, S)`` images."""

    @abc.abstractmethod
    def actual_up(self, samples: TaskSamples, indices: np.ndarray) -> np.ndarray:
        """``(B,) bool``: what happened — an up day, or a rise of the next close."""

    @abc.abstractmethod
    def step_labels(self, samples: TaskSamples, indices: np.ndarray) -> tuple[str, ...]:
        """One label per time step of the windows at ``indices`` (for axes and tables)."""

    # --- explanations ----------------------------------------------------------------------

    @abc.abstractmethod
    def explained_output(
        self,
        model: nn.Module,
        n_inputs: int,
        *,
        target: Any = None,
        direction: Any = 1,
        extra: torch.Tensor | None = None,
    ) -> ExplainedOutput:
        """The module and Captum target that answer this task's question, after checking the arguments.

        Args:
            model: the task's model.
            n_inputs: N, the batch size.
            target: classifier only — a class per input or one for all; ``None`` for the predicted class.
            direction: regressor only — +1 ("pushes the forecast up") or −1; ``None``: the way each
                forecast goes (``follows_forecast``).
            extra: the model's second input (the regressor's ``(N, W)`` log10 closes) or ``None``.

        Raises:
            TypeError / ValueError: an argument that does not fit this task, naming it.
        """

    @abc.abstractmethod
    def score(self, output: torch.Tensor, target: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The score faithfulness and localisation measure, from the explained forward's output.

        Args:
            output: what :attr:`ExplainedOutput.forward` returned for N inputs.
            target: the classifier's classes (``None``: the predicted ones); ignored by a regressor.

        Returns:
            ``(N,)`` scores — the probability of the target class, or the signed predicted change —
            and the ``(N,)`` classes used (``None`` for a regressor).
        """

    @abc.abstractmethod
    def score_words(self, direction: int | None) -> str:
        """What :meth:`score` measures, in words for an axis or a caption."""

    # --- predictions -----------------------------------------------------------------------

    @abc.abstractmethod
    def outputs(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(B,)`` the model's answer per input, no gradients: P(up), or the predicted log10 close."""

    @abc.abstractmethod
    def calls_up(self, model: nn.Module, inputs: Sequence[torch.Tensor]) -> np.ndarray:
        """``(B,) bool``: the model calls each input "up" (the predicted class, or a rise), no gradients."""

    @abc.abstractmethod
    def predict(self, loaded: LoadedCheckpoint, inputs: Sequence[torch.Tensor], last_close: float) -> Any:
        """What the model says about one window (its prediction object)."""

    @abc.abstractmethod
    def answers(self, output: np.ndarray, explained: np.ndarray) -> np.ndarray:
        """``(N,) float64`` many windows' answers from the engine's outputs (``ExplanationSet.output``)
        and what each explained: the forecast move in % (regressor) or P(up) (classifier)."""

    @abc.abstractmethod
    def prediction_from_output(
        self, loaded: LoadedCheckpoint, output: torch.Tensor, explained: int, last_close: float
    ) -> Any:
        """:meth:`predict`'s object from the explanation engine's own forward pass, without another pass.

        Args:
            loaded: the checkpoint.
            output: ``(K,)`` one input's row of :attr:`ExplainedOutput.forward`'s output as the engine
                ran it (:attr:`xai.explain.ExplanationSet.output`): the classifier's logits, or the
                regressor's signed change ``explained · change``.
            explained: the class or direction the engine explained for that input.
            last_close: the window's last close.
        """

    @abc.abstractmethod
    def predicted_up(self, prediction: Any) -> bool:
        """Whether a prediction object calls the window "up"."""

    # --- training and the card -------------------------------------------------------------

    @abc.abstractmethod
    def training_loss(self, model: nn.Module, inputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """The loss minimised in training: ``model`` run on ``inputs``, against the targets."""

    @abc.abstractmethod
    def validation_figure(self, predicted: np.ndarray, truth: np.ndarray) -> float:
        """Lower is better: the figure early stopping watches, from :meth:`outputs` and the targets."""

    @abc.abstractmethod
    def evaluate(self, model: nn.Module, samples: TaskSamples) -> dict[str, Any]:
        """The card's ``metrics``: test-split figures against the baselines, JSON-ready."""

    # --- baselines -------------------------------------------------------------------------

    @abc.abstractmethod
    def baseline_windows(self, windows: np.ndarray) -> np.ndarray:
        """What the baselines read, from ``(B, W, 4)`` OHLC windows: the bars, or their log10 closes."""

    @abc.abstractmethod
    def baseline_call(self, baseline: Baseline, windows: np.ndarray) -> BaselineCall:
        """What ``baseline`` says about the first of ``(B, W, 4)`` OHLC windows, in words."""

    def fit_baselines(self, samples: TaskSamples) -> list[Baseline]:
        """Each of :attr:`baseline_kinds` fitted on ``samples``' training split (validation may tune it).

        Raises:
            DataError: a split too short, one class only, flat first hours.
        """
        from models.baseline_report import fit_baselines

        return fit_baselines(self.baseline_kinds, self.baseline_windows(samples.ohlc), samples.targets, samples)

    def baseline_calls(self, card: ModelCard, windows: np.ndarray) -> list[BaselineCall]:
        """What each baseline recorded in ``card`` says about the first of ``windows``; ``[]`` for an old card."""
        from models.baselines import baseline_from_card

        entries = card.metrics.extra.get("baselines") or []
        strongest = card.metrics.extra.get("strongest_baseline")
        return [
            dataclasses.replace(
                self.baseline_call(baseline_from_card(entry), windows), strongest=entry["key"] == strongest
            )
            for entry in entries
        ]


@dataclasses.dataclass(frozen=True)
class BaselineCall:
    """One baseline's answer for one window, beside the model's.

    Attributes:
        name: the baseline, in words. calls_up: it calls the window "up".
        words: its answer (``"up (P = 0.71)"``, ``"+0.12 % to 101.3"``).
        strongest: it is the card's strongest baseline.
    """

    name: str
    calls_up: bool
    words: str
    strongest: bool = False


def batched_outputs(model: nn.Module, samples: TaskSamples, indices: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``(len(indices),) float64``: the task's :meth:`Task.outputs` over ``indices``, in batches, eval mode."""
    model.eval()
    where = next(model.parameters()).device
    outputs = []
    for start in range(0, len(indices), batch_size):
        inputs, _ = samples.batch(indices[start : start + batch_size])
        outputs.append(samples.task.outputs(model, [tensor.to(where) for tensor in inputs]).double().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.empty(0)
