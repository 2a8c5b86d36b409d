"""The SOC map's leave-one-out CV as the run makes it: the map's variogram held fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.pipeline import RunContext
from carbonsink.pipeline.stages.soil import soc_map_cv, soc_variogram
from tests.conftest import SAMPLE_SURVEY


def _pure_nugget_map() -> xr.Dataset:
    """An SOC map's attributes as the run reads its variogram: pure nugget 100 (Mg C/ha)²."""
    return xr.Dataset(
        attrs={
            "variogram_model": "spherical",
            "variogram_nugget": 100.0,
            "variogram_partial_sill": 0.0,
            "variogram_range_m": 500.0,
        }
    )


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
            "soc_0_30_se_mg_ha": [0.0] * 5,
        }
    )
    soc_map = _pure_nugget_map()
    assert soc_variogram(soc_map).sill == 100.0
    cv = soc_map_cv(ctx, stocks, soc_map, depth_cm=30.0)
    np.testing.assert_allclose(cv.predictions["predicted"], [35.0, 32.5, 30.0, 27.5, 25.0])
    assert cv.n == 5 and cv.folds == "loo"
    assert cv.rmse_mg_ha == pytest.approx(np.sqrt(1562.5 / 5))
    assert cv.mean_error_mg_ha == pytest.approx(0.0, abs=1e-9)


def test_the_cores_standard_errors_weigh_as_in_the_map() -> None:
    # Pure nugget 100 (Mg C/ha)² with core 1 (value 20) measured with se 8 (variance 64)
    # and the others exact. Predicting core 0 from the other four: their mean se² is
    # 64 / 4 = 16, so the process nugget is 84, and each core weighs 1 / (84 + se²): core 1
    # 1/148, the others 1/84. Core 0 is (20/148 + (30 + 40 + 50)/84) / (1/148 + 3/84)
    # = 36.82 — not 35, the plain mean of the others.
    ctx = RunContext.build(SAMPLE_SURVEY)
    stocks = pd.DataFrame(
        {
            "x": [500_000.0, 500_900.0, 501_800.0, 500_400.0, 501_300.0],
            "y": [3_250_000.0, 3_250_700.0, 3_250_100.0, 3_251_500.0, 3_251_900.0],
            "soc_0_30_mg_ha": [10.0, 20.0, 30.0, 40.0, 50.0],
            "soc_0_30_se_mg_ha": [0.0, 8.0, 0.0, 0.0, 0.0],
        }
    )
    soc_map = _pure_nugget_map()
    cv = soc_map_cv(ctx, stocks, soc_map, depth_cm=30.0)
    w_noisy, w_exact = 1 / (84.0 + 64.0), 1 / 84.0
    expected = (20 * w_noisy + (30 + 40 + 50) * w_exact) / (w_noisy + 3 * w_exact)
    assert cv.predictions["predicted"].iloc[0] == pytest.approx(expected, rel=1e-6)
