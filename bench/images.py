"""Image-encoder benchmark: ``python -m bench.images``.

Prints each figure as it is measured and ends with one line, a JSON object of
all figures:

* ``raster_ms_per_image`` -- :class:`CandlestickEncoder` on a batch of 1,000
  random-walk windows of 50 bars at ``CANDLESTICK_SIZE``, median over repeats,
  per image (validation and geometry included).
* ``kaleido_ms_per_image`` -- plotly + kaleido (:func:`render_reference`) on the
  first 20 of the same windows at the same size, one batch (browser start
  included, as a caller pays it), median over repeats, per image.
* ``raster_speedup`` -- the ratio of the two (the requirement is >= 1000).
* ``gadf_first_call_s`` -- the first :class:`GADFEncoder` transform in a fresh
  interpreter with an empty cache folder; it imports pyts, whose numba
  kernels compile at import.
* ``gadf_first_call_cached_s`` -- the same in a second fresh interpreter that
  finds the kernels in numba's disk cache (:mod:`data.images.pyts_import`).
* ``gadf_1000x60_s`` -- median warm time of :class:`GADFEncoder` on 1,000
  windows of 60 closes (target < 0.05 s).
* ``pyts_raw_1000x60_s`` -- pyts's ``GramianAngularField`` alone on the same
  data, so that the wrapper's overhead shows.
* ``nifty_1000_days_peak_mb`` -- peak memory (tracemalloc, which sees NumPy's
  and pandas's buffers) of building the model inputs of 1,000 NIFTY days from
  the demo index's minute bars: first hours, labels, and the
  ``(1000, 1, 60, 60)`` GADF tensor (target < 200 MB). Loading the minute bars
  is reported separately as ``nifty_minute_bars_peak_mb``.

Nothing is written into the repository (kaleido's PNGs go to a temporary
folder). Timings use ``time.perf_counter``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from data.demo.random_walk import random_walk_closes, random_walk_ohlc
from data.images.candlestick import CandlestickEncoder
from data.images.gadf import GADFEncoder
from data.images.reference import render_reference
from data.settings import CACHE_ENV_VAR, CANDLESTICK_SIZE, FIRST_HOUR_MINUTES, TICKER_WINDOW_BARS

SEED = 20261121
RASTER_WINDOWS = 1000
KALEIDO_WINDOWS = 20
GADF_WINDOWS = 1000
RASTER_REPEATS = 9
KALEIDO_REPEATS = 3
GADF_REPEATS = 15
NIFTY_DAYS = 1000
REPO_ROOT = Path(__file__).resolve().parents[1]


# --- data --------------------------------------------------------------------


def median_seconds(work: Callable[[], object], repeats: int, warm_up: bool = True) -> float:
    """Median wall time of ``work()`` over ``repeats`` calls (after one unmeasured call)."""
    if warm_up:
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- figures -----------------------------------------------------------------


def raster_ms_per_image(ohlc: np.ndarray) -> float:
    encoder = CandlestickEncoder(image_size=CANDLESTICK_SIZE)
    return median_seconds(lambda: encoder.transform(ohlc), RASTER_REPEATS) / len(ohlc) * 1e3


def kaleido_ms_per_image(ohlc: np.ndarray) -> float:
    # No warm-up: every call starts its own browser, which is what a caller pays.
    seconds = median_seconds(lambda: render_reference(ohlc, CANDLESTICK_SIZE), KALEIDO_REPEATS, warm_up=False)
    return seconds / len(ohlc) * 1e3


_FIRST_CALL_SCRIPT = f"""
import time
import numpy as np
from data.images.gadf import GADFEncoder
steps = np.random.default_rng({SEED}).normal(0, 5e-4, ({GADF_WINDOWS}, {FIRST_HOUR_MINUTES}))
closes = 18000 * np.exp(np.cumsum(steps, axis=1))
start = time.perf_counter()
GADFEncoder().transform(closes)
print(time.perf_counter() - start)
"""


def gadf_first_call_s(cache_folder: Path) -> float:
    """First GADF transform in a fresh interpreter using ``cache_folder`` (pyts import included)."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env[CACHE_ENV_VAR] = str(cache_folder)
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def nifty_peak_mb(n_days: int) -> tuple[float, float]:
    """Peak MB of loading the demo index's minute bars, then of turning ``n_days`` days into model inputs."""
    from data.demo import DEMO_INDEX, demo_bars
    from data.windows import make_nifty_days

    GADFEncoder().transform(np.linspace(1.0, 2.0, 120).reshape(2, 60))  # pyts imported outside the measure
    tracemalloc.start()
    bars = demo_bars(DEMO_INDEX, "1m").bars
    loading_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    first_days = bars.index.normalize().unique()[:n_days]
    days = make_nifty_days(bars.loc[bars.index.normalize().isin(first_days)])
    inputs = GADFEncoder().transform(days.first_hour_close)
    building_peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    if inputs.shape != (n_days, 1, FIRST_HOUR_MINUTES, FIRST_HOUR_MINUTES):
        raise RuntimeError(f"expected {n_days} usable days, got inputs of shape {inputs.shape}")
    return loading_peak / 2**20, building_peak / 2**20


def gadf_1000x60_s(closes: np.ndarray) -> float:
    encoder = GADFEncoder()
    return median_seconds(lambda: encoder.transform(closes), GADF_REPEATS)


def pyts_raw_1000x60_s(closes: np.ndarray) -> float:
    from pyts.image import GramianAngularField

    field = GramianAngularField(method="difference", sample_range=(-1, 1))
    return median_seconds(lambda: field.transform(closes), GADF_REPEATS)


# --- main --------------------------------------------------------------------


def report(figures: dict[str, float], name: str, value: float, unit: str) -> None:
    figures[name] = round(value, 6)
    print(f"{name:>24} = {value:.6g} {unit}", flush=True)


def main() -> None:
    print(
        f"bench.images: python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, seed {SEED}",
        flush=True,
    )
    rng = np.random.default_rng(SEED)
    ohlc = random_walk_ohlc(rng, RASTER_WINDOWS, TICKER_WINDOW_BARS)
    closes = random_walk_closes(rng, GADF_WINDOWS, FIRST_HOUR_MINUTES)
    figures: dict[str, float] = {}

    raster_ms = raster_ms_per_image(ohlc)
    report(figures, "raster_ms_per_image", raster_ms, f"ms ({RASTER_WINDOWS} windows per batch)")
    kaleido_ms = kaleido_ms_per_image(ohlc[:KALEIDO_WINDOWS])
    report(figures, "kaleido_ms_per_image", kaleido_ms, f"ms ({KALEIDO_WINDOWS} windows per batch)")
    report(figures, "raster_speedup", kaleido_ms / raster_ms, "x")
    with tempfile.TemporaryDirectory(prefix="bench-images-cache-") as cache_folder:
        report(
            figures, "gadf_first_call_s", gadf_first_call_s(Path(cache_folder)), "s (fresh interpreter, empty cache)"
        )
        cached = gadf_first_call_s(Path(cache_folder))
        report(figures, "gadf_first_call_cached_s", cached, "s (fresh interpreter, numba disk cache)")
    report(figures, "gadf_1000x60_s", gadf_1000x60_s(closes), "s")
    report(figures, "pyts_raw_1000x60_s", pyts_raw_1000x60_s(closes), "s")
    loading_mb, building_mb = nifty_peak_mb(NIFTY_DAYS)
    report(figures, "nifty_minute_bars_peak_mb", loading_mb, "MB (demo index, 1m bars, 1042 days)")
    report(figures, "nifty_1000_days_peak_mb", building_mb, f"MB ({NIFTY_DAYS} days → (N, 1, 60, 60) GADF)")

    print(json.dumps(figures))


if __name__ == "__main__":
    main()
