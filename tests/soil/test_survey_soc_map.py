"""The soil stage on the synthetic survey through the pipeline (issue 5 acceptance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from carbonsink.pipeline import RunContext, epoch_core_stocks, epoch_soc_map, find_epoch


@pytest.mark.slow
@pytest.mark.parametrize("epoch_name", ["2020", "2025"])
def test_soc_map_intervals_cover_the_truth_and_total_matches(
    sample_survey: Path, epoch_name: str
) -> None:
    # Cores of soil_<epoch>.csv (lon/lat; 2025 in 有机质 g/kg by dichromate) → core
    # stocks 0–30 cm → ordinary kriging with point support (the survey default).
    # Acceptance: the 90 % intervals cover the true cell stock in 85–95 % of the
    # inside-boundary cells, and Σ ẑ × true cell area is within ±10 % of the true
    # total in truth/totals.json.
    ctx = RunContext.build(sample_survey)
    grid = ctx.grid
    epoch = find_epoch(ctx.survey, epoch_name)
    stocks = epoch_core_stocks(ctx, epoch)
    assert len(stocks) == 40  # the generator's n_cores for the committed survey
    soc = epoch_soc_map(ctx, stocks, depth_cm=30.0)
    assert soc["soc_0_30_mg_ha"].attrs["units"] == "Mg C/ha"

    truth_dir = sample_survey.parent / "truth"
    with xr.open_dataset(truth_dir / f"truth_{epoch_name}.nc") as truth:
        true_soc = truth["soc_0_30_mg_ha"].values
        inside = truth["inside_boundary"].values.astype(bool)
    lower = soc["soc_0_30_mg_ha_lower"].values[inside]
    upper = soc["soc_0_30_mg_ha_upper"].values[inside]
    assert np.isfinite(lower).all()
    coverage = float(np.mean((true_soc[inside] >= lower) & (true_soc[inside] <= upper)))
    assert 0.85 <= coverage <= 0.95, coverage

    totals = json.loads((truth_dir / "totals.json").read_text(encoding="utf-8"))
    true_total = totals["epochs"][epoch_name]["stocks_t_c"]["soc_0_30"]
    total = float(np.nansum(soc["soc_0_30_mg_ha"].values * grid.cell_area_ha))
    assert abs(total / true_total - 1.0) <= 0.10, (total, true_total)
    assert np.isnan(soc["soc_0_30_mg_ha"].values[~inside]).all()
