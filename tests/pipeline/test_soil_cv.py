"""The SOC map's leave-one-out CV as the run makes it: the map's variogram held fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.pipeline import RunContext
from carbonsink.pipeline.stages.soil import soc_map_cv, soc_variogram
from tests.conftest import SAMPLE_SURVEY


def test_each_core_is_predicted_from_the_others_with_the_maps_variogram() -> None:
    # A pure-nugget variogram (the map's, in its attributes) makes ordinary kriging weigh
    # every other core equally: core i is predicted by the mean of the other four.
    # Values 10, 20, 30, 40, 50 (Mg C/ha): predictions 35, 32.5, 30, 27.5, 25; errors
    # (predicted − observed) 25, 12.5, 0, −12.5, −25: mean 0, RMSE √(1562.5 / 5) = 17.678.
    # Five cores are too few to fit a variogram: only a fixed one gives these numbers.
    ctx = RunContext.build(SAMPLE_SURVEY)
    assert ctx.survey.soil.prediction == "ordinary-kriging"
    stocks = pd.DataFrame(
        {
            "x": [500_000.0, 500_900.0, 501_800.0, 500_400.0, 501_300.0],
            "y": [3_250_000.0, 3_250_700.0, 3_250_100.0, 3_251_500.0, 3_251_900.0],
            "soc_0_30_mg_ha": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    soc_map = xr.Dataset(
        attrs={
            "variogram_model": "spherical",
            "variogram_nugget": 100.0,
            "variogram_partial_sill": 0.0,
            "variogram_range_m": 500.0,
        }
    )
    assert soc_variogram(soc_map).sill == 100.0
    cv = soc_map_cv(ctx, stocks, soc_map, depth_cm=30.0)
    np.testing.assert_allclose(cv.predictions["predicted"], [35.0, 32.5, 30.0, 27.5, 25.0])
    assert cv.n == 5 and cv.folds == "loo"
    assert cv.rmse_mg_ha == pytest.approx(np.sqrt(1562.5 / 5))
    assert cv.mean_error_mg_ha == pytest.approx(0.0, abs=1e-9)
