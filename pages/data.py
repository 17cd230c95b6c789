"""Data: load a source, see what it holds, and the images a model will see."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import DataError
from data.images import candlestick_figure
from data.images.display import gadf_figure
from data.settings import SYNTHETIC_LABEL, TICKER_WINDOW_BARS
from data.views import count_ticker_windows, nifty_day_view, ticker_window_view
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import first_hours
from pages.ui.sources import pick_source

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

TICKER_TASK = f"Ticker window ({TICKER_WINDOW_BARS} hourly bars)"
NIFTY_TASK = "NIFTY day (first hour of minute bars)"
#: The Data page's task choice → the task whose data it shows (its interval, demo symbols, sidebar keys).
TASK_NAMES = {TICKER_TASK: "ticker", NIFTY_TASK: "nifty"}


st.title("Data")
task = st.radio("Task", list(TASK_NAMES), horizontal=True, key="task")
choice = pick_source(TASK_NAMES[task])
loaded, source = choice.loaded, choice.source
if loaded.synthetic:
    st.info(SYNTHETIC_LABEL)

summary = loaded.summary()
columns = st.columns(5)
columns[0].metric("Bars", f"{summary['rows']:,}")
columns[1].metric("Interval", summary["interval"])
columns[2].metric("First", f"{loaded.bars.index[0]:%Y-%m-%d}")
columns[3].metric("Last", f"{loaded.bars.index[-1]:%Y-%m-%d}")
columns[4].metric("Rejected rows", summary["rejected_rows"])
with st.expander(f"Layout `{summary['layout']}` · what was rejected or repaired"):
    st.json(
        {
            key: summary[key]
            for key in ("source", "layout", "timezone", "gaps", "rejected", "rejected_examples", "notes")
        }
    )

try:
    if task == TICKER_TASK:
        n_windows = count_ticker_windows(loaded)
        if n_windows < 1:
            raise DataError(f"the ticker task needs at least {TICKER_WINDOW_BARS} hourly bars, got {len(loaded.bars)}")
        position = st.slider("Window (newest on the right)", 0, n_windows - 1, n_windows - 1, key="window")
        view = ticker_window_view(loaded, position)
        end = view.bars.index[-1]
        st.subheader(f"{TICKER_WINDOW_BARS} hourly bars ending {end:%Y-%m-%d %H:%M}")
    else:
        days = first_hours(source)
        if len(days.skipped):
            st.caption(days.skipped_sentence())
        labels = [f"{day:%Y-%m-%d}" for day in days.day]
        position = labels.index(st.selectbox("Trading day", labels, index=len(labels) - 1, key="day"))
        view = nifty_day_view(loaded, days, position)
        st.subheader(f"First hour of {labels[position]}")
except DataError as error:
    st.error(f"{error}")
    st.stop()

chart, images = st.columns([3, 2])
chart.plotly_chart(candlestick_figure(view.bars, synthetic=loaded.synthetic), width="stretch")
raster_caption = "Model input: candlestick raster" + (" (synthetic data)" if loaded.synthetic else "")
images.image(view.candlestick_rgb, caption=raster_caption, width="stretch")
time_format = "%H:%M" if task == NIFTY_TASK else "%m-%d %H:%M"
times = [f"{stamp:{time_format}}" for stamp in view.bars.index]
st.plotly_chart(
    gadf_figure(view.gadf, times=times, title="Model input: GADF of the closes", synthetic=loaded.synthetic),
    width="content",
)
if view.flat:
    st.warning("The closes are constant: the GADF is defined as all zeros (no angular differences).")

outcome = view.outcome
if task == TICKER_TASK:
    if pd.isna(outcome["target_close"]):
        st.metric("Next close", "not known yet (newest window)")
    else:
        st.metric("Next close", f"{outcome['target_close']:.2f}", f"{outcome['pct_change']:+.2f} %")
else:
    st.metric(
        "Day's outcome",
        "up day" if outcome["label"] == 1 else "down day",
        f"last close {outcome['last_close']:.2f} vs first open {outcome['first_open']:.2f}",
    )
if not view.planted.empty:
    st.info(
        "Planted pattern (demo ground truth): "
        + "; ".join(f"{row.kind} {row.start:%H:%M}–{row.end:%H:%M}" for row in view.planted.itertuples())
    )
