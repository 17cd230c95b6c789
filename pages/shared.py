"""What every page shares: cached data and models, the active checkpoint, and one error style.

Not a page (``app.py`` does not list it). Streamlit only: the numerics live in the packages.

* Models are ``st.cache_resource`` singletons, shared by every browser session — safe because the
  explanation engine serialises hook-based work per model (:func:`xai.explain.model_lock`).
* Data are ``st.cache_data`` (each session gets its own copy).
* The Train page can switch a task to a new checkpoint: :func:`active_checkpoint` reads that
  choice from the session, so every page of that session uses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import streamlit as st

from data import DataError, LoadedBars, load_bar_file, load_source, make_nifty_days
from data.demo import DEMO_SYMBOLS
from data.settings import SYNTHETIC_LABEL
from data.sources import to_interval
from data.windows import NiftyDays
from models.checkpoints import CheckpointError, LoadedCheckpoint, load_checkpoint, read_card
from models.registry import SHIPPED, available_checkpoints
from models.tasks import Task, task_named
from xai import captum_ready

#: Session-state key holding the checkpoint folder chosen for a task (set by the Train page).
CHECKPOINT_KEY = "checkpoint::{task}"


@st.cache_resource(show_spinner="Loading the model…", max_entries=6)
def cached_model(folder: str, task: str) -> LoadedCheckpoint:
    """The checkpoint in ``folder`` for ``task``, Captum-ready, shared by all sessions."""
    loaded = load_checkpoint(Path(folder), task=task)
    captum_ready(loaded.model)
    return loaded


def active_checkpoint(task: str) -> str:
    """The folder of the checkpoint this session uses for ``task`` (the shipped one by default)."""
    return st.session_state.get(CHECKPOINT_KEY.format(task=task), str(SHIPPED[task]))


def use_checkpoint(task: str, folder: str | Path) -> None:
    """Switch this session's pages to the checkpoint in ``folder`` for ``task``."""
    st.session_state[CHECKPOINT_KEY.format(task=task)] = str(folder)


def active_model(task: str) -> LoadedCheckpoint:
    """The model this session uses for ``task`` (raises CheckpointError when it cannot be loaded)."""
    return cached_model(active_checkpoint(task), task)


@st.cache_data(show_spinner="Loading bars…", max_entries=16)
def load_named(source: str, interval: str) -> LoadedBars:
    """A demo name or ticker at ``interval`` — never a file path: the text comes from the browser."""
    return load_source(source, interval, files=False)


@st.cache_data(show_spinner="Reading the file…", max_entries=4)
def load_upload(payload: bytes, name: str, interval: str) -> LoadedBars:
    """An uploaded file's bars at ``interval`` (the payload is hashed; never written to disk)."""
    return to_interval(load_bar_file(payload, name=name), interval)


@st.cache_data(show_spinner="Cutting trading days…", max_entries=8)
def first_hours(source: str, payload: bytes | None = None, name: str = "") -> NiftyDays:
    """The NIFTY task's usable days of a named source, or of an uploaded file."""
    loaded = load_upload(payload, name, "1m") if payload is not None else load_named(source, "1m")
    return make_nifty_days(loaded.bars)


@dataclasses.dataclass(frozen=True)
class SourceChoice:
    """The data a page works on.

    Attributes:
        loaded: the bars.
        source: what to pass to cached loaders (a demo name, ticker or ``""`` for an upload).
        cache_key: identifies the data in cache keys (the source, or the upload's name and digest).
        payload, name: an uploaded file's bytes and name, else ``None`` and ``""``.
    """

    loaded: LoadedBars
    source: str
    cache_key: str
    payload: bytes | None = None
    name: str = ""


def _demo_source(task: Task, linked_demo: str | None) -> tuple[LoadedBars, str, str, bytes | None, str]:
    choices = list(task.demo_symbols)
    if linked_demo is not None and linked_demo not in DEMO_SYMBOLS:
        st.warning(f"Unknown demo symbol {linked_demo!r} in the link; showing {choices[0]}.")
    index = choices.index(linked_demo) if linked_demo in choices else 0
    key = f"{task.name}_demo"
    source = "demo:" + st.sidebar.selectbox("Demo symbol (synthetic)", choices, index=index, key=key)
    return load_named(source, task.interval), source, source, None, ""


def _yahoo_source(task: Task, linked: str, linked_demo: str | None) -> tuple[LoadedBars, str, str, bytes | None, str]:
    default = linked if linked_demo is None else task.yahoo_example
    source = st.sidebar.text_input("Yahoo symbol", value=default, key=f"{task.name}_symbol").strip()
    if not source:
        st.info("Type a Yahoo symbol, e.g. AAPL, or ^NSEI for the NIFTY 50.")
        st.stop()
    return load_named(source, task.interval), source, source, None, ""


def _uploaded_source(task: Task) -> tuple[LoadedBars, str, str, bytes | None, str]:
    upload = st.sidebar.file_uploader(
        "CSV or Parquet of bars", type=["csv", "txt", "parquet"], key=f"{task.name}_upload"
    )
    if upload is None:
        st.info("Upload a file: the Kaggle NIFTY 100 minute CSV, a yfinance export, or any timestamp + OHLC CSV.")
        st.stop()
    payload, name = upload.getvalue(), upload.name
    loaded = load_upload(payload, name, task.interval)
    return loaded, "", f"upload:{name}:{hashlib.sha256(payload).hexdigest()[:16]}", payload, name


#: The source kinds of the sidebar, each with the widgets that pick one.
SOURCE_KINDS = {
    "Demo market": lambda task, linked, linked_demo: _demo_source(task, linked_demo),
    "Yahoo ticker": _yahoo_source,
    "Upload a file": lambda task, linked, linked_demo: _uploaded_source(task),
}


def pick_source(task_name: str) -> SourceChoice:
    """Sidebar widgets choosing the data for the task ``task_name`` (bars at the task's interval).

    Reads and writes ``?source=`` (``demo:SYM`` or a Yahoo symbol). A failure is shown as a message that
    says what to do, and the page stops there; nothing else the user had is touched.
    """
    task = task_named(task_name)
    linked = st.query_params.get("source", f"demo:{task.demo_symbols[0]}")
    linked_demo = linked.removeprefix("demo:") if linked.startswith("demo:") else None
    kinds = list(SOURCE_KINDS)
    st.sidebar.subheader("Data")
    kind = st.sidebar.radio("Source", kinds, index=0 if linked_demo is not None else 1, key=f"{task.name}_source_kind")
    try:
        loaded, source, cache_key, payload, name = SOURCE_KINDS[kind](task, linked, linked_demo)
    except DataError as error:
        st.error(str(error))
        st.stop()
    if source:
        st.query_params["source"] = source
    if loaded.stale_reason:
        st.warning(
            f"Offline: Yahoo could not be reached ({loaded.stale_reason}); showing the cached copy from "
            f"{loaded.cache_age.total_seconds() / 3600:.1f} h ago."
        )
    if loaded.synthetic:
        st.caption(SYNTHETIC_LABEL)
    return SourceChoice(loaded=loaded, source=source, cache_key=cache_key, payload=payload, name=name)


def pick_model(task: str) -> tuple[str, LoadedCheckpoint]:
    """Sidebar choice of the model for ``task`` (``?model=`` holds its name); its folder and the loaded model.

    Lists the shipped checkpoint and those trained on the Train page. Stops the page with a message
    when the chosen checkpoint cannot be loaded.
    """
    choices = available_checkpoints(task)
    by_folder = {str(folder): name for name, folder in choices.items()}
    current = by_folder.get(active_checkpoint(task), "shipped")
    linked = st.query_params.get("model")
    if linked and f"{task}_model" not in st.session_state:
        if linked in choices:
            current = linked
        else:
            st.warning(f"The link's model {linked!r} is not available here; using {current!r}.")
    names = list(choices)
    name = st.sidebar.selectbox(
        "Model", names, index=names.index(current), key=f"{task}_model", format_func=lambda n: _model_label(task, n)
    )
    use_checkpoint(task, choices[name])
    st.query_params["model"] = name
    try:
        return str(choices[name]), active_model(task)
    except CheckpointError as error:
        st.error(f"The model {name!r} could not be loaded: {error}. Pick another model in the sidebar.")
        st.stop()


@st.cache_data(show_spinner=False, max_entries=64)
def _model_label(task: str, name: str) -> str:
    folder = available_checkpoints(task).get(name)
    try:
        card = read_card(folder)
    except (CheckpointError, TypeError):
        return name
    return f"{name} — {card.arch}, {card.image} {card.image_size} px"
