"""Security (issue 6 §3): nothing from a file is executed, no browser text becomes a server path,
the server keeps XSRF protection and an upload limit, no secrets, dependency floors past advisories."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version
from streamlit.testing.v1 import AppTest

from data import DataError, load_bar_file, load_source
from data.files import MAX_FILE_MB
from data.uploads import store_upload
from models.registry import SHIPPED
from models.training import CHECKPOINTS_SUBDIR
from tests.apptest_helpers import open_page
from tests.conftest import REPO_ROOT
from tests.fake_yahoo import FakeYahoo

RUNTIME_CODE = ["app.py", "pages", "data", "models", "xai"]


def runtime_files() -> list:
    files = []
    for entry in RUNTIME_CODE:
        path = REPO_ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def calls(path) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Call)]


def dotted(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{dotted(func.value)}.{func.attr}"
    return ""


def test_every_torch_load_is_weights_only_and_nothing_else_unpickles_or_evaluates():
    torch_loads, forbidden = [], []
    for path in runtime_files():
        for call in calls(path):
            name = dotted(call.func)
            where = f"{path.relative_to(REPO_ROOT)}:{call.lineno} {name}"
            if name == "torch.load":
                torch_loads.append(where)
                keywords = {k.arg: k.value for k in call.keywords}
                assert isinstance(keywords.get("weights_only"), ast.Constant), where
                assert keywords["weights_only"].value is True, where
            if name in ("eval", "exec", "pickle.load", "pickle.loads", "marshal.loads", "yaml.load", "compile"):
                forbidden.append(where)
            if name.endswith("np.load") and any(k.arg == "allow_pickle" for k in call.keywords):
                forbidden.append(where)
    assert forbidden == []
    assert len(torch_loads) >= 2  # checkpoints and the torchvision-weights loader: the scan does see them


@pytest.mark.parametrize("text", ["/etc/passwd", "../../etc/passwd", "prices.csv", "C:\\prices.csv", "~/.ssh/id_rsa"])
def test_text_from_the_browser_never_reads_a_server_file(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prices.csv").write_text("timestamp,open,high,low,close\n2024-01-02 10:00,1,2,0.5,1.5\n")
    assert len(load_source("prices.csv").bars) == 1  # the command line may read files ...
    yahoo = FakeYahoo(monkeypatch)
    with pytest.raises(DataError) as refused:
        load_source(text, "60m", files=False)  # ... text from the browser may not, nor is it sent to Yahoo
    expected = f"{text!r} is a file path; the dashboard reads files only as uploads: upload it instead"
    assert str(refused.value) == expected
    assert yahoo.calls == []


def test_a_path_in_the_link_is_refused_on_the_page():
    app = open_page("pages/ticker.py", 180, source="/etc/passwd")
    assert not app.exception
    assert [e.value for e in app.error] == [
        "'/etc/passwd' is a file path; the dashboard reads files only as uploads: upload it instead"
    ]
    assert "root:" not in " ".join(str(element.value) for element in app.markdown)


def test_uploads_are_kept_under_their_digest_never_their_name(isolated_cache):
    payload = b"timestamp,open,high,low,close\n2024-01-02 10:00,1,2,0.5,1.5\n2024-01-02 11:00,1,2,0.5,1.25\n"
    loaded = store_upload(load_bar_file(payload, name="../../../evil name.csv"))
    assert re.fullmatch(r"upload:[0-9a-f]{32}", loaded.source)
    stored = [path.relative_to(isolated_cache) for path in isolated_cache.rglob("*") if path.is_file()]
    assert [str(path) for path in stored] == [f"uploads/{loaded.source.removeprefix('upload:')}.parquet"]
    again = load_source(loaded.source)
    assert again.bars.equals(loaded.bars)
    assert "../../../evil name.csv" in again.notes[-1]  # the name is only ever text
    assert again.file_name == "../../../evil name.csv"
    assert store_upload(load_bar_file(payload, name="../../../evil name.csv")).source == loaded.source  # kept once
    other = store_upload(load_bar_file(payload, name="other.csv")).source  # another file: its own name and report
    assert re.fullmatch(r"upload:[0-9a-f]{32}", other)
    assert other != loaded.source
    assert load_source(other).file_name == "other.csv"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("upload:../../etc/passwd", "source must be 'upload:' and 32 hex digits, got 'upload:../../etc/passwd'"),
        ("upload:" + "0" * 32, "is not in this server's cache folder (a link from another server, or a cleared cache)"),
    ],
)
def test_bad_upload_sources(source, message):
    with pytest.raises(DataError, match=re.escape(message)):
        load_source(source, files=False)


def test_the_server_keeps_xsrf_protection_and_an_upload_limit():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] == MAX_FILE_MB == 200
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks in the browser


SECRET_PATTERNS = {
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "AWS key": r"AKIA[0-9A-Z]{16}",
    "GitHub token": r"gh[pousr]_[A-Za-z0-9]{36}",
    "Slack token": r"xox[baprs]-[A-Za-z0-9-]{10,}",
    "assigned secret": r"(?i)(api[_-]?key|secret|password|token)\s*[:=]\s*['\"][^'\"\s]{12,}['\"]",
}


def test_no_secrets_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, "git ls-files listed nothing"
    assert ".streamlit/secrets.toml" not in tracked
    assert ".streamlit/secrets.toml" in (REPO_ROOT / ".gitignore").read_text().split()
    found = []
    for name in tracked:
        path = REPO_ROOT / name
        if path.suffix in (".pt", ".png", ".parquet") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{name}: {kind}" for kind, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]
    assert found == []


def test_the_secret_patterns_do_find_secrets():
    planted = (
        'API_KEY = "' + "sk_live_0123456789abcdef" + '"\n' + "AKIA" + "ABCDEFGHIJKLMNOP"
    )  # split: not a secret here
    assert {kind for kind, pattern in SECRET_PATTERNS.items() if re.search(pattern, planted)} == {
        "assigned secret",
        "AWS key",
    }


#: Package → the last version with a known code-execution advisory (see requirements.txt).
LAST_VULNERABLE = {
    "torch": "2.5.1",
    "pyarrow": "14.0.0",
    "pillow": "10.2.0",
    "tqdm": "4.66.2",
    "streamlit": "1.36.0",
}


def test_dependency_floors_exclude_versions_with_code_execution_advisories():
    requirements = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            requirements[requirement.name.lower()] = requirement.specifier
    for package, vulnerable in LAST_VULNERABLE.items():
        assert package in requirements, f"{package} is not in requirements.txt"
        allowed = requirements[package]
        assert Version(vulnerable) not in allowed, f"{package} {allowed} admits {vulnerable}"
        installed = Version(importlib.metadata.version(package))
        assert installed in allowed, f"installed {package} {installed} breaks {allowed}"


def test_a_card_naming_a_server_file_is_not_read_by_the_pages(isolated_cache):
    folder = isolated_cache / CHECKPOINTS_SUBDIR / "ticker-20260101-000000-0000beef"
    shutil.copytree(SHIPPED["ticker"], folder)
    card = json.loads((folder / "card.json").read_text())
    card["data"]["source"] = "/etc/passwd"
    (folder / "card.json").write_text(json.dumps(card))
    app = AppTest.from_file(str(REPO_ROOT / "pages" / "what-if.py"), default_timeout=180)
    app.session_state["checkpoint::ticker"] = str(folder)
    app.query_params["model"] = "ticker"
    app.run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "The model's data (passwd (a file, trained on the command line)) cannot be read: '/etc/passwd' is a file "
        "path; the dashboard reads files only as uploads: upload it instead. Check the source, or pick another "
        "checkpoint."
    ]
