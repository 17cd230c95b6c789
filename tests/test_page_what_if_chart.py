"""The "What if the chart were different" panel on the Ticker and NIFTY-day pages (AppTest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data.demo import DEMO_INDEX, demo_bars, demo_bars_without, planted_patterns
from data.edits import remove_move
from data.settings import OHLC
from data.views import ticker_window_view
from models.predict import predict_window
from models.registry import load_shipped
from tests.apptest_helpers import no_errors, open_page
from tests.conftest import REPO_ROOT
from tests.test_page_sources import upload
from workflows.counterfactual import counterfactual
from workflows.window import explain_window

TIMEOUT_S = 300


def metrics(app: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in app.metric}


def edit_an_upload(task: str, name: str, frame: pd.DataFrame, kind: str, bars: tuple[int, int]) -> AppTest:
    """A session of the whole app that uploads ``frame`` on the ``task`` page, then edits ``bars`` with ``kind``."""
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.switch_page(f"pages/{task}.py")
    app.run()
    upload(app, task, name, frame)
    no_errors(app)
    app.toggle(key="edit_on").set_value(True).run()
    app.selectbox(key="edit_kind").set_value(kind).run()
    app.slider(key="edit_range").set_value(bars).run()
    return app


def test_a_link_opens_the_edit_and_the_panel_shows_the_edited_forecast_beside_the_original():
    app = open_page("pages/ticker.py", TIMEOUT_S, edit="remove:46-50")
    no_errors(app)
    ticker = load_shipped("ticker")
    acme = demo_bars("ACME", "60m")
    view = ticker_window_view(acme, -1, image_size=ticker.spec.image_size)
    original = explain_window(ticker, view.bars.to_numpy())
    expected = counterfactual(ticker, view.bars, acme, remove_move(45, 49), original)
    shown = metrics(app)
    assert shown["Original"][0] == f"{original.prediction.pct_change:+.2f} %"
    assert shown["Edited"][0] == f"{expected.result.prediction.pct_change:+.2f} %"
    flips = (original.prediction.pct_change > 0) != (expected.result.prediction.pct_change > 0)
    assert shown["Call"][0] == ("flips" if flips else "holds")
    assert app.query_params["edit"] == "remove:46-50"
    span = f"{view.bars.index[45]:%m-%d %H:%M} – {view.bars.index[49]:%m-%d %H:%M}"
    assert f"Edit: the move of {span} removed (flat at the level it started from; later bars shifted)." in [
        c.value for c in app.caption
    ]
    assert app.get("plotly_chart")  # the edited window and its maps


def test_every_change_of_the_edit_is_kept_in_the_link_and_switching_it_off_removes_it():
    app = open_page("pages/ticker.py", TIMEOUT_S, edit="remove:46-50")
    app.selectbox(key="edit_kind").set_value("invert").run()
    assert app.query_params["edit"] == "invert:46-50"
    app.slider(key="edit_range").set_value((10, 20)).run()
    assert app.query_params["edit"] == "invert:10-20"
    app.selectbox(key="edit_kind").set_value("scale").run()
    app.number_input(key="edit_factor").set_value(3.0).run()
    no_errors(app)
    assert app.query_params["edit"] == "scale:10-20:3"
    app.toggle(key="edit_on").set_value(False).run()
    assert "edit" not in app.query_params
    assert "Edited" not in metrics(app)


def test_a_link_reopens_a_scale_edit_with_its_range_and_factor():
    app = open_page("pages/ticker.py", TIMEOUT_S, edit="scale:41-46:2.5")
    no_errors(app)
    assert app.selectbox(key="edit_kind").value == "scale"
    assert app.slider(key="edit_range").value == (41, 46)
    assert app.number_input(key="edit_factor").value == 2.5


def test_the_demo_window_without_its_planted_pattern_is_the_generators_window_without_it():
    acme = demo_bars("ACME", "60m")
    pattern_hour = planted_patterns("ACME").loc[100, "pattern_hour"]
    app = open_page("pages/ticker.py", TIMEOUT_S, end=f"{pattern_hour:%Y-%m-%dT%H:%M}", edit="without-pattern:100")
    no_errors(app)
    assert app.selectbox(key="edit_kind").value == "without-pattern"
    assert app.selectbox(key="edit_pattern").value == 100
    stamps = acme.bars.loc[:pattern_hour].index[-50:]
    without = demo_bars_without("ACME", 100, "60m").bars.loc[stamps, list(OHLC)].to_numpy()
    assert metrics(app)["Edited"][0] == f"{predict_window(load_shipped('ticker'), without).pct_change:+.2f} %"


@pytest.mark.parametrize(
    ("edit", "warning"),
    [
        ("bogus:1-2", "The link's edit is ignored: the edit 'bogus:1-2' is not KIND:FIRST-LAST"),
        ("flatten:45-60", "The link's range ends at 60, after this window's 50; it was shortened."),
        ("without-pattern:5", "The link's planted pattern 5 is not in this window; pick another edit."),
    ],
)
def test_a_bad_edit_in_the_link_is_named_and_the_page_goes_on(edit, warning):
    app = open_page("pages/ticker.py", TIMEOUT_S, edit=edit)
    no_errors(app)
    assert any(w.value.startswith(warning) for w in app.warning), [w.value for w in app.warning]
    assert "Forecast close after" in " ".join(m.label for m in app.metric)


def test_a_range_covering_the_whole_window_is_refused_and_a_shorter_one_then_works():
    app = open_page("pages/ticker.py", TIMEOUT_S, edit="flatten:46-50")
    app.slider(key="edit_range").set_value((1, 50)).run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "This edit cannot be made: the range covers the whole window (50 bars): nothing would be left to compare "
        "the edit with; pick fewer bars."
    ]
    assert "Forecast close after" in " ".join(m.label for m in app.metric)  # the page keeps working
    app.slider(key="edit_range").set_value((1, 10)).run()
    no_errors(app)
    assert app.query_params["edit"] == "flatten:1-10"


def test_an_edit_that_would_take_a_price_below_zero_is_refused_with_the_reason(isolated_cache):
    hours = demo_bars("GLOBEX", "60m").bars.iloc[-400:].copy()
    rally = np.linspace(1.0, 3.0, 10)  # the last ten hours treble the price
    scale = np.concatenate([np.ones(390), rally])
    hours[list(OHLC)] = hours[list(OHLC)].to_numpy() * scale[:, None]
    hours.iloc[-1, hours.columns.get_loc("close")] = 0.5 * hours["close"].iloc[-2]  # then it halves
    hours.iloc[-1, hours.columns.get_loc("low")] = hours[["open", "close"]].iloc[-1].min() * 0.999
    app = edit_an_upload("ticker", "rally.csv", hours, "remove", (41, 49))
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1
    assert "would take the price to" in errors[0]
    assert "prices must stay above 0. Pick a smaller factor or a shorter range" in errors[0]


def test_an_edit_that_changes_no_close_says_the_gadf_model_reads_nothing_new(isolated_cache):
    minutes = demo_bars(DEMO_INDEX, "1m").bars
    days = minutes.index.normalize().unique()[-3:]
    frame = minutes.loc[minutes.index.normalize().isin(days)].copy()
    first = frame.index.get_indexer(frame.loc[frame.index.normalize() == days[-1]].index[:1])[0]
    closes = frame["close"].to_numpy().copy()
    closes[first + 10 : first + 21] = np.linspace(closes[first + 9], closes[first + 21], 13)[1:-1]
    frame["close"] = closes
    frame["open"] = np.concatenate([[frame["open"].iloc[0]], closes[:-1]])
    frame["high"] = frame[["open", "close"]].max(axis=1) + 1.0
    frame["low"] = frame[["open", "close"]].min(axis=1) - 1.0
    app = edit_an_upload("nifty", "flat stretch.csv", frame, "flatten", (11, 21))
    no_errors(app)
    assert any("This edit changes nothing this model reads" in i.value for i in app.info)
    shown = metrics(app)
    assert shown["Original"] == shown["Edited"]
    assert shown["Call"][0] == "holds"


def test_the_nifty_page_offers_the_day_without_its_planted_pattern():
    patterns = planted_patterns(DEMO_INDEX)
    day = patterns.loc[patterns.index[-1], "day"]
    app = open_page("pages/nifty.py", TIMEOUT_S, day=f"{day:%Y-%m-%d}")
    app.toggle(key="edit_on").set_value(True).run()
    app.selectbox(key="edit_kind").set_value("without-pattern").run()
    no_errors(app)
    k = int(patterns.index[-1])
    assert app.query_params["edit"] == f"without-pattern:{k}"
    stamps = pd.date_range(patterns.loc[k, "day"] + pd.Timedelta("9h15min"), periods=60, freq="min")
    without = demo_bars_without(DEMO_INDEX, k, "1m").bars.loc[stamps, list(OHLC)].to_numpy()
    expected = predict_window(load_shipped("nifty"), without).probability_up
    assert metrics(app)["Edited"][0] == f"P(up) {expected:.0%}"


def test_occlusion_and_integrated_gradients_join_the_comparison_and_the_verdict_gives_one_sentence_a_map():
    app = open_page("pages/nifty.py", TIMEOUT_S)
    assert any(s.value == "5 explanations, one colour scale" for s in app.subheader)
    app.toggle(key="occlusion").set_value(True).run()
    app.toggle(key="integrated").set_value(True).run()
    no_errors(app)
    assert any(s.value == "7 explanations, one colour scale" for s in app.subheader)
    assert any("Occlusion in time: 60 edited windows in one batch" in c.value for c in app.caption)
    app.toggle(key="verdict").set_value(True).run()
    no_errors(app)
    sentences = [m.value for m in app.markdown if " the model here: " in m.value]
    assert len(sentences) == 5
    assert all(s.split("**")[2].startswith((" follows", " partly follows", " does not follow")) for s in sentences)
    assert all("the minutes" in s and "sanity check" in s and "of the 4 other maps" in s for s in sentences)
    app.toggle(key="teaching").set_value(True).run()
    assert any(m.value.startswith("**How to read a verdict.**") for m in app.markdown)
