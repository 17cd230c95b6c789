"""workflows.range_evaluation on the shipped NIFTY classifier: the right samples, the model's own split,
the engine's own figures, a rising progress bar, and errors that say what to do."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from data.demo import DEMO_INDEX, demo_bars
from data.settings import SYNTHETIC_LABEL
from models.datasets import load_samples
from models.registry import load_shipped
from workflows.planted import planted_intervals, sample_times
from workflows.range_evaluation import (
    available_range,
    evaluate_range,
)
from workflows.range_figures import agreement_figure, bands_figure, faithfulness_figure, sanity_figure
from workflows.reliance import pattern_reliance
from xai import ALL_METHODS, METHODS, captum_ready, equalise_gadf, explain, gadf_time_importance
from xai.aggregate import peak_summary
from xai.localisation import interval_specificity, localisation
from xai.time_projection import normalise

SOURCE = f"demo:{DEMO_INDEX}"
START, END = pd.Timestamp("2024-12-12"), pd.Timestamp("2024-12-27")  # 12 test days


@pytest.fixture(scope="module")
def nifty():
    loaded = load_shipped("nifty")
    captum_ready(loaded.model)
    return loaded, load_samples(loaded.spec, SOURCE)


@pytest.fixture(scope="module")
def evaluated(nifty):
    loaded, samples = nifty
    calls: list[tuple[float, str]] = []
    result = evaluate_range(
        loaded,
        SOURCE,
        START.date(),
        END.date(),
        samples=samples,
        faithfulness_inputs=4,
        sanity_inputs=2,
        progress=lambda fraction, message: calls.append((fraction, message)),
    )
    return result, calls


def _label(key: str) -> str:
    return METHODS[key].label


def in_range(samples) -> np.ndarray:
    days = sample_times(samples).normalize()
    return np.flatnonzero((days >= START) & (days <= END))


def test_the_samples_are_exactly_those_whose_day_lies_in_the_range(nifty, evaluated):
    _, samples = nifty
    result, _ = evaluated
    expected = in_range(samples)
    assert len(expected) == 12
    np.testing.assert_array_equal(result.indices, expected)
    assert result.times.equals(sample_times(samples)[expected])
    assert result.n_in_range == 12
    assert result.sampling_note == "all 12 samples in the range were explained"
    assert result.split_counts == {"train": 0, "validation": 0, "test": 12}
    assert result.step_labels[0] == "09:15"
    assert result.step_labels[-1] == "10:14"


def test_up_and_down_follow_the_models_own_predictions(nifty, evaluated):
    loaded, samples = nifty
    result, _ = evaluated
    (images, closes), labels = samples.batch(result.indices)
    with torch.no_grad():
        predicted = loaded.model(images, closes).argmax(dim=1).numpy()
    np.testing.assert_array_equal(result.predicted_up, predicted == 1)
    np.testing.assert_array_equal(result.actual_up, labels.numpy() == 1)
    assert 0 < result.predicted_up.sum() < len(result.indices)  # both groups present in this range

    # the profiles are the engine's projection of the engine's maps
    maps = (
        explain(loaded.model, images, methods=["saliency"], additional_forward_args=closes).maps["saliency"].attribution
    )
    profile = equalise_gadf(gadf_time_importance(np.abs(maps), 60))
    np.testing.assert_allclose(result.per_time["saliency"], profile, rtol=1e-6, atol=1e-12)
    for key in ALL_METHODS:
        bands = result.bands[key]
        up = result.predicted_up
        assert (bands["up"].n, bands["down"].n) == (up.sum(), (~up).sum())
        scaled = normalise(result.per_time[key], "absolute")
        np.testing.assert_allclose(bands["up"].mean, scaled[up].mean(axis=0))
        np.testing.assert_allclose(bands["down"].mean, scaled[~up].mean(axis=0))
        assert result.peaks[key].peak == peak_summary(result.per_time[key]).peak


def test_localisation_equals_the_engines_own_scores_on_the_samples_whose_pattern_the_model_relies_on(nifty, evaluated):
    loaded, samples = nifty
    result, _ = evaluated
    intervals = planted_intervals(samples)[result.indices]
    assert result.localisation is not None
    assert result.localisation_reason == ""
    n_pattern = int((intervals[:, 0] >= 0).sum())
    assert 0 < n_pattern < len(intervals)
    reliance = result.localisation.reliance
    np.testing.assert_array_equal(reliance.rows, np.flatnonzero(intervals[:, 0] >= 0))
    expected = pattern_reliance(loaded, samples, result.indices)
    np.testing.assert_array_equal(reliance.relied, expected.relied)
    np.testing.assert_array_equal(reliance.relied, np.abs(reliance.shift) > 0.05)
    keep = intervals[:, 0] < 0
    keep[reliance.rows[reliance.relied]] = True
    assert 0 < reliance.relied.sum() < n_pattern  # some patterns are ignored, so the filter matters here
    np.testing.assert_array_equal(result.localisation.intervals, intervals[keep])
    assert result.localisation.n == int(reliance.relied.sum())
    table = result.localisation_table
    for key in ALL_METHODS:
        profile = result.per_time[key][keep]
        direct = localisation(profile, intervals[keep])
        habit = localisation(profile, intervals[keep], reference=profile[intervals[keep][:, 0] < 0])
        other = interval_specificity(profile, intervals[keep])
        np.testing.assert_array_equal(result.localisation.uniform[key].share, direct.share)
        np.testing.assert_array_equal(result.localisation.uniform[key].hit, direct.hit)
        row = table.loc[_label(key)]
        assert row["samples with a pattern"] == int(reliance.relied.sum())
        assert row["relied on (of those with a pattern)"] == f"{int(reliance.relied.sum())} of {n_pattern}"
        assert row["share, all pattern samples"] == pytest.approx(
            localisation(result.per_time[key], intervals).mean_share
        )
        assert row["share"] == pytest.approx(direct.mean_share)
        assert row["chance: flat map"] == pytest.approx(direct.mean_chance_share)
        assert row["hit rate"] == pytest.approx(direct.hit_rate)
        assert row["chance hit rate"] == pytest.approx(direct.chance_hit_rate)
        assert row["chance: habit"] == pytest.approx(habit.mean_chance_share)
        assert row["chance: other days"] == pytest.approx(other.mean_chance_share)


def test_faithfulness_curves_start_at_the_predicted_class_probability(nifty, evaluated):
    loaded, samples = nifty
    result, _ = evaluated
    summary = result.faithfulness
    assert len(summary.indices) == 4
    (images, closes), _ = samples.batch(result.indices[summary.indices])
    with torch.no_grad():
        probability = torch.softmax(loaded.model(images, closes), dim=1).max(dim=1).values.double().numpy()
    np.testing.assert_allclose(summary.fractions, np.linspace(0, 1, 11), atol=0.5 / 64**2)  # whole pixels
    for key in ALL_METHODS:
        # nothing removed: the original score; everything restored: the original again
        assert summary.deletion[key][0] == pytest.approx(probability.mean(), abs=1e-6)
        assert summary.insertion[key][-1] == pytest.approx(probability.mean(), abs=1e-6)
        row = result.faithfulness_table.loc[_label(key)]
        assert row["deletion AUC ↓"] == pytest.approx(summary.deletion_auc[key].mean())
        assert row["random deletion"] == pytest.approx(summary.random_deletion_auc.mean())
    assert summary.random_deletion[0] == pytest.approx(probability.mean(), abs=1e-6)
    assert summary.random_insertion[0] == pytest.approx(summary.insertion["saliency"][0])


def test_sanity_table_is_the_randomisation_result(evaluated):
    result, _ = evaluated
    sanity = result.sanity.result
    assert sanity.layers == ("fc", "extract", "layer4", "layer3", "layer2", "layer1", "bn1", "conv1")
    assert list(result.sanity_table.columns[:8]) == [
        "fc",
        "+ extract",
        "+ layer4",
        "+ layer3",
        "+ layer2",
        "+ layer1",
        "+ bn1",
        "+ conv1",
    ]
    for key in ALL_METHODS:
        row = result.sanity_table.loc[_label(key)]
        np.testing.assert_allclose(row.iloc[:8].to_numpy(dtype=float), sanity.correlation[key])
        assert row["barely changes"] == sanity.barely_changes[key]
    assert "guided_backprop" in result.barely_changes  # the known finding (README), on these days too


def test_progress_rises_from_zero_to_one(evaluated):
    _, calls = evaluated
    fractions = [fraction for fraction, _ in calls]
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert all(later >= earlier for earlier, later in itertools.pairwise(fractions))
    assert len(calls) >= 8
    assert all(isinstance(message, str) and message for _, message in calls)


def test_every_figure_of_demo_data_carries_the_synthetic_label(evaluated):
    result, _ = evaluated
    for build in (bands_figure, sanity_figure, faithfulness_figure, agreement_figure):
        texts = [note.text for note in build(result).layout.annotations]
        assert SYNTHETIC_LABEL in texts, build.__name__


def test_an_empty_range_says_which_range_has_samples(nifty):
    loaded, samples = nifty
    span = available_range(samples)
    assert (span.first.isoformat(), span.last.isoformat(), span.samples) == ("2021-01-04", "2024-12-31", 1042)
    with pytest.raises(
        ValueError, match="no samples between 2024-03-16 and 2024-03-17: pick a range within 2021-01-04–2024-12-31"
    ):
        evaluate_range(loaded, SOURCE, "2024-03-16", "2024-03-17", samples=samples)  # a weekend


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (
            {"start": "2024-12-20", "end": "2024-12-10"},
            ValueError,
            "end must be on or after start, got start 2024-12-20",
        ),
        ({"start": 20241210}, TypeError, "start must be a date"),
        ({"start": "yesterday-ish"}, ValueError, "start must be a date like '2024-03-15', got 'yesterday-ish'"),
        ({"methods": []}, ValueError, "methods must be a non-empty list of distinct keys"),
        ({"methods": ["gradcam", "lime"]}, ValueError, r"methods must be .*got \['gradcam', 'lime'\]"),
        ({"methods": "gradcam"}, TypeError, "methods must be a list of method keys"),
        ({"max_samples": 1}, ValueError, "max_samples must be >= 2, got 1"),
        ({"direction": 0}, ValueError, r"direction must be \+1 \(pushes the forecast up\) or -1 \(down\), got 0"),
        ({"steps": 1}, ValueError, "steps must be >= 2, got 1"),
    ],
)
def test_bad_parameters_are_named_with_the_rule_and_the_value(nifty, changes, error, message):
    loaded, samples = nifty
    arguments = {"start": "2024-12-10", "end": "2024-12-20", "samples": samples, **changes}
    with pytest.raises(error, match=message):
        evaluate_range(loaded, SOURCE, arguments.pop("start"), arguments.pop("end"), **arguments)


def test_a_file_source_is_thinned_evenly_and_has_no_localisation(nifty, tmp_path):
    loaded, _ = nifty
    path = tmp_path / "nifty_minutes.csv"
    demo_bars(DEMO_INDEX, "1m").bars.loc["2024-11-01":].reset_index().to_csv(path, index=False)
    calls: list[float] = []
    result = evaluate_range(
        loaded,
        str(path),
        "2024-12-02",
        "2024-12-13",  # 10 trading days
        methods=["saliency"],
        max_samples=4,
        faithfulness_inputs=2,
        sanity_inputs=1,
        progress=lambda fraction, _: calls.append(fraction),
    )
    assert result.n_in_range == 10
    assert len(result.indices) == 4
    days = result.times.strftime("%Y-%m-%d").tolist()
    assert days == ["2024-12-02", "2024-12-05", "2024-12-10", "2024-12-13"]  # evenly spaced, ends kept
    assert result.sampling_note == (
        "10 samples in the range; 4 evenly spaced ones were explained (at most 4, the first and last included)"
    )
    assert result.localisation is None
    assert result.localisation_table.empty
    assert result.localisation_reason.startswith(
        "Localisation needs ground truth: the patterns planted in the demo market"
    )
    assert "upload:" not in result.localisation_reason
    assert "got source" not in result.localisation_reason
    assert not result.synthetic
    assert SYNTHETIC_LABEL not in [note.text for note in bands_figure(result).layout.annotations]
    assert calls[-1] == 1.0


def test_the_regressor_splits_by_the_sign_of_its_predicted_change_and_scores_breakout_bars():
    loaded = load_shipped("ticker")
    captum_ready(loaded.model)
    samples = load_samples(loaded.spec, loaded.card.data.source)
    result = evaluate_range(
        loaded,
        loaded.card.data.source,
        "2024-12-09",
        "2024-12-11",  # three days with a breakout at 09:30 each
        methods=["saliency"],
        faithfulness_inputs=2,
        sanity_inputs=1,
        direction=-1,
        samples=samples,
    )
    assert len(result.indices) == result.n_in_range == 21  # 7 windows end on each trading day
    (images, closes), targets = samples.batch(result.indices)
    with torch.no_grad():
        change = loaded.model.predicted_change(images, closes).numpy()
    np.testing.assert_array_equal(result.predicted_up, change > 0)
    np.testing.assert_array_equal(result.actual_up, targets.numpy() > samples.last_log10[result.indices])
    assert (result.unit, result.step_labels[0], result.step_labels[-1]) == ("bar", "bar 1", "bar 50 (last)")
    assert result.faithfulness.score == "predicted change explained (down), thousandths of log10"
    intervals = planted_intervals(samples, max_age=0)[result.indices]  # windows that end on the breakout bar
    np.testing.assert_array_equal(intervals[intervals[:, 0] >= 0], [[49, 50]] * 3)
    relied = result.localisation.reliance.relied
    assert len(relied) == 3
    assert result.localisation.n == int(relied.sum()) > 0
    keep = intervals[:, 0] < 0
    keep[result.localisation.reliance.rows[relied]] = True
    np.testing.assert_array_equal(result.localisation.intervals, intervals[keep])
    direct = localisation(result.per_time["saliency"][keep], intervals[keep])
    assert result.localisation_table.loc["Vanilla gradient (saliency)", "share"] == pytest.approx(direct.mean_share)
