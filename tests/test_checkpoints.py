"""Checkpoints: weights-only loading, atomic writes, the card as the check, ``python -m models describe``.

Real torch models throughout: a small CNN-LSTM regressor (cheap, saved per test) and a real
ResNet-18 classifier (11M parameters, saved twice per module).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from models import checkpoints
from models.__main__ import main
from models.architectures import ModelSpec, build_model
from models.checkpoints import (
    CARD_NAME,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    CheckpointError,
    load_checkpoint,
    read_card,
    save_checkpoint,
)
from tests.checkpoint_fakes import (
    TouchOnLoad,
    code_carrying_payload,
    replace_weights,
    rewrite_card,
    torch_bytes,
)
from tests.conftest import REPO_ROOT

SMALL = {"image_size": 64, "width": 4, "extract_channels": 4, "lstm_hidden": 8, "head_hidden": 8}
#: float16 tolerances, measured: 2.4e-7 (one float32 ulp at log10 ≈ 2) and 0.19 % of the largest logit.
REGRESSOR_HALF_ATOL_LOG10 = 1e-5
CLASSIFIER_HALF_RTOL_OF_MAX = 0.01


def make_card(**extra: Any) -> dict[str, Any]:
    """The fields the trainer writes; save_checkpoint fills the rest."""
    return {
        "data": {"source": "demo:ACME", "first": "2024-01-02T09:15:00", "last": "2024-03-28T15:29:00"},
        "split": {"fractions": [0.81, 0.09, 0.1], "train": 40, "validation": 4, "test": 5, "chronological": True},
        "training": {"epochs": 2, "seconds": 1.5, "seed": 7, "versions": {"torch": torch.__version__}},
        "metrics": {"model": {"rmse_log": 0.01}, "baseline": {"rmse_log": 0.02}},
        "command": "python -m models.train --task ticker --data demo:ACME --out models/x",
        **extra,
    }


def randomised(model: nn.Module, seed: int) -> nn.Module:
    """Give the model weights whose outputs depend on every part (the head's last layer starts at 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.startswith(("image_head", "sequence_head", "autoregression", "fc", "first_hour")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator) * 0.1)
            elif name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)
    return model.eval()


def small_regressor(seed: int = 0, arch: str = "cnn-lstm-resnet18", **overrides: Any) -> nn.Module:
    torch.manual_seed(seed)
    spec = ModelSpec.default("ticker", arch=arch, **{**SMALL, **overrides})
    return randomised(build_model(spec), seed)


def inputs(spec: ModelSpec) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(3, 1, spec.image_size, spec.image_size, generator=generator) * 2 - 1
    closes = 100 + torch.rand(3, spec.sequence_length, generator=generator)
    return image, torch.log10(closes)


def outputs(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(*inputs(model.spec))


def files_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.fixture
def ticker_checkpoint(tmp_path: Path) -> Path:
    return save_checkpoint(tmp_path / "ticker", small_regressor(), make_card())


@pytest.fixture(scope="module")
def nifty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real ResNet-18 classifier saved in float32 and float16 (the only two ResNet saves)."""
    torch.manual_seed(0)
    model = randomised(build_model(ModelSpec.default("nifty", image_size=32)), seed=0)
    folder = tmp_path_factory.mktemp("nifty")
    card = make_card(metrics={"model": {"accuracy": 0.55}, "baseline": {"accuracy": 0.51}}, notes="kept")
    return {
        "model": model,
        "reference": outputs(model),
        "card": card,
        "full": save_checkpoint(folder / "full", model, card),
        "half": save_checkpoint(folder / "half", model, card, half=True),
    }


# --------------------------------------------------------------------------- round trips


def test_float32_round_trip_is_exact_for_the_classifier(nifty):
    loaded = load_checkpoint(nifty["full"])
    assert torch.equal(outputs(loaded.model), nifty["reference"])
    assert not loaded.model.training
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    assert loaded.spec == nifty["model"].spec
    assert loaded.folder == nifty["full"]
    # the trainer's fields and extra fields are kept; save_checkpoint filled the rest
    assert {key: loaded.card.to_json()[key] for key in nifty["card"]} == nifty["card"]
    assert loaded.card.to_json()["notes"] == "kept"
    assert loaded.card.to_json()["spec"] == nifty["model"].spec.to_dict()
    assert (
        loaded.card.to_json()["task"],
        loaded.card.to_json()["arch"],
        loaded.card.to_json()["image"],
        loaded.card.to_json()["image_size"],
    ) == (
        "nifty",
        "resnet18",
        "gadf",
        32,
    )
    assert loaded.card.to_json()["format_version"] == FORMAT_VERSION == 1
    assert loaded.card.to_json()["weights_dtype"] == "float32"
    assert (
        loaded.card.to_json()["weights_sha256"]
        == hashlib.sha256((nifty["full"] / WEIGHTS_NAME).read_bytes()).hexdigest()
    )


def test_float16_halves_the_file_and_stays_within_tolerance_for_the_classifier(nifty):
    full_size = (nifty["full"] / WEIGHTS_NAME).stat().st_size
    half_size = (nifty["half"] / WEIGHTS_NAME).stat().st_size
    assert 0.48 < half_size / full_size < 0.52
    state = torch.load(nifty["half"] / WEIGHTS_NAME, weights_only=True)
    assert {t.dtype for t in state.values() if t.is_floating_point()} == {torch.float16}
    loaded = load_checkpoint(nifty["half"] / WEIGHTS_NAME)  # model.pt path accepted too
    assert loaded.card.to_json()["weights_dtype"] == "float16"
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    got, reference = outputs(loaded.model), nifty["reference"]
    assert not torch.equal(got, reference)  # it really was rounded
    tolerance = CLASSIFIER_HALF_RTOL_OF_MAX * reference.abs().max().item()
    assert (got - reference).abs().max().item() <= tolerance


def test_round_trips_for_the_regressor(tmp_path):
    model = small_regressor()
    reference = outputs(model)
    assert reference.std() > 0  # the randomised head makes outputs depend on the weights
    full = save_checkpoint(tmp_path / "full", model, make_card())
    half = save_checkpoint(tmp_path / "half", model, make_card(), half=True)
    assert files_in(full) == {CARD_NAME, WEIGHTS_NAME}
    assert torch.equal(outputs(load_checkpoint(full / CARD_NAME).model), reference)
    got = outputs(load_checkpoint(str(half)).model)
    assert (got - reference).abs().max().item() <= REGRESSOR_HALF_ATOL_LOG10
    assert read_card(half).to_json()["weights_dtype"] == "float16"


def test_expected_task_image_and_size_that_match_load(nifty):
    loaded = load_checkpoint(nifty["full"], task="nifty", image="gadf", image_size=32)
    assert loaded.spec.arch == "resnet18"


def test_save_refuses_a_card_that_contradicts_the_model(tmp_path):
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(tmp_path / "x", small_regressor(), make_card(task="nifty"))
    assert str(caught.value) == (
        f"cannot save to {tmp_path / 'x'}: the card says task='nifty' but the model's spec has 'ticker'"
    )
    assert not (tmp_path / "x").exists()


def test_save_refuses_an_incomplete_card_before_writing(tmp_path):
    card = make_card()
    del card["command"]
    with pytest.raises(CheckpointError, match=r"lacks required field\(s\) command"):
        save_checkpoint(tmp_path / "x", small_regressor(), card)
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- atomic writes


class Crash(BaseException):
    """A process dying mid-write (not an ordinary error anybody catches)."""


@pytest.mark.parametrize("crash_at", ["fsync", "first replace"])
def test_a_crash_while_overwriting_leaves_the_old_checkpoint_intact(ticker_checkpoint, monkeypatch, crash_at):
    before = {name: (ticker_checkpoint / name).read_bytes() for name in (CARD_NAME, WEIGHTS_NAME)}
    reference = outputs(load_checkpoint(ticker_checkpoint).model)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(os, "fsync" if crash_at == "fsync" else "replace", crash)
    with pytest.raises(Crash):
        save_checkpoint(ticker_checkpoint, small_regressor(seed=1), make_card(), half=True)
    monkeypatch.undo()

    assert files_in(ticker_checkpoint) == {CARD_NAME, WEIGHTS_NAME}  # no temp file left behind
    assert {name: (ticker_checkpoint / name).read_bytes() for name in before} == before
    assert torch.equal(outputs(load_checkpoint(ticker_checkpoint).model), reference)


def test_a_crash_between_the_two_replaces_is_reported_at_load(ticker_checkpoint, monkeypatch):
    real_replace = os.replace
    calls = []

    def replace_then_crash(source: Any, target: Any) -> None:
        calls.append(Path(target).name)
        if len(calls) == 2:
            raise Crash
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_then_crash)
    with pytest.raises(Crash):
        save_checkpoint(ticker_checkpoint, small_regressor(seed=1), make_card())
    monkeypatch.undo()

    assert calls == [WEIGHTS_NAME, CARD_NAME]  # weights first, then the card
    assert files_in(ticker_checkpoint) == {CARD_NAME, WEIGHTS_NAME}
    card = read_card(ticker_checkpoint)  # the old card is whole
    digest = hashlib.sha256((ticker_checkpoint / WEIGHTS_NAME).read_bytes()).hexdigest()
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == (
        f"checkpoint {ticker_checkpoint}: card and weights disagree: the checkpoint was modified or half-written "
        f"(card.json expects sha256 {card.weights_sha256[:12]}…, model.pt has {digest[:12]}…); "
        "copy the whole folder again or retrain with python -m models.train"
    )


def test_a_failed_write_is_a_checkpoint_error_and_keeps_the_old_files(ticker_checkpoint, monkeypatch):
    before = (ticker_checkpoint / WEIGHTS_NAME).read_bytes()

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(ticker_checkpoint, small_regressor(seed=1), make_card())
    monkeypatch.undo()
    assert str(caught.value) == (
        f"cannot write checkpoint {ticker_checkpoint}: No space left on device; check free space and permissions"
    )
    assert files_in(ticker_checkpoint) == {CARD_NAME, WEIGHTS_NAME}
    assert (ticker_checkpoint / WEIGHTS_NAME).read_bytes() == before


# --------------------------------------------------------------------------- unsafe and broken weights


@pytest.mark.parametrize("fmt", ["torch.save", "pickle protocol 2"])
@pytest.mark.parametrize("update_card", [True, False], ids=["card forged too", "card untouched"])
def test_a_pickle_carrying_code_is_refused_without_running(ticker_checkpoint, tmp_path, fmt, update_card):
    # the payload really runs code when loaded unsafely ...
    control = tmp_path / "control-marker"
    payload = code_carrying_payload(control, fmt)
    if fmt == "torch.save":
        torch.load(io.BytesIO(payload), weights_only=False)
    else:
        pickle.loads(payload)
    assert control.exists()
    # ... and the loader refuses it before anything runs
    marker = tmp_path / "marker"
    replace_weights(ticker_checkpoint, code_carrying_payload(marker, fmt), update_card=update_card)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == (
        f"{ticker_checkpoint / WEIGHTS_NAME} refused: the file is not a plain tensor file and would need to run "
        "code to load; only state dicts saved by python -m models.train are accepted"
    )
    assert not marker.exists()


def corrupted_message(folder: Path) -> str:
    return (
        f"{folder / WEIGHTS_NAME} is truncated, corrupted or not a torch state dict, and cannot be read safely; "
        "copy the checkpoint again or retrain with python -m models.train"
    )


def test_a_truncated_file_is_reported_as_corrupted(ticker_checkpoint):
    weights = ticker_checkpoint / WEIGHTS_NAME
    payload = weights.read_bytes()
    weights.write_bytes(payload[: len(payload) // 2])  # the card is left as it was
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == corrupted_message(ticker_checkpoint)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not a torch file at all", bytes(4096), "pickle-protocol-4"],
    ids=["empty", "text", "zeros", "pickle protocol 4 carrying code"],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol 4:UserWarning")
def test_unreadable_bytes_are_reported_as_corrupted(ticker_checkpoint, tmp_path, payload):
    marker = tmp_path / "marker"
    if payload == "pickle-protocol-4":  # the weights-only unpickler stops at the frame opcode, before the global
        payload = pickle.dumps({"w": TouchOnLoad(marker)}, protocol=4)
    replace_weights(ticker_checkpoint, payload, update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == corrupted_message(ticker_checkpoint)
    assert not marker.exists()


#: The first storage reference in the shipped regressor's pickle: ... 'cpu' q\x06 K H t q\x07 Q (BINPERSID;
#: the stem's 8 × 1 × 3 × 3 = 72 values, a BININT1).
FIRST_STORAGE = b"KHtq\x07Q"


def shipped_weights_with(offset: int, value: int) -> bytes:
    """The shipped regressor's model.pt with one byte near its first storage reference changed."""
    payload = bytearray((REPO_ROOT / "models" / "shipped" / "ticker" / WEIGHTS_NAME).read_bytes())
    payload[payload.index(FIRST_STORAGE) + offset] = value
    return bytes(payload)


@pytest.mark.parametrize(
    "make_payload",
    [
        lambda: b"G",  # BINFLOAT without its 8 bytes: struct.error
        lambda: shipped_weights_with(-2, 0x8A),  # a LONG1 swallows the tuple: AssertionError "saved_id must be a tuple"
        lambda: shipped_weights_with(-11, 0x04),  # a storage type that is a str: AttributeError "no attribute 'dtype'"
    ],
    ids=["opcode cut short", "storage id not a tuple", "storage type not a type"],
)
def test_malformed_pickles_are_reported_as_corrupted(ticker_checkpoint, make_payload):
    # Found by tests/test_fuzz.py: these escaped load_checkpoint as struct.error, AssertionError, AttributeError.
    replace_weights(ticker_checkpoint, make_payload(), update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == corrupted_message(ticker_checkpoint)


def test_weights_of_another_model_are_a_sha_mismatch(ticker_checkpoint, tmp_path):
    other = save_checkpoint(tmp_path / "other", small_regressor(seed=1), make_card())
    shutil.copyfile(other / WEIGHTS_NAME, ticker_checkpoint / WEIGHTS_NAME)
    with pytest.raises(
        CheckpointError, match=r"card and weights disagree: the checkpoint was modified or half-written"
    ):
        load_checkpoint(ticker_checkpoint)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            [torch.zeros(2)],
            "holds a list, not a state dict (names → tensors); "
            "only state dicts saved by python -m models.train are accepted",
        ),
        (
            {"stem.0.weight": 3},
            "is not a state dict: entry 'stem.0.weight' holds a int, not a tensor; "
            "only state dicts saved by python -m models.train are accepted",
        ),
        (
            {"stem.0.weight": torch.zeros(2, dtype=torch.float64)},
            "stores stem.0.weight as torch.float64; only float32 or float16 weights are accepted — "
            "re-save it with models.checkpoints.save_checkpoint",
        ),
    ],
    ids=["list", "int value", "float64"],
)
def test_weights_that_are_not_a_state_dict_of_tensors(ticker_checkpoint, content, message):
    replace_weights(ticker_checkpoint, torch_bytes(content), update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == f"{ticker_checkpoint / WEIGHTS_NAME} {message}"


def test_non_finite_weights_are_refused(ticker_checkpoint):
    state = small_regressor().state_dict()
    state["sequence_head.0.bias"][0] = float("nan")
    replace_weights(ticker_checkpoint, torch_bytes(state), update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == (
        f"{ticker_checkpoint / WEIGHTS_NAME} holds NaN or infinite values in sequence_head.0.bias: "
        "the training diverged; retrain with python -m models.train"
    )


def test_a_state_dict_of_another_architecture_is_refused(ticker_checkpoint):
    other = small_regressor(arch="cnn-lstm-resnet34").state_dict()  # (3, 4, 6, 3) blocks, card says resnet18
    replace_weights(ticker_checkpoint, torch_bytes(other), update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == (
        f"{ticker_checkpoint / WEIGHTS_NAME} does not fit the cnn-lstm-resnet18 architecture its card describes "
        "(96 unexpected key(s) e.g. trunk.0.2.bn1.bias, trunk.0.2.bn1.num_batches_tracked, "
        "trunk.0.2.bn1.running_mean); the weights belong to another model — use the card that came with them "
        "or retrain with python -m models.train"
    )


def test_a_state_dict_of_another_width_names_the_first_shape_mismatch(ticker_checkpoint):
    wider = small_regressor(width=8).state_dict()
    del wider["lstm.bias_hh_l1"]
    replace_weights(ticker_checkpoint, torch_bytes(wider), update_card=True)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint)
    assert str(caught.value) == (
        f"{ticker_checkpoint / WEIGHTS_NAME} does not fit the cnn-lstm-resnet18 architecture its card describes "
        "(1 missing key(s) e.g. lstm.bias_hh_l1; stem.0.weight has shape [8, 1, 3, 3] in the file, "
        "[4, 1, 3, 3] in the model); the weights belong to another model — use the card that came with them "
        "or retrain with python -m models.train"
    )


# --------------------------------------------------------------------------- expectations


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (
            {"task": "ticker"},
            "is for the nifty task, not ticker; pick a ticker checkpoint "
            "or train one with python -m models.train --task ticker ...",
        ),
        (
            {"image": "candlestick"},
            "takes gadf images, not candlestick; pick a candlestick checkpoint "
            "or train one with python -m models.train --task nifty --image candlestick ...",
        ),
        (
            {"image_size": 64},
            "takes 32-px images, not 64-px; pick a 64-px checkpoint "
            "or train one with python -m models.train --task nifty --image gadf --image-size 64 ...",
        ),
    ],
    ids=["task", "image", "image_size"],
)
def test_mismatched_expectations(nifty, expect, message):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(nifty["full"], **expect)
    assert str(caught.value) == f"checkpoint {nifty['full']} {message}"


# --------------------------------------------------------------------------- cards and paths


def _drop(card: dict[str, Any], *path: str) -> None:
    target = card
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


SOLUTION = "restore the card that came with the weights or retrain with python -m models.train"
NOT_WRITTEN = "it was not written by python -m models.train; restore the card that came with the weights or retrain"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda card: _drop(card, "metrics"), f" lacks required field(s) metrics: {NOT_WRITTEN}"),
        (
            lambda card: (_drop(card, "training", "seed"), _drop(card, "weights_sha256")),
            f" lacks required field(s) weights_sha256, training.seed: {NOT_WRITTEN}",
        ),
        (lambda card: card.update(image_size="64"), f": field image_size must be an int, got '64'; {SOLUTION}"),
        (
            lambda card: card["training"].update(epochs=True),
            f": field training.epochs must be an int, got True; {SOLUTION}",
        ),
        (lambda card: card.update(data="demo:ACME"), f": field data must be an object, got 'demo:ACME'; {SOLUTION}"),
        (
            lambda card: card.update(format_version=2),
            " has format_version 2, but this code reads format 1; update chart-xai or retrain with "
            "python -m models.train",
        ),
        (
            lambda card: card.update(weights_dtype="bfloat16"),
            f": weights_dtype must be one of ['float16', 'float32'], got 'bfloat16'; {SOLUTION}",
        ),
        (
            lambda card: (card.update(arch="resnet50"), card["spec"].update(arch="resnet50")),
            ": the model spec is not valid: arch must be one of ('cnn-lstm-resnet34', 'cnn-lstm-resnet18') for the "
            "ticker task, got 'resnet50'; retrain with python -m models.train or restore the card",
        ),
        (
            lambda card: (card.update(task="options"), card["spec"].update(task="options")),
            ": the model spec is not valid: task must be one of ('nifty', 'ticker', 'nifty-rest'), got 'options'; "
            "retrain with python -m models.train or restore the card",
        ),
        (
            lambda card: card["spec"].update(dropout=0.5),
            ": the model spec is not valid: ModelSpec.__init__() got an unexpected keyword argument 'dropout'; "
            "retrain with python -m models.train or restore the card",
        ),
        (
            lambda card: card.update(image="gadf"),
            ": image is 'gadf' but spec.image is 'candlestick'; the card was edited by hand — "
            "restore it or retrain with python -m models.train",
        ),
    ],
    ids=[
        "no metrics",
        "no seed nor sha",
        "size as text",
        "epochs bool",
        "data not object",
        "newer format",
        "bfloat16",
        "unknown arch",
        "unknown task",
        "unknown spec field",
        "card vs spec",
    ],
)
def test_bad_cards(ticker_checkpoint, edit, message):
    card = json.loads((ticker_checkpoint / CARD_NAME).read_text())
    edit(card)
    (ticker_checkpoint / CARD_NAME).write_text(json.dumps(card))
    for call in (read_card, load_checkpoint):
        with pytest.raises(CheckpointError) as caught:
            call(ticker_checkpoint)
        assert str(caught.value) == f"{ticker_checkpoint / CARD_NAME}{message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"task": "ticker",', f"is not valid JSON (Expecting property name enclosed in double quotes at line 1 "
         f"column 19): {SOLUTION}"),
        ("[1, 2]", f"must hold a JSON object, got list; {SOLUTION}"),
    ],
    ids=["truncated JSON", "list"],
)  # fmt: skip
def test_cards_that_are_not_a_json_object(ticker_checkpoint, text, message):
    (ticker_checkpoint / CARD_NAME).write_text(text)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(ticker_checkpoint / WEIGHTS_NAME)
    assert str(caught.value) == f"{ticker_checkpoint / CARD_NAME} {message}"


def test_missing_paths_and_files(ticker_checkpoint, tmp_path):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path / "nowhere")
    assert str(caught.value) == (
        f"checkpoint {tmp_path / 'nowhere'} does not exist: give the folder written by python -m models.train "
        "--out DIR, or its model.pt"
    )
    stray = tmp_path / "weights.bin"
    stray.write_bytes(b"x")
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(stray)
    assert str(caught.value) == (
        f"{stray} is not a checkpoint: give the folder holding card.json and model.pt, or its model.pt"
    )
    (ticker_checkpoint / WEIGHTS_NAME).unlink()
    assert read_card(ticker_checkpoint).to_json()["task"] == "ticker"  # the card alone is readable
    for name in (WEIGHTS_NAME, CARD_NAME):
        if name == CARD_NAME:
            (ticker_checkpoint / CARD_NAME).unlink()
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(ticker_checkpoint / WEIGHTS_NAME)
        assert str(caught.value) == (
            f"checkpoint {ticker_checkpoint} has no {name}: it is incomplete; copy the whole folder again "
            "or retrain with python -m models.train"
        )


def test_loading_is_weights_only(ticker_checkpoint, monkeypatch):
    seen = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "load", spy)
    load_checkpoint(ticker_checkpoint)
    assert seen == [{"map_location": "cpu", "weights_only": True}]


# --------------------------------------------------------------------------- command line


def run_cli(*args: str, cache: os.PathLike) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHART_XAI_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "models", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_describe_in_a_subprocess(ticker_checkpoint, isolated_cache):
    done = run_cli("describe", str(ticker_checkpoint), cache=isolated_cache)
    assert done.returncode == 0, done.stderr
    card = json.loads((ticker_checkpoint / CARD_NAME).read_text())
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == card
    assert json.loads("\n".join(lines[:-1])) == card  # the indented copy above it
    assert done.stderr == ""


@pytest.mark.parametrize("case", ["truncated", "missing", "no argument"])
def test_describe_failures_in_a_subprocess(ticker_checkpoint, isolated_cache, case):
    if case == "truncated":
        weights = ticker_checkpoint / WEIGHTS_NAME
        weights.write_bytes(weights.read_bytes()[:1000])
        args, first = [str(weights)], corrupted_message(ticker_checkpoint)
    elif case == "missing":
        args, first = [str(ticker_checkpoint / "nope")], f"checkpoint {ticker_checkpoint / 'nope'} does not exist"
    else:
        args, first = [], "the following arguments are required: checkpoint"
    done = run_cli("describe", *args, cache=isolated_cache)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"error: {first}")


def test_describe_in_process(ticker_checkpoint, capsys):
    assert main(["describe", str(ticker_checkpoint / WEIGHTS_NAME)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == read_card(ticker_checkpoint).to_json()
    rewrite_card(ticker_checkpoint, task="nifty")
    assert main(["describe", str(ticker_checkpoint)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {ticker_checkpoint / CARD_NAME}: task is 'nifty' but spec.task is 'ticker'; the card was edited "
        "by hand — restore it or retrain with python -m models.train\n"
    )


def test_help_lists_describe(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "describe" in capsys.readouterr().out
