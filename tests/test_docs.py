"""The README and docs/ hold together: every relative link and anchor resolves, every page is shown.

Reads files only (no app, no browser): the screenshots themselves are made by ``docs/screenshots.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
SCREENSHOTS = DOCS / "screenshots"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]
#: A README a newcomer reads in five minutes; reference material goes to docs/.
README_MAX_LINES = 250
#: Each screenshot stays small (docs/screenshots.py shrinks and quantises them).
SCREENSHOT_MAX_BYTES = 250_000

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(path: Path) -> str:
    """The file without fenced code blocks (a ``#`` comment there is no heading, a link no link)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def links(path: Path) -> list[str]:
    """Every link and image target in the file's prose (inline code removed)."""
    return LINK.findall(INLINE_CODE.sub("", prose(path)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(prose(path))}


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def test_the_docs_exist():
    assert README.is_file()
    assert len(MARKDOWN) >= 6, f"expected the reference pages under {DOCS}, found {MARKDOWN}"


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(path.relative_to(REPO_ROOT)) for path in MARKDOWN])
def test_every_relative_link_and_anchor_resolves(path: Path):
    broken = []
    for target in links(path):
        if not is_relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif not linked.is_relative_to(REPO_ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor in {linked.relative_to(REPO_ROOT)}")
    assert broken == [], f"{path.relative_to(REPO_ROOT)} has broken links"


def test_the_link_checker_finds_broken_links(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` heading, here\n\n[ok](#a-code-heading-here) [bad](#nowhere) ![img](shot.png)\n"
        "`[not a link](nowhere.md)`\n\n```\n# not a heading\n[not a link](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page) == ["#a-code-heading-here", "#nowhere", "shot.png"]
    assert anchors(page) == {"a-code-heading-here"}
    assert slug("`python -m data describe`") == "python--m-data-describe"
    assert slug("Images: what a model sees") == "images-what-a-model-sees"


def test_the_readme_shows_every_screenshot_and_every_screenshot_is_shown():
    shown = {(README.parent / target).resolve() for target in links(README) if target.endswith(".png")}
    on_disk = {path.resolve() for path in SCREENSHOTS.glob("*.png")}
    assert shown, "the README shows no screenshots"
    assert shown - on_disk == set(), "the README shows screenshots that docs/screenshots.py did not write"
    assert on_disk - shown == set(), "screenshots nobody shows: drop them or show them in the README"
    for path in on_disk:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
        assert len(data) < SCREENSHOT_MAX_BYTES, f"{path.name} is {len(data):,} bytes: regenerate it smaller"


def app_url_paths() -> list[str]:
    """The url path of every page app.py's navigation lists ("" for the default page)."""
    from pages.ui.navigation import APP_PAGES

    return [page.url_path for page in APP_PAGES]


def test_the_readme_has_a_section_and_a_screenshot_for_every_page():
    paths = app_url_paths()
    assert len(paths) >= 5, f"found only {paths} in the navigation"
    readme = README.read_text(encoding="utf-8")
    headings = HEADING.findall(prose(README))
    shots = [target for target in links(README) if target.endswith(".png")]
    for url_path in paths:
        assert any(heading.endswith(f"`/{url_path}`") for heading in headings), f"no README section for /{url_path}"
        assert f"/{url_path}" in readme
    assert len(shots) >= len(paths)


def test_the_readme_keeps_the_two_commands_and_stays_short():
    readme = README.read_text(encoding="utf-8")
    assert "```bash\npython -m pip install -r requirements.txt && streamlit run app.py\n```" in readme
    assert "```bash\nbash .ci/run\n```" in readme
    assert (REPO_ROOT / ".ci" / "run").is_file()
    lines = len(readme.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move reference material into docs/"
