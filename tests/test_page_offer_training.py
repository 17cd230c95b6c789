"""A model trained on the synthetic demo that explains real prices says so, and offers to train on them:
the link opens the Train page on the same task and data (issue 12 §F)."""

from __future__ import annotations

import urllib.parse

from data.demo import demo_bars
from data.uploads import load_upload_source
from tests.apptest_helpers import no_errors, open_page

TIMEOUT_S = 240
WARNING = "This model was trained on the synthetic demo market"


def _hourly_csv() -> bytes:
    """Real-looking hourly bars (an upload is never called synthetic)."""
    return demo_bars("ACME", "60m").bars.iloc[-400:].rename_axis("timestamp").to_csv().encode()


def _train_link(app) -> str:
    links = [m.value for m in app.markdown if "Train one on this data" in m.value]
    assert len(links) == 1, [m.value for m in app.markdown]
    return links[0].split("](", 1)[1].rstrip(")")


def test_an_upload_explained_by_the_demo_model_offers_training_on_it(isolated_cache):
    app = open_page("pages/ticker.py", TIMEOUT_S)
    no_errors(app)
    assert not any(WARNING in box.value for box in app.warning)  # the demo market: nothing to say
    app.radio(key="ticker_source_kind").set_value("Upload a file").run()
    app.file_uploader(key="ticker_upload").set_value(("prices.csv", _hourly_csv(), "text/csv")).run()
    no_errors(app)
    pooled = "(ACME (demo market, synthetic), with the same training period of GLOBEX (demo market, synthetic) (5,868"
    assert any(WARNING in box.value and pooled in box.value for box in app.warning)
    path, _, query = _train_link(app).partition("?")
    assert path == "train"
    asked = dict(urllib.parse.parse_qsl(query))
    assert asked["task"] == "ticker"
    assert asked["source"].startswith("upload:")
    # the link's source reads the upload back, by name, from the cache: the same bars
    kept = load_upload_source(asked["source"])
    assert len(kept.bars) == 400


def test_the_train_page_opens_on_the_linked_task_and_data():
    app = open_page("pages/train.py", TIMEOUT_S, task="nifty-rest", source="^NSEI")
    no_errors(app)
    assert app.radio(key="task").value.startswith("NIFTY rest-of-day classifier")
    assert app.radio(key="source_kind").value == "A ticker or a kept upload"
    assert app.text_input(key="named_source").value == "^NSEI"
