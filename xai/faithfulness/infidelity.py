"""Captum's ``infidelity`` (Yeh et al., 2019): how well a map, read as a local linear model,
predicts the output's change under Gaussian noise (lower is better)."""

from __future__ import annotations

import numpy as np
import torch
from captum.metrics import infidelity
from torch import nn

from data.checks import check_int
from models.locks import eval_mode, model_lock
from models.tasks import task_of
from xai.faithfulness.common import (
    BATCH_SIZE,
    Target,
    _device,
    _scores,
    _validate_attribution,
    _validate_image,
    _validate_model_args,
    _validate_positive,
)

#: Infidelity's default noise: 1 % of the images' [-1, 1] range, a local question. Measured on 16
#: test days of the shipped classifier (infidelity share, 0 = the map predicts every output change,
#: 1 = none): at 0.02 Saliency 0.31, the other four 0.94–0.95; at 0.1 all five 0.87–0.95 (the
#: score no longer tells the maps apart); at 0.005 Saliency 0.08.
INFIDELITY_NOISE_STD = 0.02


def _explained_output(
    model: nn.Module, image: torch.Tensor, target: Target, extra: torch.Tensor | None, direction: int
) -> tuple[nn.Module, int | torch.Tensor]:
    """The output the maps were computed from, and Captum's ``target`` on it.

    Classifier: the model's logits and the class per input (default: predicted). Regressor: its
    signed change (:class:`~models.tasks.ForecastDirection`'s value) and output 0.
    """
    classes = _scores(model, image, target, extra, direction)[1]  # fixed once, on the original input
    explained = task_of(model).explained_output(model, len(image), target=classes, direction=direction, extra=extra)
    return explained.forward, explained.target


def _samples_per_batch(n_inputs: int, n_samples: int, batch_size: int = BATCH_SIZE) -> int:
    """Captum's ``max_examples_per_batch``: whole copies of the batch, between N and N·n_samples."""
    return n_inputs * max(1, min(n_samples, batch_size // n_inputs))


def infidelity_score(
    model: nn.Module,
    image: torch.Tensor,
    attribution: np.ndarray | torch.Tensor,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    n_perturb_samples: int = 16,
    noise_std: float = INFIDELITY_NOISE_STD,
    seed: int = 0,
) -> np.ndarray:
    """Captum's normalised infidelity of a map, per input.

    ``E_I[(β · Iᵀφ − (f(x) − f(x − I)))²]`` over Gaussian perturbations ``I ~ N(0, noise_std²)``
    per pixel (perturbed input ``x − I``, Captum's convention for local maps such as saliency),
    with Captum's ``normalize=True``: ``β`` is the best scalar for each input, so maps in
    different units compare. ``f`` is the output the maps explain (the target class's logit, or
    the regressor's signed change; module docstring). A map equal to the gradient of a linear
    ``f`` scores 0.

    Args:
        model, image, target, additional_forward_args, direction: as for :func:`target_score`.
        attribution: ``(N, 1, S, S)`` the map of ``image``.
        n_perturb_samples: ``>= 1`` perturbations per input.
        noise_std: ``> 0`` the noise's standard deviation (images lie in ``[-1, 1]``); default
            :data:`INFIDELITY_NOISE_STD`.
        seed: seeds the noise (a private generator; the global RNG is untouched).

    Returns:
        ``(N,) float64``, in squared output units (lower is better).
    """
    image = _validate_image(image)
    maps = torch.from_numpy(_validate_attribution(attribution, image.shape)).to(image.dtype)
    n_samples = check_int(n_perturb_samples, "n_perturb_samples", 1)
    noise_std = _validate_positive(noise_std, "noise_std")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    forward, captum_target = _explained_output(model, image, target, extra, direction)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype).to(inputs.device) * noise_std
        return noise, inputs - noise

    with model_lock(model):
        device = _device(model)
        if isinstance(captum_target, torch.Tensor):
            captum_target = captum_target.to(device)
        with eval_mode(model, device):
            values = infidelity(
                forward,
                perturb,
                image.to(device),
                maps.to(device),
                additional_forward_args=None if extra is None else extra.to(device),
                target=captum_target,
                n_perturb_samples=n_samples,
                max_examples_per_batch=_samples_per_batch(len(image), n_samples),
                normalize=True,
            )
    return values.detach().double().cpu().numpy()
