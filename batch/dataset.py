"""A batch run's dataset on disk, and how it is read back.

::

    OUT/manifest.json                  task, model, card digest, methods, image: what every row explains
    OUT/windows/<part>.parquet         one row per window of one source (the partition)
    OUT/maps/<part>/<method>.npy       the same windows' full maps, float16 (N, S, S), one file per method
    OUT/errors.json                    sources that failed in the last run, and why

Parquet for the rows (columnar, read by pandas, pyarrow or DuckDB without loading the maps); one
NumPy ``.npy`` per method and source for the maps (no extra dependency): appended batch by batch
as the engine explains them (:class:`PartitionMaps`: a source's maps are never all in memory —
ten years of hourly windows are 2.8 GB), and read back memory-mapped (one window without reading
the rest). A partition is written into temporary names and renamed into
place — maps first, rows last — so a partition is finished exactly when its rows file exists: a
rerun skips it, and a kill leaves only temporary files nobody reads (removed by the next run).
Format 2 datasets (the maps of a source in one ``<part>.npz``) are still read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import torch

FORMAT = 3
#: Formats :func:`read_rows` and :func:`read_maps` read (2: a source's maps in one ``.npz``).
READABLE_FORMATS = (2, 3)
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
        for stale in (out / folder).glob("*.tmp-*"):  # a killed run's half-written files
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()


def finished(out: Path, source: str) -> bool:
    return (out / "windows" / f"{part_name(source)}.parquet").exists()


class WriteError(OSError):
    """A partition could not be written (a full disk): nothing of it is visible, its space is given back."""


class PartitionMaps:
    """One partition's maps, written batch by batch as the engine explains them.

    A float16 ``.npy`` of shape ``(N, S, S)`` per method in a temporary folder, each batch
    appended as it comes (plain writes: half a memory map's cost, and a full disk is an ordinary
    error), renamed into place by :meth:`commit`. As a context manager, an exception discards the
    folder: nothing of it is visible.

    Raises:
        WriteError: the disk cannot hold the partition's maps (nothing is left behind).
    """

    def __init__(self, out: Path, source: str, methods: Sequence[str], shape: tuple[int, int, int]) -> None:
        self.place = Path(out) / "maps" / part_name(source)
        self.folder = self.place.with_name(f"{self.place.name}.tmp-{os.getpid()}")
        self.shape = shape
        self._files: dict[str, BinaryIO] = {}
        self._filled = dict.fromkeys(methods, 0)  # rows written so far, per method
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False, "shape": shape}
        try:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            for key in methods:
                self._files[key] = open(self.folder / f"{key}.npy", "wb")  # noqa: SIM115 — closed by commit/discard
                np.lib.format.write_array_header_1_0(self._files[key], header)
        except OSError as error:
            self.discard()
            raise WriteError(str(error)) from error

    def write(self, rows: np.ndarray, key: str, maps: np.ndarray) -> None:
        """Append ``maps`` ``(len(rows), S, S)`` (cast to float16 by torch: 7× faster than NumPy).

        Raises:
            ValueError: ``rows`` do not continue ``key``'s maps in order.
            WriteError: the disk is full.
        """
        first = self._filled[key]
        if not np.array_equal(rows, np.arange(first, first + len(rows))):
            raise ValueError(f"rows must continue the {key} maps in order from row {first}, got {rows[:3]}…")
        try:
            self._files[key].write(torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)).half().numpy())
        except OSError as error:
            raise WriteError(str(error)) from error
        self._filled[key] = first + len(rows)

    def commit(self) -> None:
        """Close and rename into place, replacing the maps a killed run left without their rows. Like
        the rows, the maps are left to the page cache (no ``fsync``: it would wait on the disk).

        Raises:
            ValueError: a method's maps are not all written.
        """
        short = {key: filled for key, filled in self._filled.items() if filled != self.shape[0]}
        if short:
            raise ValueError(f"every method needs {self.shape[0]} maps before commit, got {short}")
        self._close()
        if self.place.exists():
            shutil.rmtree(self.place)
        os.replace(self.folder, self.place)

    def discard(self) -> None:
        with contextlib.suppress(OSError):  # a full disk cannot take the buffer's last bytes: they go with it
            self._close()
        self._files.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _close(self) -> None:
        while self._files:
            self._files.popitem()[1].close()

    def __enter__(self) -> PartitionMaps:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.discard()


def write_rows(out: Path, source: str, rows: pd.DataFrame) -> None:
    """The partition's rows, last: written to a temporary file and renamed into place (it is then finished).

    Raises:
        OSError: a write failed (a full disk): its temporary file is removed, nothing of it is visible.
    """
    _write_into_place(
        out / "windows" / f"{part_name(source)}.parquet", lambda handle: rows.to_parquet(handle, index=False)
    )


def finish_partition(out: Path, source: str, rows: pd.DataFrame, maps: PartitionMaps) -> None:
    """The partition's maps into place, then its rows (it is then finished).

    Raises:
        WriteError: either failed; both are removed.
    """
    try:
        maps.commit()
        write_rows(out, source, rows)
    except OSError as error:
        maps.discard()
        shutil.rmtree(maps.place, ignore_errors=True)
        raise WriteError(str(error)) from error


def write_partition(out: Path, source: str, rows: pd.DataFrame, maps: dict[str, np.ndarray]) -> None:
    """A whole partition from maps held in memory, ``(N, S, S)`` per method.

    Raises:
        WriteError: the disk could not hold it (nothing of it is visible).
    """
    shape = next(iter(maps.values())).shape
    with PartitionMaps(out, source, list(maps), shape) as stored:
        for key, value in maps.items():
            stored.write(np.arange(len(value)), key, value)
        finish_partition(out, source, rows, stored)


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


def read_maps(out: Path, source: str, method: str, *, memory_mapped: bool = False) -> np.ndarray:
    """``(N, S, S)`` one method's maps of one source, in its rows' order: float32, or with
    ``memory_mapped`` the stored float16 read from disk only where indexed (format 3)."""
    folder = Path(out) / "maps"
    shard = folder / f"{part_name(source)}.npz"
    if shard.exists():  # format 2
        with np.load(shard, allow_pickle=False) as arrays:
            return arrays[method].astype(np.float32)
    stored = np.load(folder / part_name(source) / f"{method}.npy", mmap_mode="r", allow_pickle=False)
    return stored if memory_mapped else stored.astype(np.float32)


def _atomic_write(path: Path, payload: bytes) -> None:
    _write_into_place(path, lambda handle: handle.write_bytes(payload))
