"""One entry point for the five attribution maps, computed with Captum.

``explain(model, image, methods=...)`` returns, for each method, the raw
attribution in the image's shape, Grad-CAM's map at its layer's resolution,
and the seconds the method added. It works for both models:

* the ResNet classifier — target: a class, by default the predicted one;
* the CNN-LSTM regressor — target: its one output, explained as "what pushes
  the forecast up" (``direction=+1``) or "down" (``direction=-1``); the LSTM's
  closes go through ``additional_forward_args``, so the image maps explain the
  whole model, sequence included.

Choices made explicit (and shown in the UI): Grad-CAM keeps only positive
evidence (``relu=True``, as in the Grad-CAM paper; Captum's default is signed)
and is upsampled ``"bilinear"`` (the Grad-CAM paper; Captum's GuidedGradCam
default is ``"nearest"``). The Grad-CAM layer defaults to the model's
``gradcam_layer`` (ResNet ``layer4``, the CNN-LSTM's extract layer).

No wasted passes: by default (``engine="fused"``, :mod:`xai.fused`) the five maps
come from one forward pass and three backward passes — plain (Saliency and
Grad-CAM), guided and deconv rules at the ReLUs — and Guided Grad-CAM is Guided
Backprop times the upsampled, ReLU-ed Grad-CAM, exactly what Captum's
``GuidedGradCam`` computes. ``engine="captum"`` calls Captum's classes instead
(each needed pass once); every fused map is tested equal to its Captum class
to 1e-5. Batches go through in one call.

Safe when shared: guided methods register hooks on the model while they run;
one lock per model serialises explanations of a shared (``st.cache_resource``)
model, so concurrent sessions get exactly what they would get alone. Captum
releases its hooks in ``finally``; the model is never switched to train mode.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from captum.attr import GuidedBackprop, LayerAttribution
from torch import nn

from models.locks import eval_mode, model_lock
from models.tasks import task_of
from xai.fused import FusedPasses, fused_passes
from xai.methods import ALL_METHODS, METHODS
from xai.prepare import captum_ready

UPSAMPLE_MODES = ("bilinear", "nearest")
#: ``"fused"``: one forward and three backward passes for all five maps (:mod:`xai.fused`);
#: ``"captum"``: Captum's classes called one by one (the reference the fused path is tested against).
ENGINES = ("fused", "captum")
#: Captum announces every guided/deconv call with this warning; expected here (its hooks are
#: released in its own ``finally``), so it is silenced around Captum's passes only.
CAPTUM_HOOK_WARNING = "Setting backward hooks on ReLU activations"


@dataclasses.dataclass(frozen=True)
class GradCamOptions:
    """How Grad-CAM (and Guided Grad-CAM) are computed.

    Attributes:
        layer: the target layer (default: the model's ``gradcam_layer``).
        relu: keep only positive evidence (the Grad-CAM paper) or show signed maps.
        upsample: ``"bilinear"`` (the Grad-CAM paper) or ``"nearest"`` (Captum's GuidedGradCam default).
    """

    layer: nn.Module | None = None
    relu: bool = True
    upsample: str = "bilinear"

    def __post_init__(self) -> None:
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {self.upsample!r}")


@dataclasses.dataclass(frozen=True)
class Explanation:
    """One method's map for a batch.

    Attributes:
        method: key in :data:`~xai.methods.METHODS`.
        label: display name, as the field writes it (Captum's class name is in :data:`~xai.methods.METHODS`).
        attribution: (N, 1, S, S) float32 in the image's shape (Grad-CAM upsampled).
        layer_map: (N, 1, h, w) float32 Grad-CAM at its layer's resolution (Grad-CAM only).
        seconds: wall time this method added (a reused product costs only the product).
    """

    method: str
    label: str
    attribution: np.ndarray
    layer_map: np.ndarray | None
    seconds: float


@dataclasses.dataclass(frozen=True)
class ExplanationSet:
    """All requested maps for one batch, and what they explain.

    Attributes:
        maps: method key → :class:`Explanation`, in the order requested.
        target: (N,) the class explained per input (classifier), or the direction (+1/-1) for
            the regressor, repeated per input.
        target_kind: what ``target`` holds, the model's task's ``target_kind``: ``"class"`` or
            ``"direction"``.
        gradcam: the options used.
        output: (N, K) float32 what the explained forward returned in the engine's own forward
            pass — the classifier's logits, or the regressor's signed change ``target · change``
            (thousandths of log10) — so a page reads the prediction from it
            (:meth:`models.tasks.Task.prediction_from_output`) without another pass; ``None``
            where the set was rebuilt from stored maps.
    """

    maps: dict[str, Explanation]
    target: np.ndarray
    target_kind: str
    gradcam: GradCamOptions
    output: np.ndarray | None = None


def explain(
    model: nn.Module,
    image: torch.Tensor,
    *,
    methods: Sequence[str] = ALL_METHODS,
    target: int | Sequence[int] | torch.Tensor | None = None,
    additional_forward_args: torch.Tensor | None = None,
    direction: int | None = 1,
    gradcam: GradCamOptions | None = None,
    engine: str = "fused",
) -> ExplanationSet:
    """Compute the requested attribution maps for a batch.

    Args:
        model: a :class:`~models.architectures.ResNetClassifier` or
            :class:`~models.architectures.CnnLstmRegressor` (made Captum-ready here, once).
        image: (N, 1, S, S) float32 model images.
        methods: keys of :data:`~xai.methods.METHODS`, in the order to return them.
        target: classifier only — class per input (int or (N,)), each 0 (down) or 1 (up); default: the
            predicted class.
        additional_forward_args: regressor only — (N, W) log10 closes.
        direction: regressor only — +1 explains "pushes the forecast up", −1 "down"; ``None``: the
            way each forecast goes (+1 where the predicted change is ≥ 0, read from the engine's
            own forward pass; ``target`` then holds the direction used per input).
        gradcam: Grad-CAM options (layer, ReLU, upsampling).
        engine: ``"fused"`` (default: one forward, three backward passes; equal to Captum's
            classes to 1e-5) or ``"captum"`` (Captum's classes one by one).

    Raises:
        ValueError: unknown method, bad shapes, or arguments that do not fit the model.
    """
    options = gradcam or GradCamOptions()
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty list of {ALL_METHODS}, got {list(methods)!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 1:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a (N, 1, S, S) tensor, got {shape}")
    task = task_of(model)
    explained = task.explained_output(
        model, len(image), target=target, direction=direction, extra=additional_forward_args
    )  # the arguments checked once, by the task

    with model_lock(model):
        captum_ready(model)
        device = next(model.parameters()).device
        image = image.to(device).detach().clone().requires_grad_(True)
        extra = additional_forward_args.to(device) if additional_forward_args is not None else None
        layer = options.layer
        if layer is None and {"gradcam", "guided_gradcam"} & set(methods):
            layer = model.gradcam_layer  # only the Grad-CAM methods need a layer
        captum_target = explained.target  # None: the predicted class, read from the passes' own forward
        if isinstance(captum_target, torch.Tensor):
            captum_target = captum_target.to(device)
        with eval_mode(model, device):
            passes = fused_passes if engine == "fused" else _captum_passes
            done = passes(
                explained.forward,
                layer,
                image,
                captum_target,
                extra,
                set(methods),
                follows_sign=explained.follows_forecast,
            )
            maps = _assemble(done.maps, tuple(image.shape[2:]), methods, options)
    if done.signs is not None:
        fixed = done.signs.cpu().numpy().astype(np.int64)
    elif explained.direction is None:
        fixed = done.target.cpu().numpy()
    else:
        fixed = np.full(len(image), explained.direction)
    return ExplanationSet(
        maps=maps,
        target=fixed,
        target_kind=task.target_kind,
        gradcam=options,
        output=done.output.float().cpu().numpy(),
    )


def _captum_passes(
    forward: nn.Module,
    layer: nn.Module | None,
    image: torch.Tensor,
    target: int | torch.Tensor | None,
    extra: torch.Tensor | None,
    needs: set[str],
    *,
    follows_sign: bool = False,
) -> FusedPasses:
    """Captum's classes, each needed pass once (as :func:`xai.fused.fused_passes`, the same keys and
    result); the output comes from a forward pass of its own (this path is the reference, not the fast one)."""
    computed: dict[str, tuple[torch.Tensor, float]] = {}
    with torch.no_grad():
        output = forward(image, *([] if extra is None else [extra]))
    if target is None:
        target = output.argmax(dim=1)
    signs = None
    if follows_sign:
        signs = torch.where(output[:, target] >= 0, 1.0, -1.0).to(output.dtype)
        forward, output = _Signed(forward, signs), output * signs[:, None]

    def run(key: str, work) -> None:
        started = time.perf_counter()
        with warnings.catch_warnings():  # Captum's guided/deconv classes announce their hooks: expected
            warnings.filterwarnings("ignore", message=CAPTUM_HOOK_WARNING, category=UserWarning)
            value = work()
        computed[key] = (value.detach(), time.perf_counter() - started)

    if needs & {"gradcam", "guided_gradcam"}:
        layer_gradcam = METHODS["gradcam"].captum_class(forward, layer)
        run(
            "gradcam_layer",
            lambda: layer_gradcam.attribute(
                image, target=target, additional_forward_args=extra, relu_attributions=False
            ),
        )
    if needs & {"guided_backprop", "guided_gradcam"}:
        guided = GuidedBackprop(forward)
        run("guided_backprop", lambda: guided.attribute(image, target=target, additional_forward_args=extra))
    for key in ("saliency", "deconvolution"):
        if key in needs:
            method = METHODS[key].captum_class(forward)
            kwargs = {"abs": False} if key == "saliency" else {}
            run(key, lambda m=method, k=kwargs: m.attribute(image, target=target, additional_forward_args=extra, **k))
    return FusedPasses(computed, target, output, signs)


class _Signed(nn.Module):
    """``forward``'s output times a sign per input (Captum's path of ``follows_sign``)."""

    def __init__(self, forward: nn.Module, signs: torch.Tensor) -> None:
        super().__init__()
        self.forward_module = forward
        self.signs = signs

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.forward_module(*inputs) * self.signs[:, None]


def _assemble(
    computed: dict[str, tuple[torch.Tensor, float]],
    size: tuple[int, ...],
    methods: Sequence[str],
    options: GradCamOptions,
) -> dict[str, Explanation]:
    """The requested maps from the passes; Guided Grad-CAM from the Grad-CAM and guided passes."""
    results: dict[str, Explanation] = {}
    for key in methods:
        layer_map = None
        if key == "gradcam":
            signed, seconds = computed["gradcam_layer"]
            layer_map = signed.clamp(min=0) if options.relu else signed
            attribution = LayerAttribution.interpolate(layer_map, size, interpolate_mode=options.upsample)
        elif key == "guided_gradcam":
            signed, gradcam_seconds = computed["gradcam_layer"]
            guided, guided_seconds = computed["guided_backprop"]
            started = time.perf_counter()
            upsampled = LayerAttribution.interpolate(signed.clamp(min=0), size, interpolate_mode=options.upsample)
            attribution = guided * upsampled
            seconds = time.perf_counter() - started
            seconds += 0.0 if "gradcam" in methods else gradcam_seconds
            seconds += 0.0 if "guided_backprop" in methods else guided_seconds
        else:
            attribution, seconds = computed[key]
        results[key] = Explanation(
            method=key,
            label=METHODS[key].label,
            attribution=attribution.detach().float().cpu().numpy(),
            layer_map=None if layer_map is None else layer_map.detach().float().cpu().numpy(),
            seconds=seconds,
        )
    return results
