"""No process-wide state on a shared server: random draws, torch switches, threads, warnings.

Every Streamlit session of a server shares one Python process. These tests check it the way it
fails: another thread drawing from torch's global generator while a seeded computation runs, a
training run's deterministic-algorithms switch, and what importing the packages changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from torch import nn

from models.architectures import ModelSpec, build_model
from models.random_draws import deterministic_algorithms, drawing_from, seeded_generator
from tests.conftest import REPO_ROOT
from xai.sanity import model_randomisation


class TinyConvNet(nn.Module):
    """conv → ReLU → linear: three layer groups for the randomisation cascade."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 8 * 8, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(image)).flatten(1))


class GlobalDraws:
    """A thread that draws from torch's global generator until stopped; counts its draws."""

    def __init__(self) -> None:
        self.draws = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            torch.rand(64)
            torch.nn.init.kaiming_uniform_(torch.empty(8, 8))  # what a layer's reset draws
            self.draws += 1

    def __enter__(self) -> GlobalDraws:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _same_state(first: nn.Module, second: nn.Module) -> bool:
    return all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def test_drawing_from_a_seeded_generator_equals_a_global_seed_without_moving_it():
    spec = ModelSpec.default("ticker", image_size=64, width=8, extract_channels=8, lstm_hidden=16, head_hidden=16)
    torch.manual_seed(11)
    expected = build_model(spec)
    global_state = torch.get_rng_state()
    with drawing_from(seeded_generator(11)):
        built = build_model(spec)
    assert _same_state(built, expected)  # conv, BatchNorm, LSTM, linear: the same draws in the same order
    assert torch.equal(torch.get_rng_state(), global_state)  # the global generator did not move


def test_drawing_from_leaves_other_threads_on_the_global_generator():
    spec = ModelSpec.default("nifty")
    torch.manual_seed(3)
    lone = build_model(spec)
    with GlobalDraws() as other, drawing_from(seeded_generator(3)):
        built = build_model(spec)
    assert other.draws > 0
    assert _same_state(built, lone)


def test_a_draw_that_cannot_take_a_generator_is_refused_inside_the_block():
    with drawing_from(seeded_generator(0)), pytest.raises(RuntimeError, match=r"dropout draws from torch's global"):
        nn.functional.dropout(torch.ones(4), p=0.5, training=True)
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator, got int"):
        drawing_from(0).__enter__()


def test_the_sanity_check_gives_its_lone_result_while_another_thread_draws():
    torch.manual_seed(2)
    model = TinyConvNet()
    image = torch.rand(3, 1, 8, 8)
    global_state = torch.get_rng_state()
    lone = model_randomisation(model, image, methods=["saliency", "guided_backprop"], seed=4)
    assert torch.equal(torch.get_rng_state(), global_state)  # the check itself never drew from it
    for _ in range(3):
        with GlobalDraws() as other:
            again = model_randomisation(model, image, methods=["saliency", "guided_backprop"], seed=4)
        assert other.draws > 0
        for key, values in lone.correlation.items():
            np.testing.assert_array_equal(again.correlation[key], values, err_msg=key)
    assert lone.correlation["saliency"][0] != pytest.approx(1.0)  # the cascade did change the model


@pytest.mark.parametrize("before", [False, True])
def test_deterministic_algorithms_are_restored_after_the_block_even_on_error(before):
    torch.use_deterministic_algorithms(before)
    try:
        seen = []

        def fail_inside() -> None:
            with deterministic_algorithms():
                seen.append(torch.are_deterministic_algorithms_enabled())
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            fail_inside()
        assert seen == [True]
        assert torch.are_deterministic_algorithms_enabled() is before
    finally:
        torch.use_deterministic_algorithms(False)


def test_importing_the_packages_changes_no_process_wide_state():
    """Threads, warning filters, the deterministic switch and the global generator, before and after our imports."""
    script = """
import json, sys, warnings, torch
# third-party libraries install warning filters of their own at import: import them first
import captum.attr, captum.metrics, numpy, pandas, plotly.graph_objects, pyts.image, scipy.stats, streamlit
import torchvision, yfinance
before = (torch.get_num_threads(), len(warnings.filters), torch.are_deterministic_algorithms_enabled(),
          torch.get_rng_state().sum().item())
import data, models.registry, models.training, models.what_if, models.predict
import xai, xai.explain, xai.render, workflows.window, workflows.range_evaluation, workflows.range_figures
import pages.ui.shared, pages.ui.components
after = (torch.get_num_threads(), len(warnings.filters), torch.are_deterministic_algorithms_enabled(),
         torch.get_rng_state().sum().item())
print(json.dumps({"before": before, "after": after}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    states = json.loads(result.stdout.strip().splitlines()[-1])
    assert states["after"] == states["before"]
