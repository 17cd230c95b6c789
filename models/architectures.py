"""The two models of the source papers, built from torchvision parts.

* :class:`ResNetClassifier` (NIFTY-day task): a torchvision ResNet-18 or -34 on
  a one-channel image (GADF by default), two logits ``(down, up)``. The first
  convolution takes one channel; ImageNet weights can be loaded from a local
  file, their first convolution summed over RGB to fit one channel.
* :class:`CnnLstmRegressor` (ticker task): a CNN branch — a residual trunk of
  torchvision ``BasicBlock``s in ResNet-34's layout (3, 4, 6, 3: the paper's 16
  blocks that leap two convolutions) or ResNet-18's (2, 2, 2, 2), then one
  extra convolution, the paper's *extract layer*, which Grad-CAM targets — and
  an LSTM branch — two LSTM layers over the window's log10 closes. Both are
  flattened, concatenated and passed through fully connected layers to one
  output: the log10 close one bar ahead. The extract layer is conv → BatchNorm →
  ReLU: without the BatchNorm its ReLU died during training and the image
  branch went silent (see :func:`models.training.image_branch_live_share`).

  The regressor predicts the log10 close as *last log10 close + a learned
  change*: the LSTM sees the closes relative to the last one and the head's
  output is a change, scaled by :data:`LOG10_SCALE` (so that it is of order 1
  while training). With its last layer at zero the model *is* the persistence
  forecast, the baseline it has to beat. The paper fed raw log10 prices; this
  keeps its input and output but removes the price level, which otherwise
  dominates the loss and differs between tickers.

Every shape and size a model depends on is in :class:`ModelSpec`, which the
checkpoint's card records and the loader checks.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import torch
import torchvision
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
#: Smallest image side: the trunk divides the side by 32.
MIN_IMAGE_SIZE = 32


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
        width: base channel width of the regressor's trunk (64, 128, ... ×2 per stage for 64).
        extract_channels: output channels of the regressor's extract layer.
        lstm_hidden: hidden size of each of the two LSTM layers.
        head_hidden: hidden units of the regressor's fully connected head.
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

    def __post_init__(self) -> None:
        from models.tasks import task_named

        archs = task_named(self.task).archs  # ValueError naming the tasks
        if self.arch not in archs:
            raise ValueError(f"arch must be one of {archs} for the {self.task} task, got {self.arch!r}")
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
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ResNetClassifier(nn.Module):
    """torchvision ResNet on ``(N, 1, S, S)`` images → ``(N, 2)`` logits (down, up).

    The Grad-CAM target is ``self.net.layer4``.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.net = getattr(torchvision.models, spec.arch)(weights=None, num_classes=2)
        self.net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` (N, 1, S, S) float32 in [-1, 1] → logits (N, 2)."""
        return self.net(image)

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.net.layer4

    def load_imagenet_weights(self, path: str | Path) -> None:
        """Load torchvision ImageNet weights from a local file (no download).

        The RGB first convolution is summed over its input channels to take one
        channel; the 1000-class head is dropped (the 2-class head stays as built).

        Raises:
            ValueError: the file is not a state dict of this architecture.
        """
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
            raise ValueError(f"{path}: not a readable plain state dict ({type(error).__name__}: {error})") from error
        if not isinstance(state, dict) or "conv1.weight" not in state:
            raise ValueError(f"{path} is not a torchvision {self.spec.arch} state dict (no conv1.weight)")
        state = {key: value for key, value in state.items() if not key.startswith("fc.")}
        state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.startswith("fc.")]  # the 2-class head stays as built
        if unexpected or missing:
            raise ValueError(
                f"{path} does not fit {self.spec.arch}: "
                f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )


def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
    """``blocks`` torchvision BasicBlocks; the first changes width/stride with a 1×1 shortcut."""
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    layers = [BasicBlock(in_channels, out_channels, stride, shortcut)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class CnnLstmRegressor(nn.Module):
    """CNN branch on ``(N, 1, S, S)`` images + LSTM on ``(N, W)`` log10 closes → ``(N,)`` next log10 close.

    The Grad-CAM target is ``self.extract`` (the paper's extract layer).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = [spec.width * 2**stage for stage in range(4)]
        layout = BLOCK_LAYOUT[spec.arch.removeprefix("cnn-lstm-")]
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, in_channels = [], widths[0]
        for stage, (width, blocks) in enumerate(zip(widths, layout, strict=True)):
            stages.append(_stage(in_channels, width, blocks, stride=1 if stage == 0 else 2))
            in_channels = width
        self.trunk = nn.Sequential(*stages)
        # conv → BatchNorm → ReLU: without the BatchNorm, the paper's lr 0.003 drove every
        # pre-activation negative within the first epochs (measured: 0 % live units after training),
        # silencing the whole image branch and leaving Grad-CAM blank.
        self.extract = nn.Sequential(
            nn.Conv2d(widths[-1], spec.extract_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(spec.extract_channels),
            nn.ReLU(),
        )
        side = _trunk_side(spec.image_size)
        self.lstm = nn.LSTM(input_size=1, hidden_size=spec.lstm_hidden, num_layers=2, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(spec.extract_channels * side * side + spec.lstm_hidden, spec.head_hidden),
            nn.ReLU(),
            nn.Linear(spec.head_hidden, 1),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        """``image`` (N, 1, S, S), ``log10_close`` (N, W) → predicted next log10 close (N,)."""
        return log10_close[:, -1] + self.predicted_change(image, log10_close) / LOG10_SCALE

    def predicted_change(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        """The forecast minus the last close, times ``LOG10_SCALE``, (N,).

        What the explanations explain: read here, not as ``forward − last``, which would lose
        precision to the price level in float32.
        """
        relative = ((log10_close - log10_close[:, -1:]) * LOG10_SCALE).unsqueeze(-1)
        sequence_features = self.lstm(relative)[0][:, -1]
        image_features = self.extract(self.trunk(self.stem(image))).flatten(1)
        return self.head(torch.cat([image_features, sequence_features], dim=1))[:, 0]

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.extract


def _trunk_side(image_size: int) -> int:
    """Side of the trunk's output map for an input of ``image_size`` (stride 2 five times, rounding up)."""
    side = image_size
    for _ in range(5):
        side = (side + 1) // 2
    return side


def build_model(spec: ModelSpec) -> nn.Module:
    """A fresh, randomly initialised model for ``spec`` (no weights are downloaded): its task's model."""
    from models.tasks import task_named

    return task_named(spec.task).build_model(spec)
