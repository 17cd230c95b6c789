"""The shape of the code, checked: layers import only the layers to their left, no module over 500
lines, no task-name string branches, no process-wide switch outside the entry points."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: The layers, left to right: each may import only itself and those before it.
LAYERS = ("data", "models", "xai", "workflows", "pages")
PACKAGES = (*LAYERS[:-1], "pages")
MAX_LINES = 500
#: The measure of issue 11: code that branches on a task's or an image's name.
STRING_BRANCH = re.compile(r"""(task|\.image|kind) *(==|!=) *["']""")
#: Calls that change the whole process; only these files may make them.
PROCESS_WIDE = {
    "manual_seed": (),
    "seed": (),
    "use_deterministic_algorithms": ("models/random_draws.py",),
    "set_num_threads": ("app.py",),
    "freeze": ("app.py",),  # gc.freeze: the start-up heap out of every full collection
    "filterwarnings": (),
    "simplefilter": (),
}


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO_ROOT / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_to_its_left(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    for path in _modules(layer):
        wrong = (_imported(path) & set(LAYERS)) - allowed
        assert not wrong, f"{path.relative_to(REPO_ROOT)} imports {sorted(wrong)}, a layer to its right"


def test_only_pages_and_the_entry_point_import_streamlit():
    for path in _modules(*LAYERS[:-1]):
        assert "streamlit" not in _imported(path), f"{path.relative_to(REPO_ROOT)} imports streamlit"


def test_no_module_is_over_500_lines():
    too_long = {
        str(path.relative_to(REPO_ROOT)): n
        for path in [*_modules(*PACKAGES), REPO_ROOT / "app.py"]
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long


def test_no_code_branches_on_a_task_or_image_name():
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in _modules(*PACKAGES)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if STRING_BRANCH.search(line)
    ]
    assert not found, "ask the task object instead:\n" + "\n".join(found)


def test_the_string_branch_measure_finds_what_it_should():
    assert STRING_BRANCH.search('if spec.task == "nifty":')
    assert STRING_BRANCH.search("if loaded.spec.image != 'gadf':")
    assert not STRING_BRANCH.search("if task.is_regression:")


def _process_wide_calls(path: Path) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in PROCESS_WIDE:
            owner = node.func.value
            module = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if module in ("torch", "warnings", "random", "np") or node.func.attr == "use_deterministic_algorithms":
                calls.append(f"{module}.{node.func.attr} (line {node.lineno})")
    return calls


def test_no_process_wide_switch_outside_the_entry_points():
    """Global seeds, deterministic switches, thread counts and warning filters: only where allowed.

    ``warnings.filterwarnings`` inside ``warnings.catch_warnings()`` is local to that block; the one
    use (around Captum's passes) is listed here by hand, so a new one is looked at.
    """
    for path in [*_modules(*PACKAGES), REPO_ROOT / "app.py"]:
        relative = str(path.relative_to(REPO_ROOT))
        for call in _process_wide_calls(path):
            name = call.split(" ")[0].split(".")[1]
            if relative in PROCESS_WIDE[name] or (relative, name) == ("xai/explain.py", "filterwarnings"):
                continue
            if (relative, name) == ("data/files.py", "simplefilter"):  # inside catch_warnings(record=True)
                continue
            pytest.fail(f"{relative}: {call} changes the whole server process")


def test_the_process_wide_scan_finds_a_global_seed(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("import torch\ntorch.manual_seed(0)\n", encoding="utf-8")
    assert _process_wide_calls(planted) == ["torch.manual_seed (line 2)"]


def test_pages_folder_holds_only_the_navigations_pages_each_named_as_its_url():
    """Streamlit's folder mode (a fresh server's first runs) makes a page of every ``pages/*.py``,
    its URL the file's name: so that mode can only ever find our pages, at our URLs."""
    from pages.ui.navigation import APP_PAGES

    files = sorted(path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "pages").glob("*.py"))
    assert files == sorted(page.file for page in APP_PAGES)
    for page in APP_PAGES:
        assert page.url_path == ("" if page.default else Path(page.file).stem)
        source = (REPO_ROOT / page.file).read_text(encoding="utf-8")
        body = [node for node in ast.parse(source).body if not isinstance(node, (ast.Import, ast.ImportFrom))]
        first_call = next(
            node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        )
        assert ast.unparse(first_call) == "ensure_app_navigation()", (
            f"{page.file} must call ensure_app_navigation() first"
        )
