"""Batch explanations: ``python -m bench.batch [--task ticker] [--days 120] [--device cpu|cuda] [--no-ray]``.

One universe — four demo symbols, the windows of their last ``--days`` days — explained end to
end into a dataset (:func:`batch.run.explain_universe`, all five maps), side by side in one run:

* ``local_windows_per_s`` — the local engine at batch 64 with this machine's torch threads, at
  batch 64 on one thread, at batch 1 (the first ``--small`` windows of one symbol) and at batch 64
  with trust scores (``--trust``, the same small set);
* ``engine_ms_per_input`` — :func:`xai.explain` alone on 64 test inputs (``bench.attribution``'s
  batch-64 figure, same threads), and ``local_over_engine`` — the local engine's time per window
  over it (goal ≤ 1.10: loading, encoding, the call and the writing cost ≤ 10 % more);
* ``ray_windows_per_s`` — :func:`batch.on_ray.explain_universe_on_ray` with 1 and 2 workers of one
  CPU (one torch thread) each, on a local Ray instance started once beforehand (``ray_start_s``),
  as a user's cluster would be: the figures include the actors' start and model loading;
  ``ray2_over_ray1`` (goal ≥ 1.6 on 2 cores) and ``ray_overhead_pct`` — Ray's one worker against
  the local engine on one thread (goal ≤ 15 %), split into ``ray_fixed_s`` (the run's wall time
  less the sources' own seconds in the actor: starting the actor, importing, loading the model,
  scheduling — paid once a run) and ``ray_per_window_overhead_pct`` (the sources' seconds in the
  actor against the local engine's on one thread);
* ``peak_mb`` — per phase, the largest summed resident memory of this process and every process
  it started (Ray's own and its workers), sampled every 0.2 s.

Every dataset goes to a temporary folder, removed at the end. Prints as it goes; the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from batch.on_ray import explain_universe_on_ray
from batch.run import RunSettings, explain_universe, resolve_checkpoint
from models.datasets import load_samples
from xai import explain

SYMBOLS = ("demo:ACME", "demo:GLOBEX", "demo:INITECH", "demo:UMBRELLA")


def _tree_rss_mb(root: int) -> float:
    """Summed VmRSS of ``root`` and its descendants (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            parents[int(entry.name)] = int(fields["PPid"])
            rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total / 1024


@contextlib.contextmanager
def _peak_memory(peaks: dict[str, float], phase: str) -> Iterator[None]:
    stop = threading.Event()
    peaks[phase] = _tree_rss_mb(os.getpid())

    def sample() -> None:
        while not stop.wait(0.2):
            peaks[phase] = max(peaks[phase], _tree_rss_mb(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
        peaks[phase] = round(peaks[phase], 1)


def _timed(run: Callable[[Path], int], scratch: Path, name: str) -> tuple[int, float]:
    out = scratch / name
    began = time.perf_counter()
    windows = run(out)
    seconds = time.perf_counter() - began
    shutil.rmtree(out, ignore_errors=True)
    print(f"{name}: {windows} windows in {seconds:.1f} s → {windows / seconds:.1f} windows/s", flush=True)
    return windows, seconds


def _engine_ms_per_input(loaded, repeats: int = 7) -> float:
    """``xai.explain`` alone at batch 64 on the card's test inputs (``bench.attribution``'s figure)."""
    samples = load_samples(loaded.spec, loaded.card.data.source)
    inputs, _ = samples.batch(samples.indices("test")[:64])
    inputs = [part.to(next(loaded.model.parameters()).device) for part in inputs]
    extra = inputs[1] if len(inputs) > 1 else None
    explain(loaded.model, inputs[0], additional_forward_args=extra)  # warm-up
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        explain(loaded.model, inputs[0], additional_forward_args=extra)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times) / len(inputs[0])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ticker", help="ticker (default), nifty or nifty-rest")
    parser.add_argument("--days", type=int, default=500, help="the last days of each symbol (default 500)")
    parser.add_argument("--small", type=int, default=128, help="windows for batch 1 and trust scores (default 128)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-ray", action="store_true", help="the local figures only")
    args = parser.parse_args()

    loaded = resolve_checkpoint(args.task, "shipped", args.device)
    sources = list(SYMBOLS) if loaded.task.is_regression else ["demo:NIFTY-DEMO"]
    samples = load_samples(loaded.spec, sources[0])
    days = sorted({stamp.date() for stamp in samples.times})
    first, last = days[-min(args.days, len(days))], days[-1]
    after = samples.times[samples.times >= str(first)]
    small_last = after[min(args.small, len(after)) - 1].date()
    threads = torch.get_num_threads()
    print(f"{args.task} on {args.device}, {threads} torch threads; {sources} {first} – {last}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    peaks: dict[str, float] = {}
    figures: dict[str, object] = {"task": args.task, "device": args.device, "torch_threads": threads}

    def local(batch: int, *, trust: bool = False, until=last, universe=sources) -> Callable[[Path], int]:
        return lambda out: (
            explain_universe(
                loaded, "shipped", universe, out, first=first, last=until, batch=batch, trust=trust, device=args.device
            ).windows
        )

    try:
        with _peak_memory(peaks, "local"):
            engine_ms = _engine_ms_per_input(loaded)
            n64, s64 = _timed(local(64), scratch, "local batch 64")
            n1, s1 = _timed(local(1, until=small_last, universe=sources[:1]), scratch, "local batch 1")
            nt, st = _timed(local(64, trust=True, until=small_last, universe=sources[:1]), scratch, "local trust")
            torch.set_num_threads(1)  # this benchmark's own process: the one-thread reference for Ray
            try:
                n64_1, s64_1 = _timed(local(64), scratch, "local batch 64, one thread")
            finally:
                torch.set_num_threads(threads)
        local_ms = 1000 * s64 / n64
        figures |= {
            "windows": n64,
            "local_windows_per_s": {
                "batch64": round(n64 / s64, 1), "batch64_one_thread": round(n64_1 / s64_1, 1),
                "batch1": round(n1 / s1, 1), "batch64_trust": round(nt / st, 2),
            },
            "engine_ms_per_input": round(engine_ms, 3), "local_ms_per_window": round(local_ms, 3),
            "local_over_engine": round(local_ms / engine_ms, 3),
        }  # fmt: skip
        print(f"local {local_ms:.2f} ms per window vs the engine's {engine_ms:.2f} ms per input", flush=True)
        if not args.no_ray:
            figures |= _ray_figures(loaded, sources, first, last, args.device, scratch, peaks, n64_1 / s64_1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures["peak_mb"] = peaks
    print(json.dumps(figures))


def _ray_figures(loaded, sources, first, last, device, scratch, peaks, one_thread_wps) -> dict[str, object]:
    import ray

    settings = RunSettings(loaded.task.name, first=first, last=last, device=device)
    gpus = 1.0 if device == "cuda" else 0.0
    began = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    start_s = time.perf_counter() - began
    rates, in_actor, walls = {}, {}, {}
    try:
        for workers in (1, 2):
            outcomes: list = []

            def run(out: Path, w: int = workers, seen: list = outcomes) -> int:
                return explain_universe_on_ray(
                    loaded, settings, sources, out, workers=w, gpus_per_worker=gpus, progress=seen.append
                ).windows

            with _peak_memory(peaks, f"ray_{workers}"):
                n, walls[workers] = _timed(run, scratch, f"ray, {workers} worker(s)")
            rates[workers], in_actor[workers] = n / walls[workers], sum(outcome.seconds for outcome in outcomes)
    finally:
        ray.shutdown()
    local_one_thread_s = n / one_thread_wps
    print(
        f"ray, 1 worker: {walls[1]:.1f} s = {in_actor[1]:.1f} s in the sources + {walls[1] - in_actor[1]:.1f} s "
        f"fixed; the local engine on one thread {local_one_thread_s:.1f} s",
        flush=True,
    )
    return {
        "ray_start_s": round(start_s, 1),
        "ray_windows_per_s": {"workers1": round(rates[1], 1), "workers2": round(rates[2], 1)},
        "ray2_over_ray1": round(rates[2] / rates[1], 2),
        "ray_overhead_pct": round(100 * (one_thread_wps / rates[1] - 1), 1),
        "ray_fixed_s": round(walls[1] - in_actor[1], 1),
        "ray_per_window_overhead_pct": round(100 * (in_actor[1] / local_one_thread_s - 1), 1),
    }


if __name__ == "__main__":
    main()
