"""The CNN-LSTM's other input: which hours of the price sequence mattered, and how much of the
forecast is owed to the chart versus the sequence.

Integrated Gradients (Captum) over both inputs at once, explaining the same quantity as the image
maps — the forecast's change, signed by ``direction`` — from a documented baseline:

* image baseline: all zeros, the encoders' background (a blank candlestick raster; the GADF of a
  flat window);
* sequence baseline: every close equal to the window's last close — a flat window, "no movement";
  the model then sees a relative sequence of zeros.

Completeness makes the split meaningful: image attributions plus sequence attributions add up to
F(input) − F(baseline) (the convergence ``delta`` reports the gap). ``image_share`` is the chart's
part of the total absolute attribution. ``method="saliency"`` gives plain gradients for the
sequence instead (no baseline, no share).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from models.locks import eval_mode, model_lock
from models.tasks import task_of
from xai.prepare import captum_ready

SEQUENCE_METHODS = ("integrated_gradients", "saliency")


@dataclasses.dataclass(frozen=True)
class SequenceAttribution:
    """Attribution of the regressor's forecast to the hours of its sequence (and to its chart).

    Attributes:
        per_hour: (N, W) attribution of each log10 close (oldest first).
        image_total: (N,) sum of the image's attribution (Integrated Gradients only, else NaN).
        sequence_total: (N,) sum of ``per_hour``.
        image_share: (N,) the chart's share of total absolute attribution, in [0, 1] (IG only, else NaN).
        delta: (N,) completeness gap: totals − (F(input) − F(baseline)) (IG only, else NaN).
        method: ``"integrated_gradients"`` or ``"saliency"``.
        direction: +1 (what pushes the forecast up) or −1 (down).
    """

    per_hour: np.ndarray
    image_total: np.ndarray
    sequence_total: np.ndarray
    image_share: np.ndarray
    delta: np.ndarray
    method: str
    direction: int


def sequence_attribution(
    model: nn.Module,
    image: torch.Tensor,
    log10_close: torch.Tensor,
    *,
    method: str = "integrated_gradients",
    direction: int = 1,
    n_steps: int = 32,
) -> SequenceAttribution:
    """Attribute the regressor's forecast change to its sequence (and, with IG, split chart vs sequence).

    Args:
        model: a :class:`~models.architectures.CnnLstmRegressor`.
        image: (N, 1, S, S) model images.
        log10_close: (N, W) the windows' log10 closes.
        method: ``"integrated_gradients"`` (default) or ``"saliency"``.
        direction: +1 explains "pushes the forecast up", −1 "down".
        n_steps: Integrated Gradients' steps along the path.

    Raises:
        ValueError: not the regressor, bad method, direction, steps or shapes.
    """
    if not task_of(model).is_regression:
        raise ValueError(
            "sequence_attribution explains the ticker regressor (CNN-LSTM); the classifier has no sequence"
        )
    if method not in SEQUENCE_METHODS:
        raise ValueError(f"method must be one of {SEQUENCE_METHODS}, got {method!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 2:
        raise ValueError(f"n_steps must be an int >= 2, got {n_steps!r}")
    if image.ndim != 4 or log10_close.ndim != 2 or len(image) != len(log10_close):
        raise ValueError(
            f"image must be (N, 1, S, S) and log10_close (N, W) with the same N, "
            f"got {tuple(image.shape)} and {tuple(log10_close.shape)}"
        )

    n = len(image)
    forward = task_of(model).explained_output(model, n, direction=direction, extra=log10_close).forward
    with model_lock(model):
        captum_ready(model)
        device = next(model.parameters()).device
        image = image.to(device).float()
        closes = log10_close.to(device).float()
        with eval_mode(model, device):
            if method == "saliency":
                gradient = _sequence_saliency(forward, image, closes)
                per_hour = gradient.detach().cpu().numpy()
                nan = np.full(n, np.nan)
                return SequenceAttribution(per_hour, nan, per_hour.sum(1), nan, nan, method, direction)
            baselines = (torch.zeros_like(image), closes[:, -1:].expand_as(closes).contiguous())
            attributions, delta = IntegratedGradients(forward).attribute(
                (image.clone().requires_grad_(True), closes.clone().requires_grad_(True)),
                baselines=baselines,
                target=0,
                n_steps=n_steps,
                return_convergence_delta=True,
            )
    image_attr = attributions[0].detach().flatten(1)
    per_hour = attributions[1].detach()
    image_mass = image_attr.abs().sum(1)
    sequence_mass = per_hour.abs().sum(1)
    total_mass = image_mass + sequence_mass
    share = torch.where(total_mass > 0, image_mass / total_mass.clamp(min=1e-30), torch.zeros_like(total_mass))
    return SequenceAttribution(
        per_hour=per_hour.cpu().numpy(),
        image_total=image_attr.sum(1).cpu().numpy(),
        sequence_total=per_hour.sum(1).cpu().numpy(),
        image_share=share.cpu().numpy(),
        delta=delta.detach().cpu().numpy(),
        method=method,
        direction=direction,
    )


def _sequence_saliency(forward: nn.Module, image: torch.Tensor, closes: torch.Tensor) -> torch.Tensor:
    """Gradient of the explained output with respect to each close, (N, W), via Captum's Saliency."""

    class SequenceFirst(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.forward_model = forward

        def forward(self, sequence: torch.Tensor, chart: torch.Tensor) -> torch.Tensor:
            return self.forward_model(chart, sequence)

    return Saliency(SequenceFirst()).attribute(
        closes.clone().requires_grad_(True), target=0, abs=False, additional_forward_args=(image,)
    )
