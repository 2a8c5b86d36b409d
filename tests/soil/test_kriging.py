"""Tests of carbonsink.soil.kriging.

Expected values are worked by hand in the comments (small ordinary and
regression kriging systems), come from an independent implementation
(pykrige's OrdinaryKriging), or from the synthetic survey's truth
(sample_data/junshan/truth).

Hand notation: spherical γ(h) = c₀ + c₁ (1.5 h/a − 0.5 (h/a)³) for 0 < h < a;
covariance C(h) = c₀ + c₁ − γ(h); the OK variance in variogram form is
σ² = Σ λᵢ γ(hᵢ₀) + μ with Σ λᵢ γ(hᵢⱼ) + μ = γ(hⱼ₀) (Webster & Oliver 2007 §8.2).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import Transformer

from carbonsink.errors import ConfigError, GridError, InputError, ModelError
from carbonsink.grid import Grid
from carbonsink.io.tables import read_table
from carbonsink.soil import kriging
from carbonsink.soil.kriging import (
    MIN_POINTS_VARIOGRAM,
    EmpiricalVariogram,
    VariogramModel,
    cross_validate_soc,
    empirical_variogram,
    fit_variogram,
    predict_soc,
    sample_covariates,
)
from carbonsink.soil.profiles import core_stocks

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


# ------------------------------------------------------------------ variograms
def test_variogram_models_hand_values() -> None:
    # nugget 1, partial sill 4, range 100 m.
    # spherical at h = 50: r = 0.5, f = 1.5·0.5 − 0.5·0.125 = 0.6875 → γ = 1 + 4·0.6875 = 3.75
    # beyond the range γ = sill = 5; at h = 0 γ = 0 (the nugget is a jump at 0⁺).
    sph = VariogramModel(model="spherical", nugget=1.0, psill=4.0, range_m=100.0)
    np.testing.assert_allclose(sph.semivariance([0.0, 50.0, 100.0, 250.0]), [0, 3.75, 5, 5])
    np.testing.assert_allclose(sph.covariance([0.0, 50.0]), [5.0, 1.25])
    assert sph.sill == 5.0
    # exponential and Gaussian reach 1 − e⁻³ = 0.950213 of the partial sill at the
    # practical range: γ(100) = 1 + 4·0.950213 = 4.800852.
    for name in ("exponential", "gaussian"):
        model = VariogramModel(model=name, nugget=1.0, psill=4.0, range_m=100.0)
        assert model.semivariance(100.0) == pytest.approx(1.0 + 4.0 * (1.0 - math.exp(-3.0)))
    # exponential at h = 50: 1 + 4(1 − e^{−1.5}) = 1 + 4·0.776870 = 4.107479;
    # Gaussian at h = 50: 1 + 4(1 − e^{−0.75}) = 1 + 4·0.5276334 = 3.1105336.
    exp_model = VariogramModel(model="exponential", nugget=1.0, psill=4.0, range_m=100.0)
    gau_model = VariogramModel(model="gaussian", nugget=1.0, psill=4.0, range_m=100.0)
    assert exp_model.semivariance(50.0) == pytest.approx(4.107479, abs=1e-6)
    assert gau_model.semivariance(50.0) == pytest.approx(3.1105336, abs=1e-6)
    assert sph.to_dict()["units"] == "(Mg C/ha)^2"
    assert sph.to_dict()["range_units"] == "m"


def test_empirical_variogram_alternating_line() -> None:
    # 10 points 10 m apart on a line with values 0, 1, 0, 1, ...: pairs d·10 m apart
    # number 10 − d; they differ by 1 when d is odd (γ = ½·1² = 0.5), not when even (0).
    # With 9 classes of 10 m up to 90 m, class j holds exactly the pairs at 10(j+1) m.
    x = X0 + 10.0 * np.arange(10)
    values = np.arange(10) % 2
    vario = empirical_variogram(x, np.full(10, Y0), values, n_lags=9, max_lag_m=90.0)
    np.testing.assert_allclose(vario.lag_m, 10.0 * np.arange(1, 10))
    np.testing.assert_array_equal(vario.n_pairs, 10 - np.arange(1, 10))
    np.testing.assert_allclose(vario.semivariance, [0.5, 0.0] * 4 + [0.5])
    assert list(vario.to_frame().columns) == ["lag_m", "semivariance", "n_pairs"]


@pytest.mark.parametrize("name", ["spherical", "exponential", "gaussian"])
def test_fit_variogram_recovers_an_exact_model(name: str) -> None:
    # Semivariances computed from a known model: the fit must give that model back.
    truth = VariogramModel(model=name, nugget=2.0, psill=8.0, range_m=300.0)  # type: ignore[arg-type]
    lags = np.linspace(20.0, 600.0, 15)
    empirical = EmpiricalVariogram(
        lag_m=lags, semivariance=truth.semivariance(lags), n_pairs=np.full(15, 100, dtype=np.int64)
    )
    fitted = fit_variogram(empirical, model=name)  # type: ignore[arg-type]
    assert fitted.model == name
    assert fitted.nugget == pytest.approx(2.0, abs=2e-3)
    assert fitted.psill == pytest.approx(8.0, rel=1e-3)
    assert fitted.range_m == pytest.approx(300.0, rel=1e-3)


def test_fit_variogram_refuses_constant_values_and_unknown_models() -> None:
    flat = EmpiricalVariogram(
        lag_m=np.array([10.0, 20.0]), semivariance=np.zeros(2), n_pairs=np.array([5, 5])
    )
    with pytest.raises(ModelError, match="do not vary"):
        fit_variogram(flat)
    with pytest.raises(ConfigError, match=r"'matern'.*'spherical', 'exponential', 'gaussian'"):
        fit_variogram(flat, model="matern")  # type: ignore[arg-type]


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


@pytest.mark.parametrize("name", ["spherical", "exponential"])
@pytest.mark.parametrize("n_neighbours", [25, 8])
def test_ordinary_kriging_matches_pykrige(name: str, n_neighbours: int) -> None:
    # pykrige is an independent implementation: its vectorised backend solves the
    # full system, its loop backend the n_closest_points neighbourhood of each cell.
    # Spherical and exponential have the same (practical-range) parameters there.
    pykrige_ok = pytest.importorskip("pykrige.ok")
    rng = np.random.default_rng(7)
    grid = Grid.from_bounds((X0, Y0, X0 + 400.0, Y0 + 300.0), crs=CRS, resolution=10.0)
    x = X0 + rng.uniform(0, 400, 25)
    y = Y0 + rng.uniform(0, 300, 25)
    z = rng.normal(50.0, 8.0, 25)
    model = VariogramModel(model=name, nugget=2.0, psill=30.0, range_m=250.0)  # type: ignore[arg-type]
    ds = predict_soc(
        x,
        y,
        z,
        grid,
        method="ordinary-kriging",
        variogram_model=model,
        n_neighbours=n_neighbours,
        support="point",
        chunk_cells=300,
    )
    reference = pykrige_ok.OrdinaryKriging(
        x,
        y,
        z,
        variogram_model=name,
        variogram_parameters={"psill": 30.0, "range": 250.0, "nugget": 2.0},
    )
    gx, gy = np.meshgrid(grid.x, grid.y)
    if n_neighbours >= 25:
        zp, ss = reference.execute("points", gx.ravel(), gy.ravel(), backend="vectorized")
    else:
        zp, ss = reference.execute(
            "points", gx.ravel(), gy.ravel(), backend="loop", n_closest_points=n_neighbours
        )
    np.testing.assert_allclose(ds["soc_0_30_mg_ha"].values.ravel(), zp, rtol=1e-5)
    np.testing.assert_allclose(ds["soc_0_30_mg_ha_variance"].values.ravel(), ss, rtol=1e-4)


def test_chunking_does_not_change_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiles partition the grid and every cell uses only its own neighbours, so
    # 2 × 2-cell tiles, batches of 2 neighbour sets and one tile must give the same
    # numbers (up to the last bits of a BLAS product on differently sized blocks).
    rng = np.random.default_rng(3)
    grid = Grid.from_bounds((X0, Y0, X0 + 150.0, Y0 + 130.0), crs=CRS, resolution=10.0)
    x = X0 + rng.uniform(0, 150, 30)
    y = Y0 + rng.uniform(0, 130, 30)
    z = rng.uniform(20, 80, 30)
    whole = predict_soc(x, y, z, grid, method="ordinary-kriging", n_neighbours=6)
    small = predict_soc(x, y, z, grid, method="ordinary-kriging", n_neighbours=6, chunk_cells=4)
    monkeypatch.setattr(kriging, "_SETS_PER_BATCH", 2)
    batched = predict_soc(x, y, z, grid, method="ordinary-kriging", n_neighbours=6)
    for name in whole.data_vars:
        np.testing.assert_allclose(small[name].values, whole[name].values, rtol=1e-6)
        np.testing.assert_allclose(batched[name].values, whole[name].values, rtol=1e-6)


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


# ------------------------------------------------------------ cross-validation
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


def test_spatial_blocks_default_to_the_variogram_range() -> None:
    # METHODOLOGY.md §6: block size ≈ variogram range of all the points.
    # A field with a ~500 m correlation scale (sines of period 942 m) over 4 km.
    rng = np.random.default_rng(11)
    x = X0 + rng.uniform(0, 4000, 60)
    y = Y0 + rng.uniform(0, 4000, 60)
    z = 50 + 10 * np.sin((x - X0) / 150.0) + 10 * np.sin((y - Y0) / 150.0) + rng.normal(0, 2, 60)
    result = cross_validate_soc(x, y, z, method="ordinary-kriging", folds=3)
    expected = fit_variogram(empirical_variogram(x, y, z)).range_m
    assert result.block_m == pytest.approx(expected)


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
@pytest.fixture(scope="module")
def junshan_2020(sample_survey: object) -> dict[str, object]:
    """Cores (0–30 cm stocks in EPSG:32649), the truth grid and the covariates."""
    folder = sample_survey.parent  # type: ignore[attr-defined]
    layers = read_table(folder / "soil_2020.csv")
    # The synthetic cores have layers 0–10, 10–20, 20–30 cm (then 30–50, ...), so
    # the 0–30 cm stock is the plain layer sum OC % × BD × 10 cm over three layers.
    assert set(layers.loc[layers["depth_bottom_cm"] <= 30, "depth_top_cm"]) == {0, 10, 20}
    stocks = core_stocks(layers, depths_cm=(30,))
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    x, y = to_utm.transform(stocks["x"].to_numpy(), stocks["y"].to_numpy())
    truth = xr.open_dataset(folder / "truth" / "truth_2020.nc").load()
    grid = Grid.from_xarray(truth)
    # Covariates: the true elevation stands in for the LiDAR DTM and the true class
    # for the land-cover map. No core is taken in open water (the generator samples
    # land classes only), so water (1) is merged into mudflat (2), the zone just
    # above it on the elevation gradient — a class without cores cannot be regressed.
    classes = truth["class"].values.astype(np.float64)
    covariates = xr.Dataset(
        {
            "elevation_m": truth["elevation_m"].astype(np.float64),
            "class": (("y", "x"), np.where(classes == 1, 2.0, classes)),
        },
        coords={"x": truth["x"], "y": truth["y"]},
    )
    return {
        "x": np.asarray(x),
        "y": np.asarray(y),
        "soc": stocks["soc_0_30_mg_ha"].to_numpy(),
        "grid": grid,
        "truth": truth,
        "covariates": covariates,
    }


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
