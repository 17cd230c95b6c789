"""Home: what the dashboard does, what data and models are loaded, and how the models compare with their baselines."""

from __future__ import annotations

import streamlit as st

from data.demo import DEMO_INDEX, DEMO_TICKERS
from data.settings import FIRST_HOUR_MINUTES, SYNTHETIC_LABEL, TICKER_WINDOW_BARS
from models.checkpoints import CheckpointError, read_card
from models.registry import SHIPPED

TASK_TITLES = {
    "nifty": "NIFTY-day classifier — will the day close above its open?",
    "ticker": "Ticker regressor — the close one hour ahead, with alerts",
}


@st.cache_data(show_spinner=False)
def shipped_card(task: str) -> dict:
    return read_card(SHIPPED[task])


st.title("Chart XAI — why did the chart model say that?")
st.markdown(
    f"""
This dashboard renders price windows as the images stock-chart models see — a **candlestick**
of {TICKER_WINDOW_BARS} hourly bars, or the **GADF** (Gramian Angular Difference Field) of a
trading day's first {FIRST_HOUR_MINUTES} minutes — runs a model on them, and explains its answer
with five attribution methods mapped back onto the bars and minutes they point at.

The **Data** page shows every source, the windows the two tasks cut from it, and the images a
model sees. Explanations arrive in the next releases.
"""
)
st.info(f"Offline demo market loaded: tickers {', '.join(DEMO_TICKERS)} and the index {DEMO_INDEX}. {SYNTHETIC_LABEL}.")

st.subheader("Shipped models, on their chronological test split")
for task, title in TASK_TITLES.items():
    try:
        card = shipped_card(task)
    except CheckpointError as error:
        st.error(f"{title}: {error}")
        continue
    text = f"**{title}** ({card['arch']}, {card['image']} {card['image_size']} px, trained on {card['data']['source']})"
    verdict = card["metrics"].get("verdict")
    if verdict is None:
        st.warning(f"{text}  \nThis card has no test metrics yet (status: {card.get('status', 'unknown')}).")
    else:
        (st.success if card["metrics"].get("beats_baseline") else st.warning)(f"{text}  \n{verdict}")
st.page_link("pages/data_explorer.py", label="Open the Data page", icon="🗂️")
