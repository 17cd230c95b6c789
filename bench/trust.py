"""Trust in price space: ``python -m bench.trust [--repeats N] [--windows N] [--no-localisation]``.

Both shipped models (the ticker CNN-LSTM on 50-bar candlesticks, the NIFTY classifier on 60-minute
GADFs), in one run:

1. **Timings** on one test window, median of ``--repeats`` calls after a warm-up, side by side with
   the five maps themselves (:func:`xai.explain`): occlusion in time (every bar or minute removed
   in price space, one batch), a 10-step price-space deletion/insertion curve for all five methods
   with 2 random orders (one batch), the same curves in pixels (:func:`xai.faithfulness.deletion_insertion`),
   Integrated Gradients from the flat chart (32 steps), and the counterfactual panel's work for one
   edit (:func:`workflows.counterfactual.counterfactual`).
   Goal: occlusion and the price-space curves each under 1 s.
2. **Pixel vs price-space deletion** on ``--windows`` evenly spaced test windows of each model's
   demo source: per method, the mean deletion gain over random orders (random area − the map's;
   > 0 beats random) in pixels and in price space with Student-t 95 % intervals, the share of
   windows where each beats random, and the share where the two verdicts agree.
3. **Localisation, reliance-filtered** (:func:`workflows.range_evaluation.evaluate_range` on the
   days of the test split's last 64 NIFTY days and last 640 ticker windows): the Evaluate page's
   table, relied-on windows only.

Prints as it goes; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from data.edits import flatten_range
from data.settings import OHLC
from models.datasets import load_samples
from models.registry import load_shipped
from workflows.counterfactual import counterfactual
from workflows.range_evaluation import evaluate_range
from workflows.window import explain_window
from xai import ALL_METHODS, captum_ready, explain
from xai.faithfulness import deletion_insertion
from xai.methods import method_label
from xai.price_space import occlusion_in_time, price_space_curves
from xai.price_space.integrated import flat_integrated_gradients
from xai.profiles import time_profiles

STEPS, RANDOM_ORDERS = 10, 2
MODELS = {"ticker": "demo:ACME", "nifty": "demo:NIFTY-DEMO"}


def _median_seconds(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _pixel_curves(loaded, samples, rows: np.ndarray, explained):
    """Per method, the pixel deletion areas and the random orders' of the windows at ``rows``."""
    (images, closes), _ = samples.batch(rows)
    extra = closes if len(closes) else None
    target = {"direction": int(explained[0])} if loaded.task.is_regression else {"target": explained}
    maps = explain(loaded.model, images, methods=list(ALL_METHODS), additional_forward_args=extra, **target).maps
    out = {}
    for key in ALL_METHODS:
        curves = deletion_insertion(
            loaded.model,
            images,
            maps[key].attribution,
            additional_forward_args=extra,
            steps=STEPS,
            n_random=RANDOM_ORDERS,
            **target,
        )
        out[key] = (curves.deletion_auc, curves.random_deletion_auc)
    profiles = {
        key: time_profiles(maps[key].attribution, loaded.spec.image, loaded.spec.sequence_length) for key in ALL_METHODS
    }
    return out, profiles


def timings(task: str, repeats: int) -> dict[str, float]:
    loaded = load_shipped(task)
    captum_ready(loaded.model)
    samples = load_samples(loaded.spec, MODELS[task])
    row = int(samples.indices("test")[-1])
    bars = samples.ohlc[row]
    result = explain_window(loaded, bars)
    explained = np.asarray(result.explanations.target, dtype=np.int64)[:1]
    profiles = {key: result.per_time[key][None] for key in ALL_METHODS}
    index = pd.date_range("2024-01-02 09:15", periods=len(bars), freq="min")  # the panel's time-indexed window
    window = pd.DataFrame(bars, index=index, columns=list(OHLC))
    width = len(bars)
    figures = {
        "explain_five": _median_seconds(lambda: explain_window(loaded, bars), repeats),
        "occlusion_in_time": _median_seconds(lambda: occlusion_in_time(loaded, bars[None], explained), repeats),
        "price_space_curves_five": _median_seconds(
            lambda: price_space_curves(loaded, bars[None], profiles, explained, steps=STEPS, n_random=RANDOM_ORDERS),
            repeats,
        ),
        "pixel_curves_five": _median_seconds(
            lambda: _pixel_curves(loaded, samples, np.array([row]), explained), repeats
        ),
        "integrated_gradients_flat": _median_seconds(
            lambda: flat_integrated_gradients(loaded, bars[None], explained), repeats
        ),
        "counterfactual_edit": _median_seconds(
            lambda: counterfactual(loaded, window, samples.loaded, flatten_range(width - 6, width - 2), result),
            repeats,
        ),
    }
    print(f"\n{task}: one window ({width} {loaded.task.time_unit}s), median of {repeats} (s; × the five maps)")
    for name, seconds in figures.items():
        print(f"  {name:26s} {seconds:8.3f}  × {seconds / figures['explain_five']:.1f}")
    return figures


def panel_reruns(task: str, repeats: int) -> float:
    """Median seconds of a page rerun after a new edit range (AppTest: the whole script, cached parts
    reused; the browser reruns the fragment alone, so this is an upper bound)."""
    from streamlit.testing.v1 import AppTest

    page = {"ticker": "pages/ticker.py", "nifty": "pages/nifty.py"}[task]
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / page), default_timeout=300)
    app.query_params["edit"] = "flatten:41-45"
    app.run()
    times = []
    for first in range(10, 10 + repeats):
        began = time.perf_counter()
        app.slider(key="edit_range").set_value((first, first + 4)).run()
        times.append(time.perf_counter() - began)
        if app.exception or app.error:
            raise RuntimeError(f"the {task} page failed after an edit: {app.exception or app.error}")
    seconds = statistics.median(times)
    print(f"  {'panel rerun (AppTest)':26s} {seconds:8.3f}")
    return seconds


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(values.mean())
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def pixel_vs_price(task: str, n_windows: int) -> dict[str, dict[str, float]]:
    loaded = load_shipped(task)
    captum_ready(loaded.model)
    samples = load_samples(loaded.spec, MODELS[task])
    test = samples.indices("test")
    rows = test[np.unique(np.linspace(0, len(test) - 1, n_windows).round().astype(int))]
    (images, closes), _ = samples.batch(rows)
    if loaded.task.is_regression:
        explained = np.ones(len(rows), dtype=np.int64)  # what pushes the forecast up
    else:
        with torch.no_grad():
            explained = loaded.model(images, closes).argmax(dim=1).numpy()
    began = time.perf_counter()
    pixel, profiles = _pixel_curves(loaded, samples, rows, explained)
    price = price_space_curves(
        loaded, samples.ohlc[rows], profiles, explained, steps=STEPS, n_random=RANDOM_ORDERS, seed=0
    )
    print(
        f"\n{task}: deletion gain over random orders on {len(rows)} test windows ({time.perf_counter() - began:.1f} s)"
        f" — mean [95 % t interval]; share of windows beating random; agreement of the two verdicts"
    )
    print(f"  {'method':28s} {'pixels':>28s} {'price space':>28s} {'beats: px':>9s} {'price':>6s} {'agree':>6s}")
    out = {}
    for key in ALL_METHODS:
        pixel_gain = pixel[key][1] - pixel[key][0]
        price_gain = price.deletion_gain(key)
        p_mean, p_low, p_high = _interval(pixel_gain)
        q_mean, q_low, q_high = _interval(price_gain)
        agree = float(((pixel_gain > 0) == (price_gain > 0)).mean())
        print(
            f"  {method_label(key):28s} {p_mean:+9.4f} [{p_low:+.4f}, {p_high:+.4f}] "
            f"{q_mean:+9.4f} [{q_low:+.4f}, {q_high:+.4f}] {(pixel_gain > 0).mean():9.2f} "
            f"{(price_gain > 0).mean():6.2f} {agree:6.2f}"
        )
        out[key] = {
            "pixel_gain": p_mean,
            "pixel_low": p_low,
            "pixel_high": p_high,
            "price_gain": q_mean,
            "price_low": q_low,
            "price_high": q_high,
            "pixel_beats_share": float((pixel_gain > 0).mean()),
            "price_beats_share": float((price_gain > 0).mean()),
            "agreement": agree,
        }
    return out


def localisation(task: str) -> dict[str, object]:
    loaded = load_shipped(task)
    samples = load_samples(loaded.spec, MODELS[task])
    times = samples.task.sample_times(samples)[samples.indices("test")]
    span = 64 if task == "nifty" else 640  # a breakout ends ≈ 1 ticker window in 30
    began = time.perf_counter()
    result = evaluate_range(
        loaded,
        MODELS[task],
        times[-span].normalize(),
        times[-1].normalize(),
        max_samples=span,
        faithfulness_inputs=1,
        sanity_inputs=1,
        samples=samples,
    )
    print(f"\n{task}: localisation on planted patterns ({time.perf_counter() - began:.1f} s)")
    if result.localisation is None:
        print("  " + result.localisation_reason)
        return {"reason": result.localisation_reason}
    print("  scored only where " + result.localisation.reliance.sentence)
    columns = ["relied on (of those with a pattern)", "share", "share, all pattern samples", "chance: flat map"]
    columns += [column for column in ("chance: habit", "hit rate") if column in result.localisation_table]
    print(result.localisation_table[columns].round(3).to_string())
    return {
        "relied": int(result.localisation.reliance.relied.sum()),
        "with_pattern": len(result.localisation.reliance.rows),
        "share": result.localisation_table["share"].round(4).to_dict(),
        "share_all": result.localisation_table["share, all pattern samples"].round(4).to_dict(),
        "chance_flat": result.localisation_table["chance: flat map"].round(4).to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trust", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--windows", type=int, default=64, help="test windows per model for pixel vs price space")
    parser.add_argument("--no-localisation", action="store_true", help="skip the reliance-filtered localisation")
    args = parser.parse_args()
    figures: dict[str, object] = {"timings": {}, "pixel_vs_price": {}, "localisation": {}}
    for task in MODELS:
        figures["timings"][task] = timings(task, args.repeats)
        figures["timings"][task]["panel_rerun"] = panel_reruns(task, args.repeats)
    for task in MODELS:
        figures["pixel_vs_price"][task] = pixel_vs_price(task, args.windows)
    if not args.no_localisation:
        for task in MODELS:
            figures["localisation"][task] = localisation(task)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
