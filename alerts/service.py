"""The checker: one process per store (a lock), a check every 15 minutes on the quarter hour.

* :func:`checker_lock` holds an exclusive ``flock`` on ``<store>.lock`` for the process's life; a
  second checker on the same store is refused with :class:`CheckerRunningError` (the lock dies with
  its process, so a killed checker never blocks the next one).
* :func:`watch` runs checks on the quarter hours of an injectable clock: a check that overruns
  its interval makes the next tick wait, and the ticks it covered are recorded as skipped; a
  clock that jumps back or forward is recorded too; an error in one check is recorded and the
  loop goes on. Its state (process id, last and next check, last error) is kept in the store's
  settings for the Alerts page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from alerts.check import CHECK_EVERY_MINUTES, CheckReport, run_check
from alerts.store import AlertStore, StoreError

#: The store's settings key holding the checker's state (JSON).
STATE_KEY = "checker_state"


class CheckerRunningError(RuntimeError):
    """Another checker holds the store's lock."""


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock, UTC; sleeping wakes early when ``stop`` is set."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float) -> None:
        self.stop.wait(max(0.0, seconds))


@contextlib.contextmanager
def checker_lock(store: AlertStore) -> Iterator[Path]:
    """Hold the store's checker lock; :class:`CheckerRunningError` names the process that has it."""
    path = store.path.with_name(store.path.name + ".lock")
    handle = open(path, "a+")  # noqa: SIM115 - held for the with-block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CheckerRunningError(
                f"a checker is already running on {store.path} ({holder}); stop it first, or use another --db"
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield path
    finally:
        handle.close()


def checker_running(store: AlertStore) -> bool:
    """Is a checker holding the store's lock now?"""
    path = store.path.with_name(store.path.name + ".lock")
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def next_tick(when: dt.datetime, every_minutes: int = CHECK_EVERY_MINUTES) -> dt.datetime:
    """The first quarter hour (or ``every_minutes`` boundary) strictly after ``when``."""
    base = when.replace(second=0, microsecond=0)
    minutes = (base.minute // every_minutes + 1) * every_minutes
    return base.replace(minute=0) + dt.timedelta(minutes=minutes)


def watch(
    store: AlertStore,
    *,
    clock: Clock | None = None,
    every_minutes: int = CHECK_EVERY_MINUTES,
    max_checks: int | None = None,
    check: Callable[[AlertStore, dt.datetime], CheckReport] = run_check,
    on_report: Callable[[CheckReport], None] | None = None,
) -> int:
    """Check ``store``'s watchlist on every tick until stopped (or ``max_checks`` checks); returns checks run.

    Raises:
        CheckerRunningError: another checker holds the lock (nothing is checked).
    """
    clock = clock or SystemClock()
    interval = dt.timedelta(minutes=every_minutes)
    runs = 0
    with checker_lock(store):
        planned: dt.datetime | None = None
        state: dict[str, str | int | None] = {"pid": os.getpid(), "last_check": None, "last_error": None}
        while max_checks is None or runs < max_checks:
            now = clock.now()
            if planned is not None and now < planned - interval:
                store.record_skipped(now, f"the clock went back: woke at {now:%Y-%m-%d %H:%M}, planned {planned:%H:%M}")
            elif planned is not None and now >= planned + interval:
                store.record_skipped(now, f"the clock jumped: woke at {now:%Y-%m-%d %H:%M}, planned {planned:%H:%M}")
            try:
                report = check(store, now)
                state["last_error"] = "; ".join(report.errors) or None
                if on_report is not None:
                    on_report(report)
            except StoreError as error:
                state["last_error"] = str(error)
            except Exception as error:  # the loop outlives any one check; the reason is kept
                state["last_error"] = f"{type(error).__name__}: {error}"
            runs += 1
            finished = clock.now()
            planned = next_tick(finished, every_minutes)
            overrun = int((planned - next_tick(now, every_minutes)) / interval)
            if overrun > 0:
                store.record_skipped(
                    finished, f"the check at {now.isoformat()} ran past {overrun} tick(s); the next waits for {planned}"
                )
            state.update(last_check=now.isoformat(), next_check=planned.isoformat())
            _save_state(store, state)
            if max_checks is not None and runs >= max_checks:
                break
            clock.sleep((planned - finished).total_seconds())
            if isinstance(clock, SystemClock) and clock.stop.is_set():
                break
        _save_state(store, {**state, "pid": None, "next_check": None})
    return runs


def checker_state(store: AlertStore) -> dict[str, str | int | None]:
    """The checker's last saved state (``{}`` when none ever ran)."""
    text = store.setting(STATE_KEY)
    return json.loads(text) if text else {}


def _save_state(store: AlertStore, state: dict[str, str | int | None]) -> None:
    with contextlib.suppress(StoreError):
        store.set_setting(STATE_KEY, json.dumps(state))
