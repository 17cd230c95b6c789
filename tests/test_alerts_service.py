"""The checker's loop on a fake clock (no sleeping), its lock, notifications through apprise to a
real local HTTP endpoint, and the command line."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import subprocess
import sys
import threading
from typing import ClassVar

import pytest

from alerts.__main__ import main
from alerts.check import run_check
from alerts.entries import WatchEntry
from alerts.notify import URLS_KEY, Notifier, parse_urls, redact
from alerts.service import CheckerRunningError, checker_lock, checker_running, checker_state, next_tick, watch
from alerts.store import AlertStore

MONDAY_11 = dt.datetime(2024, 6, 3, 15, 0, tzinfo=dt.UTC)


class FakeClock:
    """Time moves only when the loop sleeps or a check takes ``check_minutes``."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start
        self.slept: list[float] = []
        self.jump_in_next_sleep = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += dt.timedelta(seconds=seconds) + self.jump_in_next_sleep
        self.jump_in_next_sleep = dt.timedelta(0)


def test_next_tick_is_the_next_quarter_hour():
    assert next_tick(dt.datetime(2024, 6, 3, 15, 0, tzinfo=dt.UTC)) == dt.datetime(2024, 6, 3, 15, 15, tzinfo=dt.UTC)
    assert next_tick(dt.datetime(2024, 6, 3, 15, 59, 59, tzinfo=dt.UTC)) == dt.datetime(2024, 6, 3, 16, tzinfo=dt.UTC)


def test_watch_checks_on_the_quarter_hours_and_records_an_overrun_and_a_jump(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    store.add_entry(WatchEntry("demo:ACME", 0.01))
    clock = FakeClock(MONDAY_11 + dt.timedelta(minutes=2))
    seen: list[dt.datetime] = []

    def check(store: AlertStore, when: dt.datetime):
        seen.append(when)
        report = run_check(store, when)
        if len(seen) == 2:
            clock.current += dt.timedelta(minutes=20)  # this check ran past the next tick
        if len(seen) == 3:
            clock.jump_in_next_sleep = dt.timedelta(hours=2)  # the machine sleeps: the clock jumps
        return report

    assert watch(store, clock=clock, max_checks=5, check=check) == 5
    assert [f"{t:%H:%M}" for t in seen] == ["15:02", "15:15", "15:45", "18:00", "18:15"]
    skipped = [record.errors[0] for record in store.checks() if record.status == "skipped"]
    assert skipped == [
        "the clock jumped: woke at 2024-06-03 18:00, planned 16:00",
        "the check at 2024-06-03T15:15:00+00:00 ran past 1 tick(s); the next waits for 2024-06-03 15:45:00+00:00",
    ]
    # 18:15 UTC is 14:15 in New York: the 12:30 bar is the newest complete one
    assert sorted(store.evaluated_ends(store.entries()[0].id))[-1] == "2024-06-03T12:30:00"
    state = checker_state(store)
    assert (state["pid"], state["last_check"], state["last_error"]) == (None, "2024-06-03T18:15:00+00:00", None)


def test_an_error_in_one_check_is_kept_and_the_loop_goes_on(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    clock = FakeClock(MONDAY_11)
    calls = []

    def check(store: AlertStore, when: dt.datetime):
        calls.append(when)
        if len(calls) == 1:
            raise RuntimeError("the model file vanished")
        return run_check(store, when)

    assert watch(store, clock=clock, max_checks=2, check=check) == 2
    assert checker_state(store)["last_error"] is None  # the second check cleared it
    assert len(calls) == 2


def test_a_second_checker_on_the_same_store_is_refused(tmp_path):
    store = AlertStore(tmp_path / "a.sqlite")
    assert not checker_running(store)
    with checker_lock(store):
        assert checker_running(store)
        with pytest.raises(CheckerRunningError, match=r"a checker is already running on .*a.sqlite \(pid \d+\)"):
            watch(store, clock=FakeClock(MONDAY_11), max_checks=1)
        # another process sees the lock too
        code = (
            "import sys; from alerts.service import checker_running; from alerts.store import AlertStore; "
            f"sys.exit(0 if checker_running(AlertStore({str(store.path)!r})) else 1)"
        )
        assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert not checker_running(store)  # released with its holder


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Receiver.received
    server.shutdown()


def test_a_new_alert_is_sent_with_its_picture_and_a_failed_target_is_retried_and_recorded(tmp_path, receiver):
    port, received = receiver
    store = AlertStore(tmp_path / "a.sqlite")
    store.add_entry(WatchEntry("demo:ACME", 0.01))
    store.set_setting(URLS_KEY, f"# my hooks\njson://127.0.0.1:{port}/hook\njson://127.0.0.1:9/nobody-listens\n")
    waits: list[float] = []
    notifier = Notifier.from_store(store)
    notifier.sleep = waits.append
    report = run_check(store, MONDAY_11, notify=notifier)
    (alert_id,) = report.alerts
    assert len(received) == 1
    assert received[0]["title"].startswith("demo:ACME: predicted ")
    assert received[0]["attachments"][0]["filename"] == f"alert-{alert_id}.png"
    records = [(n["target"], n["attempt"], n["ok"]) for n in store.notifications(alert_id)]
    assert records == [("json://127.0.0.1", 1, 1), ("json://127.0.0.1", 1, 0), ("json://127.0.0.1", 2, 0),
                       ("json://127.0.0.1", 3, 0)]  # fmt: skip
    assert waits == [2.0, 4.0]
    assert store.alert(alert_id) is not None  # the alert stays, whatever the notifications did


def test_notification_urls_are_checked_and_redacted():
    assert parse_urls("\n# comment\nntfy://ntfy.sh/my-topic\n") == ["ntfy://ntfy.sh/my-topic"]
    with pytest.raises(ValueError, match=r"notification URL 'smoke://signals' is not one apprise knows"):
        parse_urls("smoke://signals/secret-token")
    assert redact("tgram://123456:ABCDEF-secret/987654") == "tgram://123456"


def test_the_command_line_adds_lists_checks_and_refuses_bad_input(tmp_path, capsys):
    db = str(tmp_path / "a.sqlite")
    assert main(["--db", db, "add", "demo:ACME", "--threshold", "0.8", "--direction", "rises"]) == 0
    assert capsys.readouterr().out == "watching #1: demo:ACME at 0.8 % (rises)\n"
    assert main(["--db", db, "add", "demo:ACME", "--threshold", "-1"]) == 2
    assert capsys.readouterr().err == "error: threshold_pct must be in (0, 50] percent, got -1\n"
    assert main(["--db", db, "add", "AAPL", "--threshold", "1", "--calendar", "XMARS"]) == 2
    assert "calendar must be an exchange_calendars name" in capsys.readouterr().err
    assert main(["--db", db, "remove", "7"]) == 2
    assert capsys.readouterr().err == "error: no watch entry has id 7\n"
    assert main(["--db", db, "list"]) == 0
    assert capsys.readouterr().out == "#1 demo:ACME 0.8 % rises [shipped]\n"
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("x" * 4096)
    assert main(["--db", str(not_a_db), "list"]) == 2
    assert "is not an alert store (not a SQLite database)" in capsys.readouterr().err
    assert main(["--db", db, "replay", "--from", "2024-06-14", "--to", "2024-06-03"]) == 2
    assert capsys.readouterr().err == "error: the replay's end (2024-06-03) must not be before its start (2024-06-14)\n"
