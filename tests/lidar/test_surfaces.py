"""Tests for carbonsink.lidar.surfaces: DTM, heights above ground, CHM, slope."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.lidar.surfaces import (
    PointSamples,
    Raster,
    canopy_height_model,
    height_above_ground,
    slope_degrees,
    terrain_model,
)

SX, SY = 0.05, -0.03  # plane slopes (rise over run)


def _plane(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 30.0 + SX * (x - 1000.0) + SY * (y - 2000.0)


def _cell_centres(r: Raster) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = r.shape
    cx = r.x0 + (np.arange(cols) + 0.5) * r.cell
    cy = r.y1 - (np.arange(rows) + 0.5) * r.cell
    return np.meshgrid(cx, cy)


BOUNDS = (1000.0, 2000.0, 1040.0, 2030.0)  # 40 × 30 cells of 1 m


def test_terrain_model_on_a_plane_is_within_the_documented_bias() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(1000, 1040, 8000)
    y = rng.uniform(2000, 2030, 8000)
    dtm, filled = terrain_model(x, y, _plane(x, y), bounds=BOUNDS, cell=1.0)
    assert dtm.shape == (30, 40) and dtm.x0 == 1000.0 and dtm.y1 == 2030.0
    gx, gy = _cell_centres(dtm)
    # Docstring: a cell's value is the plane at its points' centroid, within
    # slope × cell/2 of the centre value. The gradient magnitude is hypot(0.05, 0.03);
    # the centroid is within cell/2 in each axis, so |error| ≤ (|sx| + |sy|)·cell/2.
    bound = (abs(SX) + abs(SY)) * 0.5
    assert np.abs(dtm.values - _plane(gx, gy)).max() <= bound + 1e-9
    # Cells with points are not flagged as filled (≈ 6.7 points per cell: P(empty)
    # = e^-6.7 ≈ 0.1 %, so at most a couple).
    assert filled.sum() <= 5


def test_terrain_model_fills_gaps_with_the_membrane_and_flags_them() -> None:
    # One point exactly at each cell centre (so a cell's mean is the plane at its
    # centre, exactly); a 7 × 5 hole and a single-cell hole of empty cells inside.
    gx, gy = np.meshgrid(np.arange(1000.5, 1040), np.arange(2029.5, 2000, -1.0))
    hole = (gx > 1010) & (gx < 1018) & (gy > 2010) & (gy < 2016)
    single = (gx == 1030.5) & (gy == 2020.5)
    x, y = gx[~(hole | single)], gy[~(hole | single)]
    dtm, filled = terrain_model(x, y, _plane(x, y), bounds=BOUNDS, cell=1.0)
    np.testing.assert_array_equal(filled, hole | single)
    truth = _plane(gx, gy)
    # Known cells are untouched.
    np.testing.assert_allclose(dtm.values[~filled], truth[~filled], rtol=0, atol=1e-9)
    # A single hole: the mean of its four neighbours on a plane is the plane itself.
    np.testing.assert_allclose(dtm.values[single], truth[single], rtol=0, atol=1e-9)
    # The 7 x 5 hole starts from the nearest known value, at most 3 cells away
    # (half of 5 rounded up), so its error is at most |grad| x 3 m; Jacobi sweeps
    # average neighbours and the plane is their fixed point, so by the maximum
    # principle the error never grows beyond that bound, and it shrinks.
    bound = math.hypot(SX, SY) * 3.0
    error = np.abs(dtm.values[hole] - truth[hole])
    assert error.max() <= bound
    assert error.mean() < 0.5 * bound


def test_terrain_model_leaves_cells_outside_support_nan() -> None:
    gx, gy = np.meshgrid(np.arange(1000.5, 1040), np.arange(2029.5, 2000, -1.0))
    keep = gx < 1020  # points only in the western half
    support = np.zeros((30, 40), dtype=bool)
    support[:, :25] = True  # LiDAR covers 5 empty columns beyond the points
    x, y = gx[keep], gy[keep]
    dtm, filled = terrain_model(x, y, _plane(x, y), bounds=BOUNDS, cell=1.0, support=support)
    assert np.isnan(dtm.values[:, 25:]).all()
    assert not filled[:, 25:].any()
    assert filled[:, 20:25].all() and not filled[:, :20].any()
    # Beyond the points' convex hull the fill is the nearest value (docstring).
    assert np.isfinite(dtm.values[:, :25]).all()


def test_terrain_model_without_ground_points() -> None:
    empty = np.zeros(0)
    dtm, filled = terrain_model(empty, empty, empty, bounds=BOUNDS, cell=1.0)
    # No ground: no terrain anywhere, and nothing was filled (there is nothing to fill from).
    assert not filled.any() and np.isnan(dtm.values).all()


def test_height_above_ground_is_z_minus_the_plane() -> None:
    gx, gy = np.meshgrid(np.arange(1000.5, 1040), np.arange(2029.5, 2000, -1.0))
    dtm, _ = terrain_model(gx.ravel(), gy.ravel(), _plane(gx, gy).ravel(), bounds=BOUNDS)
    rng = np.random.default_rng(1)
    # Between the outer cell centres bilinear interpolation of a plane is the plane.
    x = rng.uniform(1000.5, 1039.5, 500)
    y = rng.uniform(2000.5, 2029.5, 500)
    h = rng.uniform(0, 20, 500)
    np.testing.assert_allclose(
        height_above_ground(x, y, _plane(x, y) + h, dtm), h, rtol=0, atol=1e-9
    )


def test_canopy_height_model_binned_maximum_by_hand() -> None:
    # 2 × 2 cells of 1 m over (0, 0)–(2, 2); row 0 is the northern row (y 1–2).
    x = np.array([0.2, 0.7, 1.5, 0.5, 1.2, 1.9, 1.1])
    y = np.array([1.5, 1.8, 1.5, 0.5, 0.2, 0.9, 0.4])
    h = np.array([3.0, 5.0, 2.0, 1.0, -0.4, -0.2, -0.1])
    chm = canopy_height_model(x, y, h, bounds=(0.0, 0.0, 2.0, 2.0), cell=1.0)
    # NW: max(3, 5) = 5; NE: 2; SW: 1; SE: max(-0.4, -0.2, -0.1) = -0.1 → clipped to 0.
    np.testing.assert_array_equal(chm.values, [[5.0, 2.0], [1.0, 0.0]])


def test_canopy_height_model_empty_cells_are_nan_and_pits_are_filled() -> None:
    # 5 × 5 cells of 1 m: 10 m canopy everywhere, one pit (2 m) in the middle and one
    # empty cell in the corner.
    gx, gy = np.meshgrid(np.arange(0.5, 5), np.arange(4.5, 0, -1.0))
    h = np.full(gx.shape, 10.0)
    h[2, 2] = 2.0
    keep = np.ones(gx.shape, bool)
    keep[4, 4] = False
    x, y, hh = gx[keep], gy[keep], h[keep]
    plain = canopy_height_model(x, y, hh, bounds=(0, 0, 5, 5), cell=1.0)
    assert plain.values[2, 2] == 2.0 and np.isnan(plain.values[4, 4])
    smooth = canopy_height_model(x, y, hh, bounds=(0, 0, 5, 5), cell=1.0, pit_free=True)
    # The pit's 3×3 median is 10 (8 of 9 cells are 10) and 10 − 2 > pit_depth 1.
    assert smooth.values[2, 2] == 10.0
    # The empty corner takes the median of its (edge-padded) neighbourhood, all 10.
    assert smooth.values[4, 4] == 10.0
    # Cells that are not pits do not change.
    unchanged = np.ones((5, 5), bool)
    unchanged[2, 2] = unchanged[4, 4] = False
    np.testing.assert_array_equal(smooth.values[unchanged], plain.values[unchanged])


def test_slope_degrees_of_a_plane() -> None:
    gx, gy = np.meshgrid(np.arange(1000.5, 1040), np.arange(2029.5, 2000, -1.0))
    dtm = Raster(_plane(gx, gy), 1000.0, 2030.0, 1.0)
    # Central differences are exact on a plane: atan(hypot(0.05, 0.03)) = 3.337°.
    expected = math.degrees(math.atan(math.hypot(SX, SY)))
    assert expected == pytest.approx(3.337, abs=1e-3)
    np.testing.assert_allclose(slope_degrees(dtm), expected, rtol=1e-9)


def test_raster_cell_index_and_sample() -> None:
    r = Raster(np.array([[0.0, 10.0], [20.0, 30.0]]), 100.0, 200.0, 2.0)
    row, col = r.cell_index(np.array([100.0, 103.9, 99.0]), np.array([200.0, 196.1, 201.0]))
    np.testing.assert_array_equal(row, [0, 1, -1])
    np.testing.assert_array_equal(col, [0, 1, -1])
    # Centre of the 4 cell centres (x 102, y 198): mean of the values = 15.
    assert r.sample(np.array([102.0]), np.array([198.0]))[0] == pytest.approx(15.0)


def test_point_samples_by_hand() -> None:
    # The raster of test_raster_cell_index_and_sample (cells of 2 m from x 100, y 200).
    r = Raster(np.array([[0.0, 10.0], [20.0, 30.0]]), 100.0, 200.0, 2.0)
    x = np.array([102.0, 101.5, 104.0, 104.1, 99.0])
    y = np.array([198.0, 199.0, 196.0, 198.0, 198.0])
    samples = PointSamples(x, y, x0=r.x0, y1=r.y1, cell=r.cell, shape=r.shape)
    # Placed as two one-row blocks, the lower row first.
    samples.take(r.values[1:], row_off=1, col_off=0)
    samples.take(r.values[:1], row_off=0, col_off=0)
    got = samples.values()
    # (102, 198): the four centres' mean, 15. (101.5, 199): row 0 (200 − 199)/2 − 0.5 = 0,
    # col 0.25: 0 × 0.75 + 10 × 0.25 = 2.5. (104, 196): the outer edge of cell (1, 1), clamped to
    # its centre: 30. (104.1, 198) is 0.05 cell beyond the edge and (99, 198) 0.5 cell before
    # it: off the raster.
    np.testing.assert_array_equal(got[:3], [15.0, 2.5, 30.0])
    assert np.isnan(got[3:]).all()


def test_point_samples_from_blocks_equal_sampling_the_whole_raster() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(30.0, 2.0, size=(37, 53)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan  # gaps: their neighbours' points are NaN
    r = Raster(values, 500.0, 900.0, 1.0)
    # Points everywhere, many on block edges and some off the raster.
    x = np.concatenate([rng.uniform(499.0, 554.0, 400), 500.0 + np.arange(0, 54, 9.5)])
    y = np.concatenate([rng.uniform(862.0, 901.0, 400), np.full(6, 900.0 - 12.5)])
    whole = np.full(x.size, np.nan)
    on = (x >= r.x0) & (x <= r.x0 + 53) & (y <= r.y1) & (y >= r.y1 - 37)
    whole[on] = r.sample(x[on], y[on])
    samples = PointSamples(x, y, x0=r.x0, y1=r.y1, cell=r.cell, shape=r.shape)
    for r0 in range(0, 37, 12):  # blocks of 12 × 10 cells, in no particular order
        for c0 in range(50, -1, -10):
            samples.take(values[r0 : r0 + 12, c0 : c0 + 10], row_off=r0, col_off=c0)
    np.testing.assert_array_equal(samples.values(), whole)
    assert np.isnan(whole).sum() > np.sum(~on)  # the gaps reached some points


def test_point_samples_of_a_block_never_placed_are_nan() -> None:
    r = Raster(np.ones((4, 4)), 0.0, 4.0, 1.0)
    samples = PointSamples(
        np.array([1.0, 3.0]), np.array([3.0, 1.0]), x0=0.0, y1=4.0, cell=1.0, shape=(4, 4)
    )
    samples.take(r.values[:2, :2], row_off=0, col_off=0)  # the upper-left quarter only
    got = samples.values()
    assert got[0] == 1.0 and np.isnan(got[1])


@pytest.mark.parametrize("shape", [(1, 7), (6, 1), (1, 1), (5, 8)])
def test_point_samples_of_thin_rasters_and_odd_cells(shape: tuple[int, int]) -> None:
    # One row or column (bilinear along the other axis only), one cell, a 0.3 m cell at an
    # origin that is no multiple of it; a block placed twice keeps its last values.
    rng = np.random.default_rng(11)
    r = Raster(rng.normal(size=shape), 1000.17, 2000.41, 0.3)
    h, w = shape
    x = np.concatenate([rng.uniform(r.x0 - 0.1, r.x0 + w * 0.3 + 0.1, 200), [r.x0, r.x0 + w * 0.3]])
    y = np.concatenate([rng.uniform(r.y1 - h * 0.3 - 0.1, r.y1 + 0.1, 200), [r.y1, r.y1 - h * 0.3]])
    samples = PointSamples(x, y, x0=r.x0, y1=r.y1, cell=r.cell, shape=shape)
    samples.take(r.values + 5.0, row_off=0, col_off=0)  # superseded by the next placement
    samples.take(r.values, row_off=0, col_off=0)
    rows = (r.y1 - y) / r.cell - 0.5
    cols = (x - r.x0) / r.cell - 0.5
    on = (rows >= -0.5) & (rows <= h - 0.5) & (cols >= -0.5) & (cols <= w - 0.5)
    expected = np.full(x.size, np.nan)
    expected[on] = r.sample(x[on], y[on])
    np.testing.assert_array_equal(samples.values(), expected)
    assert on.sum() > 50  # 78 of 202 on the single cell


def test_point_samples_refuse_unequal_coordinates() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        PointSamples(np.zeros(3), np.zeros(2), x0=0.0, y1=1.0, cell=1.0, shape=(1, 1))
