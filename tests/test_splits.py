"""Which of a model's splits a window stands in (workflows.splits), with known answers from the shipped ticker."""

from __future__ import annotations

import pandas as pd
import pytest

from models.datasets import load_samples
from models.registry import load_shipped
from workflows.splits import split_mark, split_spans


@pytest.fixture(scope="module")
def ticker():
    loaded = load_shipped("ticker")
    samples = load_samples(loaded.spec, loaded.card.data.source)
    return loaded, samples, split_spans(samples)


def test_the_spans_are_the_samples_splits_in_order(ticker):
    loaded, samples, spans = ticker
    assert [span.part for span in spans] == ["train", "validation", "test"]
    assert [span.samples for span in spans] == [loaded.card.split.train, loaded.card.split.validation, 674]
    for span in spans:
        rows = samples.indices(span.part)
        assert (span.first, span.last) == (samples.times[rows][0], samples.times[rows][-1])
    assert spans[0].last < spans[1].first < spans[1].last < spans[2].first


def test_each_split_says_where_a_window_stands_and_warns_outside_the_test_split(ticker):
    loaded, samples, spans = ticker
    card, source = loaded.card, loaded.card.data.source
    train, validation, test = (samples.times[samples.indices(part)][5] for part in ("train", "validation", "test"))
    marks = {name: split_mark(time, source, card, spans, "window") for name, time in
             (("train", train), ("validation", validation), ("test", test))}  # fmt: skip
    assert {name: (mark.part, mark.warn) for name, mark in marks.items()} == {
        "train": ("train", True),
        "validation": ("validation", True),
        "test": ("test", False),
    }
    assert marks["test"].words == "This window is in the model's test split: the model never saw it in training."
    assert marks["train"].words.startswith("This window is in the model's training split: it learnt from its outcome")


def test_the_purged_gap_the_newest_window_and_other_data(ticker):
    loaded, _samples, spans = ticker
    card, source = loaded.card, loaded.card.data.source
    gap = spans[0].last + (spans[1].first - spans[0].last) / 2  # between training and validation
    assert split_mark(gap, source, card, spans, "window").part == "purged"
    newest = split_mark(spans[-1].last + pd.Timedelta(hours=1), source, card, spans, "window")
    assert (newest.part, newest.warn) == ("newer", False)
    assert "newer than the model's test split" in newest.words
    older = split_mark(spans[0].first - pd.Timedelta(days=1), source, card, spans, "window")
    assert older.part == "older"
    # a pooled source: its windows up to ACME's last training window were trained on
    pooled = card.data.pooled[0]
    inside = pd.Timestamp(pooled["first"]) + (pd.Timestamp(pooled["last"]) - pd.Timestamp(pooled["first"])) / 2
    mark = split_mark(inside, pooled["source"], card, None, "window")
    assert (mark.part, mark.warn) == ("pooled", True)
    later = split_mark(pd.Timestamp(pooled["last"]) + pd.Timedelta(days=30), pooled["source"], card, None, "window")
    assert (later.part, later.warn) == ("unseen", False)
    assert split_mark(inside, "AAPL", card, None, "day").words == (
        "The model was not trained on this data: this day is new to it."
    )


def test_time_zones_compare(ticker):
    loaded, samples, spans = ticker
    card, source = loaded.card, loaded.card.data.source
    test = samples.times[samples.indices("test")][3]
    aware = pd.Timestamp(test).tz_localize("UTC")  # a page's time with a zone, the spans without
    assert split_mark(aware, source, card, spans, "window").part == "test"
