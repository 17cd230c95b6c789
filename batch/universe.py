"""The sources a batch run covers, from what the user typed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from data.sources import DEMO_PREFIX
from models.tasks import task_named

#: File kinds a folder contributes.
BAR_FILE_SUFFIXES = (".csv", ".parquet")


def expand_universe(items: Sequence[str], task: str) -> list[str]:
    """``demo:*`` → the task's demo symbols; a folder → its CSV and Parquet files (sorted); any other
    item as given (a demo symbol, a file, a ticker). Duplicates are dropped, order kept.

    Raises:
        ValueError: nothing to run on, or a folder without bar files.
    """
    sources: list[str] = []
    for item in items:
        text = item.strip()
        if text.lower() == f"{DEMO_PREFIX}*":
            sources += [f"{DEMO_PREFIX}{symbol}" for symbol in task_named(task).demo_symbols]
        elif text and Path(text).is_dir():
            files = sorted(str(path) for path in Path(text).iterdir() if path.suffix.lower() in BAR_FILE_SUFFIXES)
            if not files:
                raise ValueError(f"folder {text!r} holds no {' or '.join(BAR_FILE_SUFFIXES)} files")
            sources += files
        elif text:
            sources.append(text)
    unique = list(dict.fromkeys(sources))
    if not unique:
        raise ValueError("the universe is empty: give demo:*, demo symbols, files, a folder or tickers")
    return unique
