"""Tests of carbonsink.soil.soc_map: the SOC map by ordinary and regression kriging.

Expected values are worked by hand in the comments (small ordinary and
regression kriging systems) or come from the synthetic survey's truth
(sample_data/junshan/truth).

Hand notation: spherical γ(h) = c₀ + c₁ (1.5 h/a − 0.5 (h/a)³) for 0 < h < a;
covariance C(h) = c₀ + c₁ − γ(h); the OK variance in variogram form is
σ² = Σ λᵢ γ(hᵢ₀) + μ with Σ λᵢ γ(hᵢⱼ) + μ = γ(hⱼ₀) (Webster & Oliver 2007 §8.2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from carbonsink.errors import ConfigError, GridError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.soil.soc_map import predict_soc
from carbonsink.spatial.variogram import MIN_POINTS_VARIOGRAM, VariogramModel

X0, Y0 = 700_000.0, 3_254_000.0
CRS = "EPSG:32649"
#: z of a central 90 % normal interval, Φ⁻¹(0.95).
Z90 = 1.6448536269514722


def row_grid(n_cols: int) -> Grid:
    """One row of ``n_cols`` 10 m cells; cell j has its centre at (X0 + 5 + 10 j, Y0 + 5)."""
    return Grid.from_bounds((X0, Y0, X0 + 10.0 * n_cols, Y0 + 10.0), crs=CRS, resolution=10.0)


def centre(j: int) -> float:
    return X0 + 5.0 + 10.0 * j


def row_covariates(grid: Grid, **layers: list[float] | list[int]) -> xr.Dataset:
    return xr.Dataset(
        {
            name: (("y", "x"), np.array([values], dtype=np.float64))
            for name, values in layers.items()
        },
        coords={"y": grid.y, "x": grid.x},
    )


SPHERICAL_10_100 = VariogramModel(model="spherical", nugget=0.0, psill=10.0, range_m=100.0)


# ------------------------------------------------------ ordinary kriging by hand
def test_two_point_symmetric_ordinary_kriging() -> None:
    # Cores at the centres of cells 0 and 6 (x = X0 − 25 and X0 + 35 with the grid
    # starting at X0 − 30), values 40 and 60; cell 3 (x = X0 + 5) is 30 m from both.
    # Spherical, nugget 0, c₁ 10, a 100 m:
    #   γ(30) = 10 (0.45 − 0.5·0.027) = 4.365;  γ(60) = 10 (0.9 − 0.5·0.216) = 7.92.
    # By symmetry λ = ½, ½; OK: ½·γ(60) + μ = γ(30) → μ = 4.365 − 3.96 = 0.405;
    #   σ² = ½·4.365 + ½·4.365 + 0.405 = 4.77; ẑ = 50.
    # 90 % interval: 50 ± 1.644854·√4.77 = 50 ± 3.592426.
    grid = Grid.from_bounds((X0 - 30.0, Y0, X0 + 40.0, Y0 + 10.0), crs=CRS, resolution=10.0)
    x = np.array([X0 - 25.0, X0 + 35.0])
    y = np.array([Y0 + 5.0, Y0 + 5.0])
    ds = predict_soc(
        x, y, [40.0, 60.0], grid, method="ordinary-kriging", variogram_model=SPHERICAL_10_100
    )
    pred = ds["soc_0_30_mg_ha"].values[0]
    var = ds["soc_0_30_mg_ha_variance"].values[0]
    assert pred[3] == pytest.approx(50.0, rel=1e-6)
    assert var[3] == pytest.approx(4.77, rel=1e-5)
    half = Z90 * math.sqrt(4.77)
    assert ds["soc_0_30_mg_ha_lower"].values[0, 3] == pytest.approx(50.0 - half, rel=1e-6)
    assert ds["soc_0_30_mg_ha_upper"].values[0, 3] == pytest.approx(50.0 + half, rel=1e-6)
    # At a core with zero nugget kriging returns the core's value with zero variance.
    assert pred[0] == pytest.approx(40.0, rel=1e-6)
    assert pred[6] == pytest.approx(60.0, rel=1e-6)
    assert var[0] == pytest.approx(0.0, abs=1e-5)
    assert var[6] == pytest.approx(0.0, abs=1e-5)


def test_measurement_error_lowers_the_weight_of_a_noisy_core() -> None:
    # As above, with core 1 (value 40) measured with SE 2 (se² = 4), core 2 exact.
    # Covariances: C(0) = 10, C(60) = 10 − 7.92 = 2.08, c = C(30) = 10 − 4.365 = 5.635.
    # K = [[10 + 4, 2.08], [2.08, 10]]; subtracting the two OK rows:
    #   λ₁ (2·10 + 4 − 2·2.08) = 10 − 2.08 → λ₁ = 7.92 / 19.84 = 0.399194, λ₂ = 0.600806.
    # ẑ = 40 λ₁ + 60 λ₂ = 60 − 20 λ₁ = 52.016129.
    # μ = c − 14 λ₁ − 2.08 λ₂ and σ² = C(0) − c·(λ₁ + λ₂) − μ
    #   = 10 − 2·5.635 + 14·0.399194 + 2.08·0.600806 = 5.568387.
    # (The nugget, 0, is reduced by the mean se² = 2 and floored at 0, so it stays 0.)
    grid = Grid.from_bounds((X0 - 30.0, Y0, X0 + 40.0, Y0 + 10.0), crs=CRS, resolution=10.0)
    ds = predict_soc(
        [X0 - 25.0, X0 + 35.0],
        [Y0 + 5.0, Y0 + 5.0],
        [40.0, 60.0],
        grid,
        method="ordinary-kriging",
        variogram_model=SPHERICAL_10_100,
        value_se=[2.0, 0.0],
    )
    lam1 = 7.92 / 19.84
    assert ds["soc_0_30_mg_ha"].values[0, 3] == pytest.approx(60.0 - 20.0 * lam1, rel=1e-6)
    expected_var = 10.0 - 2 * 5.635 + 14.0 * lam1 + 2.08 * (1.0 - lam1)
    assert ds["soc_0_30_mg_ha_variance"].values[0, 3] == pytest.approx(expected_var, rel=1e-5)
    assert ds.attrs["measurement_variance_mean"] == pytest.approx(2.0)


def test_cell_support_drops_the_nugget_and_point_support_honours_cores() -> None:
    # Nugget 3: away from the cores the kriging weights do not depend on the support
    # (c₀ is the same at h > 0), so σ²_point − σ²_cell = C_point(0) − C_cell(0) = c₀ = 3.
    # With point support a core's own location is predicted exactly (c₀ is the
    # column of C there: λ = eᵢ, σ² = 0); the cell value there is smoothed instead.
    grid = Grid.from_bounds((X0 - 30.0, Y0, X0 + 40.0, Y0 + 10.0), crs=CRS, resolution=10.0)
    model = VariogramModel(model="spherical", nugget=3.0, psill=10.0, range_m=100.0)
    kwargs = {"method": "ordinary-kriging", "variogram_model": model}
    x, y = [X0 - 25.0, X0 + 35.0], [Y0 + 5.0, Y0 + 5.0]
    point = predict_soc(x, y, [40.0, 60.0], grid, support="point", **kwargs)  # type: ignore[arg-type]
    cell = predict_soc(x, y, [40.0, 60.0], grid, support="cell", **kwargs)  # type: ignore[arg-type]
    var_point = point["soc_0_30_mg_ha_variance"].values[0]
    var_cell = cell["soc_0_30_mg_ha_variance"].values[0]
    np.testing.assert_allclose(var_point[1:6] - var_cell[1:6], 3.0, rtol=1e-5)
    assert point["soc_0_30_mg_ha"].values[0, 0] == pytest.approx(40.0, rel=1e-6)
    assert var_point[0] == pytest.approx(0.0, abs=1e-5)
    assert 40.0 < cell["soc_0_30_mg_ha"].values[0, 0] < 50.0
    assert cell.attrs["support"] == "cell"
    assert point.attrs["support"] == "point"


# --------------------------------------------------- regression kriging by hand
def test_regression_kriging_continuous_covariate_by_hand() -> None:
    # Cores in cells 0–3 with elevation e = 0, 1, 2, 3 and values 1, 3, 3, 5.
    # OLS: ē = 1.5, z̄ = 3, Sxx = 5, Sxy = 6 → b = 1.2, a = 3 − 1.8 = 1.2;
    # fitted 1.2, 2.4, 3.6, 4.8; residuals −0.2, 0.6, −0.6, 0.2; RSS = 0.8;
    # σ̂² = 0.8 / (4 − 2) = 0.4. x₀ᵀ(XᵀX)⁻¹x₀ = 1/4 + (e₀ − 1.5)²/5.
    # Residuals kriged with a pure nugget 2 (c₁ = 0), cell support: C = 2 I, c₀ = 0,
    # C(0) = 0 → λ = ¼ each, μ = −2/4, σ²_OK = 0 − 0 + 0.5 = 0.5; kriged residual
    # = mean residual = 0.
    # Cell 4, e₀ = 1.5: ẑ = 1.2 + 1.8 = 3.0, σ² = 0.5 + 0.4·0.25 = 0.6.
    # Cell 5, e₀ = 3.5: ẑ = 1.2 + 4.2 = 5.4, σ² = 0.5 + 0.4·(0.25 + 4/5) = 0.92.
    # Cell 0, e₀ = 0 (a core): ẑ = 1.2 (the nugget is smoothed out of a cell value),
    #   σ² = 0.5 + 0.4·(0.25 + 2.25/5) = 0.78.
    grid = row_grid(6)
    covariates = row_covariates(grid, elevation_m=[0.0, 1.0, 2.0, 3.0, 1.5, 3.5])
    nugget_only = VariogramModel(model="spherical", nugget=2.0, psill=0.0, range_m=100.0)
    ds = predict_soc(
        [centre(j) for j in range(4)],
        [Y0 + 5.0] * 4,
        [1.0, 3.0, 3.0, 5.0],
        grid,
        support="cell",
        covariates=covariates,
        variogram_model=nugget_only,
    )
    np.testing.assert_allclose(
        ds["soc_0_30_mg_ha"].values[0, [4, 5, 0]], [3.0, 5.4, 1.2], rtol=1e-6
    )
    np.testing.assert_allclose(
        ds["soc_0_30_mg_ha_variance"].values[0, [4, 5, 0]], [0.6, 0.92, 0.78], rtol=1e-5
    )
    assert ds.attrs["method"] == "regression-kriging"
    assert ds.attrs["regression_terms"] == "intercept, elevation_m"
    np.testing.assert_allclose(ds.attrs["regression_coefficients"], [1.2, 1.2])
    assert ds.attrs["regression_residual_variance"] == pytest.approx(0.4)


def test_regression_kriging_one_hot_classes_by_hand() -> None:
    # Classes 1, 1, 2, 2 with values 10, 12, 20, 22 in cells 0–3; cell 4 is class 1,
    # cell 5 class 2. Design [1, class=2]: β = (11, 10) (the class means);
    # residuals −1, 1, −1, 1; σ̂² = 4 / (4 − 2) = 2.
    # XᵀX = [[4, 2], [2, 2]], inverse [[0.5, −0.5], [−0.5, 1]]:
    #   class 1 x₀ = (1, 0) → 0.5; class 2 x₀ = (1, 1) → 0.5 − 0.5 − 0.5 + 1 = 0.5.
    # Pure nugget 2 on the residuals (cell support): σ²_OK = 2/4 = 0.5, residual 0.
    # Cell 4: ẑ = 11, σ² = 0.5 + 2·0.5 = 1.5; cell 5: ẑ = 21, σ² = 1.5.
    grid = row_grid(6)
    covariates = row_covariates(grid, **{"class": [1, 1, 2, 2, 1, 2]})
    nugget_only = VariogramModel(model="exponential", nugget=2.0, psill=0.0, range_m=50.0)
    ds = predict_soc(
        [centre(j) for j in range(4)],
        [Y0 + 5.0] * 4,
        [10.0, 12.0, 20.0, 22.0],
        grid,
        support="cell",
        covariates=covariates,
        variogram_model=nugget_only,
    )
    np.testing.assert_allclose(ds["soc_0_30_mg_ha"].values[0, 4:], [11.0, 21.0], rtol=1e-6)
    np.testing.assert_allclose(ds["soc_0_30_mg_ha_variance"].values[0, 4:], [1.5, 1.5], rtol=1e-5)
    assert ds.attrs["regression_terms"] == "intercept, class=2"


def test_a_class_no_core_samples_is_an_error_unless_masked() -> None:
    grid = row_grid(6)
    covariates = row_covariates(grid, **{"class": [1, 1, 2, 2, 1, 3]})
    nugget_only = VariogramModel(model="spherical", nugget=2.0, psill=0.0, range_m=100.0)
    args = ([centre(j) for j in range(4)], [Y0 + 5.0] * 4, [10.0, 12.0, 20.0, 22.0], grid)
    with pytest.raises(ModelError, match=r"'class' has class\(es\) 3 .* no core samples"):
        predict_soc(*args, covariates=covariates, variogram_model=nugget_only)
    mask = np.array([[True] * 5 + [False]])
    ds = predict_soc(*args, covariates=covariates, variogram_model=nugget_only, mask=mask)
    assert np.isnan(ds["soc_0_30_mg_ha"].values[0, 5])
    assert ds["soc_0_30_mg_ha"].values[0, 4] == pytest.approx(11.0, rel=1e-6)


def test_missing_covariate_cells_are_nan_and_outputs_are_labelled() -> None:
    grid = row_grid(6)
    covariates = row_covariates(grid, elevation_m=[0.0, 1.0, 2.0, 3.0, np.nan, 3.5])
    nugget_only = VariogramModel(model="spherical", nugget=2.0, psill=0.0, range_m=100.0)
    x, y, z = [centre(j) for j in range(4)], [Y0 + 5.0] * 4, [1.0, 3.0, 3.0, 5.0]
    before = (list(x), list(z), covariates.copy(deep=True))
    ds = predict_soc(
        x, y, z, grid, covariates=covariates, variogram_model=nugget_only, name="soc_0_100_mg_ha"
    )
    assert (list(x), list(z)) == before[:2]
    xr.testing.assert_identical(covariates, before[2])  # inputs are not modified
    assert np.isnan(ds["soc_0_100_mg_ha"].values[0, 4])
    assert np.isfinite(ds["soc_0_100_mg_ha"].values[0, 5])
    expected_units = {
        "soc_0_100_mg_ha": "Mg C/ha",
        "soc_0_100_mg_ha_variance": "(Mg C/ha)^2",
        "soc_0_100_mg_ha_lower": "Mg C/ha",
        "soc_0_100_mg_ha_upper": "Mg C/ha",
    }
    for name, units in expected_units.items():
        assert ds[name].dtype == np.float32
        assert ds[name].attrs["units"] == units
        assert ds[name].attrs["long_name"]
    assert Grid.from_xarray(ds) == grid
    assert ds.attrs["variogram_units"] == "(Mg C/ha)^2"
    assert ds.attrs["variogram_range_m"] == 100.0


def test_lower_bound_is_clipped_at_zero() -> None:
    # Two cores of 1 and 2 Mg C/ha, c₁ = 10: at the middle cell ẑ = 1.5 and
    # σ² = 4.77 (see the two-point test) → ẑ − 1.645·2.184 = −2.09 < 0 → lower = 0.
    grid = Grid.from_bounds((X0 - 30.0, Y0, X0 + 40.0, Y0 + 10.0), crs=CRS, resolution=10.0)
    ds = predict_soc(
        [X0 - 25.0, X0 + 35.0],
        [Y0 + 5.0] * 2,
        [1.0, 2.0],
        grid,
        method="ordinary-kriging",
        variogram_model=SPHERICAL_10_100,
    )
    assert ds["soc_0_30_mg_ha"].values[0, 3] == pytest.approx(1.5, rel=1e-6)
    assert ds["soc_0_30_mg_ha_lower"].values[0, 3] == 0.0
    assert ds["soc_0_30_mg_ha_upper"].values[0, 3] == pytest.approx(
        1.5 + Z90 * math.sqrt(4.77), rel=1e-6
    )


# --------------------------------------------------------------- bad input
def _ok(**kwargs: object) -> xr.Dataset:
    rng = np.random.default_rng(5)
    grid = Grid.from_bounds((X0, Y0, X0 + 200.0, Y0 + 200.0), crs=CRS, resolution=10.0)
    n = int(kwargs.pop("n", 20))  # type: ignore[call-overload]
    args: dict[str, object] = {
        "x": X0 + rng.uniform(0, 200, n),
        "y": Y0 + rng.uniform(0, 200, n),
        "values": rng.uniform(20, 60, n),
        "grid": grid,
        "method": "ordinary-kriging",
    }
    args.update(kwargs)
    return predict_soc(**args)  # type: ignore[arg-type]


def test_too_few_points_says_how_many_are_needed() -> None:
    with pytest.raises(InputError, match=f"at least {MIN_POINTS_VARIOGRAM} points; 5 given"):
        _ok(n=5)
    grid = row_grid(6)
    covariates = row_covariates(grid, elevation_m=[0.0, 1.0, 2.0, 3.0, 1.5, 3.5])
    # intercept + elevation + 10 points for the variogram = 12 needed.
    with pytest.raises(InputError, match=r"2 regression terms .* at least 12 points; 4 given"):
        predict_soc(
            [centre(j) for j in range(4)],
            [Y0 + 5.0] * 4,
            [1.0, 3.0, 3.0, 5.0],
            grid,
            covariates=covariates,
        )


def test_nan_negative_and_duplicate_values_are_refused() -> None:
    values = np.linspace(20, 60, 20)
    values[3] = np.nan
    with pytest.raises(InputError, match="NaN") as info:
        _ok(values=values)
    assert "position 3" in str(info.value)
    with pytest.raises(InputError, match="negative"):
        _ok(values=np.linspace(-1, 60, 20))
    x = X0 + np.arange(20.0)
    x[7] = x[2]
    with pytest.raises(InputError, match="more than one point") as dup:
        _ok(x=x, y=np.full(20, Y0 + 5.0))
    assert "position 2, 7" in str(dup.value)


def test_points_all_outside_the_grid() -> None:
    # lon/lat degrees given as if they were UTM metres: the classic CRS mistake.
    with pytest.raises(GridError, match="all 20 points lie outside the grid"):
        _ok(x=np.linspace(113.0, 113.1, 20), y=np.linspace(29.4, 29.5, 20))


def test_unknown_method_and_variogram_name_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError, match="'universal-kriging'; valid: 'regression-kriging', 'ordinary-kriging'"
    ):
        _ok(method="universal-kriging")
    with pytest.raises(ConfigError, match="'matern'; valid: 'spherical', 'exponential', 'gauss"):
        _ok(variogram_model="matern")
    with pytest.raises(ConfigError, match="support 'block'"):
        _ok(support="block")
    with pytest.raises(ConfigError, match=r"interval 1\.5"):
        _ok(interval=1.5)
    with pytest.raises(ConfigError, match="needs covariates"):
        _ok(method="regression-kriging")
    with pytest.raises(GridError, match="mask has shape"):
        _ok(mask=np.ones((3, 3), dtype=bool))


def test_a_core_without_covariate_values_is_named() -> None:
    grid = row_grid(6)
    covariates = row_covariates(grid, elevation_m=[0.0, np.nan, 2.0, 3.0, 1.5, 3.5])
    nugget_only = VariogramModel(model="spherical", nugget=2.0, psill=0.0, range_m=100.0)
    with pytest.raises(InputError, match="no covariate value \\(elevation_m\\)") as info:
        predict_soc(
            [centre(j) for j in range(4)],
            [Y0 + 5.0] * 4,
            [1.0, 3.0, 3.0, 5.0],
            grid,
            covariates=covariates,
            variogram_model=nugget_only,
        )
    assert "position 1" in str(info.value)


# --------------------------------------------- synthetic survey (known truth)
def test_synthetic_survey_intervals_cover_the_truth_and_total_matches(
    junshan_2020: dict[str, object],
) -> None:
    # The truth is the 10 m cell's stock; the cores sample it × a micro-site factor
    # (lognormal, SD of log 0.08 for OC and 0.04 for BD: 0.089 on the stock) and lab
    # error (CHN 3 %, BD 5 % per layer, ≈ 0.058/√3 = 0.034 on a 3-layer sum), i.e.
    # ≈ 9.5 % ≈ 4.5–5 Mg C/ha at ~50 Mg C/ha, a variance of ≈ 22 (Mg C/ha)² that is
    # in the cores but not in the cells. That is the nugget (cell support drops it).
    # Acceptance: 90 % intervals cover 85–95 % of the inside-boundary cells, and
    # Σ ẑ × true cell area is within ±10 % of the true total (truth/totals.json:
    # 10,384.4 t C, recomputed here from the same NetCDF values).
    data = junshan_2020
    grid: Grid = data["grid"]  # type: ignore[assignment]
    truth: xr.Dataset = data["truth"]  # type: ignore[assignment]
    inside = truth["inside_boundary"].values.astype(bool)
    ds = predict_soc(
        data["x"],  # type: ignore[arg-type]
        data["y"],  # type: ignore[arg-type]
        data["soc"],  # type: ignore[arg-type]
        grid,
        covariates=data["covariates"],  # type: ignore[arg-type]
        mask=inside,
        support="cell",
    )
    assert 15.0 < ds.attrs["variogram_nugget"] < 35.0  # the ≈ 22 (Mg C/ha)² worked out above
    true_soc = truth["soc_0_30_mg_ha"].values[inside]
    lower = ds["soc_0_30_mg_ha_lower"].values[inside]
    upper = ds["soc_0_30_mg_ha_upper"].values[inside]
    assert np.isfinite(lower).all() and np.isfinite(upper).all()
    coverage = float(np.mean((true_soc >= lower) & (true_soc <= upper)))
    assert 0.85 <= coverage <= 0.95, coverage
    area = grid.cell_area_ha[inside]
    total = float(np.sum(ds["soc_0_30_mg_ha"].values[inside] * area))
    true_total = float(np.sum(true_soc.astype(np.float64) * area))
    assert true_total == pytest.approx(10384.4, abs=0.1)
    assert abs(total / true_total - 1.0) <= 0.10, (total, true_total)
    assert np.isnan(ds["soc_0_30_mg_ha"].values[~inside]).all()


def test_tiles_kriged_in_worker_processes_give_the_serial_map(
    junshan_2020: dict[str, object],
) -> None:
    # Small tiles (400 cells) so that the sample grid makes many tasks; the map
    # kriged in two worker processes must equal the serial one bit for bit.
    from concurrent.futures import ProcessPoolExecutor

    data = junshan_2020
    grid: Grid = data["grid"]  # type: ignore[assignment]
    inside = data["truth"]["inside_boundary"].values.astype(bool)  # type: ignore[index]
    options: dict[str, object] = {
        "covariates": data["covariates"],
        "mask": inside,
        "chunk_cells": 400,
    }
    serial = predict_soc(data["x"], data["y"], data["soc"], grid, **options)  # type: ignore[arg-type]
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = predict_soc(
            data["x"],
            data["y"],
            data["soc"],
            grid,
            executor=pool,
            **options,  # type: ignore[arg-type]
        )
    xr.testing.assert_identical(serial, pooled)
    assert grid.width * grid.height / 400 > 50  # many tasks, not one
