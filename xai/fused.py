"""The five maps from one forward pass and three backward passes.

Called one after another, Captum's five classes run six forward and six backward passes
(``GuidedGradCam`` runs Grad-CAM and Guided Backprop again inside). Yet the maps differ only in
the rule applied at each ReLU on the way back:

* **plain** (ordinary autograd): the input gradient is *Saliency*; the gradient and activation at
  the Grad-CAM layer give *Grad-CAM* — one pass serves both;
* **guided**: ``relu(grad_in)`` where ``grad_in = grad_out · [x > 0]`` — *Guided Backprop*
  (Captum's ``GuidedBackprop`` hook returns ``relu(grad_input)``);
* **deconv**: ``relu(grad_out)``, ignoring the forward mask — *DeconvNet* (Captum's
  ``Deconvolution`` hook returns ``relu(grad_output)``);

and *Guided Grad-CAM* is Guided Backprop times the upsampled, ReLU-ed Grad-CAM (done by the
caller). So: one forward pass in which every ``nn.ReLU`` module's output is routed through
:class:`_SwitchableRelu` — the same ``relu`` forward, whose backward applies the rule currently
set — then three ``torch.autograd.grad`` calls on the retained graph, switching the rule between
them. Only ``nn.ReLU`` modules are affected, exactly the modules Captum hooks; the LSTM's gates
and any functional ReLU keep their ordinary gradients in every pass, as with Captum.

Captum stays the reference: ``tests/test_explain.py`` checks every fused map against Captum's own
class to 1e-5 on both shipped models, and ``python -m bench.attribution`` reports the largest
difference next to the speed-up. The hooks live only for the duration of the call (removed in
``finally``), and the caller holds the model's lock.
"""

from __future__ import annotations

import time
from collections.abc import Set
from typing import NamedTuple

import torch
from torch import nn

#: The rule applied at each ReLU in the backward pass of each map family.
BACKWARD_RULES = ("plain", "guided", "deconv")


class _RuleState:
    """The backward rule the ReLUs of one fused call apply now (one object per call)."""

    def __init__(self) -> None:
        self.rule = "plain"


class _SwitchableRelu(torch.autograd.Function):
    """``relu(x)`` whose backward follows ``state.rule`` (``plain``, ``guided`` or ``deconv``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, state: _RuleState) -> torch.Tensor:
        ctx.state = state
        positive = x > 0
        ctx.save_for_backward(positive)
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        (positive,) = ctx.saved_tensors
        rule = ctx.state.rule
        if rule == "deconv":
            return grad_output.clamp(min=0), None
        grad_input = grad_output * positive
        return (grad_input.clamp(min=0) if rule == "guided" else grad_input), None


class FusedPasses(NamedTuple):
    """What :func:`fused_passes` computed.

    Attributes:
        maps: pass key → (value, seconds) (see :func:`fused_passes`).
        target: the explained class per input, or the wrapper's output column.
        output: (N, K) the explained forward's output of this very pass (times ``signs`` when
            given), detached: what the model said, with no other forward pass.
        signs: (N,) ±1 the direction explained per input when ``follows_sign``, else ``None``.
    """

    maps: dict[str, tuple[torch.Tensor, float]]
    target: int | torch.Tensor
    output: torch.Tensor
    signs: torch.Tensor | None


def fused_passes(
    forward: nn.Module,
    layer: nn.Module | None,
    image: torch.Tensor,
    target: int | torch.Tensor | None,
    extra: torch.Tensor | None,
    needs: Set[str],
    *,
    follows_sign: bool = False,
) -> FusedPasses:
    """Compute the passes ``needs`` asks for; return the maps, the target, and the forward's output.

    Keys (as the Captum path's): ``"gradcam_layer"`` — signed Grad-CAM at ``layer``, (N, 1, h, w);
    ``"saliency"``, ``"guided_backprop"``, ``"deconvolution"`` — (N, 1, S, S) input gradients under
    the plain, guided and deconv rules. ``needs`` holds method keys; Guided Grad-CAM needs the
    Grad-CAM and guided passes. Seconds: each pass's backward, plus the forward pass split equally
    among the passes that share it.

    Args:
        forward: the model (or the regressor's direction wrapper), in eval mode, Captum-ready.
        layer: the Grad-CAM layer (needed when Grad-CAM or Guided Grad-CAM is asked for).
        image: (N, 1, S, S) float32 with ``requires_grad``.
        target: (N,) class per input; ``None`` for the predicted class (the argmax of this very
            forward pass, so no extra pass); or ``0`` for the wrapper's single output.
        extra: the regressor's (N, W) log10 closes, or ``None``.
        needs: method keys.
        follows_sign: explain each input's selected output times its own sign (+1 where it is ≥ 0,
            else −1), decided from this forward pass before the backward passes — the regressor's
            "the way the forecast goes" (:attr:`models.tasks.ExplainedOutput.follows_forecast`).
    """
    passes = _passes_needed(needs)
    state = _RuleState()
    captured: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(lambda _m, inputs, _out: _SwitchableRelu.apply(inputs[0], state))
        for module in forward.modules()
        if isinstance(module, nn.ReLU)
    ]
    if "gradcam_layer" in passes:
        handles.append(layer.register_forward_hook(lambda _m, _in, out: captured.__setitem__("layer", out)))
    try:
        started = time.perf_counter()
        output = forward(image, extra) if extra is not None else forward(image)
        if target is None:
            target = output.detach().argmax(dim=1)
        signs = None
        if follows_sign:  # a product by ±1 at the end: the very numbers of the wrapper of that direction
            signs = torch.where(_selected(output, target).detach() >= 0, 1.0, -1.0).to(output.dtype)
            output = output * signs[:, None]
        score = _selected(output, target).sum()
        forward_share = (time.perf_counter() - started) / len(passes)
    finally:
        for handle in handles:
            handle.remove()

    results: dict[str, tuple[torch.Tensor, float]] = {}
    backward_calls = [
        (rule, [key for key in keys if key in passes])
        for rule, keys in (
            ("plain", ("saliency", "gradcam_layer")),
            ("guided", ("guided_backprop",)),
            ("deconv", ("deconvolution",)),
        )
    ]
    backward_calls = [(rule, keys) for rule, keys in backward_calls if keys]
    for position, (rule, keys) in enumerate(backward_calls):
        state.rule = rule
        started = time.perf_counter()
        wrt = [captured["layer"] if key == "gradcam_layer" else image for key in keys]
        grads = torch.autograd.grad(score, wrt, retain_graph=position < len(backward_calls) - 1)
        seconds = (time.perf_counter() - started) / len(keys) + forward_share
        for key, grad in zip(keys, grads, strict=True):
            results[key] = (_finish(key, grad, captured).detach(), seconds)
    return FusedPasses(results, target, output.detach(), signs)


def _passes_needed(needs: Set[str]) -> set[str]:
    passes = set(needs) & {"saliency", "guided_backprop", "deconvolution"}
    if needs & {"gradcam", "guided_gradcam"}:
        passes.add("gradcam_layer")
    if "guided_gradcam" in needs:
        passes.add("guided_backprop")
    return passes


def _selected(output: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """(N,) the explained output per input, as Captum selects it."""
    if isinstance(target, torch.Tensor):
        return output.gather(1, target.reshape(-1, 1)).squeeze(1)
    return output[:, target]


def _finish(key: str, grad: torch.Tensor, captured: dict[str, torch.Tensor]) -> torch.Tensor:
    if key != "gradcam_layer":
        return grad
    # Captum's LayerGradCam: channel weights = spatial mean of the gradient; signed map.
    weights = grad.mean(dim=tuple(range(2, grad.ndim)), keepdim=True)
    return (weights * captured["layer"]).sum(dim=1, keepdim=True)
