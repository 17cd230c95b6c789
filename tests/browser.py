"""Drive the real dashboard in a real browser: the Streamlit server, Chromium, and when a run is over.

Shared by ``tests/test_browser.py`` and ``python -m bench.dashboard``; no pytest in here.

* :class:`StreamlitServer` starts ``streamlit run app.py`` on a free port in its own process group,
  with ``$CHART_XAI_CACHE`` set, polls ``/_stcore/health``, and always stops the whole group.
* :func:`launch_chromium` starts Debian's Chromium through Playwright (``playwright install`` cannot
  download browsers here); a missing binary raises :class:`ChromiumMissingError` that says how to fix it.
* :func:`new_page` opens a page that counts finished script runs, so that :func:`wait_idle` can wait
  for *the* run an interaction caused, not for the idle moment before it starts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from data.settings import CACHE_ENV_VAR
from xai import ALL_METHODS, METHODS

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1400, "height": 1000}
#: Streamlit's own browser tests start the server with these flags.
SERVER_FLAGS = (
    "--server.headless",
    "true",
    "--server.fileWatcherType",
    "none",
    "--browser.gatherUsageStats",
    "false",
    "--server.address",
    "127.0.0.1",
)

#: Counts the app's finished script runs: every change of ``stApp``'s ``data-test-script-state`` into
#: ``notRunning`` (from ``running``, ``rerunRequested``, …). Installed before any page script, so no
#: transition is missed, however fast; ``runs`` keeps the time of each, and ``input`` the time of the
#: last click or key press, for the benchmark.
RUN_COUNTER = """
window.__chartXai = {finished: 0, runs: [], input: null};
for (const type of ['click', 'keydown']) {
  document.addEventListener(type, () => { window.__chartXai.input = performance.now(); }, true);
}
new MutationObserver((records) => {
  for (const record of records) {
    const state = record.target.getAttribute('data-test-script-state');
    if (state === 'notRunning' && record.oldValue !== 'notRunning') {
      window.__chartXai.finished += 1;
      window.__chartXai.runs.push(performance.now());
    }
  }
}).observe(document, {
  subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state'],
});
"""
#: Idle: a run finished after the ``since``-th, the app reads ``notRunning``, and no element still shows
#: a skeleton (Streamlit loads element code lazily: a session's first metric, slider or chart is a
#: placeholder for a moment after its run has ended).
IDLE = """
since => window.__chartXai.finished > since
  && document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state') === 'notRunning'
  && !document.querySelector(
    '[data-testid="stSkeleton"], [data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]')
"""


class ChromiumMissingError(RuntimeError):
    """Debian's Chromium is not installed where Playwright is told to find it."""


class ServerError(RuntimeError):
    """The Streamlit server did not come up (the message ends with its log)."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamlitServer:
    """``streamlit run app.py`` in its own process group; use as a context manager.

    Args:
        cache_dir: the folder ``$CHART_XAI_CACHE`` points at, or ``None`` to keep the caller's
            environment (the user's warm cache folder).
        log_path: where the server's stdout and stderr go.
        port: the port, or ``None`` for a free one.
        extra_env: more environment variables for the server.
    """

    def __init__(
        self,
        *,
        cache_dir: Path | None,
        log_path: Path,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
        if cache_dir is not None:
            self.env[CACHE_ENV_VAR] = str(cache_dir)
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        """Start the process (returns at once; :meth:`wait_healthy` waits for it)."""
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "streamlit", "run", "app.py", *SERVER_FLAGS, "--server.port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends every child with it
        )

    def wait_healthy(self, timeout_s: float = 90.0) -> None:
        """Poll ``/_stcore/health`` until it answers ``ok``; :class:`ServerError` with the log otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerError(
                    f"streamlit exited with code {self.process and self.process.returncode}\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200 and reply.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.1)  # paces the polling, and notices an early exit at once
        raise ServerError(f"streamlit did not answer {self.url}/_stcore/health within {timeout_s:.0f} s\n{self.log()}")

    def log(self, tail_chars: int = 4000) -> str:
        """The end of the server's log."""
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail_chars:]

    def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> StreamlitServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with the flags this machine needs."""
    if not CHROMIUM.exists():
        raise ChromiumMissingError(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need Debian's chromium package: "
            "run `apt-get install chromium` (bash .ci/run installs it)."
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))


def new_page(browser: Browser) -> Page:
    """A page in a fresh context (a new Streamlit session) whose script runs are counted."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER)
    return context.new_page()


def finished_runs(page: Page) -> int:
    """How many script runs this page has seen finish."""
    return int(page.evaluate("window.__chartXai.finished"))


def wait_idle(page: Page, since: int = 0, timeout_s: float = 120.0) -> None:
    """Wait until a script run that finished after the ``since``-th one has left the app idle.

    ``since=0`` after loading a page waits for its first run; for an interaction pass
    :func:`finished_runs` taken before it (or use :func:`rerun_after`), because the app still reads
    ``notRunning`` for a moment after a click, until the server starts the rerun.
    """
    page.wait_for_function(IDLE, arg=since, timeout=timeout_s * 1000)


@contextlib.contextmanager
def rerun_after(page: Page, timeout_s: float = 120.0) -> Iterator[None]:
    """``with rerun_after(page): <interact>`` returns once the rerun it caused has finished."""
    since = finished_runs(page)
    yield
    wait_idle(page, since, timeout_s)


def open_app(page: Page, url: str, timeout_s: float = 180.0) -> None:
    """Load ``url`` and wait for its first script run to finish."""
    page.goto(url)
    wait_idle(page, 0, timeout_s)


# --- what a user sees ------------------------------------------------------------------------------

#: The comparison chart's subplot titles, one per method.
MAP_TITLES = [METHODS[key].label for key in ALL_METHODS]


def expect_clean(page: Page) -> None:
    """No exception, no error box, no "Page not found" dialog."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect(page.get_by_role("dialog", name="Page not found")).to_have_count(0)


def metric_value(page: Page, label: str) -> Locator:
    """The value of the metric whose label starts with ``label``."""
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label))
    return metric.get_by_test_id("stMetricValue")


def map_images(page: Page) -> list[str]:
    """The images (data URLs) plotly drew in the comparison chart: the model input and the five maps."""
    chart = page.locator(".st-key-comparison .js-plotly-plot")
    return chart.locator("image").evaluate_all("nodes => nodes.map(node => node.getAttribute('href'))")


def expect_explanation(page: Page, n_metrics: int = 4) -> None:
    """The prediction with its metrics, and the comparison chart with all five maps drawn."""
    prediction = page.locator(".st-key-prediction")
    expect(prediction).to_be_visible()
    expect(prediction.get_by_test_id("stMetric")).to_have_count(n_metrics)
    chart = page.locator(".st-key-comparison .js-plotly-plot")
    expect(chart).to_be_visible()
    for title in MAP_TITLES:
        expect(chart.get_by_text(title, exact=True)).to_be_visible()
    images = map_images(page)
    assert len(images) >= len(MAP_TITLES), f"{len(images)} images drawn in the comparison, expected a map per method"
    assert all(href and href.startswith("data:image/") for href in images)
    expect_clean(page)


def screenshot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
