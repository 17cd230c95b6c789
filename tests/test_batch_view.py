"""A batch dataset on the Evaluate page: crafted datasets whose aggregates are known, the refusals
(another model, another task, another format, nothing finished, a path outside the datasets folder),
and the page itself through AppTest."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from batch import dataset
from batch.run import RunSettings, manifest_of
from models.registry import load_shipped
from tests.apptest_helpers import no_errors
from tests.conftest import REPO_ROOT
from workflows.batch_view import DATASETS_ENV_VAR, find_datasets, open_dataset, trust_summary
from xai.methods import method_label

PAGE = str(REPO_ROOT / "pages" / "evaluate.py")
METHODS = ("gradcam", "saliency")
T = 50  # the ticker task's bars


@pytest.fixture(scope="module")
def ticker():
    return load_shipped("ticker")


def spike(step: int, n: int, height: float = 1.0) -> list[np.ndarray]:
    profile = np.full(T, 0.01, dtype=np.float32)
    profile[step] = height
    return [profile.copy() for _ in range(n)]


def write_crafted(root, name, loaded, *, up=6, down=4, trust=True, manifest_changes=None, without=None):
    """``up`` windows called up whose profiles peak at bar 4, ``down`` called down peaking at bar 8;
    the planted pattern on bar 4 of every up window; Grad-CAM's deletion area 0.1 below its random
    orders' on every window, saliency's 0.1 above."""
    out = root / name
    manifest = manifest_of(loaded, RunSettings("ticker", methods=METHODS, trust=trust)) | (manifest_changes or {})
    dataset.prepare(out, manifest)
    n = up + down
    profiles = spike(3, up) + spike(7, down)
    rows = pd.DataFrame(
        {
            "source": "demo:ACME",
            "time": pd.date_range("2024-09-03 10:00", periods=n, freq="h"),
            "synthetic": True,
            "explained": [1] * up + [-1] * down,
            "prediction": [0.5] * up + [-0.5] * down,
            "outcome": [1.0] * up + [1.0] * down,  # every window rose: the up calls were right
            "pattern_start": [3] * up + [-1] * down,
            "pattern_stop": [4] * up + [-1] * down,
            **{f"mass_{key}": profiles for key in METHODS},
            **{f"time_{key}": profiles for key in METHODS},
        }
    )
    if without is not None:  # --reliance: each pattern window's prediction without its pattern
        rows["prediction_without_pattern"] = without
    if trust:
        rows["random_deletion_auc"], rows["random_insertion_auc"] = 0.5, 0.5
        rows["deletion_auc_gradcam"], rows["insertion_auc_gradcam"] = 0.4, 0.6
        rows["deletion_auc_saliency"], rows["insertion_auc_saliency"] = 0.6, 0.4
    dataset.write_partition(out, "demo:ACME", rows, {key: np.zeros((n, 4, 4), np.float32) for key in METHODS})
    return out


def test_the_aggregates_of_a_crafted_dataset_are_its_known_answers(ticker, tmp_path):
    write_crafted(tmp_path, "crafted", ticker)
    assert find_datasets(tmp_path) == ["crafted"]
    view = open_dataset("crafted", ticker, tmp_path)
    assert (len(view.indices), view.sources, view.synthetic) == (10, ("demo:ACME",), True)
    assert (int(view.predicted_up.sum()), float(view.right.mean())) == (6, 0.6)
    for key in METHODS:
        assert int(np.argmax(view.bands[key]["up"].mean)) == 3
        assert int(np.argmax(view.bands[key]["down"].mean)) == 7
        assert (view.bands[key]["up"].n, view.bands[key]["down"].n) == (6, 4)
    np.testing.assert_allclose(view.agreement.rank_correlation, 1.0)  # the two methods' profiles are the same
    table = view.localisation_table
    assert table.loc[method_label("gradcam"), "samples with a pattern"] == 6
    share = 1.0 / (1.0 + 49 * 0.01)  # the spike's share of each up window's mass
    assert table.loc[method_label("gradcam"), "share"] == pytest.approx(share, rel=1e-5)
    assert table.loc[method_label("gradcam"), "chance: flat map"] == pytest.approx(1 / 50)
    summary = trust_summary(view.trust)
    assert summary.loc[(method_label("gradcam"), "deletion area (lower is better)"), "share beating random"] == 1.0
    assert summary.loc[(method_label("saliency"), "deletion area (lower is better)"), "share beating random"] == 0.0
    assert summary.loc[(method_label("saliency"), "insertion area (higher is better)"), "median map − random"] == (
        pytest.approx(-0.1)
    )


def test_a_dataset_written_with_reliance_credits_only_the_patterns_the_model_relies_on(ticker, tmp_path):
    # up windows 0–5 carry the pattern; removing it moves the forecast by 0.3, 0.01, 0.2, 0.0, 0.06, 0.04 points
    without = [0.2, 0.49, 0.3, 0.5, 0.44, 0.46] + [np.nan] * 4
    write_crafted(tmp_path, "relied", ticker, manifest_changes={"reliance": True}, without=without)
    view = open_dataset("relied", ticker, tmp_path)
    reliance = view.localisation.reliance
    np.testing.assert_array_equal(reliance.rows, np.arange(6))
    np.testing.assert_array_equal(reliance.relied, [True, False, True, False, True, False])
    table = view.localisation_table
    assert table.loc[method_label("gradcam"), "relied on (of those with a pattern)"] == "3 of 6"
    assert table.loc[method_label("gradcam"), "samples with a pattern"] == 3
    assert view.localisation.n == 3
    assert len(view.localisation.intervals) == 3 + 4  # the relied-on windows and the four without a pattern
    without_reliance = open_dataset(write_crafted(tmp_path, "plain", ticker).name, ticker, tmp_path)
    assert without_reliance.localisation.reliance is None
    assert without_reliance.localisation.n == 6


def test_a_dataset_of_another_model_task_or_format_is_refused(ticker, tmp_path):
    write_crafted(tmp_path, "other-model", ticker, manifest_changes={"card_digest": "0" * 64, "model": "mine"})
    with pytest.raises(ValueError, match=r"explains another model \('mine', weights 000000000000…\)"):
        open_dataset("other-model", ticker, tmp_path)
    write_crafted(tmp_path, "other-task", ticker, manifest_changes={"task": "nifty"})
    with pytest.raises(ValueError, match="explains the 'nifty' task, the page's model is the 'ticker' one"):
        open_dataset("other-task", ticker, tmp_path)
    write_crafted(tmp_path, "old", ticker, manifest_changes={"format": 1})
    with pytest.raises(ValueError, match="written in format 1; this version reads formats 2 and 3"):
        open_dataset("old", ticker, tmp_path)
    dataset.prepare(tmp_path / "empty", manifest_of(ticker, RunSettings("ticker")))
    with pytest.raises(ValueError, match="holds no finished partition yet"):
        open_dataset("empty", ticker, tmp_path)
    with pytest.raises(ValueError, match="dataset must be one of the folders under"):
        open_dataset("../empty", ticker, tmp_path / "old")


def test_a_format_2_dataset_still_opens_and_its_maps_read_back(ticker, tmp_path):
    out = write_crafted(tmp_path, "format-2", ticker, manifest_changes={"format": 2})
    shutil.rmtree(out / "maps" / dataset.part_name("demo:ACME"))  # format 2 kept a source's maps in one .npz
    maps = np.arange(10 * 4 * 4, dtype=np.float16).reshape(10, 4, 4)
    np.savez(out / "maps" / f"{dataset.part_name('demo:ACME')}.npz", **{key: maps for key in METHODS})
    assert len(open_dataset("format-2", ticker, tmp_path).indices) == 10
    read = dataset.read_maps(out, "demo:ACME", "gradcam")
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, maps)


def test_a_run_without_trust_scores_says_how_to_get_them(ticker, tmp_path):
    write_crafted(tmp_path, "plain", ticker, trust=False)
    assert open_dataset("plain", ticker, tmp_path).trust is None


def _open_tab(monkeypatch, root, name: str) -> AppTest:
    monkeypatch.setenv(DATASETS_ENV_VAR, str(root))
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    app.radio(key="evaluate_task").set_value("Ticker regressor").run()
    return app.selectbox(key="evaluate_dataset").set_value(name).run()


def test_the_page_draws_a_dataset_and_refuses_another_models(ticker, tmp_path, monkeypatch):
    write_crafted(tmp_path, "crafted", ticker)
    write_crafted(tmp_path, "other-model", ticker, manifest_changes={"card_digest": "0" * 64, "model": "mine"})
    app = _open_tab(monkeypatch, tmp_path, "crafted")
    no_errors(app)
    assert any("10 windows of 1 sources" in header.value for header in app.subheader)
    charts = {chart.proto.id for chart in app.get("plotly_chart")}
    assert all(any(key in chart for chart in charts) for key in ("dataset_bands", "dataset_agreement", "dataset_trust"))
    app = app.selectbox(key="evaluate_dataset").set_value("other-model").run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "this dataset explains another model ('mine', weights 000000000000…) than the page's (weights "
        f"{ticker.card.weights_sha256[:12]}…): its maps say nothing about this one — select that model, or "
        "rerun the batch with this one"
    ]


def test_the_page_says_where_to_write_a_dataset_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv(DATASETS_ENV_VAR, str(tmp_path / "none"))
    app = AppTest.from_file(PAGE, default_timeout=120)
    app.run()
    no_errors(app)
    assert any("python -m batch explain demo:* --task nifty" in info.value for info in app.info)
