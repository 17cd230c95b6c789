"""``python -m bench.maps`` checked against known answers: blank-map shares recounted window by window
the dashboard's way, Grad-CAM cells read from the layer itself, the final JSON line, the baseline
reader on old and new metrics, and a checkpoint on a bar file without planted ground truth.

The shipped regressor only: the classifier's GADF images cost a numba compile (≈ 25 s) in a fresh
cache folder. The expensive test-split evaluation (a block bootstrap per baseline) is replaced by the
card's stored metrics in the shipped run, and run for real on the small file.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import bench.maps
from bench.maps import FIGURES, main
from bench.maps_figures import NEAR_BLANK_RATIO, _test_days, baseline_comparison, blank_maps, forecast_parts
from data.settings import CACHE_ENV_VAR
from data.sources import load_source
from models.datasets import load_samples
from models.registry import SHIPPED, load_shipped
from workflows.planted import sample_times
from workflows.window import explain_window
from xai.methods import ALL_METHODS

TASK = "ticker"
LIMIT = 4


def _run(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """``main(argv)``'s returned figures and its printed lines."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        figures = main(argv)
    return figures, printed.getvalue().splitlines()


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A cache folder of this module's own for the module-wide fixtures (set up before each test's own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def shipped_run(module_cache: None) -> tuple[dict[str, Any], list[str]]:
    """The script on the shipped regressor's first test windows, with the card's metrics for the evaluation."""
    stored = load_shipped(TASK).card.to_json()["metrics"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.maps, "evaluate", lambda model, samples: stored)
        return _run(["--task", TASK, "--limit", str(LIMIT)])


@pytest.fixture(scope="module")
def shipped(module_cache: None) -> tuple[Any, Any]:
    """The shipped regressor and its card's samples."""
    loaded = load_shipped(TASK)
    return loaded, load_samples(loaded.spec, loaded.card.data.source)


def _days(samples: Any) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(sample_times(samples))
    return (times.tz_localize(None) if times.tz is not None else times).normalize()


def test_the_last_line_is_the_json_of_every_documented_figure(shipped_run):
    figures, lines = shipped_run
    last = json.loads(lines[-1])
    assert last == json.loads(json.dumps(figures))
    assert set(last) == {*FIGURES, "methods", "limit"}
    assert last["methods"] == list(ALL_METHODS)
    assert last["limit"] == LIMIT
    for name in FIGURES:
        assert set(last[name]) == {TASK}, name
    assert last["windows"][TASK]["explained"] == LIMIT
    assert not any(line.startswith("{") for line in lines[:-1])


def test_blank_shares_equal_a_recount_window_by_window_the_dashboards_way(shipped_run, shipped):
    figures, _ = shipped_run
    loaded, samples = shipped
    windows = samples.indices("test")[:LIMIT]
    assert figures["windows"][TASK]["test"] == len(samples.indices("test"))
    blank = {key: [] for key in ALL_METHODS}
    peaks = {key: [] for key in ALL_METHODS}
    ups = 0
    for index in windows:  # one window at a time, through the Ticker page's own function
        result = explain_window(loaded, samples.ohlc[index])
        ups += result.direction == 1
        for key in ALL_METHODS:
            attribution = result.explanations.maps[key].attribution
            blank[key].append(bool(np.all(attribution == 0)))
            peaks[key].append(float(np.abs(attribution).max()))
    assert figures["windows"][TASK]["explained_up"] == ups
    for key in ALL_METHODS:
        share = figures["blank_map_share"][TASK][key]
        assert 0.0 <= share <= 1.0
        assert share == pytest.approx(np.mean(blank[key]), abs=1e-12), key
        values = np.array(peaks[key])
        near = (values < NEAR_BLANK_RATIO * np.median(values)) | np.array(blank[key])
        assert figures["near_blank_map_share"][TASK][key] == pytest.approx(near.mean(), abs=1e-12), key
        assert figures["near_blank_map_share"][TASK][key] >= share


def test_guided_gradcam_is_blank_wherever_gradcam_is(shipped, rng):
    """Guided Grad-CAM is Guided Backprop times the ReLU-ed Grad-CAM: a blank Grad-CAM blanks it too."""
    loaded, samples = shipped
    test = samples.indices("test")
    windows = np.sort(rng.choice(test, size=6, replace=False))
    found = blank_maps(loaded, samples, windows, batch=4)
    assert np.array_equal(found.indices, windows)
    assert not (found.all_zero["gradcam"] & ~found.all_zero["guided_gradcam"]).any()
    for key in ALL_METHODS:
        assert np.array_equal(found.all_zero[key], found.max_abs[key] == 0), key


def test_gradcam_cells_are_the_layer_outputs_own_shape(shipped_run, shipped):
    figures, _ = shipped_run
    loaded, samples = shipped
    seen: list[tuple[int, ...]] = []
    handle = loaded.model.gradcam_layer.register_forward_hook(lambda module, args, output: seen.append(output.shape))
    try:
        inputs, _ = samples.batch(samples.indices("test")[:1])
        with torch.no_grad():
            loaded.model(*inputs)
    finally:
        handle.remove()
    cells = figures["gradcam_cells"][TASK]
    assert (cells["rows"], cells["columns"]) == tuple(seen[0][-2:])
    assert cells["time_steps_per_column"] == loaded.spec.sequence_length / seen[0][-1]


def test_localisation_runs_on_test_days_only_with_the_pages_verdict(shipped_run, shipped):
    figures, _ = shipped_run
    _loaded, samples = shipped
    located = figures["localisation"][TASK]
    assert located["windows"] == LIMIT
    assert located["split_counts"] == {"train": 0, "validation": 0, "test": LIMIT}
    for entry in (located.get("methods") or {}).values():
        assert entry["beats_all_three"] == all(entry["beats"].values())
        defined = [beaten for beaten in entry["beats"].values() if beaten is not None]
        assert entry["beats_every_defined_chance"] == (bool(defined) and all(defined))
        for chance, beaten in entry["beats"].items():
            band = entry[f"excess_{chance}_ci95"]
            if band is None:
                assert beaten is None  # an undefined chance is neither beaten nor lost to
            else:
                assert beaten == (band[0] is not None and band[0] > 0)
    # the days evaluated hold test samples only, and start at the first day that does
    start, end = _test_days(samples)
    days = _days(samples)
    inside = np.flatnonzero((days >= start) & (days <= end))
    test = samples.indices("test")
    assert set(inside) <= set(test)
    assert days[test[0]] == start or days[test[0]] < start == days[inside[0]]


def test_the_baseline_figures_are_the_metrics_read_back(shipped_run, shipped):
    figures, _ = shipped_run
    loaded, _ = shipped
    stored = loaded.card.to_json()["metrics"]
    compared = figures["baseline"][TASK]
    assert compared["beats_baseline"] == stored["beats_baseline"]
    assert compared["verdict"] == stored["verdict"]
    for key, figure in compared["headline"].items():
        assert figure["model"] == stored["model"][key]


def test_forecast_parts_add_up_to_the_forecast_on_the_planted_windows(shipped):
    from data.demo import planted_patterns
    from workflows.planted import planted_intervals

    loaded, samples = shipped
    test = samples.indices("test")
    parts = forecast_parts(loaded, samples, test)
    ending = test[planted_intervals(samples, max_age=0)[test][:, 0] >= 0]
    assert parts["available"]
    assert parts["windows"] == ending.size == 32
    # the planted direction of each window, and the whole predicted change signed by it
    planted = planted_patterns("ACME")
    signs = dict(zip(planted["pattern_hour"], planted["expected_sign"], strict=True))
    sign = np.array([signs[time] for time in samples.times[ending]], dtype=np.float64)
    (image, closes), _ = samples.batch(ending)
    with torch.no_grad():
        change = loaded.model.predicted_change(image, closes).double().numpy()
    assert parts["total"] == pytest.approx(float(np.mean(sign * change)), rel=1e-5)
    assert parts["autoregression"] + parts["chart"] + parts["sequence"] == pytest.approx(parts["total"], rel=1e-12)
    assert parts["chart_share"] == pytest.approx(parts["chart"] / parts["total"])
    # what the shipped model does (docs/models.md): the chart, not the LSTM, forecasts the breakouts
    assert parts["chart"] > 2 * parts["autoregression"] > 0
    assert abs(parts["sequence"]) < 0.1 * parts["chart"]
    assert parts["chart_share"] > 0.7
    # a window range without a planted pattern, and a classifier, have no parts to show
    quiet = test[planted_intervals(samples, max_age=0)[test][:, 0] < 0][:5]
    assert forecast_parts(loaded, samples, quiet) == {
        "available": False,
        "reason": "no window ends on a planted pattern's bar",
    }
    assert forecast_parts(load_shipped("nifty"), samples, test)["available"] is False


def test_the_baseline_reader_takes_old_and_new_metrics():
    headline = (("rmse_log", "RMSE", "{:.5f}", True),)
    old_regressor = {
        "model": {"rmse_log": 0.9},
        "baseline": {"name": "persistence", "rmse_log": 1.0},
        "rmse_ratio": 0.9,
        "rmse_ratio_ci95": [0.8, 0.95],
        "beats_baseline": True,
        "verdict": "beats persistence",
    }
    read = baseline_comparison(old_regressor, headline)
    assert read["strongest_baseline"] == "baseline"
    assert read["strongest_name"] == "persistence"
    assert read["paired"] == {
        "statistic": "rmse_ratio",
        "value": 0.9,
        "ci95": [0.8, 0.95],
        "p_value": None,
        "model_better": True,
    }
    assert read["headline"]["rmse_log"] == {"label": "RMSE", "model": 0.9, "baseline": 1.0, "lower_is_better": True}

    old_classifier = {"model": {"accuracy": 0.6}, "baseline": {"name": "majority", "accuracy": 0.55}}
    assert baseline_comparison(old_classifier)["paired"] is None

    paired = {"statistic": "McNemar", "value": 3.0, "ci95": [-0.01, 0.04], "p_value": 0.2, "model_better": False}
    new = {
        "model": {"accuracy": 0.6},
        "baselines": [
            {"key": "majority", "name": "majority", "accuracy": 0.55, "paired": {**paired, "model_better": True}},
            {"key": "first_hour", "name": "first hour", "accuracy": 0.62, "paired": paired},
        ],
        "strongest_baseline": "first_hour",
        "baseline": {"key": "first_hour", "name": "first hour", "accuracy": 0.62, "paired": paired},
        "beats_baseline": False,
        "verdict": "does NOT beat the first hour",
    }
    read = baseline_comparison(new, (("accuracy", "Accuracy", "{:.3f}", False),))
    assert [entry["key"] for entry in read["baselines"]] == ["majority", "first_hour"]
    assert read["strongest_baseline"] == "first_hour"
    assert read["paired"] == paired
    assert read["headline"]["accuracy"]["baseline"] == 0.62
    assert read["beats_baseline"] is False


def test_a_checkpoint_on_a_bar_file_has_no_localisation(tmp_path):
    bars = load_source("demo:ACME", "60m").bars.iloc[-700:]
    path = tmp_path / "prices.csv"
    bars.to_csv(path)
    folder = SHIPPED[TASK]
    figures, lines = _run(["--checkpoint", str(folder), "--data", str(path), "--limit", "3"])
    name = Path(folder).name
    samples = load_samples(load_shipped(TASK).spec, str(path))
    assert figures["source"] == {name: str(path)}
    assert figures["windows"][name]["explained"] == 3
    assert figures["windows"][name]["test"] == len(samples.indices("test"))
    located = figures["localisation"][name]
    assert located["available"] is False
    assert "no planted ground truth" in located["reason"]
    assert figures["baseline"][name]["verdict"]  # evaluated for real on the file's test windows
    assert json.loads(lines[-1]) == json.loads(json.dumps(figures))


@pytest.mark.parametrize("argv", [["--limit", "1"], ["--checkpoint", "no-such-folder"], ["--task", "nope"]])
def test_bad_arguments_exit_with_code_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("error:")
