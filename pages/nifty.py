"""NIFTY day: a trading day's first hour, the classifier's up/down call, and five explanations."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from data import DataError
from data.views import nifty_day_view
from models.checkpoints import LoadedCheckpoint
from models.tasks import task_named
from pages.ui.components import comparison_panel, offer_training_on, show_baseline_calls
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import first_hours, pick_model, position_source_changed
from pages.ui.sources import pick_source
from pages.ui.splits import show_split_mark
from pages.ui.what_if_chart import ChartWindow, what_if_panel
from workflows.window import WindowExplanation, explain_window

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

#: The two questions about a day, each a task with its own models and baselines.
QUESTIONS = {
    "Day close above its open (the paper's label)": "nifty",
    "Rest of the day: close above the first hour's close": "nifty-rest",
}
#: What an "up" answer means, per question.
UP_WORDS = {"nifty": ("up day", "down day"), "nifty-rest": ("rest of day up", "rest of day down")}


@st.cache_data(show_spinner="Explaining the day…", max_entries=256)
def explained_day(folder: str, data_key: str, day: str, _loaded: LoadedCheckpoint, _ohlc) -> WindowExplanation:
    """The classifier's call and all five maps for one day (cached per checkpoint, data and day; the methods
    shown are picked from them)."""
    return explain_window(_loaded, _ohlc)


linked_question = st.query_params.get("question", "nifty")
question = st.sidebar.radio(
    "Question",
    list(QUESTIONS),
    index=list(QUESTIONS.values()).index(linked_question) if linked_question in QUESTIONS.values() else 0,
    key="nifty_question",
    help="The paper's label contains the first hour's own move; the rest-of-day label asks what the first hour "
    "does not already answer.",
)
TASK = QUESTIONS[question]
st.query_params["question"] = TASK
st.title("NIFTY day — what the first hour says")
st.caption(task_named(TASK).title)
choice = pick_source("nifty")
try:
    days = first_hours(choice.source)
    if len(days) == 0:
        raise DataError(
            "no usable trading day in this data: each day needs its first hour of minute bars "
            f"({days.skipped_sentence()})"
        )
except DataError as error:
    st.error(f"{error}")
    st.stop()
if len(days.skipped):
    st.caption(days.skipped_sentence())

calendar = [stamp.date() for stamp in days.day]
new_data = position_source_changed("nifty_day", choice.source)
linked_day = None if new_data else st.query_params.get("day")  # after a switch, the URL's day was the old data's
if "nifty_day" in st.session_state and (new_data or not calendar[0] <= st.session_state["nifty_day"] <= calendar[-1]):
    st.session_state["nifty_day"] = calendar[-1]  # another source was picked: start at its newest day
if "nifty_day" not in st.session_state:
    start = calendar[-1]
    if linked_day:
        try:
            asked = dt.date.fromisoformat(linked_day)
        except ValueError:
            st.warning(f"The link's day {linked_day!r} is not a date (YYYY-MM-DD); showing the newest day.")
        else:
            if asked in calendar:
                start = asked
            else:
                st.warning(f"{asked} is not a usable trading day in this data; showing the newest day.")
    st.session_state["nifty_day"] = start


def step(offset: int) -> None:
    """Previous / next usable day (callbacks run before the widgets are drawn)."""
    current = calendar.index(min(calendar, key=lambda day: abs(day - st.session_state["nifty_day"])))
    st.session_state["nifty_day"] = calendar[min(max(current + offset, 0), len(calendar) - 1)]


previous_col, date_col, next_col = st.columns([1, 3, 1], vertical_alignment="bottom")
previous_col.button("◀ Previous day", on_click=step, args=(-1,), key="previous_day", width="stretch")
next_col.button("Next day ▶", on_click=step, args=(1,), key="next_day", width="stretch")
picked = date_col.date_input("Trading day", min_value=calendar[0], max_value=calendar[-1], key="nifty_day")
if picked not in calendar:
    nearest = min(calendar, key=lambda day: abs(day - picked))
    st.info(f"{picked} has no usable first hour (a holiday, a weekend or a skipped day); showing {nearest}.")
    picked = nearest
position = calendar.index(picked)
st.query_params["day"] = picked.isoformat()

folder, loaded = pick_model(TASK)
view = nifty_day_view(choice.loaded, days, position)
result = explained_day(folder, choice.cache_key, picked.isoformat(), loaded, view.bars)

with st.container(key="prediction"):
    call = result.prediction
    columns = st.columns(4)
    up_word, down_word = UP_WORDS[TASK]
    columns[0].metric("Model says", up_word if call.predicted_up else down_word)
    columns[1].metric("P(up)", f"{call.probability_up:.1%}")
    outcome = view.outcome
    if pd.isna(outcome["label"]):
        columns[2].metric("Outcome", "pending", help="Not known yet: the day has not closed in the data.")
    else:
        label = int(task_named(TASK).labels(days)[position])
        actual = up_word if label == 1 else down_word
        right = (label == 1) == call.predicted_up
        columns[2].metric(  # "inverse": a wrong call is drawn red, never green
            "Outcome", actual, "model right" if right else "model wrong", delta_color="normal" if right else "inverse"
        )
    columns[3].metric("Days in the data", f"{len(calendar):,}")
    st.caption(f"Model: {loaded.spec.arch} on {loaded.spec.image} images of {loaded.spec.image_size} px.")
    show_split_mark(folder, loaded, choice.source, pd.Timestamp(picked), "day")
    if view.planted is not None and not view.planted.empty:
        st.info(
            "Planted pattern (demo ground truth): "
            + "; ".join(f"{row.kind} {row.start:%H:%M}–{row.end:%H:%M}" for row in view.planted.itertuples())
        )
    if view.flat:
        st.warning("The first hour's closes are constant: the GADF is all zeros (no angular differences).")
    if outcome.get("filled_minutes", 0) > 0:
        st.caption(f"{int(outcome['filled_minutes'])} missing minute(s) forward-filled.")
    show_baseline_calls(loaded, view.bars, call.predicted_up)
    offer_training_on(loaded, choice.loaded, TASK, source=choice.source)

window_id = f"{choice.cache_key} {picked.isoformat()}"
comparison_panel(
    loaded, folder, view.bars, result, synthetic=choice.loaded.synthetic, chart="line", window_id=window_id
)
up_word, down_word = UP_WORDS[TASK]
what_if_panel(
    ChartWindow(
        loaded=loaded,
        folder=folder,
        window=view.bars,
        source=choice.loaded,
        original=result,
        window_id=f"{window_id} {TASK}",
        planted=view.planted if view.planted is not None else pd.DataFrame(),
        unit=loaded.task.time_unit,
        synthetic=choice.loaded.synthetic,
        describe=lambda call: (f"P(up) {call.probability_up:.0%}", up_word if call.predicted_up else down_word),
    )
)
