"""The local engine: every window of every source of a universe, explained in batches, written as a dataset.

Per source: its samples for the model's task (:func:`models.datasets.load_samples`), the windows in
the date range, then per batch the model's answer and call (the task's ``outputs`` / ``calls_up``),
the five maps of what it called (:func:`xai.many.explain_many`, the fused engine), each map's time
profile, and the outcome where the data knows it. A source that fails is recorded with its reason
and the run goes on; a finished source is skipped by a rerun (:mod:`batch.dataset`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from batch import dataset
from data.errors import DataError
from models.checkpoints import LoadedCheckpoint
from models.datasets import load_samples
from models.evaluation import percent_change
from xai.many import BATCH, explain_many
from xai.methods import ALL_METHODS


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What a run did."""

    sources: int
    written: list[str]
    skipped: list[str]
    failed: dict[str, str]
    windows: int
    seconds: float

    @property
    def windows_per_s(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else float("nan")


def resolve_checkpoint(task: str, name: str) -> LoadedCheckpoint:
    """``"shipped"`` or the name of a model of ``task`` trained here → the checkpoint, Captum-ready.

    Raises:
        ValueError: no model of ``task`` has that name.
    """
    from models.checkpoints import load_checkpoint
    from models.registry import available_checkpoints
    from xai.prepare import captum_ready

    choices = available_checkpoints(task)
    if name not in choices:
        raise ValueError(f"model must be one of {sorted(choices)} for the {task} task, got {name!r}")
    loaded = load_checkpoint(choices[name], task=task)
    captum_ready(loaded.model)
    return loaded


def explain_universe(
    loaded: LoadedCheckpoint,
    model_name: str,
    sources: Sequence[str],
    out: Path,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    methods: Sequence[str] = ALL_METHODS,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Explain every window of ``sources`` (in ``first`` … ``last`` when given) into the dataset ``out``.

    Raises:
        ValueError: ``out`` holds another run's dataset, or a bad date range.
    """
    if first and last and last < first:
        raise ValueError(f"the range's end ({last}) must not be before its start ({first})")
    spec = loaded.spec
    manifest = {
        "format": dataset.FORMAT, "task": spec.task, "model": model_name, "card_digest": loaded.card.weights_sha256,
        "methods": list(methods), "image": spec.image, "image_size": spec.image_size,
        "sequence_length": spec.sequence_length, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    dataset.prepare(out, manifest)
    started = time.perf_counter()
    written, skipped, failed, windows = [], [], {}, 0
    for source in sources:
        if dataset.finished(out, source):
            skipped.append(source)
            continue
        try:
            rows, maps = explain_source(
                loaded, model_name, source, first=first, last=last, methods=methods, batch=batch, progress=progress
            )
        except (DataError, ValueError, OSError) as error:
            failed[source] = str(error)
            continue
        dataset.write_partition(out, source, rows, maps)
        written.append(source)
        windows += len(rows)
    dataset.write_errors(out, failed)
    return RunSummary(len(sources), written, skipped, failed, windows, time.perf_counter() - started)


def explain_source(
    loaded: LoadedCheckpoint,
    model_name: str,
    source: str,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    methods: Sequence[str] = ALL_METHODS,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One source's rows and maps (see the module docstring)."""
    task, spec = loaded.task, loaded.spec
    samples = load_samples(spec, source)
    times = samples.times
    keep = np.ones(len(times), dtype=bool)
    if first is not None:
        keep &= np.asarray(times >= pd.Timestamp(first))
    if last is not None:
        keep &= np.asarray(times < pd.Timestamp(last) + pd.Timedelta(days=1))
    indices = np.flatnonzero(keep)
    if len(indices) == 0:
        raise DataError(f"{source}: no window in the range {first or '…'} – {last or '…'}")
    side = spec.image_size
    maps = {key: np.zeros((len(indices), side, side), dtype=np.float32) for key in methods}
    per_time = {key: np.zeros((len(indices), spec.sequence_length)) for key in methods}
    answer, explained = np.zeros(len(indices)), np.zeros(len(indices), dtype=np.int64)
    outcome = np.full(len(indices), np.nan)
    for start in range(0, len(indices), batch):
        chunk = indices[start : start + batch]
        inputs, targets = samples.batch(chunk)
        up = task.calls_up(loaded.model, inputs)
        wanted = np.where(up, 1, -1) if task.is_regression else up.astype(np.int64)
        output = task.outputs(loaded.model, inputs).double().cpu().numpy()
        many = explain_many(
            loaded.model, inputs[0], inputs[1] if len(inputs) > 1 else None, wanted,
            is_regression=task.is_regression, image_kind=spec.image, n_steps=spec.sequence_length, methods=methods,
            batch=batch,
        )  # fmt: skip
        where = slice(start, start + len(chunk))
        for key in methods:
            maps[key][where] = many.maps[key]
            per_time[key][where] = many.per_time[key]
        explained[where] = wanted
        if task.is_regression:
            last_log10 = samples.last_log10[chunk]
            answer[where] = percent_change(output, last_log10)
            outcome[where] = percent_change(targets.double().numpy(), last_log10)
        else:
            answer[where] = output
            outcome[where] = targets.numpy()
        if progress is not None:
            progress(len(chunk))
    rows = pd.DataFrame(
        {
            "source": source,
            "time": times[indices],
            "model": model_name,
            "card_digest": loaded.card.weights_sha256,
            # the regressor's forecast move in %, or the classifier's P(up)
            "prediction": answer,
            "explained": explained,
            # the actual move in % (regressor) or the label, 1 = up (classifier)
            "outcome": outcome,
            **{f"time_{key}": list(per_time[key].astype(np.float32)) for key in methods},
        }
    )
    return rows, maps
