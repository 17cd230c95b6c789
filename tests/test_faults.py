"""Faults (issue 6 §2): a process killed while writing the cache, a disk that refuses writes, and
yfinance talking on stderr — none of them breaks the next start or the one-line error contract."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd

from data.cache import cache_path, read_frame, write_frame
from data.yahoo import fetch_ticker
from tests.conftest import REPO_ROOT
from tests.fake_yahoo import FakeYahoo, yahoo_frame

T0 = pd.Timestamp("2026-11-30 21:00", tz="UTC").to_pydatetime()

KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, sys
    import pandas as pd
    from data.cache import cache_path, write_frame

    path = cache_path("yahoo", "AAPL_60m.parquet")
    frame = lambda close: pd.DataFrame({"close": [close] * 1000}, index=pd.RangeIndex(1000))
    write_frame(path, frame(1.0), {"version": "old"})
    real_fsync = os.fsync

    def die(fd):  # the new bytes are in the temporary file; the process dies before os.replace
        real_fsync(fd)
        os._exit(9)

    os.fsync = die
    write_frame(path, frame(2.0), {"version": "new"})
    """
)


def test_a_process_killed_while_writing_the_cache_leaves_the_old_file(isolated_cache):
    run = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE], cwd=REPO_ROOT, capture_output=True, timeout=120)
    assert run.returncode == 9, run.stderr.decode()
    folder = isolated_cache / "yahoo"
    leftovers = [path.name for path in folder.iterdir() if path.name != "AAPL_60m.parquet"]
    assert [name.startswith(".AAPL_60m.parquet.") for name in leftovers] == [True]  # the dead write's temp file
    frame, metadata = read_frame(cache_path("yahoo", "AAPL_60m.parquet"))
    assert metadata == {"version": "old"}
    assert frame["close"].eq(1.0).all()


def test_a_half_written_file_under_the_real_name_is_refetched(isolated_cache, monkeypatch):
    path = cache_path("yahoo", "AAPL_60m.parquet")
    write_frame(path, yahoo_frame(14), {"fetched_at": T0.isoformat()})
    path.write_bytes(path.read_bytes()[:300])  # what a non-atomic writer would leave
    yahoo = FakeYahoo(monkeypatch)
    yahoo.replies.append(yahoo_frame(20))
    assert len(fetch_ticker("AAPL", "60m", now=lambda: T0).bars) == 20
    assert len(yahoo.calls) == 1
    assert read_frame(path)[1]["fetched_at"] == T0.isoformat()


def test_a_disk_that_refuses_writes_still_serves_the_fresh_bars(isolated_cache, monkeypatch):
    yahoo = FakeYahoo(monkeypatch)
    yahoo.always = yahoo_frame(14)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("data.yahoo.write_frame", full_disk)
    loaded = fetch_ticker("AAPL", "60m", now=lambda: T0)
    assert len(loaded.bars) == 14
    assert any(note.startswith("not cached (OSError: [Errno 28] No space left on device)") for note in loaded.notes)
    assert not (isolated_cache / "yahoo" / "AAPL_60m.parquet").exists()


NOISY_YAHOO = textwrap.dedent(
    """
    import logging, sys
    import yfinance

    def noisy(ticker_self, **kwargs):
        logging.getLogger("yfinance").warning("Cookie/crumb fetch failed (DNSError), continuing without crumb")
        raise OSError("Could not resolve host")

    yfinance.Ticker.history = noisy
    if sys.argv[1] == "unquieted":
        import data.yahoo
        data.yahoo._quiet_yfinance_log = lambda: None
    from data.__main__ import main
    sys.exit(main(["describe", "AAPL"]))
    """
)


def test_yfinance_log_lines_stay_off_stderr():
    """In a process of its own: pytest's log capture would hide what Python's last-resort handler prints."""
    runs = {
        mode: subprocess.run(
            [sys.executable, "-c", NOISY_YAHOO, mode], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
        for mode in ("as shipped", "unquieted")
    }
    assert runs["as shipped"].returncode == 2
    assert runs["as shipped"].stderr.splitlines() == [
        "error: no data for ticker 'AAPL': network unreachable (OSError). Check the connection, or use the demo market"
    ]
    assert "Cookie/crumb fetch failed" in runs["unquieted"].stderr  # the check can see the noise
