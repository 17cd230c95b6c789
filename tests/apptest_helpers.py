"""Shared AppTest helpers: open a page with query parameters, and require a clean run."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT


def open_page(path: str, timeout_s: float, **query: str) -> AppTest:
    """Run the page at ``path`` (relative to the repository) once, with ``?key=value`` query parameters."""
    app = AppTest.from_file(str(REPO_ROOT / path), default_timeout=timeout_s)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def no_errors(app: AppTest) -> None:
    """No exception element and no st.error on the page."""
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
