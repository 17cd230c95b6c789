"""The comparison panel both the Ticker and the NIFTY-day pages show (widgets and layout only).

Not a page. :func:`comparison_panel` is a fragment (``st.fragment``): its controls rerun it alone.
Five maps side by side on one colour scale, the per-time importance under the price
chart, trust scores with the sanity-check warning, teaching texts, and downloads.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

import numpy as np
import pandas as pd
import streamlit as st

from data.bars import LoadedBars
from data.errors import RendererUnavailableError
from data.settings import OHLC
from models.baseline_report import baseline_table
from models.checkpoints import LoadedCheckpoint
from pages.ui.sources import trained_on_label
from workflows.notices import map_notices
from workflows.verdict import MethodVerdict, WindowTrust, verdicts, window_trust
from workflows.window import WindowExplanation, sanity_table, window_price_curves, window_trust_table
from xai import ALL_METHODS, METHODS
from xai.export import attributions_csv, attributions_npz, export_parameters, params_json, per_time_csv
from xai.methods import PRICE_SPACE_METHODS
from xai.png import figure_png
from xai.price_space import PriceSpaceCurves
from xai.price_space.integrated import flat_integrated_gradients
from xai.price_space.paint import paint_profile
from xai.profiles import time_profiles
from xai.render import comparison_figure
from xai.sanity import UNCHANGED_CORRELATION
from xai.time_figure import time_importance_figure
from xai.time_projection import NORMALISE_MODES

LABEL_TO_KEY = {METHODS[key].label: key for key in ALL_METHODS}
VERDICT_TEACHING = (
    "**How to read a verdict.** A map *follows the model here* when two tests of the model's own behaviour on this "
    "window agree with it: removing each {unit} in price space (occlusion in time) moves the answer most where the "
    "map is strongest (rank correlation ρ ≥ 0.3), and flattening the map's top {unit}s first moves the answer faster "
    "than flattening random ones (price-space deletion). *Partly*: one of the two; *does not*: neither. The sanity "
    "check asks whether the map changes at all when the model's weights are destroyed — a map that does not cannot "
    "be about the model. Agreement with the other maps is the weakest evidence: five maps can agree and all be "
    "wrong."
)
MODE_HELP = (
    "signed: red pushed the answer, blue held it back · absolute: how much, either way · "
    "positive / negative: one side only"
)


@dataclasses.dataclass(frozen=True)
class PanelSettings:
    """What the user chose for the comparison."""

    methods: tuple[str, ...]
    mode: str
    opacity: float
    teaching: bool
    occlusion: bool = False
    integrated: bool = False


def method_keys_from_query() -> list[str]:
    """Methods named in the URL (``?method=saliency,gradcam``), valid ones only; all by default."""
    asked = [name for name in st.query_params.get("method", "").split(",") if name]
    valid = [name for name in asked if name in METHODS]
    if asked and len(valid) < len(asked):
        st.warning(f"Unknown method(s) in the link ignored: {sorted(set(asked) - set(valid))}; known: {ALL_METHODS}.")
    return valid or list(ALL_METHODS)


def panel_settings() -> PanelSettings:
    """The comparison's controls (in the sidebar)."""
    st.sidebar.subheader("Explanations")
    chosen = st.sidebar.multiselect(
        "Methods",
        list(LABEL_TO_KEY),
        default=[METHODS[key].label for key in method_keys_from_query()],
        key="methods",
    )
    methods = tuple(LABEL_TO_KEY[label] for label in chosen)
    if methods and set(methods) != set(ALL_METHODS):
        st.query_params["method"] = ",".join(methods)
    elif "method" in st.query_params:
        del st.query_params["method"]
    mode = st.sidebar.selectbox("Colour scale", NORMALISE_MODES, index=0, help=MODE_HELP, key="mode")
    opacity = st.sidebar.slider("Heat-map opacity", 0.0, 1.0, 0.6, 0.05, key="opacity")
    teaching = st.sidebar.toggle("Teaching mode: how to read each map", value=False, key="teaching")
    occlusion = st.sidebar.toggle(
        "Occlusion in time: a sixth map",
        value=False,
        key="occlusion",
        help="Each bar (minute) removed in price space and the model run again: one forward pass per bar, "
        "≈ 0.05 s for the shipped ticker model and 0.2 s for the NIFTY model on 2 CPU cores.",
    )
    integrated = st.sidebar.toggle(
        "Integrated Gradients from a flat chart: a seventh map",
        value=False,
        key="integrated",
        help="32 forward and backward passes from the chart of the same window with every bar removed: "
        "≈ 0.06 s for the shipped ticker model and 0.2 s for the NIFTY model on 2 CPU cores.",
    )
    st.sidebar.caption(
        "Grad-CAM: ReLU applied (positive evidence only, as in the Grad-CAM paper), upsampled bilinearly; "
        "Guided Grad-CAM uses the same map."
    )
    return PanelSettings(
        methods=methods, mode=mode, opacity=opacity, teaching=teaching, occlusion=occlusion, integrated=integrated
    )


@st.cache_resource(show_spinner="Running the sanity check on this model (once)…", max_entries=4)
def cached_sanity_table(folder: str, _loaded: LoadedCheckpoint) -> pd.DataFrame:
    """Model-randomisation figures for the model in ``folder``, on 4 of its test windows."""
    return sanity_table(_loaded)


@st.cache_data(show_spinner="Scoring the maps…", max_entries=64)
def window_scores(
    folder: str,
    window_id: str,
    methods: tuple[str, ...],
    direction: int | None,
    _loaded: LoadedCheckpoint,
    _result: WindowExplanation,
    _bars,
) -> pd.DataFrame:
    """Deletion / insertion (in pixels and in price space), infidelity and sensitivity of one window's maps.

    Cached per checkpoint, window, methods and explained direction: the maps these identify.
    """
    return window_trust_table(_loaded, _result, window_curves(folder, window_id, direction, _loaded, _result, _bars))


@st.cache_data(show_spinner="Flattening bars in price space…", max_entries=64)
def window_curves(
    folder: str, window_id: str, direction: int | None, _loaded: LoadedCheckpoint, _result: WindowExplanation, _bars
) -> PriceSpaceCurves:
    """Price-space deletion and insertion of one window's maps (cached per checkpoint, window, direction): the
    scores table and the verdicts read the same curves."""
    return window_price_curves(_loaded, _bars, _result)


@st.cache_data(show_spinner="Integrated Gradients from the flat chart…", max_entries=64)
def window_integrated(
    folder: str, window_id: str, direction: int | None, _loaded: LoadedCheckpoint, _result: WindowExplanation, _bars
) -> np.ndarray:
    """The ``(S, S)`` Integrated Gradients map of one window from its flat chart (cached per checkpoint, window,
    direction)."""
    explained = np.asarray(_result.explanations.target, dtype=np.int64)[:1]
    return flat_integrated_gradients(_loaded, np.asarray(_bars)[None], explained).maps[0]


@st.cache_data(show_spinner="Removing each bar in price space…", max_entries=64)
def window_behaviour(
    folder: str, window_id: str, direction: int | None, _loaded: LoadedCheckpoint, _result: WindowExplanation, _bars
) -> WindowTrust:
    """Occlusion in time and price-space deletion of one window's maps (cached per checkpoint, window, direction)."""
    return window_trust(_loaded, _bars, _result, window_curves(folder, window_id, direction, _loaded, _result, _bars))


def offer_training_on(loaded: LoadedCheckpoint, data: LoadedBars, task: str, *, source: str) -> None:
    """When a model trained on the synthetic demo explains real prices, say so and offer to train on them.

    The link opens the Train page on ``task`` with this data's ``source`` (a ticker, or an upload
    kept in the cache as ``upload:<digest>``, read back by name there).
    """
    if not loaded.card.data.synthetic or data.synthetic:
        return
    with st.container(key="demo_model_on_real_data"):
        st.warning(
            f"This model was trained on the synthetic demo market ({trained_on_label(loaded.card)}), "
            "not on real prices: "
            "its forecast and maps for this data say what a model of the demo would see here."
        )
        # a plain link to the Train page's URL with its parameters: it works however this page was opened
        st.markdown(f"🏋️ [Train one on this data](train?{urllib.parse.urlencode({'task': task, 'source': source})})")


def show_baseline_calls(loaded: LoadedCheckpoint, bars: pd.DataFrame, model_up: bool) -> None:
    """The card's baselines on this window beside the model's call, and whether the model beats them."""
    try:
        calls = loaded.task.baseline_calls(loaded.card, bars[list(OHLC)].to_numpy()[None])
    except ValueError as error:
        st.warning(f"The card's baselines cannot be read ({error}); retrain the model to rewrite its card.")
        return
    if not calls:
        st.info("This card predates baselines: retrain the model to see the simple rules it has to beat.")
        return
    with st.container(key="baselines"):
        table = pd.DataFrame(
            {
                "baseline": [
                    call.name + (" (strongest on the test split)" if call.strongest else "") for call in calls
                ],
                "says": [call.words for call in calls],
                "agrees with the model": ["yes" if call.calls_up == model_up else "no" for call in calls],
            }
        )
        st.markdown("**The simple rules it has to beat, on this window**")
        st.dataframe(table, hide_index=True, width="stretch")
        metrics = loaded.card.metrics
        if metrics.verdict:
            (st.success if metrics.beats_baseline else st.warning)("On the test split: " + metrics.verdict)
        with st.expander("Model and baselines on the test split, with paired 95 % intervals"):
            st.dataframe(baseline_table(loaded.card), hide_index=True, width="stretch")


@st.fragment
def comparison_panel(
    loaded: LoadedCheckpoint,
    folder: str,
    bars: pd.DataFrame,
    result: WindowExplanation,
    *,
    synthetic: bool,
    chart: str,
    window_id: str,
) -> None:
    """The sidebar's explanation controls and the comparison of ``result``, as one fragment.

    ``result`` holds every method's map, so picking methods, the colour scale, the opacity, teaching
    mode, scoring or the PNG reruns only this fragment: the rest of the page (the data, the model,
    the prediction, the price chart) is neither recomputed nor sent again. The widgets go to the
    sidebar (a fragment may write there); ``?method=`` stays in sync from here.
    """
    show_comparison(
        loaded, folder, bars, result, panel_settings(), synthetic=synthetic, chart=chart, window_id=window_id
    )


def show_comparison(
    loaded: LoadedCheckpoint,
    folder: str,
    bars: pd.DataFrame,
    result: WindowExplanation,
    settings: PanelSettings,
    *,
    synthetic: bool,
    chart: str,
    window_id: str,
) -> None:
    """Draw the comparison of ``result`` (the window ``bars``) with ``settings``."""
    methods = [key for key in settings.methods if key in result.explanations.maps]
    if not methods:
        st.info("Pick at least one method in the sidebar.")
        return
    maps = {key: result.explanations.maps[key].attribution[0, 0] for key in methods}
    profiles = {key: result.per_time[key] for key in methods}
    ohlc = bars[list(OHLC)].to_numpy(dtype=float)
    if settings.occlusion:
        behaviour = window_behaviour(folder, window_id, result.direction, loaded, result, ohlc)
        occluded = behaviour.occlusion.per_time[0]
        maps["occlusion"] = paint_profile(occluded, result.image_kind, result.image.shape[-1])
        profiles["occlusion"] = occluded if result.per_time_signed else np.abs(occluded)
    if settings.integrated:
        maps["integrated_flat"] = window_integrated(folder, window_id, result.direction, loaded, result, ohlc)
        profiles["integrated_flat"] = time_profiles(maps["integrated_flat"][None], result.image_kind, len(ohlc))[0]
    with st.container(key="comparison"):
        st.subheader(f"{len(maps)} explanations, one colour scale")
        figure = comparison_figure(
            result.image,
            maps,
            mode=settings.mode,
            opacity=settings.opacity,
            image_kind=result.image_kind,
            synthetic=synthetic,
        )
        st.plotly_chart(figure, width="stretch", key="comparison_chart")
        seconds = sum(result.explanations.maps[key].seconds for key in methods)
        st.caption(
            f"Each map scaled to its own robust peak (98 % of its mass), then drawn on one scale. "
            f"Computed in {1000 * seconds:.0f} ms (one forward, three backward passes)."
            + (
                f" Occlusion in time: {behaviour.occlusion.windows_scored} edited windows in one batch, "
                f"{1000 * behaviour.occlusion.seconds:.0f} ms."
                if settings.occlusion
                else ""
            )
        )
        notices = explained_notices(result)
        for key in methods:
            if key in notices:
                st.warning(f"**{METHODS[key].label}** — {notices[key]}")
        if settings.teaching:
            shown = [METHODS.get(key) or PRICE_SPACE_METHODS[key] for key in maps]
            for column, info in zip(st.columns(len(shown)), shown, strict=True):
                column.markdown(f"**{info.label}**  \n{info.how_to_read}")

    st.subheader("Which bars or minutes mattered")
    profile_mode = settings.mode if result.per_time_signed else "absolute"
    if not result.per_time_signed:
        st.caption(
            "GADF: each minute's share of the absolute attribution (a signed GADF profile cancels out: "
            "pixel (i, j) and (j, i) carry opposite signs)."
        )
    st.plotly_chart(
        time_importance_figure(bars, profiles, mode=profile_mode, chart=chart, synthetic=synthetic),
        width="stretch",
        key="time_chart",
    )
    _trust_section(loaded, folder, result, methods, window_id, ohlc, settings.teaching)
    _downloads(result, bars, methods, figure, window_id, notices)


def explained_notices(result: WindowExplanation) -> dict[str, str]:
    """What each map of ``result`` cannot show (:func:`workflows.notices.map_notices`), in words."""
    what = {1: "the forecast's rise", -1: "the forecast's fall"}.get(result.direction, "the model's call")
    return map_notices(result, what)


def _trust_section(
    loaded: LoadedCheckpoint,
    folder: str,
    result: WindowExplanation,
    methods: list[str],
    window_id: str,
    ohlc: np.ndarray,
    teaching: bool,
) -> None:
    st.subheader("How far to trust each map")
    table = cached_sanity_table(folder, loaded)
    for key in methods:
        label = METHODS[key].label
        mean = float(table.loc[label, "mean"])
        if mean >= UNCHANGED_CORRELATION:
            st.warning(
                f"**{label}** barely changes when this model's weights are destroyed (mean rank correlation "
                f"{mean:.2f} with the original map over the randomisation cascade): it partly shows the input, "
                "not the model."
            )
    with st.expander("Sanity check: rank correlation with the original map as layers are randomised"):
        st.dataframe(table.loc[[METHODS[key].label for key in methods]].round(2))
    if st.toggle("Score these maps on this window (deletion, insertion, infidelity, sensitivity)", key="score"):
        st.caption(
            "Deletion / insertion: the model's score as pixels are blanked (or restored) most-important first, "
            "against random orders; infidelity share: 0 = the map predicts every output change under small noise, "
            "1 = none; sensitivity: how far the map moves when the input barely does. The Evaluate page scores whole "
            "bars and minutes over many windows."
        )
        scores = window_scores(
            folder, window_id, tuple(result.explanations.maps), result.direction, loaded, result, ohlc
        )
        st.dataframe(scores.loc[[METHODS[k].label for k in methods]].round(3))
        st.caption(
            "Price space: the same curves with whole bars (minutes) flattened — replaced by the straight line "
            "through the kept ones, the chart drawn again — instead of pixels blanked. Where the two disagree, "
            "the pixel curve is scoring pictures no market can draw."
        )
    if st.toggle("Verdict per map: does it follow the model's own behaviour here?", key="verdict"):
        behaviour = window_behaviour(folder, window_id, result.direction, loaded, result, ohlc)
        means = {key: float(table.loc[METHODS[key].label, "mean"]) for key in methods}
        unit = loaded.task.time_unit
        _verdicts(verdicts(behaviour, result, means, unit=unit), behaviour, methods, unit, teaching)


def _verdicts(
    found: list[MethodVerdict], behaviour: WindowTrust, methods: list[str], unit: str, teaching: bool
) -> None:
    """One sentence per shown method, the numbers on hover, what it cost; in teaching mode how to read it."""
    with st.container(key="verdicts"):
        for verdict in found:
            if verdict.method in methods:
                numbers = "  \n".join(f"{label}: {value:.3f}" for label, value in verdict.numbers.items())
                st.markdown(verdict.sentence, help=numbers)
        st.caption(
            f"Occlusion in time and a 10-step price-space deletion of every map: "
            f"{behaviour.occlusion.windows_scored + behaviour.curves.windows_scored} edited windows, "
            f"{1000 * behaviour.seconds:.0f} ms. Hover on ? for the numbers."
        )
        if teaching:
            st.markdown(VERDICT_TEACHING.format(unit=unit))


def _downloads(
    result: WindowExplanation, bars: pd.DataFrame, methods: list[str], figure, window_id: str, notices: dict[str, str]
) -> None:
    # the files are built only when a button is clicked (callables), not on every rerun
    params = export_parameters(result.explanations, window=window_id, notices=notices)
    columns = st.columns(4)
    columns[0].download_button(
        "Attributions (NPZ)",
        lambda: attributions_npz(result.explanations, per_time=result.per_time, params=params),
        file_name="attributions.npz",
        mime="application/octet-stream",
        on_click="ignore",
    )
    columns[1].download_button(
        "Attributions (CSV)",
        lambda: attributions_csv(result.explanations),
        file_name="attributions.csv",
        mime="text/csv",
        on_click="ignore",
    )
    columns[2].download_button(
        "Per-time importance (CSV)",
        lambda: per_time_csv({key: result.per_time[key] for key in methods}, bars.index),
        file_name="per_time.csv",
        mime="text/csv",
        on_click="ignore",
    )
    columns[3].download_button(
        "Parameters (JSON)",
        lambda: params_json(params),
        file_name="parameters.json",
        mime="application/json",
        on_click="ignore",
    )
    if st.button("Prepare a PNG of the comparison (kaleido, ≈ 2 s)", key="png"):
        try:
            png = figure_png(figure, width=300 * len(methods), height=360)
        except RendererUnavailableError as error:
            st.error(str(error))
        else:
            st.download_button("Download the PNG", png, file_name="comparison.png", mime="image/png")
