"""Block kriging of each stratum's mean SOC (soil.stratum_blocks): hand cases and simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from carbonsink.errors import ConfigError
from carbonsink.grid import Grid
from carbonsink.soil.stratum_blocks import (
    MIN_SCALE_DOF,
    CoreSet,
    _shared_parts,
    residual_variogram,
    stratum_blocks,
)
from tests.soil.fields import X0, Y0, small_grid, spherical

_grid = small_grid
_spherical = spherical


def _thirds(grid: Grid) -> np.ndarray:
    """Strata 1, 2, 3 in the left, middle and right thirds of the grid's columns."""
    cols = np.arange(grid.width)
    codes = 1 + (3 * cols) // grid.width
    return np.broadcast_to(codes[None, :], grid.shape).astype(np.int64)


def test_pure_nugget_gives_each_stratum_the_mean_of_its_own_cores() -> None:
    # A field with (almost) no spatial structure: the stratum mean of its own cores is the
    # best estimate and its variance is nugget / n. Stratum 1 cores 10, 12, 14 → 12,
    # variance 9 / 3 = 3; stratum 2 cores 40, 50 → 45, variance 9 / 2 = 4.5; stratum 3 has
    # one core (fewer than 2): not measured, its core still in the system (weight 0).
    grid = _grid(30, 10)
    strata = _thirds(grid)
    x = X0 + np.array([15.0, 35.0, 55.0, 115.0, 135.0, 255.0])
    y = Y0 + np.array([15.0, 45.0, 75.0, 15.0, 75.0, 45.0])
    cores = CoreSet(x=x, y=y, values=np.array([10.0, 12.0, 14.0, 40.0, 50.0, 99.0]))
    result = stratum_blocks(
        [cores],
        grid,
        strata,
        {"a": 1, "b": 2, "c": 3},
        variograms=[_spherical(9.0, 1e-9, 50.0)],
        mask=np.ones(grid.shape, dtype=bool),
        fit_variograms=False,
    )
    assert result.measured == (True, True, False)
    assert result.n_cores.tolist() == [[3, 2, 1]]
    assert result.mean_mg_ha[0, :2] == pytest.approx([12.0, 45.0], abs=1e-6)
    assert math.isnan(result.mean_mg_ha[0, 2])
    assert np.diag(result.covariance)[:2] == pytest.approx([3.0, 4.5], rel=1e-6)
    assert result.covariance[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(result.covariance[2] == 0.0)
    # 100 cells of 10 m × 10 m = 1 ha per stratum (true areas within 0.1 %).
    assert result.area_ha == pytest.approx([1.0, 1.0, 1.0], rel=2e-3)
    assert result.total_t_c[0, 0] == pytest.approx(12.0 * result.area_ha[0])
    record = result.to_dict()
    assert record["strata"]["c"]["mean"] == [None]
    assert record["variogram_sources"] == ["given"]


def test_a_stratum_needs_cores_in_every_epoch() -> None:
    grid = _grid(30, 10)
    first = CoreSet(
        x=X0 + np.array([15.0, 35.0, 115.0, 135.0]),
        y=Y0 + np.array([15.0, 45.0, 15.0, 75.0]),
        values=np.array([10.0, 12.0, 40.0, 50.0]),
    )
    second = CoreSet(
        x=X0 + np.array([15.0, 35.0, 115.0]),
        y=Y0 + np.array([15.0, 45.0, 15.0]),
        values=np.array([11.0, 13.0, 41.0]),
    )
    v = _spherical(9.0, 1e-9, 50.0)
    result = stratum_blocks(
        [first, second],
        grid,
        _thirds(grid),
        {"a": 1, "b": 2, "c": 3},
        variograms=[v, v],
        mask=np.ones(grid.shape, dtype=bool),
        fit_variograms=False,
    )
    # b has 2 cores in the first epoch but 1 in the second: not measured.
    assert result.measured == (True, False, False)
    with pytest.raises(ConfigError, match="variograms"):
        stratum_blocks(
            [first, second],
            grid,
            _thirds(grid),
            {"a": 1},
            variograms=[v],
            mask=np.ones(grid.shape, dtype=bool),
        )


def test_residual_variogram_is_about_the_stratum_means() -> None:
    # Two strata whose means differ by 100 Mg C/ha, with white noise of variance 4: the
    # raw values' variance is ≈ 2,500, the residuals' ≈ 4, so the fitted sill is far
    # below 2,500 (a variogram of the raw values would carry the difference of the means).
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1000, 80)
    y = rng.uniform(0, 1000, 80)
    groups = (x > 500).astype(int)
    values = 100.0 * groups + rng.normal(0.0, 2.0, 80)
    model = residual_variogram(x, y, values, groups, model="spherical")
    assert model.nugget + model.psill < 10.0


def _lattice(range_m: float) -> tuple[Grid, np.ndarray, np.ndarray, np.ndarray]:
    """A 30 × 30 grid of 10 m cells in three strata, its cell centres and their spherical
    correlation 1 − (1.5 h − 0.5 h³) (h = distance / ``range_m`` < 1, else 0)."""
    grid = _grid(30, 30)
    gx, gy = np.meshgrid(grid.x, grid.y)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    h = cdist(cells, cells) / range_m
    return grid, _thirds(grid), cells, 1.0 - np.where(h < 1, 1.5 * h - 0.5 * h**3, 1.0)


def test_stratum_changes_match_simulated_fields() -> None:
    # Three strata (thirds of a 30 × 30 grid of 10 m cells) with means 40, 60, 80 at t1 and
    # changes +6, 0, −3 at t2. Z1 = μ_s + S + site nugget, Z2 = μ_s + δ_s + S + D + site
    # nugget, S spherical (c1 = 80, a = 150 m), D independent (c1 = 20), site nugget c0 = 10
    # met again by a revisit of the same cell. 30 cores in t1 (10 per stratum); t2 revisits
    # 20 of them and adds 10 new. The truth is each stratum's area mean of δ_s + D. If the
    # joint covariance is right, each stratum's and the total's 90 % intervals cover the
    # truth in 85–95 % of 300 realisations (±2.9 binomial SD), and the standardised errors
    # have mean square within the χ²₃₀₀ 0.1 % bounds [0.77, 1.28].
    rng = np.random.default_rng(11)
    grid, strata_map, cells, shape = _lattice(150.0)
    codes = strata_map.ravel()
    a, c0 = 150.0, 10.0
    lower_s = np.linalg.cholesky(80.0 * shape + 1e-6 * np.eye(cells.shape[0]))
    lower_d = np.linalg.cholesky(20.0 * shape + 1e-6 * np.eye(cells.shape[0]))
    mu = np.array([40.0, 60.0, 80.0])[codes - 1]
    delta = np.array([6.0, 0.0, -3.0])[codes - 1]
    first_cells = np.concatenate(
        [rng.choice(np.flatnonzero(codes == k), size=10, replace=False) for k in (1, 2, 3)]
    )
    others = np.setdiff1d(np.arange(cells.shape[0]), first_cells)
    second_cells = np.concatenate(
        [first_cells[np.r_[0:7, 10:17, 20:26]], rng.choice(others, size=10, replace=False)]
    )
    area = grid.cell_area_ha.ravel()
    variograms = [_spherical(c0, 80.0, a), _spherical(c0, 100.0, a)]
    n_real = 300
    errors = np.empty((n_real, 4))
    ses = np.empty((n_real, 4))
    for r in range(n_real):
        s = lower_s @ rng.standard_normal(cells.shape[0])
        d = lower_d @ rng.standard_normal(cells.shape[0])
        site = math.sqrt(c0) * rng.standard_normal(cells.shape[0])
        z1 = mu + s + site
        z2 = mu + delta + s + d + site
        result = stratum_blocks(
            [
                CoreSet(x=cells[first_cells, 0], y=cells[first_cells, 1], values=z1[first_cells]),
                CoreSet(
                    x=cells[second_cells, 0], y=cells[second_cells, 1], values=z2[second_cells]
                ),
            ],
            grid,
            strata_map,
            {"a": 1, "b": 2, "c": 3},
            variograms=variograms,
            mask=np.ones(grid.shape, dtype=bool),
            fit_variograms=False,
        )
        totals = result.total_t_c
        cov = result.total_covariance_t_c
        change = totals[1] - totals[0]
        # Var(T2 − T1) = Σ22 + Σ11 − Σ12 − Σ21, per stratum and for the sum.
        diff = np.hstack([-np.eye(3), np.eye(3)])
        change_cov = diff @ cov @ diff.T
        truth = np.array([float(((delta + d) * area)[codes == k].sum()) for k in (1, 2, 3)])
        errors[r, :3] = change - truth
        errors[r, 3] = change.sum() - truth.sum()
        ses[r, :3] = np.sqrt(np.diag(change_cov))
        ses[r, 3] = math.sqrt(change_cov.sum())
    coverage = np.mean(np.abs(errors) <= 1.645 * ses, axis=0)
    assert np.all((coverage >= 0.85) & (coverage <= 0.95)), coverage
    ratio = np.mean((errors / ses) ** 2, axis=0)
    assert np.all((ratio >= 0.77) & (ratio <= 1.28)), ratio


@pytest.mark.parametrize(("step", "nugget", "psill"), [(1.0, 1.5, 10.0), (3.0, 0.0, 7.5)])
def test_what_two_epochs_share_comes_from_the_revisited_sites(
    step: float, nugget: float, psill: float
) -> None:
    # Six sites of one stratum, revisited 1 m away; residuals about the epochs' means
    # r1 = −5, −3, −1, 1, 3, 5 and r2 = r1 ± step (alternating, mean 0), exact values:
    # τ² = mean(d²) − 0 = step². Variogram: nugget c0 = 2 (all of it process nugget, the
    # cores have no SE), partial sill 10. τ²/2 comes off the shared nugget first, then off
    # the partial sill: step 1 → τ²/2 = 0.5: nugget 1.5, sill 10; step 3 → τ²/2 = 4.5:
    # nugget 0, sill 10 − (4.5 − 2) = 7.5.
    x = X0 + 100.0 * np.arange(6)
    z1 = np.arange(0.0, 12.0, 2.0)
    z2 = z1 + 100.0 + step * np.array([1, -1, 1, -1, 1, -1])
    groups = np.ones(6, dtype=np.int64)
    first = (np.column_stack([x, np.full(6, Y0)]), z1, groups, np.zeros(6))
    second = (np.column_stack([x, np.full(6, Y0 + 1.0)]), z2, groups, np.zeros(6))
    shared, shared_nugget, record = _shared_parts(
        first, second, spherical(2.0, 10.0, 500.0), site_radius_m=5.0
    )
    assert record["revisit_pairs"] == 6
    assert record["tau2"] == pytest.approx(step**2)
    assert shared_nugget == pytest.approx(nugget)
    assert shared.psill == pytest.approx(psill)
    # Fewer than 5 revisits: the nugget is not shared, the structured part is.
    few = (first[0][:4], z1[:4], groups[:4], np.zeros(4))
    again = (second[0][:4], z2[:4], groups[:4], np.zeros(4))
    shared, shared_nugget, record = _shared_parts(
        few, again, spherical(2.0, 10.0, 500.0), site_radius_m=5.0
    )
    assert (shared_nugget, shared.psill) == (0.0, 10.0)
    assert math.isnan(record["tau2"])


def test_stratum_scales_by_hand() -> None:
    # Pure nugget (c0 = 9), one epoch. Stratum 1 cores 10, 12, 14: 2 df, below the 4 a
    # stratum needs for its own scale: κ1 = 1. Stratum 2 cores 40, 50, 60, 70, 80, 90:
    # residuals ±25, ±15, ±5, SS = 2 × (625 + 225 + 25) = 1,750 on 5 df, s2² = 350.
    # Pooled s_p² = (8 + 1,750) / 7 = 251.142857 (stratum 1's SS = 8 counts here).
    # κ2² = 350 / 251.142857 × (t_{0.95,5} / z_{0.95})² = 1.393629 × (2.015048 / 1.644854)²
    #     = 1.393629 × 1.500778 = 2.091528.
    # The means are still each stratum's mean (12, 65: the weights do not depend on the
    # scale); the variances are κ² c0 / n: 9 / 3 = 3 and 2.091528 × 9 / 6 = 3.137292
    # (without scales: 3 and 1.5).
    grid = _grid(30, 10)
    x = X0 + np.array([15.0, 35.0, 55.0, 115.0, 135.0, 155.0, 175.0, 125.0, 165.0])
    y = Y0 + np.array([15.0, 45.0, 75.0, 15.0, 75.0, 45.0, 25.0, 55.0, 85.0])
    values = np.array([10.0, 12.0, 14.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0])
    cores = CoreSet(x=x, y=y, values=values)
    kwargs = {
        "variograms": [_spherical(9.0, 1e-9, 50.0)],
        "mask": np.ones(grid.shape, dtype=bool),
        "fit_variograms": False,
    }
    scaled = stratum_blocks(
        [cores], grid, _thirds(grid), {"a": 1, "b": 2}, stratum_scales=True, **kwargs
    )  # type: ignore[arg-type]
    plain = stratum_blocks([cores], grid, _thirds(grid), {"a": 1, "b": 2}, **kwargs)  # type: ignore[arg-type]
    assert MIN_SCALE_DOF == 4
    assert scaled.scales == pytest.approx([1.0, math.sqrt(2.091528)], rel=1e-5)
    assert scaled.mean_mg_ha[0] == pytest.approx([12.0, 65.0], abs=1e-6)
    assert np.diag(scaled.covariance) == pytest.approx([3.0, 3.137292], rel=1e-5)
    assert np.diag(plain.covariance) == pytest.approx([3.0, 1.5], rel=1e-6)
    assert plain.scales == (1.0, 1.0)
    assert scaled.to_dict()["strata"]["b"]["residual_scale"] == pytest.approx(1.446212, rel=1e-5)


def test_stratum_scales_keep_each_stratums_coverage_when_the_variances_differ() -> None:
    # Three strata (thirds of a 30 × 30 grid of 10 m cells) whose residual fields are
    # σ_s × U, σ = 1, 4, 12, U with a unit spherical variogram (nugget 0.3, partial sill
    # 0.7, range 150 m); 15 cores per stratum at random cells. The truth is each stratum's
    # area mean. One pooled variogram (sill ≈ mean σ² ≈ 54) makes the first stratum's
    # interval ~6 × too wide and the third's ~1.7 × too narrow; with the strata's own
    # scales each covers the truth in 85–96 % of 300 fields (90 % ± 2.9 binomial SD, a
    # little wider for the fitted variograms).
    rng = np.random.default_rng(5)
    grid, strata_map, cells, shape = _lattice(150.0)
    codes = strata_map.ravel()
    structured = 0.7 * shape
    lower = np.linalg.cholesky(structured + 1e-6 * np.eye(cells.shape[0]))
    sigma = np.array([1.0, 4.0, 12.0])[codes - 1]
    mu = np.array([40.0, 60.0, 80.0])[codes - 1]
    area = grid.cell_area_ha.ravel()
    inside = {True: np.zeros((300, 3), dtype=bool), False: np.zeros((300, 3), dtype=bool)}
    for r in range(300):
        u = lower @ rng.standard_normal(cells.shape[0]) + math.sqrt(0.3) * rng.standard_normal(
            cells.shape[0]
        )
        z = mu + sigma * u
        truth = np.array([float((z * area)[codes == k].sum()) for k in (1, 2, 3)])
        picked = np.concatenate(
            [rng.choice(np.flatnonzero(codes == k), size=15, replace=False) for k in (1, 2, 3)]
        )
        for scaled in (True, False):
            result = stratum_blocks(
                [CoreSet(x=cells[picked, 0], y=cells[picked, 1], values=z[picked])],
                grid,
                strata_map,
                {"a": 1, "b": 2, "c": 3},
                variograms=[_spherical(20.0, 30.0, 150.0)],
                mask=np.ones(grid.shape, dtype=bool),
                stratum_scales=scaled,
            )
            se = np.sqrt(np.diag(result.total_covariance_t_c))
            inside[scaled][r] = np.abs(result.total_t_c[0] - truth) <= 1.645 * se
    with_scales = inside[True].mean(axis=0)
    pooled = inside[False].mean(axis=0)
    assert np.all((with_scales >= 0.85) & (with_scales <= 0.96)), with_scales
    assert pooled[0] > 0.99 and pooled[2] < 0.8, pooled
