"""Tests of carbonsink.soil.soc_cross_validation: leave-one-out and spatial-block CV.

Expected values are worked by hand in the comments or come from the
synthetic survey (sample_data/junshan).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from carbonsink.errors import ConfigError
from carbonsink.soil.regression import sample_covariates
from carbonsink.soil.soc_cross_validation import cross_validate_soc
from carbonsink.spatial.variogram import VariogramModel, empirical_variogram, fit_variogram

X0, Y0 = 700_000.0, 3_254_000.0


def test_leave_one_out_with_a_pure_nugget_by_hand() -> None:
    # Pure nugget c₀ = 100: OK from the other 4 points is their mean with
    # σ² = c₀ + c₀/4 = 125 (point support: a held-out core).
    # Values 10..50: predictions (150 − zᵢ)/4 = 35, 32.5, 30, 27.5, 25;
    # errors 25, 12.5, 0, −12.5, −25 → RMSE = √(1562.5 / 5) = 17.677670, mean error 0;
    # SST = 1000 → R² = 1 − 1562.5/1000 = −0.5625;
    # half-width 1.644854·√125 = 18.390 → |25| outside, others inside → coverage 3/5.
    x = X0 + 100.0 * np.arange(5)
    result = cross_validate_soc(
        x,
        np.full(5, Y0),
        [10.0, 20.0, 30.0, 40.0, 50.0],
        method="ordinary-kriging",
        variogram_model=VariogramModel(model="spherical", nugget=100.0, psill=0.0, range_m=10.0),
    )
    assert result.n == 5
    assert result.folds == "loo"
    assert result.rmse_mg_ha == pytest.approx(math.sqrt(312.5))
    assert result.mean_error_mg_ha == pytest.approx(0.0, abs=1e-9)
    assert result.r2 == pytest.approx(-0.5625)
    assert result.coverage == pytest.approx(0.6)
    np.testing.assert_allclose(result.predictions["predicted"], [35, 32.5, 30, 27.5, 25])
    np.testing.assert_allclose(result.predictions["variance"], 125.0)
    assert result.predictions["covered"].tolist() == [False, True, True, True, False]
    assert result.to_dict()["rmse_mg_ha"] == result.rmse_mg_ha


def test_spatial_block_folds_keep_blocks_together() -> None:
    # Four clusters of three cores at the corners of a 1 km square; 500 m blocks
    # hold one cluster each, so every cluster is held out as a whole.
    offsets = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    corners = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0], [1000.0, 1000.0]])
    pts = (corners[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    x, y = X0 + pts[:, 0], Y0 + pts[:, 1]
    z = np.arange(12, dtype=float) + 20.0
    model = VariogramModel(model="spherical", nugget=4.0, psill=10.0, range_m=300.0)
    kwargs = {"method": "ordinary-kriging", "variogram_model": model, "block_m": 500.0}
    result = cross_validate_soc(x, y, z, folds=2, seed=1, **kwargs)  # type: ignore[arg-type]
    folds = result.predictions["fold"].to_numpy().reshape(4, 3)
    assert (folds == folds[:, :1]).all()  # a cluster never splits
    assert sorted(np.unique(folds).tolist()) == [0, 1]
    assert result.folds == "spatial-blocks" and result.n_folds == 2 and result.block_m == 500.0
    again = cross_validate_soc(x, y, z, folds=2, seed=1, **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(result.predictions, again.predictions)
    with pytest.raises(ConfigError, match="4 block"):
        cross_validate_soc(x, y, z, folds=5, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'loo' or a whole number"):
        cross_validate_soc(x, y, z, folds=1, **kwargs)  # type: ignore[arg-type]


def test_spatial_folds_use_blocks_anchored_at_the_crs_origin() -> None:
    # Four cores on a line at x = 700,050, 700,080, 700,120, 700,160 (X0 = 700,000),
    # 100 m blocks, 2 folds. From the CRS origin ⌊x / 100⌋ = 7000, 7000, 7001, 7001:
    # blocks {1, 2} and {3, 4}, one per fold. Blocks anchored at the data minimum,
    # ⌊(x − 700,050) / 100⌋ = 0, 0, 0, 1, would hold {1, 2, 3} and {4} instead.
    # Pure nugget c₀ = 100: OK predicts the mean of the training cores, so with
    # values 10, 20, 30, 40 the held-out {1, 2} get (30 + 40)/2 = 35 and {3, 4} get
    # (10 + 20)/2 = 15 (the data-minimum blocks would give 40, 40, 40 and 20);
    # point-support variance c₀ + c₀/2 = 150.
    x = X0 + np.array([50.0, 80.0, 120.0, 160.0])
    result = cross_validate_soc(
        x,
        np.full(4, Y0 + 50.0),
        [10.0, 20.0, 30.0, 40.0],
        method="ordinary-kriging",
        variogram_model=VariogramModel(model="spherical", nugget=100.0, psill=0.0, range_m=10.0),
        folds=2,
        block_m=100.0,
    )
    fold = result.predictions["fold"].tolist()
    assert fold[0] == fold[1] and fold[2] == fold[3] and fold[0] != fold[2]
    np.testing.assert_allclose(result.predictions["predicted"], [35.0, 35.0, 15.0, 15.0])
    np.testing.assert_allclose(result.predictions["variance"], 150.0)
    assert result.folds == "spatial-blocks" and result.n_folds == 2 and result.block_m == 100.0


def test_spatial_blocks_default_to_the_variogram_range() -> None:
    # docs/methodology.md §6: block size ≈ variogram range of all the points.
    # A field with a ~500 m correlation scale (sines of period 942 m) over 4 km.
    rng = np.random.default_rng(11)
    x = X0 + rng.uniform(0, 4000, 60)
    y = Y0 + rng.uniform(0, 4000, 60)
    z = 50 + 10 * np.sin((x - X0) / 150.0) + 10 * np.sin((y - Y0) / 150.0) + rng.normal(0, 2, 60)
    result = cross_validate_soc(x, y, z, method="ordinary-kriging", folds=3)
    expected = fit_variogram(empirical_variogram(x, y, z)).range_m
    assert result.block_m == pytest.approx(expected)


# --------------------------------------------- synthetic survey (known truth)
def test_synthetic_survey_cross_validation_runs_on_cores(
    junshan_2020: dict[str, object],
) -> None:
    # Leave-one-out regression kriging on the 40 cores. With n = 40 the number of
    # held-out cores inside their 90 % interval is Binomial(40, 0.9) if the intervals
    # are right: P(X < 31) ≈ 0.5 % and P(X = 40) ≈ 1.5 %, so 31–39 covered is the
    # band a calibrated model falls in; and R² > 0 (better than the mean of the
    # cores), since class and elevation drive the true surface carbon.
    data = junshan_2020
    at_points = sample_covariates(
        data["covariates"],  # type: ignore[arg-type]
        data["grid"],  # type: ignore[arg-type]
        data["x"],  # type: ignore[arg-type]
        data["y"],  # type: ignore[arg-type]
    )
    result = cross_validate_soc(
        data["x"],  # type: ignore[arg-type]
        data["y"],  # type: ignore[arg-type]
        data["soc"],  # type: ignore[arg-type]
        covariates_at_points=at_points,
    )
    assert result.n == 40
    assert 31 <= int(result.predictions["covered"].sum()) <= 39
    assert result.r2 > 0.0
    assert len(result.predictions) == 40
