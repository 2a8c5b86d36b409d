"""The layer rules of docs/design.md §2: who may import whom, and how large a module may grow.

Every ``import`` in the package — at module level or inside a function — is
read from the source with :mod:`ast`, so a late import cannot hide a
dependency the rules forbid.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "carbonsink"
#: The science packages: each knows its science and none of the others.
SCIENCE = ("imagery", "lidar", "soil", "biomass")
#: What no science package may import: the other science packages, the wiring,
#: the survey file, the accounting and the presentation.
WIRING = ("pipeline", "cli", "config", "preflight", "accounting", "report", "synthetic")
#: Longest module, lines (docs/design.md: modules focused and named for what they hold).
MAX_LINES = 700


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every carbonsink module a file imports (absolute names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "carbonsink"}


def _top(module: str) -> str:
    """``carbonsink.soil.esm`` → ``soil``; ``carbonsink.crs`` → ``crs``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in _modules():
        owner = _top(_name(path))
        if owner not in packages:
            continue
        for module in sorted(_imports(path)):
            target = _top(module)
            if target != owner and target in forbidden:
                out.append(f"{path.relative_to(PROJECT_ROOT)} imports {module}")
    return out


def test_the_rules_see_every_import() -> None:
    # The reader finds module-level and function-level imports alike (a check of the
    # checker): pipeline/run.py imports the report's html module inside a function.
    imports = _imports(PACKAGE / "pipeline" / "run.py")
    assert "carbonsink.report.html" in imports
    assert "carbonsink.pipeline.context" in imports


def test_science_packages_import_no_other_science_package_nor_the_wiring() -> None:
    forbidden = (*SCIENCE, *WIRING)
    assert _violations(SCIENCE, forbidden) == []


def test_accounting_knows_no_survey_file_and_no_wiring() -> None:
    assert _violations(("accounting",), ("config", "preflight", "pipeline", "cli", *SCIENCE)) == []


def test_shared_layers_import_nothing_above_them() -> None:
    # io/ knows formats, spatial/ statistics, crs and grid the geometry: none of them
    # may reach up into the science packages or the wiring.
    shared = ("io", "spatial", "crs", "grid", "units", "errors", "schemas", "i18n")
    assert _violations(shared, (*SCIENCE, *WIRING)) == []


def test_the_survey_file_and_the_synthetic_world_reach_no_science_or_wiring() -> None:
    # config and preflight read the survey and check inputs; the synthetic generator
    # writes a survey. None of them runs a science stage or the wiring.
    forbidden = (*SCIENCE, "pipeline", "cli", "report")
    assert _violations(("config", "preflight", "synthetic"), forbidden) == []
    assert _violations(("config",), ("preflight", "synthetic")) == []


def test_imports_are_absolute() -> None:
    # The rules above read absolute imports; a relative one would slip past them.
    relative = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative += [
            f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level > 0
        ]
    assert relative == []


def test_report_presents_only() -> None:
    assert _violations(("report",), ("pipeline", "cli", "config", "preflight", *SCIENCE)) == []


def test_nothing_imports_the_cli() -> None:
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in _modules()
        if _top(_name(path)) != "cli"
        and path.name != "__main__.py"
        and any(_top(m) == "cli" for m in _imports(path))
    ]
    assert offenders == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_at_most_700_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PROJECT_ROOT)} has {lines} lines"
