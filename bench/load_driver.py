"""Driving the sessions of ``python -m bench.load``: what they pick from, one simulated user, the record.

The requests (:class:`MapKey`), the runs (:class:`Interaction`) and everything a phase records
(:class:`LoadRun`), the demo market sessions pick from (:func:`load_markets`), and
:class:`SessionDriver`: one user opening a page from a link, then interacting and checking each
answer, under the :class:`Phase` the sessions of one run share.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import numpy as np
from streamlit.proto.PlotlyChart_pb2 import PlotlyChart

from bench.load_server import group_cpu_s, group_rss_mb
from bench.session_client import RunResult, SessionError, StreamlitSession
from data import load_source, make_nifty_days
from data.demo import DEMO_INDEX, DEMO_TICKERS
from data.settings import TICKER_WINDOW_BARS
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
