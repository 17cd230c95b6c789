"""What every faithfulness score shares: argument checks, and the score the maps explain.

The score, one definition (:func:`target_score`): the model's task decides it
(:meth:`models.tasks.base.Task.score`) — the softmax probability of the target class for a
classifier, the signed predicted change for the regressor — read from the output the task's
:meth:`~models.tasks.base.Task.explained_output` returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from data.checks import check_int
from models.locks import eval_mode, model_lock
from models.tasks import task_of

#: Images per forward pass: thousands of perturbed copies never sit in one batch.
BATCH_SIZE = 64

Target = int | np.ndarray | torch.Tensor | list[int] | tuple[int, ...] | None


def _validate_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


def _validate_image(image: Any) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor (N, 1, S, S), got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 1 or image.shape[2] != image.shape[3] or image.shape[0] < 1:
        raise ValueError(f"image must have shape (N, 1, S, S) with N >= 1, got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"image must hold floats, got dtype {image.dtype}")
    return image.detach()


def _validate_attribution(attribution: Any, shape: torch.Size) -> np.ndarray:
    """Return ``attribution`` as ``(N, 1, S, S) float64`` NumPy."""
    if isinstance(attribution, torch.Tensor):
        attribution = attribution.detach().cpu().numpy()
    array = np.asarray(attribution)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"attribution must be an array of real numbers, got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"attribution must have the image's shape {tuple(shape)}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("attribution must be finite, got NaN or inf")
    return array.astype(np.float64, copy=False)


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _validate_model_args(
    model: nn.Module, image: torch.Tensor, target: Target, extra: Any, direction: Any
) -> tuple[torch.Tensor | None, int]:
    """Check the arguments that depend on the model's task; return the closes (or None) and the direction.

    The task checks them (:meth:`~models.tasks.base.Task.explained_output`), as it does for the engine.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    explained = task_of(model).explained_output(model, len(image), target=target, direction=direction, extra=extra)
    return (None if extra is None else extra.detach()), (explained.direction or 1)


# --- the score explained -----------------------------------------------------


def _scores(
    model: nn.Module,
    image: torch.Tensor,
    target: Target,
    extra: torch.Tensor | None,
    direction: int,
    batch_size: int = BATCH_SIZE,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Target scores ``(N,)`` and the class targets used ``(N,)`` (``None`` for the regressor).

    Arguments already validated; forward passes in chunks of ``batch_size`` under the model's lock.
    """
    task = task_of(model)
    forward = task.explained_output(model, len(image), direction=direction, extra=extra).forward
    outputs = []
    with model_lock(model):
        device = _device(model)
        with eval_mode(model, device), torch.no_grad():
            for start in range(0, len(image), batch_size):
                chunk = image[start : start + batch_size].to(device)
                args = (chunk,) if extra is None else (chunk, extra[start : start + batch_size].to(device))
                outputs.append(forward(*args).float().cpu())
    return task.score(torch.cat(outputs), target)


def target_score(
    model: nn.Module,
    image: torch.Tensor,
    *,
    target: Target = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    batch_size: int = BATCH_SIZE,
) -> torch.Tensor:
    """The score the maps explain, per input, under ``torch.no_grad`` in eval mode.

    Args:
        model: a model of a task (:func:`models.tasks.task_of`): the classifier (``(N, C)`` logits;
            also any module without a task) or the CNN-LSTM regressor.
        image: ``(N, 1, S, S)`` float images (moved to the model's device in chunks).
        target: classifier only — class per input (int or ``(N,)``); default: the class the model
            predicts for each ``image``.
        additional_forward_args: regressor only — ``(N, W)`` log10 closes.
        direction: regressor only — ``+1`` scores "the forecast goes up", ``-1`` "down".
        batch_size: images per forward pass.

    Returns:
        ``(N,) float32`` CPU tensor: the softmax probability of the target class (classifier), or
        :class:`~models.tasks.ForecastDirection`'s signed predicted change (regressor; read from
        its head, without float32 rounding through the price level — :mod:`xai.faithfulness`).

    Raises:
        TypeError, ValueError: bad image, arguments that do not fit the model, a bad target.
    """
    image = _validate_image(image)
    batch_size = check_int(batch_size, "batch_size", 1)
    extra, direction = _validate_model_args(model, image, target, additional_forward_args, direction)
    return _scores(model, image, target, extra, direction, batch_size)[0]
