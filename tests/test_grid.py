"""Tests for carbonsink.grid: snapping, the CRS check, cell areas, masks, tiles, xarray."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from scipy import ndimage
from shapely.geometry import Polygon, box

from carbonsink.errors import CRSError, GridError
from carbonsink.grid import Grid, Tile

UTM49N = CRS.from_epsg(32649)  # WGS 84 / UTM zone 49N (Dongting Lake area, 108-114°E)
X0, Y0 = 684_000.0, 3_254_000.0  # ~112.9°E, 29.4°N in UTM 49N


@pytest.fixture
def small_grid() -> Grid:
    """10 m cells over (X0, Y0, X0+100, Y0+50): 10 columns x 5 rows."""
    return Grid.from_bounds((X0, Y0, X0 + 100.0, Y0 + 50.0), crs="EPSG:32649", resolution=10.0)


# ------------------------------------------------------------------ snapping
def test_from_bounds_snaps_outwards_by_hand() -> None:
    # xmin 684003 -> floor(68400.3) x 10 = 684000; xmax 684047 -> ceil(68404.7) x 10 = 684050
    # ymin 3254001 -> 3254000; ymax 3254019.5 -> 3254020.  Width 50/10 = 5, height 20/10 = 2.
    g = Grid.from_bounds(
        (684_003.0, 3_254_001.0, 684_047.0, 3_254_019.5), crs="EPSG:32649", resolution=10.0
    )
    assert g.bounds == (684_000.0, 3_254_000.0, 684_050.0, 3_254_020.0)
    assert g.shape == (2, 5)
    assert (g.height, g.width) == (2, 5)
    assert g.resolution == 10.0
    assert tuple(g.transform)[:6] == (10.0, 0.0, 684_000.0, 0.0, -10.0, 3_254_020.0)


def test_from_bounds_already_snapped_does_not_grow() -> None:
    # Bounds on multiples of 10 m: 100 m x 50 m -> exactly 10 x 5 cells, same bounds.
    bounds = (X0, Y0, X0 + 100.0, Y0 + 50.0)
    g = Grid.from_bounds(bounds, crs="EPSG:32649", resolution=10.0)
    assert g.bounds == bounds
    assert g.shape == (5, 10)
    # 0.5 m cells over 3 m x 1.5 m -> 6 x 3 cells.
    g = Grid.from_bounds((X0, Y0, X0 + 3.0, Y0 + 1.5), crs=UTM49N, resolution=0.5)
    assert g.shape == (3, 6)


def test_from_bounds_tiny_area_gets_one_cell() -> None:
    # A 1 m x 1 m box inside one 10 m cell -> one cell, (684000, 3254000)-(684010, 3254010).
    g = Grid.from_bounds((X0 + 2, Y0 + 2, X0 + 3, Y0 + 3), crs=UTM49N, resolution=10.0)
    assert g.shape == (1, 1)
    assert g.bounds == (X0, Y0, X0 + 10, Y0 + 10)


RESOLUTIONS = [0.1, 0.25, 0.3, 0.5, 1.0, 2.0, 2.5, 3.0, 10.0, 30.0]


@settings(max_examples=300, deadline=None)
@given(
    res=st.sampled_from(RESOLUTIONS),
    xmin=st.floats(-1e7, 1e7, allow_nan=False),
    ymin=st.floats(-1e7, 1e7, allow_nan=False),
    dx=st.floats(0.01, 2000.0),
    dy=st.floats(0.01, 2000.0),
)
def test_from_bounds_property(res: float, xmin: float, ymin: float, dx: float, dy: float) -> None:
    xmax, ymax = xmin + dx, ymin + dy
    g = Grid.from_bounds((xmin, ymin, xmax, ymax), crs=UTM49N, resolution=res)
    gx0, gy0, gx1, gy1 = g.bounds
    tol = 1e-6 * res  # the documented snapping tolerance, 1e-6 cells
    # Every edge is a multiple of the resolution.
    for v in g.bounds:
        assert abs(v / res - round(v / res)) < 1e-6
    # The grid covers the input bounds ...
    assert gx0 <= xmin + tol and gy0 <= ymin + tol
    assert gx1 >= xmax - tol and gy1 >= ymax - tol
    # ... and is the smallest such grid: no edge is a whole cell beyond the input.
    assert gx0 > xmin - res and gy0 > ymin - res
    assert gx1 < xmax + res and gy1 < ymax + res
    # Shape arithmetic: extent / resolution.
    assert g.width == round((gx1 - gx0) / res)
    assert g.height == round((gy1 - gy0) / res)
    # Snapping is idempotent: already-snapped bounds do not grow.
    again = Grid.from_bounds(g.bounds, crs=UTM49N, resolution=res)
    assert again == g
    assert again.shape == g.shape


@pytest.mark.parametrize(
    "bounds",
    [(0.0, 0.0, 0.0, 10.0), (10.0, 0.0, 0.0, 10.0), (0.0, 0.0, math.nan, 10.0)],
)
def test_from_bounds_refuses_empty_bounds(bounds: tuple[float, float, float, float]) -> None:
    with pytest.raises(GridError, match="do not enclose an area"):
        Grid.from_bounds(bounds, crs=UTM49N, resolution=10.0)


@pytest.mark.parametrize("res", [0.0, -10.0, math.inf, math.nan])
def test_from_bounds_refuses_bad_resolution(res: float) -> None:
    with pytest.raises(GridError, match="resolution") as info:
        Grid.from_bounds((X0, Y0, X0 + 100, Y0 + 100), crs=UTM49N, resolution=res)
    assert info.value.problem.fix


def test_from_boundary() -> None:
    poly = Polygon([(X0 + 3, Y0 + 1), (X0 + 47, Y0 + 1), (X0 + 25, Y0 + 19.5)])
    # Polygon bounds (684003, 3254001, 684047, 3254019.5) -> as in the by-hand test.
    g = Grid.from_boundary(poly, crs="EPSG:32649", resolution=10.0)
    assert g.bounds == (684_000.0, 3_254_000.0, 684_050.0, 3_254_020.0)
    with pytest.raises(GridError, match="empty"):
        Grid.from_boundary(Polygon(), crs=UTM49N, resolution=10.0)


def test_constructor_refuses_bad_transform_and_shape() -> None:
    with pytest.raises(GridError, match="north-up"):
        Grid(crs=UTM49N, transform=Affine(10, 0, X0, 0, 10, Y0), width=2, height=2)
    with pytest.raises(GridError, match="north-up"):  # rectangular cells
        Grid(crs=UTM49N, transform=Affine(10, 0, X0, 0, -5, Y0), width=2, height=2)
    with pytest.raises(GridError, match="north-up"):  # rotated
        Grid(crs=UTM49N, transform=Affine(10, 1, X0, 0, -10, Y0), width=2, height=2)
    with pytest.raises(GridError, match="0 x 3 cells"):
        Grid(crs=UTM49N, transform=Affine(10, 0, X0, 0, -10, Y0), width=3, height=0)


# ----------------------------------------------------------------------- CRS
def test_geographic_crs_refused_by_grid() -> None:
    with pytest.raises(CRSError, match="geographic"):
        Grid.from_bounds((112.0, 29.0, 113.0, 30.0), crs="EPSG:4326", resolution=0.0001)


# ----------------------------------------------------------------- cell areas
def test_nominal_cell_area() -> None:
    # 10 m x 10 m = 100 m² = 0.01 ha; 30 m x 30 m = 900 m² = 0.09 ha.
    g = Grid.from_bounds((X0, Y0, X0 + 100, Y0 + 100), crs=UTM49N, resolution=10.0)
    assert g.nominal_cell_area_ha == pytest.approx(0.01)
    g = Grid.from_bounds((X0, Y0, X0 + 90, Y0 + 90), crs=UTM49N, resolution=30.0)
    assert g.nominal_cell_area_ha == pytest.approx(0.09)


def _geodesic_cell_area_ha(grid: Grid, row: int, col: int, geod: Geod, tr: Transformer) -> float:
    """True area of one cell: its 4 corners to lon/lat, then the WGS 84 ellipsoid area."""
    t = grid.transform
    xs = [t.c + t.a * c for c in (col, col + 1, col + 1, col)]
    ys = [t.f + t.e * r for r in (row, row, row + 1, row + 1)]
    lon, lat = tr.transform(xs, ys)
    area_m2, _ = geod.polygon_area_perimeter(lon, lat)
    return abs(area_m2) / 10_000.0


def test_cell_area_matches_ellipsoidal_area() -> None:
    # 30 m cells across 300 km of UTM 49N near 29.4°N, from 20 km west of the
    # central meridian (x = 480 km, scale ~0.9996) to 280 km east (scale ~1.0006):
    # the true area departs from the nominal 0.09 ha by up to ~0.1 %.
    res = 30.0
    # 3,253,980 = 108,466 x 30, so these bounds are already on multiples of 30 m:
    # 300,000 / 30 = 10,000 columns, 1,500 / 30 = 50 rows.
    y0 = 3_253_980.0
    g = Grid.from_bounds((480_000.0, y0, 780_000.0, y0 + 1500.0), crs=UTM49N, resolution=res)
    assert g.shape == (50, 10_000)
    area = g.cell_area_ha
    assert area.shape == g.shape
    geod = Geod(ellps="WGS84")
    tr = Transformer.from_crs(UTM49N, "EPSG:4326", always_xy=True)
    # Lattice nodes and cells between them (the lattice is 33 x 33 nodes).
    cells = [(0, 0), (0, 9999), (49, 0), (49, 9999), (23, 17), (11, 700), (37, 5001), (5, 8765)]
    for r, c in cells:
        expected = _geodesic_cell_area_ha(g, r, c, geod, tr)
        assert area[r, c] == pytest.approx(expected, rel=1e-6), (r, c)
    # Discriminating: near the central meridian (k0 = 0.9996) true area is larger than
    # nominal by 1/0.9996² - 1 ≈ 0.08 %; 280 km east it is smaller.
    assert area[0, 700] > 0.09 * 1.0007  # x ≈ 501 km, ~1 km from the meridian
    assert area[0, 9999] < 0.09 * 0.9995
    # Totals: the sum of true areas is what totals use, not n x nominal.
    assert area.sum() != pytest.approx(g.nominal_cell_area_ha * area.size, rel=1e-4)


def test_cell_area_accurate_on_a_zone_wide_grid() -> None:
    # 100 m cells over 600 km (x = 200-800 km, the usable width of a UTM zone).
    # The areal scale is ~quadratic in x with curvature ~2/R² ≈ 4.9e-14 m⁻²; a lattice
    # of 33 nodes (18.75 km apart) would err by (18750²/8) x 4.9e-14 ≈ 2.2e-6 between
    # nodes, a lattice at most 2 km apart by ≤ 2.5e-8. Check every 7th column at 1e-7.
    y0 = 3_254_000.0  # a multiple of 100 m
    g = Grid.from_bounds((200_000.0, y0, 800_000.0, y0 + 300.0), crs=UTM49N, resolution=100.0)
    assert g.shape == (3, 6000)
    geod = Geod(ellps="WGS84")
    tr = Transformer.from_crs(UTM49N, "EPSG:4326", always_xy=True)
    area = g.cell_area_ha
    for c in range(0, 6000, 7):
        expected = _geodesic_cell_area_ha(g, 1, c, geod, tr)
        assert area[1, c] == pytest.approx(expected, rel=1e-7), c


def test_cell_area_tiny_grid() -> None:
    g = Grid.from_bounds((X0, Y0, X0 + 10, Y0 + 10), crs=UTM49N, resolution=10.0)
    geod = Geod(ellps="WGS84")
    tr = Transformer.from_crs(UTM49N, "EPSG:4326", always_xy=True)
    assert g.cell_area_ha.shape == (1, 1)
    assert g.cell_area_ha[0, 0] == pytest.approx(
        _geodesic_cell_area_ha(g, 0, 0, geod, tr), rel=1e-6
    )


# ----------------------------------------------------- mask, index, coordinates
def test_boundary_mask_rectangle(small_grid: Grid) -> None:
    # Grid: 10 cols x 5 rows of 10 m; centres x = X0 + 5, 15, ..., 95 and
    # y = Y0 + 45 (row 0), 35, 25, 15, 5 (row 4).
    # Box x in (X0+15, X0+58), y in (Y0+12, Y0+37):
    #   centres inside: x offsets 25, 35, 45, 55 -> cols 2..5; y offsets 35, 25, 15 -> rows 1..3
    #   -> 4 x 3 = 12 cells.
    poly = box(X0 + 15, Y0 + 12, X0 + 58, Y0 + 37)
    mask = small_grid.boundary_mask(poly)
    expected = np.zeros((5, 10), dtype=bool)
    expected[1:4, 2:6] = True
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.bool_
    # all_touched: x 15..58 touches cols 1..5, y 12..37 rows 1..3 -> 5 x 3 = 15 cells.
    touched = small_grid.boundary_mask(poly, all_touched=True)
    expected[1:4, 1:6] = True
    np.testing.assert_array_equal(touched, expected)


def test_boundary_mask_triangle(small_grid: Grid) -> None:
    # Triangle (X0, Y0), (X0+100, Y0), (X0, Y0+50): a centre at offsets (xo, yo) is inside
    # when xo/100 + yo/50 < 1, i.e. xo < 100 (1 - yo/50):
    #   yo = 5 -> xo < 90: 9 cells; 15 -> < 70: 7; 25 -> < 50: 5; 35 -> < 30: 3; 45 -> < 10: 1
    #   -> 25 cells, with 9 in the bottom row (row 4) and 1 in the top row.
    tri = Polygon([(X0, Y0), (X0 + 100, Y0), (X0, Y0 + 50)])
    mask = small_grid.boundary_mask(tri)
    assert int(mask.sum()) == 25
    assert mask.sum(axis=1).tolist() == [1, 3, 5, 7, 9]
    assert mask[4, :9].all() and not mask[4, 9]


def test_boundary_mask_empty(small_grid: Grid) -> None:
    mask = small_grid.boundary_mask(Polygon())
    assert mask.shape == (5, 10) and not mask.any()


def test_x_y_cell_centres(small_grid: Grid) -> None:
    np.testing.assert_array_equal(small_grid.x, X0 + 5.0 + 10.0 * np.arange(10))
    np.testing.assert_array_equal(small_grid.y, Y0 + 45.0 - 10.0 * np.arange(5))


def test_index_and_contains(small_grid: Grid) -> None:
    # (X0+25, Y0+35): col = floor(25/10) = 2, row = floor((50-35)/10) = 1.
    # (X0, Y0+50) is the upper-left corner: row 0, col 0 (edges belong to the cell east/south).
    # (X0+100, Y0): col 10, row 5 -> just outside. (X0-1, Y0+1): col -1.
    xs = np.array([X0 + 25, X0, X0 + 99.9, X0 + 100, X0 - 1, X0 + 5])
    ys = np.array([Y0 + 35, Y0 + 50, Y0 + 0.1, Y0, Y0 + 1, Y0 + 50.5])
    row, col = small_grid.index(xs, ys)
    assert row.tolist() == [1, 0, 4, 5, 4, -1]
    assert col.tolist() == [2, 0, 9, 10, -1, 0]
    assert small_grid.contains(xs, ys).tolist() == [True, True, True, False, False, False]
    # Cell centres map to their own cell.
    gx, gy = np.meshgrid(small_grid.x, small_grid.y)
    r, c = small_grid.index(gx, gy)
    np.testing.assert_array_equal(r, np.repeat(np.arange(5)[:, None], 10, axis=1))
    np.testing.assert_array_equal(c, np.repeat(np.arange(10)[None, :], 5, axis=0))


# -------------------------------------------------------------------- xarray
def test_dataarray_units_crs_and_coords(small_grid: Grid) -> None:
    values = np.arange(50, dtype=np.float32).reshape(5, 10)
    da = small_grid.dataarray(values, name="agb", units="Mg DM/ha", long_name="Aboveground biomass")
    assert da.dims == ("y", "x")
    assert da.name == "agb"
    assert da.attrs["units"] == "Mg DM/ha"
    assert da.attrs["long_name"] == "Aboveground biomass"
    assert da.rio.crs.to_epsg() == 32649
    assert tuple(da.rio.transform())[:6] == (10.0, 0.0, X0, 0.0, -10.0, Y0 + 50)
    np.testing.assert_array_equal(da["x"].values, small_grid.x)
    np.testing.assert_array_equal(da["y"].values, small_grid.y)
    assert da["x"].attrs["units"] == "m"
    np.testing.assert_array_equal(da.values, values)


def test_dataarray_wraps_the_array_without_a_copy(small_grid: Grid) -> None:
    # A regional survey's 1 m DTM is 1.2 GB: rioxarray's default write_crs/write_transform
    # each made a copy of it.
    values = np.zeros(small_grid.shape, dtype=np.float32)
    da = small_grid.dataarray(values, name="dtm", units="m", long_name="terrain")
    assert np.shares_memory(da.values, values)
    assert da.rio.crs.to_epsg() == 32649


def test_dataarray_shape_mismatch(small_grid: Grid) -> None:
    with pytest.raises(GridError, match=r"shape \(10, 5\), the grid is \(5, 10\)"):
        small_grid.dataarray(np.zeros((10, 5)), name="a", units="1", long_name="a")


def test_dataset_and_from_xarray_round_trip(small_grid: Grid) -> None:
    ds = small_grid.dataset(attrs={"epoch": "2024"})
    assert ds.attrs["epoch"] == "2024"
    assert ds.rio.crs.to_epsg() == 32649
    assert Grid.from_xarray(ds) == small_grid
    da = small_grid.dataarray(np.ones((5, 10)), name="a", units="1", long_name="a")
    back = Grid.from_xarray(da)
    assert back == small_grid
    assert back.shape == small_grid.shape
    assert back.bounds == small_grid.bounds


def test_from_xarray_round_trip_keeps_hash() -> None:
    # An awkward resolution; the CRS comes back through rioxarray's WKT, which differs
    # textually from pyproj's EPSG:32649 WKT. Equal grids must hash equal.
    g = Grid.from_bounds((X0 + 0.3, Y0 + 0.3, X0 + 9.9, Y0 + 10.0), crs=UTM49N, resolution=0.3)
    back = Grid.from_xarray(g.dataarray(np.zeros(g.shape), name="a", units="1", long_name="a"))
    assert back == g
    assert hash(back) == hash(g)
    assert len({g, back}) == 1


def test_from_xarray_without_crs() -> None:
    da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), coords={"y": [1.5, 0.5], "x": [0.5, 1.5]})
    with pytest.raises(CRSError, match="no CRS"):
        Grid.from_xarray(da)


def test_window_grid(small_grid: Grid) -> None:
    # Window rows 1..3, cols 2..5: upper-left corner x = X0 + 2*10, y = Y0 + 50 - 1*10.
    sub = small_grid.window_grid((1, 2, 3, 4))
    assert sub.shape == (3, 4)
    assert sub.bounds == (X0 + 20, Y0 + 10, X0 + 60, Y0 + 40)
    np.testing.assert_array_equal(sub.x, small_grid.x[2:6])
    np.testing.assert_array_equal(sub.y, small_grid.y[1:4])
    assert sub.crs == small_grid.crs
    # The whole-grid window is the grid itself.
    assert small_grid.window_grid((0, 0, 5, 10)) == small_grid


def test_tile_grid_and_buffered_bounds(small_grid: Grid) -> None:
    tiles = list(small_grid.tiles(size=4, halo=1))
    t = tiles[1]  # row 0, col 1: core rows 0..3, cols 4..7; halo rows 0..4, cols 3..8
    assert t.core == (0, 4, 4, 4)
    assert t.halo == (0, 3, 5, 6)
    assert small_grid.tile_grid(t, with_halo=False).bounds == (X0 + 40, Y0 + 10, X0 + 80, Y0 + 50)
    assert small_grid.tile_grid(t).bounds == (X0 + 30, Y0, X0 + 90, Y0 + 50)
    assert small_grid.buffered_bounds(5.0) == (X0 - 5, Y0 - 5, X0 + 105, Y0 + 55)


def test_equality_and_hash(small_grid: Grid) -> None:
    same = Grid.from_bounds((X0, Y0, X0 + 100.0, Y0 + 50.0), crs=UTM49N, resolution=10.0)
    assert same == small_grid and hash(same) == hash(small_grid)
    other_res = Grid.from_bounds((X0, Y0, X0 + 100.0, Y0 + 50.0), crs=UTM49N, resolution=5.0)
    other_crs = Grid.from_bounds((X0, Y0, X0 + 100.0, Y0 + 50.0), crs="EPSG:32650", resolution=10)
    shifted = Grid.from_bounds((X0 + 10, Y0, X0 + 110, Y0 + 50), crs=UTM49N, resolution=10.0)
    assert small_grid != other_res
    assert small_grid != other_crs
    assert small_grid != shifted
    assert small_grid != "not a grid"
    assert len({small_grid, same, other_res, other_crs, shifted}) == 4
    assert "EPSG:32649" in repr(small_grid) and "5 x 10 cells" in repr(small_grid)


# --------------------------------------------------------------------- tiles
def _make_grid(height: int, width: int) -> Grid:
    return Grid(
        crs=UTM49N,
        transform=Affine(10.0, 0.0, X0, 0.0, -10.0, Y0 + 10.0 * height),
        width=width,
        height=height,
    )


@settings(max_examples=150, deadline=None)
@given(
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    size=st.integers(1, 30),
    halo=st.integers(0, 12),
    data=st.data(),
)
def test_tiles_partition_and_crop_property(
    height: int, width: int, size: int, halo: int, data: st.DataObject
) -> None:
    grid = _make_grid(height, width)
    radius = data.draw(st.integers(0, halo), label="filter radius <= halo")
    rng = np.random.default_rng(height * 1000 + width)
    ref = rng.integers(0, 100, size=(height, width))
    # A neighbourhood operation of radius <= halo, computed once on the full grid:
    # a (2r+1)² moving sum with zeros beyond the grid edge (exact integer arithmetic).
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.int64)
    full = ndimage.correlate(ref, kernel, mode="constant", cval=0)

    tiles = list(grid.tiles(size=size, halo=halo))
    count = np.zeros((height, width), dtype=np.int64)
    merged = np.full((height, width), -1, dtype=np.int64)
    for t in tiles:
        count[t.core_slices] += 1
        hr, hc, hh, hw = t.halo
        cr, cc, ch, cw = t.core
        # Halo never exceeds the grid, contains the core, and is exactly `halo`
        # cells wider on each side unless clipped by the grid edge.
        assert hr >= 0 and hc >= 0 and hr + hh <= height and hc + hw <= width
        assert hr == max(0, cr - halo) and hc == max(0, cc - halo)
        assert hr + hh == min(height, cr + ch + halo)
        assert hc + hw == min(width, cc + cw + halo)
        assert 1 <= ch <= size and 1 <= cw <= size
        # Cropping an array on the halo window gives back the core region.
        halo_array = ref[t.halo_slices]
        np.testing.assert_array_equal(halo_array[t.crop], ref[t.core_slices])
        # The same neighbourhood op run on the halo window only, then cropped,
        # equals the full-grid result: tiles merge without seams.
        tile_result = ndimage.correlate(halo_array, kernel, mode="constant", cval=0)
        merged[t.core_slices] = tile_result[t.crop]
    # Every cell covered exactly once.
    np.testing.assert_array_equal(count, np.ones((height, width), dtype=np.int64))
    np.testing.assert_array_equal(merged, full)
    # Number of tiles: ceil(h/size) x ceil(w/size).
    assert len(tiles) == math.ceil(height / size) * math.ceil(width / size)
    # Ids unique, deterministic, row-major, and independent of the halo.
    ids = [t.id for t in tiles]
    assert len(set(ids)) == len(ids)
    assert ids == [t.id for t in grid.tiles(size=size, halo=halo)]
    assert ids == [t.id for t in grid.tiles(size=size, halo=0)]
    assert all(t.id == f"r{t.row:04d}c{t.col:04d}" for t in tiles)
    assert [(t.row, t.col) for t in tiles] == sorted((t.row, t.col) for t in tiles)


def test_tiles_by_hand() -> None:
    # 5 rows x 7 cols, size 3, halo 1: row starts 0, 3; col starts 0, 3, 6.
    grid = _make_grid(5, 7)
    tiles = list(grid.tiles(size=3, halo=1))
    assert [t.id for t in tiles] == [
        "r0000c0000", "r0000c0001", "r0000c0002",
        "r0001c0000", "r0001c0001", "r0001c0002",
    ]  # fmt: skip
    last = tiles[-1]
    # Core rows 3..4, col 6 (2 x 1); halo rows 2..4 (clipped at the bottom), cols 5..6.
    assert last.core == (3, 6, 2, 1)
    assert last.halo == (2, 5, 3, 2)
    assert last.crop == (slice(1, 3), slice(1, 2))
    assert last == Tile("r0001c0002", 1, 2, (3, 6, 2, 1), (2, 5, 3, 2))


@pytest.mark.parametrize(("size", "halo"), [(0, 0), (-1, 2), (4, -1)])
def test_tiles_refuse_bad_arguments(size: int, halo: int) -> None:
    with pytest.raises(GridError, match="not valid"):
        list(_make_grid(4, 4).tiles(size=size, halo=halo))
