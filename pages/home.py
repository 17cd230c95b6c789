"""Home: what the dashboard does, what data and models are loaded, and how the models compare with their baselines."""

from __future__ import annotations

import streamlit as st

from data.demo import DEMO_INDEX, DEMO_TICKERS
from data.settings import FIRST_HOUR_MINUTES, SYNTHETIC_LABEL, TICKER_WINDOW_BARS
from models.baseline_report import baseline_table
from models.card import ModelCard
from models.checkpoints import CheckpointError, read_card
from models.registry import SHIPPED
from models.tasks import TASKS
from pages.ui.navigation import ensure_app_navigation
from pages.ui.sources import active_source, show_source_line, trained_on_label

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py


@st.cache_data(show_spinner=False)
def shipped_card(task: str) -> ModelCard:
    return read_card(SHIPPED[task])


st.title("Chart XAI — why did the chart model say that?")
show_source_line(active_source(), None, "Your data: ")
st.markdown(
    f"""
This dashboard renders price windows as the images stock-chart models see — a **candlestick**
of {TICKER_WINDOW_BARS} hourly bars, or the **GADF** (Gramian Angular Difference Field) of a
trading day's first {FIRST_HOUR_MINUTES} minutes — runs a model on them, and explains its answer
with five attribution methods mapped back onto the bars and minutes they point at.

**How to read it.** Pick a window on the **Ticker** page (the CNN-LSTM forecasts the next
hour's close and raises an alert when the move passes your threshold) or a day on the **NIFTY
day** page (the ResNet says whether the day will close above its open). Below the prediction,
Grad-CAM, vanilla gradients, DeconvNet, Guided Backprop and Guided Grad-CAM are drawn side by
side on one colour scale — red pushed the answer, blue held it back — and projected onto the bars
or minutes under the price chart. Each map comes with how far to trust it: the sanity check
(does the map change when the model's weights are destroyed?), and on request deletion and
insertion curves, infidelity and sensitivity. **What if** replays the history at another alert or
decision threshold; **Data** shows every source and the images a model sees.
"""
)
st.info(f"Offline demo market loaded: tickers {', '.join(DEMO_TICKERS)} and the index {DEMO_INDEX}. {SYNTHETIC_LABEL}.")

st.subheader("Shipped models, on their chronological test split")
for task, title in ((task.name, task.title) for task in TASKS.values()):
    try:
        card = shipped_card(task)
    except CheckpointError as error:
        st.error(f"{title}: {error}")
        continue
    text = f"**{title}** ({card.arch}, {card.image} {card.image_size} px, trained on {trained_on_label(card)})"
    verdict = card.metrics.verdict
    if verdict is None:
        st.warning(f"{text}  \nThis card has no test metrics yet (status: {card.status or 'unknown'}).")
    else:
        (st.success if card.metrics.beats_baseline else st.warning)(f"{text}  \n{verdict}")
        st.dataframe(baseline_table(card), hide_index=True, width="stretch")
st.subheader("Pages")
st.page_link("pages/ticker.py", label="Ticker: a 50-hour window, the forecast, the alert and why", icon="📈")
st.page_link("pages/nifty.py", label="NIFTY day: the first hour, up or down, and why", icon="🗓️")
st.page_link("pages/what-if.py", label="What if: alerts and decisions at another threshold", icon="🎚️")
st.page_link("pages/data.py", label="Data: sources, windows and the images a model sees", icon="🗂️")
