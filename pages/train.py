"""Train: train or fine-tune either model on the chosen data, watch it learn, then use it on every page."""

from __future__ import annotations

import re
import shutil
import threading

import plotly.graph_objects as go
import streamlit as st

from data import DataError
from data.settings import SYNTHETIC_LABEL
from data.uploads import is_upload_source
from models.architectures import IMAGES, ModelSpec
from models.card import same_test_split
from models.checkpoints import CheckpointError, read_card
from models.datasets import samples_from_bars
from models.registry import SHIPPED
from models.tasks import Task, task_named
from models.training import (
    TrainConfig,
    cli_command,
    fine_tune_spec,
    new_checkpoint_folder,
    train,
)
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import active_checkpoint, load_named, use_checkpoint
from pages.ui.sources import active_source, keep_upload, set_active_source, show_source_line, source_label

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

TASKS = {
    "Ticker regressor (next-hour close)": "ticker",
    "NIFTY-day classifier (up or down day)": "nifty",
    "NIFTY rest-of-day classifier (close above the first hour's close)": "nifty-rest",
}
#: Where the training data comes from: the demo market, a named source (a Yahoo ticker, or an upload
#: kept in the cache as ``upload:<digest>``, as another page links here with), or a file the user uploads.
DEMO, NAMED, UPLOAD = "Demo market", "A ticker or a kept upload", "Upload a file"
DATA_KINDS = (DEMO, NAMED, UPLOAD)
IMAGE_SIZES = (32, 48, 64, 96, 128, 192, 256, 350)
SCRATCH, FINE_TUNE = "From scratch", "Fine-tune the active model"
RESULT_KEY = "train::result"


def use_model_and_data(task: str, folder: str, source: str) -> None:
    """Every page of this session: this model, on the data it was trained on."""
    use_checkpoint(task, folder)
    set_active_source(source)


@st.cache_resource(show_spinner=False)
def training_lock() -> threading.Lock:
    """One training at a time on this server (shared by every session)."""
    return threading.Lock()


def loss_figure(history: list[dict], task: Task, synthetic: bool) -> go.Figure:
    """Train loss and validation figure per epoch (on a second axis when in other units)."""
    epochs = [entry["epoch"] for entry in history]
    second_axis = not task.validation_in_loss_units
    figure = go.Figure()
    figure.add_scatter(x=epochs, y=[e["train_loss"] for e in history], name=f"train loss ({task.train_loss_name})")
    figure.add_scatter(
        x=epochs,
        y=[e["validation"] for e in history],
        name=task.validation_name,
        yaxis="y2" if second_axis else "y",
    )
    title = "<br>".join(part for part in ("Loss per epoch", SYNTHETIC_LABEL if synthetic else "") if part)
    figure.update_traces(mode="lines+markers")
    figure.update_layout(
        title=title,
        xaxis={"title": "epoch", "dtick": 1},
        yaxis={"title": task.train_loss_name, "rangemode": "tozero"},  # zero-based: a flat loss looks flat
        height=360,
        legend={"orientation": "h", "y": -0.25},
    )
    if second_axis:
        figure.update_layout(
            yaxis2={"title": task.validation_name, "overlaying": "y", "side": "right", "rangemode": "tozero"}
        )
    return figure


def run_training(task, spec, loaded, source, init_from, config, pool=()) -> dict:
    """Train with a live progress bar and loss chart; the checkpoint goes to a new cache folder."""
    with st.spinner("Cutting the samples and drawing the images (the first GADF of a new server takes ≈ 25 s)…"):
        samples = samples_from_bars(spec, loaded)
        if pool:
            interval = task_named(task).interval
            samples = samples.pooled_with([samples_from_bars(spec, load_named(name, interval)) for name in pool])
    folder = new_checkpoint_folder(task)
    bar, chart, history = st.progress(0.0, text="Starting…"), st.empty(), []

    def on_batch(report) -> None:
        text = f"Epoch {report.epoch}/{report.epochs} · batch {report.batch}/{report.batches} · loss {report.loss:.4f}"
        bar.progress(min(report.fraction, 1.0), text=text)

    def on_epoch(report) -> None:
        history.append({"epoch": report.epoch, "train_loss": report.train_loss, "validation": report.validation})
        chart.plotly_chart(loss_figure(history, task_named(task), loaded.synthetic), width="stretch")

    finished = False
    try:
        command = cli_command(spec, source, config, folder, init_from=init_from, pool=pool)
        card = train(
            spec, samples, config, folder, command=command, progress=False, init_from=init_from,
            on_batch=on_batch, on_epoch=on_epoch,
        )  # fmt: skip
        finished = True
    finally:  # an error or a rerun mid-training leaves no half-made checkpoint behind
        if not finished:
            shutil.rmtree(folder, ignore_errors=True)
    done = card.training
    bar.progress(1.0, text=f"Done: {done.epochs} epoch(s) in {done.seconds:.0f} s, evaluated on the test split")
    return {"task": task, "folder": str(folder), "card": card, "synthetic": loaded.synthetic}


def show_result(result: dict, *, chart: bool) -> None:
    task, card, folder = result["task"], result["card"], result["folder"]
    metrics, training = card.metrics, card.training
    st.subheader("The new model on its chronological test split")
    if chart:
        history = list(training.history or ())
        st.plotly_chart(loss_figure(history, task_named(task), result["synthetic"]), width="stretch")
    (st.success if metrics.beats_baseline else st.warning)(metrics.verdict)
    headline = task_named(task).headline_metrics
    columns = st.columns(len(headline))
    for column, (key, label, fmt, lower) in zip(columns, headline, strict=True):
        model, baseline = metrics.model[key], metrics.baseline[key]
        difference = fmt.replace("{:", "{:+").format(model - baseline)
        column.metric(
            label,
            fmt.format(model),
            f"{difference} vs baseline ({fmt.format(baseline)})",
            # a difference that shows as zero is neither a gain nor a loss: drawn grey
            delta_color="off" if not re.search("[1-9]", difference) else "inverse" if lower else "normal",
        )
    try:
        shipped = read_card(SHIPPED[task])
    except CheckpointError:
        shipped = None
    if shipped is not None and same_test_split(card, shipped):
        figures = ", ".join(f"{label} {fmt.format(shipped.metrics.model[k])}" for k, label, fmt, _ in headline)
        st.caption(f"The shipped model on the same data and test split: {figures}.")
    data = card.data
    pooled = ", ".join(source_label(entry["source"]) for entry in data.pooled)
    interval = metrics.model.get("accuracy_ci95")
    st.caption(
        (f"Accuracy 95 % CI {interval[0]:.3f}–{interval[1]:.3f} · " if interval else "")
        + f"Best epoch {training.best_epoch} of {training.epochs} · {card.split.test} test samples · "
        f"data {source_label(data.source)} {data.first[:10]} → {data.last[:10]}"
        + (f" · training pooled with {pooled}" if pooled else "")
        + f" · saved in `{folder}`"
    )
    if active_checkpoint(task) == folder and active_source() == data.source:
        st.success(f"Every page of this session now uses this model, on its data: {source_label(data.source)}.")
    else:
        st.button(
            f"Use this model and its data ({source_label(data.source)}) on every page",
            on_click=use_model_and_data,
            args=(task, folder, data.source),
            key="use_model",
        )


st.title("Train")
st.caption(
    "Train or fine-tune a model on the chosen data; it is saved in the cache folder, never in the project. "
    "Changing a setting while training runs stops it."
)
show_source_line(active_source(), None, "Your data: ")
linked_task = st.query_params.get("task")
linked_source = st.query_params.get("source") or active_source()  # a page's offer, else this session's data
if linked_task in TASKS.values() and "task" not in st.session_state:  # a page offered to train on its data
    st.session_state["task"] = next(label for label, name in TASKS.items() if name == linked_task)
if linked_source and "source_kind" not in st.session_state:
    if linked_source.startswith("demo:"):
        st.session_state["source_kind"], st.session_state["linked_demo"] = DEMO, linked_source.removeprefix("demo:")
    else:
        st.session_state["source_kind"], st.session_state["named_source"] = NAMED, linked_source
task = TASKS[st.radio("Model", list(TASKS), horizontal=True, key="task")]
active = active_checkpoint(task)
if active == str(SHIPPED[task]):
    st.info(f"Every page uses the shipped {task} model.")
else:
    st.info(f"Every page uses the {task} model in `{active}`.")
    st.button("Back to the shipped model", on_click=use_checkpoint, args=(task, SHIPPED[task]), key="use_shipped")

kind = st.radio("Data", DATA_KINDS, horizontal=True, key="source_kind")
from_demo = kind != UPLOAD  # a named source, like a demo symbol, is read by name
start = st.radio("Start", [SCRATCH, FINE_TUNE], horizontal=True, key="start")
try:
    if kind == DEMO:
        symbols = task_named(task).demo_symbols
        linked_demo = st.session_state.get("linked_demo")
        index = symbols.index(linked_demo) if linked_demo in symbols else 0
        source = "demo:" + st.selectbox("Demo symbol (synthetic)", symbols, index=index, key=f"demo_{task}")
        pool = tuple(
            "demo:" + symbol
            for symbol in st.multiselect(
                "Pool the same training period of (the shipped ticker model pools all four; ≈ 5× the time)",
                [symbol for symbol in symbols if "demo:" + symbol != source],
                key=f"pool_{task}",
            )
        )
        st.info(SYNTHETIC_LABEL)
        upload = None
    elif kind == NAMED:
        source = st.text_input(
            "Ticker (Yahoo, or its cached copy offline) or a kept upload (upload:…)",
            key="named_source",
            placeholder=task_named(task).yahoo_example,
        ).strip()
        upload, pool = None, ()
        if not source:
            st.info("Type a ticker, e.g. " + task_named(task).yahoo_example + ", or follow a page's offer to train.")
        elif is_upload_source(source):
            st.caption(f"That is {source_label(source)}.")  # the file, not the internal name
    else:
        upload = st.file_uploader("CSV or Parquet of OHLC(V) bars", type=["csv", "txt", "parquet"], key="upload")
        source, pool = (upload.name if upload is not None else ""), ()
    if start == FINE_TUNE:
        init_from = active
        spec = fine_tune_spec(active, task)
        st.caption(f"Fine-tuning keeps the active model: {spec.arch}, {spec.image} images of {spec.image_size} px.")
    else:
        init_from = None
        default = ModelSpec.default(task)
        with st.expander(f"Model: {default.arch}, {default.image} {default.image_size} px unless changed here"):
            arch = st.selectbox("Architecture", task_named(task).archs, key=f"arch_{task}")
            image = st.selectbox("Image", IMAGES, index=IMAGES.index(default.image), key=f"image_{task}")
            size = ModelSpec.default(task, image=image).image_size
            size = st.selectbox("Image size (px)", IMAGE_SIZES, IMAGE_SIZES.index(size), key=f"size_{task}_{image}")
        spec = ModelSpec.default(task, arch=arch, image=image, image_size=size)
    left, right = st.columns(2)
    epochs = left.number_input("Epochs (at most; early stopping after 5 without progress)", 1, 30, 3, key="epochs")
    seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="seed")
    config = TrainConfig(epochs=int(epochs), seed=int(seed), half=True)
except (DataError, ValueError) as error:
    st.error(f"{error}")
    st.stop()

if st.button("Start training", type="primary", key="start_training", disabled=not (source if from_demo else upload)):
    lock = training_lock()
    if not lock.acquire(blocking=False):
        st.warning("Another session is training on this server; start again when it has finished.")
        st.stop()
    try:
        interval = task_named(task).interval
        if upload is None:
            loaded = load_named(source, interval)
        else:  # kept under its content's digest, so every page can read it again by name
            source = keep_upload(upload.getvalue(), upload.name)
            set_active_source(source)
            loaded = load_named(source, interval)
        st.session_state[RESULT_KEY] = run_training(task, spec, loaded, source, init_from, config, pool)
        show_result(st.session_state[RESULT_KEY], chart=False)
    except (DataError, ValueError) as error:  # CheckpointError is a ValueError
        st.error(f"{error}")
    except (RuntimeError, MemoryError, OSError) as error:
        st.error(f"Training failed: {error}. Try fewer epochs, a smaller image size or the default model.")
    finally:
        lock.release()
elif (result := st.session_state.get(RESULT_KEY)) is not None and result["task"] == task:
    show_result(result, chart=True)
elif not from_demo and not upload:
    st.info("Upload a file: the Kaggle NIFTY 100 minute file, a yfinance export, or any timestamp + OHLC CSV.")
