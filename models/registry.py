"""The checkpoints shipped with the repository, and how the dashboard loads them.

Trained on the demo market with the default configuration of each task; each
card records the exact command that produced it (rerun it on the same torch and
CPU instruction set, which the card records too, to reproduce the weights bit
for bit). Stored in float16: 1.5 MB (nifty) + 1.5 MB (nifty-rest) + 0.8 MB (ticker), under the
30 MB budget.
"""

from __future__ import annotations

from pathlib import Path

from data.settings import cache_dir
from models.checkpoints import CheckpointError, LoadedCheckpoint, load_checkpoint, read_card
from models.training import CHECKPOINTS_SUBDIR

SHIPPED_ROOT = Path(__file__).resolve().parent / "shipped"
#: Task → folder of its shipped checkpoint.
SHIPPED: dict[str, Path] = {task: SHIPPED_ROOT / task for task in ("nifty", "ticker", "nifty-rest")}


def load_shipped(task: str) -> LoadedCheckpoint:
    """Load the shipped checkpoint of ``task`` (a key of :data:`SHIPPED`).

    Raises:
        ValueError: unknown task.
        CheckpointError: the shipped files are missing or damaged.
    """
    if task not in SHIPPED:
        raise ValueError(f"task must be one of {tuple(SHIPPED)}, got {task!r}")
    return load_checkpoint(SHIPPED[task], task=task)


def available_checkpoints(task: str) -> dict[str, Path]:
    """Checkpoints of ``task`` a page can switch to: ``"shipped"`` first, then those trained here.

    Trained ones are the folders under ``<cache>/checkpoints`` whose card validates, is of
    ``task`` and has its weights, newest first, keyed by their generated folder names (never a
    user-chosen name). A damaged folder is left out, not fatal.

    Raises:
        ValueError: unknown task.
    """
    if task not in SHIPPED:
        raise ValueError(f"task must be one of {tuple(SHIPPED)}, got {task!r}")
    found: dict[str, Path] = {"shipped": SHIPPED[task]}
    root = cache_dir() / CHECKPOINTS_SUBDIR
    folders = sorted(root.glob(f"{task}-*"), reverse=True) if root.is_dir() else []
    for folder in folders:
        try:
            card = read_card(folder)
        except CheckpointError:
            continue
        if card.task == task and (folder / "model.pt").is_file():
            found[folder.name] = folder
    return found
