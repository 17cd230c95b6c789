"""The pages through Streamlit's AppTest: widgets change what they should."""

from __future__ import annotations

import pandas as pd
import pytest
import yfinance as yf
from streamlit.testing.v1 import AppTest

from data.demo import DEMO_INDEX, demo_bars, planted_patterns
from data.settings import SYNTHETIC_LABEL, TICKER_WINDOW_BARS
from data.views import count_ticker_windows, ticker_window_view
from data.windows import make_nifty_days
from models.checkpoints import read_card
from models.registry import SHIPPED
from tests.conftest import REPO_ROOT

TIMEOUT_S = 120  # the first run imports plotly, pandas and the demo market


def data_page() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.switch_page("pages/data.py")
    return app.run()


def no_errors(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def metric(app: AppTest, label: str):
    return next(m for m in app.metric if m.label == label)


def test_home_page_names_the_demo_market_as_synthetic_and_shows_the_models_verdicts():
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S).run()
    no_errors(app)
    assert "Chart XAI" in app.title[0].value
    assert any(SYNTHETIC_LABEL in info.value for info in app.info)
    # each card's verdict, in green when the model beats every baseline and in amber when it does not
    verdicts = {"success": [box.value for box in app.success], "warning": [box.value for box in app.warning]}
    for task in SHIPPED:
        metrics = read_card(SHIPPED[task]).to_json()["metrics"]
        shown = verdicts["success" if metrics["beats_baseline"] else "warning"]
        assert any(metrics["verdict"] in text for text in shown), verdicts
    # what each model learnt from: the ticker's training split pooled the other demo tickers
    ticker_text = next(text for text in verdicts["success"] + verdicts["warning"] if "Ticker regressor" in text)
    assert (
        "trained on ACME (demo market, synthetic), with the same training period of "
        "GLOBEX (demo market, synthetic) (5,868 windows)"
    ) in ticker_text
    assert "WAYNE (demo market, synthetic) (5,868 windows) pooled in" in ticker_text
    # and a table per model: the model, then every baseline with its paired comparison
    tables = [frame.value for frame in app.dataframe]
    assert len(tables) == len(SHIPPED)
    for table in tables:
        assert table[""].iloc[0] == "model"
        assert any("strongest" in name for name in table[""].iloc[1:])


def test_ticker_window_slider_moves_the_window_and_its_outcome():
    app = data_page()
    no_errors(app)
    loaded = demo_bars("ACME", "60m")
    assert metric(app, "Bars").value == f"{len(loaded.bars):,}"
    assert SYNTHETIC_LABEL in [info.value for info in app.info]
    assert metric(app, "Next close").value == "not known yet (newest window)"

    # a window whose last bar is a planted breakout: the next hour is the planted sharp move
    pattern = planted_patterns("ACME").iloc[3]
    position = loaded.bars.index.get_loc(pattern["pattern_hour"]) - TICKER_WINDOW_BARS + 1
    app.slider(key="window").set_value(position).run()
    no_errors(app)
    expected = ticker_window_view(loaded, position)
    assert app.subheader[0].value == (
        f"{TICKER_WINDOW_BARS} hourly bars ending {pattern['pattern_hour']:%Y-%m-%d %H:%M}"
    )
    next_close = metric(app, "Next close")
    assert next_close.value == f"{expected.outcome['target_close']:.2f}"
    assert next_close.delta == f"{expected.outcome['pct_change']:+.2f} %"
    assert any(pattern["kind"] in info.value for info in app.info)
    assert count_ticker_windows(loaded) - 1 == app.slider(key="window").max


def test_nifty_day_picker_shows_the_days_outcome_and_planted_pattern():
    app = data_page()
    app.radio(key="task").set_value(app.radio(key="task").options[1]).run()
    app.selectbox(key="nifty_demo").set_value(DEMO_INDEX).run()
    no_errors(app)
    loaded = demo_bars(DEMO_INDEX, "1m")
    days = make_nifty_days(loaded.bars)
    pattern = planted_patterns(DEMO_INDEX).iloc[10]
    label = f"{pattern['day']:%Y-%m-%d}"
    app.selectbox(key="day").set_value(label).run()
    no_errors(app)
    position = list(days.day).index(pattern["day"])
    assert app.subheader[0].value == f"First hour of {label}"
    outcome = metric(app, "Day's outcome")
    assert outcome.value == ("up day" if days.label[position] == 1 else "down day")
    assert f"last close {days.last_close[position]:.2f}" in outcome.delta
    assert any(pattern["kind"] in info.value for info in app.info)


def test_upload_of_a_yfinance_export_is_read_without_writing_it(isolated_cache):
    rows = "\n".join(
        f"{stamp:%Y-%m-%d %H:%M:%S}-05:00,{100 + i},{101 + i},{99 + i},{100.5 + i},1000"
        for i, stamp in enumerate(pd.date_range("2024-01-02 09:30", periods=70, freq="h"))
    )
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Upload a file").run()
    app.file_uploader(key="ticker_upload").set_value(
        ("prices.csv", ("Datetime,Open,High,Low,Close,Volume\n" + rows).encode(), "text/csv")
    ).run()
    no_errors(app)
    assert metric(app, "Bars").value == "70"
    assert metric(app, "Interval").value == "60m"
    assert metric(app, "Next close").value == "not known yet (newest window)"
    assert not any(isolated_cache.rglob("prices.csv"))


def test_bad_upload_is_a_message_and_the_page_keeps_working():
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Upload a file").run()
    app.file_uploader(key="ticker_upload").set_value(("prices.csv", b"when,open\n1,2\n", "text/csv")).run()
    assert not app.exception
    assert "missing price column(s) high, low, close" in app.error[0].value
    app.radio(key="ticker_source_kind").set_value("Demo market").run()
    no_errors(app)
    assert metric(app, "Bars").value == f"{len(demo_bars('ACME', '60m').bars):,}"


@pytest.mark.parametrize(
    ("symbol", "failure", "message"),
    [
        ("not a ticker!", None, "not a valid Yahoo symbol"),
        ("AAPL", OSError("Network is unreachable"), "no data for ticker 'AAPL': network unreachable (OSError)"),
    ],
)
def test_ticker_failures_are_messages(monkeypatch, symbol, failure, message):
    def offline(self, **kwargs):
        raise failure

    monkeypatch.setattr(yf.Ticker, "history", offline)
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Yahoo ticker").run()
    app.text_input(key="ticker_symbol").set_value(symbol).run()
    assert not app.exception
    assert message in app.error[0].value


def test_the_app_freezes_its_start_up_heap_once_so_a_full_collection_stays_small():
    """app.py freezes what its imports made (torch, plotly, pandas, Captum, pyts's numba kernels) out of
    the collector's sight: Streamlit's ``gc.collect(2)`` after every run then traverses only what runs made."""
    import gc
    import sys

    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S).run()
    no_errors(app)
    frozen = gc.get_freeze_count()
    assert frozen > 300_000  # the imported libraries' objects (≈ 700,000 here)
    assert "pyts.image" in sys.modules  # numba's kernels are loaded before the freeze
    AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S).run()
    assert abs(gc.get_freeze_count() - frozen) < 1_000  # once per process: no second freeze of all that lives
