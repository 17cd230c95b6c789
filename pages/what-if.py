"""What if: move a threshold over the model's history and see what it would have done.

The model runs once per (checkpoint, source, split) — cached, behind a spinner; every slider move
only recounts stored arrays (:mod:`models.what_if`). State lives in the URL: ``model``, ``split``, ``threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from data import DataError
from data.settings import SYNTHETIC_LABEL
from models.checkpoints import CheckpointError
from models.datasets import SPLIT_NAMES
from models.locks import model_lock
from models.what_if import (
    THRESHOLD_SCALES,
    PredictionHistory,
    alert_curves,
    alert_table,
    curve_auc,
    decision_point,
    prediction_history,
    roc_curve,
)
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import active_checkpoint, active_model, cached_model
from pages.ui.sources import show_source_line, source_label

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

MODELS = {
    "ticker": "Ticker regressor — alert threshold",
    "nifty": "NIFTY classifier — decision threshold",
    "nifty-rest": "NIFTY rest-of-day classifier — decision threshold",
}
SPLITS = {
    "test": "test (never seen in training: the honest one)",
    "validation": "validation (chose the weights and fitted the offset correction: optimistic)",
    "train": "train (fitted on: flattering, and slow to run)",
}

COLOURS = qualitative.Plotly


@st.cache_data(
    show_spinner="Running the model over the chosen split — done once; moving a threshold afterwards is instant…",
    max_entries=12,
)
def history(folder: str, task: str, source: str, part: str) -> PredictionHistory:
    """The model's outputs over one split, computed once per (checkpoint, source, split)."""
    loaded = cached_model(folder, task)
    with model_lock(loaded.model):  # explanations on other sessions hook this shared model
        return prediction_history(loaded, source, part, files=False)


def seed_from_url(key: str, param: str, read: Callable[[str], Any], default: Any, *, applies: bool = True) -> None:
    """Give widget ``key`` the URL's ``param`` (or ``default``, with a warning when the URL's is bad)."""
    if key in st.session_state:
        return
    text = st.query_params.get(param) if applies else None
    try:
        st.session_state[key] = default if text is None else read(text)
    except ValueError as error:
        st.warning(f"The link's `{param}` was ignored: {error}. Showing {default} instead.")
        st.session_state[key] = default


def fmt(value: float, interval: tuple[float, float] | None = None) -> str:
    """A figure, with its interval in brackets for tables; a metric shows the figure alone (a value
    with its interval is cut at 1280-1500 px) and its caption the interval (:func:`span`)."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}" if interval is None else f"{value:.2f} ({span(interval)})"


def span(interval: tuple[float, float] | None) -> str:
    """An interval as ``low–high``, or ``n/a``."""
    if interval is None or any(math.isnan(end) for end in interval):
        return "n/a"
    return f"{interval[0]:.2f}–{interval[1]:.2f}"


def titled(figure: go.Figure, title: str, synthetic: bool) -> go.Figure:
    text = f"{title}<br><sup>{SYNTHETIC_LABEL}</sup>" if synthetic else title
    return figure.update_layout(title=text, height=460, margin={"t": 80})


def one_of(options: Iterable[str]) -> Callable[[str], str]:
    """A reader for a URL value that must be one of ``options``."""

    def read(text: str) -> str:
        if text not in options:
            raise ValueError(f"it must be one of {', '.join(options)}, got {text!r}")
        return text

    return read


st.title("What if — thresholds over the model's history")
seed_from_url("what_if_model", "model", one_of(MODELS), "ticker")
seed_from_url("what_if_split", "split", one_of(SPLIT_NAMES), "test")
task = st.radio("Model", list(MODELS), format_func=MODELS.get, horizontal=True, key="what_if_model")
part = st.radio("Split", list(SPLITS), format_func=SPLITS.get, horizontal=True, key="what_if_split")
scale = THRESHOLD_SCALES[task]
threshold_key = f"what_if_threshold_{task}"
# the link's threshold belongs to the link's model (the ticker regressor when it names none); a model
# switched back to gets the threshold it had (Streamlit forgets the state of a widget it did not draw)
from_link = st.query_params.get("model", "ticker") == task
remembered = st.session_state.get(f"what_if_last_{task}", scale.default)
seed_from_url(threshold_key, "threshold", scale.parse, remembered, applies=from_link)

source = "?"
try:
    loaded = active_model(task)
    source = loaded.card.data.source
    if not source:
        raise CheckpointError(f"the card in {loaded.folder} does not name its data source")
    past = history(active_checkpoint(task), task, source, part)
    show_source_line(source, loaded.task.interval, "The model's data: ")
except CheckpointError as error:
    st.error(
        f"The {task} model cannot be used: {error}. "
        "Pick another checkpoint on the Train page, or restore the shipped one in models/shipped/."
    )
    st.stop()
except DataError as error:
    st.error(
        f"The model's data ({source_label(source)}) cannot be read: {error}. "
        "Check the source, or pick another checkpoint."
    )
    st.stop()

if not len(past):
    st.warning(f"The {part} split of {source_label(source)} is empty: pick another split.")
    st.stop()
first, last = pd.Timestamp(past.times[0]), pd.Timestamp(past.times[-1])
st.caption(f"{len(past):,} {loaded.task.sample_noun} of {source_label(source)}, {first:%Y-%m-%d} → {last:%Y-%m-%d}.")
if past.synthetic:
    st.caption(SYNTHETIC_LABEL)

#: Share of forecasts firing above which the offset correction, not the model, is said to decide the alerts.
CORRECTION_DOMINATES = 0.9

if loaded.task.is_regression:  # an alert threshold on the forecast move
    has_correction = past.predicted_pct_corrected is not None
    why = "fitted on the validation split; it makes the shipped model worse" if has_correction else "not in this card"
    corrected = st.toggle(
        "With the paper's offset correction",
        key="what_if_corrected",
        disabled=not has_correction,
        help=why.capitalize(),
    )
    threshold = st.slider(
        "Alert threshold (% move in the next hour)", scale.low, scale.high, step=scale.step, key=threshold_key
    )
    counts = alert_table(past.predicted_pct_corrected if corrected else past.predicted_pct, past.actual_pct, threshold)
    columns = st.columns(5)
    columns[0].metric("Alerts fired", counts.alerts)
    columns[1].metric("Correct", counts.correct)
    columns[2].metric("Moves ≥ threshold", counts.events)
    columns[3].metric("Precision", fmt(counts.precision))
    columns[4].metric("Recall", fmt(counts.recall))
    st.caption(
        f"Wilson 95 % intervals: precision {span(counts.precision_ci95)}, recall {span(counts.recall_ci95)}. "
        f"Of the {counts.alerts} alerts, {counts.wrong_sign} called a move the wrong way and "
        f"{counts.false_alarms} fired on a move under {threshold:g} %."
    )
    if corrected:  # where the correction's constant shift, not the model, decides the alerts, say so
        shift = float(np.median(past.predicted_pct_corrected - past.predicted_pct))
        if abs(shift) >= threshold or counts.alerts >= CORRECTION_DOMINATES * len(past):
            st.warning(
                f"The offset correction moves every forecast by about {shift:+.2f} % (median), "
                f"{'beyond' if abs(shift) >= threshold else 'close to'} the {threshold:g} % threshold: "
                f"{counts.alerts:,} of {len(past):,} forecasts fire because of the correction, not the model. "
                "Turn it off to see the model's own alerts."
            )
    if past.baselines:
        st.markdown(f"**Each baseline on the same {part} split, alerting at the same {threshold:g} %**")
        rows = {name: alert_table(forecast, past.actual_pct, threshold) for name, forecast in past.baselines.items()}
        st.dataframe(
            pd.DataFrame(
                {
                    "baseline": list(rows),
                    "alerts": [row.alerts for row in rows.values()],
                    "correct": [row.correct for row in rows.values()],
                    "precision": [fmt(row.precision, row.precision_ci95) for row in rows.values()],
                    "recall": [fmt(row.recall, row.recall_ci95) for row in rows.values()],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    grid = scale.grid()
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    variants = {"without correction": past.predicted_pct, "with correction": past.predicted_pct_corrected}
    for name, predicted in variants.items():
        if predicted is None:
            continue
        curves = alert_curves(predicted, past.actual_pct, grid)
        for column, row, colour in (("precision", 1, 0), ("recall", 1, 1), ("alerts", 2, 2), ("correct", 2, 3)):
            line = {"dash": "dot" if name == "with correction" else "solid", "color": COLOURS[colour]}
            figure.add_scatter(x=grid, y=curves[column], name=f"{column}, {name}", line=line, row=row, col=1)
    figure.add_vline(x=threshold, line_color="grey")
    figure.update_yaxes(title_text="share", range=[0, 1.05], row=1, col=1)
    figure.update_yaxes(title_text="count", row=2, col=1)
    figure.update_xaxes(title_text="alert threshold (%)", row=2, col=1)
    st.plotly_chart(titled(figure, "Alerts over thresholds (grey line: the slider)", past.synthetic), width="stretch")
else:  # a decision threshold on P(up)
    threshold = st.slider(
        "Decision threshold: 'up' when P(up) is above it", scale.low, scale.high, step=scale.step, key=threshold_key
    )
    point = decision_point(past.probability_up, past.label, threshold)
    point_accuracy = point.accuracy
    columns = st.columns(3)
    columns[0].metric("Accuracy", fmt(point.accuracy))
    columns[1].metric("True-positive rate", fmt(point.tpr))
    columns[2].metric("False-positive rate", fmt(point.fpr))
    st.caption(
        f"Accuracy {span(point.accuracy_ci95)} (Wilson 95 %). Rows: the true outcome; columns: what the model called."
    )
    if past.baselines:
        st.markdown(f"**Each baseline on the same {part} split, deciding at the same {threshold:g}**")
        points = {name: decision_point(answer, past.label, threshold) for name, answer in past.baselines.items()}
        st.dataframe(
            pd.DataFrame(
                {
                    "baseline": list(points),
                    "accuracy": [fmt(point.accuracy, point.accuracy_ci95) for point in points.values()],
                    "accuracy − model's": [f"{point.accuracy - point_accuracy:+.3f}" for point in points.values()],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    st.table(pd.DataFrame(point.confusion, index=["down day", "up day"], columns=["called down", "called up"]))
    fpr, tpr, _ = roc_curve(past.probability_up, past.label)
    figure = go.Figure()
    figure.add_scatter(x=fpr, y=tpr, name="ROC curve", mode="lines")
    figure.add_scatter(x=[0, 1], y=[0, 1], name="chance", mode="lines", line={"dash": "dot", "color": "grey"})
    figure.add_scatter(
        x=[point.fpr], y=[point.tpr], name=f"threshold {threshold:g}", mode="markers", marker={"size": 14}
    )
    figure.update_xaxes(title_text="false-positive rate", range=[0, 1])
    figure.update_yaxes(title_text="true-positive rate", range=[0, 1.02])
    st.plotly_chart(titled(figure, f"ROC curve, AUC {curve_auc(fpr, tpr):.3f}", past.synthetic), width="stretch")

st.session_state[f"what_if_last_{task}"] = threshold
st.query_params.update({"model": task, "split": part, "threshold": f"{threshold:g}"})
