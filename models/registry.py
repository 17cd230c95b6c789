"""The checkpoints shipped with the repository, and how the dashboard loads them.

Trained on the demo market with the default configuration of each task; each
card records the exact command that produced it (rerun it to reproduce the
weights). Stored in float16: 22.4 MB + 2.9 MB, under the 30 MB budget.
"""

from __future__ import annotations

from pathlib import Path

from models.checkpoints import LoadedCheckpoint, load_checkpoint

SHIPPED_ROOT = Path(__file__).resolve().parent / "shipped"
#: Task → folder of its shipped checkpoint.
SHIPPED: dict[str, Path] = {"nifty": SHIPPED_ROOT / "nifty", "ticker": SHIPPED_ROOT / "ticker"}


def load_shipped(task: str) -> LoadedCheckpoint:
    """Load the shipped checkpoint of ``task`` (``"nifty"`` or ``"ticker"``).

    Raises:
        ValueError: unknown task.
        CheckpointError: the shipped files are missing or damaged.
    """
    if task not in SHIPPED:
        raise ValueError(f"task must be one of {tuple(SHIPPED)}, got {task!r}")
    return load_checkpoint(SHIPPED[task], task=task)
