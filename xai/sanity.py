"""The model-randomisation sanity check (Adebayo et al., 2018, "Sanity Checks for Saliency Maps").

Re-initialise the model's layers cumulatively from the output down and recompute each map; a
method that explains the model must change when the model's weights are destroyed. The figure is
the Spearman rank correlation between the original map and each randomised one (absolute values,
per input, averaged over the batch). Guided Backprop, DeconvNet and Guided Grad-CAM are known to
change little — they partly show the input, not the model — and the dashboard says so with the
figure measured here.

The check works on a deep copy: the shared model is never touched. Each randomised model explains
the *original* target (the class the original model predicted, or the same direction), so the
maps answer the same question.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from models.random_draws import drawing_from, seeded_generator
from models.tasks import task_of
from xai.explain import explain, model_lock
from xai.methods import ALL_METHODS, METHODS

#: A method whose map keeps, on average over the cascade, at least this rank correlation with
#: the original "barely changes": the UI warns that it is not explaining the model. (Measured on
#: the shipped classifier: Guided Backprop 0.74, DeconvNet 0.60; Saliency 0.28, Guided Grad-CAM
#: 0.34, Grad-CAM below 0 — Guided Backprop keeps 0.97 with the output layer and the last stage
#: destroyed.)
UNCHANGED_CORRELATION = 0.5


@dataclasses.dataclass(frozen=True)
class SanityResult:
    """Rank correlations between original and randomised maps.

    Attributes:
        layers: names of the layer groups, in the order they were randomised (output first);
            entry k of each correlation has layers[0..k] randomised.
        correlation: method key → (L,) mean Spearman correlation over the batch (NaN where a
            map is constant, e.g. an all-zero Grad-CAM).
        barely_changes: method key → True when the mean correlation over the cascade is at
            least :data:`UNCHANGED_CORRELATION`.
    """

    layers: tuple[str, ...]
    correlation: dict[str, np.ndarray]
    barely_changes: dict[str, bool]

    def as_frame(self) -> pd.DataFrame:
        """One row per method (display label), one column per cascade step (``"+ fc"``, …) and ``"mean"``."""
        rows = {METHODS[key].label: values for key, values in self.correlation.items()}
        table = pd.DataFrame(rows, index=[f"+ {name}" for name in self.layers]).T
        table["mean"] = [_cascade_mean(values) for values in self.correlation.values()]
        return table


def _cascade_mean(values: np.ndarray) -> float:
    """Mean over the cascade ignoring NaN (constant maps); NaN when every step is NaN."""
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def randomisation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Layer groups from the output to the input, on the image's path to the output.

    A model that names them in ``sanity_layers`` gets those — the ResNet classifier:
    ``fc, layer4, layer3, layer2, layer1, bn1, conv1``; the CNN-LSTM: ``image_head, extract,
    trunk, stem`` (its first-hour features, LSTM and autoregression do not touch an image
    gradient, so randomising them would change no map). Any other model: its direct children
    that hold parameters, last defined first (a model wrapped as ``model.net`` is read through it).
    """
    names = getattr(model, "sanity_layers", None)
    if names is not None:
        return [(name, getattr(model, name)) for name in names]
    root = model.net if hasattr(model, "net") else model
    children = [(name, child) for name, child in root.named_children() if any(True for _ in child.parameters())]
    return children[::-1]


def _reinitialise(module: nn.Module) -> None:
    for sub in module.modules():
        if hasattr(sub, "reset_parameters"):
            sub.reset_parameters()
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.reset_running_stats()


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two equal-size arrays (SciPy; average ranks for ties); NaN if one is constant."""
    a, b = np.ravel(first), np.ravel(second)
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # SciPy would warn and give NaN
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def model_randomisation(
    model: nn.Module,
    image: torch.Tensor,
    *,
    methods: Sequence[str] = ALL_METHODS,
    target: int | Sequence[int] | None = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int = 1,
    seed: int = 0,
) -> SanityResult:
    """Run the cascading randomisation check for ``methods`` on a batch.

    Args:
        model: either model (copied; the original is not modified).
        image: (N, 1, S, S) model images.
        methods: method keys to check.
        target, additional_forward_args, direction: as for :func:`xai.explain.explain`.
        seed: seeds the re-initialisation, drawn from a generator of this call's own (torch's global
            generator is neither used nor moved: the result is the same whatever other threads draw).
    """
    original = explain(
        model,
        image,
        methods=methods,
        target=target,
        additional_forward_args=additional_forward_args,
        direction=direction,
    )
    fixed_target = None if task_of(model).is_regression else original.target  # the original's class
    with model_lock(model):  # never copy another session's temporary hooks along with the model
        randomised = copy.deepcopy(model)
    generator = seeded_generator(seed)  # the run's own: other sessions' draws neither shift nor see it
    names, correlations = [], {key: [] for key in methods}
    for name, layer in randomisation_layers(randomised):
        with drawing_from(generator):
            _reinitialise(layer)
        names.append(name)
        again = explain(
            randomised,
            image,
            methods=methods,
            target=fixed_target,
            additional_forward_args=additional_forward_args,
            direction=direction,
        )
        for key in methods:
            before = np.abs(original.maps[key].attribution)
            after = np.abs(again.maps[key].attribution)
            per_input = [spearman(b, a) for b, a in zip(before, after, strict=True)]
            correlations[key].append(np.nan if np.isnan(per_input).all() else float(np.nanmean(per_input)))
    table = {key: np.asarray(values) for key, values in correlations.items()}
    return SanityResult(
        layers=tuple(names),
        correlation=table,
        barely_changes={key: bool(_cascade_mean(values) >= UNCHANGED_CORRELATION) for key, values in table.items()},
    )
