"""The biomass stage on the synthetic survey through the pipeline (issue 6 acceptance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from carbonsink.pipeline import (
    EpochBiomass,
    RunContext,
    epoch_biomass,
    epoch_cube,
    find_epoch,
)


@pytest.fixture(scope="module", params=["2020", "2025"])
def stage(request: pytest.FixtureRequest, sample_survey: Path) -> tuple[str, EpochBiomass]:
    ctx = RunContext.build(sample_survey)
    epoch = find_epoch(ctx.survey, request.param)
    cube = epoch_cube(ctx, epoch)
    return request.param, epoch_biomass(ctx, epoch, cube)


@pytest.mark.slow
def test_spatial_cv_skill_and_interval_coverage(stage: tuple[str, EpochBiomass]) -> None:
    # Acceptance: spatial-CV R² ≥ 0.7 and 90 % intervals covering 85–95 % of the
    # held-out plots, for the wall-to-wall (imagery) model fitted on every plot.
    _, result = stage
    imagery = next(m for m in result.candidates if m.name == "imagery")
    pooled = imagery.cv.pooled
    assert pooled["n"] >= 75  # ~80 plots per epoch, a few in cloud gaps or at the edge
    assert pooled["r2"] >= 0.7, pooled
    assert 0.85 <= pooled["coverage"] <= 0.95, pooled


@pytest.mark.slow
def test_mapped_agb_inside_and_outside_lidar_within_10_percent(
    stage: tuple[str, EpochBiomass], sample_survey: Path
) -> None:
    # Acceptance: mapped total AGB within ±10 % of the truth, inside and outside the
    # LiDAR coverage (truth/totals.json, the generator's flight block), each reported.
    epoch, result = stage
    truth_dir = sample_survey.parent / "truth"
    totals = json.loads((truth_dir / "totals.json").read_text(encoding="utf-8"))
    true_agb = totals["epochs"][epoch]["agb_t_dm"]
    with xr.open_dataset(truth_dir / f"truth_{epoch}.nc") as truth:
        covered = truth["lidar_coverage"].values.astype(bool)
        inside = truth["inside_boundary"].values.astype(bool)
    area = RunContext.build(sample_survey).grid.cell_area_ha
    agb_t = np.nan_to_num(result.layers["agb_mg_ha"].values.astype(np.float64)) * area
    mapped_in = float(agb_t[inside & covered].sum())
    mapped_out = float(agb_t[inside & ~covered].sum())
    assert abs(mapped_in / true_agb["inside_lidar"] - 1.0) <= 0.10, (mapped_in, true_agb)
    assert abs(mapped_out / true_agb["outside_lidar"] - 1.0) <= 0.10, (mapped_out, true_agb)


@pytest.mark.slow
def test_layers_units_and_flags(stage: tuple[str, EpochBiomass]) -> None:
    _, result = stage
    layers = result.layers
    assert layers["agb_mg_ha"].attrs["units"] == "Mg DM/ha"
    assert layers["veg_c_mg_ha"].attrs["units"] == "Mg C/ha"
    predicted = np.isfinite(layers["agb_mg_ha"].values)
    lower = layers["agb_lower_mg_ha"].values[predicted]
    upper = layers["agb_upper_mg_ha"].values[predicted]
    mean = layers["agb_mg_ha"].values[predicted]
    assert np.all(lower <= mean + 1e-4) and np.all(mean <= upper + 1e-4)
    # Cells not predicted are exactly those flagged outside every model's AOA or
    # outside the survey: no silent gap.
    not_predicted = ~predicted & (layers["agb_model"].values != 0)
    assert not not_predicted.any()
    assert result.lidar_decision
