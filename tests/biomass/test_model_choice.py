"""Which AGB models map an epoch: carbonsink.biomass.model_choice.

The toy epoch is that of tests/biomass/test_agb_map.py (60 × 60 cells of 10 m,
AGB = 5 + 20 ndvi, ``h_p95`` on the right half), with a ``lidar_coverage``
layer: 1 where ``h_p95`` is defined. 30 of its 60 plots lie under LiDAR.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from carbonsink.biomass.model_choice import MIN_LIDAR_PLOTS, fit_agb_models, lidar_decision
from tests.biomass.test_agb_map import Survey, _survey


@pytest.fixture(scope="module")
def toy() -> Survey:
    survey = _survey()
    coverage = np.isfinite(survey.cube["h_p95"].values).astype(np.float64)
    cube = survey.cube.assign(lidar_coverage=(("y", "x"), coverage))
    return Survey(cube, survey.plots, survey.plot_row, survey.plot_col)


def _fit(cube: xr.Dataset, toy: Survey, lidar: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return fit_agb_models(
        cube,
        toy.plots,
        imagery_features=("ndvi",),
        lidar_features=lidar,
        n_estimators=30,
        cv_block_m=100.0,
        seed=2,
    )


def test_without_lidar_the_imagery_model_maps_alone(toy: Survey) -> None:
    fitted = _fit(toy.cube, toy, ())
    assert [m.name for m in fitted.models] == ["imagery"]
    assert [m.name for m in fitted.candidates] == ["imagery"]
    assert str(fitted.lidar_decision) == "no LiDAR in this epoch"


def test_too_few_plots_under_lidar_fit_no_lidar_model(toy: Survey) -> None:
    # Keep LiDAR on the right half's top 10 rows of cells only: the plots of lattice row 0
    # (grid rows 1–8) on the right half, i.e. 5 of the 30, are still covered.
    coverage = toy.cube["lidar_coverage"].values.copy()
    coverage[10:, :] = 0.0
    cube = toy.cube.assign(lidar_coverage=(("y", "x"), coverage))
    covered = int((coverage[toy.plot_row, toy.plot_col] > 0).sum())
    assert covered < MIN_LIDAR_PLOTS
    fitted = _fit(cube, toy, ("ndvi", "h_p95"))
    assert [m.name for m in fitted.models] == ["imagery"]
    assert str(fitted.lidar_decision) == (
        f"LiDAR model not fitted: {covered} plots lie in the LiDAR coverage, "
        f"{MIN_LIDAR_PLOTS} are needed"
    )


def test_the_lidar_model_is_judged_on_the_plots_under_lidar(toy: Survey) -> None:
    fitted = _fit(toy.cube, toy, ("ndvi", "h_p95"))
    names = {m.name: m for m in fitted.candidates}
    assert set(names) == {"lidar", "imagery"}
    lidar, imagery = names["lidar"], names["imagery"]

    # RMSE of each model's held-out predictions on the 30 plots both predicted.
    def rmse_on(model, ids):  # type: ignore[no-untyped-def]
        frame = model.cv.predictions.set_axis(model.plots.table.index[model.cv.predictions.index])
        rows = frame.loc[ids]
        return float(np.sqrt(np.mean((rows["predicted"] - rows["observed"]) ** 2)))

    common = lidar.plots.table.index.intersection(imagery.plots.table.index)
    assert len(common) == 30
    used, sentence = lidar_decision(lidar, imagery)
    r_lidar, r_imagery = rmse_on(lidar, common), rmse_on(imagery, common)
    assert used == (r_lidar < r_imagery)
    assert f"{r_lidar:.2f} Mg DM/ha against {r_imagery:.2f}" in str(sentence)
    assert sentence == fitted.lidar_decision
    assert [m.name for m in fitted.models] == (["lidar", "imagery"] if used else ["imagery"])
