"""The Ticker and NIFTY-day pages through AppTest: the numbers shown are the model's own."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from data import load_source, make_nifty_days
from data.views import nifty_day_view, ticker_window_view
from models.predict import predict_window
from models.registry import SHIPPED, load_shipped
from tests.apptest_helpers import no_errors, open_page
from xai import ALL_METHODS, METHODS

TIMEOUT_S = 180  # the first run imports torch and Captum, builds the demo market and the sanity table


def page(path: str, **query: str) -> AppTest:
    return open_page(path, TIMEOUT_S, **query)


def metric(app: AppTest, label_start: str):
    return next(m for m in app.metric if m.label.startswith(label_start))


def comparison_titles(app: AppTest) -> list[str]:
    chart = next(c for c in app.get("plotly_chart") if "comparison_chart" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    return [note["text"] for note in spec["layout"]["annotations"] if note["text"] in LABELS]


LABELS = {METHODS[key].label for key in ALL_METHODS}


@pytest.fixture(scope="module")
def nifty():
    loaded = load_source("demo:NIFTY-DEMO", "1m")
    return loaded, make_nifty_days(loaded.bars), load_shipped("nifty")


@pytest.fixture(scope="module")
def acme():
    return load_source("demo:ACME", "60m"), load_shipped("ticker")


def test_nifty_day_shows_the_models_probability_and_steps_between_days(nifty):
    loaded, days, model = nifty
    app = page("pages/nifty.py")
    no_errors(app)
    newest = predict_window(model, nifty_day_view(loaded, days, -1).bars.to_numpy())
    assert metric(app, "P(up)").value == f"{newest.probability_up:.1%}"
    assert app.query_params["day"] == f"{days.day[-1]:%Y-%m-%d}"
    assert sorted(comparison_titles(app)) == sorted(LABELS)

    app.button(key="previous_day").click().run()
    no_errors(app)
    before = predict_window(model, nifty_day_view(loaded, days, -2).bars.to_numpy())
    assert metric(app, "P(up)").value == f"{before.probability_up:.1%}"
    assert app.query_params["day"] == f"{days.day[-2]:%Y-%m-%d}"
    outcome = "up day" if days.label[-2] == 1 else "down day"
    assert metric(app, "Outcome").value == outcome


def test_nifty_day_from_a_link_with_two_methods(nifty):
    loaded, days, model = nifty
    day = days.day[100]
    app = page("pages/nifty.py", day=f"{day:%Y-%m-%d}", method="saliency,gradcam")
    no_errors(app)
    call = predict_window(model, nifty_day_view(loaded, days, 100).bars.to_numpy())
    assert metric(app, "P(up)").value == f"{call.probability_up:.1%}"
    assert sorted(comparison_titles(app)) == sorted([METHODS["saliency"].label, METHODS["gradcam"].label])


def test_a_bad_day_in_the_link_is_a_warning_and_the_newest_day(nifty):
    _, days, _ = nifty
    app = page("pages/nifty.py", day="31/12/2024")
    no_errors(app)
    assert any("is not a date" in warning.value for warning in app.warning)
    assert app.query_params["day"] == f"{days.day[-1]:%Y-%m-%d}"


def test_ticker_forecast_alert_and_window_follow_the_widgets(acme):
    loaded, model = acme
    app = page("pages/ticker.py", threshold="oops")
    no_errors(app)
    assert any("threshold 'oops'" in warning.value for warning in app.warning)
    app.slider(key="ticker_window").set_value(100).run()
    view = ticker_window_view(loaded, 100, image_size=model.spec.image_size)
    forecast = predict_window(model, view.bars.to_numpy())
    shown = metric(app, "Forecast close")
    assert shown.value == f"{forecast.forecast_close:,.2f}"
    assert shown.delta == f"{forecast.pct_change:+.2f} %"
    assert metric(app, "Actual next close").value == f"{view.outcome['target_close']:,.2f}"
    assert app.query_params["end"] == f"{view.bars.index[-1]:%Y-%m-%dT%H:%M}"

    tiny = max(0.05, round(abs(forecast.pct_change) / 2, 2))
    app.number_input(key="threshold").set_value(tiny).run()
    expected = "fires" if abs(forecast.pct_change) >= tiny else "quiet"
    assert metric(app, "Alert").value == expected
    app.number_input(key="threshold").set_value(10.0).run()
    assert metric(app, "Alert").value == "quiet"
    assert app.query_params["threshold"] == "10"

    app.toggle(key="corrected").set_value(True).run()
    no_errors(app)
    assert metric(app, "Forecast close").delta == f"{forecast.corrected_pct_change:+.2f} %"


def test_a_checkpoint_trained_here_can_be_picked_from_the_link(isolated_cache):
    name = "ticker-20260101-000000-0123abcd"
    shutil.copytree(SHIPPED["ticker"], isolated_cache / "checkpoints" / name)
    app = page("pages/ticker.py", model=name)
    no_errors(app)
    assert app.selectbox(key="ticker_model").value == name
    assert app.selectbox(key="ticker_model").options[0].startswith("shipped")
    assert app.query_params["model"] == name

    unknown = page("pages/ticker.py", model="../../etc")
    no_errors(unknown)
    assert any("model '../../etc' is not available" in warning.value for warning in unknown.warning)
    assert unknown.query_params["model"] == "shipped"
