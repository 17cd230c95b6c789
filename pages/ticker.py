"""Ticker: a 50-hour window, the CNN-LSTM's next-hour forecast and alert, and five explanations."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import DataError
from data.images import candlestick_figure
from data.images.display import gadf_figure
from data.settings import TICKER_WINDOW_BARS
from data.views import count_ticker_windows, ticker_window_view
from models.checkpoints import LoadedCheckpoint
from pages.ui.components import comparison_panel, offer_training_on, show_baseline_calls
from pages.ui.navigation import ensure_app_navigation
from pages.ui.shared import pick_model, position_source_changed
from pages.ui.sources import pick_source
from pages.ui.splits import show_split_mark
from pages.ui.what_if_chart import ChartWindow, what_if_panel
from workflows.window import WindowExplanation, explain_window

ensure_app_navigation()  # first: a deep link on a fresh server goes through app.py

TASK = "ticker"
DIRECTIONS = {
    "the way the forecast went": None,
    "what pushes the forecast up": 1,
    "what pushes the forecast down": -1,
}
DEFAULT_THRESHOLD = 1.0


@st.cache_data(show_spinner="Explaining the window…", max_entries=256)
def explained_window(
    folder: str, data_key: str, end: str, direction: int | None, _loaded: LoadedCheckpoint, _ohlc
) -> WindowExplanation:
    """The regressor's forecast and all five maps for one window (cached per checkpoint, data, window and
    direction; the methods shown are picked from them: the five cost one forward and three backward passes)."""
    return explain_window(_loaded, _ohlc, direction=direction)


def linked_threshold() -> float:
    """``?threshold=`` (a % > 0) or the default, with a warning for a bad value."""
    text = st.query_params.get("threshold")
    if text is None:
        return DEFAULT_THRESHOLD
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.05 <= value <= 10.0:
        st.warning(f"The link's threshold {text!r} is not a % between 0.05 and 10; using {DEFAULT_THRESHOLD} %.")
        return DEFAULT_THRESHOLD
    return value


def gadf_as_input(image_col, gadf_chart, candlestick_rgb, size: int) -> None:
    """The GADF the model reads, the candlestick of the same window below."""
    image_col.plotly_chart(gadf_chart, width="stretch")
    image_col.caption(f"The model's input: the GADF of the closes at {size} px.")
    with st.expander("The same window as a candlestick raster"):
        st.image(candlestick_rgb, caption="What a candlestick-trained model would see")


def candlestick_as_input(image_col, gadf_chart, candlestick_rgb, size: int) -> None:
    """The raster the model reads, the GADF of the same window below."""
    image_col.image(candlestick_rgb, caption=f"The model's input: candlestick {size} px")
    with st.expander("The same window as a GADF (what a GADF-trained model would see)"):
        st.plotly_chart(gadf_chart, width="content")
        st.caption("Train a GADF regressor on the Train page, then pick it under Model in the sidebar.")


#: The model's image kind → how its input is shown beside the chart.
INPUT_VIEWS = {"gadf": gadf_as_input, "candlestick": candlestick_as_input}


st.title("Ticker — the next hour's close, and why")
choice = pick_source(TASK)
n_windows = count_ticker_windows(choice.loaded)
if n_windows < 1:
    st.error(
        f"This data has {len(choice.loaded.bars)} hourly bars; a window needs {TICKER_WINDOW_BARS}. "
        "Pick a longer history or another source."
    )
    st.stop()

ends = choice.loaded.bars.index[TICKER_WINDOW_BARS - 1 :]
new_data = position_source_changed("ticker_window", choice.source)
if new_data or "ticker_window" not in st.session_state or st.session_state["ticker_window"] >= n_windows:
    start = n_windows - 1  # new data opens on its newest window
    linked_end = None if new_data else st.query_params.get("end")  # after a switch, the URL's end was the old data's
    if linked_end:
        try:
            asked = pd.Timestamp(linked_end)
            if pd.isna(asked):
                raise ValueError(linked_end)
            nearest = int(ends.get_indexer([asked], method="nearest")[0])
            outside = asked < ends[0] or asked > ends[-1]
        except (ValueError, TypeError):
            st.warning(f"The link's window end {linked_end!r} is not a time (YYYY-MM-DDTHH:MM); showing the newest.")
        else:
            start = nearest
            if outside:
                st.info(
                    f"The link's window end {asked:%Y-%m-%d %H:%M} is outside this data's full windows "
                    f"({ends[0]:%Y-%m-%d %H:%M} to {ends[-1]:%Y-%m-%d %H:%M}; a window needs "
                    f"{TICKER_WINDOW_BARS} bars); showing the nearest."
                )
    st.session_state["ticker_window"] = start
position = st.slider(
    f"Window end ({TICKER_WINDOW_BARS} hourly bars; newest on the right)",
    0,
    n_windows - 1,
    key="ticker_window",
    format="%d",
)
end = ends[position]
st.query_params["end"] = f"{end:%Y-%m-%dT%H:%M}"

threshold_col, correction_col, direction_col = st.columns(3)
threshold = threshold_col.number_input(
    "Alert threshold (% move)", 0.05, 10.0, linked_threshold(), 0.05, key="threshold", format="%.2f"
)
st.query_params["threshold"] = f"{threshold:g}"
corrected = correction_col.toggle("Paper's offset correction", value=False, key="corrected")
direction = DIRECTIONS[direction_col.selectbox("Explain", list(DIRECTIONS), key="direction")]

folder, loaded = pick_model(TASK)
try:
    view = ticker_window_view(choice.loaded, position, image_size=loaded.spec.image_size)
except DataError as error:
    st.error(str(error))
    st.stop()
result = explained_window(folder, choice.cache_key, f"{end:%Y-%m-%dT%H:%M}", direction, loaded, view.bars)

with st.container(key="prediction"):
    forecast = result.prediction
    change = forecast.change(corrected)
    close = forecast.corrected_close if corrected and forecast.corrected_close is not None else forecast.forecast_close
    columns = st.columns(4)
    columns[0].metric(f"Forecast close after {end:%Y-%m-%d %H:%M}", f"{close:,.2f}", f"{change:+.2f} %")
    if pd.isna(view.outcome["target_close"]):
        columns[1].metric("Actual next close", "pending", help="Not known yet: the next bar is not in the data.")
    else:
        columns[1].metric(
            "Actual next close", f"{view.outcome['target_close']:,.2f}", f"{view.outcome['pct_change']:+.2f} %"
        )
    fired = forecast.alert(threshold, corrected)
    columns[2].metric(
        "Alert", "fires" if fired else "quiet", f"|{abs(change):.2f} %| vs {threshold:g} %", delta_color="off"
    )
    columns[3].metric("Last close", f"{forecast.last_close:,.2f}")
    if corrected and forecast.corrected_pct_change is None:
        st.info("This model's card has no offset correction; showing the raw forecast.")
    if fired:
        st.warning(f"Alert: the model expects a {change:+.2f} % move, beyond your {threshold:g} % threshold.")
    explained = {1: "what pushes the forecast up", -1: "what pushes the forecast down"}[result.direction]
    st.caption(f"The maps explain {explained}.")
    show_split_mark(folder, loaded, choice.source, end, "window")
    show_baseline_calls(loaded, view.bars, forecast.predicted_up)
    offer_training_on(loaded, choice.loaded, TASK, source=choice.source)
    if not view.planted.empty:
        st.info(
            "Planted pattern (demo ground truth): "
            + "; ".join(f"{row.kind} {row.start:%m-%d %H:%M}–{row.end:%H:%M}" for row in view.planted.itertuples())
        )

chart_col, image_col = st.columns([3, 2])
chart_col.plotly_chart(candlestick_figure(view.bars, synthetic=choice.loaded.synthetic), width="stretch")
times = [f"{stamp:%m-%d %H:%M}" for stamp in view.bars.index]
gadf = gadf_figure(view.gadf, times=times, title="GADF of the closes", synthetic=choice.loaded.synthetic)


INPUT_VIEWS[loaded.spec.image](image_col, gadf, view.candlestick_rgb, loaded.spec.image_size)

window_id = f"{choice.cache_key} {end:%Y-%m-%dT%H:%M}"
comparison_panel(
    loaded, folder, view.bars, result, synthetic=choice.loaded.synthetic, chart="candlestick", window_id=window_id
)


def describe(forecast) -> tuple[str, str]:
    """The forecast move, and its call with the alert at the page's threshold, in words."""
    change = forecast.change(corrected)
    fires = "fires" if forecast.alert(threshold, corrected) else "quiet"
    return f"{change:+.2f} %", f"{'up' if change > 0 else 'down'}, alert {fires}"


what_if_panel(
    ChartWindow(
        loaded=loaded,
        folder=folder,
        window=view.bars,
        source=choice.loaded,
        original=result,
        window_id=f"{window_id} {result.direction}",
        planted=view.planted,
        unit=loaded.task.time_unit,
        synthetic=choice.loaded.synthetic,
        describe=describe,
    )
)
