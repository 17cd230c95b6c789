"""The batch command on Ray: a real local Ray cluster (``ray start --head``), joined by address as a user
joins theirs. The same rows and maps as the local engine, a worker killed mid-run retried without
duplicates, failures recorded, a rerun skipping what is done."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ray import cloudpickle

from batch import dataset
from batch.__main__ import main
from batch.on_ray import SourceWorker, explain_universe_on_ray
from batch.run import RunSettings, explain_universe, resolve_checkpoint
from xai.methods import ALL_METHODS

DAY = dt.date(2024, 9, 3)  # in the shipped ticker model's test split: 7 windows a symbol
SOURCES = ["demo:ACME", "demo:GLOBEX"]
RAY = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head node of 2 CPUs on this machine, started and stopped by the Ray CLI."""
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    command = [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}  # a private test cluster
    subprocess.run([*command, f"--temp-dir={temp}"], check=True, capture_output=True, env=environment, timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def ticker():
    return resolve_checkpoint("ticker", "shipped")


@pytest.fixture(scope="module")
def local_run(ticker, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    explain_universe(ticker, "shipped", SOURCES, out, first=DAY, last=DAY)
    return out


SETTINGS = RunSettings("ticker", first=DAY, last=DAY)


def test_ray_writes_the_local_engines_rows_and_maps(cluster, ticker, local_run, tmp_path):
    seen = []
    summary = explain_universe_on_ray(
        ticker, SETTINGS, SOURCES, tmp_path, address=cluster, workers=2, progress=seen.append
    )
    assert (sorted(summary.written), summary.failed, summary.windows) == (SOURCES, {}, 14)
    assert sorted(outcome.source for outcome in seen) == SOURCES
    local, remote = dataset.read_rows(local_run), dataset.read_rows(tmp_path)
    local, remote = (rows.sort_values(["source", "time"], ignore_index=True) for rows in (local, remote))
    assert remote[["source", "time", "explained", "outcome"]].equals(local[["source", "time", "explained", "outcome"]])
    np.testing.assert_allclose(remote["prediction"], local["prediction"], rtol=0, atol=1e-5)
    for source in SOURCES:
        for key in ALL_METHODS:
            here, there = dataset.read_maps(local_run, source, key), dataset.read_maps(tmp_path, source, key)
            np.testing.assert_allclose(there, here, rtol=0, atol=2e-3 * np.abs(here).max())
            # float16 storage: the actors' one thread and the local two round to the same values almost everywhere
            assert np.mean(there == here) > 0.99


class DiesOnce(SourceWorker):
    """Kills its worker process right after writing GLOBEX's partition, the first time only."""

    def __call__(self, batch):
        result = super().__call__(batch)
        marker = self.out / "died-once"
        if "demo:GLOBEX" in list(batch["source"]) and not marker.exists():
            marker.write_text("dead")
            os._exit(1)  # the process dies: Ray restarts the actor and retries the task
        return result


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers do not import the tests


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_written_twice(cluster, ticker, tmp_path):
    summary = explain_universe_on_ray(ticker, SETTINGS, SOURCES, tmp_path, address=cluster, workers=2, worker=DiesOnce)
    assert (tmp_path / "died-once").exists()  # the worker did die
    assert summary.failed == {}
    assert sorted(summary.written + summary.skipped) == SOURCES  # GLOBEX's retry found its partition done
    rows = dataset.read_rows(tmp_path)
    assert len(rows) == 14
    assert not rows.duplicated(["source", "time"]).any()
    assert list((tmp_path / "windows").glob("*.tmp-*")) == []


def test_failures_are_recorded_and_a_rerun_skips_what_is_done(cluster, ticker, tmp_path):
    first = explain_universe_on_ray(ticker, SETTINGS, ["demo:NOPE", "demo:ACME"], tmp_path, address=cluster, workers=1)
    assert first.written == ["demo:ACME"]
    assert "symbol must be one of the demo symbols" in first.failed["demo:NOPE"]
    again = explain_universe_on_ray(ticker, SETTINGS, ["demo:ACME"], tmp_path, address=cluster, workers=1)
    assert (again.skipped, again.written, again.windows) == (["demo:ACME"], [], 0)
    assert len(dataset.read_rows(tmp_path)) == 7


def test_the_command_line_runs_on_the_cluster(cluster, tmp_path, capsys):
    code = main(
        ["explain", "demo:ACME", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--out", str(tmp_path),
         "--engine", "ray", "--address", cluster, "--workers", "1", "--quiet"]
    )  # fmt: skip
    assert code == 0
    assert "1 sources written" in capsys.readouterr().out
    assert len(dataset.read_rows(tmp_path)) == 7


def test_bad_ray_settings_are_refused(ticker, tmp_path):
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        explain_universe_on_ray(ticker, SETTINGS, SOURCES, tmp_path, workers=0)
    with pytest.raises(ValueError, match="the universe is empty"):
        explain_universe_on_ray(ticker, SETTINGS, [], tmp_path)
    assert not (tmp_path / dataset.MANIFEST).exists()  # refused before anything was written
