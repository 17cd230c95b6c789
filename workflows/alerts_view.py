"""What the Alerts page shows, without Streamlit: the feed, one alert rebuilt from the store, the
link to its window on the Ticker page, and the local checker process the page starts and stops.

An alert's maps are rebuilt from what was stored (:func:`stored_explanation`), never recomputed:
the page shows what the checker saw when it fired, even if the model has changed since.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from alerts.payload import decode_maps
from alerts.store import StoredAlert
from models.tasks import Forecast
from workflows.window import WindowExplanation
from xai.explain import Explanation, ExplanationSet, GradCamOptions
from xai.methods import METHODS

#: Outcomes in words.
OUTCOME_WORDS = {
    None: "next bar not known yet",
    "right": "right: the move reached the threshold that way",
    "wrong sign": "wrong: the move reached the threshold the other way",
    "below threshold": "wrong: the move stayed below the threshold",
}


def feed_table(alerts: Sequence[StoredAlert]) -> pd.DataFrame:
    """One row per alert, newest first: when, symbol, forecast vs threshold, outcome."""
    rows = [
        {
            "alert": alert.id,
            "window end": pd.Timestamp(alert.window_end),
            "symbol": alert.source,
            "forecast %": round(alert.forecast_pct, 3),
            "threshold %": alert.threshold_pct,
            "watching": alert.direction,
            "actual %": None if alert.actual_pct is None else round(alert.actual_pct, 3),
            "outcome": OUTCOME_WORDS.get(alert.outcome, alert.outcome),
            "model": alert.model,
        }
        for alert in alerts
    ]
    return pd.DataFrame(rows, columns=["alert", "window end", "symbol", "forecast %", "threshold %", "watching",
                                       "actual %", "outcome", "model"])  # fmt: skip


def stored_explanation(alert: StoredAlert, window_closes: np.ndarray | None = None) -> WindowExplanation:
    """The alert's prediction and maps as the comparison panel takes them, from the stored arrays."""
    stored = decode_maps(alert.maps)
    n = len(next(iter(stored.per_time.values())))
    maps = {
        key: Explanation(
            method=key,
            label=METHODS[key].label,
            attribution=values[None, None].astype(np.float32),
            layer_map=None,
            seconds=0.0,
        )
        for key, values in stored.maps.items()
    }
    explanations = ExplanationSet(
        maps=maps, target=np.array([stored.direction]), target_kind="direction", gradcam=GradCamOptions()
    )
    forecast = Forecast(
        last_close=alert.last_close,
        forecast_close=alert.forecast_close,
        pct_change=alert.forecast_pct,
        corrected_close=None,
        corrected_pct_change=None,
    )
    closes = None if window_closes is None else np.log10(np.asarray(window_closes, dtype=np.float64))[None, -n:]
    return WindowExplanation(
        prediction=forecast,
        explanations=explanations,
        image=stored.image,
        image_kind=stored.image_kind,
        per_time=stored.per_time,
        per_time_signed=stored.per_time_signed,
        direction=stored.direction,
        closes=None if closes is None else closes.astype(np.float32),
    )


def ticker_link(alert: StoredAlert) -> str:
    """The Ticker page on the alert's exact window, model and threshold."""
    query = {
        "source": alert.source,
        "model": alert.model,
        "end": f"{pd.Timestamp(alert.window_end):%Y-%m-%dT%H:%M}",
        "threshold": f"{alert.threshold_pct:g}",
    }
    return f"/ticker?{urlencode(query)}"


def start_checker(store_path: Path, log_path: Path) -> int:
    """Start ``python -m alerts watch`` on the store in its own process group; its pid.

    The checker's own lock refuses a second one on the same store (its log says so).
    """
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "alerts", "--db", str(store_path), "watch"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    log.close()
    return process.pid


def stop_checker(pid: int) -> bool:
    """Ask the checker ``pid`` to stop (SIGINT: it finishes its check's transaction); whether it was running."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    return True
