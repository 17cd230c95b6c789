"""A batch run's dataset on disk, and how it is read back.

::

    OUT/manifest.json             task, model, card digest, methods, image: what every row explains
    OUT/windows/<part>.parquet    one row per window of one source (the partition)
    OUT/maps/<part>.npz           the same windows' full maps, float16, one array per method
    OUT/errors.json               sources that failed in the last run, and why

Parquet for the rows (columnar, read by pandas, pyarrow or DuckDB without loading the maps); NPZ
shards for the maps (NumPy reads one method of one source without the rest; no extra dependency).
A partition is written as a temporary file and renamed into place — maps first, rows last — so a
partition is finished exactly when its rows file exists: a rerun skips it, and a kill leaves only
temporary files nobody reads (removed by the next run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = 2
MANIFEST = "manifest.json"
#: Manifest fields that must match for a rerun to add to a dataset.
IDENTITY = (
    "format", "task", "model", "card_digest", "methods", "trust", "reliance", "image", "image_size", "sequence_length",
)  # fmt: skip
#: What a manifest written before a field existed means by its absence.
DEFAULTS = {"reliance": False}


def part_name(source: str) -> str:
    """A file name for ``source``'s partition: readable, and unique by a digest of the whole text."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem if "/" in source else source)[:40]
    return f"{readable}-{hashlib.sha256(source.encode('utf-8')).hexdigest()[:10]}"


def prepare(out: Path, manifest: dict[str, Any]) -> None:
    """Create ``out`` for ``manifest``, or check that the dataset already there is the same run's.

    Raises:
        ValueError: ``out`` holds a dataset of another task, model or methods (named), or other files.
    """
    out.mkdir(parents=True, exist_ok=True)
    existing = out / MANIFEST
    if existing.exists():
        recorded = json.loads(existing.read_text(encoding="utf-8"))
        recorded = DEFAULTS | recorded
        different = [key for key in IDENTITY if recorded.get(key) != manifest.get(key)]
        if different:
            shown = ", ".join(f"{key} {recorded.get(key)!r} ≠ {manifest.get(key)!r}" for key in different)
            raise ValueError(f"{out} holds a dataset of another run ({shown}): choose another --out")
    elif any(out.iterdir()):
        raise ValueError(f"{out} is not empty and holds no {MANIFEST}: choose an empty or new folder for --out")
    else:
        _atomic_write(existing, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
    for folder in ("windows", "maps"):
        (out / folder).mkdir(exist_ok=True)
        for stale in (out / folder).glob("*.tmp-*"):
            stale.unlink()  # a killed run's half-written files


def finished(out: Path, source: str) -> bool:
    return (out / "windows" / f"{part_name(source)}.parquet").exists()


def write_partition(out: Path, source: str, rows: pd.DataFrame, maps: dict[str, np.ndarray]) -> None:
    """Maps, then rows, each written to a temporary file and renamed into place.

    Raises:
        OSError: a write failed (a full disk): its temporary file is removed, nothing of it is visible.
    """
    name = part_name(source)

    def write_maps(handle: Path) -> None:
        with open(handle, "wb") as opened:
            np.savez(opened, **{key: value.astype(np.float16) for key, value in maps.items()})

    _write_into_place(out / "maps" / f"{name}.npz", write_maps)
    _write_into_place(out / "windows" / f"{name}.parquet", lambda handle: rows.to_parquet(handle, index=False))


def _write_into_place(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_errors(out: Path, errors: dict[str, str]) -> None:
    _atomic_write(out / "errors.json", json.dumps(errors, indent=2, sort_keys=True).encode("utf-8"))


def read_manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.exists():
        raise ValueError(f"{out} is not a batch dataset (no {MANIFEST})")
    return json.loads(path.read_text(encoding="utf-8"))


def read_rows(out: Path) -> pd.DataFrame:
    """Every finished partition's rows, one frame (the maps stay on disk)."""
    read_manifest(out)
    parts = sorted((Path(out) / "windows").glob("*.parquet"))
    return pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True) if parts else pd.DataFrame()


def read_maps(out: Path, source: str, method: str) -> np.ndarray:
    """``(N, S, S)`` float32: one method's maps of one source, in its rows' order."""
    with np.load(Path(out) / "maps" / f"{part_name(source)}.npz", allow_pickle=False) as shard:
        return shard[method].astype(np.float32)


def _atomic_write(path: Path, payload: bytes) -> None:
    _write_into_place(path, lambda handle: handle.write_bytes(payload))
