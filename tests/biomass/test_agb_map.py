"""Fitting the AGB models and mapping AGB: CV, AOA, model preference and fallback, water, totals.

The synthetic cube
------------------
A 60 × 60 grid of 10 m cells (x 0–600 m, y 0–600 m). ``ndvi`` takes the 12
levels k/11, k = 0…11, each in exactly 300 of the 3600 cells (random places,
seeded); the true AGB is a known function of it, ``5 + 20·ndvi`` Mg DM/ha.
``h_p95`` ("LiDAR") is ``0.5 + 3·ndvi`` m on the right half (columns 30–59)
and NaN on the left half.

60 plots of 1 m² sit one in each cell of a 10 × 6 lattice of 60 m × 100 m
(lattice column j → grid column 6j + 1…4, lattice row i → grid row 10i + 1…8):
30 plots on each half. Their ``ndvi`` levels are chosen so that each half holds
every level (5 plots per level over all 60), and their AGB is the truth plus
N(0, 1 Mg/ha) noise. Since every cell's feature vector is then the feature
vector of some training plot of each model, every unaltered cell has DI = 0
and lies in both models' areas of applicability; the tests that need cells
outside an AOA move features far outside the training range on purpose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xarray as xr

from carbonsink.biomass.agb_map import (
    AGB_SOURCES,
    PLOT_BLOCK_M,
    RANDOM_CV_FOLDS,
    FittedBiomassModel,
    fit_biomass_model,
    map_agb,
)
from carbonsink.biomass.features import validate_plots
from carbonsink.biomass.validation import AGB_UNITS
from carbonsink.errors import InputError
from carbonsink.units import M2_PER_HA

N_CELLS = 60
RESOLUTION_M = 10.0
XS = RESOLUTION_M / 2 + RESOLUTION_M * np.arange(N_CELLS)  # 5, 15, …, 595
YS = N_CELLS * RESOLUTION_M - RESOLUTION_M / 2 - RESOLUTION_M * np.arange(N_CELLS)  # 595, …, 5
LEVELS = np.arange(12) / 11.0
LIDAR_FIRST_COLUMN = 30
N_TREES = 50
ESTIMATOR = "random-forest"  # the default of [biomass].model
NOISE_SD = 1.0  # Mg DM/ha

LIDAR_CODE = 1
IMAGERY_CODE = 2
WATER_CODE = 3
NONE_CODE = 0


def _true_agb(ndvi: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The known AGB function, Mg DM/ha."""
    return 5.0 + 20.0 * ndvi


@dataclass(frozen=True)
class Survey:
    cube: xr.Dataset
    plots: pd.DataFrame
    plot_row: npt.NDArray[np.int64]
    plot_col: npt.NDArray[np.int64]


def _survey() -> Survey:
    rng = np.random.default_rng(20240611)
    plot_row = np.array([10 * i + rng.integers(1, 9) for i in range(6) for _ in range(10)])
    plot_col = np.array([6 * j + rng.integers(1, 5) for _ in range(6) for j in range(10)])
    right = plot_col >= LIDAR_FIRST_COLUMN
    # 30 plots per half: left holds levels 0–11 twice plus 0–5, right 0–11 twice
    # plus 6–11, so that each level has 5 plots in all and each half every level.
    level = np.empty(60, dtype=np.int64)
    level[~right] = rng.permutation(np.r_[np.arange(12), np.arange(12), np.arange(6)])
    level[right] = rng.permutation(np.r_[np.arange(12), np.arange(12), np.arange(6, 12)])
    # The other 3540 cells get the remaining 300 − (plots of the level) of each level.
    remaining = 300 - np.bincount(level, minlength=12)
    others = rng.permutation(np.repeat(np.arange(12), remaining))
    grid_level = np.empty((N_CELLS, N_CELLS), dtype=np.int64)
    is_plot = np.zeros((N_CELLS, N_CELLS), dtype=bool)
    is_plot[plot_row, plot_col] = True
    grid_level[plot_row, plot_col] = level
    grid_level[~is_plot] = others
    ndvi = LEVELS[grid_level]
    columns = np.broadcast_to(np.arange(N_CELLS), (N_CELLS, N_CELLS))
    height = np.where(columns >= LIDAR_FIRST_COLUMN, 0.5 + 3.0 * ndvi, np.nan)
    cube = xr.Dataset(
        {"ndvi": (("y", "x"), ndvi), "h_p95": (("y", "x"), height)},
        coords={"x": XS, "y": YS},
    )
    agb = _true_agb(ndvi[plot_row, plot_col]) + rng.normal(0.0, NOISE_SD, 60)
    frame = pd.DataFrame(
        {
            "plot_id": [f"P{k:02d}" for k in range(60)],
            "x": XS[plot_col],
            "y": YS[plot_row],
            "agb_g_m2": agb * 100.0,  # 1 Mg/ha = 100 g/m²
            "size_m2": 1.0,
        }
    )
    frame.index = pd.RangeIndex(2, 62, name="line")
    return Survey(cube, validate_plots(frame, path="plots.csv"), plot_row, plot_col)


@pytest.fixture(scope="module")
def survey() -> Survey:
    return _survey()


@pytest.fixture(scope="module")
def imagery(survey: Survey) -> FittedBiomassModel:
    """Imagery model on all plots, block size chosen by the residual variogram."""
    return fit_biomass_model(
        survey.cube,
        survey.plots,
        name="imagery",
        features=["ndvi"],
        estimator_name=ESTIMATOR,
        n_estimators=N_TREES,
        seed=1,
    )


@pytest.fixture(scope="module")
def lidar(survey: Survey) -> FittedBiomassModel:
    """LiDAR model (ndvi + h_p95) on the right-half plots, 100 m blocks configured."""
    return fit_biomass_model(
        survey.cube,
        survey.plots,
        name="lidar",
        features=["ndvi", "h_p95"],
        estimator_name=ESTIMATOR,
        n_estimators=N_TREES,
        cv_block_m=100.0,
        seed=1,
    )


def test_the_synthetic_cube_is_what_the_tests_assume(survey: Survey) -> None:
    counts = np.bincount(np.rint(survey.cube["ndvi"].values * 11).astype(int).ravel())
    assert counts.tolist() == [300] * 12
    plot_levels = np.rint(survey.cube["ndvi"].values[survey.plot_row, survey.plot_col] * 11)
    assert np.bincount(plot_levels.astype(int)).tolist() == [5] * 12
    assert len({(r, c) for r, c in zip(survey.plot_row, survey.plot_col, strict=True)}) == 60


# ----------------------------------------------------------------- fitting
def test_known_function_gives_a_high_spatial_cv_r2(imagery: FittedBiomassModel) -> None:
    # Var(AGB) = 20² · Var(ndvi) + σ² with ndvi uniform on the 12 levels k/11:
    # Var(ndvi) = (12² − 1) / (12 · 11²) = 143/1452 = 0.0985, so Var(AGB) = 39.4 + 1 = 40.4
    # (Mg/ha)². The noise alone caps R² at 1 − 1/40.4 = 0.975. The forest's leaves hold
    # ≥ 5 plots and each level has 5 (4 in the training folds), so a leaf averages at most
    # about two neighbouring levels: an error of at most one level step, 20/11 = 1.82 Mg/ha,
    # MSE ≲ 1 + 1.82² = 4.3 → R² ≳ 1 − 4.3/40.4 = 0.89. We ask for > 0.85; a model whose
    # features were read from the wrong cells would score ≈ 0.
    assert imagery.cv.pooled["r2"] > 0.85
    assert imagery.cv.pooled["n"] == 60
    # Plot noise is unbiased and the levels are balanced: |bias| within a few σ/√60 = 0.13.
    assert abs(imagery.cv.pooled["bias_mg_ha"]) < 0.5
    assert imagery.plots.excluded.empty
    assert imagery.name == "imagery" and imagery.estimator_name == ESTIMATOR
    assert imagery.features == ("ndvi",)


def test_a_plot_wise_random_cv_beside_the_block_cv(imagery: FittedBiomassModel) -> None:
    # The 60 plots lie in 60 distinct cells (the cube test above), so with 1 m blocks every
    # plot is a block of its own: 10 folds of 6 plots each (60 / 10), every plot held out
    # once. Its residuals correct the map totals (docs/methodology.md §6.4); the same known
    # function gives it an R² as high as the block CV's bound (> 0.85, see above).
    assert PLOT_BLOCK_M == 1.0 and RANDOM_CV_FOLDS == 10
    random_cv = imagery.random_cv
    assert random_cv is not None
    folds = random_cv.predictions["fold"].to_numpy()
    assert np.bincount(folds).tolist() == [6] * 10
    assert random_cv.pooled["n"] == 60
    assert random_cv.pooled["r2"] > 0.85


def test_the_block_size_and_its_reason_are_reported(imagery: FittedBiomassModel) -> None:
    assert imagery.block_reason in {"residual variogram range", "default 200 m"}
    if imagery.block_reason == "default 200 m":
        # 200 m blocks on the 600 m grid: lattice rows 0–5 have y in 515−100i … 585−100i
        # (block rows 2, 2, 1, 1, 0, 0) and lattice columns x in 60j+15 … 60j+45 reach
        # block columns 0, 1 and 2: 3 × 3 = 9 blocks.
        assert imagery.cv.block_m == 200.0
        assert imagery.cv.n_blocks == 9
    else:
        assert imagery.cv.block_m > 0
        assert imagery.cv.n_blocks >= imagery.cv.folds


def test_a_configured_block_size_is_used_and_said_so(lidar: FittedBiomassModel) -> None:
    assert lidar.block_reason == "configured ([biomass].cv_block_m)"
    assert lidar.cv.block_m == 100.0
    # Right-half plots: lattice columns j = 5…9 have x in 315–345, 375–405, 435–465,
    # 495–525, 555–585 → 100 m block columns 3, 4, 5; each lattice row is one 100 m block
    # row (y 515−100i … 585−100i): 3 × 6 = 18 blocks.
    assert lidar.cv.n_blocks == 18


def test_the_lidar_model_uses_only_the_plots_with_lidar(
    survey: Survey, lidar: FittedBiomassModel
) -> None:
    right = survey.plot_col >= LIDAR_FIRST_COLUMN
    expected = {f"P{k:02d}" for k in np.flatnonzero(right)}
    assert set(lidar.plots.table.index) == expected
    assert len(lidar.plots.excluded) == 60 - len(expected) == 30
    assert lidar.plots.excluded["reason"].str.contains("h_p95").all()
    assert lidar.features == ("ndvi", "h_p95")


def test_the_aoa_is_fitted_on_the_models_features_and_folds(
    imagery: FittedBiomassModel, lidar: FittedBiomassModel
) -> None:
    for model, n_plots in ((imagery, 60), (lidar, 30)):
        assert model.aoa.feature_names == model.features
        assert model.aoa.training_di.size == n_plots
        # The CV folds separate the training DI (Meyer & Pebesma 2021): they are the CV's.
        assert model.aoa.folds is not None
        assert np.array_equal(model.aoa.folds, model.cv.predictions["fold"].to_numpy())
        assert model.aoa.mean == pytest.approx(
            model.plots.table[list(model.features)].to_numpy().mean(axis=0)
        )
    # Weighted by the forest's feature importances; one feature → weight 1.
    assert imagery.aoa.weights.tolist() == pytest.approx([1.0])
    importances = lidar.estimator.feature_importances_  # type: ignore[attr-defined]
    assert lidar.aoa.weights == pytest.approx(importances)


def test_fitting_and_mapping_leave_the_inputs_unchanged(
    survey: Survey, imagery: FittedBiomassModel
) -> None:
    cube = survey.cube.copy(deep=True)
    plots = survey.plots.copy(deep=True)
    fit_biomass_model(
        cube, plots, name="imagery", features=["ndvi"], n_estimators=10, cv_block_m=200.0
    )
    inside = np.ones((N_CELLS, N_CELLS), dtype=bool)
    map_agb(cube, [imagery], inside=inside)
    xr.testing.assert_identical(cube, survey.cube)
    pd.testing.assert_frame_equal(plots, survey.plots)
    assert inside.all()


# ----------------------------------------------------------------- mapping
INSIDE_FIRST_ROW = 5  # rows 0–4 are outside the survey
WATER_ROWS = slice(2, 8)  # rows 2–7 …
WATER_COLUMNS = slice(20, 40)  # … columns 20–39, on both halves


def _masks() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    inside = np.zeros((N_CELLS, N_CELLS), dtype=bool)
    inside[INSIDE_FIRST_ROW:, :] = True
    water = np.zeros((N_CELLS, N_CELLS), dtype=bool)
    water[WATER_ROWS, WATER_COLUMNS] = True
    return inside, water


def test_lidar_model_where_lidar_exists_imagery_elsewhere_water_zero_outside_nan(
    survey: Survey, lidar: FittedBiomassModel, imagery: FittedBiomassModel
) -> None:
    inside, water = _masks()
    out = map_agb(survey.cube, [lidar, imagery], interval=0.9, inside=inside, water=water)
    code = out["agb_model"].values
    columns = np.broadcast_to(np.arange(N_CELLS), (N_CELLS, N_CELLS))
    land = inside & ~water
    np.testing.assert_array_equal(code[land & (columns >= LIDAR_FIRST_COLUMN)], LIDAR_CODE)
    np.testing.assert_array_equal(code[land & (columns < LIDAR_FIRST_COLUMN)], IMAGERY_CODE)
    # Water inside the survey: 0 by rule, bounds too, code 3.
    for name in ("agb_mg_ha", "agb_lower_mg_ha", "agb_upper_mg_ha"):
        np.testing.assert_array_equal(out[name].values[water & inside], 0.0)
        # Outside the survey (water or not): NaN, code 0.
        assert np.isnan(out[name].values[~inside]).all()
    np.testing.assert_array_equal(code[water & inside], WATER_CODE)
    np.testing.assert_array_equal(code[~inside], NONE_CODE)
    assert not out["agb_outside_aoa"].values.any()
    # Where predicted: finite, lower ≤ mean ≤ upper.
    mean = out["agb_mg_ha"].values[land]
    lower = out["agb_lower_mg_ha"].values[land]
    upper = out["agb_upper_mg_ha"].values[land]
    assert np.isfinite(mean).all()
    assert (lower <= mean).all() and (mean <= upper).all()
    # Hand counts: inside = rows 5–59. LiDAR: 55 rows × 30 columns = 1650 minus the 3 × 10
    # water cells (rows 5–7, columns 30–39) = 1620; imagery likewise 1620; water inside
    # the survey 3 rows × 20 columns = 60; nothing else in the survey left unpredicted.
    assert out.attrs[f"cells: {AGB_SOURCES[LIDAR_CODE]}"] == 1620
    assert out.attrs[f"cells: {AGB_SOURCES[IMAGERY_CODE]}"] == 1620
    assert out.attrs[f"cells: {AGB_SOURCES[WATER_CODE]}"] == 60
    assert out.attrs[f"cells: {AGB_SOURCES[NONE_CODE]}"] == 0
    assert out.attrs["interval"] == 0.9
    for name in ("agb_mg_ha", "agb_lower_mg_ha", "agb_upper_mg_ha"):
        assert out[name].attrs["units"] == AGB_UNITS == "Mg DM/ha"
        assert out[name].dtype == np.float32
    assert out["agb_model"].dtype == np.uint8
    assert out["agb_model"].attrs["flag_values"] == [0, 1, 2, 3]
    assert out["agb_mg_ha"].dims == ("y", "x")
    np.testing.assert_array_equal(out["x"].values, XS)
    np.testing.assert_array_equal(out["y"].values, YS)


def test_each_cell_takes_the_interval_of_the_model_that_predicted_it(
    survey: Survey, lidar: FittedBiomassModel, imagery: FittedBiomassModel
) -> None:
    out = map_agb(survey.cube, [lidar, imagery], interval=0.8)
    # Cell (row 40, column 45) is a LiDAR cell, (40, 10) an imagery cell.
    for (row, col), model in (((40, 45), lidar), ((40, 10), imagery)):
        features = np.array([[float(survey.cube[f].values[row, col]) for f in model.features]])
        lo, hi = model.estimator.predict_interval(features, interval=0.8)
        assert out["agb_lower_mg_ha"].values[row, col] == pytest.approx(lo[0], rel=1e-6)
        assert out["agb_upper_mg_ha"].values[row, col] == pytest.approx(hi[0], rel=1e-6)
        assert out["agb_mg_ha"].values[row, col] == pytest.approx(
            model.estimator.predict(features)[0], rel=1e-6
        )
    # A wider interval contains the narrower one.
    wide = map_agb(survey.cube, [lidar, imagery], interval=0.98)
    assert (wide["agb_lower_mg_ha"] <= out["agb_lower_mg_ha"]).all()
    assert (wide["agb_upper_mg_ha"] >= out["agb_upper_mg_ha"]).all()


# ndvi = 50 (training 0–1) in one imagery-only cell and one LiDAR cell: far outside every
# model's training data. h_p95 = 100 m (training 0.5–3.5 m) with an ordinary ndvi in one
# LiDAR cell: outside the LiDAR model's AOA only (the imagery model does not use h_p95).
FAR_CELLS = [(40, 10), (40, 45)]
LIDAR_OUTLIER = (50, 50)


def _cube_with_outliers(survey: Survey) -> xr.Dataset:
    ndvi = survey.cube["ndvi"].values.copy()
    height = survey.cube["h_p95"].values.copy()
    for row, col in FAR_CELLS:
        ndvi[row, col] = 50.0
    height[LIDAR_OUTLIER] = 100.0
    plot_cells = set(zip(survey.plot_row.tolist(), survey.plot_col.tolist(), strict=True))
    assert not plot_cells & {*FAR_CELLS, LIDAR_OUTLIER}
    return survey.cube.assign(ndvi=(("y", "x"), ndvi), h_p95=(("y", "x"), height))


def test_cells_outside_every_aoa_are_flagged_and_a_lidar_outlier_falls_back(
    survey: Survey,
    lidar: FittedBiomassModel,
    imagery: FittedBiomassModel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cube = _cube_with_outliers(survey)
    ndvi = cube["ndvi"].values
    # h_p95 must count in the LiDAR model's distances for the outlier to be outside its AOA.
    assert lidar.aoa.weights[1] > 0

    with caplog.at_level(logging.WARNING, logger="carbonsink.biomass.agb_map"):
        out = map_agb(cube, [lidar, imagery])
    for row, col in FAR_CELLS:
        assert np.isnan(out["agb_mg_ha"].values[row, col])
        assert np.isnan(out["agb_lower_mg_ha"].values[row, col])
        assert np.isnan(out["agb_upper_mg_ha"].values[row, col])
        assert out["agb_model"].values[row, col] == NONE_CODE
        assert out["agb_di"].values[row, col] > imagery.aoa.threshold
    flagged = out["agb_outside_aoa"].values
    assert {tuple(map(int, rc)) for rc in np.argwhere(flagged)} == set(FAR_CELLS)
    assert out.attrs[f"cells: {AGB_SOURCES[NONE_CODE]}"] == 2
    assert out.attrs["outside_aoa_cells"] == 2
    assert out.attrs["outside_aoa_policy"] == "mask"
    assert "2 cells are outside the area of applicability" in caplog.text
    # The LiDAR outlier: imagery model, with the imagery model's prediction.
    assert out["agb_model"].values[50, 50] == IMAGERY_CODE
    assert not flagged[50, 50]
    expected = imagery.estimator.predict(np.array([[ndvi[50, 50]]]))[0]
    assert out["agb_mg_ha"].values[50, 50] == pytest.approx(expected, rel=1e-6)
    # 1800 LiDAR cells − (40, 45) − (50, 50) = 1798; 1800 imagery cells − (40, 10) + (50, 50).
    assert out.attrs[f"cells: {AGB_SOURCES[LIDAR_CODE]}"] == 1798
    assert out.attrs[f"cells: {AGB_SOURCES[IMAGERY_CODE]}"] == 1800


def test_cells_outside_every_aoa_can_be_predicted_by_the_last_model_and_stay_flagged(
    survey: Survey,
    lidar: FittedBiomassModel,
    imagery: FittedBiomassModel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cube = _cube_with_outliers(survey)
    with caplog.at_level(logging.WARNING, logger="carbonsink.biomass.agb_map"):
        out = map_agb(cube, [lidar, imagery], outside="predict")
    # The imagery model (the last, most general one) predicts both far cells; a forest
    # carries its last step beyond the training range, so ndvi = 50 gets the prediction
    # of the highest training level.
    expected = imagery.estimator.predict(np.array([[50.0]]))[0]
    assert expected == pytest.approx(imagery.estimator.predict(np.array([[1.0]]))[0])
    for row, col in FAR_CELLS:
        assert out["agb_model"].values[row, col] == IMAGERY_CODE
        assert out["agb_mg_ha"].values[row, col] == pytest.approx(expected, rel=1e-6)
        assert out["agb_outside_aoa"].values[row, col]
        lower = out["agb_lower_mg_ha"].values[row, col]
        upper = out["agb_upper_mg_ha"].values[row, col]
        assert lower <= out["agb_mg_ha"].values[row, col] <= upper
    assert int(out["agb_outside_aoa"].values.sum()) == 2
    assert out.attrs["outside_aoa_cells"] == 2
    assert out.attrs["outside_aoa_policy"] == "predict"
    assert out.attrs[f"cells: {AGB_SOURCES[NONE_CODE]}"] == 0
    # 1800 − (40, 10) + (40, 45) + (50, 50) imagery cells; 1800 − 2 LiDAR cells.
    assert out.attrs[f"cells: {AGB_SOURCES[IMAGERY_CODE]}"] == 1802
    assert out.attrs[f"cells: {AGB_SOURCES[LIDAR_CODE]}"] == 1798
    assert "2 cells are outside the area of applicability" in caplog.text
    assert "predicted, flagged" in caplog.text


def test_cells_without_features_are_left_unpredicted_but_not_called_outside_the_aoa(
    survey: Survey, lidar: FittedBiomassModel, imagery: FittedBiomassModel
) -> None:
    ndvi = survey.cube["ndvi"].values.copy()
    height = survey.cube["h_p95"].values.copy()
    ndvi[30, 5] = np.nan  # imagery gap, no LiDAR there: no model has its features
    ndvi[30, 50] = np.nan  # imagery gap under LiDAR: the LiDAR model lacks ndvi too
    height[35, 50] = np.nan  # LiDAR gap with imagery: the imagery model applies
    cube = survey.cube.assign(ndvi=(("y", "x"), ndvi), h_p95=(("y", "x"), height))
    out = map_agb(cube, [lidar, imagery])
    for row, col in ((30, 5), (30, 50)):
        assert np.isnan(out["agb_mg_ha"].values[row, col])
        assert out["agb_model"].values[row, col] == NONE_CODE
        assert np.isnan(out["agb_di"].values[row, col])
        # No model could test the cell, so it is not "outside the AOA" of one.
        assert not out["agb_outside_aoa"].values[row, col]
    assert out["agb_model"].values[35, 50] == IMAGERY_CODE
    assert np.isfinite(out["agb_mg_ha"].values[35, 50])
    assert out.attrs[f"cells: {AGB_SOURCES[NONE_CODE]}"] == 2
    # ... but they are counted (and logged), never dropped silently.
    assert out.attrs["cells_without_features"] == 2


def test_the_mapped_total_matches_the_true_function(
    survey: Survey, imagery: FittedBiomassModel
) -> None:
    out = map_agb(survey.cube, [imagery])
    agb = out["agb_mg_ha"].values.astype(np.float64)
    assert np.isfinite(agb).all()
    cell_ha = RESOLUTION_M**2 / M2_PER_HA  # 100 m² = 0.01 ha
    mapped = float(agb.sum()) * cell_ha
    # True total: 3600 cells × mean(5 + 20·ndvi) × 0.01 ha; ndvi is balanced over k/11,
    # k = 0…11, so its mean is 0.5 and the mean AGB 15 Mg/ha: 3600 × 15 × 0.01 = 540 Mg.
    truth = float(_true_agb(survey.cube["ndvi"].values).sum()) * cell_ha
    assert truth == pytest.approx(540.0)
    # The plots sample the levels in the cells' proportions (5/60 and 300/3600 per level),
    # so the design estimate 3600 cells × 0.01 ha × mean plot AGB is unbiased, and a
    # forest's leaf means preserve the sum of the plots they average: the map total
    # should match it closely (1 % allowed for the bootstrap weights of the trees).
    design = N_CELLS**2 * cell_ha * float(survey.plots["agb_mg_ha"].mean())
    assert mapped == pytest.approx(design, rel=0.01)
    # Against the truth, the plot noise adds its mean: SD σ/√60 = 1/7.75 = 0.129 Mg/ha.
    # Four SDs, 0.52 Mg/ha on a mean of 15 Mg/ha, is 3.4 %.
    assert mapped == pytest.approx(truth, rel=4 * NOISE_SD / np.sqrt(60) / 15.0)


# ------------------------------------------------------------------ errors
def test_mapping_without_a_model_is_an_input_error(survey: Survey) -> None:
    with pytest.raises(InputError, match="no biomass model"):
        map_agb(survey.cube, [])


def test_plots_all_outside_the_grid_is_an_input_error(survey: Survey) -> None:
    plots = survey.plots.copy()
    plots["x"] = plots["x"] + 10_000.0  # 10 km east of the 600 m grid
    with pytest.raises(InputError, match=r"none of the 60 plots.*60 outside the analysis grid"):
        fit_biomass_model(survey.cube, plots, name="imagery", features=["ndvi"], n_estimators=5)


def test_a_feature_missing_from_the_cube_is_an_input_error(survey: Survey) -> None:
    with pytest.raises(InputError, match="lswi"):
        fit_biomass_model(
            survey.cube, survey.plots, name="imagery", features=["ndvi", "lswi"], n_estimators=5
        )


def test_mask_of_the_wrong_shape_is_refused() -> None:
    cube = xr.Dataset(
        {"ndvi": (("y", "x"), np.zeros((2, 3)))}, coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]}
    )

    class _Model:
        name = "imagery"
        features = ("ndvi",)

    with pytest.raises(InputError, match=r"inside mask has shape \(3, 2\), the cube \(2, 3\)"):
        map_agb(cube, [_Model()], inside=np.ones((3, 2), dtype=bool))  # type: ignore[list-item]
