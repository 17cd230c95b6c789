"""The "What if the chart were different" panel of the Ticker and NIFTY-day pages (widgets and layout only).

Not a page. :func:`what_if_panel` is a fragment: picking an edit reruns it alone. The edit is kept
in the URL (``?edit=flatten:41-46``, ``scale:3-8:2``, ``without-pattern:1234``) like the rest of
the view; the numerics are :func:`workflows.counterfactual.counterfactual`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from data.bars import LoadedBars
from data.edits import EDIT_KINDS, EditError, PriceEdit, WithoutPattern, edit_from_text
from data.images import to_rgb
from data.images.display import gadf_figure
from models.checkpoints import LoadedCheckpoint
from workflows.counterfactual import Counterfactual, counterfactual
from workflows.window import WindowExplanation
from xai.methods import ALL_METHODS
from xai.price_space.figure import edit_figure
from xai.render import comparison_figure

KIND_LABELS = {
    "flatten": "Flatten the range (a straight line between the closes around it)",
    "remove": "Remove its move (flat at its start; later bars shifted)",
    "invert": "Invert its move (later bars shifted)",
    "scale": "Scale its move (later bars shifted)",
    WithoutPattern.kind: "The same window without its planted pattern (demo ground truth)",
}
#: Width (px) a candlestick input is drawn at: its own size, side by side with the edited one.
INPUT_WIDTH = 320
#: Bars (minutes) the range covers when the panel opens: the last few.
DEFAULT_SPAN = 5


@st.cache_data(show_spinner="Editing the chart and explaining it again…", max_entries=64)
def edited_window(
    folder: str,
    window_id: str,
    edit_text: str,
    explained: int,
    _loaded: LoadedCheckpoint,
    _window: pd.DataFrame,
    _source: LoadedBars,
    _original: WindowExplanation,
    _edit: PriceEdit,
) -> Counterfactual:
    """The edited window predicted and explained (cached per checkpoint, window, edit and explained target)."""
    return counterfactual(_loaded, _window, _source, _edit, _original)


def _start_from_link(n_steps: int, patterns: list[int]) -> None:
    """On a session's first run, open the panel on the link's ``?edit=`` (a bad one is named, then ignored)."""
    if "edit_kind" in st.session_state:
        return
    st.session_state["edit_range"] = (max(1, n_steps - DEFAULT_SPAN + 1), n_steps)
    text = st.query_params.get("edit")
    if not text:
        return
    try:
        edit = edit_from_text(text)
    except EditError as error:
        st.warning(f"The link's edit is ignored: {error}.")
        return
    st.session_state["edit_on"] = True
    st.session_state["edit_kind"] = edit.name
    if isinstance(edit, WithoutPattern):
        if edit.pattern in patterns:
            st.session_state["edit_pattern"] = edit.pattern
        else:
            st.warning(f"The link's planted pattern {edit.pattern} is not in this window; pick another edit.")
            st.session_state["edit_kind"] = "flatten"
        return
    st.session_state["edit_range"] = (edit.first + 1, min(edit.last + 1, n_steps))
    if edit.last + 1 > n_steps:
        st.warning(f"The link's range ends at {edit.last + 1}, after this window's {n_steps}; it was shortened.")
    if EDIT_KINDS[edit.name].takes_factor:
        st.session_state["edit_factor"] = float(edit.factor)


def _patterns(planted: pd.DataFrame) -> list[int]:
    """The planted patterns inside the window (rows of :func:`data.demo.planted_patterns`)."""
    return [int(p) for p in planted["pattern"]] if "pattern" in planted else []


def _chosen_edit(n_steps: int, unit: str, planted: pd.DataFrame) -> PriceEdit:
    """The edit the widgets describe (raises :class:`EditError` for one that cannot be built)."""
    patterns = _patterns(planted)
    kinds = [kind for kind in KIND_LABELS if kind != WithoutPattern.kind or patterns]
    if st.session_state.get("edit_kind") not in kinds:
        st.session_state["edit_kind"] = kinds[0]
    kind = st.selectbox("Edit", kinds, format_func=KIND_LABELS.get, key="edit_kind")
    if kind == WithoutPattern.kind:
        rows = planted.set_index("pattern")
        pattern = st.selectbox(
            "Planted pattern",
            patterns,
            format_func=lambda p: (
                f"{rows.loc[p, 'kind']} {rows.loc[p, 'start']:%m-%d %H:%M}–{rows.loc[p, 'end']:%H:%M}"
            ),
            key="edit_pattern",
        )
        return WithoutPattern(int(pattern))
    first, last = st.session_state.get("edit_range", (n_steps, n_steps))
    if not 1 <= first <= last <= n_steps:  # kept from a longer window (the other page's): its last steps
        span = min(last - first, n_steps - 1) if first <= last else DEFAULT_SPAN - 1
        st.session_state["edit_range"] = (n_steps - span, n_steps)
    first, last = st.slider(f"{unit.capitalize()}s to edit (1 = the oldest)", 1, n_steps, key="edit_range")
    factor = 1.0
    if EDIT_KINDS[kind].takes_factor:
        st.session_state.setdefault("edit_factor", 2.0)
        factor = st.number_input("Factor (2: twice the move; 0.5: half)", -10.0, 10.0, step=0.25, key="edit_factor")
    return EDIT_KINDS[kind](first - 1, last - 1, factor)


def _gadf_input(column: Any, image: Any, caption: str, synthetic: bool) -> None:
    column.plotly_chart(gadf_figure(image, title=caption, synthetic=synthetic), width="stretch")


def _candlestick_input(column: Any, image: Any, caption: str, synthetic: bool) -> None:
    column.image(to_rgb(image[None, None])[0], caption=caption, width=INPUT_WIDTH)


#: The model's image kind → how its input is drawn.
INPUT_DRAWINGS = {"gadf": _gadf_input, "candlestick": _candlestick_input}


def _input_image(column: Any, result: WindowExplanation, caption: str, synthetic: bool) -> None:
    INPUT_DRAWINGS[result.image_kind](column, result.image, caption, synthetic)


@dataclasses.dataclass(frozen=True)
class ChartWindow:
    """What the panel edits: the window on screen and everything known about it.

    Attributes:
        loaded, folder: the checkpoint and its folder (a cache key).
        window: the ``(W, 4)`` time-indexed OHLC bars; source: the data they are cut from.
        original: the window's prediction and maps.
        window_id: the page's cache key of the window (with what was explained).
        planted: the demo's planted patterns inside the window (with their ``pattern`` rows), or empty.
        unit: what a time step is called; synthetic: label the figures as synthetic data.
        describe: a prediction in words: its answer (``"+0.12 %"``, ``"P(up) 71 %"``) and its call (the
            up / down call, and the alert on the Ticker page); a change of call is a flip.
    """

    loaded: LoadedCheckpoint
    folder: str
    window: pd.DataFrame
    source: LoadedBars
    original: WindowExplanation
    window_id: str
    planted: pd.DataFrame
    unit: str
    synthetic: bool
    describe: Callable[[Any], tuple[str, str]]


@st.fragment
def what_if_panel(chart: ChartWindow) -> None:
    """Edit the window in price space and see the new image, prediction and maps beside the original."""
    st.subheader("What if the chart were different")
    _start_from_link(len(chart.window), _patterns(chart.planted))
    if not st.toggle("Edit the chart: flatten, remove, invert or scale a range of bars", key="edit_on"):
        if "edit" in st.query_params:
            del st.query_params["edit"]
        return
    with st.container(key="what_if"):
        _edit_and_show(chart)


def _edit_and_show(chart: ChartWindow) -> None:
    loaded, window, original, synthetic = chart.loaded, chart.window, chart.original, chart.synthetic
    try:
        edit = _chosen_edit(len(window), chart.unit, chart.planted)
        explained = int(original.explanations.target[0])
        result = edited_window(
            chart.folder, chart.window_id, edit.to_text(), explained, loaded, window, chart.source, original, edit
        )
    except EditError as error:
        st.error(f"This edit cannot be made: {error}.")
        return
    st.query_params["edit"] = edit.to_text()
    labels = [f"{stamp:%m-%d %H:%M}" for stamp in window.index]
    st.caption(f"Edit: {edit.describe(tuple(labels))}.")
    if not result.inputs_changed:
        st.info(
            "This edit changes nothing this model reads (a GADF model reads only the closes): its answer and "
            "maps are the original's. Pick a range whose closes change."
        )
    answer_before, before = chart.describe(original.prediction)
    answer_after, after = chart.describe(result.result.prediction)
    flips = before != after
    columns = st.columns(3)
    columns[0].metric("Original", answer_before, before, delta_color="off")
    columns[1].metric("Edited", answer_after, after, delta_color="off")
    columns[2].metric("Call", "flips" if flips else "holds", f"{result.answer_shift(original, loaded):+.3f}")
    (st.warning if flips else st.success)(f"The model's call {'flips' if flips else 'holds'}: {before} → {after}.")
    st.plotly_chart(edit_figure(window, result.bars, result.changed, synthetic=synthetic), width="stretch")
    image_columns = st.columns(2)
    _input_image(image_columns[0], original, "The model's input: original", synthetic)
    _input_image(image_columns[1], result.result, "The model's input: edited", synthetic)
    maps = {key: result.result.explanations.maps[key].attribution[0, 0] for key in ALL_METHODS}
    figure = comparison_figure(result.result.image, maps, image_kind=result.result.image_kind, synthetic=synthetic)
    st.plotly_chart(figure, width="stretch", key="edited_maps")
    st.caption(
        "The five maps of the edited window, for the same class or direction as the original's (the comparison "
        "below shows the original's)."
    )
