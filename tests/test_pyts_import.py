"""pyts is imported once per process with numba's disk cache in the private cache folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from data.settings import CACHE_ENV_VAR
from tests.conftest import REPO_ROOT

GADF_SCRIPT = """
import numpy as np
from data.images import GADFEncoder
print(GADFEncoder().transform(np.linspace(1.0, 3.0, 120).reshape(2, 60)).tobytes().hex()[:4000])
"""


def first_gadf_in_a_new_process(cache_folder) -> str:
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env[CACHE_ENV_VAR] = str(cache_folder)
    done = subprocess.run(
        [sys.executable, "-c", GADF_SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_compiled_kernels_are_cached_privately_and_reused(tmp_path):
    first = first_gadf_in_a_new_process(tmp_path)
    numba_folder = tmp_path / "numba"
    assert stat.S_IMODE(numba_folder.stat().st_mode) == 0o700
    gaf_index = sorted(p.name for p in numba_folder.rglob("_gaf._gadf-*.nbi"))
    assert gaf_index, sorted(p.name for p in numba_folder.rglob("*"))[:20]
    files_before = {p: p.stat().st_mtime_ns for p in numba_folder.rglob("*.nbc")}

    second = first_gadf_in_a_new_process(tmp_path)
    assert second == first
    files_after = {p: p.stat().st_mtime_ns for p in numba_folder.rglob("*.nbc")}
    assert files_after == files_before  # loaded, not compiled and written again
