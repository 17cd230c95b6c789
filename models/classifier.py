"""The NIFTY-day classifier: a small-stem ResNet trunk on the first hour's GADF plus four
first-hour features, with a head whose Grad-CAM cannot be blank.

:class:`ResNetClassifier` builds one of two heads (``ModelSpec.chart_head``):

* ``"opposite"`` (default since the fourth session): the logits are ``(−u, u)`` with no learnt
  bias, and ``u`` is the spatial mean of the Grad-CAM layer read through one weight per channel
  — the image's evidence channels, plus one channel that holds the first-hour features' evidence
  for "up" at every cell (:class:`EvidenceLayer`). The cells of the predicted class's Grad-CAM
  then add up to its logit, which is positive, so at least one cell is: the map is never blank.
  The features' share is drawn evenly over the hour (they are read from the whole hour).
* ``"cam"`` (checkpoints written before): two logits from the image's channels and a bias, plus
  the features' logits added outside the Grad-CAM layer. On 4 of 208 demo test days the features
  decided a call every cell argued against, and Grad-CAM, which keeps only the evidence for the
  call, was all zero.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import conv1x1

from models.architectures import BLOCK_LAYOUT, ModelSpec, residual_stage


class FirstHourSkip(nn.Module):
    """Four first-hour features from ``(N, M)`` log10 closes, standardised, and a linear map to the logits.

    The features are those of :class:`models.baselines.FirstHourLogistic`, read from the closes: the
    hour's log return, its log range (highest over lowest close), the log return of its last
    :data:`~models.baselines.LAST_MINUTES` minutes, and where the last close sits in the range. The
    GADF min-max scales the size of the hour's move away; this path carries it. Training starts it
    at the logistic regression fitted on the training split (:meth:`start_at`), so the classifier
    starts as that baseline and the image trunk learns what the features miss.
    """

    def __init__(self, n_classes: int = 2) -> None:
        super().__init__()
        from models.baselines import FIRST_HOUR_FEATURES

        n_features = len(FIRST_HOUR_FEATURES)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        self.linear = nn.Linear(n_features, n_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    @staticmethod
    def features(log10_close: torch.Tensor) -> torch.Tensor:
        """``(N, M)`` log10 closes → ``(N, 4)`` raw first-hour features (natural-log returns)."""
        from models.baselines import LAST_MINUTES

        ln10 = 2.302585092994046
        high, low = log10_close.max(dim=1).values, log10_close.min(dim=1).values
        last = log10_close[:, -1]
        span = high - low
        position = torch.where(span > 0, (last - low) / torch.where(span > 0, span, 1.0), 0.5)
        return torch.stack(
            [
                (last - log10_close[:, 0]) * ln10,
                span * ln10,
                (last - log10_close[:, -1 - LAST_MINUTES]) * ln10,
                position,
            ],
            dim=1,
        )

    def forward(self, log10_close: torch.Tensor) -> torch.Tensor:
        return self.linear((self.features(log10_close) - self.mean) / self.scale)

    @torch.no_grad()
    def start_at(self, log10_close: np.ndarray, labels: np.ndarray) -> None:
        """Fit the logistic regression on the training split's closes and labels, and start from it.

        Raises:
            DataError: one class only, or every first hour flat.
        """
        from models.baselines import fit_logistic

        raw = self.features(torch.as_tensor(log10_close, dtype=torch.float64)).numpy()
        mean, scale, coef, intercept = fit_logistic(raw, labels)
        coef = torch.as_tensor(coef)
        self.mean.copy_(torch.as_tensor(mean))
        self.scale.copy_(torch.as_tensor(scale))
        # logits (−z/2, +z/2): their softmax gives P(up) = sigmoid(z), the fitted probability
        self.linear.weight.copy_(torch.stack([-coef / 2, coef / 2]))
        self.linear.bias.copy_(torch.tensor([-intercept / 2, intercept / 2]))
        self.linear.requires_grad_(False)  # the baseline stays as fitted: the trunk learns what it misses


class EvidenceLayer(nn.Module):
    """The opposite-logit head's Grad-CAM layer: ``(N, C + 1, h, w)``.

    Channels ``0 … C−1`` are the image's evidence (1×1 convolution → BatchNorm on ``layer4``, no
    ReLU); channel ``C`` holds the first-hour features' evidence for "up" (their half log-odds) at
    every cell, so the layer's spatial mean, read through the head, *is* the logit, and Grad-CAM's
    cells add up to it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.image = nn.Sequential(conv1x1(channels, channels), nn.BatchNorm2d(channels))

    def forward(self, features: torch.Tensor, evidence_up: torch.Tensor) -> torch.Tensor:
        """``features`` (N, C, h, w) from ``layer4``, ``evidence_up`` (N,) → (N, C + 1, h, w)."""
        image = self.image(features)
        n, _, rows, columns = image.shape
        constant = evidence_up.reshape(n, 1, 1, 1).expand(n, 1, rows, columns)
        return torch.cat([image, constant.to(image.dtype)], dim=1)


class ResNetClassifier(nn.Module):
    """A ResNet trunk of torchvision ``BasicBlock``s on ``(N, 1, S, S)`` images, plus the first-hour
    features of the ``(N, M)`` log10 closes → ``(N, 2)`` logits (down, up).

    Stems (``spec.stem``): ``"small"`` — a 3×3 stride-1 convolution and no max-pool (CIFAR style),
    so the last stage is S/8 cells a side (8×8 at 64 px: 7.5 minutes a cell); ``"imagenet"`` —
    torchvision's 7×7 stride-2 convolution and max-pool (S/32: 2×2 at 64 px), the layout ImageNet
    weights fit at width 64. Module names follow torchvision's ResNet (``conv1`` … ``layer4``,
    ``fc``), so its state dicts load. The image's evidence starts at zero and the feature path at
    the fitted logistic regression (:class:`FirstHourSkip`), so the model starts as that baseline.
    The Grad-CAM target is ``extract``; its head is ``spec.chart_head`` (see the module docstring).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        widths = [spec.width * 2**stage for stage in range(4)]
        small = spec.stem == "small"
        self.conv1 = nn.Conv2d(
            1, widths[0], kernel_size=3 if small else 7, stride=1 if small else 2, padding=1 if small else 3, bias=False
        )
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if small else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = widths[0]
        for stage, (width, blocks) in enumerate(zip(widths, BLOCK_LAYOUT[spec.arch], strict=True), start=1):
            setattr(self, f"layer{stage}", residual_stage(in_channels, width, blocks, stride=1 if stage == 1 else 2))
            in_channels = width
        # 1×1 conv → BatchNorm, no ReLU: Grad-CAM's layer. Its values are centred per channel, so a
        # map of evidence has cells of both signs — Grad-CAM's ReLU keeps the ones for the class
        # explained — instead of one sign everywhere (post-ReLU layer4: blank whenever the image's
        # evidence, all positive activations, leaned the other way).
        self.opposite = spec.chart_head == "opposite"
        if self.opposite:
            self.extract: nn.Module = EvidenceLayer(widths[-1])
            self.fc = nn.Linear(widths[-1], 1, bias=False)  # "up"'s weight per image channel; "down" is its negative
        else:
            self.extract = nn.Sequential(conv1x1(widths[-1], widths[-1]), nn.BatchNorm2d(widths[-1]))
            self.fc = nn.Linear(widths[-1], 2)
            nn.init.zeros_(self.fc.bias)
        nn.init.zeros_(self.fc.weight)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.first_hour = FirstHourSkip()

    def trunk(self, image: torch.Tensor) -> torch.Tensor:
        """``layer4``'s output for ``(N, 1, S, S)`` images."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(image))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, image: torch.Tensor, log10_close: torch.Tensor) -> torch.Tensor:
        """``image`` (N, 1, S, S) float32 in [-1, 1], ``log10_close`` (N, M) → logits (N, 2)."""
        feature_logits = self.first_hour(log10_close)
        if not self.opposite:
            return self.fc(self.avgpool(self.extract(self.trunk(image))).flatten(1)) + feature_logits
        # the features' logits are (−z/2, +z/2): "up"'s half log-odds is one more channel of the map
        pooled = self.avgpool(self.extract(self.trunk(image), feature_logits[:, 1])).flatten(1)
        up = self.fc(pooled[:, :-1])[:, 0] + pooled[:, -1]
        return torch.stack([-up, up], dim=1)

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.extract

    #: The layers on the image's path, output first (the sanity check randomises them in turn).
    sanity_layers = ("fc", "extract", "layer4", "layer3", "layer2", "layer1", "bn1", "conv1")

    def load_imagenet_weights(self, path: str | Path) -> None:
        """Load torchvision ImageNet weights from a local file (no download) into the image trunk.

        Fits only ``stem="imagenet"`` at ``width=64`` (torchvision's shapes). The RGB first
        convolution is summed over its input channels to take one channel; the 1000-class head is
        dropped (the 2-class head stays as built).

        Raises:
            ValueError: the spec does not take ImageNet weights, or the file is not a state dict of
                this architecture.
        """
        if self.spec.stem != "imagenet" or self.spec.width != 64:
            raise ValueError(
                f"ImageNet weights fit stem='imagenet' at width=64 only, got stem={self.spec.stem!r}, "
                f"width={self.spec.width}: train with --stem imagenet --width 64"
            )
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
            raise ValueError(f"{path}: not a readable plain state dict ({type(error).__name__}: {error})") from error
        if not isinstance(state, dict) or "conv1.weight" not in state:
            raise ValueError(f"{path} is not a torchvision {self.spec.arch} state dict (no conv1.weight)")
        state = {key: value for key, value in state.items() if not key.startswith("fc.")}
        state["conv1.weight"] = state["conv1.weight"].sum(dim=1, keepdim=True)
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.startswith(("fc.", "first_hour.", "extract."))]  # built here
        if unexpected or missing:
            raise ValueError(
                f"{path} does not fit {self.spec.arch}: "
                f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
