"""Pooling other sources into the training split: what is added, what is not, and the refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from data.demo import demo_bars
from data.errors import DataError
from models.architectures import ModelSpec
from models.datasets import samples_from_bars
from models.train import main
from models.training import BatchReport, TrainConfig, train
from tests.test_training import SMALL_TICKER, assert_one_line_refusal

SPEC = ModelSpec.default("ticker", **SMALL_TICKER)


def first_bars(symbol: str, n: int, start: int = 0):
    loaded = demo_bars(symbol, "60m")
    return dataclasses.replace(loaded, bars=loaded.bars.iloc[start : start + n])


@pytest.fixture(scope="module")
def acme():
    return samples_from_bars(SPEC, first_bars("ACME", 1500))


@pytest.fixture(scope="module")
def globex():
    return samples_from_bars(SPEC, first_bars("GLOBEX", 1500))


def test_pooled_windows_join_the_training_split_only_and_end_by_its_last_window(acme, globex):
    pooled = acme.pooled_with([globex])
    own_train = acme.indices("train")
    last_training_time = acme.times[own_train[-1]]
    early = np.flatnonzero(globex.times <= last_training_time)
    # the demo tickers share a calendar: GLOBEX's windows up to ACME's last training window, no later
    assert early.size == own_train[-1] + 1
    assert globex.times[early[-1]] == last_training_time

    np.testing.assert_array_equal(pooled.indices("train"), np.r_[own_train, len(acme) + np.arange(early.size)])
    for part in ("validation", "test"):
        np.testing.assert_array_equal(pooled.indices(part), acme.indices(part))
    added = pooled.indices("train")[own_train.size :]
    np.testing.assert_array_equal(pooled.targets[added], globex.targets[early])
    np.testing.assert_array_equal(pooled.sequences[added], globex.sequences[early])
    np.testing.assert_array_equal(pooled.ohlc[added], globex.ohlc[early])
    assert (pooled.times[added] == globex.times[early]).all()
    np.testing.assert_array_equal(pooled.images(added[:3]).numpy(), globex.images(early[:3]).numpy())
    # nothing of ACME's own changed
    np.testing.assert_array_equal(pooled.targets[: len(acme)], acme.targets)

    data = pooled.describe()["data"]
    assert data["source"] == "demo:ACME"
    assert data["samples"] == len(acme)
    assert data["pooled"] == [
        {
            "source": "demo:GLOBEX",
            "samples": int(early.size),
            "first": globex.times[0].isoformat(),
            "last": last_training_time.isoformat(),
            "synthetic": True,
        }
    ]
    assert "pooled" not in acme.describe()["data"]


def test_training_steps_over_the_pooled_windows_and_the_card_names_them(acme, globex, tmp_path):
    pooled = acme.pooled_with([globex])
    batches: list[BatchReport] = []
    card = train(
        SPEC,
        pooled,
        TrainConfig(epochs=1, batch_size=256, seed=0),
        tmp_path,
        command="t",
        progress=False,
        on_batch=batches.append,
    ).to_json()
    assert len(batches) == -(-pooled.indices("train").size // 256)  # ceil: every pooled window is stepped over
    assert pooled.indices("train").size == 2 * acme.indices("train").size
    assert card["split"]["train"] == acme.indices("train").size  # the split is ACME's own; the pool is listed
    assert [entry["source"] for entry in card["data"]["pooled"]] == ["demo:GLOBEX"]
    assert card["metrics"]["n"] == acme.indices("test").size


def test_refusals_name_the_source_and_the_rule(acme, globex):
    with pytest.raises(DataError, match="'demo:ACME' is the source trained on"):
        acme.pooled_with([acme])
    other_spec = samples_from_bars(dataclasses.replace(SPEC, image="gadf"), first_bars("GLOBEX", 1500))
    with pytest.raises(DataError, match="cut for ticker \\(gadf 64 px\\), not ticker \\(candlestick 64 px\\)"):
        acme.pooled_with([other_spec])
    later = samples_from_bars(SPEC, first_bars("GLOBEX", 1500, start=3000))
    with pytest.raises(DataError, match="'demo:GLOBEX' has no window ending by"):
        acme.pooled_with([later])
    with pytest.raises(ValueError, match="already pooled"):
        acme.pooled_with([globex]).pooled_with([globex])
    aware = first_bars("GLOBEX", 1500)
    aware = dataclasses.replace(aware, bars=aware.bars.tz_localize("America/New_York"))
    with pytest.raises(DataError, match="one has a time zone"):
        acme.pooled_with([samples_from_bars(SPEC, aware)])
    assert isinstance(acme.times, pd.DatetimeIndex)


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("demo:GLOBEX,,demo:WAYNE", "--pool must list distinct sources separated by commas"),
        ("demo:GLOBEX,demo:GLOBEX", "--pool must list distinct sources separated by commas"),
        ("demo:ACME", "'demo:ACME' is the source trained on"),
        ("demo:NOPE", "symbol must be one of the demo symbols"),
    ],
)
def test_bad_pools_are_one_clear_line(pool, message, tmp_path, capsys):
    argv = ["--task", "ticker", "--data", "demo:ACME", "--pool", pool, "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    assert_one_line_refusal(capsys.readouterr().err, message, tmp_path / "m")
