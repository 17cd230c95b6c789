"""Entry point: ``streamlit run app.py``. Navigation, and the process's configuration, once.

Every browser session of a server runs in this one Python process, so what is process-wide is
set here and nowhere else: torch's thread count (one per op by default — under many sessions,
two threads per op on two cores measured 3.3 s per explanation against 0.10 s with one;
``$CHART_XAI_TORCH_THREADS`` overrides). No package sets a process-wide switch as a side effect
of being imported; a known library warning is silenced only around the call that raises it.
Pages live in ``pages/``, listed in :data:`pages.ui.navigation.APP_PAGES`.
"""

from __future__ import annotations

import os

import streamlit as st
import torch

from data.settings import TORCH_THREADS_ENV_VAR
from pages.ui.navigation import run_app


@st.cache_resource(show_spinner=False)
def configure_process() -> int:
    """Set torch's thread count for this server process (once: cached for every session); return it."""
    wanted = os.environ.get(TORCH_THREADS_ENV_VAR, "1")
    if wanted.isdigit() and int(wanted) > 0 and torch.get_num_threads() != int(wanted):
        torch.set_num_threads(int(wanted))
    return torch.get_num_threads()


st.set_page_config(page_title="Chart XAI", page_icon="📈", layout="wide")
configure_process()

run_app()
