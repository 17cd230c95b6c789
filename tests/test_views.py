"""Page views: the right bars, the model's images, the known outcome, the planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.bars import LoadedBars
from data.demo import DEMO_INDEX, demo_bars, planted_patterns
from data.errors import DataError
from data.images import CandlestickEncoder, GADFEncoder
from data.images.display import gadf_figure
from data.settings import SYNTHETIC_LABEL
from data.views import count_ticker_windows, nifty_day_view, ticker_window_view
from data.windows import make_nifty_days, make_ticker_windows


def hourly_source(closes: list[float]) -> LoadedBars:
    index = pd.date_range("2024-01-02 09:30", periods=len(closes), freq="h", name="timestamp")
    close = np.asarray(closes, dtype=float)
    bars = pd.DataFrame(
        {"open": close - 0.5, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}, index=index
    )
    return LoadedBars(bars=bars, source="test", layout="generic-csv", interval="60m")


def test_ticker_view_holds_the_window_its_images_and_outcome():
    loaded = hourly_source([10, 12, 11, 15, 14, 13])
    assert count_ticker_windows(loaded, window=4) == 3
    view = ticker_window_view(loaded, 1, window=4, image_size=16)
    pd.testing.assert_frame_equal(view.bars, loaded.bars.iloc[1:5, :4])
    ohlc = loaded.bars.iloc[1:5, :4].to_numpy()[None]
    np.testing.assert_array_equal(view.candlestick, CandlestickEncoder(16).transform(ohlc)[0, 0])
    np.testing.assert_array_equal(view.gadf, GADFEncoder().transform(ohlc[:, :, 3])[0, 0])
    assert view.candlestick_rgb.shape == (16, 16, 3)
    assert view.outcome == {"last_close": 14.0, "target_close": 13.0, "pct_change": pytest.approx(-100 / 14)}
    assert view.planted.empty
    assert not view.flat


def test_newest_ticker_view_has_no_known_outcome():
    view = ticker_window_view(hourly_source([10, 12, 11, 15, 14, 13]), -1, window=4, image_size=16)
    assert view.bars.index[-1] == pd.Timestamp("2024-01-02 14:30")
    assert np.isnan(view.outcome["target_close"])


def test_constant_window_is_flagged():
    view = ticker_window_view(hourly_source([10.0] * 5), 0, window=4, image_size=16)
    assert view.flat
    assert not view.gadf.any()


@pytest.mark.parametrize("position", [3, -4])
def test_out_of_range_positions_are_refused(position):
    with pytest.raises(DataError, match=r"position must be in \[0, 2\], got"):
        ticker_window_view(hourly_source([10, 12, 11, 15, 14, 13]), position, window=4)


def test_demo_ticker_view_reports_the_planted_breakout_in_its_last_bar():
    loaded = demo_bars("ACME", "60m")
    pattern = planted_patterns("ACME").iloc[0]
    end = loaded.bars.index.get_loc(pattern["pattern_hour"])
    view = ticker_window_view(loaded, end - 49)
    assert view.bars.index[-1] == pattern["pattern_hour"]
    assert list(view.planted["kind"]) == [pattern["kind"]]
    windows = make_ticker_windows(loaded.bars, include_latest=True)
    assert view.outcome["pct_change"] == windows.pct_change[end - 49]
    assert np.sign(view.outcome["pct_change"]) == pattern["expected_sign"]


def test_demo_day_view_is_the_first_hour_with_its_label_and_pattern():
    loaded = demo_bars(DEMO_INDEX, "1m")
    days = make_nifty_days(loaded.bars)
    pattern = planted_patterns(DEMO_INDEX).iloc[0]
    position = list(days.day).index(pattern["day"])
    view = nifty_day_view(loaded, days, position, image_size=64)
    assert view.bars.index[0] == pattern["day"] + pd.Timedelta(hours=9, minutes=15)
    assert view.bars.index[-1] == pattern["day"] + pd.Timedelta(hours=10, minutes=14)
    pd.testing.assert_frame_equal(view.bars, loaded.bars.loc[view.bars.index, ["open", "high", "low", "close"]])
    assert view.outcome["label"] == days.label[position]
    assert list(view.planted["kind"]) == [pattern["kind"]]
    assert view.gadf.shape == (60, 60)


def test_gadf_figure_uses_a_fixed_signed_scale_and_labels_synthetic_data():
    figure = gadf_figure(np.zeros((3, 3)), times=["09:15", "09:16", "09:17"], title="GADF", synthetic=True)
    heatmap = figure.data[0]
    assert (heatmap.zmin, heatmap.zmax) == (-1, 1)
    assert list(figure.layout.xaxis.ticktext) == ["09:15", "09:16", "09:17"]
    assert SYNTHETIC_LABEL in figure.layout.title.text


def test_gadf_figure_keeps_every_cell_when_times_of_day_repeat():
    # 50 hourly bars: "15:30" appears on every day; categorical axes would merge those cells
    times = [f"{t:%H:%M}" for t in pd.date_range("2024-01-02 09:30", periods=50, freq="h")]
    figure = gadf_figure(np.eye(50), times=times)
    heatmap = figure.data[0]
    assert heatmap.x is None
    assert heatmap.y is None
    assert np.asarray(heatmap.z).shape == (50, 50)
    assert heatmap.text[0][49] == f"i {times[0]} · j {times[49]}"
    with pytest.raises(ValueError, match=r"times must have one label per GADF row \(50\), got 3"):
        gadf_figure(np.eye(50), times=["a", "b", "c"])


def test_ticker_view_outcomes_equal_the_whole_historys_windows():
    """The view cuts only its own window and next bar; every outcome is the whole history's, newest included."""
    rng = np.random.default_rng(5)
    loaded = hourly_source(list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 120)))))
    whole = make_ticker_windows(loaded.bars, 50, include_latest=True)
    assert count_ticker_windows(loaded) == len(whole.last_close) == 71
    for position in (0, 1, 37, 69, 70, -1, -71):
        view = ticker_window_view(loaded, position)
        assert view.outcome["last_close"] == whole.last_close[position]
        np.testing.assert_array_equal(view.outcome["target_close"], whole.target_close[position])
        np.testing.assert_array_equal(view.outcome["pct_change"], whole.pct_change[position])
    assert np.isnan(ticker_window_view(loaded, -1).outcome["target_close"])  # the newest: not known yet
    with pytest.raises(DataError, match=r"position must be in \[0, 70\], got 71"):
        ticker_window_view(loaded, 71)
