"""Alert-check benchmark: ``python -m bench.alerts [--sizes 1 50 500] [--threshold PCT]``.

How many watched symbols one check handles per second on this machine, batched (:func:`alerts.check.run_check`:
one forward pass per model over every due window, the five maps in batched passes for the windows
that fire) against the paper's way — one symbol after another, each predicted, explained, drawn and
stored before the next (here: :func:`workflows.window.explain_window` per symbol, then its store
write). The symbols are the five demo tickers, replicated as uploads with their prices scaled
(distinct data, so nothing is computed once for several); each is watched once at ``--threshold``
(default 0.01 %: every window fires, so every symbol is explained — the heaviest check).

Runs in a temporary cache (the uploads and stores are deleted afterwards). Prints a table as it
goes; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

#: 11:00 New York on Monday 3 June 2024 (the 09:30 bar complete).
CHECK_TIME = dt.datetime(2024, 6, 3, 15, 0, tzinfo=dt.UTC)


def _sources(count: int) -> list[str]:
    from data.demo import DEMO_TICKERS
    from data.sources import load_source
    from data.uploads import store_upload

    sources = []
    for i in range(count):
        base = load_source(f"demo:{DEMO_TICKERS[i % len(DEMO_TICKERS)]}", "60m")
        bars = base.bars.loc[:"2024-06-03 09:30"].iloc[-60:].copy()
        bars[["open", "high", "low", "close"]] *= 1.0 + 0.001 * i
        copy = dataclasses.replace(base, bars=bars, source=f"bench-{i}.csv", synthetic=False)
        sources.append(store_upload(copy).source)
    return sources


def _batched(folder: Path, sources: list[str], threshold: float) -> tuple[float, int]:
    from alerts.check import run_check
    from alerts.entries import WatchEntry
    from alerts.store import AlertStore

    store = AlertStore(folder / f"batched-{len(sources)}.sqlite")
    for source in sources:
        store.add_entry(WatchEntry(source, threshold))
    started = time.perf_counter()
    report = run_check(store, CHECK_TIME)
    return time.perf_counter() - started, len(report.alerts)


def _one_by_one(folder: Path, sources: list[str], threshold: float) -> tuple[float, int]:
    """The paper's loop: each symbol loaded, predicted, explained, drawn and stored before the next."""
    import numpy as np

    from alerts.check import load_bars, resolve_model
    from alerts.entries import WatchEntry
    from alerts.payload import alert_png, encode_maps
    from alerts.store import AlertStore
    from workflows.window import explain_window

    store = AlertStore(folder / f"one-{len(sources)}.sqlite")
    loaded = resolve_model("shipped")
    check_id = store.start_check(CHECK_TIME)
    started = time.perf_counter()
    added = 0
    for source in sources:
        entry = store.add_entry(WatchEntry(source, threshold))
        bars = load_bars(source, "60m").bars.loc[:"2024-06-03 09:30"]
        window = bars[["open", "high", "low", "close"]].to_numpy()[-50:]
        result = explain_window(loaded, window)
        pct = result.prediction.pct_change
        if not entry.fires(pct):
            continue
        maps = {key: item.attribution[0, 0] for key, item in result.explanations.maps.items()}
        payload = encode_maps(result.image, maps, result.per_time, per_time_signed=result.per_time_signed,
                              image_kind=result.image_kind, direction=result.direction)  # fmt: skip
        alert = {
            "source": source, "model": "shipped", "card_digest": loaded.card.weights_sha256,
            "last_close": float(window[-1, 3]), "forecast_close": float(window[-1, 3] * (1 + pct / 100)),
            "forecast_pct": float(pct), "threshold_pct": threshold, "direction": "both",
            "created": CHECK_TIME.isoformat(), "maps": payload, "png": alert_png(result.image, maps["gradcam"]),
        }  # fmt: skip
        added += store.record_evaluations(
            check_id,
            [{"watch_id": entry.id, "window_end": bars.index[-1].isoformat(), "forecast_pct": float(pct),
              "alert": alert}],
        )  # fmt: skip
        np.asarray(maps["gradcam"])  # the maps are used, not thrown away
    return time.perf_counter() - started, added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 500], help="watched symbols per check")
    parser.add_argument("--threshold", type=float, default=0.01, help="alert threshold, %% (default: all fire)")
    args = parser.parse_args(argv)
    import torch

    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as folder:
        os.environ["CHART_XAI_CACHE"] = folder  # uploads and stores live and die here
        sources = _sources(max(args.sizes))
        _batched(Path(folder), sources[:2], args.threshold)  # warm-up: the model loaded, the kernels chosen
        print(f"torch threads {torch.get_num_threads()}; threshold {args.threshold:g} %", flush=True)
        print(f"{'symbols':>8} {'batched s':>10} {'symbols/s':>10} {'one by one s':>13} {'symbols/s':>10} {'ratio':>6}")
        for size in args.sizes:
            batched_s, batched_alerts = _batched(Path(folder), sources[:size], args.threshold)
            single_s, single_alerts = _one_by_one(Path(folder), sources[:size], args.threshold)
            if batched_alerts != single_alerts:
                raise SystemExit(f"the two paths disagree: {batched_alerts} vs {single_alerts} alerts at {size}")
            figures[str(size)] = {
                "batched_s": round(batched_s, 3),
                "batched_symbols_per_s": round(size / batched_s, 2),
                "one_by_one_s": round(single_s, 3),
                "one_by_one_symbols_per_s": round(size / single_s, 2),
                "speedup": round(single_s / batched_s, 2),
                "alerts": batched_alerts,
            }
            row = figures[str(size)]
            print(
                f"{size:>8} {batched_s:>10.2f} {row['batched_symbols_per_s']:>10.1f} {single_s:>13.2f} "
                f"{row['one_by_one_symbols_per_s']:>10.1f} {row['speedup']:>5.2f}×",
                flush=True,
            )
    print(json.dumps({"threshold_pct": args.threshold, "checks": figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
