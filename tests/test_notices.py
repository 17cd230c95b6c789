"""What a map cannot show is said next to it: all-zero maps and maps on the empty chart (issue 13)."""

from __future__ import annotations

import copy
import dataclasses
import shutil

import numpy as np
import pytest
import torch

from data import load_source
from data.views import ticker_window_view
from models.checkpoints import WEIGHTS_NAME
from models.registry import SHIPPED, load_shipped
from models.training import CHECKPOINTS_SUBDIR
from tests.apptest_helpers import open_page
from tests.checkpoint_fakes import replace_weights, torch_bytes
from workflows.notices import map_notices
from workflows.window import explain_window
from xai import ALL_METHODS, METHODS

TIMEOUT_S = 240


@pytest.fixture(scope="module")
def ticker():
    return load_shipped("ticker")


@pytest.fixture(scope="module")
def newest_window():
    loaded = load_source("demo:ACME", "60m")
    return ticker_window_view(loaded, -1).bars


def silenced(loaded):
    """The shipped regressor with its chart head at zero: the forecast no longer depends on the image."""
    model = copy.deepcopy(loaded.model)
    with torch.no_grad():
        model.image_head.weight.zero_()
    return dataclasses.replace(loaded, model=model)


def test_a_silenced_chart_gives_every_map_the_all_zero_notice(ticker, newest_window):
    result = explain_window(silenced(ticker), newest_window, direction=1)
    assert all(not np.any(result.explanations.maps[key].attribution) for key in ALL_METHODS)
    notices = map_notices(result, "the forecast's rise")
    assert set(notices) == set(ALL_METHODS)
    assert notices["saliency"] == (
        "All zero: The forecast's rise does not change with any pixel of this chart: the chart does not drive it here."
    )
    assert notices["gradcam"].startswith("All zero: No cell of the Grad-CAM layer speaks for the forecast's rise")


def test_the_shipped_model_has_no_all_zero_notice_on_this_window(ticker, newest_window):
    result = explain_window(ticker, newest_window, direction=1)
    assert not any(text.startswith("All zero") for text in map_notices(result, "the forecast's rise").values())


def _with_map(result, key: str, attribution: np.ndarray):
    maps = dict(result.explanations.maps)
    maps[key] = dataclasses.replace(maps[key], attribution=attribution[None, None].astype(np.float32))
    return dataclasses.replace(result, explanations=dataclasses.replace(result.explanations, maps=maps))


def test_a_map_on_the_blank_background_is_flagged_with_its_shares(ticker, newest_window):
    result = explain_window(ticker, newest_window, direction=1)
    drawn = result.image != 0
    flat = drawn.mean()
    assert 0 < flat < 1
    on_background = _with_map(result, "saliency", (~drawn).astype(np.float64))  # every bit of weight off the bars
    assert map_notices(on_background, "x")["saliency"].startswith(
        f"Mostly on empty chart: 100% of this map's weight is on the blank background (a flat map would put "
        f"{flat:.0%} on the bars; this one puts 0%)"
    )
    uniform = _with_map(result, "saliency", np.ones_like(result.image, dtype=np.float64))  # exactly the flat share
    assert "saliency" not in map_notices(uniform, "x")
    on_bars = _with_map(result, "saliency", drawn.astype(np.float64))
    assert "saliency" not in map_notices(on_bars, "x")


def test_the_ticker_page_shows_the_notice_for_a_silenced_model(isolated_cache, ticker):
    folder = isolated_cache / CHECKPOINTS_SUBDIR / "ticker-20260101-000000-0000dead"
    shutil.copytree(SHIPPED["ticker"], folder)
    state = torch.load(folder / WEIGHTS_NAME, map_location="cpu", weights_only=True)
    state["image_head.weight"] = torch.zeros_like(state["image_head.weight"])
    replace_weights(folder, torch_bytes(state), update_card=True)
    app = open_page("pages/ticker.py", TIMEOUT_S, model=folder.name)
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    warnings = [warning.value for warning in app.warning]
    for key in ALL_METHODS:
        assert any(text.startswith(f"**{METHODS[key].label}** — All zero:") for text in warnings), (key, warnings)
