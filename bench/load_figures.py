"""The figures of ``python -m bench.load``, computed from what a run recorded (no printing).

Latency percentiles, the memory figures (:func:`memory_figures`), the concurrent pairs of runs
(:func:`concurrent_pairs`) and the requests replayed from them (:func:`select_keys`), the machine,
and :func:`summarise`: the JSON line (its figures are documented in :mod:`bench.load`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import platform
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bench.load_driver import Interaction, LoadRun, LoneCheck, MapKey
from data.settings import TORCH_THREADS_ENV_VAR

#: The memory figures are medians over this many seconds of samples (the RSS saw-tooths by ±100 MB as
#: allocations come and go; one reading at a peak or a trough would swing the growth by ±8 %).
MEMORY_WINDOW_S = 10.0


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def concurrent_pairs(interactions: Sequence[Interaction]) -> tuple[int, set[MapKey]]:
    """Pairs of runs of two sessions on the same model with different methods, in flight together.

    Returns the number of pairs and the requests that were in at least one of them.
    """
    runs = sorted((item.start, item.end, item.session, item.key) for item in interactions if item.key is not None)
    pairs, keys = 0, set()
    active: list[tuple[float, int, MapKey]] = []
    for start, end, session, key in runs:
        active = [other for other in active if other[0] > start]
        for _, other_session, other_key in active:
            if (
                other_session != session
                and other_key.model_id == key.model_id
                and set(other_key.methods) != set(key.methods)
            ):
                pairs += 1
                keys.update((other_key, key))
        active.append((end, session, key))
    return pairs, keys


def select_keys(run: LoadRun, count: int, seed: int) -> list[MapKey]:
    """Up to ``count`` requests to replay: spread over models and method subsets, concurrent ones first."""
    _, overlapping = concurrent_pairs(run.interactions)
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[MapKey]] = defaultdict(list)
    for key in sorted(run.digests, key=MapKey.describe):
        groups[(key.model_id, frozenset(key.methods))].append(key)
    queues = []
    for name in sorted(groups, key=str):
        keys = groups[name]
        order = rng.permutation(len(keys))
        queues.append(sorted((keys[i] for i in order), key=lambda key: key not in overlapping))
    order = rng.permutation(len(queues))
    queues = [queues[i] for i in order]
    picked: list[MapKey] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


@dataclasses.dataclass
class Report:
    """The figures (the JSON line) and what they were computed from."""

    figures: dict
    run: LoadRun
    checks: list[LoneCheck]


def machine() -> dict:
    """What the figures were measured on."""
    versions = {}
    for package in ("streamlit", "torch", "captum", "websockets"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "node": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        TORCH_THREADS_ENV_VAR: os.environ.get(TORCH_THREADS_ENV_VAR, "1 (default)"),
    }


def memory_figures(run: LoadRun) -> dict[str, float | None]:
    """Medians of the RSS samples just after the warm-up mark and at the end, their growth, the trend."""
    figures: dict[str, float | None] = {
        "mem_after_warmup_mb": None,
        "mem_end_mb": None,
        "mem_growth_pct": None,
        "mem_at_warmup_mark_mb": run.mem_at_warmup_mark_mb,
        "mem_at_last_run_mb": run.mem_at_last_run_mb,
        "mem_peak_mb": max((mb for _, mb in run.memory), default=None),
        "mem_slope_mb_per_min": None,
    }
    if run.warmup_s is None:
        return figures
    after = [(t, mb) for t, mb in run.memory if t >= run.warmup_s]
    warm = [mb for t, mb in after if t < run.warmup_s + MEMORY_WINDOW_S]
    end = [mb for t, mb in after if t > run.phase_s - MEMORY_WINDOW_S]
    if warm and end:
        figures["mem_after_warmup_mb"] = round(float(np.median(warm)), 1)
        figures["mem_end_mb"] = round(float(np.median(end)), 1)
        figures["mem_growth_pct"] = round(100 * (figures["mem_end_mb"] / figures["mem_after_warmup_mb"] - 1), 2)
    if len(after) >= 2:
        times, values = np.array(after).T
        figures["mem_slope_mb_per_min"] = round(60 * float(np.polyfit(times, values, 1)[0]), 1)
    return figures


def summarise(run: LoadRun, checks: Sequence[LoneCheck], log_errors: dict[str, int] | None = None) -> dict:
    """The figures of one run (see :mod:`bench.load`); ``log_errors`` from :func:`.load_server.server_log_errors`."""
    opens = [item.seconds for item in run.interactions if item.action == "open" and item.status]
    done = [item for item in run.interactions if item.action != "open"]
    latencies = [item.seconds for item in done if item.status]
    warm = run.warmup_s if run.warmup_s is not None else float("inf")
    steady = [item.seconds for item in done if item.status and item.start >= warm]
    runs_after_warmup = sum(item.end > warm for item in run.interactions)
    cpu_per_run = None
    if run.server_cpu_after_warmup_s is not None and runs_after_warmup:
        cpu_per_run = round(run.server_cpu_after_warmup_s / runs_after_warmup, 3)
    maps = [item.maps_seconds for item in done if item.maps_seconds is not None]
    by_action: dict[str, list[float]] = defaultdict(list)
    for item in run.interactions:
        if item.status:
            by_action[f"{item.page}/{item.action}"].append(item.seconds)
    pairs, _ = concurrent_pairs(run.interactions)
    memory = memory_figures(run)
    identical = [check for check in checks if check.identical]
    lone_errors = [f"lone {check.key.describe()}: {'; '.join(check.errors)}" for check in checks if check.errors]
    errors = run.errors + lone_errors
    inconsistent = [key for key, charts in run.digests.items() if any(len(found) > 1 for found in charts.values())]
    return {
        "sessions": run.config.sessions,
        "duration_s": run.phase_s,
        "errors": len(errors),
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "mem_growth_pct": memory["mem_growth_pct"],
        "interactions": len(done),
        "interactions_finished": sum(item.status == "FINISHED_SUCCESSFULLY" for item in done),
        "opens": len(opens),
        "steady_p50_s": percentile(steady, 50),
        "steady_p95_s": percentile(steady, 95),
        "open_p50_s": percentile(opens, 50),
        "open_p95_s": percentile(opens, 95),
        "maps_p50_s": percentile(maps, 50),
        "maps_p95_s": percentile(maps, 95),
        "median_s_by_action": {name: percentile(values, 50) for name, values in sorted(by_action.items())},
        "runs_by_action": {name: len(values) for name, values in sorted(by_action.items())},
        **{name: value for name, value in memory.items() if name != "mem_growth_pct"},
        "server_cpu_s_after_warmup": run.server_cpu_after_warmup_s,
        "server_cpu_s_per_run": cpu_per_run,
        "warmup_s": run.warmup_s,
        "mem_window_s": None if run.warmup_s is None else round(run.phase_s - run.warmup_s, 2),
        "requests_seen": len(run.digests),
        "requests_inconsistent": len(inconsistent),
        "concurrent_pairs_different_methods": pairs,
        "maps_checked": len(checks),
        "maps_identical": len(identical),
        "maps_method_subsets": len({(check.key.model_id, frozenset(check.key.methods)) for check in checks}),
        "maps_mismatched": [check.key.describe() for check in checks if not check.identical],
        "error_samples": errors[:20],
        "server_log_errors": log_errors or {},
        "think_s": run.config.think_s,
        "seed": run.config.seed,
        "pages": list(run.config.pages),
        "mem_timeline": run.memory,
    }
