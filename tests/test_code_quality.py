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
