"""The Ray engine: the same run as :func:`batch.run.explain_universe`, on Ray Data.

The universe becomes a Ray dataset of one row per source (one block each, so the sources spread over
the workers); ``map_batches`` runs :class:`SourceWorker`, an actor per worker that loads the model
once and then does what the local engine does for each source (:func:`batch.run.process_source`:
skip if finished, explain, write the partition atomically). The actors write the partitions
themselves — the maps never travel through the object store — and hand back one small row per
source: how it ended. So the driver's memory stays flat whatever the universe.

Faults: Ray restarts a dead actor and retries its task (``max_restarts`` / ``max_task_retries``);
a retried source's partition is written again under the same name by an atomic rename, so the
dataset has no duplicates whatever the number of attempts. On a cluster the output folder must be
on storage every node mounts at the same path (NFS, a shared disk), as for any Ray job writing
files; the workers import this repository through the job's ``runtime_env`` working directory.

Nothing starts on import: :func:`explain_universe_on_ray` connects to ``address`` or starts a local
Ray instance (and stops the one it started).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from batch import dataset
from batch.run import (
    FAILED,
    RunSettings,
    RunSummary,
    SourceOutcome,
    check_universe,
    manifest_of,
    process_source,
    resolve_checkpoint,
)
from models.checkpoints import LoadedCheckpoint

#: Restarts of a dead actor, and retries of the task it was running, before a source counts as failed.
MAX_RESTARTS = 3
#: What a worker's job does not need to carry to a cluster (runtime_env excludes).
EXCLUDES = [".git", "**/__pycache__", "tests", "docs/screenshots", "runs", ".venv"]
REPO_ROOT = Path(__file__).resolve().parents[1]


class SourceWorker:
    """A Ray Data actor: one checkpoint loaded once, then one source per call (:func:`process_source`)."""

    def __init__(self, settings: RunSettings, out: str, card_digest: str, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)  # this worker process only: the CPUs Ray gave the actor
        self.settings, self.out = settings, Path(out)
        self.loaded = resolve_checkpoint(settings.task, settings.model, settings.device)
        here = self.loaded.card.weights_sha256
        if here != card_digest:
            raise RuntimeError(
                f"the {settings.model!r} model on this worker is not the driver's (weights {here[:12]} ≠ "
                f"{card_digest[:12]}): every node needs the same checkpoints"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outcomes = [process_source(self.loaded, self.settings, str(source), self.out) for source in batch["source"]]
        return {
            "source": np.array([o.source for o in outcomes], dtype=object),
            "status": np.array([o.status for o in outcomes], dtype=object),
            "windows": np.array([o.windows for o in outcomes], dtype=np.int64),
            "reason": np.array([o.reason for o in outcomes], dtype=object),
            "seconds": np.array([o.seconds for o in outcomes], dtype=np.float64),
        }


def explain_universe_on_ray(
    loaded: LoadedCheckpoint,
    settings: RunSettings,
    sources: Sequence[str],
    out: Path,
    *,
    address: str | None = None,
    workers: int = 2,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    progress: Callable[[SourceOutcome], None] | None = None,
    worker: type[SourceWorker] = SourceWorker,
) -> RunSummary:
    """Explain ``sources`` into the dataset ``out`` with ``workers`` Ray actors.

    Args:
        loaded: the driver's checkpoint (for the manifest; each actor loads its own).
        address: a Ray cluster (``"auto"``, ``"ray://head:10001"``); ``None``: the one this process
            is connected to, else a local instance started here and stopped at the end.
        workers: actors (each loads the model once); ``cpus_per_worker`` torch threads each.
        gpus_per_worker: 1 puts each actor on a GPU of its own (``settings.device`` must be cuda).
        progress: called with each source's :class:`~batch.run.SourceOutcome` as it arrives.
        worker: the actor class (a subclass can add behaviour, e.g. a test that kills a worker).

    Raises:
        ValueError: bad ``workers`` / CPU / GPU figures, or ``out`` holds another run's dataset.
    """
    import ray

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cpus_per_worker <= 0 or gpus_per_worker < 0:
        raise ValueError(
            f"cpus_per_worker must be > 0 and gpus_per_worker >= 0, got {cpus_per_worker}, {gpus_per_worker}"
        )
    check_universe(sources)
    dataset.prepare(out, manifest_of(loaded, settings))
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(**_init_arguments(address, workers, cpus_per_worker))
    began = time.perf_counter()
    try:
        outcomes = _run(loaded, settings, sources, out, workers, cpus_per_worker, gpus_per_worker, progress, worker)
    finally:
        if started_here:
            ray.shutdown()
    summary = RunSummary.of(outcomes, time.perf_counter() - began)
    dataset.write_errors(out, summary.failed)
    return summary


def _init_arguments(address: str | None, workers: int, cpus_per_worker: float) -> dict[str, Any]:
    """``ray.init``'s arguments: a cluster gets this repository as the job's working directory."""
    common: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is not None:
        return {**common, "address": address, "runtime_env": {"working_dir": str(REPO_ROOT), "excludes": EXCLUDES}}
    return {**common, "num_cpus": max(1, int(np.ceil(workers * cpus_per_worker))), "object_store_memory": 256 * 2**20}


def _run(
    loaded: LoadedCheckpoint,
    settings: RunSettings,
    sources: Sequence[str],
    out: Path,
    workers: int,
    cpus_per_worker: float,
    gpus_per_worker: float,
    progress: Callable[[SourceOutcome], None] | None,
    worker: type[SourceWorker],
) -> list[SourceOutcome]:
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    items = [{"source": source} for source in sources]
    with warnings.catch_warnings():  # Ray ≥ 2.60 warns that these actor options will get names of their own
        warnings.simplefilter("ignore", category=DeprecationWarning)
        results = ray.data.from_items(items, override_num_blocks=max(1, len(items))).map_batches(
            worker,
            fn_constructor_kwargs={
                "settings": settings, "out": str(out), "card_digest": loaded.card.weights_sha256,
                "threads": max(1, int(cpus_per_worker)),
            },
            batch_size=1, compute=ActorPoolStrategy(size=workers), num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker or None, max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS,
        )  # fmt: skip
    outcomes: dict[str, SourceOutcome] = {}
    try:
        for row in results.iter_rows():
            outcome = SourceOutcome(
                str(row["source"]), str(row["status"]), int(row["windows"]), str(row["reason"]), float(row["seconds"])
            )
            outcomes[outcome.source] = outcome  # a retried source reports once: its last attempt
            if progress is not None:
                progress(outcome)
    except ray.exceptions.RayError as error:  # the retries ran out: the sources not reported failed with it
        reason = f"the Ray job failed after {MAX_RESTARTS} retries: {str(error).splitlines()[0]}"
        for source in sources:
            outcomes.setdefault(source, SourceOutcome(source, FAILED, reason=reason))
    return [outcomes[source] for source in sources if source in outcomes]
