"""The Train page through Streamlit's AppTest: a real (tiny) training run, then the switch to its checkpoint."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from data import load_bar_file, load_source
from data.demo import demo_bars
from data.settings import SYNTHETIC_LABEL, cache_dir
from models.checkpoints import load_checkpoint, read_card
from models.registry import SHIPPED
from tests.conftest import REPO_ROOT

TIMEOUT_S = 300  # a run that trains: imports, the demo market, one or two epochs on a shared 2-core machine
PAGE = str(REPO_ROOT / "pages" / "train.py")
NIFTY_LABEL = "NIFTY-day classifier (up or down day)"
TICKER_LABEL = "Ticker regressor (next-hour close)"
RESULT_KEY = "train::result"
#: pages.ui.shared.CHECKPOINT_KEY — not imported here: importing pages.ui.shared sets the process's torch threads
#: at collection time, which would change the numerics of every training test collected with this file.
CHECKPOINT_KEY = "checkpoint::{task}"
ACTIVE_SOURCE_KEY = "active_source"  # pages.ui.sources.ACTIVE_SOURCE_KEY


def no_exceptions(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def no_errors(app: AppTest) -> None:
    no_exceptions(app)
    assert not app.error, [e.value for e in app.error]


def checkpoint_files_in_repository() -> set[Path]:
    skip = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    found = set()
    for name in ("card.json", "model.pt"):
        found |= {path for path in REPO_ROOT.rglob(name) if not skip & set(path.relative_to(REPO_ROOT).parts)}
    return found


def train_page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run()


def small_model(app: AppTest, task: str, *, arch: str, image: str, size: int) -> None:
    """Pick a small model in the page's "Model" expander (from scratch)."""
    app.selectbox(key=f"arch_{task}").set_value(arch)
    app.selectbox(key=f"image_{task}").set_value(image).run()
    app.selectbox(key=f"size_{task}_{image}").set_value(size)
    app.number_input(key="epochs").set_value(1).run()


def figure_of(app: AppTest, index: int = -1) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def test_a_tiny_run_shows_progress_loss_and_metrics_then_every_page_can_use_it():
    before = checkpoint_files_in_repository()
    app = train_page()
    no_errors(app)
    assert any("shipped ticker model" in info.value for info in app.info)
    app.radio(key="task").set_value(NIFTY_LABEL).run()
    assert any("shipped nifty model" in info.value for info in app.info)
    assert SYNTHETIC_LABEL in [info.value for info in app.info]
    small_model(app, "nifty", arch="resnet18", image="candlestick", size=64)
    no_errors(app)

    app.button(key="start_training").click().run()
    no_errors(app)
    result = app.session_state[RESULT_KEY]
    folder = Path(result["folder"])
    card = read_card(folder).to_json()
    assert card == result["card"].to_json()
    assert (card["task"], card["arch"], card["image"], card["image_size"]) == ("nifty", "resnet18", "candlestick", 64)
    assert card["status"] == "complete"
    assert card["training"]["epochs"] == 1
    assert card["data"]["source"] == "demo:NIFTY-DEMO"
    assert card["weights_dtype"] == "float16"
    # the checkpoint sits in a generated folder of the cache, never in the repository
    assert folder.parent == cache_dir() / "checkpoints"
    assert not folder.resolve().is_relative_to(REPO_ROOT.resolve())
    assert checkpoint_files_in_repository() == before
    load_checkpoint(folder, task="nifty")

    # progress bar at its end, live loss chart labelled synthetic, with the card's figures
    progress = app.get("progress")
    assert len(progress) == 1
    assert progress[0].value == 100
    assert progress[0].text.startswith("Done: 1 epoch(s) in ")
    charts = app.get("plotly_chart")
    assert len(charts) == 1
    figure = figure_of(app)
    assert SYNTHETIC_LABEL in figure["layout"]["title"]["text"]
    history = card["training"]["history"]
    train_trace, validation_trace = figure["data"]
    assert train_trace["y"] == [history[0]["train_loss"]]
    assert validation_trace["y"] == [history[0]["validation"]]
    assert validation_trace["name"] == "val cross-entropy"

    # the card's test metrics against its baseline
    metrics = card["metrics"]
    accuracy = next(m for m in app.metric if m.label == "Accuracy")
    assert accuracy.value == f"{metrics['model']['accuracy']:.3f}"
    model_accuracy, baseline_accuracy = metrics["model"]["accuracy"], metrics["baseline"]["accuracy"]
    assert accuracy.delta == f"{model_accuracy - baseline_accuracy:+.3f} vs baseline ({baseline_accuracy:.3f})"
    auc = next(m for m in app.metric if m.label == "ROC AUC")
    assert auc.value == f"{metrics['model']['auc']:.3f}"
    verdicts = [box.value for box in (*app.success, *app.warning)]
    assert metrics["verdict"] in verdicts
    # same data and split as the shipped model: its figures are shown beside, for comparison
    shipped = read_card(SHIPPED["nifty"]).to_json()["metrics"]["model"]
    assert (
        f"The shipped model on the same data and test split: Accuracy {shipped['accuracy']:.3f}, "
        f"ROC AUC {shipped['auc']:.3f}."
    ) in [caption.value for caption in app.caption]

    # switch every page of this session to the new checkpoint
    app.button(key="use_model").click().run()
    no_errors(app)
    assert app.session_state[CHECKPOINT_KEY.format(task="nifty")] == str(folder)
    assert any(str(folder) in info.value for info in app.info)
    assert app.session_state[ACTIVE_SOURCE_KEY] == "demo:NIFTY-DEMO"  # and its data: the pages follow both
    assert "Every page of this session now uses this model, on its data: NIFTY-DEMO (demo market, synthetic)." in [
        box.value for box in app.success
    ]
    assert len(app.get("plotly_chart")) == 1  # the result stays, drawn from the card

    # fine-tune the model just made active: it starts from its weights and keeps its settings
    app.radio(key="start").set_value("Fine-tune the active model").run()
    no_errors(app)
    assert any("resnet18, candlestick images of 64 px" in caption.value for caption in app.caption)
    app.number_input(key="epochs").set_value(1)
    app.button(key="start_training").click().run()
    no_errors(app)
    tuned = app.session_state[RESULT_KEY]["card"].to_json()
    assert tuned["training"]["init_from"]["checkpoint"] == str(folder)
    assert tuned["training"]["init_from"]["weights_sha256"] == card["weights_sha256"]
    assert tuned["spec"] == card["spec"]
    assert "--init-from" in tuned["command"]
    assert Path(app.session_state[RESULT_KEY]["folder"]) != folder

    # and back to the shipped model
    app.button(key="use_shipped").click().run()
    no_errors(app)
    assert app.session_state[CHECKPOINT_KEY.format(task="nifty")] == str(SHIPPED["nifty"])
    assert any("shipped nifty model" in info.value for info in app.info)
    assert checkpoint_files_in_repository() == before


def test_an_uploaded_file_trains_the_regressor_and_is_not_called_synthetic(isolated_cache):
    hourly = demo_bars("GLOBEX", "60m").bars.iloc[:700]
    app = train_page()
    app.radio(key="source_kind").set_value("Upload a file").run()
    no_errors(app)
    assert app.button(key="start_training").disabled
    assert any("Upload a file" in info.value for info in app.info)
    app.file_uploader(key="upload").set_value(("my prices.csv", hourly.to_csv().encode(), "text/csv")).run()
    small_model(app, "ticker", arch="cnn-lstm-resnet18", image="candlestick", size=64)
    app.button(key="start_training").click().run()
    no_errors(app)
    card = app.session_state[RESULT_KEY]["card"].to_json()
    stored = card["data"]["source"]  # the bars kept under their digest, never under the upload's name
    assert re.fullmatch(r"upload:[0-9a-f]{32}", stored)
    assert not any(isolated_cache.rglob("my prices.csv"))
    assert load_source(stored, "60m").bars.equals(load_bar_file(hourly.to_csv().encode()).bars)
    assert card["data"]["layout"] == "generic-csv"
    assert card["data"]["synthetic"] is False
    assert card["command"].startswith(f"python -m models.train --task ticker --data {stored} ")
    figure = figure_of(app)
    assert SYNTHETIC_LABEL not in figure["layout"]["title"]["text"]
    assert [trace["name"] for trace in figure["data"]] == [
        "train loss (MSE in window-volatility units)",
        "val RMSE log10",
    ]
    rmse = next(m for m in app.metric if m.label == "RMSE (log10 close)")
    assert rmse.value == f"{card['metrics']['model']['rmse_log']:.5f}"
    assert not any(SYNTHETIC_LABEL in info.value for info in app.info)
    assert not any("The shipped model on the same data" in caption.value for caption in app.caption)

    # What if reads the kept upload again (the file itself was never written)
    what_if = AppTest.from_file(str(REPO_ROOT / "pages" / "what-if.py"), default_timeout=TIMEOUT_S)
    what_if.session_state[CHECKPOINT_KEY.format(task="ticker")] = app.session_state[RESULT_KEY]["folder"]
    what_if.query_params["model"] = "ticker"
    what_if.run()
    no_errors(what_if)
    # named by its file, never by the internal upload:<digest>
    assert any("hourly forecasts of my prices.csv (your upload)," in caption.value for caption in what_if.caption)
    assert not any(stored in caption.value for caption in what_if.caption)


def test_pooling_demo_tickers_trains_on_their_training_period_and_the_card_says_so(isolated_cache):
    app = train_page()
    app.radio(key="task").set_value(TICKER_LABEL).run()
    no_errors(app)
    pool = app.multiselect(key="pool_ticker")
    assert pool.options == ["GLOBEX", "INITECH", "UMBRELLA", "WAYNE"]  # every demo ticker but the one trained on
    assert pool.value == []
    pool.set_value(["GLOBEX"])
    small_model(app, "ticker", arch="cnn-lstm-resnet18", image="candlestick", size=64)
    app.button(key="start_training").click().run()
    no_errors(app)
    card = app.session_state[RESULT_KEY]["card"]
    pooled = card.data.pooled
    assert [entry["source"] for entry in pooled] == ["demo:GLOBEX"]
    # GLOBEX up to ACME's last training window: as many windows as ACME's training split (one calendar)
    assert pooled[0]["samples"] == card.split.train
    assert " --data demo:ACME --pool demo:GLOBEX " in card.command
    assert card.data.trained_on == (
        f"demo:ACME, with the same training period of demo:GLOBEX ({card.split.train:,} windows) pooled in"
    )
    assert any("training pooled with GLOBEX (demo market, synthetic)" in caption.value for caption in app.caption)


def test_a_file_too_short_to_split_is_a_message():
    short = demo_bars("ACME", "60m").bars.iloc[:120].to_csv().encode()
    app = train_page()
    app.radio(key="source_kind").set_value("Upload a file").run()
    app.file_uploader(key="upload").set_value(("short.csv", short, "text/csv")).run()
    app.button(key="start_training").click().run()
    no_exceptions(app)
    assert len(app.error) == 1
    assert app.error[0].value.endswith(
        "samples are too few for a (0.81, 0.09, 0.1) split with 50 purged at each boundary; load a longer history"
    )
    assert RESULT_KEY not in app.session_state


def test_an_impossible_model_is_a_message_before_training():
    app = train_page()
    app.selectbox(key="image_ticker").set_value("candlestick").run()
    app.selectbox(key="size_ticker_candlestick").set_value(32).run()
    no_exceptions(app)
    assert [error.value for error in app.error] == [
        "image_size must be >= sequence_length (50) for candlesticks (one pixel column per bar at least), got 32"
    ]
    assert "start_training" not in [button.key for button in app.button]  # the page stopped before offering it


def test_fine_tuning_a_missing_checkpoint_says_what_to_do():
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)
    app.session_state[CHECKPOINT_KEY.format(task="ticker")] = "/nonexistent/checkpoint"
    app.run()
    app.radio(key="start").set_value("Fine-tune the active model").run()
    no_exceptions(app)
    assert len(app.error) == 1
    assert "checkpoint /nonexistent/checkpoint does not exist" in app.error[0].value
    assert any("/nonexistent/checkpoint" in info.value for info in app.info)
    app.button(key="use_shipped").click().run()
    no_errors(app)
    assert app.session_state[CHECKPOINT_KEY.format(task="ticker")] == str(SHIPPED["ticker"])


def test_a_damaged_checkpoint_is_refused_and_leaves_no_half_made_checkpoint(tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(SHIPPED["ticker"], damaged)
    with (damaged / "model.pt").open("ab") as weights:
        weights.write(b"tampered")
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)
    app.session_state[CHECKPOINT_KEY.format(task="ticker")] = str(damaged)
    app.run()
    app.radio(key="start").set_value("Fine-tune the active model").run()
    no_errors(app)
    app.button(key="start_training").click().run()
    no_exceptions(app)
    assert len(app.error) == 1
    assert "card and weights disagree" in app.error[0].value
    assert RESULT_KEY not in app.session_state
    assert not any((cache_dir() / "checkpoints").iterdir())  # the folder made for the run was removed


def test_the_session_keys_are_the_ones_pages_read():
    from pages.ui.shared import CHECKPOINT_KEY as SHARED_KEY
    from pages.ui.sources import ACTIVE_SOURCE_KEY as SOURCE_KEY

    assert SHARED_KEY == CHECKPOINT_KEY
    assert SOURCE_KEY == ACTIVE_SOURCE_KEY
