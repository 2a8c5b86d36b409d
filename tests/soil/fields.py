"""Small grids and variograms near Junshan for the kriging tests."""

from __future__ import annotations

from carbonsink.grid import Grid
from carbonsink.spatial.variogram import VariogramModel

CRS = "EPSG:32649"
# Grids sit near Junshan (UTM 49N, ~200 km east of the central meridian), where
# the true cell area differs from the plane area by < 0.1 % and by < 1e-8
# between neighbouring cells, so the area weights of a few cells are equal.
X0, Y0 = 700_000.0, 3_254_000.0


def small_grid(cols: int, rows: int, res: float = 10.0) -> Grid:
    """A ``rows`` × ``cols`` grid of ``res`` m cells with its lower-left corner at (X0, Y0)."""
    return Grid.from_bounds((X0, Y0, X0 + cols * res, Y0 + rows * res), crs=CRS, resolution=res)


def spherical(c0: float, c1: float, a: float) -> VariogramModel:
    """A spherical variogram: nugget c0, partial sill c1, range a (m)."""
    return VariogramModel(model="spherical", nugget=c0, psill=c1, range_m=a)
