"""The Evaluate page through AppTest: it waits for Run, shows every view with the engine's own
numbers, labels demo data as synthetic, and turns a bad range into a message, not a stack trace."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from data.settings import SYNTHETIC_LABEL
from models.datasets import load_samples
from models.registry import load_shipped
from tests.conftest import REPO_ROOT
from workflows.planted import planted_intervals, sample_times
from workflows.range_evaluation import available_range
from workflows.reliance import pattern_reliance
from xai import METHODS, captum_ready, equalise_gadf, explain, gadf_time_importance
from xai.aggregate import peak_summary
from xai.localisation import localisation

TIMEOUT_S = 300  # the first run imports torch and Captum and loads the model; a run explains 12 days
PAGE = str(REPO_ROOT / "pages" / "evaluate.py")
START, END = dt.date(2024, 12, 12), dt.date(2024, 12, 27)  # 12 test days, some with a planted pattern
KEYS = ("saliency", "guided_backprop")
CHARTS = ("bands_chart", "sanity_chart", "faithfulness_chart", "agreement_chart")
TABLES = ("peak", "sanity", "faithfulness", "localisation")


def no_errors(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def element(items, key: str):
    return next(item for item in items if key in item.proto.id)


def run_page(app: AppTest, start: dt.date, end: dt.date) -> AppTest:
    app.date_input(key="evaluate_range_nifty").set_value((start, end))
    app.multiselect(key="evaluate_methods").set_value([METHODS[key].label for key in KEYS])
    app.slider(key="evaluate_faithful").set_value(4)
    app.run()
    return app.button(key="evaluate_run").click().run()


@pytest.fixture(scope="module")
def engine():
    """What the engine itself says about the same 12 days."""
    loaded = load_shipped("nifty")
    captum_ready(loaded.model)
    samples = load_samples(loaded.spec, loaded.card.data.source)
    days = sample_times(samples).normalize()
    rows = np.flatnonzero((days >= str(START)) & (days <= str(END)))
    (images, closes), _ = samples.batch(rows)
    maps = explain(loaded.model, images, methods=list(KEYS), additional_forward_args=closes).maps
    with torch.no_grad():
        predicted_up = loaded.model(images, closes).argmax(dim=1).numpy() == 1
    reliance = pattern_reliance(loaded, samples, rows)
    relied = np.ones(len(rows), dtype=bool)
    relied[reliance.rows] = reliance.relied  # samples without a pattern stay (the habit's reference)
    return {
        "span": available_range(samples),
        "predicted_up": predicted_up,
        "intervals": planted_intervals(samples)[rows],
        "relied": relied,
        "relied_sentence": f"{int(reliance.relied.sum())} of {len(reliance.rows)}",
        "per_time": {key: equalise_gadf(gadf_time_importance(np.abs(maps[key].attribution), 60)) for key in KEYS},
    }


@pytest.fixture(scope="module")
def ran() -> AppTest:
    return run_page(AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run(), START, END)


def test_the_page_waits_for_run_and_names_the_demo_data_synthetic(engine):
    app = AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run()
    no_errors(app)
    infos = [info.value for info in app.info]
    assert SYNTHETIC_LABEL in infos
    assert any("press Run" in text for text in infos)
    assert not app.get("plotly_chart")
    span = engine["span"]
    picker = app.date_input(key="evaluate_range_nifty")
    assert picker.value == (span.recent_start, span.last)
    assert (picker.min, picker.max) == (span.first, span.last)


def test_run_shows_every_view_with_the_engines_numbers(ran, engine):
    no_errors(ran)
    charts = ran.get("plotly_chart")
    assert len(charts) == 4
    for key in CHARTS:
        spec = json.loads(element(charts, key).proto.spec)
        assert SYNTHETIC_LABEL in [note.get("text") for note in spec["layout"]["annotations"]], key
    assert len(ran.dataframe) == 4
    tables = {key: table.value for key, table in zip(TABLES, ran.dataframe, strict=True)}  # in page order
    labels = [METHODS[key].label for key in KEYS]
    for table in tables.values():
        assert list(table.index) == labels

    up = engine["predicted_up"]
    metrics = {metric.label: metric.value for metric in ran.metric}
    assert metrics["Predicted up"] == str(up.sum())
    assert metrics["Predicted down"] == str((~up).sum())
    assert ran.subheader[0].value == f"{len(up)} samples, {START} – {END}"

    intervals = engine["intervals"]
    for key, label in zip(KEYS, labels, strict=True):
        profile = engine["per_time"][key]
        summary = peak_summary(profile)
        assert tables["peak"].loc[label, "middle-third share"] == pytest.approx(summary.middle_share, rel=1e-6)
        peak = dt.datetime(2024, 12, 12, 9, 15) + dt.timedelta(minutes=summary.peak)  # the first hour starts 09:15
        assert tables["peak"].loc[label, "peak"] == f"{peak:%H:%M}"
        relied = engine["relied"]
        direct = localisation(profile[relied], intervals[relied])
        row = tables["localisation"].loc[label]
        assert row["samples with a pattern"] == direct.n
        assert row["relied on (of those with a pattern)"] == engine["relied_sentence"]
        assert row["share, all pattern samples"] == pytest.approx(localisation(profile, intervals).mean_share)
        assert row["share"] == pytest.approx(direct.mean_share, rel=1e-6)
        assert row["hit rate"] == pytest.approx(direct.hit_rate)
        assert row["chance: flat map"] == pytest.approx(direct.mean_chance_share)
    assert list(tables["sanity"].columns[:2]) == ["fc", "+ extract"]
    warnings = [warning.value for warning in ran.warning]
    assert any(text.startswith("Guided Backprop barely changes") for text in warnings), warnings


def test_changed_settings_keep_the_last_run_and_say_so(ran):
    ran.multiselect(key="evaluate_methods").set_value([METHODS["gradcam"].label]).run()
    no_errors(ran)
    assert any("settings changed since the last run" in info.value for info in ran.info)
    assert len(ran.get("plotly_chart")) == 4


def test_a_range_without_samples_shows_an_error_not_an_exception():
    app = run_page(AppTest.from_file(PAGE, default_timeout=TIMEOUT_S).run(), dt.date(2024, 3, 16), dt.date(2024, 3, 17))
    assert not app.exception, [e.value for e in app.exception]
    assert [error.value for error in app.error] == [
        "no samples between 2024-03-16 and 2024-03-17: pick a range within 2021-01-04–2024-12-31"
    ]
    assert not app.get("plotly_chart")
