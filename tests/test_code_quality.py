"""The code base stays ruff- and mypy-clean (the quality bar of the project)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


def _tool(name: str) -> list[str]:
    if shutil.which(name, path=str(PROJECT_ROOT / ".venv" / "bin")) or shutil.which(name):
        return [sys.executable, "-m", name]
    pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("ruff", ["check", "."]), ("ruff", ["format", "--check", "."]), ("mypy", [])],
    ids=["ruff-lint", "ruff-format", "mypy"],
)
def test_tool_is_clean(tool: str, arguments: list[str]) -> None:
    result = subprocess.run(
        [*_tool(tool), *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_code_of_the_package_loads_a_pickle() -> None:
    # Issue 16: the stage cache holds data formats only; nothing carbonsink reads can run
    # code. No pickle/marshal/shelve load, no numpy load with allow_pickle=True, no joblib.
    import re

    forbidden = re.compile(
        r"\b(pickle|cPickle|dill|cloudpickle|marshal|shelve|joblib)\.(load|loads|Unpickler|open)\b"
        r"|allow_pickle\s*=\s*True|pd\.read_pickle|\.read_pickle\("
    )
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in sorted((PROJECT_ROOT / "carbonsink").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line)
    ]
    assert found == []
