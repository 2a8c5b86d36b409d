"""Tests of carbonsink.soil.block_variance: block kriging of the survey's mean SOC stock."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import chi2

from carbonsink.errors import ConfigError, GridError, InputError, ModelError
from carbonsink.pipeline import RunContext, epoch_core_stocks, epoch_soc_map, find_epoch
from carbonsink.soil.block_variance import (
    BlockEstimate,
    areal_mean_variance,
    block_change,
    discretise_block,
)
from carbonsink.soil.soc_map import predict_soc
from carbonsink.spatial.variogram import VariogramModel
from tests.soil.fields import X0, Y0, small_grid, spherical

_grid = small_grid
_spherical = spherical


# ------------------------------------------------------------ discretisation
def test_discretise_block_groups_cells_into_area_weighted_centroids() -> None:
    grid = _grid(4, 4)
    # 16 cells, n_points 4 → stride round(√(16/4)) = 2: four 2 × 2 groups whose
    # centroids are the inner corners, e.g. the upper-left group's cell centres
    # x0+5, x0+15 → x0+10; y (north down) Y0+40−5, Y0+40−15 → Y0+30.
    block = discretise_block(grid, n_points=4)
    assert block.stride == 2
    assert sorted(zip(block.x.round(6), block.y.round(6), strict=True)) == [
        (X0 + 10, Y0 + 10),
        (X0 + 10, Y0 + 30),
        (X0 + 30, Y0 + 10),
        (X0 + 30, Y0 + 30),
    ]
    # Each point stands for 4 cells of ≈ 0.01 ha; together the whole grid's true area.
    np.testing.assert_allclose(block.area_ha, 0.04, rtol=2e-3)
    assert block.block_area_ha == pytest.approx(grid.cell_area_ha.sum(), rel=1e-12)
    assert block.area_ha.sum() == pytest.approx(block.block_area_ha, rel=1e-12)
    assert block.weights.sum() == pytest.approx(1.0, rel=1e-12)


def test_discretise_block_follows_an_irregular_mask() -> None:
    grid = _grid(4, 4)
    mask = np.zeros(grid.shape, dtype=bool)
    mask[0, 0] = mask[1, 1] = True  # two cells of the upper-left group
    mask[3, 3] = True  # one cell of the lower-right group
    block = discretise_block(grid, mask=mask, n_points=1)
    # 3 masked cells, n_points 1 → stride round(√3) = 2. Upper-left group:
    # centres (x0+5, Y0+35) and (x0+15, Y0+25) → centroid (x0+10, Y0+30), 2 cells;
    # lower-right group: the centre of cell (3, 3), (x0+35, Y0+5), 1 cell.
    assert block.stride == 2
    order = np.argsort(block.x)
    np.testing.assert_allclose(block.x[order], [X0 + 10, X0 + 35], rtol=0, atol=1e-6)
    np.testing.assert_allclose(block.y[order], [Y0 + 30, Y0 + 5], rtol=0, atol=1e-6)
    np.testing.assert_allclose(block.area_ha[order] / block.area_ha.min(), [2, 1], rtol=1e-6)
    assert block.block_area_ha == pytest.approx(grid.cell_area_ha[mask].sum(), rel=1e-12)


def test_discretise_block_with_enough_points_is_every_cell_centre() -> None:
    grid = _grid(5, 3)
    block = discretise_block(grid, n_points=100)  # round(√(15/100)) = 0 → stride 1
    assert block.stride == 1
    gx, gy = np.meshgrid(grid.x, grid.y)
    assert sorted(zip(block.x, block.y, strict=True)) == sorted(
        zip(gx.ravel(), gy.ravel(), strict=True)
    )


@pytest.mark.parametrize(
    ("mask", "n_points", "error"),
    [
        (np.zeros((4, 4), dtype=bool), 10, GridError),  # no cell
        (np.ones((3, 4), dtype=bool), 10, GridError),  # not on the grid
        (np.full((4, 4), 0.5), 10, GridError),  # not a boolean mask
        (None, 0, ConfigError),
        (None, 2.5, ConfigError),
    ],
)
def test_discretise_block_rejects_bad_masks_and_counts(
    mask: np.ndarray | None, n_points: int, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        discretise_block(_grid(4, 4), mask=mask, n_points=n_points)
    assert info.value.problem.fix


# ------------------------------------------------------------- hand cases
@pytest.mark.parametrize(("c0", "expected"), [(0.0, 0.7475), (4.0, 4.7475)])
def test_one_core_in_a_two_cell_block(c0: float, expected: float) -> None:
    # Block: two 10 m cells side by side, centres p1 = (X0+5, Y0+5), p2 = (X0+15, Y0+5),
    # equal weights ½. One core at p1. Spherical c1 = 10, a = 100 m:
    # f(10/100) = 1.5·0.1 − 0.5·0.001 = 0.1495, so C(10 m) = 10·(1 − 0.1495) = 8.505.
    #   C̄(x, B) = ½·10 + ½·8.505 = 9.2525           (no nugget: a block, not a point)
    #   C̄(B, B) = ¼·(10 + 10 + 2·8.505) = 9.2525    (nugget left out, Webster & Oliver §8.3)
    #   C₁₁ = c0 + c1 = c0 + 10
    # One core: λ = 1 and μ = C̄(x, B) − C₁₁, so
    #   σ²_B = C̄(B, B) − C̄(x, B) − μ = C̄(B, B) − 2 C̄(x, B) + C₁₁ = 0.7475 + c0,
    # i.e. Var(z₁ − (z₁ + z₂)/2) = (2·10 − 2·8.505)/4 = 0.7475 plus the core's nugget.
    grid = _grid(2, 1)
    est = areal_mean_variance(
        [X0 + 5], [Y0 + 5], [42.0], grid, variogram_model=_spherical(c0, 10.0, 100.0)
    )
    assert est.mean_mg_ha == pytest.approx(42.0, rel=1e-12)
    assert est.variance == pytest.approx(expected, rel=1e-6)
    assert est.se == pytest.approx(math.sqrt(expected), rel=1e-6)
    assert est.n_points == 1
    assert est.n_block_points == 2
    # Total over the two cells' true area (≈ 0.02 ha).
    area = float(grid.cell_area_ha.sum())
    assert est.block_area_ha == pytest.approx(area, rel=1e-12)
    assert est.total_t_c == pytest.approx(42.0 * area, rel=1e-12)
    assert est.total_se_t_c == pytest.approx(math.sqrt(expected) * area, rel=1e-6)
    assert est.units == "Mg C/ha"


def test_pure_nugget_gives_the_sample_mean_and_nugget_over_n() -> None:
    # Pure nugget c0 = 6, 3 cores. C = 6 I; C̄(xᵢ, B) = 0 and C̄(B, B) = 0 (the nugget
    # averages out over the block). 6 λᵢ + μ = 0 and Σλ = 1 → λᵢ = 1/3, μ = −6/3 = −2;
    # σ²_B = 0 − 0 − (−2) = 2 = c0/n; mean = (10 + 20 + 45)/3 = 25.
    grid = _grid(10, 10)
    nugget = VariogramModel(model="spherical", nugget=6.0, psill=0.0, range_m=50.0)
    est = areal_mean_variance(
        [X0 + 12, X0 + 51, X0 + 88],
        [Y0 + 30, Y0 + 70, Y0 + 14],
        [10.0, 20.0, 45.0],
        grid,
        variogram_model=nugget,
    )
    assert est.mean_mg_ha == pytest.approx(25.0, rel=1e-12)
    assert est.variance == pytest.approx(2.0, rel=1e-9)


def test_measurement_error_weights_cores_by_inverse_variance() -> None:
    # Pure nugget c0 = 4 (of the measured values), se = (0, 2): mean se² = 2, so the
    # process nugget is c0' = 4 − 2 = 2 and C = diag(2 + 0, 2 + 4) = diag(2, 6).
    # λ ∝ (1/2, 1/6) → λ = (0.75, 0.25); 2·0.75 + μ = 0 → μ = −1.5; σ²_B = 1.5,
    # = Σ λᵢ² Cᵢᵢ = 0.5625·2 + 0.0625·6. Mean = 0.75·10 + 0.25·30 = 15.
    grid = _grid(10, 10)
    nugget = VariogramModel(model="exponential", nugget=4.0, psill=0.0, range_m=50.0)
    est = areal_mean_variance(
        [X0 + 20, X0 + 70],
        [Y0 + 20, Y0 + 70],
        [10.0, 30.0],
        grid,
        variogram_model=nugget,
        value_se=[0.0, 2.0],
    )
    assert est.mean_mg_ha == pytest.approx(15.0, rel=1e-12)
    assert est.variance == pytest.approx(1.5, rel=1e-9)


def test_two_symmetric_cores_and_a_long_range_give_almost_no_variance() -> None:
    # Block 100 m × 100 m (10 × 10 cells); cores at its centre ± 20 m in x. By
    # symmetry λ = (½, ½), so the mean is (30 + 50)/2 = 40. With these weights
    # σ²_B = Var(z_B − ½(z₁ + z₂)) = 2 Σλᵢ γ̄(xᵢ, B) − γ̄(B, B) − ΣΣ λᵢλⱼ γ(xᵢ − xⱼ)
    #      ≤ 2 max γ̄(xᵢ, B) ≤ 2 · c1 · 1.5 · d/a (spherical γ(h) ≤ 1.5 c1 h/a),
    # d ≤ 20 + 50√2 ≈ 91 m the farthest core–block distance: with c1 = 10 and
    # a = 10⁶ m, σ²_B ≤ 2·10·1.5·91/10⁶ = 2.7e-3, against a sill of 10.
    grid = _grid(10, 10)
    cx, cy = X0 + 50, Y0 + 50
    est = areal_mean_variance(
        [cx - 20, cx + 20],
        [cy, cy],
        [30.0, 50.0],
        grid,
        variogram_model=_spherical(0.0, 10.0, 1e6),
    )
    # Symmetry is exact but for the true cell areas, which drift by ~1e-7 from west
    # to east; the nearly flat covariances (all within 3e-3 of c1) amplify that,
    # hence 1e-4 Mg C/ha (λ asymmetric by < 5e-6) rather than round-off.
    assert est.mean_mg_ha == pytest.approx(40.0, abs=1e-4)
    assert 0.0 <= est.variance <= 2.7e-3


def test_block_mean_equals_the_mean_of_a_global_kriging_map() -> None:
    # Kriging is linear in its target: the OK weights of the block mean are the
    # area-weighted mean of the cells' OK weights. So with every cell centre as a
    # block point (stride 1) and predict_soc using all cores (n_neighbours ≥ n) at
    # cell support, Σ wc ẑc equals the block estimate (up to float32 map storage).
    rng = np.random.default_rng(7)
    grid = _grid(20, 15)
    n = 15
    xs = X0 + rng.uniform(0, 200, n)
    ys = Y0 + rng.uniform(0, 150, n)
    zs = rng.uniform(20, 80, n)
    variogram = _spherical(5.0, 100.0, 120.0)
    mask = np.ones(grid.shape, dtype=bool)
    mask[:5, :8] = False
    soc = predict_soc(
        xs,
        ys,
        zs,
        grid,
        method="ordinary-kriging",
        variogram_model=variogram,
        n_neighbours=n,
        mask=mask,
        support="cell",
    )
    area = grid.cell_area_ha
    map_mean = float(np.nansum(soc["soc_0_30_mg_ha"].values * area) / area[mask].sum())
    est = areal_mean_variance(
        xs, ys, zs, grid, variogram_model=variogram, mask=mask, n_block_points=10_000
    )
    assert est.n_block_points == int(mask.sum())
    assert est.mean_mg_ha == pytest.approx(map_mean, rel=1e-5)


# ----------------------------------------------------------- Monte Carlo
def test_block_variance_matches_the_error_of_simulated_fields() -> None:
    # A Gaussian random field with a known spherical covariance c1 = 80, a = 250 m,
    # simulated on every cell centre of a 60 × 60 grid of 10 m cells (Cholesky of
    # the 3600 × 3600 covariance), mean 50; 40 cores at fixed random cell centres
    # measure field + nugget noise (c0 = 20). The truth is the area-weighted mean
    # of the field over all cells. For 300 independent realisations the error
    # e = truth − ẑ_B is N(0, σ²_B) if σ²_B is right, so 300 · mean(e²) / σ²_B is
    # χ²₃₀₀: its 0.1 % and 99.9 % quantiles bound the ratio mean(e²)/σ²_B to about
    # [0.77, 1.28]. The 90 % intervals ẑ ± 1.645 σ_B cover the truth a
    # Binomial(300, 0.9)/300 share of the time: 85–95 % is ±2.9 SD.
    rng = np.random.default_rng(20240830)
    grid = _grid(60, 60)
    gx, gy = np.meshgrid(grid.x, grid.y)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    c0, c1, a = 20.0, 80.0, 250.0
    h = cdist(cells, cells) / a
    cov = c1 * (1.0 - np.where(h < 1, 1.5 * h - 0.5 * h**3, 1.0))
    lower = np.linalg.cholesky(cov + 1e-8 * c1 * np.eye(cells.shape[0]))
    n_real, n_cores = 300, 40
    fields = 50.0 + lower @ rng.standard_normal((cells.shape[0], n_real))
    core_cells = rng.choice(cells.shape[0], size=n_cores, replace=False)
    weights = grid.cell_area_ha.ravel() / grid.cell_area_ha.sum()
    variogram = _spherical(c0, c1, a)

    errors = np.empty(n_real)
    variances = np.empty(n_real)
    for r in range(n_real):
        values = fields[core_cells, r] + math.sqrt(c0) * rng.standard_normal(n_cores)
        est = areal_mean_variance(
            cells[core_cells, 0], cells[core_cells, 1], values, grid, variogram_model=variogram
        )
        errors[r] = float(weights @ fields[:, r]) - est.mean_mg_ha
        variances[r] = est.variance
    # Same cores, same model → the same σ²_B in every realisation.
    np.testing.assert_allclose(variances, variances[0], rtol=1e-9)
    sigma2 = variances[0]
    ratio = float(np.mean(errors**2)) / sigma2
    assert chi2.ppf(0.001, n_real) / n_real <= ratio <= chi2.ppf(0.999, n_real) / n_real, ratio
    # Unbiased: |mean e| within 3.29 standard errors (99.9 %).
    assert abs(errors.mean()) <= 3.29 * math.sqrt(sigma2 / n_real)
    coverage = float(np.mean(np.abs(errors) <= 1.645 * math.sqrt(sigma2)))
    assert 0.85 <= coverage <= 0.95, coverage
    # The test can tell: the i.i.d. variance sill/n = (20 + 80)/40 = 2.5, which
    # ignores the spatial correlation, fails the same χ² bound.
    naive_ratio = float(np.mean(errors**2)) / ((c0 + c1) / n_cores)
    assert naive_ratio < chi2.ppf(0.001, n_real) / n_real, naive_ratio


# -------------------------------------------------------- synthetic survey
@pytest.mark.parametrize("epoch_name", ["2020", "2025"])
def test_synthetic_survey_total_soc_within_its_90_percent_interval(
    sample_survey: Path, epoch_name: str
) -> None:
    # Cores of the epoch (2025 in 有机质 by dichromate) → stocks 0–30 cm → the
    # survey's map (ordinary kriging), whose fitted variogram (dataset attributes)
    # and value SEs feed the block kriging over the inside-boundary cells.
    # Acceptance: the true total SOC 0–30 of truth/totals.json (2020: 10384.4 t C;
    # 2025: 11592.0 t C) lies within total ± 1.645 SE.
    ctx = RunContext.build(sample_survey)
    grid = ctx.grid
    epoch = find_epoch(ctx.survey, epoch_name)
    stocks = epoch_core_stocks(ctx, epoch)
    soc = epoch_soc_map(ctx, stocks, depth_cm=30.0)
    assert soc.attrs["method"] == "ordinary-kriging"
    variogram = VariogramModel(
        model=soc.attrs["variogram_model"],
        nugget=soc.attrs["variogram_nugget"],
        psill=soc.attrs["variogram_partial_sill"],
        range_m=soc.attrs["variogram_range_m"],
    )
    inside = ctx.inside.values
    est = areal_mean_variance(
        stocks["x"].to_numpy(),
        stocks["y"].to_numpy(),
        stocks["soc_0_30_mg_ha"].to_numpy(),
        grid,
        variogram_model=variogram,
        mask=inside,
        value_se=stocks["soc_0_30_se_mg_ha"].to_numpy(),
    )
    totals = json.loads((sample_survey.parent / "truth" / "totals.json").read_text("utf-8"))
    true_total = totals["epochs"][epoch_name]["stocks_t_c"]["soc_0_30"]
    assert est.block_area_ha == pytest.approx(totals["epochs"][epoch_name]["area_ha"]["total"])
    assert abs(est.total_t_c - true_total) <= 1.645 * est.total_se_t_c, est
    # The local-neighbourhood map (32 of the 40 cores per cell) and the global block
    # estimate are both OK with the same variogram; their totals differ by the
    # far cores' small weights, well inside the estimation error.
    map_total = float(np.nansum(soc["soc_0_30_mg_ha"].values * grid.cell_area_ha))
    assert abs(map_total - est.total_t_c) <= 0.5 * est.total_se_t_c


# ------------------------------------------------------------------ errors
def test_regression_kriging_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="ordinary kriging only") as info:
        areal_mean_variance(
            [X0 + 5],
            [Y0 + 5],
            [40.0],
            _grid(2, 1),
            variogram_model=_spherical(1.0, 10.0, 100.0),
            method="regression-kriging",
        )
    assert "ordinary-kriging" in (info.value.problem.fix or "")


@pytest.mark.parametrize(
    ("x", "values", "value_se", "error", "match"),
    [
        ([X0 + 5, X0 + 15], [40.0, math.nan], None, InputError, "NaN"),
        ([X0 + 5, X0 + 15], [40.0, -1.0], None, InputError, "negative"),
        ([X0 + 5, X0 + 5], [40.0, 41.0], None, InputError, "more than one point"),
        ([X0 + 5, math.inf], [40.0, 41.0], None, InputError, "coordinates"),
        ([X0 + 5, X0 + 15], [40.0], None, InputError, "different lengths"),
        ([X0 + 5, X0 + 15], [40.0, 41.0], [1.0], InputError, "value_se"),
        ([X0 + 5, X0 + 15], [40.0, 41.0], [1.0, -1.0], InputError, "standard error"),
    ],
)
def test_bad_cores_are_input_errors(
    x: list[float],
    values: list[float],
    value_se: list[float] | None,
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match) as info:
        areal_mean_variance(
            x,
            [Y0 + 5] * len(x),
            values,
            _grid(2, 1),
            variogram_model=_spherical(1.0, 10.0, 100.0),
            value_se=value_se,
        )
    assert info.value.problem.fix


def test_singular_system_and_measurement_only_sill_are_model_errors() -> None:
    # Gaussian model without nugget: cores 1 m apart with a 1 km range have
    # covariances equal to 1 − 3e-6 of the sill, a numerically singular system.
    grid = _grid(10, 10)
    gaussian = VariogramModel(model="gaussian", nugget=0.0, psill=10.0, range_m=1000.0)
    xs = X0 + 10 + np.arange(6.0)
    with pytest.raises(ModelError, match="ill-conditioned"):
        areal_mean_variance(
            xs, np.full(6, Y0 + 10), np.arange(6.0) + 30, grid, variogram_model=gaussian
        )
    # Nugget 1 with no partial sill, cores with se 2 (variance 4 > 1): nothing is left.
    nugget = VariogramModel(model="spherical", nugget=1.0, psill=0.0, range_m=10.0)
    with pytest.raises(ModelError, match="measurement variance"):
        areal_mean_variance(
            [X0 + 5, X0 + 15],
            [Y0 + 5, Y0 + 5],
            [40.0, 41.0],
            grid,
            variogram_model=nugget,
            value_se=[2.0, 2.0],
        )


def test_inputs_are_not_mutated_and_the_result_is_frozen() -> None:
    grid = _grid(10, 10)
    xs = np.array([X0 + 12, X0 + 51, X0 + 88])
    ys = np.array([Y0 + 30, Y0 + 70, Y0 + 14])
    zs = np.array([10.0, 20.0, 45.0])
    se = np.array([1.0, 0.5, 2.0])
    mask = np.ones(grid.shape, dtype=bool)
    copies = [a.copy() for a in (xs, ys, zs, se, mask)]
    est = areal_mean_variance(
        xs, ys, zs, grid, variogram_model=_spherical(2.0, 30.0, 60.0), mask=mask, value_se=se
    )
    for before, after in zip(copies, (xs, ys, zs, se, mask), strict=True):
        np.testing.assert_array_equal(before, after)
    assert isinstance(est, BlockEstimate)
    with pytest.raises(AttributeError):
        est.mean_mg_ha = 0.0  # type: ignore[misc]
    record = est.to_dict()
    assert record["variance_units"] == "(Mg C/ha)^2"
    assert record["total_units"] == "t C"


# ------------------------------------------------------------ change between epochs
def test_block_change_pure_nugget_measurement_errors_are_independent() -> None:
    # No spatial structure (c1 = 0) and a nugget that is all measurement error
    # (core SE √6, so the process nugget is 6 − 6 = 0): nothing is shared between
    # epochs, Cov(e1, e2) = 0 and, as in the pure-nugget test above,
    # σ²_B = c0 / n = 6 / 3 = 2 per epoch → change variance 2 + 2 = 4, SE 2.
    # Means (10+20+45)/3 = 25 and (12+26+46)/3 = 28 → change +3.
    grid = _grid(10, 10)
    xs, ys = [X0 + 12, X0 + 51, X0 + 88], [Y0 + 30, Y0 + 70, Y0 + 14]
    nugget = VariogramModel(model="spherical", nugget=6.0, psill=0.0, range_m=50.0)
    se = [math.sqrt(6.0)] * 3
    change = block_change(
        (xs, ys, [10.0, 20.0, 45.0], se),
        (xs, ys, [12.0, 26.0, 46.0], se),
        grid,
        variograms=(nugget, nugget),
    )
    assert change.error_correlation == pytest.approx(0.0, abs=1e-12)
    assert change.change_mg_ha == pytest.approx(3.0, rel=1e-12)
    assert change.change_se_mg_ha == pytest.approx(2.0, rel=1e-9)


def test_block_change_revisited_sites_share_the_process_nugget() -> None:
    # The same pure nugget c0 = 6 with no measurement SE is micro-scale variation
    # of the sites; both epochs core the same three sites, so each error is
    # e = Σ λᵢ uᵢ with the same uᵢ and λᵢ = 1/3: Cov = Σ λᵢ² c0 = 3 · 6/9 = 2 = σ²_B,
    # correlation 1 and the change is known exactly (SE 0). Moved 10 m apart
    # (beyond the 5 m site radius) the sites share nothing: SE 2 as above.
    grid = _grid(10, 10)
    xs, ys = [X0 + 12, X0 + 51, X0 + 88], [Y0 + 30, Y0 + 70, Y0 + 14]
    nugget = VariogramModel(model="spherical", nugget=6.0, psill=0.0, range_m=50.0)
    same = block_change(
        (xs, ys, [10.0, 20.0, 45.0], None),
        (xs, ys, [12.0, 26.0, 46.0], None),
        grid,
        variograms=(nugget, nugget),
    )
    assert same.error_correlation == pytest.approx(1.0, rel=1e-9)
    assert same.change_se_mg_ha == pytest.approx(0.0, abs=1e-6)
    moved = block_change(
        (xs, ys, [10.0, 20.0, 45.0], None),
        ([x + 10 for x in xs], ys, [12.0, 26.0, 46.0], None),
        grid,
        variograms=(nugget, nugget),
    )
    assert moved.error_correlation == pytest.approx(0.0, abs=1e-12)
    assert moved.change_se_mg_ha == pytest.approx(2.0, rel=1e-9)


@pytest.mark.parametrize("nugget_kind", ["measurement", "site"])
def test_block_change_of_resampled_sites_matches_simulated_errors(nugget_kind: str) -> None:
    # Z1 = 50 + S + nugget, Z2 = 50 + S + D + nugget, with S a spherical field
    # (c1 = 80, a = 150 m) and D an independent one (c1 = 20, same range): epoch 2's
    # structured covariance is 100 f(h) and the part both epochs share is 80 f(h),
    # the smaller partial sill, as block_change assumes. The nugget (c0 = 10) is
    # either measurement error, new at every visit and given as the cores' SE, or
    # a persistent site effect (micro-scale variation, SE not given) that a revisit
    # of the same cell meets again. 30 cores in epoch 1; epoch 2 revisits 20 of
    # their cells and adds 10 new ones. The true change is the area mean of D. If
    # the change SE is right, the 90 % intervals cover the truth in 85–95 % of 300
    # realisations (±2.9 binomial SD around 90 %), and 300 mean(e²)/SE² is χ²₃₀₀
    # (ratio within [0.77, 1.28] at the 0.1 % levels).
    rng = np.random.default_rng(7)
    grid = _grid(30, 30)
    gx, gy = np.meshgrid(grid.x, grid.y)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    a, c0 = 150.0, 10.0
    h = cdist(cells, cells) / a
    shape = 1.0 - np.where(h < 1, 1.5 * h - 0.5 * h**3, 1.0)
    lower_s = np.linalg.cholesky(80.0 * shape + 1e-6 * np.eye(cells.shape[0]))
    lower_d = np.linalg.cholesky(20.0 * shape + 1e-6 * np.eye(cells.shape[0]))
    n_real = 300
    first_cells = rng.choice(cells.shape[0], size=30, replace=False)
    others = np.setdiff1d(np.arange(cells.shape[0]), first_cells)
    second_cells = np.concatenate([first_cells[:20], rng.choice(others, size=10, replace=False)])
    weights = grid.cell_area_ha.ravel() / grid.cell_area_ha.sum()
    variograms = (_spherical(c0, 80.0, a), _spherical(c0, 100.0, a))
    se = np.full(30, math.sqrt(c0)) if nugget_kind == "measurement" else None
    errors, ses, independent = np.empty(n_real), np.empty(n_real), np.empty(n_real)
    for r in range(n_real):
        s = 50.0 + lower_s @ rng.standard_normal(cells.shape[0])
        d = lower_d @ rng.standard_normal(cells.shape[0])
        if nugget_kind == "measurement":
            noise1 = math.sqrt(c0) * rng.standard_normal(30)
            noise2 = math.sqrt(c0) * rng.standard_normal(30)
        else:
            site = math.sqrt(c0) * rng.standard_normal(cells.shape[0])
            noise1, noise2 = site[first_cells], site[second_cells]
        z1 = s[first_cells] + noise1
        z2 = (s + d)[second_cells] + noise2
        change = block_change(
            (cells[first_cells, 0], cells[first_cells, 1], z1, se),
            (cells[second_cells, 0], cells[second_cells, 1], z2, se),
            grid,
            variograms=variograms,
        )
        errors[r] = change.change_mg_ha - float(weights @ d)
        ses[r] = change.change_se_mg_ha
        independent[r] = math.sqrt(change.first.variance + change.second.variance)
    coverage = float(np.mean(np.abs(errors) <= 1.645 * ses))
    assert 0.85 <= coverage <= 0.95
    assert 0.77 <= float(np.mean(errors**2 / ses**2)) <= 1.28
    # Revisited sites make the errors positively correlated: the change is known
    # better than the two stocks' independent errors would say.
    assert float(np.median(ses / independent)) < 0.9
