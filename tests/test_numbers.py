"""Price cells as numbers: plain, decimal commas, thousands separators — decided per column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.numbers import NOTE_DECIMAL_COMMA, NOTE_THOUSANDS, parse_prices


@pytest.mark.parametrize(
    ("cells", "delimiter", "expected", "note"),
    [
        (["101.5", "99", ""], ",", [101.5, 99.0, np.nan], None),
        (["101,25", "99", "1.234,5"], ";", [101.25, 99.0, 1234.5], NOTE_DECIMAL_COMMA),
        (["1,234.50", "999.5", "12,000"], ",", [1234.5, 999.5, 12000.0], NOTE_THOUSANDS),
        (["1,234", "2,5"], ";", [1.234, 2.5], NOTE_DECIMAL_COMMA),  # a decimal comma wins after semicolons
        (["1,234", "2,000"], ",", [1234.0, 2000.0], NOTE_THOUSANDS),  # a thousands separator after commas
        (["100.5", "101,25"], ";", [100.5, np.nan], None),  # a column that mixes both is not guessed at
        (["n/a", "101,5"], ";", [np.nan, 101.5], NOTE_DECIMAL_COMMA),  # text stays unread, counted later
        (["abc", "1e3"], ",", [np.nan, 1000.0], None),
    ],
)
def test_conventions_are_chosen_per_column(cells, delimiter, expected, note):
    numbers, said = parse_prices(pd.Series(cells, dtype=object), delimiter)
    np.testing.assert_array_equal(numbers.to_numpy(), np.array(expected))
    assert numbers.dtype == np.float64
    assert said == note


def test_numeric_columns_pass_through():
    numbers, said = parse_prices(pd.Series([1, 2, 3]))
    assert numbers.tolist() == [1.0, 2.0, 3.0]
    assert said is None
