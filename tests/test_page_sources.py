"""One active source per session: chosen or uploaded once, it follows the user to every page (issue 13)."""

from __future__ import annotations

import re

import pandas as pd
from streamlit.testing.v1 import AppTest

from data.demo import DEMO_INDEX, demo_bars
from tests.apptest_helpers import no_errors
from tests.conftest import REPO_ROOT

TIMEOUT_S = 300
ACTIVE_SOURCE_KEY = "active_source"  # pages.ui.sources.ACTIVE_SOURCE_KEY (importing pages sets torch threads)
UPLOAD = re.compile(r"upload:[0-9a-f]{32}")


def session() -> AppTest:
    """One browser session of the whole app (app.py's navigation), on the Ticker page."""
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.switch_page("pages/ticker.py")
    return app.run()


def data_line(app: AppTest) -> str:
    return " ".join(caption.value for caption in app.sidebar.caption)


def upload(app: AppTest, task: str, name: str, frame: pd.DataFrame) -> None:
    app.radio(key=f"{task}_source_kind").set_value("Upload a file").run()
    app.file_uploader(key=f"{task}_upload").set_value((name, frame.to_csv().encode(), "text/csv")).run()


def test_a_minute_upload_follows_the_user_from_the_ticker_page_to_the_nifty_page(isolated_cache):
    minutes = demo_bars(DEMO_INDEX, "1m").bars
    days = minutes.index.normalize().unique()[-30:]
    app = session()
    upload(app, "ticker", "my minutes.csv", minutes.loc[minutes.index.normalize().isin(days)])
    no_errors(app)
    source = app.session_state[ACTIVE_SOURCE_KEY]
    assert UPLOAD.fullmatch(source)
    assert app.query_params["source"] == source
    assert "my minutes.csv (your upload)" in data_line(app)
    assert "bars of 60m" in data_line(app)
    # the newest window of the new data, and its last bar is the upload's last hour
    assert app.query_params["end"] == f"{demo_bars(DEMO_INDEX, '60m').bars.index[-1]:%Y-%m-%dT%H:%M}"

    app.switch_page("pages/nifty.py").run()
    no_errors(app)
    assert app.query_params["source"] == source  # no second upload
    assert "my minutes.csv (your upload)" in data_line(app)
    assert "bars of 1m" in data_line(app)
    assert app.query_params["day"] == f"{days[-1]:%Y-%m-%d}"
    assert any("The model was not trained on this data" in caption.value for caption in app.caption)

    app.switch_page("pages/data.py").run()
    no_errors(app)
    assert "my minutes.csv (your upload)" in data_line(app)

    app.switch_page("pages/train.py").run()  # Train opens on the same data, named by its file
    no_errors(app)
    assert app.text_input(key="named_source").value == source
    assert "That is my minutes.csv (your upload)." in [caption.value for caption in app.caption]


def test_an_hourly_upload_cannot_feed_the_nifty_page_which_says_why_and_keeps_it(isolated_cache):
    app = session()
    upload(app, "ticker", "hours.csv", demo_bars("GLOBEX", "60m").bars.iloc[-400:])
    no_errors(app)
    source = app.session_state[ACTIVE_SOURCE_KEY]
    app.switch_page("pages/nifty.py").run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "hours.csv holds 60m bars; 1m bars cannot be made from them. Ask for 60m or coarser, or give a file of 1m bars"
    ]
    assert app.session_state[ACTIVE_SOURCE_KEY] == source  # nothing the user had is lost
    app.switch_page("pages/ticker.py").run()
    no_errors(app)
    assert app.query_params["source"] == source


def test_a_demo_stock_is_not_the_nifty_pages_but_stays_the_sessions(isolated_cache):
    app = session()
    app.selectbox(key="ticker_demo").set_value("GLOBEX").run()
    no_errors(app)
    assert app.session_state[ACTIVE_SOURCE_KEY] == "demo:GLOBEX"
    app.switch_page("pages/nifty.py").run()
    no_errors(app)
    assert any(
        info.value.startswith(f"GLOBEX is not one of this page's demo symbols ({DEMO_INDEX}): showing {DEMO_INDEX}.")
        for info in app.info
    )
    assert app.query_params["source"] == f"demo:{DEMO_INDEX}"
    assert app.session_state[ACTIVE_SOURCE_KEY] == "demo:GLOBEX"
    app.switch_page("pages/ticker.py").run()
    assert app.selectbox(key="ticker_demo").value == "GLOBEX"


def test_a_link_to_an_upload_this_server_lacks_says_so_beside_the_uploader(isolated_cache):
    app = AppTest.from_file(str(REPO_ROOT / "pages" / "ticker.py"), default_timeout=TIMEOUT_S)
    app.query_params["source"] = "upload:" + "ab" * 16
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert "is not in this server's cache folder" in app.error[0].value
    assert "upload the file again" in app.error[0].value
    assert app.radio(key="ticker_source_kind").value == "Upload a file"
    assert app.get("file_uploader")  # the uploader is right there


def test_the_window_restarts_at_the_newest_when_the_data_changes(isolated_cache):
    app = session()
    app.slider(key="ticker_window").set_value(100).run()
    no_errors(app)
    assert app.slider(key="ticker_window").value == 100
    app.selectbox(key="ticker_demo").set_value("INITECH").run()
    no_errors(app)
    slider = app.slider(key="ticker_window")
    assert slider.value == slider.max  # new data opens on its newest window
