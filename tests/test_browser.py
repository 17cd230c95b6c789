"""End to end: the real dashboard (``streamlit run app.py``) in a real browser (Debian's Chromium).

One server for the whole session, on a free port, with its own temporary cache folder; every test
opens its page in a fresh browser context (a new Streamlit session) from a link, waits for the
script run its interaction caused (:func:`tests.browser.wait_idle`), and checks what a user sees.
Screenshots go to ``$BROWSER_ARTIFACTS`` or a pytest temporary folder (the path is printed), never
into the repository.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import os
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bench.load_driver import chart_titles, run_async
from bench.session_client import RunResult, StreamlitSession
from data.demo import DEMO_INDEX, demo_bars
from pages.ui.navigation import APP_PAGES
from tests.browser import (
    MAP_TITLES,
    REPO_ROOT,
    RUN_COUNTER,
    ChromiumMissingError,
    ServerError,
    StreamlitServer,
    expect_clean,
    expect_explanation,
    launch_chromium,
    map_images,
    metric_value,
    new_page,
    open_app,
    rerun_after,
    screenshot,
)
from xai import METHODS

pytestmark = pytest.mark.browser

#: Pages every release has (url path → navigation title); app.py may list more, and they are opened too.
REQUIRED_PAGES = {"": "Home", "ticker": "Ticker", "nifty": "NIFTY day", "what-if": "What if", "data": "Data"}


@dataclasses.dataclass(frozen=True)
class AppPage:
    """One ``st.Page`` of app.py: its file, navigation title, url path and the page's own ``st.title``."""

    file: str
    title: str
    url_path: str
    heading: str


def _page_heading(file: str) -> str:
    """The first ``st.title("…")`` text in a page file."""
    for node in ast.walk(ast.parse((REPO_ROOT / file).read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "title"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
    raise AssertionError(f"{file} has no st.title with a literal text; give every page a title")


def app_pages() -> list[AppPage]:
    """The pages app.py hands to ``st.navigation`` (so a new page is tested too)."""
    return [AppPage(page.file, page.title, page.url_path, _page_heading(page.file)) for page in APP_PAGES]


PAGES = app_pages()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """Where screenshots go: ``$BROWSER_ARTIFACTS`` (outside the repository) or a temporary folder."""
    configured = os.environ.get("BROWSER_ARTIFACTS")
    folder = Path(configured).resolve() if configured else tmp_path_factory.mktemp("browser-artifacts")
    if folder.is_relative_to(REPO_ROOT):
        pytest.fail(f"BROWSER_ARTIFACTS={configured} is inside the repository; point it outside {REPO_ROOT}")
    folder.mkdir(parents=True, exist_ok=True)
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nbrowser screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium through Playwright; fails (never skips) when it is not installed."""
    with sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright)
        except ChromiumMissingError as error:
            pytest.fail(str(error))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def app_url(chromium: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with a temporary cache folder; stopped at the end.

    No warm-up visit: the first test may open any page by its link
    (:func:`test_a_deep_link_is_right_on_a_fresh_server` checks that on servers of its own).
    """
    folder = tmp_path_factory.mktemp("browser-server")
    # the app itself runs torch on one thread ($CHART_XAI_TORCH_THREADS, set once in app.py)
    with StreamlitServer(cache_dir=folder / "cache", log_path=folder / "streamlit.log") as server:
        try:
            server.wait_healthy()
        except ServerError as error:
            pytest.fail(str(error))
        yield server.url


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context: a new Streamlit session."""
    tab = new_page(chromium)
    yield tab
    tab.context.close()


# --- checks --------------------------------------------------------------------------------------


# --- tests ---------------------------------------------------------------------------------------


def test_app_lists_the_required_pages():
    assert {page.url_path: page.title for page in PAGES if page.url_path in REQUIRED_PAGES} == REQUIRED_PAGES
    assert len({page.url_path for page in PAGES}) == len(PAGES)


def expect_our_navigation(page: Page) -> None:
    """The sidebar lists exactly app.py's pages, in order, each linking to its own URL path."""
    links = page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(len(PAGES))
    paths = [urllib.parse.urlparse(href).path.strip("/") for href in links.evaluate_all("n => n.map(a => a.href)")]
    assert paths == [app_page.url_path for app_page in PAGES]
    for app_page in PAGES:
        expect(links.get_by_text(app_page.title, exact=True)).to_be_visible()


@pytest.mark.parametrize("first_visits", [("train", "what-if"), ("nifty", "data")], ids=["train-what-if", "nifty-data"])
def test_a_deep_link_is_right_on_a_fresh_server(
    first_visits: tuple[str, str], chromium: Browser, tmp_path: Path, artifacts: Path
):
    """A bookmark opened as the very first visit to a server, and again after a restart on the same
    cache folder: the page asked for, under our navigation (Streamlit's folder mode showed every file
    of ``pages/``, helpers included, with other URLs)."""
    headings = {app_page.url_path: app_page.heading for app_page in PAGES}
    for number, url_path in enumerate(first_visits):
        with StreamlitServer(cache_dir=tmp_path / "cache", log_path=tmp_path / f"server-{number}.log") as server:
            try:
                server.wait_healthy()
            except ServerError as error:
                pytest.fail(str(error))
            tab = new_page(chromium)
            try:
                tab.goto(f"{server.url}/{url_path}")
                expect(tab.locator("h1").first).to_have_text(headings[url_path], timeout=120_000)
                expect_our_navigation(tab)
                assert urllib.parse.urlparse(tab.url).path.strip("/") == url_path
                expect_clean(tab)
                screenshot(tab, artifacts, f"fresh-server-{url_path}")
            finally:
                tab.context.close()


@pytest.mark.parametrize("app_page", PAGES, ids=[page.url_path or "home" for page in PAGES])
def test_every_page_opens_from_a_link(app_page: AppPage, app_url: str, page: Page, artifacts: Path):
    open_app(page, f"{app_url}/{app_page.url_path}")
    expect(page.locator("h1").first).to_have_text(app_page.heading)
    expect_our_navigation(page)
    expect_clean(page)
    screenshot(page, artifacts, f"page-{app_page.url_path or 'home'}")


def test_nifty_day_explains_a_day_and_steps_to_the_day_before(app_url: str, page: Page, artifacts: Path):
    open_app(page, f"{app_url}/nifty")
    expect_explanation(page)
    expect(page).to_have_url(re.compile(r"[?&]day=\d{4}-\d{2}-\d{2}"))
    newest_day = re.search(r"day=([\d-]+)", page.url).group(1)
    prediction = page.locator(".st-key-prediction").inner_text()
    maps = map_images(page)

    with rerun_after(page):
        page.get_by_role("button", name="◀ Previous day").click()
    expect_explanation(page)
    earlier_day = re.search(r"day=([\d-]+)", page.url).group(1)
    assert earlier_day < newest_day
    assert page.locator(".st-key-prediction").inner_text() != prediction
    assert map_images(page) != maps
    screenshot(page, artifacts, "nifty-previous-day")


def test_ticker_explains_a_window_and_follows_the_symbol_and_the_threshold(app_url: str, page: Page, artifacts: Path):
    open_app(page, f"{app_url}/ticker")
    expect_explanation(page)
    expect(page).to_have_url(re.compile(r"source=demo%3AACME"))
    acme = page.locator(".st-key-prediction").inner_text()
    acme_maps = map_images(page)

    symbol = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Demo symbol (synthetic)")
    symbol.click()
    with rerun_after(page):
        page.get_by_role("option", name="GLOBEX", exact=True).click()
    expect_explanation(page)
    expect(page).to_have_url(re.compile(r"source=demo%3AGLOBEX"))
    assert page.locator(".st-key-prediction").inner_text() != acme
    assert map_images(page) != acme_maps
    screenshot(page, artifacts, "ticker-globex")

    alert = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Alert", exact=True))
    expect(alert.get_by_test_id("stMetricDelta")).to_have_text(re.compile(r"vs 1 %$"))
    threshold = page.get_by_role("spinbutton", name="Alert threshold (% move)")
    with rerun_after(page):
        threshold.fill("0.05")
        threshold.press("Enter")
    expect(alert.get_by_test_id("stMetricDelta")).to_have_text(re.compile(r"vs 0\.05 %$"))
    expect(page).to_have_url(re.compile(r"threshold=0\.05"))
    moved = abs(float(re.search(r"\|([\d.]+) %\|", alert.get_by_test_id("stMetricDelta").inner_text()).group(1)))
    expect(alert.get_by_test_id("stMetricValue")).to_have_text("fires" if moved >= 0.05 else "quiet")
    expect_explanation(page)
    screenshot(page, artifacts, "ticker-threshold")


def test_what_if_slider_recounts_the_alerts(app_url: str, page: Page, artifacts: Path):
    open_app(page, f"{app_url}/what-if")
    expect_clean(page)
    slider = page.get_by_role("slider", name="Alert threshold (% move in the next hour)")
    start = float(slider.get_attribute("value"))
    figures = {label: metric_value(page, label).inner_text() for label in ("Alerts fired", "Moves ≥ threshold")}
    line_x = page.locator(".js-plotly-plot .shapelayer path").first.get_attribute("d")

    slider.focus()
    for _ in range(4):  # one rerun per step
        with rerun_after(page):
            slider.press("ArrowLeft")
    lowered = float(slider.get_attribute("value"))
    assert lowered < start
    expect(page).to_have_url(re.compile(rf"threshold={lowered:g}(&|$)"))
    # a lower threshold: at least as many alerts and qualifying moves, and strictly more moves here
    assert int(metric_value(page, "Alerts fired").inner_text()) >= int(figures["Alerts fired"])
    assert int(metric_value(page, "Moves ≥ threshold").inner_text()) > int(figures["Moves ≥ threshold"])
    assert page.locator(".js-plotly-plot .shapelayer path").first.get_attribute("d") != line_x
    expect_clean(page)
    screenshot(page, artifacts, "what-if-threshold")


# --- the journey of issue 13: one upload, every page ---------------------------------------------

JOURNEY_FILE = "my minutes.csv"
#: Days of one-minute bars in the journey's upload: enough hourly windows for the ticker task's
#: purged split (50 bars at each boundary), and first hours for the NIFTY-day task.
JOURNEY_DAYS = 120


def start_a_replay(page: Page, url: str, threshold: str = "0.3") -> None:
    """Alerts page: watch the suggested demo symbol at ``threshold`` %, then replay the default two weeks."""
    spin = page.get_by_role("spinbutton", name="Threshold (% move)").first
    with rerun_after(page):
        spin.fill(threshold)
        spin.press("Enter")
    with rerun_after(page):
        page.get_by_role("button", name="Add to the watchlist").click()
    # adding reruns the page twice (the add, then st.rerun): wait for the entry, then open the page
    # afresh, so that no late rerun redraws the expander folded after it was opened
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=60_000)
    open_app(page, url)
    page.get_by_test_id("stExpander").filter(has_text="Replay the demo market").locator("summary").click()
    with rerun_after(page, timeout_s=300):
        page.get_by_role("button", name="Replay", exact=True).click()


def test_a_replay_shows_alerts_with_their_maps_and_links_to_the_window(app_url: str, page: Page, artifacts: Path):
    open_app(page, f"{app_url}/alerts")
    expect_clean(page)
    start_a_replay(page, f"{app_url}/alerts")
    expect_clean(page)
    expect(page.get_by_text(re.compile(r"demo:ACME at 0\.3 % \(both\): \d+ alerts"))).to_be_visible()
    view = page.locator(".st-key-alert_view")
    expect(view.get_by_test_id("stMetric")).to_have_count(4)
    chart = page.locator(".st-key-comparison .js-plotly-plot")
    for title in MAP_TITLES:
        expect(chart.get_by_text(title, exact=True)).to_be_visible()
    assert len(map_images(page)) >= len(MAP_TITLES)
    screenshot(page, artifacts, "alerts-replay")
    link = view.get_by_role("link", name="Open this window on the Ticker page")
    href = link.get_attribute("href")  # Streamlit opens markdown links in a new tab: follow it here
    end = re.search(r"end=([0-9-]+T[0-9]+)%3A([0-9]+)", href)
    open_app(page, f"{app_url}{href}")
    expect(page).to_have_url(re.compile(rf"/ticker\?.*end={end.group(1)}%3A{end.group(2)}"))
    expect_explanation(page)


def journey_csv(folder: Path) -> Path:
    """A plain timestamp + OHLCV CSV of one-minute index bars (from the demo generator, but an upload
    as far as the app knows: a file with a name, no demo label)."""
    bars = demo_bars(DEMO_INDEX, "1m").bars
    days = bars.index.normalize().unique()[-JOURNEY_DAYS:]
    path = folder / JOURNEY_FILE
    bars.loc[bars.index.normalize().isin(days)].to_csv(path, index_label="timestamp")
    return path


def sidebar_data_line(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar").locator(".st-key-data_line")


def go_to(page: Page, title: str) -> None:
    """Follow the sidebar's link to a page (the same session)."""
    with rerun_after(page, timeout_s=300):
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def test_one_upload_follows_the_user_through_every_page(app_url: str, page: Page, artifacts: Path, tmp_path: Path):
    """Upload once (Train), train a tiny model on it, use it, and find the same data and model on every page."""
    upload = journey_csv(tmp_path)
    open_app(page, f"{app_url}/train")
    expect(page.get_by_role("radio", name="Ticker regressor (next-hour close)")).to_be_checked()  # the default
    # waits on what the page shows, not on counted reruns: a rerun the page starts itself miscounts
    page.get_by_text("Upload a file", exact=True).click()
    dropzone = page.get_by_test_id("stFileUploaderDropzoneInput")
    expect(dropzone).to_be_attached(timeout=120_000)
    dropzone.set_input_files(str(upload))
    start = page.get_by_role("button", name="Start training")
    expect(start).to_be_enabled(timeout=300_000)  # disabled until the file is read
    start.click()  # the default 3 epochs: a few seconds on this small model
    upload_label = re.escape(f"{JOURNEY_FILE} (your upload)")
    use = page.get_by_role("button", name=re.compile(rf"^Use this model and its data \({upload_label}\)"))
    expect(use).to_be_visible(timeout=600_000)
    with rerun_after(page):
        use.click()
    expect(page.get_by_text("Every page of this session now uses this model, on its data")).to_be_visible()
    expect(sidebar_data_line(page)).to_contain_text(f"{JOURNEY_FILE} (your upload)")
    screenshot(page, artifacts, "journey-train")

    go_to(page, "Ticker")
    expect_explanation(page)
    expect(sidebar_data_line(page)).to_contain_text(f"{JOURNEY_FILE} (your upload)")
    expect(sidebar_data_line(page)).to_contain_text("bars of 60m")
    expect(page).to_have_url(re.compile(r"source=upload%3A[0-9a-f]{32}"))
    model = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    expect(model).not_to_have_text(re.compile("^shipped"))  # the model just trained
    # its newest window came after its own test split (no outcome yet)
    expect(page.locator(".st-key-split_mark")).to_contain_text("newer than the model's test split")
    screenshot(page, artifacts, "journey-ticker")

    go_to(page, "NIFTY day")
    expect_explanation(page, n_metrics=4)
    expect(sidebar_data_line(page)).to_contain_text(f"{JOURNEY_FILE} (your upload)")
    expect(sidebar_data_line(page)).to_contain_text("bars of 1m")
    expect(page).to_have_url(re.compile(r"source=upload%3A[0-9a-f]{32}"))
    # the shipped classifier never saw this file
    expect(page.locator(".st-key-split_mark")).to_contain_text("The model was not trained on this data")
    screenshot(page, artifacts, "journey-nifty")

    go_to(page, "What if")
    expect(page.get_by_text(re.compile(rf"hourly forecasts of {upload_label}"))).to_be_visible()
    expect(sidebar_data_line(page)).to_contain_text(f"The model's data: {JOURNEY_FILE} (your upload)")
    expect_clean(page)

    go_to(page, "Evaluate")
    with rerun_after(page, timeout_s=300):
        page.get_by_text("Ticker regressor", exact=True).click()
    expect(page.get_by_text(re.compile(rf"tested on {upload_label}"))).to_be_visible()
    expect_clean(page)

    go_to(page, "Data")
    expect(sidebar_data_line(page)).to_contain_text(f"{JOURNEY_FILE} (your upload)")
    expect(metric_value(page, "Interval")).to_have_text("60m")
    expect_clean(page)
    assert "upload:" not in page.locator("section.main, [data-testid='stMain']").first.inner_text()
    screenshot(page, artifacts, "journey-data")


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_five_map_titles_never_overlap(width: int, app_url: str, chromium: Browser, artifacts: Path):
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    context.add_init_script(RUN_COUNTER)
    tab = context.new_page()
    try:
        open_app(tab, f"{app_url}/ticker")
        expect_explanation(tab)
        titles = tab.locator(".st-key-comparison .js-plotly-plot g.annotation")
        boxes = {}
        for index in range(titles.count()):
            text = (titles.nth(index).text_content() or "").strip()  # SVG: no inner_text
            if text in MAP_TITLES:
                boxes[text] = titles.nth(index).bounding_box()
        assert sorted(boxes) == sorted(MAP_TITLES)
        for first, a in boxes.items():
            for second, b in boxes.items():
                if first < second:
                    apart = (
                        a["x"] + a["width"] <= b["x"]
                        or b["x"] + b["width"] <= a["x"]
                        or a["y"] + a["height"] <= b["y"]
                        or b["y"] + b["height"] <= a["y"]
                    )
                    assert apart, f"{first!r} and {second!r} overlap at {width} px: {a} {b}"
        widths = [box["width"] for box in boxes.values()]
        assert min(widths) > 0
        screenshot(tab, artifacts, f"ticker-{width}px")
    finally:
        context.close()


def test_the_comparison_controls_rerun_only_the_comparison_fragment_on_nifty(app_url: str, page: Page):
    """The comparison's controls are an ``st.fragment``: over Streamlit's protocol, a change of methods is a
    fragment run that redraws only the panel (URL: the day kept, the methods added); in the browser, a new
    colour scale redraws the maps and leaves the prediction as it was."""
    day = "2022-01-12"
    labels = [METHODS[key].label for key in ("saliency", "gradcam")]

    async def protocol() -> tuple[RunResult, RunResult, RunResult]:
        async with StreamlitSession(app_url) as session:
            opened = await session.open("nifty", {"source": f"demo:{DEMO_INDEX}", "day": day})
            picked = await session.set_value("methods", labels)
            stepped = await session.click("previous_day")  # a full run after it keeps the methods
            return opened, picked, stepped

    opened, picked, stepped = run_async(protocol())
    assert {"previous_day", "nifty_day", "nifty_model", "methods", "mode", "opacity"} <= set(opened.widgets)
    assert picked.status == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY", picked.errors
    assert {"methods", "mode", "opacity"} <= set(picked.widgets)
    assert not {"previous_day", "next_day", "nifty_day", "nifty_model"} & set(picked.widgets)
    assert set(picked.charts) == {"comparison_chart", "time_chart"}
    assert chart_titles(picked.charts["comparison_chart"]) == labels
    assert (picked.query["day"], picked.query["method"]) == (day, "saliency,gradcam")
    assert stepped.status == "FINISHED_SUCCESSFULLY"
    assert stepped.query["day"] < day
    assert chart_titles(stepped.charts["comparison_chart"]) == labels

    open_app(page, f"{app_url}/nifty?day={day}")
    expect_explanation(page)
    prediction = page.locator(".st-key-prediction").inner_text()
    maps = map_images(page)
    scale = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Colour scale")
    scale.click()
    scale.press("ArrowDown")  # the click focuses the box; the list opens on a key (Chromium, here)
    with rerun_after(page):
        page.get_by_role("option", name="absolute", exact=True).click()
    expect_explanation(page)
    assert map_images(page) != maps  # purple now: the maps were redrawn
    assert page.locator(".st-key-prediction").inner_text() == prediction
    assert re.search(r"day=([\d-]+)", page.url).group(1) == day


def test_a_chart_edit_shows_the_new_call_and_maps_and_stays_in_the_link(app_url: str, page: Page, artifacts: Path):
    """The What-if-the-chart panel, from a link: the edited forecast beside the original, the edited window and
    its five maps; another edit reruns the panel alone (the prediction above it is not redrawn) and goes to the
    link."""
    open_app(page, f"{app_url}/ticker?edit=remove:46-50")
    expect_explanation(page)
    panel = page.locator(".st-key-what_if")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("stMetric")).to_have_count(3)
    expect(metric_value(page, "Call")).to_have_text(re.compile(r"^(flips|holds)$"))
    edited = metric_value(page, "Edited")
    expect(edited).to_have_text(re.compile(r"^[+-]\d+\.\d\d %$"))
    charts = panel.locator(".js-plotly-plot")
    expect(charts).to_have_count(2)  # the edited window over the original, and its five maps
    for title in MAP_TITLES:
        expect(charts.nth(1).get_by_text(title, exact=True)).to_be_visible()
    removed = edited.inner_text()
    prediction = page.locator(".st-key-prediction").inner_text()
    screenshot(page, artifacts, "ticker-edit-removed")

    kind = panel.get_by_role("combobox", name="Edit")
    kind.click()
    kind.press("ArrowDown")  # the click focuses the box; the list opens on a key (Chromium, here)
    with rerun_after(page):
        page.get_by_role("option", name="Invert its move (later bars shifted)").click()
    expect(page).to_have_url(re.compile(r"edit=invert%3A46-50"))
    expect(edited).not_to_have_text(removed)
    assert page.locator(".st-key-prediction").inner_text() == prediction
    expect_clean(page)
    screenshot(page, artifacts, "ticker-edit-inverted")
