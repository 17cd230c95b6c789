"""Checkpoints: a folder holding ``model.pt`` (a plain state dict) and ``card.json``.

* **Nothing is executed on load.** ``model.pt`` is read with
  ``torch.load(..., weights_only=True)`` only, and must be a ``dict`` of
  names → tensors (float32 or float16; integer buffers such as BatchNorm's
  ``num_batches_tracked`` stay as saved). A pickle that would call code is
  refused before anything runs.
* **Written atomically.** :func:`save_checkpoint` writes ``model.pt`` then
  ``card.json``, each to a temporary file in the same folder that is flushed,
  fsynced and moved over the real name with :func:`os.replace`. A crash never
  leaves a half-written file under a real name; a crash between the two
  replaces leaves new weights next to the old card, which the SHA-256 check
  at load time reports.
* **Checked against the card** (:class:`~models.card.ModelCard`, typed; its schema check is
  :meth:`~models.card.ModelCard.from_json`). The card records the :class:`ModelSpec`, the
  weights' SHA-256 and dtype; :func:`load_checkpoint` rebuilds the model from
  the spec and loads the weights strictly.

Every problem a user can meet raises :class:`CheckpointError` (a
``ValueError``) whose message names the file and says what to do.
A path to the folder, to its ``model.pt`` or to its ``card.json`` is accepted
everywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from data.cache import atomic_write_bytes
from models.architectures import ModelSpec, build_model
from models.card import FORMAT_VERSION, SPEC_FIELDS, TRAIN_COMMAND, CheckpointError, ModelCard
from models.tasks import Task, task_named

CARD_NAME = "card.json"
WEIGHTS_NAME = "model.pt"
WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16}


@dataclasses.dataclass(frozen=True)
class LoadedCheckpoint:
    """A validated checkpoint.

    Attributes:
        model: the rebuilt model, in eval mode, float32, on the CPU.
        spec: the :class:`ModelSpec` from the card.
        card: the typed card (:class:`~models.card.ModelCard`), extra fields included.
        folder: the checkpoint's folder, as given (not resolved).
    """

    model: nn.Module
    spec: ModelSpec
    card: ModelCard
    folder: Path

    @property
    def task(self) -> Task:
        """The task the model answers (:mod:`models.tasks`)."""
        return task_named(self.spec.task)


# --------------------------------------------------------------------------- paths


def checkpoint_folder(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder for ``path`` (the folder itself, its ``model.pt`` or its ``card.json``)."""
    given = Path(path)
    if given.is_dir():
        return given
    if given.name in (WEIGHTS_NAME, CARD_NAME) and given.parent.is_dir():
        return given.parent
    if given.exists():
        raise CheckpointError(
            f"{given} is not a checkpoint: give the folder holding {CARD_NAME} and {WEIGHTS_NAME}, "
            f"or its {WEIGHTS_NAME}"
        )
    raise CheckpointError(
        f"checkpoint {given} does not exist: give the folder written by {TRAIN_COMMAND} --out DIR, "
        f"or its {WEIGHTS_NAME}"
    )


def _require_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {folder} has no {name}: it is incomplete; copy the whole folder again "
            f"or retrain with {TRAIN_COMMAND}"
        )
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CheckpointError(
            f"cannot read {path}: {error.strerror or error}; check the file and its permissions"
        ) from error


# --------------------------------------------------------------------------- card


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- card


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Parse and validate the card of the checkpoint at ``path`` (folder, ``model.pt`` or ``card.json``).

    Raises:
        CheckpointError: missing folder or file, not JSON, missing or wrong-typed fields, unknown task or arch.
    """
    return _read_card(checkpoint_folder(path))


def _read_card(folder: Path) -> ModelCard:
    card_path = _require_file(folder, CARD_NAME)
    raw = _read_bytes(card_path)
    try:
        card = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CheckpointError(
            f"{card_path} is not UTF-8 text: restore the card that came with the weights "
            f"or retrain with {TRAIN_COMMAND}"
        ) from error
    except json.JSONDecodeError as error:
        raise CheckpointError(
            f"{card_path} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}): "
            f"restore the card that came with the weights or retrain with {TRAIN_COMMAND}"
        ) from error
    return ModelCard.from_json(card, str(card_path))


# --------------------------------------------------------------------------- save


def _weights_payload(model: nn.Module, half: bool) -> bytes:
    state: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        value = tensor.detach().to("cpu")
        if value.is_floating_point():
            value = value.to(torch.float16 if half else torch.float32)
            if half and not bool(torch.isfinite(value).all()) and bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"{name} has values beyond float16's range (±65504); save without half=True")
        state[name] = value.clone().contiguous()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_checkpoint(
    folder: str | os.PathLike[str], model: nn.Module, card: Mapping[str, Any] | ModelCard, *, half: bool = False
) -> Path:
    """Write ``model``'s state dict and the completed ``card`` into ``folder``; return the folder.

    ``card`` is the trainer's fields as JSON (or a :class:`ModelCard`, e.g. one read back).

    The card is completed with ``spec`` (from ``model.spec``), ``task``, ``arch``, ``image``,
    ``image_size``, ``format_version``, ``weights_sha256`` and ``weights_dtype``, then validated
    before anything is written. ``half=True`` stores floating tensors as float16 (half the size).
    ``model.pt`` is written first, then ``card.json``, each atomically.

    Raises:
        CheckpointError: the card is incomplete or contradicts the model, the model has no
            ``ModelSpec``, or the files cannot be written.
    """
    folder = Path(folder)
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise CheckpointError(f"cannot save to {folder}: the model has no ModelSpec (build it with build_model)")
    completed = card.to_json() if isinstance(card, ModelCard) else dict(card)
    for name in SPEC_FIELDS:
        if name in completed and completed[name] != getattr(spec, name):
            raise CheckpointError(
                f"cannot save to {folder}: the card says {name}={completed[name]!r} but the model's spec "
                f"has {getattr(spec, name)!r}"
            )
        completed[name] = getattr(spec, name)
    payload = _weights_payload(model, half)
    completed.update(
        spec=spec.to_dict(),
        format_version=FORMAT_VERSION,
        weights_sha256=hashlib.sha256(payload).hexdigest(),
        weights_dtype="float16" if half else "float32",
    )
    typed = ModelCard.from_json(completed, f"card for {folder}")
    try:
        text = json.dumps(typed.to_json(), indent=2) + "\n"
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"cannot save to {folder}: the card is not JSON-serialisable ({error})") from error
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / WEIGHTS_NAME, payload)
        atomic_write_bytes(folder / CARD_NAME, text.encode("utf-8"))
    except OSError as error:
        raise CheckpointError(
            f"cannot write checkpoint {folder}: {error.strerror or error}; check free space and permissions"
        ) from error
    return folder


# --------------------------------------------------------------------------- load


def _expect(folder: Path, card: ModelCard, task: str | None, image: str | None, image_size: int | None) -> None:
    have_task, have_image, have_size = card.task, card.image, card.image_size
    if task is not None and task != have_task:
        raise CheckpointError(
            f"checkpoint {folder} is for the {have_task} task, not {task}; pick a {task} checkpoint "
            f"or train one with {TRAIN_COMMAND} --task {task} ..."
        )
    if image is not None and image != have_image:
        raise CheckpointError(
            f"checkpoint {folder} takes {have_image} images, not {image}; pick a {image} checkpoint "
            f"or train one with {TRAIN_COMMAND} --task {have_task} --image {image} ..."
        )
    if image_size is not None and image_size != have_size:
        raise CheckpointError(
            f"checkpoint {folder} takes {have_size}-px images, not {image_size}-px; pick a {image_size}-px "
            f"checkpoint or train one with {TRAIN_COMMAND} --task {have_task} --image {have_image} "
            f"--image-size {image_size} ..."
        )


def _unpickle(weights_path: Path, payload: bytes) -> Any:
    """``torch.load`` with ``weights_only=True``; every failure becomes a CheckpointError."""
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # The weights-only unpickler names the global it refused to call ("Unsupported global: ...").
        if "global" in str(error).lower():
            raise CheckpointError(
                f"{weights_path} refused: the file is not a plain tensor file and would need to run code to load; "
                f"only state dicts saved by {TRAIN_COMMAND} are accepted"
            ) from error
        raise _corrupted(weights_path) from error
    except (
        EOFError,
        RuntimeError,
        zipfile.BadZipFile,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,  # e.g. a BUILD whose slot state is not a dict
        OverflowError,  # e.g. a tensor size beyond int64
        struct.error,  # an opcode cut short, e.g. b"G" (BINFLOAT) without its 8 bytes
        AssertionError,  # torch raises it itself for a malformed storage reference ("saved_id must be a tuple")
    ) as error:
        raise _corrupted(weights_path) from error


def _corrupted(weights_path: Path) -> CheckpointError:
    return CheckpointError(
        f"{weights_path} is truncated, corrupted or not a torch state dict, and cannot be read safely; "
        f"copy the checkpoint again or retrain with {TRAIN_COMMAND}"
    )


def _check_state(weights_path: Path, state: Any) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{weights_path} holds a {type(state).__name__}, not a state dict (names → tensors); "
            f"only state dicts saved by {TRAIN_COMMAND} are accepted"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{weights_path} is not a state dict: entry {_short(key)} holds a {type(value).__name__}, "
                f"not a tensor; only state dicts saved by {TRAIN_COMMAND} are accepted"
            )
        if value.is_floating_point() and value.dtype not in WEIGHTS_DTYPES.values():
            raise CheckpointError(
                f"{weights_path} stores {key} as {value.dtype}; only float32 or float16 weights are accepted — "
                "re-save it with models.checkpoints.save_checkpoint"
            )
    return state


def _fit(weights_path: Path, model: nn.Module, spec: ModelSpec, state: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) e.g. {', '.join(unexpected[:3])}")
    for key, tensor in expected.items():
        if key in state and state[key].shape != tensor.shape:
            problems.append(f"{key} has shape {list(state[key].shape)} in the file, {list(tensor.shape)} in the model")
            break
    if problems:
        raise CheckpointError(
            f"{weights_path} does not fit the {spec.arch} architecture its card describes ({'; '.join(problems)}); "
            f"the weights belong to another model — use the card that came with them or retrain with {TRAIN_COMMAND}"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # e.g. an integer buffer saved with another dtype
        raise CheckpointError(
            f"{weights_path} does not fit the {spec.arch} architecture its card describes ({error}); "
            f"retrain with {TRAIN_COMMAND}"
        ) from error


def load_checkpoint(
    path: str | os.PathLike[str], *, task: str | None = None, image: str | None = None, image_size: int | None = None
) -> LoadedCheckpoint:
    """Load and fully check the checkpoint at ``path`` (folder, ``model.pt`` or ``card.json``).

    Order: card (fields, spec), expectations (``task``/``image``/``image_size`` when given),
    ``torch.load(weights_only=True)`` of the bytes read once, SHA-256 against the card, state-dict
    structure and dtypes, finite values, strict fit to the architecture after casting to float32.

    Raises:
        CheckpointError: any problem; the message names the file and says what to do.
    """
    folder = checkpoint_folder(path)
    card = _read_card(folder)
    spec = card.spec
    _expect(folder, card, task, image, image_size)
    weights_path = _require_file(folder, WEIGHTS_NAME)
    payload = _read_bytes(weights_path)
    state = _unpickle(weights_path, payload)
    digest = hashlib.sha256(payload).hexdigest()
    if digest != card.weights_sha256:
        raise CheckpointError(
            f"checkpoint {folder}: card and weights disagree: the checkpoint was modified or half-written "
            f"(card.json expects sha256 {card.weights_sha256[:12]}…, model.pt has {digest[:12]}…); "
            f"copy the whole folder again or retrain with {TRAIN_COMMAND}"
        )
    state = _check_state(weights_path, state)
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"{weights_path} holds NaN or infinite values in {key}: the training diverged; retrain with "
                f"{TRAIN_COMMAND}"
            )
    model = build_model(spec)
    _fit(weights_path, model, spec, state)
    model.float().eval()
    return LoadedCheckpoint(model=model, spec=spec, card=card, folder=folder)
