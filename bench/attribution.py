"""Attribution benchmark: ``python -m bench.attribution [--repeats N] [--device cpu|cuda]``.

Both shipped models at their default sizes (the NIFTY classifier on 64-px GADFs, the ticker
CNN-LSTM on 128-px candlesticks), on real test-split inputs, side by side in one run:

* ``ms_per_method`` — per model: each of Captum's five classes called alone on one input
  (``LayerGradCam`` + upsampling, ``Saliency``, ``Deconvolution``, ``GuidedBackprop``,
  ``GuidedGradCam``), their sum ``captum_five``, and ``explain_five`` — all five maps from
  :func:`xai.explain` (one forward pass, three backward passes);
* ``five_vs_captum_ratio`` — per model: ``explain_five / captum_five`` (requirement ≤ 0.45);
* ``batch64_per_input_speedup`` — per model: per-input time of ``explain`` at batch 1 over that
  at batch 64 (requirement ≥ 3);
* ``max_abs_diff_vs_captum`` — per model: the largest absolute difference between any fused map
  and its Captum class's map on the batch-64 inputs (requirement ≤ 1e-5), with ``max_abs_map``,
  the largest value of any map, for scale.

Every time is a median over ``--repeats`` calls after a warm-up; Captum and the fused path
alternate call by call, so both see the same machine load. Prints as it goes; the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from captum.attr import Deconvolution, GuidedBackprop, GuidedGradCam, LayerAttribution, LayerGradCam, Saliency

from models.datasets import load_samples
from models.registry import load_shipped
from models.tasks import ForecastDirection, task_of
from xai import ALL_METHODS, captum_ready, explain

BATCH = 64


def _captum_calls(model: torch.nn.Module, image: torch.Tensor, closes: torch.Tensor | None) -> dict[str, Callable]:
    """Each of Captum's five classes as a zero-argument call on ``image`` (the reference)."""
    if not task_of(model).is_regression:
        forward = model
        with torch.no_grad():
            target = model(image, closes).argmax(1)
    else:
        forward, target = ForecastDirection(model, 1), 0
    layer, size = model.gradcam_layer, tuple(image.shape[2:])
    kwargs = {"target": target, "additional_forward_args": closes}
    return {
        "gradcam": lambda: LayerAttribution.interpolate(
            LayerGradCam(forward, layer).attribute(image, relu_attributions=True, **kwargs), size, "bilinear"
        ),
        "saliency": lambda: Saliency(forward).attribute(image, abs=False, **kwargs),
        "deconvolution": lambda: Deconvolution(forward).attribute(image, **kwargs),
        "guided_backprop": lambda: GuidedBackprop(forward).attribute(image, **kwargs),
        "guided_gradcam": lambda: GuidedGradCam(forward, layer).attribute(image, interpolate_mode="bilinear", **kwargs),
    }


def _explain_call(model: torch.nn.Module, image: torch.Tensor, closes: torch.Tensor | None) -> Callable:
    return lambda: explain(model, image, methods=ALL_METHODS, additional_forward_args=closes)


def _seconds(call: Callable) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _medians(calls: dict[str, Callable], repeats: int) -> dict[str, float]:
    """Median seconds per call; the calls alternate within each round."""
    for call in calls.values():
        call()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(_seconds(call))
    return {name: statistics.median(values) for name, values in times.items()}


def _inputs(task: str, device: torch.device) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor | None]:
    loaded = load_shipped(task)
    model = captum_ready(loaded.model.to(device).eval())
    samples = load_samples(loaded.spec, loaded.card.data.source)
    inputs, _ = samples.batch(samples.indices("test")[:BATCH])
    image = inputs[0].to(device)
    closes = inputs[1].to(device) if len(inputs) > 1 else None
    return model, image, closes


def bench_model(task: str, repeats: int, device: torch.device) -> dict[str, object]:
    model, image, closes = _inputs(task, device)
    one_image, one_closes = image[:1], None if closes is None else closes[:1]
    captum = _captum_calls(model, one_image, one_closes)
    fused = _explain_call(model, one_image, one_closes)
    single = _medians({**captum, "explain_five": fused}, repeats)
    captum_five = sum(single[key] for key in ALL_METHODS)
    ms = {key: round(1000 * single[key], 2) for key in ALL_METHODS}
    ms["captum_five"] = round(1000 * captum_five, 2)
    ms["explain_five"] = round(1000 * single["explain_five"], 2)
    print(f"[{task}] ms per input, batch 1: {ms}", flush=True)
    ratio = single["explain_five"] / captum_five
    print(
        f"[{task}] five maps: explain {ms['explain_five']} ms vs Captum's five classes {ms['captum_five']} ms "
        f"→ ratio {ratio:.3f} (≤ 0.45 required)",
        flush=True,
    )

    batch_seconds = _medians({"batch64": _explain_call(model, image, closes)}, max(3, repeats // 4))["batch64"]
    speedup = single["explain_five"] / (batch_seconds / len(image))
    print(
        f"[{task}] batch {len(image)}: {1000 * batch_seconds / len(image):.2f} ms per input "
        f"→ {speedup:.1f}× less than at batch 1 (≥ 3 required)",
        flush=True,
    )

    fused_maps = explain(model, image, methods=ALL_METHODS, additional_forward_args=closes).maps
    reference = _captum_calls(model, image, closes)
    differences = {
        key: float((torch.from_numpy(fused_maps[key].attribution) - reference[key]().detach().cpu()).abs().max())
        for key in ALL_METHODS
    }
    largest_map = max(float(np.abs(fused_maps[key].attribution).max()) for key in ALL_METHODS)
    print(
        f"[{task}] max |fused − Captum| per method on {len(image)} inputs: {differences} "
        f"(largest |map value| {largest_map:.3g})",
        flush=True,
    )
    return {
        "ms_per_method": ms,
        "five_vs_captum_ratio": round(ratio, 3),
        "batch64_per_input_speedup": round(speedup, 2),
        "max_abs_diff_vs_captum": max(differences.values()),
        "max_abs_map": largest_map,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attribution", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed calls per measurement (median)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device {device}, torch threads {torch.get_num_threads()}, repeats {args.repeats}", flush=True)
    per_model = {task: bench_model(task, args.repeats, device) for task in ("nifty", "ticker")}
    figures = {
        name: {task: result[name] for task, result in per_model.items()}
        for name in ("ms_per_method", "five_vs_captum_ratio", "batch64_per_input_speedup", "max_abs_diff_vs_captum")
    }
    figures["device"] = str(device)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
