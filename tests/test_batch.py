"""The batch command's local engine: the same maps as one window explained alone, a dataset that a
rerun completes without writing anything twice, failures recorded, bad input refused."""

from __future__ import annotations

import datetime as dt
import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch import dataset
from batch.__main__ import main
from batch.run import explain_universe, resolve_checkpoint
from batch.universe import expand_universe
from data.sources import load_source
from workflows.window import explain_window, window_trust_table
from xai.many import explain_batches
from xai.methods import ALL_METHODS, METHODS
from xai.profiles import time_profiles

DAY = dt.date(2024, 9, 3)  # in both shipped models' test splits


@pytest.fixture(scope="module")
def ticker():
    return resolve_checkpoint("ticker", "shipped")


def test_the_rows_and_maps_equal_each_window_explained_alone(ticker, tmp_path):
    summary = explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY)
    assert (summary.written, summary.failed, summary.windows) == (["demo:ACME"], {}, 7)
    rows = dataset.read_rows(tmp_path)
    bars = load_source("demo:ACME", "60m").bars
    ohlc = bars[["open", "high", "low", "close"]].to_numpy()
    assert list(rows["time"].dt.date.unique()) == [DAY]
    for i, row in rows.iterrows():
        end = bars.index.get_loc(row["time"])
        alone = explain_window(ticker, ohlc[end - 49 : end + 1])
        assert row["prediction"] == pytest.approx(alone.prediction.pct_change, abs=1e-4)
        assert row["explained"] == alone.direction
        assert row["outcome"] == pytest.approx(100 * (ohlc[end + 1, 3] / ohlc[end, 3] - 1), rel=1e-9)
        for key in ALL_METHODS:
            expected = alone.explanations.maps[key].attribution[0, 0]
            stored = dataset.read_maps(tmp_path, "demo:ACME", key)[i]
            np.testing.assert_allclose(stored, expected, atol=2e-3 * np.abs(expected).max(), rtol=0)
            np.testing.assert_allclose(row[f"time_{key}"], alone.per_time[key], rtol=1e-5, atol=1e-7)
            mass = time_profiles(np.abs(expected)[None], "candlestick", 50)[0]
            np.testing.assert_allclose(row[f"mass_{key}"], mass, rtol=1e-4, atol=1e-7)
    assert not any(column.startswith("deletion_auc") for column in rows.columns)  # no trust scores unless asked


def test_trust_scores_per_window_are_the_pages_trust_table(ticker, tmp_path):
    explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY, trust=True)
    rows = dataset.read_rows(tmp_path)
    bars = load_source("demo:ACME", "60m").bars
    ohlc = bars[["open", "high", "low", "close"]].to_numpy()
    for _, row in rows.iloc[[0, 6]].iterrows():
        end = bars.index.get_loc(row["time"])
        alone = explain_window(ticker, ohlc[end - 49 : end + 1])
        table = window_trust_table(ticker, alone)
        for key in ALL_METHODS:
            label = METHODS[key].label
            assert row[f"deletion_auc_{key}"] == pytest.approx(table.loc[label, "deletion area ↓"], abs=1e-4)
            assert row[f"insertion_auc_{key}"] == pytest.approx(table.loc[label, "insertion area ↑"], abs=1e-4)
            assert 0.0 <= row[f"infidelity_share_{key}"] <= 1.0  # its noise draws are the batch's, not one window's
    assert rows[["random_deletion_auc", "random_insertion_auc"]].notna().all().all()
    assert dataset.read_manifest(tmp_path)["trust"] is True


def test_a_source_failing_mid_run_is_recorded_and_the_next_one_written(ticker, tmp_path, monkeypatch):
    from batch import run

    batches = []

    def fails_on_its_second_batch(*args, **kwargs):
        for part in explain_batches(*args, **kwargs):
            batches.append(part)
            if len(batches) == 2:  # ACME's first batch of maps is already on disk
                raise RuntimeError("CUDA error: an illegal memory access was encountered")
            yield part

    monkeypatch.setattr(run, "explain_batches", fails_on_its_second_batch)
    summary = explain_universe(
        ticker, "shipped", ["demo:ACME", "demo:GLOBEX"], tmp_path, first=DAY, last=DAY + dt.timedelta(days=6), batch=2
    )
    assert summary.failed == {"demo:ACME": "RuntimeError: CUDA error: an illegal memory access was encountered"}
    assert summary.written == ["demo:GLOBEX"]
    assert set(dataset.read_rows(tmp_path)["source"]) == {"demo:GLOBEX"}
    assert sorted(path.name for path in (tmp_path / "maps").iterdir()) == [dataset.part_name("demo:GLOBEX")]
    assert pd.read_json(tmp_path / "errors.json", typ="series").index.tolist() == ["demo:ACME"]


def test_a_full_disk_leaves_no_partial_partition_and_the_rerun_completes_it(ticker, tmp_path, monkeypatch):
    real = pd.DataFrame.to_parquet

    def disk_fills(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half")  # the first bytes made it to disk, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_fills)
    summary = explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY)
    assert "No space left on device" in summary.failed["demo:ACME"]
    assert "free space and rerun" in summary.failed["demo:ACME"]
    assert dataset.read_rows(tmp_path).empty  # the half-written rows are not a partition
    assert list((tmp_path / "windows").glob("*.tmp-*")) == []  # removed at once: the space is given back
    assert list((tmp_path / "maps").iterdir()) == []  # its maps, already in place, too
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    again = explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY)
    assert (again.written, again.failed, len(dataset.read_rows(tmp_path))) == (["demo:ACME"], {}, 7)
    assert list((tmp_path / "windows").glob("*.tmp-*")) == []


def test_a_disk_filling_while_the_maps_are_written_fails_the_source_and_leaves_nothing(ticker, tmp_path, monkeypatch):
    class FillingDisk:  # a real file whose disk is full after its header and one batch of maps
        def __init__(self, path, mode):
            self.file, self.writes = open(path, mode), 0  # noqa: SIM115 — closed by close()

        def write(self, data):
            self.writes += 1
            if self.writes > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.file.write(data)

        def close(self):
            self.file.close()

    monkeypatch.setattr(dataset, "open", FillingDisk, raising=False)
    summary = explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY, batch=2)
    assert "No space left on device" in summary.failed["demo:ACME"]
    assert "free space and rerun" in summary.failed["demo:ACME"]
    assert (list((tmp_path / "maps").iterdir()), list((tmp_path / "windows").iterdir())) == ([], [])
    monkeypatch.undo()
    again = explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=DAY, last=DAY)
    assert (again.written, len(dataset.read_rows(tmp_path))) == (["demo:ACME"], 7)
    stored = dataset.read_maps(tmp_path, "demo:ACME", "gradcam", memory_mapped=True)
    assert (stored.shape, stored.dtype, type(stored)) == ((7, 128, 128), np.float16, np.memmap)


def test_the_classifier_explains_the_class_it_calls(tmp_path):
    loaded = resolve_checkpoint("nifty-rest", "shipped")
    explain_universe(loaded, "shipped", ["demo:NIFTY-DEMO"], tmp_path, first=DAY, last=DAY + dt.timedelta(days=6))
    rows = dataset.read_rows(tmp_path)
    assert len(rows) == 5  # the five sessions of that week
    assert (rows["explained"] == (rows["prediction"] > 0.5)).all()
    assert set(rows["outcome"]) <= {0.0, 1.0}
    assert all(len(profile) == 60 for profile in rows["time_gradcam"])


def test_a_rerun_finishes_what_a_killed_run_left_and_writes_nothing_twice(ticker, tmp_path):
    sources = ["demo:ACME", "demo:GLOBEX"]
    explain_universe(ticker, "shipped", sources, tmp_path, first=DAY, last=DAY)
    # as if killed while writing GLOBEX: its rows gone, a half-written file left behind
    globex = tmp_path / "windows" / f"{dataset.part_name('demo:GLOBEX')}.parquet"
    globex.unlink()
    (tmp_path / "windows" / f"{globex.name}.tmp-999").write_bytes(b"half a file")
    half_maps = tmp_path / "maps" / f"{dataset.part_name('demo:GLOBEX')}.tmp-999"
    half_maps.mkdir()
    (half_maps / "gradcam.npy").write_bytes(b"half a map")
    assert sorted(dataset.read_rows(tmp_path)["source"].unique()) == ["demo:ACME"]  # never half a partition
    again = explain_universe(ticker, "shipped", sources, tmp_path, first=DAY, last=DAY)
    assert (again.skipped, again.written) == (["demo:ACME"], ["demo:GLOBEX"])
    rows = dataset.read_rows(tmp_path)
    assert len(rows) == 14
    assert not rows.duplicated(["source", "time"]).any()
    assert list((tmp_path / "windows").glob("*.tmp-*")) == list((tmp_path / "maps").glob("*.tmp-*")) == []
    assert dataset.read_maps(tmp_path, "demo:GLOBEX", "saliency").shape == (7, 128, 128)  # its old maps replaced


def test_a_failing_source_is_recorded_and_the_run_goes_on(ticker, tmp_path):
    summary = explain_universe(ticker, "shipped", ["demo:NOPE", "demo:ACME"], tmp_path, first=DAY, last=DAY)
    assert summary.written == ["demo:ACME"]
    assert list(summary.failed) == ["demo:NOPE"]
    assert "symbol must be one of the demo symbols" in summary.failed["demo:NOPE"]
    assert pd.read_json(tmp_path / "errors.json", typ="series").index.tolist() == ["demo:NOPE"]


def test_another_runs_dataset_and_a_foreign_folder_are_refused(ticker, tmp_path):
    explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path / "run", first=DAY, last=DAY)
    with pytest.raises(ValueError, match=r"holds a dataset of another run \(methods \[.*\] ≠ \['saliency'\]\)"):
        explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path / "run", first=DAY, last=DAY, methods=["saliency"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"is not empty and holds no manifest\.json: choose an empty or new folder"):
        explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path / "mine", first=DAY, last=DAY)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_the_universe_is_expanded_and_an_empty_one_refused(tmp_path):
    assert expand_universe(["demo:*", "demo:ACME"], "ticker") == [
        "demo:ACME", "demo:GLOBEX", "demo:INITECH", "demo:UMBRELLA", "demo:WAYNE",
    ]  # fmt: skip
    (tmp_path / "b.csv").write_text("x")
    (tmp_path / "a.parquet").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    assert expand_universe([str(tmp_path)], "ticker") == [str(tmp_path / "a.parquet"), str(tmp_path / "b.csv")]
    with pytest.raises(ValueError, match="the universe is empty"):
        expand_universe(["  "], "ticker")


def test_the_command_line_refuses_bad_input(tmp_path, capsys):
    assert main(["explain", "demo:ACME", "--methods", "gradcam,magic", "--out", str(tmp_path / "x")]) == 2
    assert "methods must be some of gradcam, saliency" in capsys.readouterr().err
    assert main(["explain", "demo:ACME", "--model", "mine", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == "error: model must be one of ['shipped'] for the ticker task, got 'mine'\n"
    assert (
        main(["explain", "demo:ACME", "--from", "2024-09-05", "--to", "2024-09-03", "--out", str(tmp_path / "x")]) == 2
    )
    assert "must not be before its start" in capsys.readouterr().err


def test_with_reliance_each_pattern_window_carries_its_answer_without_the_pattern(ticker, tmp_path):
    from data.demo import demo_bars_without, planted_patterns
    from models.predict import predict_window

    pattern_hour = planted_patterns("ACME").loc[100, "pattern_hour"]
    day = pattern_hour.date()
    explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=day, last=day, reliance=True)
    assert dataset.read_manifest(tmp_path)["reliance"] is True
    rows = dataset.read_rows(tmp_path)
    with_pattern = rows["pattern_start"] >= 0
    assert rows.loc[with_pattern, "time"].tolist() == [pattern_hour]  # the one window ending on the breakout
    assert rows.loc[~with_pattern, "prediction_without_pattern"].isna().all()
    bars = demo_bars_without("ACME", 100, "60m").bars
    window = bars.loc[:pattern_hour, ["open", "high", "low", "close"]].to_numpy()[-50:]
    expected = predict_window(ticker, window).pct_change
    assert rows.loc[with_pattern, "prediction_without_pattern"].item() == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match=r"reliance True ≠ False"):
        explain_universe(ticker, "shipped", ["demo:ACME"], tmp_path, first=day, last=day)


def test_partition_maps_are_appended_in_order_and_committed_only_when_complete(tmp_path):
    maps = np.linspace(-1, 1, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    with dataset.PartitionMaps(tmp_path, "demo:ACME", ["gradcam"], (3, 8, 8)) as stored:
        with pytest.raises(ValueError, match=r"rows must continue the gradcam maps in order from row 0"):
            stored.write(np.array([1, 2]), "gradcam", maps[1:])
        stored.write(np.array([0, 1]), "gradcam", maps[:2])
        with pytest.raises(ValueError, match=r"every method needs 3 maps before commit, got \{'gradcam': 2\}"):
            stored.commit()
        stored.write(np.array([2]), "gradcam", maps[2:])
        stored.commit()
    np.testing.assert_array_equal(dataset.read_maps(tmp_path, "demo:ACME", "gradcam"), maps.astype(np.float16))
    assert [path.name for path in (tmp_path / "maps").iterdir()] == [dataset.part_name("demo:ACME")]
