"""Regenerate the README's screenshots: the real dashboard, in the real browser, one PNG per page.

    python docs/screenshots.py [--out docs/screenshots] [--only ticker nifty]

Starts ``streamlit run app.py`` the way the browser tests do (:class:`tests.browser.StreamlitServer`
on a free port, with a temporary ``$CHART_XAI_CACHE``, so nothing but the PNGs is written into the
repository), opens ``/`` once (streamlit#9624: the server's first session must not be a deep link),
then opens each page in a fresh browser session, waits until its script run has finished and every
visible chart and image is drawn, and saves the top of the page (at most ``MAX_HEIGHT`` px) shrunk
to ``WIDTH`` px and palette-quantised. Evaluate is shown after pressing Run with the fewest samples.

Exits 2 with one line on stderr when Chromium or Playwright is missing, 1 when the server does not
start or a page shows an error (the other pages are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere: import the repository's packages
    sys.path.insert(0, str(REPO_ROOT))

#: Width of the saved PNG, and the most of the page (in CSS px, from the top) that is captured.
WIDTH = 900
MAX_HEIGHT = 1600
#: A saved PNG above this many bytes is quantised again with fewer colours.
MAX_BYTES = 250_000
#: Epochs of the Train page's run.
TRAIN_EPOCHS = 2
#: Seconds a page's first script run may take (the first NIFTY day also compiles pyts: ≈ 25 s).
PAGE_TIMEOUT_S = 300.0

#: Where the page is saved when a capture fails (in the temporary folder, for a look).
FAILED_PNG = "chart-xai-screenshot-failed.png"
#: Every visible chart and image is drawn: plotly's SVG is there, a vega chart has its canvas, and
#: every image has loaded. Charts in collapsed expanders are not visible and not waited for.
DRAWN = """
() => {
  const visible = (node) => node.checkVisibility ? node.checkVisibility() : node.offsetParent !== null;
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const plotly = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')].filter(visible);
  if (!plotly.every((chart) => chart.querySelector('.js-plotly-plot .main-svg'))) return false;
  const vega = [...main.querySelectorAll('[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]')]
    .filter(visible);
  if (!vega.every((chart) => chart.querySelector('canvas, svg'))) return false;
  return [...document.querySelectorAll('img')].filter(visible).every((img) => img.complete && img.naturalWidth > 0);
}
"""
#: The height of the page's content: Streamlit scrolls inside ``stMain``, not the document.
CONTENT_HEIGHT = """
() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]', 'html']
  .map((selector) => document.querySelector(selector)?.scrollHeight || 0))
"""


def fail(message: str, code: int) -> None:
    """One line on stderr, then exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_evaluation(page, rerun_after: Callable) -> None:
    """Evaluate: the fewest deletion/insertion samples (the slow part), then Run, and wait for the figures."""
    settings = page.get_by_test_id("stExpander").filter(has_text="Settings").locator("summary")
    settings.click()
    slider = page.get_by_role("slider", name="Samples for deletion and insertion")
    slider.focus()
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        slider.press("Home")
    settings.click()  # folded again, so that the figures move up
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        page.get_by_role("button", name="Run").click()


def run_training(page, rerun_after: Callable) -> None:
    """Train: the NIFTY-day classifier for two epochs (≈ 20 s), so that the loss chart and the verdict show."""
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        page.get_by_text("NIFTY-day classifier", exact=False).first.click()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        epochs.fill(str(TRAIN_EPOCHS))
        epochs.press("Enter")
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        page.get_by_role("button", name="Start training").click()


def run_replay(page, rerun_after: Callable) -> None:
    """Alerts: watch demo:ACME at 0.3 %, then replay the default two weeks (≈ 10 s), so the feed fills."""
    spin = page.get_by_role("spinbutton", name="Threshold (% move)").first
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        spin.fill("0.3")
        spin.press("Enter")
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        page.get_by_role("button", name="Add to the watchlist").click()
    page.get_by_test_id("stExpander").filter(has_text="Replay the demo market").locator("summary").click()
    with rerun_after(page, timeout_s=PAGE_TIMEOUT_S):
        page.get_by_role("button", name="Replay", exact=True).click()


#: name → (url path, what to do once the page has opened)
PAGES: dict[str, tuple[str, Callable | None]] = {
    "home": ("", None),
    "ticker": ("ticker", None),
    "ticker-edit": ("ticker?edit=remove:46-50", None),
    "nifty": ("nifty", None),
    "what-if": ("what-if", None),
    "alerts": ("alerts", run_replay),
    "evaluate": ("evaluate", run_evaluation),
    "train": ("train", run_training),
    "data": ("data", None),
}
#: name → the heading the picture starts at, when it is not the page's top (scrolled to once all is drawn)
FOCUS = {"ticker-edit": "What if the chart were different"}


def wait_drawn(page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """Every visible chart drawn, then the content's height steady for a second (plotly lays out late)."""
    page.wait_for_function(DRAWN, timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    height = -1
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        now = page.evaluate(CONTENT_HEIGHT)
        if now == height:
            break
        height = now
    page.wait_for_function(DRAWN, timeout=timeout_s * 1000)


def shrink(png: bytes) -> bytes:
    """``WIDTH`` px wide, palette-quantised (fewer colours until it is under ``MAX_BYTES``), optimised."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(image.height * WIDTH / image.width)
    image = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    for colours in (256, 128, 64, 32):
        buffer = io.BytesIO()
        image.quantize(colors=colours, dither=Image.Dither.NONE).save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= MAX_BYTES:
            break
    return buffer.getvalue()


def capture(browser, url: str, action: Callable | None, helpers, focus: str | None = None) -> tuple[bytes, list[str]]:
    """Open ``url`` in a new session, do ``action``, wait for the drawing; the PNG (from the top, or from the
    heading named ``focus``) and any errors shown."""
    page = helpers.new_page(browser)
    try:
        helpers.open_app(page, url, timeout_s=PAGE_TIMEOUT_S)
        if action is not None:
            action(page, helpers.rerun_after)
        wait_drawn(page)
        height = min(max(int(page.evaluate(CONTENT_HEIGHT)), helpers.VIEWPORT["height"]), MAX_HEIGHT)
        page.set_viewport_size({"width": helpers.VIEWPORT["width"], "height": height})
        wait_drawn(page)  # the charts are responsive: let them settle at the new size
        if focus is not None:  # the heading at the top of the picture
            page.get_by_role("heading", name=focus).first.evaluate("node => node.scrollIntoView({block: 'start'})")
            wait_drawn(page)
        errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all_inner_texts()
        return page.screenshot(), [" ".join(text.split())[:200] for text in errors]
    except Exception:
        with contextlib.suppress(Exception):  # what the page showed when it failed, outside the repository
            page.screenshot(path=str(Path(tempfile.gettempdir()) / FAILED_PNG), full_page=True)
        raise
    finally:
        page.context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the README's page screenshots from the real app.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--only", nargs="+", choices=list(PAGES), metavar="PAGE", help=f"some of {', '.join(PAGES)}")
    args = parser.parse_args(argv)

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        import tests.browser as helpers
    except ImportError as error:
        fail(f"{error}; install the test dependencies: python -m pip install -r requirements-test.txt", 2)
    if not helpers.CHROMIUM.exists():
        fail(f"Chromium is not installed at {helpers.CHROMIUM}; install it with `apt-get install -y chromium`", 2)

    started = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="chart-xai-screenshots-") as temp, sync_playwright() as playwright:
        try:
            browser = helpers.launch_chromium(playwright)
        except (helpers.ChromiumMissingError, PlaywrightError) as error:
            fail(" ".join(str(error).split())[:300], 2)
        server = helpers.StreamlitServer(cache_dir=Path(temp) / "cache", log_path=Path(temp) / "streamlit.log")
        with server:
            try:
                server.wait_healthy(timeout_s=PAGE_TIMEOUT_S)
                warm_up = helpers.new_page(browser)  # streamlit#9624: the first session opens "/"
                helpers.open_app(warm_up, server.url + "/", timeout_s=PAGE_TIMEOUT_S)
                warm_up.context.close()
            except (helpers.ServerError, PlaywrightError) as error:
                print(server.log(), file=sys.stderr)
                fail(f"the app did not start: {str(error).splitlines()[0]}", 1)
            for name in args.only or PAGES:
                path, action = PAGES[name]
                began = time.monotonic()
                try:
                    png, errors = capture(browser, f"{server.url}/{path}", action, helpers, FOCUS.get(name))
                except PlaywrightError as error:
                    failed = Path(tempfile.gettempdir()) / FAILED_PNG
                    message = f"/{path}: {str(error).splitlines()[0]} (the page as it was: {failed})"
                    problems.append(message)
                    print(f"FAILED   {message}", flush=True)
                    continue
                data = shrink(png)
                target = args.out / f"{name}.png"
                target.write_bytes(data)
                shown = target.relative_to(REPO_ROOT) if target.is_relative_to(REPO_ROOT) else target
                seconds = time.monotonic() - began
                print(f"wrote    {shown} ({len(data) / 1000:.0f} KB) from /{path} in {seconds:.1f} s", flush=True)
                problems += [f"/{path} shows an error: {text}" for text in errors]
            if problems:
                print(f"the server's log ends:\n{server.log()}", file=sys.stderr)
        browser.close()
    print(f"done in {time.monotonic() - started:.0f} s")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
