"""run_survey is both `carbonsink run` and the library API: one seed, one boundary reading.

Two runs of the sample survey with seed 7 are made once for the module: the
library's ``run_survey(survey, seed=7)`` in this process, without an output
folder, with a spy on every pyogrio call that opens the boundary file; and
``carbonsink run --seed 7`` in a subprocess. Their ledgers must be
byte-identical when written the same way, which shows that a seed means the
same thing on the command line and in a notebook.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from carbonsink.io.writers import write_json
from carbonsink.pipeline import RunResult, run_survey
from tests.conftest import PROJECT_ROOT, SAMPLE_SURVEY
from tests.pipeline.file_reads import spy_on_reads

SEED = 7


@pytest.fixture(scope="module")
def library_run() -> tuple[RunResult, list[str]]:
    with pytest.MonkeyPatch.context() as patch:
        calls = spy_on_reads(patch, SAMPLE_SURVEY.parent / "boundary.geojson")
        result = run_survey(SAMPLE_SURVEY, seed=SEED)
    return result, calls


@pytest.fixture(scope="module")
def cli_ledger(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("seed_7")
    command = [
        sys.executable,
        "-m",
        "carbonsink",
        "-q",
        "run",
        str(SAMPLE_SURVEY),
        "--out",
        str(out),
        "--seed",
        str(SEED),
        "--workers",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return (out / "ledger.json").read_bytes()


@pytest.mark.slow
def test_seed_7_gives_the_same_ledger_from_the_cli_and_the_library(
    library_run: tuple[RunResult, list[str]], cli_ledger: bytes, tmp_path: Path
) -> None:
    result, _ = library_run
    path = write_json(result.ledger.to_dict(), tmp_path / "ledger.json")
    assert path.read_bytes() == cli_ledger
    assert result.ledger.monte_carlo["seed"] == SEED
    assert result.context.seed == SEED


@pytest.mark.slow
def test_the_boundary_is_read_once_per_run(library_run: tuple[RunResult, list[str]]) -> None:
    # The preflight reads the boundary (layers, info, geometries) once; the grid, the
    # inside mask, every stage and the ledger's polygon hash use that reading.
    _, calls = library_run
    assert calls.count("read_dataframe") == 1
    assert calls.count("read_info") == 1


@pytest.mark.slow
def test_without_an_output_folder_nothing_is_written(
    library_run: tuple[RunResult, list[str]],
) -> None:
    result, _ = library_run
    assert result.out_dir is None and result.manifest is None and result.written == []
    # The per-pixel results are still returned: carbon of both epochs and the change.
    assert set(result.carbon) == {"2020", "2025"}
    assert result.change is not None
    assert result.change["removals_t_co2e_ha_yr"].attrs["units"] == "t CO2e/ha/yr"
