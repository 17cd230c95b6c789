"""Fixtures shared by every test.

* Every test gets its own cache folder (``$CHART_XAI_CACHE``), so nothing is
  ever written to the user's cache or into the repository.
* ``rng`` is the one seeded random generator tests draw from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.settings import CACHE_ENV_VAR

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache folder at a fresh temporary directory for each test."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(CACHE_ENV_VAR, str(folder))
    return folder


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator seeded the same way for every test."""
    return np.random.default_rng(20261121)
