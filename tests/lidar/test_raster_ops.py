"""Tests for carbonsink.lidar._raster_ops: binning, inpainting, bilinear sampling, morphology.

Expected values come from brute-force loops, from scipy.ndimage (an independent
implementation of the same operation) or from properties that hold by
construction (a plane is harmonic; an opening is anti-extensive).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from carbonsink.lidar._raster_ops import (
    BLOCK,
    FILL_BLOCK,
    _morph_octagon,
    bilinear_at,
    bilinear_many,
    bin_max,
    bin_mean,
    bin_min,
    fill_nearest,
    inpaint,
    open_disk,
    open_square,
    segment_filter,
    surface_gradient,
    window_cells,
)


# ----------------------------------------------------------------- binning
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bins_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cells = 37
    cell = rng.integers(0, n_cells - 5, 500)  # the last 5 cells (and some others) stay empty
    values = rng.normal(10.0, 3.0, 500)
    lo, hi = bin_min(cell, values, n_cells), bin_max(cell, values, n_cells)
    mean, counts = bin_mean(cell, values, n_cells)
    for k in range(n_cells):
        members = values[cell == k]
        assert counts[k] == members.size
        if members.size == 0:
            assert np.isnan(lo[k]) and np.isnan(hi[k]) and np.isnan(mean[k])
        else:
            assert lo[k] == members.min()
            assert hi[k] == members.max()
            assert mean[k] == pytest.approx(members.mean(), rel=1e-12)
    assert counts.dtype == np.int64


def test_bins_hand_example() -> None:
    # cells 0: {3, 1}; 1: {}; 2: {-2}; 3: {5, 5, 8}
    cell = np.array([0, 0, 2, 3, 3, 3])
    values = np.array([3.0, 1.0, -2.0, 5.0, 5.0, 8.0])
    np.testing.assert_array_equal(bin_min(cell, values, 4), [1.0, np.nan, -2.0, 5.0])
    np.testing.assert_array_equal(bin_max(cell, values, 4), [3.0, np.nan, -2.0, 8.0])
    mean, counts = bin_mean(cell, values, 4)
    np.testing.assert_allclose(mean, [2.0, np.nan, -2.0, 6.0])
    np.testing.assert_array_equal(counts, [2, 0, 1, 3])


# ---------------------------------------------------------------- inpaint
def _plane(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    return 12.0 + 0.35 * rows - 0.2 * cols


REACH, SWEEPS = 6, 4  # the DTM fill's settings (carbonsink.lidar.surfaces)


def test_inpaint_keeps_known_cells_and_fills_only_within_reach() -> None:
    rng = np.random.default_rng(3)
    surface = rng.normal(0.0, 1.0, (41, 27))
    holes = rng.random(surface.shape) < 0.4
    holes[10:25, 5:20] = True  # a 15 x 15 hole: its middle is > 6 cells from data
    surface[holes] = np.nan
    before = surface.copy()
    filled = inpaint(surface, reach=REACH, sweeps=SWEEPS)
    np.testing.assert_array_equal(filled[~holes], surface[~holes])
    distance = ndimage.distance_transform_edt(holes)
    assert np.isfinite(filled[distance <= REACH]).all()
    assert np.isnan(filled[distance > REACH]).all()
    assert (distance > REACH).any()
    np.testing.assert_array_equal(surface, before)  # input not mutated


def test_fill_nearest_copies_the_closest_cell_within_reach() -> None:
    # Row of 7 cells, known at 0 (value 1) and 6 (value 7): cells 1-2 are nearer to
    # cell 0, 4-5 to cell 6, cell 3 is 3 cells from both (tie) — all within reach 3.
    row = np.array([[1.0, np.nan, np.nan, np.nan, np.nan, np.nan, 7.0]])
    out = fill_nearest(row, max_distance=3)
    np.testing.assert_array_equal(out[0, [0, 1, 2, 4, 5, 6]], [1, 1, 1, 7, 7, 7])
    assert out[0, 3] in (1.0, 7.0)
    # Reach 2: the middle cell (3 cells from data) stays NaN.
    assert np.isnan(fill_nearest(row, max_distance=2)[0, 3])
    assert np.isnan(fill_nearest(np.full((2, 2), np.nan))).all()


def test_inpaint_isolated_holes_on_a_plane_are_exact() -> None:
    # An isolated interior hole whose 4 neighbours are known: one Jacobi sweep sets it
    # to the mean of those neighbours, and for a plane a + b·r + c·c that mean is
    # exactly the plane at the hole (the ±1 terms cancel). So the result is the plane
    # up to float rounding: |z| ≤ 30 → a few ulps ≈ 1e-13; we allow 1e-9.
    truth = _plane((30, 40))
    surface = truth.copy()
    holes = np.zeros_like(truth, dtype=bool)
    holes[2:-2:3, 2:-2:3] = True  # every third cell: no two holes touch
    surface[holes] = np.nan
    np.testing.assert_allclose(
        inpaint(surface, reach=REACH, sweeps=SWEEPS), truth, rtol=0, atol=1e-9
    )


def test_inpaint_large_hole_obeys_maximum_principle_and_stays_close_to_a_plane() -> None:
    # The fill starts from the nearest known cell and the Jacobi sweeps average
    # neighbours: every value is a convex combination of known values, so it lies
    # within [min, max] of the known cells (maximum principle). On the plane the
    # start's error is at most |gradient| x the distance to the nearest known cell
    # (≤ 4 cells in an 8 x 8 hole): hypot(0.35, 0.2) x 4 = 1.61; the sweeps are
    # averages of a plane's fixed point, so the error cannot grow, and it shrinks.
    truth = _plane((32, 32))
    surface = truth.copy()
    surface[12:20, 12:20] = np.nan
    filled = inpaint(surface, reach=REACH, sweeps=SWEEPS)
    known = np.isfinite(surface)
    assert filled[~known].min() >= truth[known].min()
    assert filled[~known].max() <= truth[known].max()
    bound = math.hypot(0.35, 0.2) * 4
    start_error = np.abs(fill_nearest(surface) - truth)[~known].mean()
    error = np.abs(filled - truth)[~known]
    assert error.max() <= bound
    assert error.mean() < start_error


def _jacobi_by_hand(start: np.ndarray, known: np.ndarray, sweeps: int) -> np.ndarray:
    """The membrane's sweeps written out cell by cell (the definition inpaint vectorises)."""
    rows, cols = start.shape
    work = start.copy()
    for _ in range(sweeps):
        last = work.copy()
        for r in range(rows):
            for c in range(cols):
                if known[r, c] or not np.isfinite(last[r, c]):
                    continue
                total, count = 0.0, 0
                # Up, down, left, right; beyond the edge the cell itself.
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    value = last[min(max(rr, 0), rows - 1), min(max(cc, 0), cols - 1)]
                    if np.isfinite(value):
                        total, count = total + value, count + 1
                if count:
                    work[r, c] = total / count
    return work


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (12, 17), (2 * FILL_BLOCK + 9, 23)])
def test_inpaint_sweeps_are_jacobi_means_of_the_finite_neighbours(shape: tuple[int, int]) -> None:
    # Every unknown cell within reach takes, in each sweep, the mean of the last sweep's
    # finite 4-neighbours (the same sums in the same order: equal to the bit).
    rng = np.random.default_rng(11)
    surface = rng.normal(50.0, 20.0, shape)
    surface[rng.random(shape) < 0.5] = np.nan
    known = np.isfinite(surface)
    start = fill_nearest(surface, max_distance=2)
    np.testing.assert_array_equal(
        inpaint(surface, reach=2, sweeps=3), _jacobi_by_hand(start, known, 3)
    )


def test_inpaint_all_known_and_no_known() -> None:
    surface = _plane((4, 5))
    out = inpaint(surface, reach=REACH, sweeps=SWEEPS)
    np.testing.assert_array_equal(out, surface)
    assert out is not surface
    assert np.isnan(inpaint(np.full((3, 3), np.nan), reach=REACH, sweeps=SWEEPS)).all()


@pytest.mark.parametrize("shape", [(1, 7), (7, 1), (1, 1), (2, 2)])
def test_inpaint_degenerate_shapes(shape: tuple[int, int]) -> None:
    surface = np.full(shape, np.nan)
    surface.flat[0] = 4.0
    out = inpaint(surface, reach=REACH, sweeps=SWEEPS)
    # Only one known value, within reach of every cell: every convex combination is 4.
    np.testing.assert_allclose(out, 4.0)


# ------------------------------------------------------------- bilinear
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (2, 2), (2, 7), (9, 5)])
def test_bilinear_matches_map_coordinates(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    surface = rng.normal(0.0, 5.0, shape)
    n = 400
    # Positions from 2 cells before the first centre to 2 cells beyond the last one
    # (clamped to the edge values, as mode="nearest"), plus the centres themselves.
    rows = rng.uniform(-2.0, shape[0] + 1.0, n)
    cols = rng.uniform(-2.0, shape[1] + 1.0, n)
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    rows = np.concatenate([rows, rr.ravel().astype(float), [shape[0] - 1.0]])
    cols = np.concatenate([cols, cc.ravel().astype(float), [shape[1] - 1.0]])
    expected = ndimage.map_coordinates(surface, [rows, cols], order=1, mode="nearest")
    np.testing.assert_allclose(bilinear_at(surface, rows, cols), expected, rtol=0, atol=1e-12)
    twice = bilinear_many([surface, 2 * surface], rows, cols)
    np.testing.assert_allclose(twice[1], 2 * expected, rtol=0, atol=1e-12)


def test_bilinear_hand_example() -> None:
    # Centres (0,0)=0, (0,1)=10, (1,0)=20, (1,1)=30: at (0.5, 0.25) the value is
    # 0.5·(0 + 0.25·10) + 0.5·(20 + 0.25·10) = 12.5.
    surface = np.array([[0.0, 10.0], [20.0, 30.0]])
    assert bilinear_at(surface, np.array([0.5]), np.array([0.25]))[0] == pytest.approx(12.5)


# ------------------------------------------------------------- morphology
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (6, 11), (23, 17)])
@pytest.mark.parametrize("half", [0, 1, 2, 3, 4, 7, 12])
@pytest.mark.parametrize("step", [(1, 0), (0, 1), (1, 1), (1, -1)])
@pytest.mark.parametrize("erode", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_segment_filter_matches_ndimage(
    shape: tuple[int, int], half: int, step: tuple[int, int], erode: bool, dtype: type
) -> None:
    # The min (max) over the cells k·step, |k| ≤ half, cells outside the array ignored
    # (constant ±inf padding) — including segments longer than the array (half 12 on
    # 9 cells), and float32 as SMRF gives it (OpenCV's line element, not scipy's).
    rng = np.random.default_rng(7)
    surface = rng.normal(0.0, 1.0, shape).astype(dtype)
    surface[rng.random(shape) < 0.2] = np.inf if erode else -np.inf  # SMRF's empty cells
    size = 2 * half + 1
    footprint = np.zeros((size, size), dtype=bool)
    for k in range(-half, half + 1):
        footprint[half + k * step[0], half + k * step[1]] = True
    if erode:
        expected = ndimage.minimum_filter(
            surface, footprint=footprint, mode="constant", cval=np.inf
        )
    else:
        expected = ndimage.maximum_filter(
            surface, footprint=footprint, mode="constant", cval=-np.inf
        )
    result = segment_filter(surface, half, step, erode=erode)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, expected)


def _footprint(radius: int) -> np.ndarray:
    """Structuring element of the octagon: erode a single low cell and see where it spreads."""
    n = 4 * radius + 3
    impulse = np.zeros((n, n))
    impulse[n // 2, n // 2] = -1.0
    return _morph_octagon(impulse, radius, erode=True) < 0


@pytest.mark.parametrize("radius", range(1, 19))
def test_octagon_footprint_is_a_symmetric_disk_approximation(radius: int) -> None:
    fp = _footprint(radius)
    n = fp.shape[0]
    c = n // 2
    rr, cc = np.mgrid[0:n, 0:n] - c
    # 8-fold symmetric.
    for variant in (fp[::-1], fp[:, ::-1], fp.T):
        np.testing.assert_array_equal(variant, fp)
    # Reach along the axes is exactly the radius.
    assert fp[c, c + radius] and not fp[c, c + radius + 1]
    # Inside the square of half-size r (axis reach) ...
    assert not fp[np.maximum(abs(rr), abs(cc)) > radius].any()
    # ... and containing the disk's inscribed square, half-size floor(r/√2): a window
    # of "radius r" must at least cover every cell within r/√2 in both axes.
    inner = math.floor(radius / math.sqrt(2))
    assert fp[np.maximum(abs(rr), abs(cc)) <= inner].all(), (
        f"octagon footprint of radius {radius} has holes:\n{fp.astype(int)}"
    )
    # No holes at all.
    np.testing.assert_array_equal(ndimage.binary_fill_holes(fp), fp)


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("opening", [open_disk, open_square])
def test_opening_properties(radius: int, opening) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(radius)
    surface = rng.normal(0.0, 1.0, (40, 37)).cumsum(axis=0)
    opened = opening(surface, radius)
    # Anti-extensive.
    assert (opened <= surface).all()
    # Idempotent: an opening of an opening by the same window changes nothing.
    np.testing.assert_allclose(opening(opened, radius), opened, rtol=0, atol=1e-12)
    # Input not mutated, new array.
    assert opened is not surface


@pytest.mark.parametrize("radius", [3, 5])
@pytest.mark.parametrize("opening", [open_disk, open_square])
def test_opening_removes_narrow_bumps_and_keeps_wide_plateaus(radius: int, opening) -> None:  # type: ignore[no-untyped-def]
    surface = np.zeros((60, 60))
    # A 3×3 bump (+3) is narrower than the window (2r+1 ≥ 7 cells): removed.
    surface[8:11, 8:11] = 3.0
    # A 25×25 plateau (+3) is wider than the window: every cell at least r from its
    # corners lies in a translate of the window that fits inside the plateau, so it
    # stays (the centre block [r, 24−r]² and the mid-edges certainly do).
    surface[25:50, 25:50] = 3.0
    opened = opening(surface, radius)
    np.testing.assert_array_equal(opened[5:15, 5:15], 0.0)
    np.testing.assert_array_equal(opened[25 + radius : 50 - radius, 25 + radius : 50 - radius], 3.0)
    assert opened[25, 37] == 3.0 and opened[37, 25] == 3.0  # mid-edges
    assert opened[49, 37] == 3.0 and opened[37, 49] == 3.0


def test_open_square_matches_grey_opening() -> None:
    rng = np.random.default_rng(11)
    surface = rng.normal(0.0, 1.0, (30, 25))
    # Interior cells (≥ 2r from the edges) do not see the boundary handling.
    r = 3
    expected = ndimage.grey_opening(surface, size=(2 * r + 1, 2 * r + 1))
    np.testing.assert_array_equal(open_square(surface, r)[6:-6, 6:-6], expected[6:-6, 6:-6])


def test_open_disk_lies_between_square_openings() -> None:
    # The octagon of radius r contains the square of half-size floor(r/√2) and is
    # contained in the square of half-size r; an opening by a larger window is lower,
    # so open_square(r) ≤ open_disk(r) ≤ open_square(floor(r/√2)) on a surface where
    # boundaries do not matter (a plateau landscape padded with zeros).
    rng = np.random.default_rng(5)
    surface = np.zeros((70, 70))
    surface[10:60, 10:60] = np.maximum(rng.normal(0.0, 1.0, (50, 50)).cumsum(axis=1), 0.0)
    for r in (3, 6, 9):
        inner = math.floor(r / math.sqrt(2))
        disk = open_disk(surface, r)
        assert (open_square(surface, r) <= disk + 1e-12).all()
        assert (disk <= open_square(surface, inner) + 1e-12).all()


def test_surface_gradient_of_a_plane_and_of_a_one_row_sliver() -> None:
    # z = 2·row + 3·col on 1 m cells: ∂z/∂row = 2, ∂z/∂col = 3 everywhere (central
    # differences are exact on a plane). A 1-row sliver has no row slope: 0, not an error.
    rows, cols = np.mgrid[0:4, 0:5].astype(np.float64)
    grad_r, grad_c = surface_gradient(2.0 * rows + 3.0 * cols, 1.0)
    assert np.allclose(grad_r, 2.0) and np.allclose(grad_c, 3.0)
    sliver_r, sliver_c = surface_gradient(np.array([[1.0, 4.0, 7.0]]), 2.0)
    assert np.array_equal(sliver_r, np.zeros((1, 3)))
    assert np.allclose(sliver_c, 1.5)  # (4 − 1)/2 m per cell of 2 m


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_an_opening_over_the_known_cells_never_reads_the_unknown(radius: int) -> None:
    # open_disk(..., outside=U): max over y in B(c) \ U of min over z in B(y) \ U of f(z),
    # B the octagon; unknown cells are +inf in the result. Brute force on an 18 x 20
    # surface with a quarter of its cells unknown, at the cells 2r or more from the
    # array's edges (nearer, the octagon's parts applied in turn lose the paths that
    # leave the array and come back: the edge is not what this tests).
    rng = np.random.default_rng(radius)
    rows, cols = 18, 20
    surface = rng.normal(0.0, 1.0, (rows, cols))
    outside = rng.uniform(size=surface.shape) < 0.25
    work = np.where(outside, np.inf, surface)
    got = open_disk(work, radius, outside=outside)
    shape = _footprint(radius)
    half = shape.shape[0] // 2
    offsets = [(dr - half, dc - half) for dr, dc in zip(*np.nonzero(shape), strict=True)]

    def window(r: int, c: int) -> list[tuple[int, int]]:
        return [(r + dr, c + dc) for dr, dc in offsets if not outside[r + dr, c + dc]]

    assert np.isinf(got[outside]).all() and (got[outside] > 0).all()
    checked = 0
    for r in range(2 * radius, rows - 2 * radius):
        for c in range(2 * radius, cols - 2 * radius):
            if outside[r, c]:
                continue
            expected = max(min(surface[z] for z in window(*y)) for y in window(r, c))
            assert got[r, c] == expected
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (23, 17)])
@pytest.mark.parametrize("radius", [1, 2, 3])
def test_separable_correlation_is_ndimage_to_the_bit(shape: tuple[int, int], radius: int) -> None:
    # Integer weights over a 0/1 mask: every sum is a small integer, exact in any order,
    # so OpenCV's sums equal ndimage's correlate1d (rows then columns, zeros beyond).
    from carbonsink.lidar._raster_ops import separable_correlation

    rng = np.random.default_rng(shape[0] * 10 + radius)
    mask = (rng.random(shape) < 0.6).astype(np.float64)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    for row_kernel, col_kernel in [
        (np.ones_like(offsets), np.ones_like(offsets)),
        (np.ones_like(offsets), offsets),
        (offsets**2, np.ones_like(offsets)),
        (offsets, offsets),
    ]:
        along = ndimage.correlate1d(mask, row_kernel, axis=0, mode="constant")
        expected = ndimage.correlate1d(along, col_kernel, axis=1, mode="constant")
        np.testing.assert_array_equal(separable_correlation(mask, row_kernel, col_kernel), expected)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (23, 17), (40, 31)])
def test_binary_morphology_is_ndimage_to_the_bit(shape: tuple[int, int]) -> None:
    # OpenCV's dilation and erosion with the anchors of ndimage's structures (the
    # centre of an odd square; an even one reflected for a dilation only) and cells
    # beyond the edges false: every case the LiDAR chain uses, on masks of every
    # density, edges included.
    from carbonsink.lidar._raster_ops import (
        binary_close,
        binary_dilate,
        binary_erode,
        binary_open,
    )

    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    square = np.ones((3, 3), dtype=bool)
    for density in (0.05, 0.5, 0.9, 1.0):
        mask = rng.random(shape) < density
        for iterations in (1, 2, 5):
            np.testing.assert_array_equal(
                binary_dilate(mask, iterations=iterations),
                ndimage.binary_dilation(mask, structure=square, iterations=iterations),
            )
            np.testing.assert_array_equal(
                binary_erode(mask, iterations=iterations),
                ndimage.binary_erosion(mask, structure=square, iterations=iterations),
            )
        for iterations in (1, 2):
            np.testing.assert_array_equal(
                binary_close(mask, iterations=iterations),
                ndimage.binary_closing(mask, structure=square, iterations=iterations),
            )
        for size in range(1, 7):
            box = np.ones((size, size), dtype=bool)
            np.testing.assert_array_equal(
                binary_open(mask, size=size), ndimage.binary_opening(mask, structure=box)
            )
            np.testing.assert_array_equal(
                binary_dilate(mask, size=size), ndimage.binary_dilation(mask, structure=box)
            )
            np.testing.assert_array_equal(
                binary_erode(mask, size=size), ndimage.binary_erosion(mask, structure=box)
            )


def test_binary_morphology_refuses_what_it_cannot_match() -> None:
    from carbonsink.lidar._raster_ops import binary_dilate, binary_erode

    mask = np.ones((4, 4), dtype=bool)
    # An empty raster stays empty; an even square iterated would drift off centre.
    assert binary_dilate(np.zeros((0, 5), dtype=bool)).shape == (0, 5)
    with pytest.raises(ValueError, match="even square"):
        binary_dilate(mask, size=4, iterations=2)
    with pytest.raises(ValueError, match="no morphology"):
        binary_erode(mask, size=0)


def test_window_cells_bins_as_the_grid_does() -> None:
    # A 3 × 4 window of 2 m cells with its upper-left corner at (100, 200): cell (r, c)
    # holds x in [100 + 2c, 102 + 2c) and y in (198 − 2r, 200 − 2r].
    from carbonsink.lidar._raster_ops import window_cells

    x = np.array([100.0, 107.999, 108.0, 101.0, 99.99, 101.0, 103.0])
    y = np.array([200.0, 194.001, 199.0, 194.0, 199.0, 200.5, 197.0])
    flat, inside = window_cells(x, y, x0=100.0, y1=200.0, cell=2.0, shape=(3, 4))
    # (100, 200): r 0, c 0 → 0. (107.999, 194.001): c ⌊3.9995⌋ = 3, r ⌊2.9995⌋ = 2 → 2·4 + 3.
    # x = 108 is column 4 (outside); y = 194 is row 3 (outside); x = 99.99 is column −1;
    # y = 200.5 is row ⌊−0.25⌋ = −1. (103, 197): c 1, r ⌊1.5⌋ = 1 → 1·4 + 1.
    np.testing.assert_array_equal(inside, [True, True, False, False, False, False, True])
    np.testing.assert_array_equal(flat, [0, 11, 5])
    assert flat.dtype == np.int64


def test_window_cells_index_is_exact_past_float32() -> None:
    # 5,000 × 5,000 cells: the last cell's flat index 24,999,999 is past 2²⁴, where
    # float32 no longer holds every whole number; float32 coordinates still index it.
    from carbonsink.lidar._raster_ops import window_cells

    x = np.array([4999.5], dtype=np.float32)
    y = np.array([-4999.5], dtype=np.float32)
    flat, inside = window_cells(x, y, x0=0.0, y1=0.0, cell=1.0, shape=(5000, 5000))
    assert inside.all()
    assert flat.tolist() == [4999 * 5000 + 4999]


def _nearest_by_one_transform(surface: np.ndarray, max_distance: float) -> np.ndarray:
    """fill_nearest's definition: scipy's exact transform of the whole surface, cut at the reach."""
    known = np.isfinite(surface)
    distance, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
    filled = surface[rows, cols].astype(np.float64)
    filled[distance > max_distance] = np.nan
    return filled


@pytest.mark.parametrize("max_distance", [1.0, 2.0, 6.0, 7.0710678118654755, 15.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fill_nearest_in_blocks_is_the_whole_transform(seed: int, max_distance: float) -> None:
    # A surface past two blocks is filled block by block, each from the known cells
    # within the reach of it: the values are the whole transform's, ties included (small
    # whole numbers tie often), and so is what stays NaN. The survey's footprint leaves
    # blocks with nothing known near them, and holes cross the blocks' edges.
    rng = np.random.default_rng(seed)
    shape = (2 * FILL_BLOCK + 37, 3 * FILL_BLOCK + 5)
    footprint = ndimage.binary_dilation(rng.random(shape) < 2e-4, iterations=25)
    surface = rng.integers(0, 4, shape).astype(np.float64)
    surface[~footprint | (rng.random(shape) < 0.6)] = np.nan
    surface[FILL_BLOCK - 3 : FILL_BLOCK + 3, :] = np.nan  # a hole astride a block edge
    assert np.isfinite(surface).any() and np.isnan(surface).any()
    np.testing.assert_array_equal(
        fill_nearest(surface, max_distance=max_distance),
        _nearest_by_one_transform(surface, max_distance),
    )


def test_fill_nearest_reaches_across_a_block_edge() -> None:
    # One known cell at (FILL_BLOCK + 2, 40): the cells of the block above it within
    # 6 cells take its value; (FILL_BLOCK - 4, 40) is 6 cells away (in reach), (FILL_BLOCK
    # - 5, 40) is 7 (out of reach, NaN).
    shape = (2 * FILL_BLOCK + 10, 100)
    surface = np.full(shape, np.nan)
    surface[FILL_BLOCK + 2, 40] = 12.5
    filled = fill_nearest(surface, max_distance=6.0)
    assert filled[FILL_BLOCK - 4, 40] == 12.5
    assert np.isnan(filled[FILL_BLOCK - 5, 40])
    assert np.isfinite(filled).sum() == np.count_nonzero(
        np.hypot(*np.indices(shape) - np.array([FILL_BLOCK + 2, 40])[:, None, None]) <= 6.0
    )


def test_window_cells_in_blocks_bins_every_point() -> None:
    # More points than a block: every one is binned as ⌊(x − x0) / c⌋, ⌊(y1 − y) / c⌋
    # whichever block it falls in, and the inside ones keep their order.
    rng = np.random.default_rng(4)
    n = 3 * BLOCK + 17
    x = rng.uniform(-5.0, 105.0, n)
    y = rng.uniform(-5.0, 85.0, n)
    flat, inside = window_cells(x, y, x0=0.0, y1=80.0, cell=2.0, shape=(40, 50))
    col, row = np.floor(x / 2.0), np.floor((80.0 - y) / 2.0)
    expected_inside = (row >= 0) & (row < 40) & (col >= 0) & (col < 50)
    np.testing.assert_array_equal(inside, expected_inside)
    np.testing.assert_array_equal(flat, (row * 50 + col)[expected_inside].astype(np.int64))


def test_where_is_boolean_indexing_for_every_array() -> None:
    # Hand case: mask T F T T F picks elements 0, 2 and 3 of each array, in order.
    from carbonsink.lidar._raster_ops import where

    mask = np.array([True, False, True, True, False])
    x = np.array([1.5, 2.5, 3.5, 4.5, 5.5])
    cls = np.array([2, 1, 9, 2, 7], dtype=np.uint8)
    picked_x, picked_cls = where(mask, x, cls)
    np.testing.assert_array_equal(picked_x, [1.5, 3.5, 4.5])
    np.testing.assert_array_equal(picked_cls, [2, 9, 2])
    assert picked_cls.dtype == np.uint8
    # Scattered, all-true and all-false masks: the elements a boolean index gives.
    rng = np.random.default_rng(5)
    values = rng.normal(size=1000)
    for mask in (rng.uniform(size=1000) < 0.4, np.ones(1000, bool), np.zeros(1000, bool)):
        (picked,) = where(mask, values)
        np.testing.assert_array_equal(picked, values[mask])
