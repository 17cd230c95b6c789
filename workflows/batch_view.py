"""A batch dataset's aggregates for the Evaluate page: read back, never recomputed (no Streamlit here).

:func:`find_datasets` lists the datasets under the datasets folder (``$CHART_XAI_DATASETS``, by
default ``<cache>/datasets``: the page reads nowhere else). :func:`open_dataset` checks that a
dataset explains the page's model — same task, same weights (the card's digest) — and reads only
the columns it needs with pyarrow (no maps), then computes, per method, from the stored absolute
time profiles:

* **up versus down** bands and where they peak (:func:`xai.aggregate.importance_by_prediction`,
  :func:`xai.aggregate.peak_summary`), over every window;
* **agreement** between methods (:func:`xai.aggregate.method_agreement`) and **localisation** on the
  demo market's planted patterns (:func:`workflows.planted.localise`), both over at most
  :data:`MOST_PAIRED` evenly spaced windows (their cost grows with the pairs);
* **trust-score distributions** when the run computed them: each map's deletion and insertion
  area against the random orders' of the same window.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from batch import dataset
from data.settings import cache_dir
from models.checkpoints import LoadedCheckpoint
from workflows.planted import localise
from workflows.range_results import LocalisationSummary
from workflows.range_tables import localisation_table, peak_table
from workflows.reliance import localise_relied, reliance_of
from xai.aggregate import Agreement, Band, method_agreement, peak_summary
from xai.aggregate import importance_by_prediction as bands_by_call
from xai.methods import method_label

#: Where the page looks for datasets (each a folder with a ``manifest.json``).
DATASETS_ENV_VAR = "CHART_XAI_DATASETS"
#: Windows that agreement and localisation are computed on, at most (evenly spaced).
MOST_PAIRED = 2000
#: Top-k of the agreement's overlap (time steps).
AGREEMENT_K = 10


def datasets_root() -> Path:
    """``$CHART_XAI_DATASETS`` or ``<cache>/datasets``."""
    configured = os.environ.get(DATASETS_ENV_VAR)
    return Path(configured).expanduser() if configured else cache_dir() / "datasets"


def find_datasets(root: Path | None = None) -> list[str]:
    """The names of the folders under ``root`` that hold a dataset, sorted."""
    root = datasets_root() if root is None else root
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if (entry / dataset.MANIFEST).is_file())


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetView:
    """What the Evaluate page draws of one dataset (the figure functions read the same names as a
    :class:`~workflows.range_results.RangeEvaluation`'s)."""

    name: str
    manifest: dict
    methods: tuple[str, ...]
    sources: tuple[str, ...]
    errors: dict[str, str]
    times: pd.DatetimeIndex
    indices: np.ndarray
    synthetic: bool
    unit: str
    step_labels: tuple[str, ...]
    predicted_up: np.ndarray
    right: np.ndarray
    bands: dict[str, dict[str, Band]]
    peak_table: pd.DataFrame
    agreement: Agreement
    paired_note: str
    trust: pd.DataFrame | None
    localisation: LocalisationSummary | None
    localisation_reason: str
    localisation_table: pd.DataFrame


def open_dataset(name: str, loaded: LoadedCheckpoint, root: Path | None = None) -> DatasetView:
    """Read the dataset ``name`` (under ``root``) and compute its aggregates for ``loaded``'s model.

    Raises:
        ValueError: no such dataset, one of another format, task or model (the reason named), or
            one without a finished partition yet.
    """
    root = datasets_root() if root is None else root
    folder = root / name
    if Path(name).name != name or not (folder / dataset.MANIFEST).is_file():
        raise ValueError(
            f"dataset must be one of the folders under {root} that hold a {dataset.MANIFEST}, got {name!r}"
        )
    manifest = dataset.read_manifest(folder)
    _check_model(manifest, loaded)
    methods = tuple(manifest["methods"])
    columns = ["source", "time", "explained", "prediction", "outcome", "synthetic", "pattern_start", "pattern_stop"]
    columns += [f"mass_{key}" for key in methods]
    if manifest.get("reliance"):
        columns += ["prediction_without_pattern"]
    if manifest.get("trust"):
        columns += [f"{score}_{key}" for score in ("deletion_auc", "insertion_auc") for key in methods]
        columns += ["random_deletion_auc", "random_insertion_auc"]
    parts = sorted((folder / "windows").glob("*.parquet"))
    if not parts:
        raise ValueError(f"dataset {name!r} holds no finished partition yet: let its batch run finish, then reopen it")
    rows = pd.concat([pq.read_table(part, columns=columns).to_pandas() for part in parts], ignore_index=True)
    task = loaded.task
    mass = {key: np.stack(rows[f"mass_{key}"].to_numpy()).astype(np.float64) for key in methods}
    predicted_up = (rows["explained"].to_numpy() > 0) if task.is_regression else (rows["explained"].to_numpy() == 1)
    actual_up = rows["outcome"].to_numpy() > 0 if task.is_regression else rows["outcome"].to_numpy() == 1
    known = np.isfinite(rows["outcome"].to_numpy())
    n, n_steps = len(rows), loaded.spec.sequence_length
    labels = tuple(f"{task.time_unit} {i + 1}" for i in range(n_steps))
    paired = np.unique(np.linspace(0, n - 1, min(n, MOST_PAIRED)).round().astype(np.int64))
    paired_note = f"all {n} windows" if len(paired) == n else f"{len(paired)} evenly spaced of the {n} windows"
    located, reason = _localisation(rows, {key: value[paired] for key, value in mass.items()}, paired, task)
    errors_path = folder / "errors.json"
    return DatasetView(
        name=name,
        manifest=manifest,
        methods=methods,
        sources=tuple(rows["source"].unique()),
        errors=json.loads(errors_path.read_text(encoding="utf-8")) if errors_path.exists() else {},
        times=pd.DatetimeIndex(rows["time"]),
        indices=np.arange(n),
        synthetic=bool(rows["synthetic"].any()),
        unit=task.time_unit,
        step_labels=labels,
        predicted_up=predicted_up,
        right=(predicted_up == actual_up)[known],
        bands={key: bands_by_call(mass[key], predicted_up) for key in methods},
        peak_table=peak_table({key: peak_summary(mass[key]) for key in methods}, labels, n),
        agreement=method_agreement({key: value[paired] for key, value in mass.items()}, k=min(AGREEMENT_K, n_steps)),
        paired_note=paired_note,
        trust=_trust(rows, methods) if manifest.get("trust") else None,
        localisation=located,
        localisation_reason=reason,
        localisation_table=localisation_table(located),
    )


def _check_model(manifest: dict, loaded: LoadedCheckpoint) -> None:
    if manifest.get("format") not in dataset.READABLE_FORMATS:
        readable = " and ".join(str(format) for format in dataset.READABLE_FORMATS)
        raise ValueError(
            f"this dataset was written in format {manifest.get('format')!r}; this version reads formats "
            f"{readable}: rerun python -m batch explain into a new folder"
        )
    if manifest.get("task") != loaded.task.name:
        raise ValueError(
            f"this dataset explains the {manifest.get('task')!r} task, the page's model is the {loaded.task.name!r} "
            "one: pick that model above"
        )
    if manifest.get("card_digest") != loaded.card.weights_sha256:
        raise ValueError(
            f"this dataset explains another model ({manifest.get('model')!r}, weights "
            f"{str(manifest.get('card_digest'))[:12]}…) than the page's (weights {loaded.card.weights_sha256[:12]}…): "
            "its maps say nothing about this one — select that model, or rerun the batch with this one"
        )


def _localisation(
    rows: pd.DataFrame, mass: dict[str, np.ndarray], paired: np.ndarray, task
) -> tuple[LocalisationSummary | None, str]:
    intervals = rows[["pattern_start", "pattern_stop"]].to_numpy(dtype=np.int64)[paired]
    if not rows["synthetic"].any():
        return None, (
            "Localisation needs ground truth: the patterns planted in the demo market. These windows come from "
            "real prices, which have none."
        )
    if not (intervals[:, 0] >= 0).any():
        return None, f"None of the {len(paired)} windows scored has a planted pattern: nothing to localise."
    if "prediction_without_pattern" not in rows:  # written without --reliance: every pattern window counts
        return localise(mass, intervals, regression=task.is_regression), ""
    with_pattern = rows["prediction"].to_numpy()[paired]
    without = rows["prediction_without_pattern"].to_numpy()[paired]
    pattern_rows = np.flatnonzero(intervals[:, 0] >= 0)
    reliance = reliance_of(
        pattern_rows,
        np.full(len(pattern_rows), -1),
        with_pattern[pattern_rows],
        without[pattern_rows],
        regression=task.is_regression,
    )
    return localise_relied(mass, intervals, reliance, regression=task.is_regression)


def _trust(rows: pd.DataFrame, methods: tuple[str, ...]) -> pd.DataFrame:
    """Long table: method, score, the map's area and the random orders' of the same window."""
    frames = []
    for key in methods:
        for score, better in (("deletion_auc", "lower"), ("insertion_auc", "higher")):
            frames.append(
                pd.DataFrame(
                    {
                        "method": method_label(key),
                        "score": f"{score.split('_')[0]} area ({better} is better)",
                        "map": rows[f"{score}_{key}"].to_numpy(),
                        "random order": rows[f"random_{score}"].to_numpy(),
                    }
                )
            )
    table = pd.concat(frames, ignore_index=True)
    table["map − random"] = table["map"] - table["random order"]
    return table


def trust_summary(trust: pd.DataFrame) -> pd.DataFrame:
    """Per method and score: the median map − random difference, and the share of windows where the
    map beats its random orders."""
    better = np.where(trust["score"].str.startswith("deletion"), trust["map − random"] < 0, trust["map − random"] > 0)
    frame = trust.assign(**{"beats random": better})
    return frame.groupby(["method", "score"], sort=False).agg(
        windows=("map", "size"),
        **{"median map − random": ("map − random", "median"), "share beating random": ("beats random", "mean")},
    )
