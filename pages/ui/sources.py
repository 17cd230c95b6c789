"""The session's data: chosen or uploaded once, it follows the user to every page that can use it.

* The *active source* — ``demo:SYMBOL``, a Yahoo ticker, or ``upload:<digest>`` (an upload kept in
  the cache under its bars' digest, :mod:`data.uploads`; the file itself is never written) — is
  kept in the session and in the URL (``?source=``): every page opens on it, and a copied link
  opens it too, wherever that upload is stored.
* A link's source wins over the session's: it is what the user opened.
* A page that cannot use the active source (the demo index on the Ticker page, hourly bars on the
  NIFTY-day page) says why and shows its own default; the active source stays as it was.
* An upload link opened where that upload is not stored says so, and the uploader is right there.
* The sidebar names the data — its name, rows, date range and interval — on every page.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from data import DataError, LoadedBars, load_bar_file
from data.demo import DEMO_SYMBOLS
from data.settings import SYNTHETIC_LABEL
from data.sources import DEMO_PREFIX, looks_like_a_file
from data.uploads import is_upload_source, store_upload
from models.card import ModelCard
from models.tasks import Task, task_named
from pages.ui.shared import load_named

__all__ = ["ACTIVE_SOURCE_KEY", "SourceChoice", "active_source", "pick_source", "set_active_source", "show_data_line"]

#: Session-state keys: the active source, and the source this session's pages last wrote in the URL.
ACTIVE_SOURCE_KEY = "active_source"
URL_SOURCE_KEY = "source_in_url"
DEMO, YAHOO, UPLOAD = "Demo market", "Yahoo ticker", "Upload a file"
KINDS = (DEMO, YAHOO, UPLOAD)


@dataclasses.dataclass(frozen=True)
class SourceChoice:
    """The data a page works on: ``loaded`` at the task's interval, read back by ``source``."""

    loaded: LoadedBars
    source: str

    @property
    def cache_key(self) -> str:
        """Identifies the data in cache keys and window ids (an upload's name is its bars' digest)."""
        return self.source


def data_label(loaded: LoadedBars) -> str:
    """What a user reads as the data's name: never an internal identifier."""
    if loaded.file_name:
        return f"{loaded.file_name} (your upload)"
    return source_label(loaded.source)


def active_source() -> str | None:
    """The source this session works on, once the user has chosen or uploaded one."""
    return st.session_state.get(ACTIVE_SOURCE_KEY)


def set_active_source(source: str) -> None:
    """Make ``source`` the data of every page of this session."""
    st.session_state[ACTIVE_SOURCE_KEY] = source


@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def keep_upload(payload: bytes, name: str) -> str:
    """Read an uploaded file once and keep its bars in the cache; the source that reads them back."""
    return store_upload(load_bar_file(payload, name=name)).source


def _kind(source: str) -> str:
    if source.lower().startswith(DEMO_PREFIX):
        return DEMO
    return UPLOAD if is_upload_source(source) else YAHOO


def _usable(task: Task, wanted: str) -> str | None:
    """``wanted`` as this page can show it, or ``None`` (with a word why) when it cannot."""
    if _kind(wanted) != DEMO:
        return wanted  # a ticker or an upload: whether its bars fit the task shows when they load
    symbol = wanted.removeprefix(DEMO_PREFIX).strip().upper()
    if symbol in task.demo_symbols:
        return DEMO_PREFIX + symbol
    if symbol in DEMO_SYMBOLS:
        st.info(
            f"{symbol} is not one of this page's demo symbols ({', '.join(task.demo_symbols)}): "
            f"showing {task.demo_symbols[0]}. Your other pages keep {symbol}."
        )
    else:
        st.warning(f"Unknown demo symbol {symbol!r} in the link; showing {task.demo_symbols[0]}.")
    return None


def _pick_demo(task: Task, shown: str) -> str:
    choices = list(task.demo_symbols)
    symbol = shown.removeprefix(DEMO_PREFIX) if _kind(shown) == DEMO else choices[0]
    key = f"{task.name}_demo"
    picked = st.sidebar.selectbox("Demo symbol (synthetic)", choices, index=choices.index(symbol), key=key)
    return DEMO_PREFIX + picked


def _pick_yahoo(task: Task, wanted: str) -> str:
    default = wanted if _kind(wanted) == YAHOO else task.yahoo_example
    source = st.sidebar.text_input("Yahoo symbol", value=default, key=f"{task.name}_symbol").strip()
    if not source:
        st.info("Type a Yahoo symbol, e.g. AAPL, or ^NSEI for the NIFTY 50.")
        st.stop()
    return source


def _pick_upload(task: Task, wanted: str) -> str:
    kept = wanted if _kind(wanted) == UPLOAD else None
    label = "Upload another file" if kept else "CSV or Parquet of bars"
    upload = st.sidebar.file_uploader(label, type=["csv", "txt", "parquet"], key=f"{task.name}_upload")
    if upload is not None:
        return keep_upload(upload.getvalue(), upload.name)
    if kept is None:
        st.info("Upload a file: the Kaggle NIFTY 100 minute CSV, a yfinance export, or any timestamp + OHLC CSV.")
        st.stop()
    return kept


#: The source kinds of the sidebar, each with the widgets that pick one.
PICKERS = {DEMO: _pick_demo, YAHOO: _pick_yahoo, UPLOAD: _pick_upload}


def pick_source(task_name: str) -> SourceChoice:
    """Sidebar widgets choosing the data for the task ``task_name`` (bars at the task's interval).

    Opens on the link's source, else the session's active source, else the task's first demo
    symbol; writes the choice back to both (not a default shown in place of an active source this
    page cannot use). A failure is shown as a message that says what to do, and the page stops
    there; nothing else the user had is touched.
    """
    task = task_named(task_name)
    linked = st.query_params.get("source")
    if linked == st.session_state.get(URL_SOURCE_KEY):
        linked = None  # what this session's pages wrote there, not a link
    wanted = linked or active_source() or DEMO_PREFIX + task.demo_symbols[0]
    usable = _usable(task, wanted)
    shown = usable or DEMO_PREFIX + task.demo_symbols[0]
    st.sidebar.subheader("Data")
    kind = st.sidebar.radio("Source", KINDS, index=KINDS.index(_kind(shown)), key=f"{task.name}_source_kind")
    try:
        source = PICKERS[kind](task, shown)
        loaded = load_named(source, task.interval)
    except DataError as error:
        st.error(f"{error}")
        st.stop()
    if usable is not None or source != shown:  # a default shown in place of the active source is not a choice
        set_active_source(source)
    st.query_params["source"] = st.session_state[URL_SOURCE_KEY] = source
    if loaded.stale_reason:
        st.warning(
            f"Offline: Yahoo could not be reached ({loaded.stale_reason}); showing the cached copy from "
            f"{loaded.cache_age.total_seconds() / 3600:.1f} h ago."
        )
    if loaded.synthetic:
        st.caption(SYNTHETIC_LABEL)
    show_data_line(loaded)
    return SourceChoice(loaded=loaded, source=source)


def show_data_line(loaded: LoadedBars, prefix: str = "") -> None:
    """The sidebar's line naming the data: name, rows, date range and interval."""
    index = loaded.bars.index
    span = f"{index[0]:%Y-%m-%d} → {index[-1]:%Y-%m-%d}" if len(index) else "no bars"
    with st.sidebar.container(key="data_line"):
        st.caption(f"{prefix}**{data_label(loaded)}** · {len(index):,} bars of {loaded.interval} · {span}")


@st.cache_data(show_spinner=False, max_entries=64)
def source_label(source: str) -> str:
    """``source`` as a user reads it: an upload by its file's name, a demo symbol as synthetic."""
    if is_upload_source(source):
        try:
            return data_label(load_named(source, None))
        except DataError:
            return "an upload no longer in this server's cache"
    if _kind(source) == DEMO:
        return f"{source.removeprefix(DEMO_PREFIX)} (demo market, synthetic)"
    if looks_like_a_file(source):
        return f"{Path(source).name} (a file, trained on the command line)"
    return f"{source} (Yahoo)"


def trained_on_label(card: ModelCard) -> str:
    """What a model learnt from, in words a user reads (``card.data.trained_on`` with labels, not ids)."""
    return card.data.trained_on_named(source_label)


def show_source_line(source: str | None, interval: str | None, prefix: str = "") -> None:
    """The sidebar's data line for a source a page reads by name (the model's data on What if and
    Evaluate, the session's active data on Home and Train); nothing when there is none."""
    if not source:
        return
    try:
        loaded = load_named(source, interval)
    except DataError:
        with st.sidebar.container(key="data_line"):
            st.caption(f"{prefix}**{source_label(source)}** · cannot be read on this server")
        return
    show_data_line(loaded, prefix)
