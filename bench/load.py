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
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from streamlit.proto.PlotlyChart_pb2 import PlotlyChart

from bench.session_client import RunResult, SessionError, StreamlitSession
from data import load_source, make_nifty_days
from data.demo import DEMO_INDEX, DEMO_TICKERS
from data.settings import CACHE_ENV_VAR, TICKER_WINDOW_BARS, TORCH_THREADS_ENV_VAR
from tests.browser import REPO_ROOT, ServerError, StreamlitServer
from xai import ALL_METHODS, METHODS

PAGES = ("nifty", "ticker")

T = TypeVar("T")


def run_async(coroutine: Awaitable[T]) -> T:
    """``asyncio.run(coroutine)`` in a thread of its own: the caller's thread may already run an event
    loop (Playwright's sync API leaves one in pytest's main thread), where ``asyncio.run`` refuses."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=target, name="bench-load-loop")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


#: The query parameter that holds a page's day or window end.
WHEN_PARAM = {"nifty": "day", "ticker": "end"}
#: The keyed charts of the comparison panel (``pages/ui/components.py``).
CHARTS = ("comparison_chart", "time_chart")
LABELS = {key: METHODS[key].label for key in ALL_METHODS}
#: Interactions and their weights, per page.
ACTIONS = {
    "nifty": {"previous_day": 3, "next_day": 2, "pick_day": 2, "methods": 3},
    "ticker": {"step_window": 3, "jump_window": 1, "methods": 3, "direction": 2},
}
MEMORY_EVERY_S = 1.0
#: The memory figures are medians over this many seconds of samples (the RSS saw-tooths by ±100 MB as
#: allocations come and go; one reading at a peak or a trough would swing the growth by ±8 %).
MEMORY_WINDOW_S = 10.0
PROGRESS_EVERY_S = 10.0
PRINTED_ERRORS = 20
Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True, order=True)
class MapKey:
    """One request for maps: everything the comparison panel's charts depend on.

    ``when`` is the page's day (``YYYY-MM-DD``) or window end (``YYYY-MM-DDTHH:MM``) as the server
    wrote it into the URL; ``methods`` in the order shown; ``direction`` the ticker's "Explain" label
    (``None`` on ``/nifty``). Colour scale and opacity stay at their defaults throughout.
    """

    page: str
    source: str
    model: str
    when: str
    methods: tuple[str, ...]
    direction: str | None = None

    @property
    def model_id(self) -> tuple[str, str]:
        """The shared model this request runs on (the task and the checkpoint's name)."""
        return (self.page, self.model)

    def link(self) -> dict[str, str]:
        """The query string that opens this request in a new session."""
        return {
            "source": self.source,
            "model": self.model,
            WHEN_PARAM[self.page]: self.when,
            "method": ",".join(self.methods),
        }

    def describe(self) -> str:
        direction = f" [{self.direction}]" if self.direction else ""
        return f"/{self.page} {self.source} {self.model} {self.when} {','.join(self.methods)}{direction}"


@dataclasses.dataclass
class Interaction:
    """One script run a session asked for (``action`` ``open`` for a link opened)."""

    session: int
    page: str
    action: str
    start: float
    end: float
    seconds: float
    maps_seconds: float | None
    status: str | None
    key: MapKey | None
    errors: list[str]


@dataclasses.dataclass(frozen=True)
class Markets:
    """What sessions pick from: the NIFTY demo's usable days, each demo ticker's window ends."""

    calendar: tuple[dt.date, ...]
    ends: dict[str, tuple[str, ...]]


@dataclasses.dataclass(frozen=True)
class LoadConfig:
    """The load: how many sessions, how long, how they behave.

    Attributes:
        sessions: concurrent sessions (≥ 1); session ``i`` uses ``pages[i % len(pages)]``.
        duration_s: seconds from the warm-up mark until no new interaction is started.
        seed: seeds every session's choices.
        think_s: mean pause between a session's interactions (uniform in ``[0, 2 × think_s]``).
        timeout_s: the longest one script run may take (then an error, and the session reconnects); a
            warm-up mark not reached within ``timeout_s + duration_s`` ends the phase with an error.
        pages: the pages sessions use.
        warmup_rounds: interactions every session finishes before the warm-up memory is read.
    """

    sessions: int = 20
    duration_s: float = 60.0
    seed: int = 0
    think_s: float = 1.0
    timeout_s: float = 120.0
    pages: tuple[str, ...] = PAGES
    warmup_rounds: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.sessions, bool) or not isinstance(self.sessions, int) or self.sessions < 1:
            raise ValueError(f"sessions must be an int ≥ 1; got {self.sessions!r}")
        for name in ("duration_s", "timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")
        if not self.think_s >= 0:
            raise ValueError(f"think_s must be ≥ 0; got {self.think_s!r}")
        if not self.pages or any(page not in PAGES for page in self.pages):
            raise ValueError(f"pages must be a non-empty subset of {PAGES}; got {self.pages!r}")
        if self.warmup_rounds < 0:
            raise ValueError(f"warmup_rounds must be ≥ 0; got {self.warmup_rounds!r}")


@dataclasses.dataclass
class LoadRun:
    """Everything the concurrent phase recorded."""

    config: LoadConfig
    interactions: list[Interaction] = dataclasses.field(default_factory=list)
    #: request → chart name → the SHA-256 digests of what sessions received
    digests: dict[MapKey, dict[str, set[str]]] = dataclasses.field(default_factory=lambda: defaultdict(dict))
    memory: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    mem_at_warmup_mark_mb: float | None = None
    mem_at_last_run_mb: float | None = None
    warmup_s: float | None = None
    phase_s: float = 0.0
    server_cpu_after_warmup_s: float | None = None
    #: session errors outside a run (connect, disconnect, timeout)
    session_errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """One text per failed run (its errors joined by "; "), then the session errors."""
        texts = [
            f"session {item.session} {item.page} {item.action}: {'; '.join(item.errors)}"
            for item in self.interactions
            if item.errors
        ]
        return texts + self.session_errors


@dataclasses.dataclass(frozen=True)
class LoneCheck:
    """One request replayed by a lone session on a fresh server, against the concurrent sessions' charts."""

    key: MapKey
    lone: dict[str, str]
    concurrent: dict[str, set[str]]
    errors: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """Both charts byte-identical to every copy the concurrent sessions received, and no error."""
        return not self.errors and all(self.concurrent.get(chart) == {self.lone.get(chart)} for chart in CHARTS)


# --- the server ------------------------------------------------------------------------------------


def _group_processes(pgid: int) -> list[tuple[Path, list[str]]]:
    """``(/proc/<pid>, stat fields after the command)`` of every process in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being read
        if len(fields) > 12 and fields[2] == str(pgid):  # state, ppid, pgrp, …
            found.append((entry, fields))
    return found


def group_rss_mb(pgid: int) -> float:
    """The summed ``VmRSS`` (MB) of every process in process group ``pgid`` (Linux ``/proc``)."""
    total_kb = 0
    for entry, _ in _group_processes(pgid):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def group_cpu_s(pgid: int) -> float:
    """The summed user + system CPU seconds of the processes now in process group ``pgid``."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in _group_processes(pgid))  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_log_errors(log: str) -> dict[str, int]:
    """Each traceback in a server log as ``<deepest frame in this repository> → <exception line>``, counted."""
    found: dict[str, int] = defaultdict(int)
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = block.splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith(f'File "{REPO_ROOT}')]
        ending = next((line.strip() for line in lines if re.match(r"^[\w.]+(Error|Exception|Warning)\b", line)), "?")
        where = frames[-1].removeprefix(f'File "{REPO_ROOT}/').replace('", line ', ":") if frames else "?"
        found[f"{where} → {ending}"] += 1
    return dict(found)


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


# --- what sessions pick from -------------------------------------------------------------------------


def load_markets(pages: Sequence[str]) -> Markets:
    """The demo index's usable days and every demo ticker's window ends (computed here, as the pages do)."""
    calendar: tuple[dt.date, ...] = ()
    ends: dict[str, tuple[str, ...]] = {}
    if "nifty" in pages:
        days = make_nifty_days(load_source(f"demo:{DEMO_INDEX}", "1m").bars)
        calendar = tuple(stamp.date() for stamp in days.day)
    if "ticker" in pages:
        for symbol in DEMO_TICKERS:
            index = load_source(f"demo:{symbol}", "60m").bars.index[TICKER_WINDOW_BARS - 1 :]
            ends[symbol] = tuple(f"{stamp:%Y-%m-%dT%H:%M}" for stamp in index)
    return Markets(calendar=calendar, ends=ends)


def chart_titles(chart: bytes) -> list[str]:
    """The method labels a comparison chart's subplots are titled with, left to right."""
    proto = PlotlyChart()
    proto.ParseFromString(chart)
    annotations = json.loads(proto.spec).get("layout", {}).get("annotations", [])
    known = set(LABELS.values())
    return [note["text"] for note in annotations if note.get("text") in known]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- one session ---------------------------------------------------------------------------------------


class Phase:
    """What the sessions of one run share: the clock, the record, the warm-up mark."""

    def __init__(self, config: LoadConfig, pgid: int | None, progress: Progress) -> None:
        self.config = config
        self.pgid = pgid
        self.progress = progress
        self.run = LoadRun(config=config)
        self.t0 = time.monotonic()
        # until the warm-up mark moves it to ``mark + duration``; a mark never reached ends it here
        self.deadline = self.t0 + config.timeout_s + config.duration_s
        self.cpu_at_warmup_s: float | None = None
        self.runs_done = [0] * config.sessions
        self.printed = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def error(self, text: str) -> None:
        """Print one of the first :data:`PRINTED_ERRORS` errors as it happens."""
        self.printed += 1
        if self.printed <= PRINTED_ERRORS:
            self.progress(f"  ERROR at {self.now():.1f} s: {text}")

    def memory_mb(self) -> float | None:
        return None if self.pgid is None else round(group_rss_mb(self.pgid), 1)

    def finished_run(self, session: int) -> None:
        """Count a run; once every session has done its first run and the warm-up rounds, read the memory."""
        self.runs_done[session] += 1
        if self.run.warmup_s is None and min(self.runs_done) >= 1 + self.config.warmup_rounds:
            self.run.warmup_s = round(self.now(), 2)
            self.deadline = time.monotonic() + self.config.duration_s
            self.run.mem_at_warmup_mark_mb = self.memory_mb()
            self.cpu_at_warmup_s = None if self.pgid is None else group_cpu_s(self.pgid)
            self.progress(
                f"  warm: every session has done {1 + self.config.warmup_rounds} runs at {self.run.warmup_s:.1f} s; "
                f"server RSS {self.run.mem_at_warmup_mark_mb} MB"
            )


class _RecordedSessionError(Exception):
    """A run failed with a :class:`SessionError`, already recorded: the session starts over."""


class SessionDriver:
    """One simulated user: opens a page from a link, then interacts until the phase is over."""

    def __init__(self, index: int, base_url: str, phase: Phase, markets: Markets) -> None:
        self.index = index
        self.base_url = base_url
        self.phase = phase
        self.markets = markets
        self.config = phase.config
        self.rng = np.random.default_rng([self.config.seed, index])
        self.page = self.config.pages[index % len(self.config.pages)]
        self.source = (
            f"demo:{DEMO_INDEX}" if self.page == "nifty" else f"demo:{DEMO_TICKERS[(index // 2) % len(DEMO_TICKERS)]}"
        )
        self.methods: tuple[str, ...] = ()
        self.direction: str | None = None
        self.when = ""
        self.position = 0  # the ticker's window slider

    @property
    def ends(self) -> tuple[str, ...]:
        return self.markets.ends[self.source.removeprefix("demo:")]

    async def run(self) -> None:
        """Sessions reconnect after a session error (recorded), until the phase is over."""
        while time.monotonic() < self.phase.deadline:
            try:
                async with StreamlitSession(self.base_url, timeout_s=self.config.timeout_s) as session:
                    await self._open(session)
                    while True:
                        await asyncio.sleep(self.rng.uniform(0, 2 * self.config.think_s))
                        if time.monotonic() >= self.phase.deadline:
                            return
                        await self._interact(session)
            except (SessionError, KeyError) as error:  # connecting failed, or a widget is missing
                self.phase.run.session_errors.append(f"session {self.index} {self.page}: {error}")
                self.phase.error(f"session {self.index} {self.page}: {error}")
                await asyncio.sleep(1.0)
            except _RecordedSessionError:
                await asyncio.sleep(1.0)  # then a new session, as a user reloading the page

    def _pick_methods(self) -> tuple[str, ...]:
        count = int(self.rng.integers(1, len(ALL_METHODS) + 1))
        return tuple(str(key) for key in self.rng.permutation(ALL_METHODS)[:count])

    async def _open(self, session: StreamlitSession) -> None:
        self.methods = self._pick_methods()
        if self.page == "nifty":
            self.when = self.markets.calendar[int(self.rng.integers(len(self.markets.calendar)))].isoformat()
        else:
            self.position = int(self.rng.integers(len(self.ends)))
            self.when = self.ends[self.position]
        link = {"source": self.source, WHEN_PARAM[self.page]: self.when, "method": ",".join(self.methods)}
        await self._timed("open", session.open(self.page, link))
        if self.page == "ticker":
            direction = session.widgets.get("direction")
            self.direction = direction.proto.options[direction.proto.default] if direction is not None else None

    async def _interact(self, session: StreamlitSession) -> None:
        weights = ACTIONS[self.page]
        action = str(self.rng.choice(list(weights), p=np.array(list(weights.values())) / sum(weights.values())))
        if action in ("previous_day", "next_day"):
            calendar = self.markets.calendar
            position = calendar.index(dt.date.fromisoformat(self.when))
            position = min(max(position + (1 if action == "next_day" else -1), 0), len(calendar) - 1)
            self.when = calendar[position].isoformat()
            request = session.click(action)
        elif action == "pick_day":
            day = self.markets.calendar[int(self.rng.integers(len(self.markets.calendar)))]
            self.when = day.isoformat()
            request = session.set_value("nifty_day", day)
        elif action in ("step_window", "jump_window"):
            if action == "step_window":
                step = int(self.rng.integers(1, 4)) * int(self.rng.choice([-1, 1]))
                self.position = min(max(self.position + step, 0), len(self.ends) - 1)
            else:
                self.position = int(self.rng.integers(len(self.ends)))
            self.when = self.ends[self.position]
            request = session.set_value("ticker_window", self.position)
        elif action == "methods":
            missing = [key for key in ALL_METHODS if key not in self.methods]
            if len(self.methods) > 1 and (not missing or self.rng.random() < 0.5):
                drop = self.methods[int(self.rng.integers(len(self.methods)))]
                self.methods = tuple(key for key in self.methods if key != drop)
            else:
                self.methods = (*self.methods, missing[int(self.rng.integers(len(missing)))])
            request = session.set_value("methods", [LABELS[key] for key in self.methods])
        else:  # direction
            options = list(session.widgets["direction"].proto.options)
            self.direction = str(self.rng.choice([option for option in options if option != self.direction]))
            request = session.set_value("direction", self.direction)
        await self._timed(action, request)

    async def _timed(self, action: str, request: Awaitable[RunResult]) -> None:
        """Await one run, check it, record it (a :class:`SessionError` is recorded, then ends the session)."""
        start = self.phase.now()
        try:
            result: RunResult = await request
        except (SessionError, KeyError) as error:  # KeyError: the last run did not draw the widget
            end = self.phase.now()
            self.phase.run.interactions.append(
                Interaction(self.index, self.page, action, start, end, end - start, None, None, None, [str(error)])
            )
            self.phase.error(f"session {self.index} {self.page} {action}: {error}")
            raise _RecordedSessionError from error
        end = self.phase.now()
        errors = list(result.errors)
        key = self._check(result, errors)
        if errors:
            self.phase.error(f"session {self.index} {self.page} {action}: {'; '.join(errors)}")
        self.phase.run.interactions.append(
            Interaction(
                session=self.index,
                page=self.page,
                action=action,
                start=start,
                end=end,
                seconds=result.seconds,
                maps_seconds=result.chart_seconds.get("comparison_chart"),
                status=result.status,
                key=key,
                errors=errors,
            )
        )
        self.phase.finished_run(self.index)

    def _check(self, result: RunResult, errors: list[str]) -> MapKey | None:
        """The page must show what was asked for; returns the request its charts answer."""
        query = result.query
        shown = query.get(WHEN_PARAM[self.page])
        if shown != self.when:
            errors.append(f"asked for {WHEN_PARAM[self.page]} {self.when}, the page shows {shown}")
        expected_methods = ",".join(self.methods) if set(self.methods) != set(ALL_METHODS) else None
        if query.get("method") != expected_methods:
            errors.append(f"asked for methods {expected_methods}, the URL says {query.get('method')}")
        missing = [chart for chart in CHARTS if chart not in result.charts]
        if missing:
            errors.append(f"no {', '.join(missing)} in the run")
            return None
        titles = chart_titles(result.charts["comparison_chart"])
        if titles != [LABELS[key] for key in self.methods]:
            errors.append(f"asked for {[LABELS[key] for key in self.methods]}, the comparison shows {titles}")
        if errors:
            return None
        key = MapKey(
            page=self.page,
            source=query.get("source", ""),
            model=query.get("model", ""),
            when=self.when,
            methods=self.methods,
            direction=self.direction,
        )
        for chart in CHARTS:
            self.phase.run.digests[key].setdefault(chart, set()).add(digest(result.charts[chart]))
        return key


# --- the phases --------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


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
    """The figures of one run (see the module docstring); ``log_errors`` from :func:`server_log_errors`."""
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
