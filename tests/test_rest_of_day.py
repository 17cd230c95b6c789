"""The rest-of-day task: its label, its baselines, and what the first-hour rule says about each label."""

from __future__ import annotations

import numpy as np
import pytest

from data.windows import make_nifty_days
from models.architectures import ModelSpec
from models.datasets import load_samples
from models.tasks import RestOfDayTask, UpDayTask, task_named


@pytest.fixture(scope="module")
def both():
    up_day = load_samples(ModelSpec.default("nifty"), "demo:NIFTY-DEMO")
    rest = load_samples(ModelSpec.default("nifty-rest"), "demo:NIFTY-DEMO")
    return up_day, rest


def test_the_rest_of_day_label_is_the_close_against_the_first_hours_close(both):
    up_day, rest = both
    days = make_nifty_days(rest.loaded.bars)
    expected = (days.last_close > days.first_hour_close[:, -1]).astype(np.int64)
    np.testing.assert_array_equal(rest.targets, expected)
    np.testing.assert_array_equal(up_day.targets, days.label)
    # the same days, images and split; a different question on about a fifth of them
    np.testing.assert_array_equal(rest.ohlc, up_day.ohlc)
    assert rest.split.sizes() == up_day.split.sizes()
    assert 0.1 < np.mean(rest.targets != up_day.targets) < 0.4
    assert isinstance(task_named("nifty-rest"), RestOfDayTask)
    assert isinstance(task_named("nifty-rest"), UpDayTask)


def test_the_first_hour_rule_answers_the_papers_label_far_better_than_the_rest_of_day(both):
    """The reason for the second label: the first hour's direction is part of the paper's label."""
    accuracy = {}
    for samples in both:
        test = samples.indices("test")
        rule = next(b for b in samples.task.fit_baselines(samples) if b.key == "first_hour_rule")
        accuracy[samples.task.name] = np.mean((rule.predict(samples.ohlc[test]) > 0.5) == samples.targets[test])
    assert accuracy["nifty"] == pytest.approx(0.6058, abs=1e-4)  # 126 of 208 test days
    assert accuracy["nifty-rest"] < accuracy["nifty"] - 0.05
