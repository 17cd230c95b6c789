"""What every page shares: cached data and models, the active checkpoint, and one error style.

Not a page (``app.py`` does not list it). Streamlit only: the numerics live in the packages.

* Models are ``st.cache_resource`` singletons, shared by every browser session — safe because the
  explanation engine serialises hook-based work per model (:func:`xai.explain.model_lock`).
* Data are ``st.cache_data`` (each session gets its own copy).
* The Train page can switch a task to a new checkpoint: :func:`active_checkpoint` reads that
  choice from the session, so every page of that session uses it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from data import LoadedBars, load_bar_file, load_source, make_nifty_days
from data.sources import to_interval
from data.windows import NiftyDays
from models.checkpoints import CheckpointError, LoadedCheckpoint, load_checkpoint, read_card
from models.registry import SHIPPED, available_checkpoints
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
def load_named(source: str, interval: str | None) -> LoadedBars:
    """A demo name, ticker or kept upload (``upload:<digest>``) at ``interval`` (``None``: an upload
    as stored) — never a file path: the text comes from the browser."""
    return load_source(source, interval, files=False)


@st.cache_data(show_spinner="Reading the file…", max_entries=4)
def load_upload(payload: bytes, name: str, interval: str) -> LoadedBars:
    """An uploaded file's bars at ``interval`` (the payload is hashed; never written to disk)."""
    return to_interval(load_bar_file(payload, name=name), interval)


@st.cache_data(show_spinner="Cutting trading days…", max_entries=8)
def first_hours(source: str) -> NiftyDays:
    """The NIFTY task's usable days of a named source (an upload by its ``upload:<digest>``)."""
    return make_nifty_days(load_named(source, "1m").bars)


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


def position_source_changed(key: str, source: str) -> bool:
    """Whether the data changed since the position widget ``key`` was last placed (and note ``source``).

    A page's window or day belongs to its data: on new data it starts again at the newest, and the
    URL's ``end``/``day`` — written for the old data — no longer applies.
    """
    previous = st.session_state.get(f"{key}::source")
    st.session_state[f"{key}::source"] = source
    return previous is not None and previous != source
