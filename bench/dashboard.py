"""Dashboard benchmark in a real browser: ``python -m bench.dashboard [--days N] [--windows N]``.

A fresh ``streamlit run app.py`` process with the normal (warm) disk caches — ``$CHART_XAI_CACHE`` or
the user's cache folder — driven by Debian's Chromium through Playwright, as in the browser tests:

* ``cold_start_s`` — from starting the server process until the first explanation is drawn on
  ``/nifty`` opened from a link (the comparison chart with all five maps); ``server_ready_s`` is the
  part until ``/_stcore/health`` answers, ``cold_start_idle_s`` until that first run has finished.
* ``next_day_median_s`` — clicking "◀ Previous day" until all five maps of the day before are drawn,
  median over ``--days`` days never shown before in this server;
* ``revisit_median_s`` — clicking "Next day ▶" back to a day already shown until its maps are drawn,
  median over the same days;
* ``ticker_next_window_median_s`` / ``ticker_revisit_median_s`` — the same on ``/ticker``, moving the
  window slider one bar back (a new window) and then forward again (a window already shown).

"Drawn" means the comparison chart's images are all data URLs and differ from those before the
click; times run from the click or key press as the page saw it (``performance.now()``) to the
animation frame in which the new maps are in the page. ``*_idle_*`` figures run to the end of the
script run (trust section and downloads included), after which the next click is made. Prints as it
goes; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from data.settings import cache_dir
from tests.browser import (
    ChromiumMissingError,
    ServerError,
    StreamlitServer,
    finished_runs,
    launch_chromium,
    new_page,
    wait_idle,
)
from xai import ALL_METHODS, METHODS

TARGETS = {"cold_start_s": 20.0, "next_day_median_s": 1.5, "revisit_median_s": 0.3}
MAP_TITLES = [METHODS[key].label for key in ALL_METHODS]
CHART = ".st-key-comparison .js-plotly-plot"
#: Truthy (the time, ``performance.now()``) once the comparison chart shows images other than ``before``.
DRAWN = """
([chart, before, titles]) => {
  const plot = document.querySelector(chart);
  if (!plot) return false;
  const hrefs = Array.from(plot.querySelectorAll('image'), node => node.getAttribute('href') || '');
  if (hrefs.length < titles.length || !hrefs.every(href => href.startsWith('data:image/'))) return false;
  if (before && hrefs.length === before.length && hrefs.every((href, i) => href === before[i])) return false;
  const text = plot.textContent;
  return titles.every(title => text.includes(title)) && performance.now();
}
"""
TIMEOUT_MS = 180_000
#: Thread settings the server inherits (recorded with the figures: they change torch's speed a lot).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def map_images(page: Page) -> list[str]:
    """The comparison chart's images (the model input and the maps) as data URLs, or ``[]``."""
    return page.eval_on_selector_all(f"{CHART} image", "nodes => nodes.map(node => node.getAttribute('href'))")


def wait_drawn(page: Page, before: list[str] | None) -> float:
    """Wait for new maps in the comparison chart; return the page's time (ms) of the frame they appeared in."""
    handle = page.wait_for_function(DRAWN, arg=[CHART, before, MAP_TITLES], timeout=TIMEOUT_MS, polling="raf")
    return float(handle.json_value())


def timed_step(page: Page, act: Callable[[], None]) -> tuple[float, float]:
    """Do ``act`` (one click or key press); return (seconds until the new maps are drawn, until idle)."""
    before, since = map_images(page), finished_runs(page)
    act()
    drawn_ms = wait_drawn(page, before)
    wait_idle(page, since, TIMEOUT_MS / 1000)
    idle_ms = page.evaluate("window.__chartXai.runs.at(-1)")
    input_ms = page.evaluate("window.__chartXai.input")
    return (drawn_ms - input_ms) / 1000, (idle_ms - input_ms) / 1000


def steps(page: Page, name: str, act: Callable[[], None], count: int) -> tuple[list[float], list[float]]:
    """``count`` timed steps, printed as they go."""
    drawn, idle = [], []
    for index in range(count):
        to_draw, to_idle = timed_step(page, act)
        drawn.append(round(to_draw, 3))
        idle.append(round(to_idle, 3))
        print(f"  {name:15s} {index + 1:2d}: maps drawn {to_draw:6.3f} s, run finished {to_idle:6.3f} s", flush=True)
    return drawn, idle


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def nifty_figures(page: Page, url: str, days: int) -> dict:
    """Previous-day steps to days never shown, then next-day steps back over them."""
    page.goto(f"{url}/nifty")
    wait_drawn(page, None)
    wait_idle(page)
    previous = page.get_by_role("button", name="◀ Previous day")
    following = page.get_by_role("button", name="Next day ▶")
    print(f"/nifty: ◀ Previous day × {days} (days not shown before)", flush=True)
    next_drawn, next_idle = steps(page, "previous day", previous.click, days)
    print(f"/nifty: Next day ▶ × {days} (back over days already shown)", flush=True)
    back_drawn, back_idle = steps(page, "revisit day", following.click, days)
    return {
        "next_day_median_s": median(next_drawn),
        "next_day_idle_median_s": median(next_idle),
        "revisit_median_s": median(back_drawn),
        "revisit_idle_median_s": median(back_idle),
        "next_day_s": next_drawn,
        "next_day_idle_s": next_idle,
        "revisit_s": back_drawn,
        "revisit_idle_s": back_idle,
    }


def ticker_figures(page: Page, url: str, windows: int) -> dict:
    """The window slider one bar back at a time, then forward again over the same windows."""
    start = time.perf_counter()
    page.goto(f"{url}/ticker")
    wait_drawn(page, None)
    wait_idle(page)
    first = time.perf_counter() - start
    print(f"/ticker: first explanation in a new session {first:.3f} s", flush=True)
    slider = page.get_by_role("slider", name="Window end", exact=False)
    slider.focus()
    print(f"/ticker: window slider one bar back × {windows} (windows not shown before)", flush=True)
    back_drawn, back_idle = steps(page, "previous window", lambda: slider.press("ArrowLeft"), windows)
    print(f"/ticker: window slider one bar forward × {windows} (windows already shown)", flush=True)
    forward_drawn, forward_idle = steps(page, "revisit window", lambda: slider.press("ArrowRight"), windows)
    return {
        "ticker_first_s": round(first, 3),
        "ticker_next_window_median_s": median(back_drawn),
        "ticker_next_window_idle_median_s": median(back_idle),
        "ticker_revisit_median_s": median(forward_drawn),
        "ticker_revisit_idle_median_s": median(forward_idle),
        "ticker_next_window_s": back_drawn,
        "ticker_revisit_s": forward_drawn,
    }


def run(days: int, windows: int, ticker: bool) -> dict:
    figures: dict = {
        "cache_dir": str(cache_dir()),
        "days": days,
        "windows": windows,
        "torch_threads_env": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "load_average_1min_start": round(os.getloadavg()[0], 2),
    }
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="bench-dashboard-") as scratch:
        browser = launch_chromium(playwright)  # started before the server: not part of the cold start
        first = new_page(browser)
        server = StreamlitServer(cache_dir=None, log_path=Path(scratch) / "streamlit.log")
        start = time.perf_counter()
        with server:
            server.wait_healthy()
            figures["server_ready_s"] = round(time.perf_counter() - start, 3)
            print(f"server ready (health ok) {figures['server_ready_s']:.3f} s", flush=True)
            first.goto(f"{server.url}/nifty")
            wait_drawn(first, None)
            figures["cold_start_s"] = round(time.perf_counter() - start, 3)
            print(f"cold start: first explanation drawn on /nifty {figures['cold_start_s']:.3f} s", flush=True)
            wait_idle(first, 0, TIMEOUT_MS / 1000)
            figures["cold_start_idle_s"] = round(time.perf_counter() - start, 3)
            print(f"cold start: first run finished {figures['cold_start_idle_s']:.3f} s", flush=True)
            # Streamlit runs a server's first script run in its pages-directory mode (pages/ sits next to
            # app.py): the page is right, but a "Page not found" dialog covers it. Recorded, then left.
            figures["page_not_found_on_first_link"] = first.get_by_role("dialog", name="Page not found").count() > 0
            first.context.close()
            figures.update(nifty_figures(new_page(browser), server.url, days))
            if ticker:
                figures.update(ticker_figures(new_page(browser), server.url, windows))
        browser.close()
    figures["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=12, help="days stepped back and forth on /nifty (default 12)")
    parser.add_argument("--windows", type=int, default=10, help="windows stepped on /ticker (default 10)")
    parser.add_argument("--no-ticker", action="store_true", help="measure /nifty only")
    args = parser.parse_args(argv)
    if args.days < 1 or args.windows < 1:
        parser.error("--days and --windows must be at least 1")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
    try:
        figures = run(args.days, args.windows, not args.no_ticker)
    except (ChromiumMissingError, ServerError) as error:
        print(f"bench.dashboard: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    figures["targets"] = TARGETS
    figures["meets_targets"] = {name: figures[name] < limit for name, limit in TARGETS.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
