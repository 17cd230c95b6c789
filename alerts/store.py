"""The alert store: one SQLite file (WAL mode) holding the watchlist, every check, every window
evaluated, every alert with its maps, and every notification attempt.

* The schema is versioned (``PRAGMA user_version``); :data:`MIGRATIONS` brings any older file up
  to :data:`SCHEMA_VERSION` in one transaction per step, and a file from a newer version is refused.
* An alert is unique per (watch entry, window end) and so is an evaluation: a rerun, a checker
  killed half way or two checkers racing insert nothing twice (``INSERT … ON CONFLICT DO NOTHING``),
  and a window evaluated is written in the same transaction as its alert, so a crash leaves
  either both or neither — the next check finishes the job.
* Each connection is opened per call (:meth:`AlertStore.connect`), with a busy timeout, so any
  number of processes (the checker, every dashboard session) share the file.

Bad input raises :class:`StoreError` with what to do (a file that is not a database, a newer
schema, a read-only folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from alerts.entries import WatchEntry
from data.settings import cache_dir

#: The store's file name under the cache folder, unless ``CHART_XAI_ALERTS_DB`` or a path is given.
DEFAULT_FILE = "alerts.sqlite"
#: Environment variable naming the store's path.
PATH_VARIABLE = "CHART_XAI_ALERTS_DB"
#: Seconds a connection waits for another's write lock before giving up.
BUSY_TIMEOUT_S = 30.0

_V1 = """
CREATE TABLE watch (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    threshold_pct REAL NOT NULL CHECK (threshold_pct > 0),
    direction TEXT NOT NULL CHECK (direction IN ('rises', 'falls', 'both')),
    model TEXT NOT NULL,
    calendar TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE checks (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    clock TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'interrupted', 'skipped')),
    entries INTEGER NOT NULL DEFAULT 0,
    symbols INTEGER NOT NULL DEFAULT 0,
    windows INTEGER NOT NULL DEFAULT 0,
    alerts INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    errors TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE evaluations (
    watch_id INTEGER NOT NULL,
    window_end TEXT NOT NULL,
    check_id INTEGER,
    forecast_pct REAL NOT NULL,
    fired INTEGER NOT NULL,
    PRIMARY KEY (watch_id, window_end)
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    watch_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    window_end TEXT NOT NULL,
    target_time TEXT,
    model TEXT NOT NULL,
    card_digest TEXT NOT NULL,
    last_close REAL NOT NULL,
    forecast_close REAL NOT NULL,
    forecast_pct REAL NOT NULL,
    threshold_pct REAL NOT NULL,
    direction TEXT NOT NULL,
    created TEXT NOT NULL,
    check_id INTEGER,
    maps BLOB NOT NULL,
    png BLOB NOT NULL,
    actual_pct REAL,
    outcome TEXT CHECK (outcome IN ('right', 'wrong sign', 'below threshold')),
    UNIQUE (watch_id, window_end)
);
CREATE INDEX alerts_by_time ON alerts (window_end DESC);
"""

_V2 = """
ALTER TABLE watch ADD COLUMN failing TEXT;
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    time TEXT NOT NULL,
    target TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: (version, SQL) in order: version N's script brings a version N−1 file to N.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2))
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class StoredAlert:
    """One alert as stored (maps and PNG as their bytes; :mod:`alerts.payload` reads them)."""

    id: int
    watch_id: int
    source: str
    window_end: str
    target_time: str | None
    model: str
    card_digest: str
    last_close: float
    forecast_close: float
    forecast_pct: float
    threshold_pct: float
    direction: str
    created: str
    check_id: int | None
    maps: bytes
    png: bytes
    actual_pct: float | None
    outcome: str | None


@dataclasses.dataclass(frozen=True)
class CheckRecord:
    """One check as stored."""

    id: int
    started: str
    clock: str
    finished: str | None
    status: str
    entries: int
    symbols: int
    windows: int
    alerts: int
    seconds: float | None
    errors: list[str]


#: The alerts table's columns but the maps and the PNG.
_WITHOUT_PAYLOAD = ", ".join(
    field.name for field in dataclasses.fields(StoredAlert) if field.name not in ("maps", "png")
)


def default_path() -> Path:
    """``$CHART_XAI_ALERTS_DB``, or ``<cache>/alerts.sqlite``."""
    configured = os.environ.get(PATH_VARIABLE)
    return Path(configured).expanduser() if configured else cache_dir() / DEFAULT_FILE


def now_text() -> str:
    """The wall-clock time, UTC, as stored."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class AlertStore:
    """The store at ``path`` (created, and migrated, on first use)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._migrate()

    # --- connections and schema

    @contextlib.contextmanager
    def connect(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed when the block ends, rolled back on error.

        ``write`` takes the write lock at once (``BEGIN IMMEDIATE``: no deadlock between two
        writers that both read first); a read runs beside a writer (WAL) without waiting.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the alert store {self.path}: {error}; choose a writable path") from error
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise StoreError(_explain(self.path, error)) from error
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _migrate(self) -> None:
        with self.connect() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the alert store {self.path} has schema version {version}, newer than this app's "
                    f"{SCHEMA_VERSION}: upgrade the app, or point {PATH_VARIABLE} at another file"
                )
            for target, script in MIGRATIONS:
                if target > version:
                    for statement in _statements(script):
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version = {target}")

    def schema_version(self) -> int:
        with self.connect(write=False) as connection:
            return int(connection.execute("PRAGMA user_version").fetchone()[0])

    # --- the watchlist

    def add_entry(self, entry: WatchEntry) -> WatchEntry:
        """Store ``entry`` (its ``id`` ignored); returns it with its new id."""
        stamp = now_text()
        with self.connect() as connection:
            cursor = connection.execute(
                "INSERT INTO watch (source, threshold_pct, direction, model, calendar, enabled, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*_entry_values(entry), stamp, stamp),
            )
        return dataclasses.replace(entry, id=int(cursor.lastrowid))

    def update_entry(self, entry: WatchEntry) -> None:
        """Replace the stored entry with ``entry``'s fields (by id).

        Raises:
            KeyError: no entry has that id.
        """
        with self.connect() as connection:
            cursor = connection.execute(
                "UPDATE watch SET source = ?, threshold_pct = ?, direction = ?, model = ?, calendar = ?, enabled = ?,"
                " updated = ?, failing = NULL WHERE id = ?",
                (*_entry_values(entry), now_text(), entry.id),
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no watch entry has id {entry.id!r}")

    def remove_entry(self, entry_id: int) -> None:
        """Remove an entry from the watchlist; its alerts stay in the feed."""
        with self.connect() as connection:
            cursor = connection.execute("DELETE FROM watch WHERE id = ?", (entry_id,))
            if cursor.rowcount == 0:
                raise KeyError(f"no watch entry has id {entry_id!r}")

    def entries(self, *, enabled_only: bool = False) -> list[WatchEntry]:
        query = "SELECT * FROM watch" + (" WHERE enabled = 1" if enabled_only else "") + " ORDER BY id"
        with self.connect(write=False) as connection:
            rows = connection.execute(query).fetchall()
        return [
            WatchEntry(
                source=row["source"],
                threshold_pct=row["threshold_pct"],
                direction=row["direction"],
                model=row["model"],
                calendar=row["calendar"],
                enabled=bool(row["enabled"]),
                id=row["id"],
                failing=row["failing"],
            )
            for row in rows
        ]

    def mark_failing(self, failures: dict[int, str | None]) -> None:
        """Record why each entry could not be checked (``None``: it was checked)."""
        with self.connect() as connection:
            connection.executemany(
                "UPDATE watch SET failing = ? WHERE id = ?",
                [(reason, entry_id) for entry_id, reason in failures.items()],
            )

    # --- checks

    def start_check(self, clock: dt.datetime) -> int:
        """Record a check as running; checks left running by a killed checker become ``interrupted``."""
        with self.connect() as connection:
            connection.execute("UPDATE checks SET status = 'interrupted' WHERE status = 'running'")
            cursor = connection.execute(
                "INSERT INTO checks (started, clock, status) VALUES (?, ?, 'running')", (now_text(), clock.isoformat())
            )
        return int(cursor.lastrowid)

    def finish_check(
        self,
        check_id: int,
        *,
        status: str = "done",
        entries: int = 0,
        symbols: int = 0,
        windows: int = 0,
        alerts: int = 0,
        seconds: float | None = None,
        errors: Sequence[str] = (),
    ) -> None:
        with self.connect() as connection:
            connection.execute(
                "UPDATE checks SET finished = ?, status = ?, entries = ?, symbols = ?, windows = ?, alerts = ?,"
                " seconds = ?, errors = ? WHERE id = ?",
                (now_text(), status, entries, symbols, windows, alerts, seconds, json.dumps(list(errors)), check_id),
            )

    def record_skipped(self, clock: dt.datetime, reason: str) -> int:
        """A check that did not run (the previous one overran, the market is closed…), and why."""
        with self.connect() as connection:
            cursor = connection.execute(
                "INSERT INTO checks (started, clock, finished, status, errors) VALUES (?, ?, ?, 'skipped', ?)",
                (now_text(), clock.isoformat(), now_text(), json.dumps([reason])),
            )
        return int(cursor.lastrowid)

    def checks(self, limit: int = 50) -> list[CheckRecord]:
        with self.connect(write=False) as connection:
            rows = connection.execute("SELECT * FROM checks ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [CheckRecord(**{**dict(row), "errors": json.loads(row["errors"])}) for row in rows]

    # --- evaluations and alerts

    def evaluated_ends(self, watch_id: int) -> set[str]:
        """The window ends already evaluated for an entry."""
        with self.connect(write=False) as connection:
            rows = connection.execute("SELECT window_end FROM evaluations WHERE watch_id = ?", (watch_id,)).fetchall()
        return {row[0] for row in rows}

    def evaluations(
        self, watch_id: int, *, checked_between: tuple[dt.datetime, dt.datetime] | None = None
    ) -> pd.DataFrame:
        """An entry's evaluated windows in time order: ``window_end``, ``forecast_pct``, ``fired`` —
        only those of checks whose clock lies in ``checked_between`` (inclusive), when given."""
        query = (
            "SELECT e.window_end, e.forecast_pct, e.fired FROM evaluations e LEFT JOIN checks c ON c.id = e.check_id"
            " WHERE e.watch_id = ?"
        )
        values: list[Any] = [watch_id]
        if checked_between is not None:
            query += " AND c.clock BETWEEN ? AND ?"
            values += [moment.isoformat() for moment in checked_between]
        with self.connect(write=False) as connection:
            rows = connection.execute(query + " ORDER BY e.window_end", values).fetchall()
        return pd.DataFrame([dict(row) for row in rows], columns=["window_end", "forecast_pct", "fired"])

    def record_evaluations(self, check_id: int, evaluations: Sequence[dict[str, Any]]) -> int:
        """Store evaluated windows and the alerts they fired, together; returns the alerts newly stored.

        Each item: ``watch_id``, ``window_end``, ``forecast_pct``, and ``alert`` — ``None`` or the
        alert's columns (see :class:`StoredAlert`, without ``id``/``watch_id``/``window_end``/
        ``check_id``). One transaction for all: a crash stores all or none.
        """
        added = 0
        with self.connect() as connection:
            for item in evaluations:
                inserted = connection.execute(
                    "INSERT INTO evaluations (watch_id, window_end, check_id, forecast_pct, fired)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (watch_id, window_end) DO NOTHING",
                    (
                        item["watch_id"],
                        item["window_end"],
                        check_id,
                        item["forecast_pct"],
                        int(item["alert"] is not None),
                    ),
                ).rowcount
                if inserted and item["alert"] is not None:
                    columns = {
                        **item["alert"],
                        "watch_id": item["watch_id"],
                        "window_end": item["window_end"],
                        "check_id": check_id,
                    }
                    names = ", ".join(columns)
                    marks = ", ".join("?" for _ in columns)
                    added += connection.execute(
                        f"INSERT INTO alerts ({names}) VALUES ({marks}) ON CONFLICT (watch_id, window_end) DO NOTHING",
                        tuple(columns.values()),
                    ).rowcount
        return added

    def alerts(
        self,
        *,
        source: str | None = None,
        limit: int | None = 200,
        pending_outcome: bool = False,
        check_id: int | None = None,
        payload: bool = True,
    ) -> list[StoredAlert]:
        """Alerts newest first (by window end): of one source, only those without an outcome, or of one
        check; at most ``limit`` (``None``: all). ``payload=False`` leaves the maps and the PNG in the
        store (their fields empty): a feed or an outcome update reads ≈ 200 bytes an alert, not ≈ 80 kB."""
        clauses: list[str] = []
        values: list[Any] = []
        if source:
            clauses.append("source = ?")
            values.append(source)
        if check_id is not None:
            clauses.append("check_id = ?")
            values.append(check_id)
        if pending_outcome:
            clauses.append("outcome IS NULL")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect(write=False) as connection:
            rows = connection.execute(
                f"SELECT {'*' if payload else _WITHOUT_PAYLOAD} FROM alerts{where}"
                " ORDER BY window_end DESC, id DESC LIMIT ?",
                (*values, limit or -1),
            ).fetchall()
        return [StoredAlert(**{"maps": b"", "png": b"", **dict(row)}) for row in rows]

    def alert_sources(self) -> list[str]:
        """The sources that have alerts, sorted."""
        with self.connect(write=False) as connection:
            rows = connection.execute("SELECT DISTINCT source FROM alerts ORDER BY source").fetchall()
        return [row[0] for row in rows]

    def alert(self, alert_id: int) -> StoredAlert | None:
        with self.connect(write=False) as connection:
            row = connection.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else StoredAlert(**dict(row))

    def set_outcomes(self, outcomes: Sequence[tuple[int, str, float, str]]) -> None:
        """``(alert id, target time, actual %, outcome)`` for alerts whose next bar is now known."""
        with self.connect() as connection:
            connection.executemany(
                "UPDATE alerts SET target_time = ?, actual_pct = ?, outcome = ? WHERE id = ? AND outcome IS NULL",
                [(target, actual, outcome, alert_id) for alert_id, target, actual, outcome in outcomes],
            )

    # --- notifications and settings

    def record_notification(self, alert_id: int, attempt: int, target: str, ok: bool, error: str | None) -> None:
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO notifications (alert_id, attempt, time, target, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
                (alert_id, attempt, now_text(), target, int(ok), error),
            )

    def notifications(self, alert_id: int) -> list[dict[str, Any]]:
        with self.connect(write=False) as connection:
            rows = connection.execute(
                "SELECT * FROM notifications WHERE alert_id = ? ORDER BY id", (alert_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def setting(self, key: str, default: str = "") -> str:
        with self.connect(write=False) as connection:
            row = connection.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _entry_values(entry: WatchEntry) -> tuple[str, float, str, str, str, int]:
    """An entry's columns, in the order the watch table's writes name them."""
    return entry.source, entry.threshold_pct, entry.direction, entry.model, entry.calendar, int(entry.enabled)


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _explain(path: Path, error: sqlite3.DatabaseError) -> str:
    text = str(error)
    if "file is not a database" in text:
        return f"{path} is not an alert store (not a SQLite database): move it away or choose another path"
    if "readonly" in text or "read-only" in text:
        return f"the alert store {path} is read-only: make it writable or choose another path"
    if "disk is full" in text or "full" in text:
        return f"the disk holding the alert store {path} is full: free space, then check again"
    return f"the alert store {path} failed: {text}"
