"""The LiDAR stage's water evidence: the survey's water polygons and the imagery's water mask."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from carbonsink.config import WaterEvidenceEntry
from carbonsink.errors import InputError
from carbonsink.pipeline import run_survey
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.lidar import epoch_water_evidence
from tests.conftest import SAMPLE_SURVEY
from tests.survey_edits import quick_bootstrap


@pytest.fixture(scope="module")
def ctx() -> RunContext:
    return RunContext.build(SAMPLE_SURVEY)


def _square(path: Path, ctx: RunContext, x0: float, y0: float, side: float) -> Path:
    """A GeoJSON square in the survey's CRS (stated in the file's ``crs`` member)."""
    ring = [[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side], [x0, y0]]
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": ctx.grid.crs.to_string()}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def test_polygons_and_the_imagery_mask_make_one_evidence(ctx: RunContext, tmp_path: Path) -> None:
    epoch = next(e for e in ctx.survey.epochs if e.lidar)
    assert epoch.water_evidence is None
    assert epoch_water_evidence(ctx, epoch) is None
    # A square of 5 × 5 cells aligned to the grid, at the centre of the grid: its cells
    # are the 25 whose centres it holds.
    res = ctx.grid.resolution
    rows, cols = ctx.grid.shape
    r0, c0 = rows // 2, cols // 2
    west, _, _, north = ctx.grid.bounds
    x0, y0 = west + c0 * res, north - (r0 + 5) * res
    square = _square(tmp_path / "water.geojson", ctx, x0, y0, 5 * res)
    entry = WaterEvidenceEntry(polygons=square)
    evidence = epoch_water_evidence(ctx, epoch.model_copy(update={"water_evidence": entry}))
    assert evidence is not None
    expected = np.zeros(ctx.grid.shape, dtype=bool)
    expected[r0 : r0 + 5, c0 : c0 + 5] = True
    np.testing.assert_array_equal(evidence.mask, expected)
    assert evidence.sources == ("polygons water.geojson",)
    # A point in the square's middle cell is known water; one 100 cells west is not.
    cx, cy = x0 + 2.5 * res, y0 + 2.5 * res
    np.testing.assert_array_equal(
        evidence.at(np.array([cx, cx - 100 * res]), np.array([cy, cy])), [True, False]
    )
    # Adding the imagery's mask: MNDWI 0.3 in the first row, −0.2 elsewhere, NaN in one
    # cell of the first row (a gap: not water). The threshold 0 keeps the first row.
    mndwi = np.full(ctx.grid.shape, -0.2)
    mndwi[0, :] = 0.3
    mndwi[0, 0] = np.nan
    both = WaterEvidenceEntry(polygons=square, imagery=True)
    evidence = epoch_water_evidence(
        ctx,
        epoch.model_copy(update={"water_evidence": both}),
        xr.DataArray(mndwi, dims=("y", "x")),
    )
    assert evidence is not None
    expected[0, 1:] = True
    np.testing.assert_array_equal(evidence.mask, expected)
    assert evidence.sources == ("polygons water.geojson", "imagery MNDWI > 0")


def test_polygons_that_miss_the_project_are_refused(ctx: RunContext, tmp_path: Path) -> None:
    epoch = next(e for e in ctx.survey.epochs if e.lidar)
    west, south, _, _ = ctx.grid.bounds
    away = _square(tmp_path / "away.geojson", ctx, west - 10_000.0, south, 100.0)
    entry = WaterEvidenceEntry(polygons=away)
    with pytest.raises(InputError, match="no water polygon") as info:
        epoch_water_evidence(ctx, epoch.model_copy(update={"water_evidence": entry}))
    assert info.value.problem.path is not None and "away.geojson" in str(info.value.problem.path)
    # A file of points: named as a water polygon file, not a boundary.
    points = tmp_path / "points.geojson"
    points.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [112.9, 29.4]},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    entry = WaterEvidenceEntry(polygons=points)
    with pytest.raises(InputError, match="water polygon file holds no polygons"):
        epoch_water_evidence(ctx, epoch.model_copy(update={"water_evidence": entry}))
    # The imagery mask without an MNDWI layer (no SWIR band).
    entry = WaterEvidenceEntry(imagery=True)
    with pytest.raises(InputError, match="MNDWI"):
        epoch_water_evidence(ctx, epoch.model_copy(update={"water_evidence": entry}))


def test_a_survey_run_with_the_imagery_water_mask_records_its_agreement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the 2025 epoch's ``water_evidence = { imagery = true }`` reaches the ledger.

    The LiDAR point buckets of both epochs are spilled inside ``OUT/.staging/work`` (the
    folder a cluster's workers share with the run), which goes with the staging folder.

    The sample's 2025 flight covers little water: truth_2025.nc puts 0.11 ha of water (11
    cells of 10 m) inside the LiDAR coverage. The composite's MNDWI > 0 and the LiDAR's own
    water both find about that — within 8 cells (0.08 ha): the water's edge cells are mixed
    water and land, and a cell is the LiDAR's water when half its returns are —, and agree on
    most of it.
    """
    survey_dir = tmp_path / "s"
    shutil.copytree(SAMPLE_SURVEY.parent, survey_dir)
    toml = survey_dir / "survey.toml"
    anchor = 'lidar = [{ path = "lidar/2025/*.laz" }]\n'
    text = toml.read_text(encoding="utf-8")
    assert anchor in text
    toml.write_text(
        text.replace(anchor, anchor + "water_evidence = { imagery = true }\n"), encoding="utf-8"
    )
    quick_bootstrap(toml)  # the test reads the water's record, not the AGB error
    import carbonsink.lidar.processing as processing

    spilled_in: list[Path] = []

    def spill(ranges: Any, plan: Any, **kwargs: Any) -> Any:
        spilled_in.append(plan.folder)
        return spill_points(ranges, plan, **kwargs)

    spill_points = processing.spill
    monkeypatch.setattr(processing, "spill", spill)
    run_survey(toml, tmp_path / "out")
    assert len(spilled_in) == 2  # one read per epoch
    for folder in spilled_in:
        assert folder.parent == (tmp_path / "out" / ".staging" / "work").resolve()
    assert not (tmp_path / "out" / ".staging").exists()
    ledger = json.loads((tmp_path / "out" / "ledger.json").read_text(encoding="utf-8"))
    evidence = ledger["lidar"]["2025"]["evidence"]
    assert evidence["sources"] == ["imagery MNDWI > 0"]
    assert "evidence" not in ledger["lidar"]["2020"]
    truth = xr.open_dataset(survey_dir / "truth" / "truth_2025.nc")
    cell_ha = abs(float(truth.x[1] - truth.x[0])) ** 2 / 10_000.0
    water = (truth["lidar_coverage"].values > 0) & (truth["water_mask"].values > 0)
    true_ha = float(water.sum()) * cell_ha
    assert true_ha == pytest.approx(0.11)
    assert evidence["evidence_ha"] == pytest.approx(true_ha, abs=0.08)
    assert evidence["lidar_water_ha"] == pytest.approx(true_ha, abs=0.08)
    assert evidence["agreement"] >= 0.75
    assert "imagery MNDWI" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
