"""The What-if page through Streamlit's AppTest: sliders move the figures, links set the state, errors are messages."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from data.settings import SYNTHETIC_LABEL
from models.registry import SHIPPED
from models.what_if import alert_table, decision_point
from pages.ui.shared import CHECKPOINT_KEY
from tests.apptest_helpers import no_errors, open_page
from tests.conftest import REPO_ROOT
from tests.test_what_if import shipped_history

TIMEOUT_S = 300  # the first run imports plotly and torch and runs the model over the test split once
PAGE = str(REPO_ROOT / "pages" / "what-if.py")


def what_if_page(**query: str) -> AppTest:
    return open_page("pages/what-if.py", TIMEOUT_S, **query)


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def interval(value: float, ends: tuple[float, float]) -> str:
    """A metric's value: the figure alone (its interval is in the caption, so the value is never cut)."""
    return f"{value:.2f}"


def captions(app: AppTest) -> str:
    return " ".join(caption.value for caption in app.caption)


def expected_alert_metrics(predicted, actual, threshold: float) -> dict[str, str]:
    counts = alert_table(predicted, actual, threshold)
    return {
        "Alerts fired": str(counts.alerts),
        "Correct": str(counts.correct),
        "Moves ≥ threshold": str(counts.events),
        "Precision": "n/a" if counts.alerts == 0 else interval(counts.precision, counts.precision_ci95),
        "Recall": interval(counts.recall, counts.recall_ci95),
    }


def test_alert_slider_and_correction_toggle_recount_the_history():
    past = shipped_history("ticker")
    app = what_if_page()
    no_errors(app)
    # the card's own figures at the default 1 %: 23 alerts, 19 right, 68 moves of 1 % or more
    shown = metrics(app)
    assert shown == expected_alert_metrics(past.predicted_pct, past.actual_pct, 1.0)
    assert (shown["Alerts fired"], shown["Correct"], shown["Moves ≥ threshold"]) == ("23", "19", "68")
    counts = alert_table(past.predicted_pct, past.actual_pct, 1.0)
    low, high = counts.precision_ci95
    assert f"Wilson 95 % intervals: precision {low:.2f}–{high:.2f}, recall" in captions(app)
    assert SYNTHETIC_LABEL in [caption.value for caption in app.caption]
    assert app.query_params["threshold"] == "1"
    assert app.query_params["model"] == "ticker"

    app.slider(key="what_if_threshold_ticker").set_value(0.5).run()
    no_errors(app)
    assert metrics(app) == expected_alert_metrics(past.predicted_pct, past.actual_pct, 0.5)
    assert metrics(app)["Alerts fired"] == "37"
    assert app.query_params["threshold"] == "0.5"

    app.toggle(key="what_if_corrected").set_value(True).run()
    no_errors(app)
    assert metrics(app) == expected_alert_metrics(past.predicted_pct_corrected, past.actual_pct, 0.5)
    assert metrics(app)["Alerts fired"] == "58"  # the card's corrected figure
    assert not any("offset correction moves every forecast" in warning.value for warning in app.warning)

    shift = float(np.median(past.predicted_pct_corrected - past.predicted_pct))  # -0.33 %: the correction's own move
    app.slider(key="what_if_threshold_ticker").set_value(0.3).run()
    corrected = alert_table(past.predicted_pct_corrected, past.actual_pct, 0.3)
    assert [warning.value for warning in app.warning if "offset correction" in warning.value] == [
        f"The offset correction moves every forecast by about {shift:+.2f} % (median), beyond the 0.3 % threshold: "
        f"{corrected.alerts:,} of {len(past):,} forecasts fire because of the correction, not the model. "
        "Turn it off to see the model's own alerts."
    ]

    app.slider(key="what_if_threshold_ticker").set_value(1.0).run()
    assert (metrics(app)["Alerts fired"], metrics(app)["Correct"]) == ("23", "19")  # the card: 23 alerts, 19 right
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert SYNTHETIC_LABEL in figure["layout"]["title"]["text"]
    names = {trace["name"] for trace in figure["data"]}
    assert {"precision, without correction", "precision, with correction", "recall, with correction"} <= names


def test_a_link_sets_the_classifier_and_its_decision_threshold():
    past = shipped_history("nifty")
    app = what_if_page(model="nifty", threshold="0.65")
    no_errors(app)
    assert app.slider(key="what_if_threshold_nifty").value == 0.65
    point = decision_point(past.probability_up, past.label, 0.65)
    assert app.table[0].value.to_numpy().tolist() == [list(row) for row in point.confusion]
    assert metrics(app)["Accuracy"] == interval(point.accuracy, point.accuracy_ci95)
    assert f"Accuracy {point.accuracy_ci95[0]:.2f}–{point.accuracy_ci95[1]:.2f} (Wilson 95 %)" in captions(app)

    app.slider(key="what_if_threshold_nifty").set_value(0.5).run()
    no_errors(app)
    assert app.table[0].value.to_numpy().tolist() == [[49, 48], [26, 85]]  # the card's confusion matrix
    point = decision_point(past.probability_up, past.label, 0.5)
    assert metrics(app)["True-positive rate"] == f"{point.tpr:.2f}"
    assert metrics(app)["False-positive rate"] == f"{point.fpr:.2f}"
    roc = json.loads(app.get("plotly_chart")[0].proto.spec)
    marker = next(trace for trace in roc["data"] if trace["name"] == "threshold 0.5")
    assert (marker["x"], marker["y"]) == ([point.fpr], [point.tpr])
    assert SYNTHETIC_LABEL in roc["layout"]["title"]["text"]
    assert (app.query_params["model"], app.query_params["threshold"]) == ("nifty", "0.5")

    # another model gets its own threshold; coming back finds the one left behind
    app.slider(key="what_if_threshold_nifty").set_value(0.6).run()
    app.radio(key="what_if_model").set_value("ticker").run()
    no_errors(app)
    assert app.slider(key="what_if_threshold_ticker").value == 1.0
    assert (app.query_params["model"], app.query_params["threshold"]) == ("ticker", "1")
    app.radio(key="what_if_model").set_value("nifty").run()
    assert app.slider(key="what_if_threshold_nifty").value == 0.6
    assert app.query_params["threshold"] == "0.6"


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ({"threshold": "lots"}, "threshold must be a number from 0.05 to 3 (percent move), got 'lots'"),
        ({"threshold": "45"}, "got '45'"),
        ({"model": "crypto"}, "it must be one of ticker, nifty, nifty-rest, got 'crypto'"),
        ({"split": "future"}, "it must be one of train, validation, test, got 'future'"),
    ],
)
def test_a_bad_link_is_a_warning_and_the_default(query, warning):
    app = what_if_page(**query)
    no_errors(app)
    assert any(warning in box.value for box in app.warning), [box.value for box in app.warning]
    assert app.radio(key="what_if_model").value == "ticker"
    assert app.slider(key="what_if_threshold_ticker").value == 1.0
    assert metrics(app)["Alerts fired"] == "23"
    assert (app.query_params["model"], app.query_params["threshold"]) == ("ticker", "1")


def test_a_broken_checkpoint_is_a_message_that_says_what_to_do(tmp_path):
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)
    app.session_state[CHECKPOINT_KEY.format(task="ticker")] = str(tmp_path / "missing")
    app.run()
    assert not app.exception
    assert "Pick another checkpoint" in app.error[0].value


def test_a_checkpoint_whose_data_cannot_be_read_is_a_message(tmp_path):
    folder = tmp_path / "ticker"
    shutil.copytree(SHIPPED["ticker"], folder)
    card = json.loads((folder / "card.json").read_text())
    card["data"]["source"] = "demo:NOPE"
    (folder / "card.json").write_text(json.dumps(card))
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)
    app.session_state[CHECKPOINT_KEY.format(task="ticker")] = str(folder)
    app.run()
    assert not app.exception
    assert "The model's data (NOPE (demo market, synthetic)) cannot be read" in app.error[0].value
    assert "got 'NOPE'" in app.error[0].value
