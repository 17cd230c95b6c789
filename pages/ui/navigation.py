"""The dashboard's pages and the one navigation that lists them, on every visit — deep links included.

Streamlit has two ways to find pages. ``st.navigation`` (app.py) is ours; but a server that has
a ``pages/`` folder beside its main script starts in the older folder mode — every ``pages/*.py``
a page, named after its file — and stays in it until some run calls ``st.navigation``. A first
visit to ``/train`` on a fresh server therefore ran ``pages/train.py`` *directly*, without app.py,
and showed the folder's menu (streamlit/streamlit#9624). Three things keep that from reaching a
user:

* ``pages/`` holds only pages, each file named as its URL (``pages/what-if.py`` is ``/what-if``):
  the folder mode finds the same page as ours for every link; helpers live in ``pages/ui/``,
  which it does not read.
* every page starts with :func:`ensure_app_navigation`: run outside app.py's navigation (the folder
  mode), it hands Streamlit our navigation — which ends the folder mode for the whole server — and
  reruns, so the same URL then goes through app.py, with its page configuration and menu.
* :func:`run_app` is app.py's navigation: it marks, for the current script run only (a
  thread-local: each session's run has its own thread), that the page runs inside it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

__all__ = ["APP_PAGES", "AppPage", "ensure_app_navigation", "run_app"]

#: The main script; a run whose main script is another file (a test running one page) needs no fix.
APP_SCRIPT = "app.py"


@dataclass(frozen=True)
class AppPage:
    """One page: its file under ``pages/`` (named as its URL), menu title and icon."""

    file: str
    title: str
    icon: str
    default: bool = False

    @property
    def url_path(self) -> str:
        """The page's URL path: its file's name (``""`` for the default page)."""
        return "" if self.default else Path(self.file).stem

    def page(self) -> st.Page:
        if self.default:
            return st.Page(self.file, title=self.title, icon=self.icon, default=True)
        return st.Page(self.file, title=self.title, icon=self.icon, url_path=self.url_path)


#: The menu, in order.
APP_PAGES = (
    AppPage("pages/home.py", "Home", "🏠", default=True),
    AppPage("pages/ticker.py", "Ticker", "📈"),
    AppPage("pages/nifty.py", "NIFTY day", "🗓️"),
    AppPage("pages/what-if.py", "What if", "🎚️"),
    AppPage("pages/alerts.py", "Alerts", "🔔"),
    AppPage("pages/evaluate.py", "Evaluate", "🧪"),
    AppPage("pages/train.py", "Train", "🏋️"),
    AppPage("pages/data.py", "Data", "🗂️"),
)

_run = threading.local()


def run_app() -> None:
    """app.py's navigation: register the pages and run the one the URL asks for."""
    navigation = st.navigation([page.page() for page in APP_PAGES])
    _run.inside_app = True
    try:
        navigation.run()
    finally:
        _run.inside_app = False


def ensure_app_navigation() -> None:
    """First call of every page: when Streamlit's folder mode ran the page without app.py, switch
    the server to app.py's navigation and rerun this URL through it (the page's code does not run)."""
    if getattr(_run, "inside_app", False):
        return
    context = get_script_run_ctx()
    if context is None or Path(context.main_script_path).name != APP_SCRIPT:
        return  # not under app.py at all: a test running this page file alone
    st.navigation([page.page() for page in APP_PAGES])
    st.rerun()
