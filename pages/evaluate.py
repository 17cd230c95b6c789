"""Evaluate: the engine's aggregate views over a date range, or over a batch dataset (widgets and layout only).

The numbers come from :func:`workflows.range_evaluation.evaluate_range`; the result is cached per
(checkpoint folder, source, range, methods, settings), so going back to a range is instant. A batch
dataset (``python -m batch explain``) is read back by :func:`workflows.batch_view.open_dataset`,
cached per dataset, model and the dataset's files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from data.settings import SYNTHETIC_LABEL
from models.checkpoints import LoadedCheckpoint
from models.datasets import TaskSamples, load_samples
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import active_checkpoint, active_model, cached_model
from pages.ui.sources import show_source_line, source_label, trained_on_label
from workflows.batch_view import DatasetView, datasets_root, find_datasets, open_dataset, trust_summary
from workflows.range_evaluation import (
    DateSpan,
    RangeEvaluation,
    available_range,
    evaluate_range,
)
from workflows.range_figures import agreement_figure, bands_figure, faithfulness_figure, sanity_figure, trust_figure
from xai import ALL_METHODS, METHODS
from xai.sanity import UNCHANGED_CORRELATION

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

TASKS = {"NIFTY-day classifier": "nifty", "NIFTY rest-of-day classifier": "nifty-rest", "Ticker regressor": "ticker"}
DIRECTIONS = {"what pushes the forecast up": 1, "what pushes it down": -1}
LABEL_TO_KEY = {METHODS[key].label: key for key in ALL_METHODS}
REQUEST_KEY = "evaluate::request"


@st.cache_resource(show_spinner="Cutting the samples…", max_entries=4)
def task_samples(folder: str, task: str, source: str) -> TaskSamples:
    """The task's samples of ``source`` for the checkpoint in ``folder`` (shared, read-only)."""
    return load_samples(cached_model(folder, task).spec, source, files=False)


@st.cache_data(show_spinner=False, max_entries=8)
def date_span(folder: str, task: str, source: str) -> DateSpan:
    return available_range(task_samples(folder, task, source))


@st.cache_data(show_spinner=False, max_entries=8)
def evaluation(
    folder: str,
    task: str,
    source: str,
    start: dt.date,
    end: dt.date,
    methods: tuple[str, ...],
    max_samples: int,
    faithfulness_inputs: int,
    direction: int,
) -> RangeEvaluation:
    """The cached evaluation; the progress bar lives inside, so a cache hit replays it already emptied."""
    bar = st.progress(0.0, text="Starting the evaluation…")
    try:
        return evaluate_range(
            cached_model(folder, task),
            source,
            start,
            end,
            methods=methods,
            max_samples=max_samples,
            faithfulness_inputs=faithfulness_inputs,
            direction=direction,
            samples=task_samples(folder, task, source),
            progress=lambda fraction, message: bar.progress(fraction, text=message),
        )
    finally:
        bar.empty()


@st.cache_data(show_spinner="Reading the dataset…", max_entries=4)
def dataset_view(name: str, root: str, folder: str, task: str, files: tuple[tuple[str, float], ...]) -> DatasetView:
    """The dataset's aggregates for the checkpoint in ``folder`` (``files``: its partitions and their times)."""
    return open_dataset(name, cached_model(folder, task), Path(root))


def show_dataset_tab(task: str, folder: str) -> None:
    """Pick a dataset under the datasets folder and draw its aggregates."""
    root = datasets_root()
    st.markdown(
        "What `python -m batch explain` wrote, read back without recomputing anything: every window of a "
        "universe, aggregated."
    )
    names = find_datasets(root)
    if not names:
        st.info(
            f"No dataset under `{root}` yet. Write one with `python -m batch explain demo:* --task {task} "
            f"--out {root}/NAME` (set `CHART_XAI_DATASETS` to read another folder)."
        )
        return
    name = st.selectbox("Dataset", names, index=None, placeholder=f"{len(names)} under {root}", key="evaluate_dataset")
    if name is None:
        return
    files = tuple((part.name, part.stat().st_mtime) for part in sorted((root / name / "windows").glob("*.parquet")))
    try:
        view = dataset_view(name, str(root), folder, task, files)
    except ValueError as error:
        st.error(f"{error}")
        return
    show_dataset(view)


def show_dataset(view: DatasetView) -> None:
    """The figures and tables of one batch dataset."""
    synthetic_note = f" · {SYNTHETIC_LABEL}" if view.synthetic else ""
    manifest = view.manifest
    first, last = view.times.min(), view.times.max()
    st.subheader(f"{len(view.indices):,} windows of {len(view.sources)} sources, {first:%Y-%m-%d} – {last:%Y-%m-%d}")
    st.caption(
        f"Model {manifest['model']!r} ({manifest['task']}), methods {', '.join(view.methods)}; {manifest['created']}"
    )
    if view.errors:
        with st.expander(f"{len(view.errors)} sources failed in the last run"):
            st.dataframe({"source": list(view.errors), "reason": list(view.errors.values())}, hide_index=True)
    columns = st.columns(3)
    columns[0].metric("Predicted up", int(view.predicted_up.sum()))
    columns[1].metric("Predicted down", int((~view.predicted_up).sum()))
    columns[2].metric("Prediction right", f"{view.right.mean():.0%}" if len(view.right) else "—")
    st.markdown(f"#### Which {view.unit}s matter, for up and for down predictions")
    st.plotly_chart(bands_figure(view), key="dataset_bands_chart")
    st.dataframe(view.peak_table)
    st.markdown("#### Agreement between methods")
    st.plotly_chart(agreement_figure(view), key="dataset_agreement_chart")
    st.caption(f"Over {view.paired_note}{synthetic_note}")
    st.markdown("#### Trust scores")
    if view.trust is None:
        st.info("This run computed no trust scores: rerun the batch command with `--trust` into a new folder.")
    else:
        st.plotly_chart(trust_figure(view.trust, view.synthetic), key="dataset_trust_chart")
        st.dataframe(trust_summary(view.trust))
    st.markdown("#### Localisation on planted patterns")
    if view.localisation is None:
        st.info(view.localisation_reason)
    else:
        if view.localisation.reliance is not None:
            st.markdown(f"Scored only where {view.localisation.reliance.sentence}.")
            relied = ""
        else:
            relied = (
                ". Every pattern window is scored: this dataset was written without --reliance, so whether the "
                "model relies on each pattern is unknown"
            )
        st.dataframe(view.localisation_table)
        st.caption(f"Interval: {view.localisation.note}; over {view.paired_note}{relied}{synthetic_note}")


def show_results(result: RangeEvaluation) -> None:
    """The figures and tables of one evaluation."""
    synthetic_note = f" · {SYNTHETIC_LABEL}" if result.synthetic else ""
    st.subheader(f"{len(result.indices)} samples, {result.start:%Y-%m-%d} – {result.end:%Y-%m-%d}")
    st.caption(f"{result.sampling_note}. Computed in {result.seconds:.1f} s.")
    seen = result.split_counts.get("train", 0) + result.split_counts.get("validation", 0)
    if seen:
        st.warning(
            f"{seen} of these samples are from the training or validation split "
            f"({result.split_counts}): the model has seen them. Pick a range in the test split for honest figures."
        )
    columns = st.columns(3)
    columns[0].metric("Predicted up", int(result.predicted_up.sum()))
    columns[1].metric("Predicted down", int((~result.predicted_up).sum()))
    columns[2].metric("Prediction right", f"{(result.predicted_up == result.actual_up).mean():.0%}")

    st.markdown(f"#### Which {result.unit}s matter, for up and for down predictions")
    st.plotly_chart(bands_figure(result), key="bands_chart")
    st.dataframe(result.peak_table)
    st.caption(
        f"Middle-third share: a flat profile scores 1/3 · 95 % intervals{synthetic_note} · samples: the "
        f"{len(result.indices)} explained, less the maps that are all zero there (they point nowhere, so they "
        "are left out of the profile — a method with fewer samples was blank on the rest)"
    )

    st.markdown("#### Sanity check: do the maps change when the model is destroyed?")
    st.plotly_chart(sanity_figure(result), key="sanity_chart")
    st.dataframe(result.sanity_table)
    for key in result.barely_changes:
        mean = result.sanity_table.loc[METHODS[key].label, "mean"]
        st.warning(
            f"{METHODS[key].label} barely changes when the model's weights are randomised (mean rank "
            f"correlation {mean:.2f} ≥ {UNCHANGED_CORRELATION}): it partly shows the input, not the model."
        )
    st.caption(f"Spearman ρ of absolute maps with the original, layers re-initialised output first{synthetic_note}")

    st.markdown("#### Deletion and insertion against random orders")
    st.plotly_chart(faithfulness_figure(result), key="faithfulness_chart")
    st.dataframe(result.faithfulness_table)
    st.caption(
        f"Score: {result.faithfulness.score}. Pixel curves blank pixels most important first; price-space curves "
        "flatten whole bars (minutes) — the straight line through the kept ones, the chart drawn again — ranked "
        "by each map's time profile. Where the two disagree, the pixel curve scored pictures no market can draw"
        f"{synthetic_note}"
    )

    st.markdown("#### Agreement between methods")
    st.plotly_chart(agreement_figure(result), key="agreement_chart")

    st.markdown("#### Localisation on planted patterns")
    if result.localisation is None:
        st.info(result.localisation_reason)
    else:
        if result.localisation.reliance is not None:
            st.markdown(f"Scored only where {result.localisation.reliance.sentence}.")
        st.dataframe(result.localisation_table)
        st.caption(
            f"Interval: {result.localisation.note}. A map that points at a pattern the model ignores is not "
            "credited: the model is asked about each window regenerated without its pattern first. "
            "Chances — flat map: interval length / window; habit: the "
            f"samples without a pattern scored on the same intervals; other days: each map on the other "
            f"samples' intervals — empty when every pattern sits at the same steps (the ticker's breakout bar "
            f"is always the window's last: that chance would equal the share whatever the map){synthetic_note}"
        )


st.title("Evaluate")
st.markdown(
    "The explanations over many samples: which times matter for up and down predictions, whether the maps "
    "survive a sanity check, how faithful they are, how far the methods agree, and whether they find the "
    "demo market's planted patterns."
)
task = TASKS[st.radio("Model", list(TASKS), horizontal=True, key="evaluate_task")]
try:
    loaded = active_model(task)
    folder, source = active_checkpoint(task), loaded.card.data.source
    span = date_span(folder, task, source)
    show_source_line(source, loaded.task.interval, "The model's data: ")
except ValueError as error:  # CheckpointError and DataError are ValueErrors with a message that says what to do
    st.error(f"{error}")
    st.stop()
st.caption(
    f"{loaded.spec.arch}, {loaded.spec.image} {loaded.spec.image_size} px, "
    f"trained on {trained_on_label(loaded.card)}; tested on {source_label(source)}: "
    f"{span.samples:,} samples from {span.first:%Y-%m-%d} to {span.last:%Y-%m-%d}"
)
if loaded.card.data.synthetic:
    st.info(SYNTHETIC_LABEL)


def show_range_tab(loaded: LoadedCheckpoint, folder: str, task: str, source: str, span: DateSpan) -> None:
    """Pick a date range and settings, run the evaluation, draw it."""
    chosen_range = st.date_input(
        "Date range (a NIFTY sample counts by its day, a ticker window by its last bar's day)",
        value=(span.recent_start, span.last),
        min_value=span.first,
        max_value=span.last,
        key=f"evaluate_range_{task}",  # one range per model: their samples span different days
    )
    labels = st.multiselect("Methods", list(LABEL_TO_KEY), default=list(LABEL_TO_KEY), key="evaluate_methods")
    with st.expander("Settings"):
        max_samples = st.slider("Most samples to explain", 8, 256, 64, step=8, key="evaluate_samples")
        faithfulness_inputs = st.slider(
            "Samples for deletion and insertion", 4, 32, 16, step=4, key="evaluate_faithful"
        )
        direction = 1
        if loaded.task.is_regression:  # the regressor's maps explain a direction of the forecast
            direction = DIRECTIONS[st.radio("Explain", list(DIRECTIONS), horizontal=True, key="evaluate_direction")]

    if len(chosen_range) != 2:
        st.info("Pick the last day of the range too.")
        return
    if not labels:
        st.info("Pick at least one method.")
        return
    request = (
        folder,
        task,
        source,
        *chosen_range,
        tuple(LABEL_TO_KEY[label] for label in labels),
        max_samples,
        faithfulness_inputs,
        direction,
    )
    if st.button("Run", type="primary", key="evaluate_run"):
        st.session_state[REQUEST_KEY] = request
    asked = st.session_state.get(REQUEST_KEY)
    if asked is None:
        st.info(
            "Choose a range and press Run: 64 samples take about 10–60 s on a 2-core CPU; "
            "a range once evaluated comes back instantly."
        )
        return
    if asked != request:
        st.info("The settings changed since the last run: press Run to evaluate them. Showing the last run.")
    try:
        result = evaluation(*asked)
    except ValueError as error:
        st.error(f"{error}")
        return
    show_results(result)


range_tab, dataset_tab = st.tabs(["A date range", "A batch dataset"])
with range_tab:
    show_range_tab(loaded, folder, task, source, span)
with dataset_tab:
    show_dataset_tab(task, folder)
