"""Tests of carbonsink.soil.local_kriging: the local ordinary-kriging engine.

Expected values are worked by hand in the comments or come from an
independent implementation (pykrige's OrdinaryKriging).
"""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.errors import ModelError
from carbonsink.grid import Grid
from carbonsink.soil import local_kriging
from carbonsink.soil.soc_map import predict_soc
from carbonsink.spatial.variogram import VariogramModel

X0, Y0 = 700_000.0, 3_254_000.0
CRS = "EPSG:32649"


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
    monkeypatch.setattr(local_kriging, "_SETS_PER_BATCH", 2)
    batched = predict_soc(x, y, z, grid, method="ordinary-kriging", n_neighbours=6)
    for name in whole.data_vars:
        np.testing.assert_allclose(small[name].values, whole[name].values, rtol=1e-6)
        np.testing.assert_allclose(batched[name].values, whole[name].values, rtol=1e-6)


def test_two_point_kriging_by_hand() -> None:
    # Points at x = 0 and 60 m with values 40 and 60; spherical, nugget 0, c₁ 10,
    # a 100 m. At x = 30 (30 m from both): γ(30) = 10 (0.45 − 0.5·0.027) = 4.365,
    # γ(60) = 10 (0.9 − 0.5·0.216) = 7.92; by symmetry λ = ½, ½, so ẑ = 50 and
    # μ = γ(30) − ½ γ(60) = 0.405, σ² = ½·4.365 + ½·4.365 + 0.405 = 4.77.
    # At x = 0 (a point, zero nugget): ẑ = 40, σ² = 0.
    engine = local_kriging.LocalOrdinaryKriging(
        np.array([X0, X0 + 60.0]),
        np.array([Y0, Y0]),
        np.array([40.0, 60.0]),
        VariogramModel(model="spherical", nugget=0.0, psill=10.0, range_m=100.0),
        noise_var=np.zeros(2),
        n_neighbours=5,
    )
    assert engine.k == 2  # at most the number of points
    prediction, variance = engine.predict(
        np.array([X0 + 30.0, X0]), np.array([Y0, Y0]), point_support=True
    )
    np.testing.assert_allclose(prediction, [50.0, 40.0], rtol=1e-9)
    np.testing.assert_allclose(variance, [4.77, 0.0], rtol=1e-9, atol=1e-9)
    empty = engine.predict(np.empty(0), np.empty(0), point_support=True)
    assert [a.size for a in empty] == [0, 0]


def test_a_singular_system_is_a_model_error() -> None:
    # Two points at one location (which check_core_stocks refuses before kriging)
    # and no nugget: two identical rows [C(0), C(0), C(50), 1] make the OK matrix
    # singular.
    engine = local_kriging.LocalOrdinaryKriging(
        np.array([X0, X0, X0 + 50.0]),
        np.array([Y0, Y0, Y0]),
        np.array([40.0, 41.0, 60.0]),
        VariogramModel(model="spherical", nugget=0.0, psill=10.0, range_m=100.0),
        noise_var=np.zeros(3),
        n_neighbours=3,
    )
    with pytest.raises(ModelError, match="singular or ill-conditioned"):
        engine.predict(np.array([X0 + 20.0]), np.array([Y0]), point_support=True)
