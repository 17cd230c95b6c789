"""Counterfactual edits in price space (data.edits): known answers, and every refusal's reason."""

from __future__ import annotations

import numpy as np
import pytest

from data.edits import (
    EditError,
    Interpolate,
    Scale,
    WithoutPattern,
    edit_from_text,
    flatten_range,
    interpolate_bars,
    invert_move,
    remove_move,
    scale_move,
)


def bars_from_closes(closes, first_open: float, wick: float = 0.0) -> np.ndarray:
    """Gapless bars: each opens at the previous close; wicks of ``wick`` beyond the body."""
    closes = np.asarray(closes, dtype=np.float64)
    opens = np.concatenate([[first_open], closes[:-1]])
    return np.stack([opens, np.maximum(opens, closes) + wick, np.minimum(opens, closes) - wick, closes], axis=-1)


@pytest.fixture
def window() -> np.ndarray:
    """Ten bars with wicks, a gap at bar 4, a drop over bars 5–7."""
    bars = bars_from_closes([100, 101, 103, 102, 104, 99, 95, 96, 98, 97], 99.0, wick=0.5)
    bars[4, 0] = 103.5  # a gap up into bar 4
    bars[4, 1] = max(bars[4, 1], 104.5)
    return bars


def test_flattening_a_range_that_is_already_a_straight_line_changes_nothing():
    bars = bars_from_closes([10, 11, 12, 13, 14, 15, 16, 15, 17, 18], 9.0)  # 0..6 on a line
    for first, last in ((0, 5), (1, 5), (2, 3), (4, 4)):
        assert np.array_equal(flatten_range(first, last).apply(bars), bars), (first, last)


def test_flattening_puts_the_range_on_the_line_between_the_closes_around_it(window):
    edited = flatten_range(5, 7).apply(window)
    # closes of bars 4 (104) and 8 (98) around the range: a straight line, 1.5 a bar down
    assert np.allclose(edited[5:8, 3], [102.5, 101.0, 99.5])
    assert np.allclose(edited[5:8, 0], [104.0, 102.5, 101.0])  # each opens at the previous close
    assert np.array_equal(edited[5:8, 1], np.maximum(edited[5:8, 0], edited[5:8, 3]))  # no wicks
    assert np.array_equal(edited[5:8, 2], np.minimum(edited[5:8, 0], edited[5:8, 3]))
    kept = np.r_[0:5, 8:10]
    assert np.array_equal(edited[kept], window[kept])  # bit for bit


def test_removed_runs_at_the_ends_are_flat_and_a_fully_removed_window_is_flat_at_its_first_open(window):
    removed = np.zeros((3, 10), dtype=bool)
    removed[0, :2] = True  # start: the line from the first open (before bar 0) to the close of bar 2
    removed[1, 8:] = True  # end: flat at the last kept close
    removed[2, :] = True
    edited = interpolate_bars(window, removed)
    assert np.allclose(edited[0, :2, 3], [99.0 + 4 / 3, 99.0 + 8 / 3])
    assert edited[0, 0, 0] == 99.0
    assert np.allclose(edited[1, 8:, :], 96.0)
    assert np.allclose(edited[2], 99.0)
    assert np.array_equal(edited[0, 2:], window[2:])
    assert np.array_equal(edited[1, :8], window[:8])


def test_interpolation_never_leaves_the_range_of_the_kept_prices():
    generator = np.random.default_rng(3)
    closes = np.exp(np.cumsum(generator.normal(0, 0.05, (64, 30)), axis=1)) * 50
    bars = np.stack([closes, closes * 1.01, closes * 0.99, closes], axis=-1)
    removed = generator.random((64, 30)) < 0.6
    edited = interpolate_bars(bars, removed)
    assert (edited > 0).all()
    assert np.array_equal(edited[~removed], bars[~removed])


def test_removing_a_move_leaves_the_range_flat_and_shifts_later_bars_by_the_move(window):
    edited = remove_move(5, 7).apply(window)
    start, move = window[4, 3], window[7, 3] - window[4, 3]  # 104 → 96: −8
    assert np.array_equal(edited[5:8], np.full((3, 4), start))
    assert np.allclose(edited[8:], window[8:] - move)
    assert edited[7, 3] - start == 0.0  # the range contributes no net change
    assert np.array_equal(edited[:5], window[:5])


def test_inverting_a_move_mirrors_it_and_later_bars_follow(window):
    edited = invert_move(5, 7).apply(window)
    start, move = window[4, 3], window[7, 3] - window[4, 3]
    assert np.allclose(edited[5:8, 3], 2 * start - window[5:8, 3])
    assert np.allclose(edited[5:8, 1], 2 * start - window[5:8, 2])  # the new high is the mirrored low
    assert (edited[:, 1] >= edited[:, 2]).all()
    assert np.allclose(edited[7, 3] - start, -move)
    assert np.allclose(edited[8:], window[8:] - 2 * move)


def test_scaling_a_move_from_the_first_bar_starts_from_the_first_open(window):
    edited = scale_move(0, 2, 2.0).apply(window)
    assert np.allclose(edited[2, 3], 99.0 + 2 * (103.0 - 99.0))
    assert np.allclose(edited[3:], window[3:] + (103.0 - 99.0))


def test_an_edit_that_would_take_a_price_to_zero_is_refused_with_the_price_and_the_bar():
    bars = bars_from_closes([10, 20, 40, 80, 40, 30, 20, 25, 30, 35], 10.0)
    expected = r"take the price to -50 at bar 7: prices must stay above 0\. Pick a smaller factor or a shorter range"
    with pytest.raises(EditError, match=expected):
        remove_move(1, 3).apply(bars)  # removing the climb from 10 to 80 takes 20 to −50
    with pytest.raises(EditError, match="prices must stay above 0"):
        scale_move(4, 6, 3.0).apply(bars)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Interpolate(4, 2), "the range is empty"),
        (lambda: flatten_range(0, 9).apply(np.full((10, 4), 5.0)), "covers the whole window"),
        (lambda: remove_move(0, 9).apply(np.full((10, 4), 5.0)), "covers the whole window"),
        (lambda: flatten_range(8, 12).apply(np.full((10, 4), 5.0)), "outside this window of 10 bars"),
        (lambda: scale_move(1, 2, 11.0), "factor must be between"),
        (lambda: WithoutPattern(3).apply(np.full((10, 4), 5.0)), "needs the demo market"),
    ],
)
def test_ranges_and_factors_that_do_not_fit_are_refused_with_the_reason(make, message):
    with pytest.raises(EditError, match=message):
        make()


def test_a_negative_bar_position_is_a_parameter_error_naming_it():
    with pytest.raises(ValueError, match="first"):
        Interpolate(-1, 3)


@pytest.mark.parametrize(
    "text", ["flatten:41-46", "remove:3-8", "invert:1-2", "scale:3-8:2", "scale:3-8:0.5", "without-pattern:1234"]
)
def test_an_edit_written_for_the_url_reads_back_as_the_same_edit(text):
    edit = edit_from_text(text)
    assert edit.to_text() == text
    assert edit_from_text(edit.to_text()) == edit


def test_remove_and_invert_are_scales_by_0_and_minus_1():
    assert edit_from_text("remove:3-8") == Scale(2, 7, 0.0)
    assert edit_from_text("invert:3-8") == Scale(2, 7, -1.0)
    assert scale_move(2, 7, 0.0).to_text() == "remove:3-8"


@pytest.mark.parametrize("text", ["", "bogus:1-2", "flatten", "flatten:3", "flatten:a-b", "scale:1-2", "flatten:0-3"])
def test_an_unreadable_edit_says_the_form_expected(text):
    with pytest.raises(EditError, match=r"KIND:FIRST-LAST|before bar 1"):
        edit_from_text(text)
