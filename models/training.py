"""Training with early stopping, a live progress bar, and an honest card at the end.

Both tasks share one loop: Adam, shuffled mini-batches, an evaluation of the
validation split after every epoch, the best weights saved (atomically) each
time the validation figure improves, and a stop after ``patience`` epochs
without improvement or at ``epochs``. Ctrl-C stops training too: the best
weights so far are kept, evaluated, and the card says ``"interrupted": true``.

Callers can follow and steer a run: ``on_batch`` and ``on_epoch`` receive a
:class:`BatchReport` after every optimiser step and an :class:`EpochReport`
after every validation; ``on_epoch`` returning ``False`` stops training at
that epoch and, as Ctrl-C does, keeps the best checkpoint (the card says
``"status": "stopped"``). ``init_from`` fine-tunes: training starts from the
weights of an existing checkpoint of the same model (loaded with the safe
loader; another task, architecture or image size is refused).

Reproducible on CPU under a fixed seed, without touching process-wide state (the
Train page trains inside the dashboard's shared server): one seeded NumPy
generator shuffles, the model's initial weights are drawn from a seeded
``torch.Generator`` of the run's own (:func:`models.random_draws.drawing_from`;
the same numbers a global ``torch.manual_seed`` would give), deterministic
algorithms are requested for the length of the run only and the process's
setting restored after, and no worker processes are used. A GPU is used when
one is present (its results may differ in the last digits).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import platform
import secrets
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from data.settings import cache_dir
from models.architectures import ModelSpec, build_model
from models.card import ModelCard
from models.checkpoints import TRAIN_COMMAND, CheckpointError, load_checkpoint, read_card, save_checkpoint
from models.datasets import TaskSamples
from models.random_draws import deterministic_algorithms, drawing_from, seeded_generator
from models.tasks import Task, batched_outputs, task_named

#: Sub-folder of the cache folder that holds checkpoints trained from the dashboard.
CHECKPOINTS_SUBDIR = "checkpoints"


@dataclasses.dataclass(frozen=True)
class BatchReport:
    """Progress after one optimiser step, given to ``on_batch``.

    Attributes:
        epoch: the current epoch, from 1.
        epochs: the most epochs this run may take (``TrainConfig.epochs``).
        batch: the batch just done, from 1.
        batches: batches per epoch.
        loss: mean training loss of the epoch so far.
        seconds: since training started.
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    seconds: float

    @property
    def fraction(self) -> float:
        """Share of the most steps this run may take that is done, in [0, 1]."""
        return ((self.epoch - 1) * self.batches + self.batch) / (self.epochs * self.batches)


@dataclasses.dataclass(frozen=True)
class EpochReport:
    """One finished epoch, given to ``on_epoch``; the same figures as the card's ``training.history``.

    Attributes:
        epoch: the epoch just finished, from 1.
        epochs: the most epochs this run may take.
        train_loss: mean training loss of the epoch (:data:`TRAIN_LOSS_NAME`).
        validation: the validation figure after the epoch (:data:`VALIDATION_NAME`; lower is better).
        best_validation: the lowest validation figure so far (this epoch's included).
        best_epoch: the epoch that reached it; its weights are the saved checkpoint.
        improved: this epoch set a new best (and was saved).
        seconds: since training started.
        validation_name: what ``validation`` measures.
    """

    epoch: int
    epochs: int
    train_loss: float
    validation: float
    best_validation: float
    best_epoch: int
    improved: bool
    seconds: float
    validation_name: str


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings recorded in the card.

    Attributes:
        epochs: at most this many epochs (the CNN-LSTM paper: 20-30 best, at most 30).
        batch_size: samples per step.
        lr: Adam's learning rate (default: the task's ``default_lr``).
        weight_decay: AdamW's decoupled weight decay (default: the task's ``default_weight_decay``;
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

    def learning_rate(self, task: Task) -> float:
        return self.lr if self.lr is not None else task.default_lr

    def decay(self, task: Task) -> float:
        return self.weight_decay if self.weight_decay is not None else task.default_weight_decay


def initial_model(spec: ModelSpec, seed: int) -> nn.Module:
    """A fresh model for ``spec`` whose random initial weights come from ``seed`` (the global RNG untouched)."""
    with drawing_from(seeded_generator(seed)):
        return build_model(spec)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def training_loss(
    spec: ModelSpec, model: nn.Module, inputs: Sequence[torch.Tensor], target: torch.Tensor
) -> torch.Tensor:
    """The loss ``spec``'s task minimises, for ``model`` on ``inputs``."""
    return task_named(spec.task).training_loss(model, inputs, target)


def predict(model: nn.Module, samples: TaskSamples, indices: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(len(indices),) float64: the task's outputs (P(up), or the predicted log10 close), in batches."""
    return batched_outputs(model, samples, indices, batch_size)


def validation_figure(model: nn.Module, samples: TaskSamples) -> float:
    """Lower is better: the task's validation figure on the validation split."""
    indices = samples.indices("validation")
    return samples.task.validation_figure(predict(model, samples, indices), samples.targets[indices])


def evaluate(model: nn.Module, samples: TaskSamples) -> dict[str, Any]:
    """Test-split metrics against the task's baselines: the card's ``metrics``."""
    return samples.task.evaluate(model, samples)


def versions() -> dict[str, str]:
    import captum
    import pyts
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        # the instruction set torch's CPU kernels use (AVX2, AVX512, ...): rounding, and so the exact
        # weights a seeded run reaches, differ between them
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "pyts": pyts.__version__,
        "captum": captum.__version__,
    }


def new_checkpoint_folder(task: str) -> Path:
    """A new, empty folder for a checkpoint of ``task`` under ``<cache>/checkpoints``.

    The name is generated (task, UTC time, random suffix): it never comes from user input, and
    nothing is written into the repository.
    """
    task_named(task)  # ValueError naming the tasks
    root = cache_dir() / CHECKPOINTS_SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    while True:
        folder = root / f"{task}-{stamp}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def cli_command(
    spec: ModelSpec,
    source: str,
    config: TrainConfig,
    out: str | Path,
    *,
    init_from: str | Path | None = None,
    pool: Sequence[str] = (),
) -> str:
    """The ``python -m models.train`` command line that trains ``spec`` on ``source`` (with ``pool``
    pooled into its training split) as ``config`` says.

    Recorded in the card of a model trained elsewhere (the dashboard) so that it can be rerun.

    Raises:
        ValueError: ``spec`` has widths the command line cannot set (only a fine-tuned model,
            which takes its checkpoint's spec, may).
    """
    chosen = {"arch": spec.arch, "image": spec.image, "image_size": spec.image_size}
    plain = ModelSpec.default(spec.task, **chosen)
    if init_from is None and spec != dataclasses.replace(plain, stem=spec.stem, width=spec.width):
        raise ValueError(
            f"{TRAIN_COMMAND} cannot build {spec}: only arch, image, image size, stem and width can be chosen"
        )
    argv = [TRAIN_COMMAND, "--task", spec.task, "--data", source]
    if pool:
        argv += ["--pool", ",".join(pool)]
    if init_from is not None:
        argv += ["--init-from", str(init_from)]
    argv += ["--arch", spec.arch, "--image", spec.image, "--image-size", str(spec.image_size)]
    if init_from is None and (spec.stem, spec.width) != (plain.stem, plain.width):
        argv += ["--stem", spec.stem, "--width", str(spec.width)]
    argv += ["--epochs", str(config.epochs), "--seed", str(config.seed)]
    defaults = TrainConfig()
    for name in ("batch_size", "patience", "lr", "weight_decay"):
        value = getattr(config, name)
        if value != getattr(defaults, name):
            argv += ["--" + name.replace("_", "-"), str(value)]
    if config.half:
        argv.append("--half")
    return " ".join([argv[0], *map(shlex.quote, [*argv[1:], "--out", str(out), "--quiet"])])


def fine_tune_spec(init_from: str | Path, task: str) -> ModelSpec:
    """The :class:`ModelSpec` of the checkpoint at ``init_from``, which must be a ``task`` model.

    Raises:
        CheckpointError: no readable checkpoint there, or one of another task.
    """
    card = read_card(init_from)
    if card.task != task_named(task).name:
        raise CheckpointError(
            f"cannot fine-tune from {init_from}: it is a {card.task} checkpoint, not a {task} one; "
            f"pick a {task} checkpoint or train from scratch"
        )
    return card.spec


def load_initial_weights(model: nn.Module, spec: ModelSpec, init_from: str | Path) -> dict[str, Any]:
    """Copy the weights of the checkpoint at ``init_from`` into ``model``; return what the card records.

    The checkpoint is loaded with the safe loader (:func:`models.checkpoints.load_checkpoint`) and
    must hold exactly ``spec``'s model: same task, image, image size, architecture and widths.

    Raises:
        CheckpointError: unreadable, unsafe or damaged checkpoint, or one of another model.
    """
    source = load_checkpoint(init_from, task=spec.task, image=spec.image, image_size=spec.image_size)
    if source.spec != spec:
        differences = ", ".join(
            f"{field.name} {getattr(source.spec, field.name)!r} (wanted {getattr(spec, field.name)!r})"
            for field in dataclasses.fields(spec)
            if getattr(source.spec, field.name) != getattr(spec, field.name)
        )
        raise CheckpointError(
            f"cannot fine-tune from {init_from}: its model differs from the one to train: {differences}; "
            f"fine-tune with the checkpoint's own settings or train from scratch"
        )
    model.load_state_dict(source.model.state_dict(), strict=True)
    return {
        "checkpoint": str(init_from),
        "weights_sha256": source.card.weights_sha256,
        "data_source": source.card.data.source,
        "command": source.card.command,
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
    init_from: str | Path | None = None,
    on_batch: Callable[[BatchReport], object] | None = None,
    on_epoch: Callable[[EpochReport], bool | None] | None = None,
) -> ModelCard:
    """Train ``spec`` on ``samples``, write the best checkpoint and its card to ``out``; return the card
    (:class:`~models.card.ModelCard`, as written).

    Args:
        spec: the model to build.
        samples: its data, already split.
        config: epochs, batch size, learning rate, patience, seed.
        out: checkpoint folder (created).
        command: the exact command line, recorded so that it can be rerun.
        prepare: called on the model before training, after ``init_from``'s weights are loaded
            (e.g. to load ImageNet weights).
        progress: show the progress bar (off in tests).
        init_from: fine-tune: start from the weights of this checkpoint, which must hold ``spec``'s
            model (the card records it under ``training.init_from``).
        on_batch: called after every optimiser step with a :class:`BatchReport`.
        on_epoch: called after every epoch's validation (and save, when it improved) with an
            :class:`EpochReport`; returning ``False`` stops training there, keeping the best
            checkpoint, and the card's status is ``"stopped"``.

    Raises:
        CheckpointError: ``init_from`` cannot be loaded or holds another model; ``out`` cannot be written.
        KeyboardInterrupt: Ctrl-C before the first epoch ended (nothing was saved).
    """
    with deterministic_algorithms():
        return _train(spec, samples, config, out, command, prepare, progress, init_from, on_batch, on_epoch)


def _train(
    spec: ModelSpec,
    samples: TaskSamples,
    config: TrainConfig,
    out: Path,
    command: str,
    prepare: Callable[[nn.Module], None] | None,
    progress: bool,
    init_from: str | Path | None,
    on_batch: Callable[[BatchReport], object] | None,
    on_epoch: Callable[[EpochReport], bool | None] | None,
) -> ModelCard:
    rng = np.random.default_rng(config.seed)  # shuffles the training samples
    task = task_named(spec.task)
    task.fit_baselines(samples)  # before anything is written: data the baselines cannot fit is refused now
    model = initial_model(spec, config.seed)
    initial = None if init_from is None else load_initial_weights(model, spec, init_from)
    if init_from is None:
        task.start_from_baseline(model, samples)
    if prepare is not None:
        prepare(model)
    where = device()
    model.to(where)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]  # a fitted baseline stays
    optimiser = torch.optim.AdamW(trainable, lr=config.learning_rate(task), weight_decay=config.decay(task))
    train_indices = samples.indices("train")
    card: dict[str, Any] = {
        **samples.describe(),
        "command": command,
        "status": "training",
        "metrics": {"model": {}, "baseline": {}},
    }

    best_figure, best_state, best_epoch, history = math.inf, None, 0, []
    started = time.perf_counter()
    interrupted = stopped = False
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = rng.permutation(train_indices)
            losses = []
            batches = range(0, len(order), config.batch_size)
            bar = tqdm(
                batches, desc=f"epoch {epoch}/{config.epochs}", disable=not progress, leave=False, file=sys.stderr
            )
            for number, start in enumerate(bar, start=1):
                inputs, target = samples.batch(order[start : start + config.batch_size])
                optimiser.zero_grad()
                inputs = [tensor.to(where) for tensor in inputs]
                loss = task.training_loss(model, inputs, target.to(where))
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses):.4f}")
                if on_batch is not None:
                    on_batch(
                        BatchReport(
                            epoch=epoch,
                            epochs=config.epochs,
                            batch=number,
                            batches=len(batches),
                            loss=float(np.mean(losses)),
                            seconds=time.perf_counter() - started,
                        )
                    )
            figure = validation_figure(model, samples)
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
                card["training"] = _training_fields(config, task, epoch, best_epoch, started, history, initial)
                save_checkpoint(out, model, card, half=config.half)
            if progress:
                name, mark = task.validation_name, "  * best, saved" if improved else ""
                print(f"epoch {epoch:>2}: train loss {np.mean(losses):.4f}  {name} {figure:.5f}{mark}", file=sys.stderr)
            if on_epoch is not None:
                report = EpochReport(
                    epoch=epoch,
                    epochs=config.epochs,
                    train_loss=history[-1]["train_loss"],
                    validation=figure,
                    best_validation=best_figure,
                    best_epoch=best_epoch,
                    improved=improved,
                    seconds=time.perf_counter() - started,
                    validation_name=task.validation_name,
                )
                if on_epoch(report) is False:
                    stopped = epoch < config.epochs
                    break
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
    card["training"] = _training_fields(
        config, task, len(history), best_epoch, started, history, initial, interrupted=interrupted, stopped=stopped
    )
    card["metrics"] = task.evaluate(model, samples)
    card["status"] = "interrupted" if interrupted else "stopped" if stopped else "complete"
    save_checkpoint(out, model, card, half=config.half)
    return read_card(out)


def _training_fields(
    config: TrainConfig,
    task: Task,
    epochs_run: int,
    best_epoch: int,
    started: float,
    history: list[dict[str, float]],
    initial: dict[str, Any] | None,
    *,
    interrupted: bool = False,
    stopped: bool = False,
) -> dict[str, Any]:
    fields = {
        "epochs": epochs_run,
        "best_epoch": best_epoch,
        "max_epochs": config.epochs,
        "patience": config.patience,
        "batch_size": config.batch_size,
        "lr": config.learning_rate(task),
        "optimizer": "AdamW" if config.decay(task) else "Adam",
        "weight_decay": config.decay(task),
        "loss": task.loss_description,
        "seed": config.seed,
        "seconds": round(time.perf_counter() - started, 1),
        "device": str(device()),
        "interrupted": interrupted,
        "history": history,
        "versions": versions(),
    }
    if stopped:
        fields["stopped_by_caller"] = True
    if initial is not None:
        fields["init_from"] = initial
    return fields
