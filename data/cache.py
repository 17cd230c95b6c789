"""Files in the cache folder: written atomically, read defensively.

A cached frame is one Parquet file whose ``attrs`` carry its metadata, so a
file and its metadata can never disagree. Writes go to a temporary file in the
same folder and are moved into place with ``os.replace``: a crash mid-write
never leaves a half-written file under the real name. A file that cannot be
read is deleted and reported as missing, so the next fetch replaces it.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow

from data.settings import cache_dir


def cache_path(*parts: str) -> Path:
    """Path of a file inside the cache folder; every part must be a plain name.

    Raises:
        ValueError: a part is empty, hidden, or contains a path separator.
    """
    for part in parts:
        if not part or part.startswith(".") or "/" in part or "\\" in part or "\x00" in part:
            raise ValueError(f"cache path parts must be plain file names, got {part!r}")
    folder = cache_dir().joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    return folder / parts[-1]


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old or the new file, never a part."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # Make the rename itself durable (POSIX); not possible on every platform.
    with contextlib.suppress(OSError):
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_frame(path: Path, frame: pd.DataFrame, metadata: dict[str, str]) -> None:
    """Store ``frame`` with string ``metadata`` (kept in the file's attrs), atomically."""
    stored = frame.copy()
    stored.attrs = dict(metadata)
    buffer = io.BytesIO()
    stored.to_parquet(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_frame(path: Path) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """Return ``(frame, metadata)`` or ``None`` when missing; delete an unreadable file."""
    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pyarrow.ArrowException):
        path.unlink(missing_ok=True)
        return None
    metadata = {str(k): str(v) for k, v in frame.attrs.items()}
    frame.attrs = {}
    return frame, metadata
