"""Tests of carbonsink.soil.regression: covariates at the cores, the design, the OLS trend.

Expected values are worked by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from carbonsink.errors import GridError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.soil.regression import (
    RegressionDesign,
    check_covariates,
    class_level_text,
    fit_regression,
    numeric_covariates,
    sample_covariates,
)

X0, Y0 = 700_000.0, 3_254_000.0
CRS = "EPSG:32649"


def row_grid(n_cols: int) -> Grid:
    """One row of ``n_cols`` 10 m cells; cell j has its centre at (X0 + 5 + 10 j, Y0 + 5)."""
    return Grid.from_bounds((X0, Y0, X0 + 10.0 * n_cols, Y0 + 10.0), crs=CRS, resolution=10.0)


def row_layer(grid: Grid, values: list[float]) -> xr.Dataset:
    return xr.Dataset(
        {"elevation_m": (("y", "x"), np.array([values], dtype=np.float64))},
        coords={"y": grid.y, "x": grid.x},
    )


# -------------------------------------------------------------- covariates
def test_sample_covariates_reads_the_cells_holding_the_points() -> None:
    # Cells 0, 1, 2 hold 10, 20, 30. X0 + 15 is in cell 1 and X0 + 29.9 in cell 2;
    # X0 − 1 is west of the grid → NaN.
    grid = row_grid(3)
    table = sample_covariates(
        row_layer(grid, [10.0, 20.0, 30.0]),
        grid,
        [X0 + 15.0, X0 + 29.9, X0 - 1.0],
        [Y0 + 5.0] * 3,
    )
    assert list(table.columns) == ["elevation_m"]
    np.testing.assert_array_equal(table["elevation_m"].to_numpy(), [20.0, 30.0, np.nan])


def test_check_covariates_names_the_layers_and_refuses_other_grids() -> None:
    grid = row_grid(3)
    assert check_covariates(row_layer(grid, [1.0, 2.0, 3.0]), grid) == ("elevation_m",)
    with pytest.raises(InputError, match="no data variables"):
        check_covariates(xr.Dataset(), grid)
    with pytest.raises(GridError, match="shape"):
        check_covariates(row_layer(row_grid(4), [1.0, 2.0, 3.0, 4.0]), grid)
    shifted = row_layer(grid, [1.0, 2.0, 3.0]).assign_coords(x=grid.x + 5.0)
    with pytest.raises(GridError, match="not the grid's cell centres"):
        check_covariates(shifted, grid)


def test_numeric_covariates() -> None:
    frame = pd.DataFrame({"class": [1, 2, 2], "ndvi": ["0.5", "0.25", "0.75"]}, index=[7, 8, 9])
    numeric = numeric_covariates(frame, 3)
    assert list(numeric.index) == [0, 1, 2]
    assert (numeric.dtypes == np.float64).all()
    assert numeric["ndvi"].tolist() == [0.5, 0.25, 0.75]
    with pytest.raises(InputError, match="has 3 rows for 4 points"):
        numeric_covariates(frame, 4)
    with pytest.raises(InputError, match="no columns"):
        numeric_covariates(pd.DataFrame(index=range(3)), 3)
    # "n/a" is not a number → NaN → the second point has no ndvi.
    bad = pd.DataFrame({"class": [1, 2, 2], "ndvi": [0.5, "n/a", 0.75]})
    with pytest.raises(InputError, match=r"1 point\(s\) have no covariate value \(ndvi\)") as info:
        numeric_covariates(bad, 3)
    assert info.value.problem.where == "point(s) at position 1"


# ------------------------------------------------------------------ design
def test_class_level_text() -> None:
    assert class_level_text(3.0) == "3"
    assert class_level_text(-1.0) == "-1"
    assert class_level_text(2.5) == "2.5"


def test_design_terms_rows_and_unseen_classes() -> None:
    # Points sample classes 1 and 2: 1 is the reference level (no term), 2 gets a
    # 0/1 column. Rows: elevation 5, class 2 → [1, 5, 1]; class 1 → [1, 0.5, 0];
    # a missing elevation makes the whole row NaN.
    points = pd.DataFrame({"elevation_m": [0.0, 1.0, 2.0], "class": [2.0, 1.0, 2.0]})
    design = RegressionDesign.from_points(points, ["class"])
    assert design.continuous == ("elevation_m",)
    assert design.categorical == ("class",)
    assert design.levels == ((1.0, 2.0),)
    assert design.terms == ("intercept", "elevation_m", "class=2")
    rows = design.matrix(
        {"elevation_m": np.array([5.0, 0.5, np.nan]), "class": np.array([2.0, 1.0, 1.0])}
    )
    np.testing.assert_array_equal(rows[:2], [[1.0, 5.0, 1.0], [1.0, 0.5, 0.0]])
    assert np.isnan(rows[2]).all()
    # Class 3 is not sampled by the points; NaN is ignored.
    unseen = design.unseen({"elevation_m": np.zeros(3), "class": np.array([1.0, 3.0, np.nan])})
    assert unseen == {"class": [3.0]}
    assert design.unseen({"elevation_m": np.zeros(1), "class": np.array([2.0])}) == {}


# --------------------------------------------------------------------- fit
def test_fit_regression_by_hand() -> None:
    # e = 0, 1, 2, 3 and z = 1, 3, 3, 5. OLS: ē = 1.5, z̄ = 3, Sxx = 5, Sxy = 6 →
    # b = 1.2, a = 3 − 1.8 = 1.2; residuals −0.2, 0.6, −0.6, 0.2; RSS = 0.8;
    # σ̂² = 0.8 / (4 − 2) = 0.4. At e₀ = 1.5: trend 1.2 + 1.8 = 3.0 and
    # x₀ᵀ(XᵀX)⁻¹x₀ = 1/4 + (1.5 − 1.5)²/5 = 0.25 → variance 0.4 · 0.25 = 0.1;
    # at e₀ = 3.5: trend 5.4, variance 0.4 · (0.25 + 4/5) = 0.42.
    points = pd.DataFrame({"elevation_m": [0.0, 1.0, 2.0, 3.0]})
    design = RegressionDesign.from_points(points, [])
    x = design.matrix({"elevation_m": points["elevation_m"].to_numpy()})
    fit = fit_regression(design, x, np.array([1.0, 3.0, 3.0, 5.0]))
    np.testing.assert_allclose(fit.coefficients, [1.2, 1.2])
    assert fit.residual_variance == pytest.approx(0.4)
    trend, variance = fit.predict(np.array([[1.0, 1.5], [1.0, 3.5]]))
    np.testing.assert_allclose(trend, [3.0, 5.4])
    np.testing.assert_allclose(variance, [0.1, 0.42])


def test_collinear_covariates_are_refused() -> None:
    # elevation and depth carry the same information (depth = 10 − elevation).
    points = pd.DataFrame({"elevation_m": [0.0, 1.0, 2.0, 3.0], "depth_m": [10.0, 9.0, 8.0, 7.0]})
    design = RegressionDesign.from_points(points, [])
    x = design.matrix({c: points[c].to_numpy() for c in points.columns})
    with pytest.raises(ModelError, match="collinear at the 4 points"):
        fit_regression(design, x, np.array([1.0, 3.0, 3.0, 5.0]))
