"""Entry point: ``streamlit run app.py``. Navigation, and the process's configuration, once.

Every browser session of a server runs in this one Python process, so what is process-wide is
set here and nowhere else: torch's thread count (one per op by default — under many sessions,
two threads per op on two cores measured 3.3 s per explanation against 0.10 s with one;
``$CHART_XAI_TORCH_THREADS`` overrides), and the start-up heap frozen out of the garbage
collector's full collections (:func:`freeze_startup_heap`). No package sets a process-wide switch as a side effect
of being imported; a known library warning is silenced only around the call that raises it.
Pages live in ``pages/``, listed in :data:`pages.ui.navigation.APP_PAGES`.
"""

from __future__ import annotations

import gc
import os

import streamlit as st
import torch

from data.settings import TORCH_THREADS_ENV_VAR
from pages.ui.navigation import run_app


@st.cache_resource(show_spinner=False)
def configure_process() -> int:
    """Set torch's thread count for this server process and freeze its start-up heap (once: cached for
    every session); return the thread count."""
    wanted = os.environ.get(TORCH_THREADS_ENV_VAR, "1")
    if wanted.isdigit() and int(wanted) > 0 and torch.get_num_threads() != int(wanted):
        torch.set_num_threads(int(wanted))
    freeze_startup_heap()
    return torch.get_num_threads()


def freeze_startup_heap() -> int:
    """Move every object alive after the pages' imports out of the collector's sight; return how many.

    Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``, which
    keeps the cyclic garbage of figures and autograd graphs from piling up). With torch, plotly,
    pandas and Captum loaded that traverses ≈ 570,000 objects — 0.2 s, 27 % of the server's CPU
    under ``bench.load`` (py-spy). The modules and their objects live as long as the process, so
    they are frozen once (``gc.freeze``) after a collection: each post-run collection then traverses
    only what the runs made, and still frees it. pyts is imported first: its numba kernels (loaded
    from numba's disk cache, ≈ 2 s; compiled, ≈ 20 s, on a new cache folder) are ≈ 150,000 objects
    more, which every page that draws a GADF loads anyway.
    """
    import pages.ui.components  # noqa: F401  (the pages' imports: torch, plotly, pandas, Captum, the engine)
    from data.images.pyts_import import gramian_angular_field_class

    gramian_angular_field_class()
    if gc.get_freeze_count() == 0:  # once per process, even if Streamlit's caches are cleared
        gc.collect()
        gc.freeze()
    return gc.get_freeze_count()


st.set_page_config(page_title="Chart XAI", page_icon="📈", layout="wide")
configure_process()

run_app()
