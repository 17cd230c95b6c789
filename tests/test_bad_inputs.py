"""The bad-input catalogue (``tests/bad_inputs.py``) through the real app and the command lines.

For every case: a clear message on the page or on stderr (one line, exit code 2, no traceback), the
session keeps working (the next choice in the same AppTest session works), nothing is written into
the repository, and an upload's name never reaches the disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from curl_cffi.requests.exceptions import DNSError
from streamlit.testing.v1 import AppTest
from yfinance import exceptions as yf_errors

import data.__main__ as data_cli
import models.__main__ as models_cli
from data import load_source, make_nifty_days
from data.demo import demo_bars
from data.settings import TICKER_WINDOW_BARS
from data.views import ticker_window_view
from data.yahoo import fetch_ticker
from models.architectures import ModelSpec, build_model
from models.checkpoints import CARD_NAME, WEIGHTS_NAME, read_card, save_checkpoint
from models.predict import predict_window
from models.registry import SHIPPED, load_shipped
from models.training import CHECKPOINTS_SUBDIR
from tests import bad_inputs
from tests.apptest_helpers import no_errors, open_page
from tests.bad_inputs import FILE_CASES, FileCase
from tests.checkpoint_fakes import code_carrying_payload, replace_weights
from tests.conftest import REPO_ROOT
from tests.fake_yahoo import FakeYahoo, yahoo_frame

TIMEOUT_S = 180  # a first run imports torch and Captum and builds the demo market
#: Folders whose contents change while tests run for reasons of their own.
_VOLATILE = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache"}


def repository_files() -> dict[str, tuple[int, int]]:
    """Every file in the repository (but caches of the tools) → (size, mtime in ns)."""
    found = {}
    for folder, subfolders, files in os.walk(REPO_ROOT):
        subfolders[:] = [name for name in subfolders if name not in _VOLATILE]
        for name in files:
            stat = (Path(folder) / name).stat()
            found[str(Path(folder, name).relative_to(REPO_ROOT))] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture(autouse=True)
def repository_untouched():
    """Fail a test that wrote anything into the repository."""
    before = repository_files()
    yield
    after = repository_files()
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"written into the repository: {changed}"


def metric(app: AppTest, label_start: str):
    return next(m for m in app.metric if m.label.startswith(label_start))


def errors(app: AppTest) -> list[str]:
    """The page's st.error texts; no exception (traceback) may be shown."""
    assert not app.exception, [e.value for e in app.exception]
    return [element.value for element in app.error]


def one_error(app: AppTest) -> str:
    """The page's only st.error text."""
    shown = errors(app)
    assert len(shown) == 1, shown
    return shown[0]


def one_line(err: str) -> str:
    """A command line's stderr: exactly one line starting with ``error: ``."""
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- files


def data_page() -> AppTest:
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.switch_page("pages/data.py")
    return app.run()


def back_to_the_demo_market(app: AppTest) -> None:
    """The same session, asked for the demo market: it works as if nothing had happened."""
    app.radio(key="ticker_source_kind").set_value("Demo market").run()
    no_errors(app)
    assert metric(app, "Bars").value == f"{len(demo_bars('ACME', '60m').bars):,}"


def report_text(app: AppTest) -> str:
    """The Data page's 'what was rejected or repaired' report."""
    return " ".join(element.value for element in app.json)


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.name for case in FILE_CASES])
def test_a_bad_file_on_the_data_page(case: FileCase, isolated_cache):
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Upload a file").run()
    app.file_uploader(key="ticker_upload").set_value((case.file_name, case.payload(), "text/csv")).run()
    if case.refused:
        assert case.expect in one_error(app)
    else:
        assert metric(app, "Bars").value == f"{case.page_rows or case.rows:,}"
        assert case.expect in report_text(app)
        if case.page_error:
            assert case.page_error in one_error(app)
        else:
            assert errors(app) == []
    back_to_the_demo_market(app)
    assert not [path for path in isolated_cache.rglob("*") if path.name == case.file_name]


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.name for case in FILE_CASES])
def test_a_bad_file_on_the_command_line(case: FileCase, tmp_path, capsys):
    path = tmp_path / case.file_name
    path.write_bytes(case.payload())
    code = data_cli.main(["describe", str(path)])
    out, err = capsys.readouterr()
    if case.refused:
        assert code == 2
        assert case.expect in one_line(err)
    else:
        assert code == 0
        assert err == ""
        assert json.loads(out.splitlines()[-1])["rows"] == case.rows
        assert case.expect in out


def test_the_upload_limit_is_the_loaders_limit():
    config = (REPO_ROOT / ".streamlit" / "config.toml").read_text()
    from data.files import MAX_FILE_MB

    assert re.search(rf"^maxUploadSize = {MAX_FILE_MB}$", config, re.MULTILINE)


def test_the_reliability_page_lists_the_catalogue():
    page = (REPO_ROOT / bad_inputs.TABLE_PAGE).read_text(encoding="utf-8")
    assert bad_inputs.catalogue_markdown() in page, (
        f"regenerate with python -m tests.bad_inputs; paste into {bad_inputs.TABLE_PAGE}"
    )
    assert len(bad_inputs.all_names()) == len(set(bad_inputs.all_names())) >= 30


# --------------------------------------------------------------------------- tickers

T0 = pd.Timestamp("2026-11-30 21:00", tz="UTC").to_pydatetime()
TICKER_FAILURES = {
    "unknown": (yf_errors.YFTzMissingError("ZZZZZ"), "unknown ticker or no 60m prices on Yahoo. Check the symbol"),
    "empty-frame": (pd.DataFrame(), "Yahoo returned no rows"),
    "network-down": (DNSError("Could not resolve host: query2.finance.yahoo.com"), "network unreachable (DNSError)"),
    "rate-limited": (yf_errors.YFRateLimitError(), "rate limited by Yahoo. Wait a few minutes"),
    "hangs": (FakeYahoo.HANG, "Yahoo did not answer within 0.5 s"),
    "garbage": (
        pd.DataFrame({"Close": [1.0]}, index=pd.DatetimeIndex(["2026-11-19 10:30"])),
        "Yahoo's reply lacks open, high, low",
    ),
    "unparseable": (KeyError("chart"), "Yahoo sent a reply yfinance could not read (KeyError"),
}


@pytest.fixture
def yahoo(monkeypatch):
    fake = FakeYahoo(monkeypatch)
    monkeypatch.setattr("data.yahoo.NETWORK_DEADLINE_S", 0.5)
    yield fake
    fake.release()


@pytest.mark.parametrize("name", list(TICKER_FAILURES))
def test_a_failing_ticker_on_the_data_page(name, yahoo):
    yahoo.always, expect = TICKER_FAILURES[name]
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Yahoo ticker").run()
    app.text_input(key="ticker_symbol").set_value("ZZZZZ").run()
    shown = one_error(app)
    assert shown.startswith("no data for ticker 'ZZZZZ': ")
    assert expect in shown
    back_to_the_demo_market(app)


@pytest.mark.parametrize("name", list(TICKER_FAILURES))
def test_a_failing_ticker_on_the_command_line(name, yahoo, capsys):
    yahoo.always, expect = TICKER_FAILURES[name]
    assert data_cli.main(["describe", "ZZZZZ"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert one_line(err).startswith("error: no data for ticker 'ZZZZZ': ")
    assert expect in err


def test_a_path_as_a_symbol_is_refused_everywhere_and_never_touches_the_disk(yahoo, isolated_cache, capsys):
    app = data_page()
    app.radio(key="ticker_source_kind").set_value("Yahoo ticker").run()
    app.text_input(key="ticker_symbol").set_value("../../etc/passwd").run()
    assert "'../../etc/passwd' is a file path; the dashboard reads files only as uploads" in one_error(app)
    back_to_the_demo_market(app)
    assert data_cli.main(["describe", "AAPL;rm -rf ~"]) == 2
    assert "not a valid Yahoo symbol" in capsys.readouterr().err
    assert [call["ticker"] for call in yahoo.calls] in ([], ["AAPL"])  # the field's default, never the path
    assert not (isolated_cache / "yahoo").exists() or not any((isolated_cache / "yahoo").iterdir())


def test_the_ticker_page_survives_an_unknown_symbol_and_a_dead_network(yahoo):
    app = open_page("pages/ticker.py", TIMEOUT_S)
    no_errors(app)
    app.radio(key="ticker_source_kind").set_value("Yahoo ticker").run()
    for failure, expect in (TICKER_FAILURES["unknown"], TICKER_FAILURES["network-down"]):
        yahoo.always = failure
        app.text_input(key="ticker_symbol").set_value("ZZZZZ" if "unknown" in expect else "MSFT").run()
        assert expect in one_error(app)
    app.radio(key="ticker_source_kind").set_value("Demo market").run()
    no_errors(app)
    assert metric(app, "Last close")


def test_offline_with_a_cached_copy_shows_it_with_its_age(yahoo, capsys):
    yahoo.replies.append(yahoo_frame(70))
    three_hours_ago = pd.Timestamp.now(tz="UTC").to_pydatetime() - pd.Timedelta(hours=3)
    fetch_ticker("MSFT", "60m", now=lambda: three_hours_ago)
    yahoo.always = DNSError("Could not resolve host: query2.finance.yahoo.com")

    app = open_page("pages/ticker.py", TIMEOUT_S, source="MSFT")
    no_errors(app)
    assert any("showing the cached copy from 3.0 h ago" in w.value for w in app.warning)
    assert metric(app, "Last close").value == f"{yahoo_frame(70)['Close'].iloc[-1]:,.2f}"

    assert data_cli.main(["describe", "MSFT"]) == 0
    out = capsys.readouterr().out
    assert "because network unreachable (DNSError)" in out
    assert json.loads(out.splitlines()[-1])["rows"] == 70


def test_a_hanging_yahoo_is_abandoned_and_the_next_call_works(yahoo):
    yahoo.replies += [FakeYahoo.HANG, yahoo_frame(20)]
    with pytest.raises(ValueError, match=r"Yahoo did not answer within 0\.5 s\. Try again later"):
        fetch_ticker("MSFT", "60m", now=lambda: T0)
    assert len(fetch_ticker("MSFT", "60m", now=lambda: T0).bars) == 20


# --------------------------------------------------------------------------- days and windows


def minute_day(day: str, start: str = "09:15", constant: bool = False, seed: int = 0) -> pd.DataFrame:
    """One NSE session of minute bars (from ``start`` to 15:29) as a frame."""
    index = pd.date_range(f"{day} {start}", f"{day} 15:29", freq="min")
    steps = pd.Series(range(len(index))).map(lambda i: ((i * 7919 + seed * 104729) % 13 - 6) / 20)
    close = 100 + (0 if constant else steps.cumsum().to_numpy())
    return pd.DataFrame(
        {"date": index, "open": close, "high": close + 0.1, "low": close - 0.1, "close": close, "volume": 10}
    )


@pytest.fixture(scope="module")
def odd_days_csv() -> bytes:
    """Four days: normal, constant prices, opening at 10:30 (no first hour), normal."""
    frames = [
        minute_day("2024-03-04", seed=1),
        minute_day("2024-03-05", constant=True),
        minute_day("2024-03-06", start="10:30", seed=2),
        minute_day("2024-03-07", seed=3),
    ]
    return pd.concat(frames).to_csv(index=False).encode()


def nifty_upload(app: AppTest, payload: bytes) -> AppTest:
    app.radio(key="nifty_source_kind").set_value("Upload a file").run()
    return app.file_uploader(key="nifty_upload").set_value(("days.csv", payload, "text/csv")).run()


def test_a_constant_day_and_a_day_without_its_first_hour(odd_days_csv):
    app = open_page("pages/nifty.py", TIMEOUT_S)
    nifty_upload(app, odd_days_csv)
    assert errors(app) == []
    assert metric(app, "Days in the data").value == "3"
    assert any("1 day skipped: 1 with " in caption.value and "first" in caption.value for caption in app.caption)
    app.date_input(key="nifty_day").set_value(pd.Timestamp("2024-03-05").date()).run()
    assert errors(app) == []
    assert any("the GADF is all zeros" in w.value for w in app.warning)
    assert metric(app, "Model says").value in ("up day", "down day")

    app.date_input(key="nifty_day").set_value(pd.Timestamp("2024-03-06").date()).run()
    assert errors(app) == []
    assert any("2024-03-06 has no usable first hour" in info.value for info in app.info)


def test_a_link_to_a_day_without_its_first_hour(odd_days_csv):
    loaded = load_source("demo:NIFTY-DEMO", "1m")
    days = make_nifty_days(loaded.bars)
    holiday = (days.day[10] + pd.Timedelta(days=1)).date()
    while holiday in {day.date() for day in days.day}:
        holiday += pd.Timedelta(days=1)
    app = open_page("pages/nifty.py", TIMEOUT_S, day=holiday.isoformat())
    assert errors(app) == []
    assert any(f"{holiday} is not a usable trading day" in w.value for w in app.warning)
    assert app.query_params["day"] == f"{days.day[-1]:%Y-%m-%d}"


def test_the_first_day_and_previous_day(odd_days_csv):
    loaded = load_source("demo:NIFTY-DEMO", "1m")
    first = make_nifty_days(loaded.bars).day[0]
    app = open_page("pages/nifty.py", TIMEOUT_S, day=f"{first:%Y-%m-%d}")
    no_errors(app)
    app.button(key="previous_day").click().run()
    no_errors(app)
    assert app.query_params["day"] == f"{first:%Y-%m-%d}"


def test_switching_to_an_upload_keeps_a_valid_day(odd_days_csv):
    app = open_page("pages/nifty.py", TIMEOUT_S)  # the demo's newest day is outside the upload's range
    nifty_upload(app, odd_days_csv)
    assert errors(app) == []
    assert app.query_params["day"] == "2024-03-07"


def test_too_few_bars_for_a_window_on_the_ticker_page():
    short = bad_inputs.csv_text(bad_inputs.hourly_frame(TICKER_WINDOW_BARS - 1)).encode()
    app = open_page("pages/ticker.py", TIMEOUT_S)
    app.radio(key="ticker_source_kind").set_value("Upload a file").run()
    app.file_uploader(key="ticker_upload").set_value(("short.csv", short, "text/csv")).run()
    shown = errors(app)
    assert shown == [
        f"This data has {TICKER_WINDOW_BARS - 1} hourly bars; a window needs {TICKER_WINDOW_BARS}. "
        "Pick a longer history or another source."
    ]
    app.radio(key="ticker_source_kind").set_value("Demo market").run()
    no_errors(app)


@pytest.mark.parametrize("linked", ["first", "before"])
def test_the_window_at_the_very_start_of_history(linked):
    loaded = load_source("demo:ACME", "60m")
    first_end = loaded.bars.index[TICKER_WINDOW_BARS - 1]
    asked = first_end if linked == "first" else loaded.bars.index[0] - pd.Timedelta(days=30)
    app = open_page("pages/ticker.py", TIMEOUT_S, end=f"{asked:%Y-%m-%dT%H:%M}")
    no_errors(app)
    assert app.query_params["end"] == f"{first_end:%Y-%m-%dT%H:%M}"
    expected = predict_window(load_shipped("ticker"), ticker_window_view(loaded, 0).bars.to_numpy())
    assert metric(app, "Last close").value == f"{expected.last_close:,.2f}"
    assert metric(app, "Forecast close").value == f"{expected.forecast_close:,.2f}"
    outside = [info.value for info in app.info if "outside this data's full windows" in info.value]
    assert len(outside) == (1 if linked == "before" else 0)


def test_nonsense_in_every_link_parameter():
    app = open_page(
        "pages/nifty.py", TIMEOUT_S, day="31/02/2024", method="saliency,rm -rf", model="../../etc", source="demo:X"
    )
    assert errors(app) == []
    warned = " ".join(w.value for w in app.warning)
    for expect in ("Unknown demo symbol 'X'", "'31/02/2024' is not a date", "'rm -rf'", "'../../etc' is not available"):
        assert expect in warned
    app = open_page("pages/ticker.py", TIMEOUT_S, end="yesterday", threshold="-3", model="nope")
    assert errors(app) == []
    warned = " ".join(w.value for w in app.warning)
    for expect in ("'yesterday' is not a time", "threshold '-3' is not a %", "'nope' is not available"):
        assert expect in warned


# --------------------------------------------------------------------------- checkpoints


def trained_copy(cache: Path, task: str = "nifty", name: str = "20260101-000000-0000dead") -> Path:
    """A copy of the shipped checkpoint where the Train page keeps its checkpoints."""
    folder = cache / CHECKPOINTS_SUBDIR / f"{task}-{name}"
    shutil.copytree(SHIPPED[task], folder)
    return folder


def damage(folder: Path, how: str, tmp_path: Path) -> str:
    """Damage the checkpoint in ``folder``; return what the user must be told."""
    weights = folder / WEIGHTS_NAME
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
        return "is truncated, corrupted or not a torch state dict"
    if how == "other-task-weights":
        weights.write_bytes((SHIPPED["ticker"] / WEIGHTS_NAME).read_bytes())
        return "card and weights disagree"
    if how == "pickle-code":
        replace_weights(folder, code_carrying_payload(tmp_path / "code-ran", "torch.save"), update_card=True)
        return "would need to run code to load"
    raise ValueError(f"how must be truncated, other-task-weights or pickle-code, got {how!r}")


def pick_model(app: AppTest, name: str) -> AppTest:
    return app.selectbox(key="nifty_model").set_value(name).run()


@pytest.mark.parametrize("how", ["truncated", "other-task-weights", "pickle-code"])
def test_a_damaged_checkpoint_in_the_model_picker(how, isolated_cache, tmp_path, capsys):
    folder = trained_copy(isolated_cache)
    expect = damage(folder, how, tmp_path)
    app = open_page("pages/nifty.py", TIMEOUT_S)
    no_errors(app)
    pick_model(app, folder.name)
    shown = one_error(app)
    assert f"The model {folder.name!r} could not be loaded" in shown
    assert expect in shown
    assert shown.endswith("Pick another model in the sidebar.")
    pick_model(app, "shipped")
    no_errors(app)
    assert not (tmp_path / "code-ran").exists()

    assert models_cli.main(["describe", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expect in one_line(err)
    assert not (tmp_path / "code-ran").exists()


def test_a_link_to_a_checkpoint_of_the_other_task(isolated_cache):
    ticker_folder = trained_copy(isolated_cache, "ticker")
    app = open_page("pages/nifty.py", TIMEOUT_S, model=ticker_folder.name)
    assert errors(app) == []
    assert any(f"{ticker_folder.name!r} is not available here; using 'shipped'" in w.value for w in app.warning)


def test_a_checkpoint_for_another_image_size_is_used_at_its_size(isolated_cache, capsys):
    torch.manual_seed(0)
    model = build_model(ModelSpec.default("nifty", image_size=32))
    card = {k: v for k, v in read_card(SHIPPED["nifty"]).to_json().items() if k not in ("spec", "image_size")}
    folder = save_checkpoint(isolated_cache / CHECKPOINTS_SUBDIR / "nifty-20260102-000000-00000032", model, card)
    app = open_page("pages/nifty.py", TIMEOUT_S)
    pick_model(app, folder.name)
    no_errors(app)
    assert any("gadf images of 32 px" in caption.value for caption in app.caption)
    assert models_cli.main(["describe", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["image_size"] == 32


def test_a_card_that_is_not_json_is_left_out_of_the_picker(isolated_cache, capsys):
    folder = trained_copy(isolated_cache)
    (folder / CARD_NAME).write_text("{not json")
    app = open_page("pages/nifty.py", TIMEOUT_S)
    no_errors(app)
    assert app.selectbox(key="nifty_model").options == ["shipped — resnet18, gadf 64 px"]
    assert models_cli.main(["describe", str(folder)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_a_broken_shipped_model_leaves_every_other_page_working(tmp_path, monkeypatch):
    broken = tmp_path / "nifty"
    shutil.copytree(SHIPPED["nifty"], broken)
    (broken / WEIGHTS_NAME).write_bytes(b"")
    monkeypatch.setitem(SHIPPED, "nifty", broken)

    app = open_page("pages/nifty.py", TIMEOUT_S)
    assert "'shipped' could not be loaded" in one_error(app)
    for page in ("pages/ticker.py", "pages/data.py"):
        no_errors(open_page(page, TIMEOUT_S))
    home = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S).run()
    no_errors(home)
