"""Fixtures shared by every test.

* Every test gets its own cache folder (``$CHART_XAI_CACHE``), so nothing is
  ever written to the user's cache or into the repository.
* ``rng`` is the one seeded random generator tests draw from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.settings import CACHE_ENV_VAR

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache folder at a fresh temporary directory for each test."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(CACHE_ENV_VAR, str(folder))
    return folder


#: torch's thread count before any test module is imported (app.py sets one thread for the server).
_TORCH_THREADS = torch.get_num_threads()


@pytest.fixture(autouse=True)
def keep_torch_threads() -> None:
    """Every test starts with torch's own thread count, whatever an AppTest of app.py set."""
    if torch.get_num_threads() != _TORCH_THREADS:
        torch.set_num_threads(_TORCH_THREADS)


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator seeded the same way for every test."""
    return np.random.default_rng(20261121)


def _shipped_test_batch(task: str, size: int = 4):
    """The shipped model of ``task`` and the first ``size`` samples of its test split."""
    from models.datasets import load_samples
    from models.registry import load_shipped

    loaded = load_shipped(task)
    samples = load_samples(loaded.spec, loaded.card.data.source)
    inputs, _ = samples.batch(samples.indices("test")[:size])
    return (loaded.model, *inputs)


@pytest.fixture(scope="session")
def shipped_classifier_batch():
    """(model, image (4, 1, 64, 64)) — the shipped NIFTY classifier on four test days."""
    return _shipped_test_batch("nifty")


@pytest.fixture(scope="session")
def shipped_regressor_batch():
    """(model, image (4, 1, 128, 128), log10 closes (4, 50)) — the shipped regressor on four test windows."""
    return _shipped_test_batch("ticker")
