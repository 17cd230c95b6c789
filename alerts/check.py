"""One check of the watchlist: every due entry's new windows, batched, stored, notified.

The paper's checker ran its entries one after another, each finishing its notification and image
upload before the next began (its §6.2.2). Here one check:

1. finds the due entries (their market in session now, or closed within the last interval, so the
   session's last bar is seen) and loads each source once;
2. cuts each entry's windows that ended since its last evaluated one (the newest only for an entry
   never evaluated; at most :data:`CATCH_UP_WINDOWS`), and merges the same (model, source, window
   end) watched by several entries into one job;
3. runs each model once over all its jobs (one batched forward pass), decides every entry, and
   explains only the jobs that fire an alert — all five maps, in batched passes per direction;
4. stores every evaluation with its alert in one transaction (unique per entry and window end),
   fills in the outcome of earlier alerts whose next bar is now known, and hands new alerts to the
   notifier.

A source that cannot be loaded marks its entries failing with the reason (never skipped silently);
the check goes on with the others and records the errors.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from alerts.calendars import MarketHours, calendar_for
from alerts.entries import SHIPPED_MODEL, WatchEntry
from alerts.payload import alert_png, encode_maps
from alerts.store import AlertStore, StoredAlert
from data.bars import LoadedBars
from data.errors import DataError
from models.architectures import LOG10_SCALE
from models.checkpoints import LoadedCheckpoint
from models.datasets import encode_images
from models.locks import model_lock
from xai.many import explain_many
from xai.methods import ALL_METHODS

#: The most windows one entry catches up on in one check (a checker that was down longer resumes
#: from the newest ones).
CATCH_UP_WINDOWS = 8
#: Windows per batched forward pass.
BATCH = 64
#: Minutes between checks (the paper's 15).
CHECK_EVERY_MINUTES = 15
#: The task the alerts run (the CNN-LSTM next-hour regressor).
ALERT_TASK = "ticker"


@dataclasses.dataclass(frozen=True)
class Job:
    """One window of one source for one model, whatever number of entries watch it."""

    model: str
    source: str
    window_end: pd.Timestamp
    ohlc: np.ndarray  # (W, 4)
    target_index: int  # the bar after the window, in the source's bars


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What one check did."""

    check_id: int
    clock: dt.datetime
    entries_due: int
    symbols: int
    windows: int
    explained: int
    alerts: list[int]
    outcomes: int
    errors: list[str]
    seconds: float


Loader = Callable[[str, str], LoadedBars]
Resolver = Callable[[str], LoadedCheckpoint]


def resolve_model(name: str) -> LoadedCheckpoint:
    """``"shipped"`` or a trained ticker model's folder name → the checkpoint, Captum-ready.

    Loaded once per process and weights file (shared like the pages' models, under its lock).

    Raises:
        ValueError: no ticker model has that name.
    """
    from models.registry import SHIPPED, available_checkpoints

    folder = SHIPPED[ALERT_TASK] if name == SHIPPED_MODEL else available_checkpoints(ALERT_TASK).get(name)
    if folder is None:
        raise ValueError(f"model must be {SHIPPED_MODEL!r} or a trained ticker model's name, got {name!r}")
    weights = Path(folder) / "model.pt"
    return _load_model(str(folder), weights.stat().st_mtime_ns if weights.exists() else 0)


@functools.lru_cache(maxsize=8)
def _load_model(folder: str, weights_mtime_ns: int) -> LoadedCheckpoint:
    from models.checkpoints import load_checkpoint
    from xai.prepare import captum_ready

    loaded = load_checkpoint(Path(folder), task=ALERT_TASK)
    captum_ready(loaded.model)
    return loaded


def load_bars(source: str, interval: str) -> LoadedBars:
    """A watch entry's bars (never a file path: entries come from the page too)."""
    from data.sources import load_source

    return load_source(source, interval, files=False)


def is_due(hours: MarketHours, when: dt.datetime, every_minutes: int = CHECK_EVERY_MINUTES) -> bool:
    """In session now, or within ``every_minutes`` after a close (the session's last bar is then complete)."""
    return hours.is_open(when) or hours.is_open(when - dt.timedelta(minutes=every_minutes))


def run_check(
    store: AlertStore,
    when: dt.datetime,
    *,
    resolver: Resolver = resolve_model,
    loader: Loader = load_bars,
    notify: Callable[[AlertStore, Sequence[StoredAlert]], None] | None = None,
    methods: Sequence[str] = ALL_METHODS,
    only_due: bool = True,
) -> CheckReport:
    """Check the watchlist at the aware instant ``when`` (see the module docstring).

    Args:
        store: the alert store.
        when: the (real or simulated) time of the check, timezone-aware.
        resolver: model name → checkpoint (models are loaded once per check).
        loader: (source, interval) → bars.
        notify: called with the store and the new alerts (``None``: no notifications).
        methods: the maps each alert keeps.
        only_due: skip entries whose market is closed (``False``: ``check --now`` checks all).
    """
    if when.tzinfo is None:
        raise ValueError(f"when must be timezone-aware, got {when!r}")
    started = time.perf_counter()
    check_id = store.start_check(when)
    errors: list[str] = []
    failing: dict[int, str | None] = {}
    entries = store.entries(enabled_only=True)
    models: dict[str, LoadedCheckpoint | None] = {}
    bars: dict[str, LoadedBars | None] = {}
    jobs: dict[tuple[str, str, pd.Timestamp], Job] = {}
    watching: dict[tuple[str, str, pd.Timestamp], list[WatchEntry]] = defaultdict(list)
    due = 0
    for entry in entries:
        try:
            hours = calendar_for(entry.source, entry.calendar)
            if only_due and not is_due(hours, when):
                continue
            due += 1
            loaded = _cached(models, entry.model, resolver)
            data = _cached(bars, entry.source, lambda source, interval=loaded.task.interval: loader(source, interval))
            for job in _new_windows(store, entry, loaded, data, hours, when):
                key = (job.model, job.source, job.window_end)
                jobs.setdefault(key, job)
                watching[key].append(entry)
            failing[entry.id] = stale_note(data)
        except (DataError, ValueError, OSError) as error:
            reason = f"{entry.source}: {error}"
            failing[entry.id] = reason
            errors.append(reason)
    store.mark_failing(failing)

    evaluations, explained = _evaluate(jobs, watching, models, methods)
    new_alert_count = store.record_evaluations(check_id, evaluations)
    new_alerts = store.alerts(check_id=check_id, limit=None) if new_alert_count else []
    outcomes = _fill_outcomes(store, bars, when)
    if notify is not None and new_alerts:
        try:
            notify(store, new_alerts)
        except Exception as error:
            errors.append(f"notifications: {type(error).__name__}: {error}")
    seconds = time.perf_counter() - started
    symbols = len({source for _, source, _ in jobs})
    store.finish_check(
        check_id,
        entries=due,
        symbols=symbols,
        windows=len(jobs),
        alerts=len(new_alerts),
        seconds=seconds,
        errors=errors,
    )
    return CheckReport(
        check_id=check_id,
        clock=when,
        entries_due=due,
        symbols=symbols,
        windows=len(jobs),
        explained=explained,
        alerts=[alert.id for alert in new_alerts],
        outcomes=outcomes,
        errors=errors,
        seconds=seconds,
    )


def stale_note(data: LoadedBars) -> str | None:
    """Why an entry was checked on a cached copy, and how old it is (``None``: fresh data)."""
    if data.stale_reason is None:
        return None
    age = "" if data.cache_age is None else f", {data.cache_age.total_seconds() / 3600:.1f} h old"
    return f"checked on the cached copy{age}: {data.stale_reason}"


def _cached(cache: dict[str, Any], key: str, make: Callable[[str], Any]) -> Any:
    """``make(key)`` once per check; a failure is remembered and raised again for the next entry."""
    if key not in cache:
        try:
            cache[key] = make(key)
        except (DataError, ValueError, OSError) as error:
            cache[key] = error
    value = cache[key]
    if isinstance(value, Exception):
        raise value
    return value


def _new_windows(
    store: AlertStore,
    entry: WatchEntry,
    loaded: LoadedCheckpoint,
    data: LoadedBars,
    hours: MarketHours,
    when: dt.datetime,
) -> list[Job]:
    """The entry's windows that ended since its last evaluated one (the newest only, the first time)."""
    frame = data.bars
    length = loaded.spec.sequence_length
    complete = hours.complete_bars(frame.index, pd.Timedelta(data.interval), when)
    if complete < length:
        if complete == 0 and len(frame):
            return []  # nothing of this source has happened yet at this (simulated) time
        raise DataError(f"{complete} complete bars, fewer than the model's window of {length}")
    done = store.evaluated_ends(entry.id)
    latest_done = max((pd.Timestamp(end) for end in done), default=None)
    ends = range(
        complete - 1, max(length - 2, complete - 1 - CATCH_UP_WINDOWS), -1
    )  # the first window ends at length − 1
    ohlc = frame[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    jobs = []
    for end in ends:
        stamp = frame.index[end]
        if latest_done is not None and stamp <= latest_done:
            break
        jobs.append(Job(entry.model, entry.source, stamp, ohlc[end - length + 1 : end + 1], end + 1))
        if latest_done is None:
            break  # a new entry starts from now, not from the source's history
    return jobs[::-1]


def _evaluate(
    jobs: dict[tuple[str, str, pd.Timestamp], Job],
    watching: dict[tuple[str, str, pd.Timestamp], list[WatchEntry]],
    models: dict[str, Any],
    methods: Sequence[str],
) -> tuple[list[dict[str, Any]], int]:
    """Every job's forecast (one forward pass per model), every watching entry's decision, and the
    maps of the jobs that fire; returns the evaluations to store and how many jobs were explained."""
    evaluations: list[dict[str, Any]] = []
    explained = 0
    by_model: dict[str, list[tuple[str, str, pd.Timestamp]]] = defaultdict(list)
    for key in jobs:
        by_model[key[0]].append(key)
    for name, keys in by_model.items():
        loaded = models[name]
        windows = np.stack([jobs[key].ohlc for key in keys])
        images = torch.from_numpy(encode_images(windows, loaded.spec))
        closes = torch.from_numpy(np.log10(windows[:, :, 3]).astype(np.float32))
        changes = forecast_changes(loaded, images, closes)
        pct = 100.0 * (10.0 ** (changes / LOG10_SCALE) - 1.0)
        firing = [i for i, key in enumerate(keys) if any(entry.fires(pct[i]) for entry in watching[key])]
        stored = _explain_firing(loaded, images, closes, pct, firing, methods)
        explained += len(firing)
        for i, key in enumerate(keys):
            job, last_close = jobs[key], float(windows[i, -1, 3])
            for entry in watching[key]:
                alert = None
                if entry.fires(pct[i]):
                    maps, png = stored[i]
                    alert = {
                        "source": entry.source,
                        "model": name,
                        "card_digest": loaded.card.weights_sha256,
                        "last_close": last_close,
                        "forecast_close": last_close * (1.0 + pct[i] / 100.0),
                        "forecast_pct": float(pct[i]),
                        "threshold_pct": entry.threshold_pct,
                        "direction": entry.direction,
                        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "maps": maps,
                        "png": png,
                    }
                evaluations.append(
                    {
                        "watch_id": entry.id,
                        "window_end": job.window_end.isoformat(),
                        "forecast_pct": float(pct[i]),
                        "alert": alert,
                    }
                )
    return evaluations, explained


def forecast_changes(loaded: LoadedCheckpoint, images: torch.Tensor, closes: torch.Tensor) -> np.ndarray:
    """``(N,)`` float64 predicted changes in ``LOG10_SCALE`` units, in batches, under the model's lock."""
    model = loaded.model
    out = []
    with model_lock(model), torch.no_grad():
        for start in range(0, len(images), BATCH):
            out.append(model.predicted_change(images[start : start + BATCH], closes[start : start + BATCH]).double())
    return torch.cat(out).numpy() if out else np.empty(0)


def _explain_firing(
    loaded: LoadedCheckpoint,
    images: torch.Tensor,
    closes: torch.Tensor,
    pct: np.ndarray,
    firing: list[int],
    methods: Sequence[str],
) -> dict[int, tuple[bytes, bytes]]:
    """Maps and PNG of every firing window, each explained the way its forecast went (batched passes)."""
    if not firing:
        return {}
    chosen = np.asarray(firing)
    directions = np.where(pct[chosen] >= 0, 1, -1)
    many = explain_many(
        loaded.model, images[chosen], closes[chosen], directions, is_regression=True,
        image_kind=loaded.spec.image, n_steps=loaded.spec.sequence_length, methods=methods,
    )  # fmt: skip
    stored: dict[int, tuple[bytes, bytes]] = {}
    for row, i in enumerate(firing):
        maps = {key: many.maps[key][row] for key in methods}
        image = images[i, 0].numpy()
        payload = encode_maps(
            image, maps, {key: many.per_time[key][row] for key in methods}, per_time_signed=many.per_time_signed,
            image_kind=loaded.spec.image, direction=int(directions[row]),
        )  # fmt: skip
        heat = maps.get("gradcam", next(iter(maps.values())))
        stored[i] = (payload, alert_png(image, heat))
    return stored


def outcome_of(forecast_pct: float, actual_pct: float, threshold_pct: float) -> str:
    """The What-if page's rule: ``right`` (the move reached the threshold the forecast's way),
    ``wrong sign`` (it reached it the other way) or ``below threshold``."""
    if abs(actual_pct) < threshold_pct:
        return "below threshold"
    return "right" if math.copysign(1, actual_pct) == math.copysign(1, forecast_pct) else "wrong sign"


def _fill_outcomes(store: AlertStore, bars: dict[str, Any], when: dt.datetime) -> int:
    """Outcomes of stored alerts whose next bar is complete at ``when`` in the bars loaded."""
    updates = []
    complete: dict[str, int] = {}
    for alert in store.alerts(pending_outcome=True, limit=None, payload=False):
        data = bars.get(alert.source)
        if not isinstance(data, LoadedBars):
            continue
        index = data.bars.index
        if alert.source not in complete:
            hours = calendar_for(alert.source)
            complete[alert.source] = hours.complete_bars(index, pd.Timedelta(data.interval), when)
        end = pd.Timestamp(alert.window_end)
        position = int(index.searchsorted(end, side="right"))  # the bar after the window
        if position == 0 or index[position - 1] != end or position >= complete[alert.source]:
            continue
        actual = 100.0 * (float(data.bars["close"].iloc[position]) / alert.last_close - 1.0)
        updates.append(
            (alert.id, index[position].isoformat(), actual, outcome_of(alert.forecast_pct, actual, alert.threshold_pct))
        )
    store.set_outcomes(updates)
    return len(updates)
