"""Training: small real configurations beat their baselines, reproducibly; the command line; Ctrl-C."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yfinance as yf

from data.demo import DEMO_INDEX, demo_bars
from models.architectures import ModelSpec
from models.checkpoints import load_checkpoint, read_card
from models.datasets import load_samples
from models.train import main
from models.training import TrainConfig, train

SMALL_TICKER = {"image_size": 64, "width": 8, "extract_channels": 8, "lstm_hidden": 16, "head_hidden": 16}


@pytest.fixture(scope="module")
def ticker_samples():
    return load_samples(ModelSpec.default("ticker", **SMALL_TICKER), "demo:ACME")


@pytest.fixture(scope="module")
def small_ticker_run(ticker_samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("ticker")
    card = train(
        ticker_samples.spec,
        ticker_samples,
        TrainConfig(epochs=5, batch_size=32, seed=7),
        out,
        command="test",
        progress=False,
    )
    return out, card


def test_small_regressor_beats_persistence_on_the_demo_market(small_ticker_run):
    _, card = small_ticker_run
    metrics = card["metrics"]
    assert metrics["beats_baseline"], metrics["verdict"]
    assert metrics["rmse_ratio_ci95"][1] < 0.98  # clearly: at least 2 % below persistence
    assert metrics["model"]["rmse_log"] < metrics["baseline"]["rmse_log"]
    # alerts at 1 %: the planted breakouts make them mostly right
    assert metrics["model"]["alerts"]["1.0"]["precision"] > 0.5
    assert metrics["baseline"]["alerts"]["1.0"]["alerts"] == 0
    # the chart matters: the image branch is alive (a dead extract layer once silenced it)
    assert metrics["image_branch_live_share"] > 0.05
    # the paper's offset correction is reported beside, not instead
    assert set(metrics["offset_correction"]) >= {"gap_avg", "deviation", "sign", "fitted_on"}
    assert "rmse_log" in metrics["model_with_offset_correction"]


def test_card_describes_data_split_and_training(small_ticker_run, ticker_samples):
    out, _ = small_ticker_run
    card = read_card(out)
    assert card["task"] == "ticker"
    assert card["image"] == "candlestick"
    assert card["image_size"] == 64
    assert card["data"]["source"] == "demo:ACME"
    assert card["data"]["synthetic"] is True
    assert card["split"]["chronological"] is True
    sizes = [card["split"][name] for name in ("train", "validation", "test")]
    assert sizes == list(ticker_samples.split.sizes())
    assert card["split"]["purged_at_each_boundary"] == 50
    assert card["training"]["seed"] == 7
    assert card["training"]["lr"] == 0.003  # the paper's
    assert 1 <= card["training"]["best_epoch"] <= card["training"]["epochs"] <= 5
    assert set(card["training"]["versions"]) >= {"torch", "torchvision", "pyts", "numpy"}
    assert card["status"] == "complete"


def test_training_is_reproducible_under_a_seed(ticker_samples, tmp_path, small_ticker_run):
    config = TrainConfig(epochs=5, batch_size=32, seed=7)
    train(ticker_samples.spec, ticker_samples, config, tmp_path, command="test", progress=False)
    assert read_card(tmp_path)["weights_sha256"] == read_card(small_ticker_run[0])["weights_sha256"]


def test_small_classifier_beats_the_majority_class(tmp_path):
    spec = ModelSpec.default("nifty", image_size=32)
    samples = load_samples(spec, f"demo:{DEMO_INDEX}")
    card = train(spec, samples, TrainConfig(epochs=4, batch_size=64, seed=3), tmp_path, command="t", progress=False)
    metrics = card["metrics"]
    assert metrics["model"]["accuracy"] > metrics["baseline"]["accuracy"] + 0.05, metrics["verdict"]
    assert metrics["model"]["auc"] > 0.6
    assert sum(map(sum, metrics["model"]["confusion"])) == card["split"]["test"]
    loaded = load_checkpoint(tmp_path, task="nifty", image="gadf", image_size=32)
    assert loaded.spec == spec


def test_ctrl_c_keeps_the_best_checkpoint_so_far(ticker_samples, tmp_path, monkeypatch):
    import models.training as training

    calls = {"n": 0}
    real = training._validation_figure

    def interrupt_in_epoch_two(model, samples):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(model, samples)

    monkeypatch.setattr(training, "_validation_figure", interrupt_in_epoch_two)
    card = train(
        ticker_samples.spec,
        ticker_samples,
        TrainConfig(epochs=5, batch_size=256),
        tmp_path,
        command="t",
        progress=False,
    )
    assert card["status"] == "interrupted"
    assert card["training"]["interrupted"] is True
    assert card["training"]["best_epoch"] == 1
    saved = read_card(tmp_path)
    assert saved["status"] == "interrupted"
    assert "rmse_log" in saved["metrics"]["model"]
    load_checkpoint(tmp_path, task="ticker")


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_command_line_trains_on_a_csv(tmp_path, capsys):
    path = tmp_path / "acme.csv"
    demo_bars("ACME", "60m").bars.iloc[:700].to_csv(path)
    out = tmp_path / "model"
    argv = [
        "--task",
        "ticker",
        "--data",
        str(path),
        "--image-size",
        "64",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    summary = last_json(capsys.readouterr().out)
    assert set(summary) == {"model", "baseline"}
    card = read_card(out)
    assert card["data"]["layout"] == "generic-csv"
    assert card["command"] == "python -m models.train " + " ".join(argv)


def test_command_line_trains_the_classifier_on_a_minute_csv(tmp_path):
    bars = demo_bars(DEMO_INDEX, "1m").bars
    path = tmp_path / "nifty.csv"
    bars.loc[bars.index < "2021-04-01"].rename_axis("date").to_csv(path)
    out = tmp_path / "model"
    assert (
        main(
            [
                "--task",
                "nifty",
                "--data",
                str(path),
                "--image-size",
                "32",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    card = read_card(out)
    assert card["data"]["layout"] == "kaggle-nifty"
    assert card["split"]["train"] + card["split"]["validation"] + card["split"]["test"] == 63


def test_command_line_trains_on_faked_yahoo_data(tmp_path, monkeypatch):
    hourly = demo_bars("GLOBEX", "60m").bars.iloc[:700]
    frame = hourly.rename(columns=str.title)
    frame.index = pd.DatetimeIndex(frame.index.tz_localize("America/New_York"), name="Datetime")
    monkeypatch.setattr(yf.Ticker, "history", lambda self, **kwargs: frame)
    out = tmp_path / "model"
    assert (
        main(
            ["--task", "ticker", "--data", "AAPL", "--image-size", "64", "--epochs", "1", "--quiet", "--out", str(out)]
        )
        == 0
    )
    card = read_card(out)
    assert card["data"]["source"] == "yahoo:AAPL"
    np.testing.assert_equal(card["data"]["first"], hourly.index[0].isoformat())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "ticker", "--data", "demo:ACME", "--arch", "resnet18"], "arch must be one of ('cnn-lstm-resnet34'"),
        (["--task", "nifty", "--data", "demo:NIFTY-DEMO", "--image-size", "8"], "image_size must be >= 32"),
        (["--task", "nifty", "--data", "demo:NOPE"], "symbol must be one of the demo symbols"),
        (["--task", "ticker", "--data", "demo:ACME", "--epochs", "0"], "epochs must be a positive int, got 0"),
        (["--task", "ticker", "--data", "demo:ACME", "--imagenet-weights", "w.pth"], "applies to the nifty classifier"),
    ],
)
def test_bad_training_requests_are_one_clear_line(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_unknown_task_is_one_line_from_the_argument_parser(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--task", "forex", "--data", "demo:ACME", "--out", "x"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "error: argument --task: invalid choice: 'forex' (choose from 'nifty', 'ticker') "
        "(see python -m models.train --help)\n"
    )


def test_too_little_data_for_a_split_is_refused(tmp_path, capsys):
    path = tmp_path / "short.csv"
    demo_bars("ACME", "60m").bars.iloc[:120].to_csv(path)
    assert main(["--task", "ticker", "--data", str(path), "--out", str(tmp_path / "m")]) == 2
    assert "samples are too few for a (0.81, 0.09, 0.1) split with 50 purged" in capsys.readouterr().err


def test_an_existing_checkpoint_is_never_overwritten(small_ticker_run, capsys):
    out, _ = small_ticker_run
    before = (out / "model.pt").read_bytes()
    assert main(["--task", "ticker", "--data", "demo:ACME", "--out", str(out)]) == 2
    assert "already holds a checkpoint; choose another --out or pass --force" in capsys.readouterr().err
    assert (out / "model.pt").read_bytes() == before
