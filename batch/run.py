"""The local engine: every window of every source of a universe, explained in batches, written as a dataset.

Per source: its samples for the model's task (:func:`models.datasets.load_samples`) and the windows
in the date range (:func:`source_windows` — read in a thread while the source before is explained),
then per batch the five maps of what the model calls — its predicted class, or the way each
forecast goes — and its answer, both from the fused engine's own forward pass
(:func:`xai.many.explain_batches`, :meth:`~models.tasks.base.Task.answers`: no pass of their own),
the maps appended to the partition at once (:class:`batch.dataset.PartitionMaps`), each map's time
profile (signed, and absolute mass), its trust scores when asked, the outcome where the data knows
it, and on the demo market the planted pattern's steps. :func:`process_source` does one source
from start to finish — skip, explain, write — and is what the Ray engine's actors run too
(:mod:`batch.on_ray`). A source that fails is recorded with its reason and the run goes on; a
finished source is skipped by a rerun (:mod:`batch.dataset`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from batch import dataset
from data.errors import DataError
from models.checkpoints import LoadedCheckpoint
from models.datasets import TaskSamples, load_samples
from models.evaluation import percent_change
from workflows.planted import scored_intervals
from workflows.reliance import pattern_reliance
from xai.many import BATCH, SHARED_TRUST_SCORES, TRUST_SCORES, explain_batches
from xai.methods import ALL_METHODS

#: Batches encoded at once (the rasteriser is vectorised over windows), then explained batch by batch.
GROUPED_BATCHES = 16
#: What a source's run can end as.
WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What every source of one run is explained with (plain values: Ray sends them to its actors)."""

    task: str
    model: str = "shipped"
    first: dt.date | None = None
    last: dt.date | None = None
    methods: tuple[str, ...] = ALL_METHODS
    batch: int = BATCH
    trust: bool = False
    #: ``"cpu"`` or ``"cuda"`` (the model and every batch go there)
    device: str = "cpu"
    #: demo market: ask the model again about each pattern window regenerated without its pattern
    reliance: bool = False

    def __post_init__(self) -> None:
        if self.first and self.last and self.last < self.first:
            raise ValueError(f"the range's end ({self.last}) must not be before its start ({self.first})")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if not self.methods:
            raise ValueError("methods must name at least one method")


@dataclasses.dataclass(frozen=True)
class SourceOutcome:
    """How one source's run ended: :data:`WRITTEN` (with its windows), :data:`SKIPPED` or :data:`FAILED` (why),
    and the seconds it took where it ran."""

    source: str
    status: str
    windows: int = 0
    reason: str = ""
    seconds: float = 0.0


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

    @classmethod
    def of(cls, outcomes: Sequence[SourceOutcome], seconds: float) -> RunSummary:
        return cls(
            sources=len(outcomes),
            written=[o.source for o in outcomes if o.status == WRITTEN],
            skipped=[o.source for o in outcomes if o.status == SKIPPED],
            failed={o.source: o.reason for o in outcomes if o.status == FAILED},
            windows=sum(o.windows for o in outcomes),
            seconds=seconds,
        )


def resolve_checkpoint(task: str, name: str, device: str = "cpu") -> LoadedCheckpoint:
    """``"shipped"`` or the name of a model of ``task`` trained here → the checkpoint, Captum-ready, on ``device``.

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
    captum_ready(loaded.model.to(device))
    return loaded


def manifest_of(loaded: LoadedCheckpoint, settings: RunSettings) -> dict[str, object]:
    """The dataset's manifest: what every row explains (:data:`batch.dataset.IDENTITY` must match on a rerun)."""
    spec = loaded.spec
    return {
        "format": dataset.FORMAT, "task": spec.task, "model": settings.model, "card_digest": loaded.card.weights_sha256,
        "methods": list(settings.methods), "trust": settings.trust, "reliance": settings.reliance, "image": spec.image,
        "image_size": spec.image_size, "sequence_length": spec.sequence_length,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }  # fmt: skip


def check_universe(sources: Sequence[str]) -> None:
    """Raises ValueError for an empty universe (nothing would be written, and nothing said)."""
    if not sources:
        raise ValueError("sources must name at least one source: the universe is empty")


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
    trust: bool = False,
    device: str = "cpu",
    reliance: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Explain every window of ``sources`` (in ``first`` … ``last`` when given) into the dataset ``out``, here.

    Raises:
        ValueError: ``out`` holds another run's dataset, or a bad date range.
    """
    settings = RunSettings(loaded.task.name, model_name, first, last, tuple(methods), batch, trust, device, reliance)
    check_universe(sources)
    dataset.prepare(out, manifest_of(loaded, settings))
    started = time.perf_counter()
    outcomes = [
        process_source(loaded, settings, source, out, progress=progress, windows=windows)
        for source, windows in _read_ahead(loaded, settings, sources, out)
    ]
    summary = RunSummary.of(outcomes, time.perf_counter() - started)
    dataset.write_errors(out, summary.failed)
    return summary


def _read_ahead(
    loaded: LoadedCheckpoint, settings: RunSettings, sources: Sequence[str], out: Path
) -> Iterator[tuple[str, Future[tuple[TaskSamples, np.ndarray]] | None]]:
    """Each source, with its windows (:func:`source_windows`) read in a thread while the source
    before it is explained (generating the demo market or parsing a file: ≈ 0.25 ms a window of
    CPU, done in part while torch waits on its own threads); ``None`` for a finished source."""

    def read(source: str) -> Future[tuple[TaskSamples, np.ndarray]] | None:
        return None if dataset.finished(out, source) else reader.submit(source_windows, loaded, settings, source)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-read") as reader:
        upcoming = read(sources[0])
        for position, source in enumerate(sources):
            current = upcoming
            upcoming = read(sources[position + 1]) if position + 1 < len(sources) else None
            yield source, current


def process_source(
    loaded: LoadedCheckpoint,
    settings: RunSettings,
    source: str,
    out: Path,
    *,
    progress: Callable[[int], None] | None = None,
    windows: Future[tuple[TaskSamples, np.ndarray]] | None = None,
) -> SourceOutcome:
    """One source: skipped if finished, else explained and written (its windows read here, or by
    ``windows``); a failure is returned, not raised."""
    began = time.perf_counter()
    if dataset.finished(out, source):
        return SourceOutcome(source, SKIPPED)
    try:
        read = windows.result() if windows is not None else source_windows(loaded, settings, source)
        written = write_source(loaded, settings, source, out, read, progress=progress)
    except dataset.WriteError as error:  # a full disk: nothing of the partition is visible; a rerun writes it
        reason = f"could not write its partition ({error}): free space and rerun"
        return SourceOutcome(source, FAILED, reason=reason, seconds=time.perf_counter() - began)
    except (DataError, ValueError, OSError) as error:  # what the data layer says about a bad source
        return SourceOutcome(source, FAILED, reason=str(error), seconds=time.perf_counter() - began)
    except Exception as error:  # anything else, mid-run: recorded, and the universe goes on
        reason = f"{type(error).__name__}: {error}"
        return SourceOutcome(source, FAILED, reason=reason, seconds=time.perf_counter() - began)
    return SourceOutcome(source, WRITTEN, windows=written, seconds=time.perf_counter() - began)


def source_windows(loaded: LoadedCheckpoint, settings: RunSettings, source: str) -> tuple[TaskSamples, np.ndarray]:
    """``source``'s samples for the model's task, and the positions of its windows in the run's range.

    Raises:
        DataError: no window of ``source`` ends in the range (or what loading it says).
    """
    samples = load_samples(loaded.spec, source)
    times = samples.times
    keep = np.ones(len(times), dtype=bool)
    if settings.first is not None:
        keep &= np.asarray(times >= pd.Timestamp(settings.first))
    if settings.last is not None:
        keep &= np.asarray(times < pd.Timestamp(settings.last) + pd.Timedelta(days=1))
    indices = np.flatnonzero(keep)
    if len(indices) == 0:
        raise DataError(f"{source}: no window in the range {settings.first or '…'} – {settings.last or '…'}")
    return samples, indices


def write_source(
    loaded: LoadedCheckpoint,
    settings: RunSettings,
    source: str,
    out: Path,
    windows: tuple[TaskSamples, np.ndarray],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Explain one source's ``windows`` (:func:`source_windows`) into its partition — the maps
    written batch by batch as they come (:class:`batch.dataset.PartitionMaps`), the rows last — and
    return how many.

    Raises:
        batch.dataset.WriteError: the partition could not be written (nothing of it is visible).
    """
    samples, indices = windows
    side = loaded.spec.image_size
    with dataset.PartitionMaps(out, source, settings.methods, (len(indices), side, side)) as maps:
        rows = explain_source(loaded, settings, source, samples, indices, maps, progress=progress)
        dataset.finish_partition(out, source, rows, maps)
    return len(rows)


def explain_source(
    loaded: LoadedCheckpoint,
    settings: RunSettings,
    source: str,
    samples: TaskSamples,
    indices: np.ndarray,
    maps: dataset.PartitionMaps,
    *,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """The rows of ``samples``' windows ``indices`` (see the module docstring); their maps go to ``maps``."""
    task, spec, methods = loaded.task, loaded.spec, settings.methods
    n = len(indices)
    per_time = {key: np.zeros((n, spec.sequence_length), dtype=np.float32) for key in methods}
    mass = {key: np.zeros((n, spec.sequence_length), dtype=np.float32) for key in methods}
    trust: dict[str, np.ndarray] = {}  # the rows' trust-score columns, with --trust
    if settings.trust:
        columns = [f"{name}_{key}" for name in TRUST_SCORES for key in methods] + list(SHARED_TRUST_SCORES)
        trust = {column: np.full(n, np.nan) for column in columns}
    answer, explained, outcome = np.zeros(n), np.zeros(n, dtype=np.int64), np.full(n, np.nan)
    span = settings.batch * GROUPED_BATCHES
    for start in range(0, n, span):
        chunk = indices[start : start + span]
        inputs, targets = samples.batch(chunk)
        inputs = tuple(part.to(settings.device) for part in inputs)
        for part in explain_batches(
            loaded.model, inputs[0], inputs[1] if len(inputs) > 1 else None, None,
            is_regression=task.is_regression, image_kind=spec.image, n_steps=spec.sequence_length, methods=methods,
            batch=settings.batch, trust=settings.trust,
        ):  # fmt: skip
            rows = start + part.rows
            for key in methods:  # each batch's maps to disk at once: a source's are never all in memory
                maps.write(rows, key, part.maps[key])
                per_time[key][rows], mass[key][rows] = part.profiles(key)
            for name, by_method in part.trust.items():
                for key, values in by_method.items():
                    trust[name if key == "random" else f"{name}_{key}"][rows] = values
            explained[rows] = part.targets
            answer[rows] = task.answers(part.outputs, part.targets)
            if progress is not None:
                progress(len(rows))
        where = slice(start, start + len(chunk))
        if task.is_regression:
            outcome[where] = percent_change(targets.double().numpy(), samples.last_log10[chunk])
        else:
            outcome[where] = targets.numpy()
    pattern = _planted(samples, indices)
    without = _without_pattern(loaded, samples, indices) if settings.reliance else None
    rows = pd.DataFrame(
        {
            "source": source,
            "time": samples.times[indices],
            "model": settings.model,
            "card_digest": loaded.card.weights_sha256,
            "synthetic": bool(samples.loaded.synthetic),
            # the regressor's forecast move in %, or the classifier's P(up)
            "prediction": answer,
            # the direction explained (+1 / −1, regressor) or the class (1 up / 0 down, classifier)
            "explained": explained,
            # the actual move in % (regressor) or the label, 1 = up (classifier)
            "outcome": outcome,
            # the planted pattern's time steps [start, stop) on the demo market, −1 where none
            "pattern_start": pattern[:, 0],
            "pattern_stop": pattern[:, 1],
            **{f"time_{key}": list(per_time[key]) for key in methods},
            **{f"mass_{key}": list(mass[key]) for key in methods},
            **trust,
        }
    )
    if without is not None:
        # --reliance: the same answer for the window regenerated without its planted pattern, NaN where none
        rows["prediction_without_pattern"] = without
    return rows


def _without_pattern(loaded: LoadedCheckpoint, samples, indices: np.ndarray) -> np.ndarray:
    """``(n,)`` each pattern window's answer without its pattern (:func:`workflows.reliance.pattern_reliance`),
    NaN where there is none (or the source is not the demo market)."""
    out = np.full(len(indices), np.nan)
    try:
        found = pattern_reliance(loaded, samples, indices)
    except ValueError:  # not the demo market: no planted ground truth
        return out
    out[found.rows] = found.without_pattern
    return out


def _planted(samples, indices: np.ndarray) -> np.ndarray:
    """``(n, 2)`` the planted pattern's steps per window (the Evaluate page's rule), ``-1`` where none."""
    try:
        intervals = scored_intervals(samples)
    except ValueError:  # not the demo market, or a symbol without patterns for this task
        return np.full((len(indices), 2), -1, dtype=np.int64)
    return np.asarray(intervals[indices], dtype=np.int64)
