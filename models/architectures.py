"""The source papers' two architectures, built from torchvision parts and shaped so that their maps
can say something: fine enough to point at a pattern, never gated to zero, and starting from the
strongest simple baseline.

* :class:`~models.classifier.ResNetClassifier` (NIFTY-day tasks, in :mod:`models.classifier`): a
  residual trunk of torchvision ``BasicBlock``s with a small-image stem, so its Grad-CAM layer is
  8×8 cells over the first hour at 64 px, beside four first-hour features that start it at the
  fitted logistic regression, under a head whose Grad-CAM cannot be blank.
* :class:`CnnLstmRegressor` (ticker task): a CNN branch — a residual trunk with asymmetric
  strides (:data:`REGRESSOR_STRIDES`: time runs along the columns, so the extract layer is 4 rows ×
  16 columns at 128 px, 3.1 bars a column) and one extra convolution, the paper's *extract
  layer*, which Grad-CAM targets — and an LSTM over the window's log10 closes. The forecast is the
  last close plus a change: the extract map's cells summed through one weight per channel (no ReLU
  between it and the output, and each cell's share is exactly what Grad-CAM draws), an MLP on the
  LSTM's state — both in units of the window's own volatility, since the
  chart is drawn scale-free — and a linear autoregression on the last returns that training
  starts at the fitted baseline. With the image and sequence heads at zero the model *is* that
  baseline. Inputs and output are log10 closes relative to the last, scaled by
  :data:`LOG10_SCALE`; the training loss is the squared error in volatility units.

Every shape and size a model depends on is in :class:`ModelSpec`, which the
checkpoint's card records and the loader checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

from data.settings import CANDLESTICK_SIZE

IMAGES = ("candlestick", "gadf")
#: Default image side per image type: the GADF of 60 minutes, lightly upsampled;
#: 128 px gives 50 candlesticks 2-3 px each.
DEFAULT_IMAGE_SIZE = {"gadf": 64, "candlestick": CANDLESTICK_SIZE}
#: Pixels per time step an image needs at least (a candlestick draws every bar in a column of its own).
MIN_PIXELS_PER_STEP = {"gadf": 0, "candlestick": 1}
#: Residual blocks per stage.
BLOCK_LAYOUT = {"resnet34": (3, 4, 6, 3), "resnet18": (2, 2, 2, 2)}
#: log10 changes are multiplied by this inside the regressor (0.001 in log10 ≈ 0.23 %): the
#: LSTM's inputs (closes relative to the last) and the head's output are then of order 1-10.
#: (Measured on the demo market: scaling the LSTM input by 100 instead learned more slowly.)
LOG10_SCALE = 1000.0
#: Smallest image side: the imagenet stem divides the side by 32.
MIN_IMAGE_SIZE = 32
#: Stems of the classifier: ``"small"`` (3×3 stride 1, no max-pool) or ``"imagenet"`` (torchvision's).
STEMS = ("small", "imagenet")
#: Lagged returns the regressor's autoregressive part reads (the baseline's largest order).
AR_LAGS = 20
#: Smallest window volatility the regressor divides by (LOG10_SCALE units: 1e-5 in log10, 0.002 %).
VOLATILITY_FLOOR = 0.01
#: Heads reading the Grad-CAM layer: the regressor's :class:`ColumnHead` (``"column"``), the
#: classifier's opposite logits (``"opposite"``, :mod:`models.classifier`), or ``"cam"``: one weight
#: per channel, the same at every cell. Which a task takes: its ``chart_heads``. Cards written before
#: the field have none, and read as ``"cam"``.
CHART_HEADS = ("column", "opposite", "cam")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; recorded in the card.

    Attributes:
        task: a task's name (:data:`models.tasks.TASKS`): ``"nifty"`` (up/down classifier) or
            ``"ticker"`` (next-bar regressor).
        arch: one of the task's ``archs``.
        image: ``"candlestick"`` or ``"gadf"``.
        image_size: side S of the ``(N, 1, S, S)`` image input.
        sequence_length: length of the window (60 minutes for nifty, 50 bars for ticker).
        width: base channel width of the trunk (×2 per stage; the regressor's stops at ×4).
        extract_channels: output channels of the regressor's extract layer.
        lstm_hidden: hidden size of each of the two LSTM layers.
        head_hidden: hidden units of the regressor's sequence head.
        stem: the classifier's stem, one of :data:`STEMS` (the regressor's is fixed).
        chart_head: the head on the Grad-CAM layer, one of the task's ``chart_heads`` (:data:`CHART_HEADS`).
    """

    task: str
    arch: str
    image: str
    image_size: int
    sequence_length: int
    width: int = 16
    extract_channels: int = 32
    lstm_hidden: int = 64
    head_hidden: int = 64
    stem: str = "small"
    chart_head: str = "cam"

    def __post_init__(self) -> None:
        from models.tasks import task_named

        facts = task_named(self.task)  # ValueError naming the tasks
        archs = facts.archs
        if self.arch not in archs:
            raise ValueError(f"arch must be one of {archs} for the {self.task} task, got {self.arch!r}")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        if self.chart_head not in facts.chart_heads:
            raise ValueError(
                f"chart_head must be one of {facts.chart_heads} for the {self.task} task, got {self.chart_head!r}"
            )
        if self.image not in IMAGES:
            raise ValueError(f"image must be one of {IMAGES}, got {self.image!r}")
        for name in ("image_size", "sequence_length", "width", "extract_channels", "lstm_hidden", "head_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"image_size must be >= {MIN_IMAGE_SIZE} (the trunk divides it by 32), got {self.image_size}"
            )
        if self.image_size < MIN_PIXELS_PER_STEP[self.image] * self.sequence_length:
            raise ValueError(
                f"image_size must be >= sequence_length ({self.sequence_length}) for {self.image}s "
                f"(one pixel column per bar at least), got {self.image_size}"
            )

    @classmethod
    def default(cls, task: str, **overrides: Any) -> ModelSpec:
        """The default configuration of ``task`` (a task's name), with ``overrides`` applied."""
        from models.tasks import task_named

        facts = task_named(task)
        image = overrides.pop("image", None) or facts.default_image
        values: dict[str, Any] = {
            "task": task,
            "arch": facts.default_arch,
            "image": image,
            "image_size": DEFAULT_IMAGE_SIZE.get(image, CANDLESTICK_SIZE),
            "sequence_length": facts.sequence_length,
            "width": facts.default_width,
            "chart_head": facts.default_chart_head,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def residual_stage(in_channels: int, out_channels: int, blocks: int, stride: int | tuple[int, int]) -> nn.Sequential:
    """``blocks`` torchvision BasicBlocks; the first changes width/stride with a 1×1 shortcut."""
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    layers = [BasicBlock(in_channels, out_channels, stride, shortcut)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


#: The regressor trunk's strides per stage, (rows, columns): time runs along the columns, so the
#: price axis is reduced 4× more than the time axis (a 128-px candlestick: 4 rows × 16 columns at
#: the extract layer, 3.1 bars a column).
REGRESSOR_STRIDES = ((1, 1), (2, 2), (2, 1), (2, 1))
#: Stem reduction (3×3 stride-2 convolution, then a 2×2 max-pool).
REGRESSOR_STEM = 4


class ColumnHead(nn.Module):
    """The chart's readout: one weight per extract channel *and time column*, each cell's
    contribution ``Σ_c w[c, column] · E[c, row, column]``, ``(N, 1, rows, columns)``.

    A head with the same weights at every cell (CAM-style) cannot tell the window's last bar from
    any other: a planted breakout is "the newest bar climbs past the last 20 hours' high", and such
    a head had to learn where the newest column is from the convolutions' zero padding. Trained
    alone on the pooled demo windows, it had not found the breakouts after four epochs (loss flat at
    1.14); this head found them in two (loss 1.07, test alert recall 0.14, then 0.23). It starts at
    zero, so the model starts as its autoregression.
    """

    def __init__(self, channels: int, columns: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, columns))

    def reset_parameters(self) -> None:
        """A random head, as a 1×1 convolution's default initialisation (the sanity check's cascade)."""
        bound = 1.0 / self.weight.shape[0] ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features * self.weight[None, :, None, :]).sum(dim=1, keepdim=True)


def _cam_head(channels: int, columns: int) -> nn.Module:
    return nn.Conv2d(channels, 1, kernel_size=1, bias=False)


#: Chart head name → its module, given the extract layer's channels and columns.
_CHART_HEADS = {"column": ColumnHead, "cam": _cam_head}


class ChangeParts(NamedTuple):
    """The regressor's forecast change in parts (:meth:`CnnLstmRegressor.change_parts`)."""

    autoregression: torch.Tensor
    chart: torch.Tensor
    sequence: torch.Tensor


class CnnLstmRegressor(nn.Module):
    """CNN branch on ``(N, 1, S, S)`` images + LSTM on ``(N, W)`` log10 closes → ``(N,)`` next log10 close.

    The forecast is the last close plus a change, the sum of three parts: a linear readout of the
    extract layer's map (no ReLU between it and the output, so an image gradient is never gated to
    zero), an MLP on the LSTM's last state, and a linear autoregression on the last
    :data:`AR_LAGS` returns that training starts at the fitted baseline (:meth:`start_at`). The
    Grad-CAM target is ``self.extract`` (the paper's extract layer).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = [spec.width * min(2**stage, 4) for stage in range(4)]
        layout = BLOCK_LAYOUT[spec.arch.removeprefix("cnn-lstm-")]
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        stages, in_channels = [], widths[0]
        for width, blocks, stride in zip(widths, layout, REGRESSOR_STRIDES, strict=True):
            stages.append(residual_stage(in_channels, width, blocks, stride=stride))
            in_channels = width
        self.trunk = nn.Sequential(*stages)
        # conv → BatchNorm, no ReLU (the paper's had one: without BatchNorm, lr 0.003 drove every
        # pre-activation negative, 0 % live units, a silent image branch): centred values give
        # Grad-CAM cells of both signs, so its ReLU keeps those for the direction explained
        # instead of blanking a map whose all-positive activations leaned the other way.
        self.extract = nn.Sequential(
            nn.Conv2d(widths[-1], spec.extract_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(spec.extract_channels),
        )
        # the cells' contributions, summed: one weight per channel and time column (ColumnHead), or
        # per channel only ("cam", older checkpoints: each cell's share is then exactly Grad-CAM's)
        columns = extract_cells(spec.image_size)[1]
        self.image_head = _CHART_HEADS[spec.chart_head](spec.extract_channels, columns)
        self.lstm = nn.LSTM(input_size=1, hidden_size=spec.lstm_hidden, num_layers=2, batch_first=True)
        self.sequence_head = nn.Sequential(
            nn.Linear(spec.lstm_hidden, spec.head_hidden), nn.ReLU(), nn.Linear(spec.head_hidden, 1)
        )
        self.autoregression = nn.Linear(AR_LAGS, 1)
        for layer in (self.image_head, self.sequence_head[-1], self.autoregression):
            nn.init.zeros_(layer.weight)  # the column head starts at zero too
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        """``image`` (N, 1, S, S), ``log10_close`` (N, W) → predicted next log10 close (N,)."""
        return log10_close[:, -1] + self.predicted_change(image, log10_close) / LOG10_SCALE

    def predicted_change(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        """The forecast minus the last close, times ``LOG10_SCALE``, (N,).

        ``autoregression + volatility · (image part + sequence part)``: the chart is drawn
        scale-free (its price axis spans the window), so the image and sequence parts forecast the
        move in units of the window's own volatility (:func:`window_volatility`), and the LSTM reads
        the closes in those units too. What the explanations explain: read here, not as
        ``forward − last``, which would lose precision to the price level in float32.
        """
        parts = self.change_parts(image, log10_close)
        return parts.autoregression + window_volatility(log10_close) * (parts.chart + parts.sequence)

    def change_parts(self, image: torch.Tensor, log10_close: torch.Tensor) -> ChangeParts:
        """The three parts of :meth:`predicted_change`, each ``(N,)``: the autoregression in
        ``LOG10_SCALE`` units, the chart's and the sequence's in units of the window's volatility."""
        relative = (log10_close - log10_close[:, -1:]) * LOG10_SCALE
        volatility = window_volatility(log10_close)
        sequence = self.sequence_head(self.lstm((relative / volatility[:, None]).unsqueeze(-1))[0][:, -1])[:, 0]
        lags = min(AR_LAGS, relative.shape[1] - 1)
        returns = torch.diff(relative[:, -lags - 1 :], dim=1)
        autoregression = self.autoregression(nn.functional.pad(returns, (AR_LAGS - lags, 0)))[:, 0]
        return ChangeParts(autoregression=autoregression, chart=self.chart_part(image), sequence=sequence)

    def image_features(self, image: torch.Tensor) -> torch.Tensor:
        """The extract layer's map of ``(N, 1, S, S)`` images, ``(N, C, rows, columns)``."""
        return self.extract(self.trunk(self.stem(image)))

    def chart_part(self, image: torch.Tensor) -> torch.Tensor:
        """``(N,)`` the chart's share of the change, in units of the window's volatility."""
        return self.image_head(self.image_features(image)).sum(dim=(1, 2, 3))

    @torch.no_grad()
    def start_at(self, coef: np.ndarray, intercept_log10: float) -> None:
        """Start the autoregressive part at a fitted linear autoregression (newest lag last)."""
        coef = np.asarray(coef, dtype=np.float64)[-AR_LAGS:]
        weight = torch.zeros(AR_LAGS)
        weight[AR_LAGS - len(coef) :] = torch.as_tensor(coef, dtype=torch.float32)
        self.autoregression.weight.copy_(weight[None])
        self.autoregression.bias.fill_(float(intercept_log10) * LOG10_SCALE)
        self.autoregression.requires_grad_(False)  # the baseline stays as fitted: the rest learns the residual

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.extract

    #: The layers on the image's path, output first (the sanity check randomises them in turn).
    sanity_layers = ("image_head", "extract", "trunk", "stem")


def window_volatility(log10_close: torch.Tensor) -> torch.Tensor:
    """``(N,)`` standard deviation of each window's log10 returns, in ``LOG10_SCALE`` units.

    Floored at :data:`VOLATILITY_FLOOR` so that a flat window does not divide by zero.
    """
    returns = torch.diff(log10_close, dim=1) * LOG10_SCALE
    return returns.std(dim=1).clamp(min=VOLATILITY_FLOOR)


def extract_cells(image_size: int) -> tuple[int, int]:
    """(rows, columns) of the regressor's extract map for an ``image_size`` input."""
    rows = columns = image_size // REGRESSOR_STEM
    for row_stride, column_stride in REGRESSOR_STRIDES:
        rows, columns = (rows + row_stride - 1) // row_stride, (columns + column_stride - 1) // column_stride
    return rows, columns


def build_model(spec: ModelSpec) -> nn.Module:
    """A fresh, randomly initialised model for ``spec`` (no weights are downloaded): its task's model."""
    from models.tasks import task_named

    return task_named(spec.task).build_model(spec)
