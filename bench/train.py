"""Training benchmark: ``python -m bench.train [--quick]``.

Prints each figure as it is measured and ends with one line, a JSON object:

* ``samples_per_s`` — training throughput (forward, backward, AdamW step, images
  rendered per batch as in training), keyed by configuration, median over
  steps after a warm-up, on the demo market's real samples;
* ``minutes_to_shipped_quality`` — for each shipped configuration, the wall time
  until a fresh run of the card's exact command first reaches the shipped
  checkpoint's best validation figure (requirement: under 10 minutes each).
  ``--quick`` reads it from the shipped card's own history instead of
  retraining (the card's timing, taken when it was trained);
* ``reproduces_shipped_weights`` — whether that fresh run wrote bit-identical weights
  (sha256), i.e. whether the card's command reproduces the shipped checkpoint;
* ``inference_ms_per_sample`` — one sample through a shipped model on CPU,
  image encoding included, median of 50 calls (requirement: under 50 ms).

Nothing is written into the repository (fresh runs train into a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from models.architectures import ModelSpec, build_model
from models.checkpoints import load_checkpoint, read_card
from models.datasets import encode_images, load_samples
from models.registry import SHIPPED
from models.training import TrainConfig, training_loss

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGURATIONS = {
    "nifty/resnet18/gadf64": ("nifty", {"arch": "resnet18"}, "demo:NIFTY-DEMO"),
    "nifty/resnet34/gadf64": ("nifty", {"arch": "resnet34"}, "demo:NIFTY-DEMO"),
    "ticker/cnn-lstm-resnet34/candlestick128": ("ticker", {"arch": "cnn-lstm-resnet34"}, "demo:ACME"),
    "ticker/cnn-lstm-resnet18/candlestick128": ("ticker", {"arch": "cnn-lstm-resnet18"}, "demo:ACME"),
}
THROUGHPUT_STEPS = 8
INFERENCE_CALLS = 50


def samples_per_s(task: str, overrides: dict[str, str], source: str) -> float:
    spec = ModelSpec.default(task, **overrides)
    samples = load_samples(spec, source)
    config = TrainConfig()
    torch.manual_seed(0)
    model = build_model(spec).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate(task), weight_decay=config.decay(task))
    train = samples.indices("train")
    rates = []
    for step in range(THROUGHPUT_STEPS + 2):
        indices = train[step * config.batch_size : (step + 1) * config.batch_size]
        started = time.perf_counter()
        inputs, target = samples.batch(indices)
        optimiser.zero_grad()
        training_loss(spec, model, inputs, target).backward()
        optimiser.step()
        if step >= 2:  # the first steps warm up allocators and kernels
            rates.append(len(indices) / (time.perf_counter() - started))
    return statistics.median(rates)


def minutes_to_quality(task: str, quick: bool) -> tuple[float, bool | None]:
    """Minutes until a run of the shipped command first reaches the shipped best validation figure,
    and whether that run reproduced the shipped weights bit for bit (``None`` with ``--quick``)."""
    card = read_card(SHIPPED[task])
    target = min(entry["validation"] for entry in card.training.history)
    same_weights = None
    if quick:
        history = card.training.history
    else:
        with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
            argv = shlex.split(card.command)[3:]
            out_index = argv.index("--out") + 1
            argv[out_index] = str(Path(folder) / "model")
            env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
            subprocess.run(
                [sys.executable, "-m", "models.train", *argv], cwd=REPO_ROOT, env=env, check=True, capture_output=True
            )
            fresh = read_card(Path(folder) / "model")
            history = fresh.training.history
            same_weights = fresh.weights_sha256 == card.weights_sha256
    reached = next(entry for entry in history if entry["validation"] <= target * (1 + 1e-9))
    return reached["seconds"] / 60, same_weights


def inference_ms(task: str) -> float:
    loaded = load_checkpoint(SHIPPED[task], task=task)
    samples = load_samples(loaded.spec, read_card(SHIPPED[task])["data"]["source"])
    index = samples.indices("test")[:1]
    timings = []
    with torch.no_grad():
        for _ in range(INFERENCE_CALLS + 3):
            started = time.perf_counter()
            image = torch.from_numpy(encode_images(samples.ohlc[index], loaded.spec))
            loaded.model(*samples.task.inputs(samples, index, image))
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[3:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="read time-to-quality from the shipped cards")
    args = parser.parse_args(argv)
    print(
        f"bench.train: torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs", flush=True
    )
    figures: dict[str, dict[str, float | bool]] = {
        "samples_per_s": {},
        "minutes_to_shipped_quality": {},
        "inference_ms_per_sample": {},
    }
    for name, (task, overrides, source) in CONFIGURATIONS.items():
        rate = samples_per_s(task, overrides, source)
        figures["samples_per_s"][name] = round(rate, 1)
        print(f"samples_per_s[{name}] = {rate:.1f}", flush=True)
    for task in SHIPPED:
        milliseconds = inference_ms(task)
        figures["inference_ms_per_sample"][task] = round(milliseconds, 2)
        print(f"inference_ms_per_sample[{task}] = {milliseconds:.2f} ms", flush=True)
    for task in SHIPPED:
        minutes, same_weights = minutes_to_quality(task, args.quick)
        figures["minutes_to_shipped_quality"][task] = round(minutes, 2)
        source = "shipped card" if args.quick else "fresh run of the card's command"
        print(f"minutes_to_shipped_quality[{task}] = {minutes:.2f} min ({source})", flush=True)
        if same_weights is not None:
            figures.setdefault("reproduces_shipped_weights", {})[task] = same_weights
            print(f"reproduces_shipped_weights[{task}] = {same_weights} (sha256 of the weights)", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
