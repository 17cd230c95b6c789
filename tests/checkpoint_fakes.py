"""Damaged and forged checkpoints for tests: edited cards, replaced weights, pickles that run code."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import pickle
from pathlib import Path
from typing import Any

import torch

from models.checkpoints import CARD_NAME, WEIGHTS_NAME


def rewrite_card(folder: Path, **changes: Any) -> dict[str, Any]:
    card = json.loads((folder / CARD_NAME).read_text())
    card.update(changes)
    (folder / CARD_NAME).write_text(json.dumps(card))
    return card


def replace_weights(folder: Path, payload: bytes, *, update_card: bool) -> None:
    """Put ``payload`` under model.pt; with ``update_card`` also make the card's sha256 match (a forger's edit)."""
    (folder / WEIGHTS_NAME).write_bytes(payload)
    if update_card:
        rewrite_card(folder, weights_sha256=hashlib.sha256(payload).hexdigest())


def torch_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class TouchOnLoad:
    """Unpickling this calls ``Path.touch(marker)``: a file that runs code when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


def code_carrying_payload(marker: Path, fmt: str) -> bytes:
    """A state dict whose loading creates ``marker``: ``fmt`` is ``"torch.save"`` or a plain pickle."""
    state = {"stem.0.weight": TouchOnLoad(marker)}
    if fmt == "torch.save":
        return torch_bytes(state)
    return pickle.dumps(state, protocol=2)
