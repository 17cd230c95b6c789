"""Captum's ``sensitivity_max``: how much a map itself changes when the input moves a little
(lower is more stable)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from captum.metrics import sensitivity_max
from torch import nn

from data.checks import check_int
from xai.explain import GradCamOptions, explain
from xai.faithfulness.common import Target, _scores, _validate_image, _validate_model_args, _validate_positive
from xai.faithfulness.infidelity import _samples_per_batch
from xai.methods import ALL_METHODS, METHODS


def sensitivity_score(
    model: nn.Module,
    image: torch.Tensor,
    method: str,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    perturb_radius: float = 0.02,
    n_perturb_samples: int = 8,
    seed: int = 0,
    gradcam: GradCamOptions | None = None,
) -> np.ndarray:
    """Captum's max-sensitivity of one method, per input.

    The largest ``‖φ(x + ε) − φ(x)‖ / ‖φ(x)‖`` (Frobenius norms; ``‖φ(x)‖ = 0`` counts as 1) over
    ``n_perturb_samples`` uniform perturbations ``ε ∈ [−perturb_radius, perturb_radius]`` per pixel,
    where ``φ`` is :func:`~xai.explain.explain` of ``method`` with the target fixed to the original
    input's (class, or direction) and the regressor's closes kept per input.

    Args:
        model, image, target, additional_forward_args, direction: as for :func:`target_score`.
        method: a key of :data:`~xai.methods.METHODS`.
        perturb_radius: ``> 0`` half-width of the uniform noise.
        n_perturb_samples: ``>= 1`` perturbations per input.
        seed: seeds the noise (a private generator).
        gradcam: Grad-CAM options, as the maps being scored were made.

    Returns:
        ``(N,) float64`` (0: the map does not move; lower is more stable).
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {ALL_METHODS}, got {method!r}")
    image = _validate_image(image)
    radius = _validate_positive(perturb_radius, "perturb_radius")
    n_samples = check_int(n_perturb_samples, "n_perturb_samples", 1)
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    kwargs: dict[str, Any] = {}
    if extra is None:
        kwargs["target"] = _scores(model, image, target, None, direction)[1]
    else:
        kwargs["additional_forward_args"] = extra

    def perturb(inputs: torch.Tensor) -> torch.Tensor:
        noise = (torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype) * 2 - 1) * radius
        return inputs + noise.to(inputs.device)

    def explanation(inputs: Any, target: Any = None, additional_forward_args: Any = None) -> tuple[torch.Tensor]:
        images = inputs[0] if isinstance(inputs, tuple) else inputs
        closes = additional_forward_args
        closes = closes[0] if isinstance(closes, tuple) else closes
        with torch.enable_grad():  # Captum calls this under no_grad
            result = explain(
                model,
                images,
                methods=[method],
                target=target,
                additional_forward_args=closes,
                direction=direction,
                gradcam=gradcam,
            )
        # a tuple: Captum iterates over the original explanation as a tuple of tensors
        return (torch.from_numpy(result.maps[method].attribution),)

    values = sensitivity_max(
        explanation,
        image,
        perturb_func=perturb,
        n_perturb_samples=n_samples,
        max_examples_per_batch=_samples_per_batch(len(image), n_samples),
        **kwargs,
    )
    return values.detach().double().cpu().numpy()
