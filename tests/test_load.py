"""Many users at once (``bench.load``): concurrent sessions get exactly the maps a lone session gets.

The end-to-end test runs the real server (``streamlit run app.py``) with four websocket sessions on
``/nifty`` for 8 s — different days and method subsets on the one shared classifier —
then replays some of their requests in a lone session on a fresh server and compares the charts
byte for byte. No timing is asserted. The other tests pin the client's protocol pieces and the
benchmark's bookkeeping on hand-built cases.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest

from bench.load import main, run_benchmark
from bench.load_driver import CHARTS, LABELS, Interaction, LoadConfig, LoadRun, MapKey, chart_titles, load_markets
from bench.load_figures import concurrent_pairs, memory_figures, select_keys
from bench.load_server import group_cpu_s, group_rss_mb, server_log_errors
from bench.session_client import ELEMENT_ID, Widget, widget_state
from data.settings import CACHE_ENV_VAR
from tests.browser import REPO_ROOT

SESSIONS = 4


def _key(methods: tuple[str, ...], when: str = "2024-06-03", page: str = "nifty") -> MapKey:
    return MapKey(page=page, source="demo:NIFTY-DEMO", model="shipped", when=when, methods=methods)


def _run(session: int, start: float, end: float, key: MapKey) -> Interaction:
    return Interaction(session, key.page, "methods", start, end, end - start, None, "FINISHED_SUCCESSFULLY", key, [])


@pytest.fixture(scope="module")
def load_report(tmp_path_factory: pytest.TempPathFactory):
    """Four sessions on /nifty for 8 s, then four of their requests replayed by a lone session."""
    cache = tmp_path_factory.mktemp("load-cache")
    config = LoadConfig(sessions=SESSIONS, duration_s=8.0, seed=11, think_s=0.3, pages=("nifty",), warmup_rounds=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(cache))  # this process reads the demo market too
        return run_benchmark(config, check_maps=4, cache=cache, scratch=tmp_path_factory.mktemp("load-logs"))


def test_concurrent_sessions_run_without_errors(load_report) -> None:
    run = load_report.run
    figures = load_report.figures
    assert figures["errors"] == 0, (figures["error_samples"], figures["server_log_errors"])
    assert figures["server_log_errors"] == {}
    assert run.errors == []
    # every run a session asked for ended in a successful script_finished, and every session took part
    assert run.interactions
    # (a change of methods reruns the comparison panel's fragment alone, as in the browser)
    assert all(
        item.status == ("FINISHED_FRAGMENT_RUN_SUCCESSFULLY" if item.action == "methods" else "FINISHED_SUCCESSFULLY")
        for item in run.interactions
    )
    assert any(item.action == "methods" for item in run.interactions)
    assert {item.session for item in run.interactions} == set(range(SESSIONS))
    assert sum(item.action == "open" for item in run.interactions) == SESSIONS
    assert load_report.figures["interactions"] == len(run.interactions) - SESSIONS >= SESSIONS
    assert load_report.figures["mem_after_warmup_mb"] > 100  # a Streamlit server with torch loaded
    assert load_report.figures["mem_end_mb"] > 100


def test_sessions_got_the_day_they_asked_for(load_report) -> None:
    """Known answers: ◀ / ▶ move one usable day on the demo calendar, a picked date is shown as is."""
    calendar = [day.isoformat() for day in load_markets(("nifty",)).calendar]
    moves = 0
    for session in range(SESSIONS):
        runs = [item for item in load_report.run.interactions if item.session == session]
        for before, after in itertools.pairwise(runs):
            step = {"previous_day": -1, "next_day": 1}.get(after.action)
            if step is not None:
                position = calendar.index(before.key.when)
                assert after.key.when == calendar[min(max(position + step, 0), len(calendar) - 1)]
                moves += 1
            elif after.action == "methods":
                assert after.key.when == before.key.when
                assert set(after.key.methods) ^ set(before.key.methods)  # one method added or removed
                assert len(set(after.key.methods) ^ set(before.key.methods)) == 1
    assert moves > 0


def test_concurrent_maps_equal_the_lone_ones(load_report) -> None:
    figures, checks = load_report.figures, load_report.checks
    # not vacuous: two sessions asked for different methods on the shared model while both were running …
    pairs, overlapping = concurrent_pairs(load_report.run.interactions)
    assert pairs == figures["concurrent_pairs_different_methods"] >= 1
    # … and such requests were among those replayed
    assert len(checks) == figures["maps_checked"] == 4
    assert any(check.key in overlapping for check in checks)
    assert len({frozenset(check.key.methods) for check in checks}) >= 2
    assert all(check.errors == () for check in checks)
    for check in checks:
        assert set(check.lone) == set(CHARTS)
        assert check.concurrent == {chart: {check.lone[chart]} for chart in CHARTS}, check.key.describe()
    assert figures["maps_identical"] == figures["maps_checked"]
    # the comparison can fail: different requests give different charts
    assert len({check.lone["comparison_chart"] for check in checks}) == len(checks)


def test_widget_states_are_what_the_frontend_sends() -> None:
    def widget(kind: str) -> Widget:
        return Widget(id=f"$$ID-0123abcd-{kind}_key", kind=kind, label=kind, proto=None)

    assert widget_state(widget("button"), None).trigger_value is True
    assert list(widget_state(widget("date_input"), dt.date(2024, 6, 3)).string_array_value.data) == ["2024-06-03"]
    assert list(widget_state(widget("multiselect"), ["Saliency", "Layer Grad Cam"]).string_array_value.data) == [
        "Saliency",
        "Layer Grad Cam",
    ]
    assert list(widget_state(widget("slider"), 7).double_array_value.data) == [7.0]
    assert widget_state(widget("selectbox"), "the way the forecast went").string_value == "the way the forecast went"
    assert widget_state(widget("checkbox"), 1).bool_value is True
    assert widget_state(widget("number_input"), 1.5).double_value == 1.5
    with pytest.raises(TypeError, match=r"is a 'file_uploader'; this client sets only"):
        widget_state(widget("file_uploader"), b"")
    assert ELEMENT_ID.match("$$ID-089a8480a4658db4ece1352c4ae69106-methods")["key"] == "methods"
    assert ELEMENT_ID.match("$$ID-4435f5685124c9e24b22be387838bd51-previous_day")["key"] == "previous_day"


def test_concurrent_pairs_on_hand_built_runs() -> None:
    a, b, c = _key(("saliency",)), _key(("gradcam", "saliency")), _key(("saliency",), when="2024-06-04")
    ticker = _key(("gradcam",), page="ticker")
    runs = [
        _run(0, 0.0, 2.0, a),
        _run(1, 1.0, 3.0, b),  # overlaps a, other methods: 1 pair
        _run(2, 1.5, 2.5, c),  # overlaps a (same methods: no pair) and b (other methods: 1 pair)
        _run(3, 1.2, 1.8, ticker),  # another model: no pair
        _run(1, 3.5, 4.0, a),  # alone
    ]
    pairs, keys = concurrent_pairs(runs)
    assert pairs == 2
    assert keys == {a, b, c}


def test_select_keys_spreads_over_method_subsets() -> None:
    run = LoadRun(config=LoadConfig(sessions=1, duration_s=1.0))
    subsets = [("saliency",), ("gradcam",), ("gradcam", "saliency")]
    for methods in subsets:
        for day in ("2024-06-03", "2024-06-04", "2024-06-05"):
            run.digests[_key(methods, when=day)] = {chart: {"x"} for chart in CHARTS}
    picked = select_keys(run, 3, seed=0)
    assert len(picked) == 3
    assert {frozenset(key.methods) for key in picked} == {frozenset(methods) for methods in subsets}
    assert len(select_keys(run, 100, seed=0)) == 9


def test_map_key_link_opens_the_same_request() -> None:
    key = MapKey("ticker", "demo:ACME", "shipped", "2024-06-03T14:30", ("guided_backprop", "gradcam"), "x")
    assert key.link() == {
        "source": "demo:ACME",
        "model": "shipped",
        "end": "2024-06-03T14:30",
        "method": "guided_backprop,gradcam",
    }


def test_chart_titles_reads_the_subplot_titles() -> None:
    from streamlit.proto.PlotlyChart_pb2 import PlotlyChart

    spec = (
        '{"layout": {"annotations": [{"text": "Vanilla gradient (saliency)"}, {"text": "Synthetic"}, '
        '{"text": "Grad-CAM"}]}}'
    )
    assert chart_titles(PlotlyChart(spec=spec).SerializeToString()) == [LABELS["saliency"], LABELS["gradcam"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sessions": 0}, "sessions must be an int ≥ 1; got 0"),
        ({"duration_s": 0.0}, "duration_s must be > 0; got 0.0"),
        ({"think_s": -1.0}, "think_s must be ≥ 0; got -1.0"),
        ({"pages": ("home",)}, "pages must be a non-empty subset of ('nifty', 'ticker'); got ('home',)"),
    ],
)
def test_bad_load_config(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        LoadConfig(**options)


def test_memory_figures_are_window_medians() -> None:
    run = LoadRun(config=LoadConfig(sessions=1, duration_s=20.0), warmup_s=5.0, phase_s=30.0)
    # a saw-tooth of ±100 MB on a line rising 1 MB/s, sampled every second from 0 to 30 s
    run.memory = [(float(t), 1000.0 + t + (100.0 if t % 2 else -100.0)) for t in range(31)]
    figures = memory_figures(run)
    assert figures["mem_after_warmup_mb"] == 1009.5  # t = 5..14: troughs 906..914, peaks 1105..1113 → (914 + 1105) / 2
    assert figures["mem_end_mb"] == 1025.5  # t = 21..30: troughs 922..930, peaks 1121..1129 → (930 + 1121) / 2
    assert figures["mem_growth_pct"] == 1.58  # 100 × 16 / 1009.5 = 1.585
    assert figures["mem_peak_mb"] == 1129.0
    # least squares over t = 5..30: the line's 1 MB/s, less the saw-tooth's −1300 / 1462.5 MB/s (it starts on a
    # peak and ends in a trough): 60 × (1 − 0.889) MB/min
    assert figures["mem_slope_mb_per_min"] == 6.7


def test_group_rss_and_cpu_count_this_process() -> None:
    assert group_rss_mb(os.getpgid(0)) > 10
    assert group_cpu_s(os.getpgid(0)) > 0
    assert group_rss_mb(2**22 + 12345) == 0  # no such process group
    assert group_cpu_s(2**22 + 12345) == 0


def test_server_log_errors_name_the_frame_and_the_error() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3/site-packages/streamlit/exec_code.py", line 136, in exec_func\n'
        f'  File "{REPO_ROOT}/pages/nifty.py", line 82, in <module>\n'
        f'  File "{REPO_ROOT}/xai/fused.py", line 126, in fused_passes\n'
        "    grads = torch.autograd.grad(score, wrt)\n"
        '  File "/usr/lib/python3/site-packages/torch/autograd/__init__.py", line 594, in grad\n'
        "RuntimeError: One of the differentiated Tensors does not require grad\n"
    )
    log = f"  You can now view your Streamlit app\n{traceback}  Stopping...\n{traceback}"
    assert server_log_errors(log) == {
        "xai/fused.py:126, in fused_passes → RuntimeError: One of the differentiated Tensors does not require grad": 2
    }
    assert server_log_errors("  You can now view your Streamlit app\n") == {}


def test_cli_refuses_bad_input_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in [
        (["--sessions", "0"], "python -m bench.load: sessions must be an int ≥ 1; got 0"),
        (["--check-maps", "-1"], "python -m bench.load: --check-maps must be ≥ 0; got -1"),
        (["--sessions", "many"], "python -m bench.load: argument --sessions: invalid int value: 'many'"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert capsys.readouterr().err == message + "\n"
