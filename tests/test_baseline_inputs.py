"""Bad input for the baselines and the models that start from them (issue 12): a clear message, and
nothing written — a flat first hour, one class only, too few samples; and a real file whose first
hour starts at another time is read at its own opening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data.demo import DEMO_INDEX, demo_bars
from models.checkpoints import read_card
from models.train import main

ARGS = ["--image-size", "32", "--epochs", "1", "--quiet"]


def _minute_csv(path: Path, bars: pd.DataFrame) -> Path:
    bars.rename_axis("date").to_csv(path)
    return path


def _first_days(n_days: int) -> pd.DataFrame:
    bars = demo_bars(DEMO_INDEX, "1m").bars
    days = bars.index.normalize().unique()[:n_days]
    return bars.loc[bars.index.normalize().isin(days)]


def _train(tmp_path: Path, task: str, csv: Path, capsys) -> tuple[int, str]:
    code = main(["--task", task, "--data", str(csv), *ARGS, "--out", str(tmp_path / "model")])
    return code, capsys.readouterr().err


def test_flat_first_hours_are_refused_and_nothing_is_written(tmp_path, capsys):
    bars = _first_days(70).copy()
    bars.loc[:, ["open", "high", "low", "close"]] = 100.0
    code, err = _train(tmp_path, "nifty", _minute_csv(tmp_path / "flat.csv", bars), capsys)
    assert code == 2
    assert "every first hour in the training split is flat (no price moved)" in err
    assert not (tmp_path / "model").exists()


def test_a_training_split_of_one_class_is_refused_and_nothing_is_written(tmp_path, capsys):
    bars = _first_days(70).copy()
    day = bars.index.normalize()
    # every day ends 1 % above its first open: only "up" days
    last = ~day.duplicated(keep="last")
    first_open = bars.groupby(day)["open"].transform("first")
    bars.loc[last, ["close", "high"]] = np.column_stack([first_open[last] * 1.01] * 2)
    code, err = _train(tmp_path, "nifty", _minute_csv(tmp_path / "up.csv", bars), capsys)
    assert code == 2
    assert "every training day has the same label (1)" in err
    assert not (tmp_path / "model").exists()


def test_too_few_days_for_the_baselines_is_refused(tmp_path, capsys):
    code, err = _train(tmp_path, "nifty-rest", _minute_csv(tmp_path / "short.csv", _first_days(12)), capsys)
    assert code == 2
    assert err.startswith("error: ")
    assert "load a longer history" in err or "too few" in err
    assert not (tmp_path / "model").exists()


def test_a_file_whose_first_hour_starts_at_0930_is_read_at_its_own_opening(tmp_path, capsys):
    bars = _first_days(70)
    shifted = bars.set_axis(bars.index + pd.Timedelta(minutes=15))  # a 09:30 open, as in New York
    code, err = _train(tmp_path, "nifty", _minute_csv(tmp_path / "ny.csv", shifted), capsys)
    assert code == 0, err
    card = read_card(tmp_path / "model").to_json()
    assert card["data"]["first"].endswith("09:30:00")
    rule = next(entry for entry in card["metrics"]["baselines"] if entry["key"] == "first_hour_rule")
    assert 0 <= rule["accuracy"] <= 1
