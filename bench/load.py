"""Many users at once: ``python -m bench.load [--sessions 20] [--duration 60] [--seed N] [--check-maps N]``.

Starts ``streamlit run app.py`` (``tests.browser.StreamlitServer``: its own process group, a
temporary ``$CHART_XAI_CACHE`` unless one is set), warms it up with one lone session (``/``, then
each page once: imports, the models, the numba cache, the sanity tables), then drives ``--sessions``
concurrent Streamlit sessions over websockets (:mod:`bench.session_client`), all starting at once,
until ``--duration`` seconds after the warm-up mark (below). Sessions alternate between ``/nifty``
(the ResNet classifier on GADFs) and ``/ticker`` (the CNN-LSTM on candlesticks; ticker sessions
spread over the demo symbols); each opens its page from a link with a random day or window and a
random subset of the five methods (in a random order), then, after a random think time (uniform in
``[0, 2 × --think]`` s), makes one interaction after another: ◀ Previous day / Next day ▶ / a date
from the calendar, or the window slider a few bars or anywhere, the methods (one removed or one
added at the end), the forecast direction.

Figures:

* ``duration_s`` — how long the sessions were driven: ``warmup_s`` until the warm-up mark, then
  ``mem_window_s`` = ``--duration``, plus the last runs in flight.
* ``p50_s`` / ``p95_s`` — interaction latency: from sending the ``rerun_script`` message to receiving
  ``script_finished`` (the run the interaction caused is over), over all interactions (the links
  opened are counted apart: ``open_p50_s`` / ``open_p95_s``; ``steady_p50_s`` / ``steady_p95_s`` over
  those started after the warm-up mark); ``maps_p50_s`` / ``maps_p95_s`` until the comparison chart
  arrived; ``median_s_by_action`` per page and interaction. ``server_cpu_s_per_run``: the server's
  CPU time (user + system, its process group) over the runs, from the warm-up mark to the end.
* ``errors`` — must be 0: the runs with an exception element, an ``st.error``, ``page_not_found``, no
  successful ``script_finished``, a disconnect or a timeout, or an answer that is not what the
  interaction asked for (the day, window or methods the page shows, the comparison chart's subplot
  titles, both charts present), plus failed connections; ``error_samples`` holds the first 20 texts.
  ``server_log_errors``: each traceback's exception line in the server log, with its deepest frame in
  this repository and a count (the page shows only a redacted message: ``client.showErrorDetails``).
* ``mem_after_warmup_mb`` / ``mem_end_mb`` / ``mem_growth_pct`` — the server's memory: the summed
  ``VmRSS`` of its process group, sampled every second (``mem_timeline``); the median of the samples
  in the first 10 s after the warm-up mark (every session has finished its first run and
  ``--warmup-rounds`` interactions) and in the last 10 s (sessions still open); growth = 100 ×
  (end − warm) / warm, over ``mem_window_s``. ``mem_at_warmup_mark_mb`` / ``mem_at_last_run_mb`` are
  the single readings, ``mem_slope_mb_per_min`` the least-squares trend after the mark.
* Maps: each run's comparison chart and per-time chart (``PlotlyChart`` protos, byte for byte) are
  hashed per request — page, source, model, day or window end, methods in their order, direction.
  ``concurrent_pairs_different_methods`` counts pairs of interactions of two sessions on the same
  model, with different methods, that were in flight at the same time. Then ``--check-maps``
  requests (favouring those in such pairs, spread over method subsets) are replayed one at a time
  by a lone session on a **fresh** server (its caches empty: nothing from the concurrent phase can
  be handed back), and ``maps_identical`` counts those whose two charts are byte-identical to what
  every concurrent session got for them (``maps_checked`` in all). Nothing is stripped from the
  protos: element ids are derived from the user key and the chart itself, so they are deterministic.

Prints as it goes; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.load_driver import (
    CHARTS,
    PAGES,
    WHEN_PARAM,
    LoadConfig,
    LoadRun,
    LoneCheck,
    MapKey,
    Markets,
    Phase,
    Progress,
    SessionDriver,
    digest,
    load_markets,
    run_async,
)
from bench.load_figures import Report, machine, percentile, select_keys, summarise
from bench.load_server import group_cpu_s, group_rss_mb, server_log_errors
from bench.session_client import SessionError, StreamlitSession
from data.settings import CACHE_ENV_VAR
from tests.browser import ServerError, StreamlitServer

MEMORY_EVERY_S = 1.0
PROGRESS_EVERY_S = 10.0


async def warm_up(base_url: str, pages: Iterable[str], *, timeout_s: float = 300.0) -> list[str]:
    """One lone session opens ``/`` and then each page once; returns the errors it saw (none expected).

    ``/`` first: a server's very first run still uses Streamlit's pages-folder mode and shows "Page not
    found" over a deep link (streamlit#9624; README). The pages then load their data and models.
    """
    errors = []
    async with StreamlitSession(base_url, timeout_s=timeout_s) as session:
        for page in ("", *pages):
            result = await session.open(page)
            errors += [f"warm-up /{page}: {text}" for text in result.errors]
    return errors


# --- the phases --------------------------------------------------------------------------------------------


async def _sample_memory(phase: Phase, stop: asyncio.Event) -> None:
    while not stop.is_set():
        mb = phase.memory_mb()
        if mb is not None:
            phase.run.memory.append((round(phase.now(), 1), mb))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), MEMORY_EVERY_S)


async def _report_progress(phase: Phase, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROGRESS_EVERY_S)
        done = [item for item in phase.run.interactions if item.action != "open"]
        latencies = [item.seconds for item in done]
        phase.progress(
            f"  {phase.now():5.1f} s: {len(phase.run.interactions)} runs, {len(phase.run.errors)} errors, "
            f"interaction p50 {percentile(latencies, 50)} s / p95 {percentile(latencies, 95)} s, "
            f"server RSS {phase.memory_mb()} MB"
        )


async def drive(
    base_url: str, config: LoadConfig, markets: Markets, *, pgid: int | None = None, progress: Progress = print
) -> LoadRun:
    """Run ``config.sessions`` sessions against the server at ``base_url``, until ``duration_s`` after the warm-up mark.

    ``pgid``: the server's process group, whose memory is read (``None``: not read).
    """
    phase = Phase(config, pgid, progress)
    stop = asyncio.Event()
    watchers = [asyncio.create_task(_sample_memory(phase, stop)), asyncio.create_task(_report_progress(phase, stop))]
    drivers = [SessionDriver(index, base_url, phase, markets) for index in range(config.sessions)]
    await asyncio.gather(*(driver.run() for driver in drivers))
    phase.run.phase_s = round(phase.now(), 2)
    phase.run.mem_at_last_run_mb = phase.memory_mb()
    if phase.cpu_at_warmup_s is not None and pgid is not None:
        phase.run.server_cpu_after_warmup_s = round(group_cpu_s(pgid) - phase.cpu_at_warmup_s, 2)
    stop.set()
    await asyncio.gather(*watchers)
    if phase.run.warmup_s is None:
        phase.run.session_errors.append(
            f"warm-up never ended: some session did not finish {1 + config.warmup_rounds} runs within the phase"
        )
    return phase.run


async def lone_checks(
    base_url: str, run: LoadRun, keys: Sequence[MapKey], *, timeout_s: float = 120.0
) -> list[LoneCheck]:
    """Replay ``keys`` one at a time, each in a new session opened from its link, on the server at ``base_url``."""
    checks = []
    for key in keys:
        errors: list[str] = []
        lone: dict[str, str] = {}
        try:
            async with StreamlitSession(base_url, timeout_s=timeout_s) as session:
                result = await session.open(key.page, key.link())
                errors += result.errors
                direction = session.widgets.get("direction")
                default = direction.proto.options[direction.proto.default] if direction is not None else None
                if key.direction is not None and key.direction != default:
                    result = await session.set_value("direction", key.direction)
                    errors += result.errors
                shown = result.query.get(WHEN_PARAM[key.page])
                if shown != key.when:
                    errors.append(f"the lone session shows {WHEN_PARAM[key.page]} {shown}, not {key.when}")
                lone = {chart: digest(result.charts[chart]) for chart in CHARTS if chart in result.charts}
        except (SessionError, KeyError) as error:
            errors.append(f"{type(error).__name__}: {error}")
        checks.append(LoneCheck(key=key, lone=lone, concurrent=run.digests[key], errors=tuple(errors)))
    return checks


# --- the whole benchmark ---------------------------------------------------------------------------------


def run_benchmark(
    config: LoadConfig, *, check_maps: int, cache: Path, scratch: Path, progress: Progress = print
) -> Report:
    """The whole benchmark: warm-up, the concurrent phase, then the lone replay on a fresh server.

    ``cache``: the servers' ``$CHART_XAI_CACHE`` (both share it: data and the numba cache, never maps);
    ``scratch``: where the server logs go.
    """
    if check_maps < 0:
        raise ValueError(f"check_maps must be ≥ 0; got {check_maps!r}")
    progress(f"sessions pick from the demo market ({', '.join(config.pages)})…")
    markets = load_markets(config.pages)
    timing: dict[str, float] = {}
    logs = [scratch / "streamlit-load.log", scratch / "streamlit-lone.log"]
    start = time.perf_counter()
    with StreamlitServer(cache_dir=cache, log_path=logs[0]) as server:
        server.wait_healthy()
        pgid = server.process.pid if server.process is not None else None
        warm_errors = run_async(warm_up(server.url, config.pages, timeout_s=max(config.timeout_s, 300.0)))
        timing["server_warmup_s"] = round(time.perf_counter() - start, 2)
        progress(
            f"server {server.url} warmed up in {timing['server_warmup_s']:.1f} s (RSS "
            f"{group_rss_mb(pgid) if pgid else 0:.0f} MB); {config.sessions} sessions until {config.duration_s:g} s "
            "after the warm-up mark…"
        )
        run = run_async(drive(server.url, config, markets, pgid=pgid, progress=progress))
        run.session_errors[:0] = warm_errors
    checks: list[LoneCheck] = []
    if check_maps:
        keys = select_keys(run, check_maps, config.seed)
        progress(f"lone replay of {len(keys)} requests on a fresh server…")
        start = time.perf_counter()
        with StreamlitServer(cache_dir=cache, log_path=logs[1]) as fresh:
            fresh.wait_healthy()
            warm_errors = run_async(warm_up(fresh.url, (), timeout_s=max(config.timeout_s, 300.0)))
            run.session_errors += [f"lone {text}" for text in warm_errors]
            checks = run_async(lone_checks(fresh.url, run, keys, timeout_s=config.timeout_s))
        timing["lone_replay_s"] = round(time.perf_counter() - start, 2)
        for check in checks:
            progress(f"  {'identical' if check.identical else 'DIFFERENT'}: {check.key.describe()}")
    log_errors: dict[str, int] = defaultdict(int)
    for path in logs:
        if path.exists():
            for text, count in server_log_errors(path.read_text(errors="replace")).items():
                log_errors[text] += count
    for text, count in log_errors.items():
        progress(f"  server log: {count} × {text}")
    figures = summarise(run, checks, dict(log_errors))
    figures.update(timing)
    return Report(figures=figures, run=run, checks=checks)


def _print(text: str) -> None:
    print(text, flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line on stderr, no usage dump
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    parser = _Parser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of load after the warm-up mark (default 60)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds every session's choices (default 0)")
    parser.add_argument(
        "--check-maps", type=int, default=24, help="requests replayed by a lone session on a fresh server (default 24)"
    )
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between interactions, s (default 1)")
    parser.add_argument("--timeout", type=float, default=120.0, help="the longest one script run may take, s")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages (default nifty,ticker)")
    parser.add_argument(
        "--warmup-rounds", type=int, default=2, help="interactions per session before the warm-up mark (default 2)"
    )
    args = parser.parse_args(argv)
    try:
        config = LoadConfig(
            sessions=args.sessions,
            duration_s=args.duration,
            seed=args.seed,
            think_s=args.think,
            timeout_s=args.timeout,
            pages=tuple(page for page in args.pages.split(",") if page),
            warmup_rounds=args.warmup_rounds,
        )
        if args.check_maps < 0:
            raise ValueError(f"--check-maps must be ≥ 0; got {args.check_maps}")
    except ValueError as error:
        parser.error(str(error))
    print(f"bench.load: {json.dumps(machine())}; load average {os.getloadavg()[0]:.2f}", flush=True)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        configured = os.environ.get(CACHE_ENV_VAR)
        cache = Path(configured) if configured else scratch / "cache"
        os.environ[CACHE_ENV_VAR] = str(cache)  # this process's demo-market reads use it too
        try:
            report = run_benchmark(config, check_maps=args.check_maps, cache=cache, scratch=scratch, progress=_print)
        except (ServerError, SessionError) as error:
            print(f"bench.load: {error}", file=sys.stderr)
            raise SystemExit(1) from None
    figures = report.figures
    figures["cache_dir"] = str(cache) if configured else "temporary"
    figures["machine"] = machine()
    figures["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    print(
        f"{figures['interactions']} interactions, {figures['errors']} errors, p50 {figures['p50_s']} s, "
        f"p95 {figures['p95_s']} s; memory {figures['mem_after_warmup_mb']} → {figures['mem_end_mb']} MB "
        f"({figures['mem_growth_pct']} %); maps identical {figures['maps_identical']}/{figures['maps_checked']}",
        flush=True,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
