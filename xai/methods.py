"""The five attribution methods: one registry, with the names the field writes.

Pages list methods from :data:`METHODS`, never from strings of their own. Each
entry says what the map means and how far to trust it, in words a student can
follow (teaching mode shows them).
"""

from __future__ import annotations

import dataclasses

from captum.attr import (
    Deconvolution,
    FeatureAblation,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerGradCam,
    Saliency,
)


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """One attribution method.

    Attributes:
        key: stable identifier used in code, URLs and files.
        name: the name the field writes ("Grad-CAM", "Vanilla gradient (saliency)"…), shown to users.
        captum_class: the Captum class that defines the method (and computes it, or checks
            the fused computation).
        signed: whether the map has a meaningful sign (positive pushes the target up).
        how_to_read: a short explanation for the teaching mode.
    """

    key: str
    name: str
    captum_class: type
    signed: bool
    how_to_read: str

    @property
    def label(self) -> str:
        """Display name, as the field writes it (e.g. "Guided Grad-CAM")."""
        return self.name

    @property
    def captum_name(self) -> str:
        """Captum's name of the class (e.g. "Guided Grad Cam"), kept in exported metadata."""
        return self.captum_class.get_name()


METHODS: dict[str, MethodInfo] = {
    info.key: info
    for info in (
        MethodInfo(
            "gradcam",
            "Grad-CAM",
            LayerGradCam,
            signed=True,
            how_to_read=(
                "Where the chosen layer's features pushed the answer: the layer's activations weighted by "
                "their average gradient, then upsampled to the image. Coarse (one cell per feature-map pixel) "
                "but tied to the model: randomising the model's weights changes it."
            ),
        ),
        MethodInfo(
            "saliency",
            "Vanilla gradient (saliency)",
            Saliency,
            signed=True,
            how_to_read=(
                "Vanilla gradients: how much a tiny change of each pixel would move the answer. Fine-grained "
                "and noisy; shows sensitivity, not necessarily what the model used."
            ),
        ),
        MethodInfo(
            "deconvolution",
            "DeconvNet",
            Deconvolution,
            signed=True,
            how_to_read=(
                "DeconvNet: gradients passed back through ReLUs only where they are positive. Sharp maps that "
                "often look like edges of the input itself — check the sanity score before trusting them."
            ),
        ),
        MethodInfo(
            "guided_backprop",
            "Guided Backprop",
            GuidedBackprop,
            signed=True,
            how_to_read=(
                "Guided backpropagation: gradients kept only where both the activation and the gradient are "
                "positive. Crisp, but known to change little when the model is randomised (Adebayo et al., "
                "2018): it partly shows the input, not the model."
            ),
        ),
        MethodInfo(
            "guided_gradcam",
            "Guided Grad-CAM",
            GuidedGradCam,
            signed=True,
            how_to_read=(
                "Guided Grad-CAM: guided backpropagation multiplied by the (ReLU-ed) Grad-CAM map — sharp "
                "detail where Grad-CAM says the layer looked. Inherits guided backpropagation's weakness."
            ),
        ),
    )
}
ALL_METHODS: tuple[str, ...] = tuple(METHODS)

#: Optional maps computed outside the fused engine, in price space (:mod:`xai.price_space`).
PRICE_SPACE_METHODS: dict[str, MethodInfo] = {
    "occlusion": MethodInfo(
        "occlusion",
        "Occlusion in time",
        FeatureAblation,
        signed=True,
        how_to_read=(
            "Occlusion in time: each bar (or minute) removed in price space — replaced by the straight line "
            "through its neighbours, the chart drawn again — and the change of the model's answer measured. "
            "Red bars held the answer up; blue ones worked against it. Not a gradient: the model's own "
            "behaviour when that bar had not happened, one forward pass per bar."
        ),
    ),
    "integrated_flat": MethodInfo(
        "integrated_flat",
        "Integrated Gradients (flat chart)",
        IntegratedGradients,
        signed=True,
        how_to_read=(
            "Integrated Gradients from a flat chart: gradients averaged along the way from the chart of the same "
            "window with every bar removed (flat at its first open) to the real one. The map adds up to how far "
            "the answer moved between the two charts, so its pixels share out that change; 32 passes a window."
        ),
    ),
}


def method_label(key: str) -> str:
    """The method's display name, or the key for a method outside the registries."""
    info = METHODS.get(key) or PRICE_SPACE_METHODS.get(key)
    return info.label if info is not None else str(key)
