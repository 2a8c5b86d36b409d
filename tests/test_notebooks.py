"""The walk-through notebooks (notebooks/*.ipynb) run without error and are stored clean.

Each notebook is executed top to bottom in a fresh ``python3`` kernel whose
working directory is ``notebooks/`` (as when a user opens it in Jupyter), on
the committed synthetic survey ``sample_data/junshan``.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, SAMPLE_SURVEY

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
#: A Python warning raised by carbonsink or by a notebook cell's own code, as printed on stderr.
WARNING_LINE = re.compile(r"(/carbonsink/|/ipykernel_\d+/)\S*:\d+: \w*Warning\b")
NOTEBOOKS = (
    "01_survey_overview.ipynb",
    "02_lidar.ipynb",
    "03_biomass_and_soil.ipynb",
    "04_credits_and_uncertainty.ipynb",
)


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def test_every_notebook_is_listed() -> None:
    # A new notebook must be added to NOTEBOOKS, or it would never be executed.
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code_cells, f"{name} has no code cell"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} hold outputs or execution counts; clear them"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_without_error(name: str) -> None:
    if not SAMPLE_SURVEY.is_file():
        pytest.skip(f"{SAMPLE_SURVEY} is missing: the notebooks run on the committed sample survey")
    nb = _read(name)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError at the first failing cell
    errors = [
        f"cell {i}: {output.get('ename')}: {output.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, "\n".join(errors)
    # Warnings of carbonsink are errors in the tests (pyproject filterwarnings); the kernel
    # is another process, so look for them, and for warnings of the cells' code, in stderr.
    warnings = [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
        for line in output.text.splitlines()
        if WARNING_LINE.search(line)
    ]
    assert not warnings, "\n".join(warnings)
    # Every code cell ran, in order.
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    # The plots were drawn inline (matplotlib figures are PNG display outputs).
    images = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, f"{name} drew no figure"


def test_notebook_paths_resolve_from_the_notebooks_folder() -> None:
    # The notebooks open ../sample_data/junshan/survey.toml relative to notebooks/.
    assert (NOTEBOOKS_DIR / ".." / "sample_data" / "junshan" / "survey.toml").resolve() == (
        SAMPLE_SURVEY.resolve()
    )
    for name in NOTEBOOKS:
        sources = "\n".join(cell.source for cell in _read(name).cells)
        assert '"sample_data" / "junshan" / "survey.toml"' in sources, name
