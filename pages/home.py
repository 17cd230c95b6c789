"""Home: what the dashboard does and what is loaded."""

from __future__ import annotations

import streamlit as st

from data.demo import DEMO_INDEX, DEMO_TICKERS
from data.settings import FIRST_HOUR_MINUTES, SYNTHETIC_LABEL, TICKER_WINDOW_BARS

st.title("Chart XAI — why did the chart model say that?")
st.markdown(
    f"""
This dashboard renders price windows as the images stock-chart models see — a **candlestick**
of {TICKER_WINDOW_BARS} hourly bars, or the **GADF** (Gramian Angular Difference Field) of a
trading day's first {FIRST_HOUR_MINUTES} minutes — runs a model on them, and explains its answer
with five attribution methods mapped back onto the bars and minutes they point at.

Models and explanations arrive in the next releases; the **Data** page already shows every
source, the windows the two tasks cut from it, and the images a model will see.
"""
)
st.info(f"Offline demo market loaded: tickers {', '.join(DEMO_TICKERS)} and the index {DEMO_INDEX}. {SYNTHETIC_LABEL}.")
st.page_link("pages/data_explorer.py", label="Open the Data page", icon="🗂️")
