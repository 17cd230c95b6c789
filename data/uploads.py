"""Uploaded bars kept in the cache under their content's digest, never under the uploader's name.

An upload is read once and becomes the session's data on every page; a model trained on it records
its data source, which What if and Evaluate read again. The file itself is never written: its
canonical bars, with the file's name and reading report as metadata, are stored in
``<cache>/uploads/<digest>.parquet`` (atomically; the digest is of the bars, the name and the
report), and the source is named ``upload:<digest>`` — a name the server chose, so no user text
ever becomes a path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import pandas as pd

from data.bars import LoadedBars, infer_interval
from data.cache import cache_path, read_frame, write_frame
from data.errors import DataError

UPLOAD_PREFIX = "upload:"
_DIGEST = re.compile(r"^[0-9a-f]{32}$")


def store_upload(loaded: LoadedBars) -> LoadedBars:
    """Keep ``loaded``'s bars in the cache; return them named by the source that reads them back.

    Returns:
        ``loaded`` with ``source = "upload:<32 hex digits>"`` — the first 128 bits of the SHA-256
        of the bars, the file's name and its reading report (so two files whose bars agree keep
        their own) —, ``file_name`` its former source (the file's name) and a note naming it.
    """
    metadata = {
        "name": loaded.source,
        "layout": loaded.layout,
        "timezone": loaded.timezone or "",
        # the reading report travels with the bars: what was rejected or repaired, and why
        "rejected": json.dumps(loaded.rejected, sort_keys=True),
        "rejected_examples": json.dumps(loaded.rejected_examples, sort_keys=True),
        "notes": json.dumps(list(loaded.notes)),
    }
    # the digest covers the report and the name too: two files whose bars agree keep their own reports
    content = hashlib.sha256(pd.util.hash_pandas_object(loaded.bars, index=True).to_numpy().tobytes())
    content.update(json.dumps(metadata, sort_keys=True).encode("utf-8"))
    digest = content.hexdigest()[:32]
    path = cache_path("uploads", f"{digest}.parquet")
    if read_frame(path) is None:
        write_frame(path, loaded.bars, metadata)
    source = UPLOAD_PREFIX + digest
    return dataclasses.replace(
        loaded, source=source, file_name=loaded.source, notes=(*loaded.notes, _kept_note(loaded.source, source))
    )


def _kept_note(name: str, source: str) -> str:
    return f"an upload ({name}) kept in the cache as {source}"


def load_upload_source(source: str) -> LoadedBars:
    """The bars stored by :func:`store_upload` under ``source`` (``"upload:<digest>"``).

    Raises:
        DataError: ``source`` is not such a name, or its bars are no longer in the cache.
    """
    digest = source.removeprefix(UPLOAD_PREFIX)
    if not source.startswith(UPLOAD_PREFIX) or not _DIGEST.match(digest):
        raise DataError(f"source must be 'upload:' and 32 hex digits, got {source!r}")
    stored = read_frame(cache_path("uploads", f"{digest}.parquet"))
    if stored is None:
        raise DataError(
            f"the uploaded data {source} is not in this server's cache folder (a link from another server, or a "
            "cleared cache): upload the file again"
        )
    bars, metadata = stored
    return LoadedBars(
        bars=bars,
        source=source,
        layout=metadata.get("layout", "upload"),
        interval=infer_interval(bars.index) if len(bars) > 1 else "unknown",
        timezone=metadata.get("timezone") or None,
        rejected=_json(metadata, "rejected", {}),
        rejected_examples=_json(metadata, "rejected_examples", {}),
        notes=(*_json(metadata, "notes", []), _kept_note(metadata.get("name", "?"), source)),
        file_name=metadata.get("name") or None,
    )


def _json(metadata: dict[str, str], key: str, empty: dict | list) -> dict | list:
    """A JSON field of the stored metadata; ``empty`` when absent or unreadable (an older upload)."""
    try:
        value = json.loads(metadata.get(key, ""))
    except ValueError:
        return empty
    return value if isinstance(value, type(empty)) else empty


def is_upload_source(source: str) -> bool:
    return source.startswith(UPLOAD_PREFIX)


__all__ = ["UPLOAD_PREFIX", "is_upload_source", "load_upload_source", "store_upload"]
