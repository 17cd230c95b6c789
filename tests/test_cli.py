"""``python -m data describe``: what a source holds, as text and one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from data.__main__ import main
from tests.conftest import REPO_ROOT

MINUTES_CSV = "date,open,high,low,close,volume\n" + "\n".join(
    f"2024-01-02 {9 + (15 + m) // 60:02d}:{(15 + m) % 60:02d}:00,{100 + m},{101 + m},{99 + m},{100.5 + m},10"
    for m in range(130)
)


def run_cli(*args: str, cache: os.PathLike) -> subprocess.CompletedProcess[str]:
    """Run the command line in a fresh interpreter, as a user would."""
    env = {**os.environ, "CHART_XAI_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "data", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def last_json(stdout: str) -> dict[str, object]:
    return json.loads(stdout.strip().splitlines()[-1])


def test_describe_a_file_in_a_subprocess(tmp_path, isolated_cache):
    path = tmp_path / "nifty.csv"
    path.write_text(MINUTES_CSV + "\n2024-01-02 11:30:00,1,0.5,2,1,0\n")  # one row with high < low
    done = run_cli("describe", str(path), cache=isolated_cache)
    assert done.returncode == 0, done.stderr
    summary = last_json(done.stdout)
    assert summary["layout"] == "kaggle-nifty"
    assert summary["rows"] == 130
    assert summary["first"] == "2024-01-02T09:15:00"
    assert summary["last"] == "2024-01-02T11:24:00"
    assert summary["interval"] == "1m"
    assert summary["rejected_rows"] == 1
    assert summary["rejected"] == {"high below low": 1}
    assert "high below low: 1 (e.g. rows [132])" in done.stdout


def test_minute_file_aggregated_to_hours(tmp_path, capsys):
    path = tmp_path / "nifty.csv"
    path.write_text(MINUTES_CSV)
    assert main(["describe", str(path), "--interval", "60m"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["rows"] == 3  # 09:15, 10:15, 11:15
    assert summary["interval"] == "60m"
    assert "aggregated from 1m to 60m bars" in summary["notes"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["describe", "missing/prices.csv"], "error: missing/prices.csv: no such file; check the path"),
        (["describe", "not a ticker!"], "error: no data for ticker 'NOT A TICKER!': not a valid Yahoo symbol"),
        (["describe", "demo:NOPE"], "error: symbol must be one of"),
        (["describe", "demo:ACME", "--interval", "5m"], "error: argument --interval: invalid choice: '5m'"),
        (["describe"], "error: the following arguments are required: source (see python -m data describe --help)"),
    ],
)
def test_bad_sources_exit_non_zero_with_one_clear_line(args, message, isolated_cache):
    done = run_cli(*args, cache=isolated_cache)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_coarser_bars_are_not_turned_into_finer_ones(tmp_path, capsys):
    path = tmp_path / "daily.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,1\n2024-01-03,1,2,0.5,1.5,1\n")
    assert main(["describe", str(path), "--interval", "1m"]) == 2
    assert "holds 1d bars; 1m bars cannot be made from them" in capsys.readouterr().err


def test_help_exits_zero(isolated_cache):
    done = run_cli("describe", "--help", cache=isolated_cache)
    assert done.returncode == 0
    assert "--interval {1m,60m,1d}" in done.stdout


def test_describe_a_ticker_through_faked_yahoo(monkeypatch, capsys):
    import pandas as pd
    import yfinance as yf

    index = pd.date_range("2026-11-19 09:30", periods=7, freq="h", tz="America/New_York", name="Datetime")
    frame = pd.DataFrame({"Open": 1.0, "High": 2.0, "Low": 0.5, "Close": 1.5, "Volume": 10}, index=index)
    monkeypatch.setattr(yf.Ticker, "history", lambda self, **kwargs: frame)
    assert main(["describe", "AAPL", "--interval", "60m"]) == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["layout"] == "yahoo"
    assert summary["source"] == "yahoo:AAPL"
    assert summary["rows"] == 7
    assert summary["timezone"] == "America/New_York"


def test_describe_the_demo_index(capsys):
    assert main(["describe", "demo:NIFTY-DEMO", "--interval", "1m"]) == 0
    out = capsys.readouterr().out
    summary = last_json(out)
    assert summary["layout"] == "demo"
    assert summary["synthetic"] is True
    assert summary["rows"] == 1042 * 375  # every weekday of 2021-2024, 09:15..15:29
    assert summary["first"] == "2021-01-04T09:15:00"
    assert summary["last"] == "2024-12-31T15:29:00"
    assert summary["interval"] == "1m"
    assert summary["timezone"] == "Asia/Kolkata"
    assert summary["gaps"] == 0
    assert summary["rejected_rows"] == 0
    assert "[SYNTHETIC demo data]" in out.splitlines()[0]
