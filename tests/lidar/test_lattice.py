"""Tests of carbonsink.lidar.lattice: lattice windows and the blocks tiles share."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carbonsink.lidar.lattice import BlockStore, LatticeWindow, lattice_index


def test_points_fall_in_cells_west_inclusive_and_north_inclusive() -> None:
    # Cell (i, j) of 2 m spans x in [2i, 2i + 2) and y in (2j - 2, 2j]: x = 4.0 is in
    # column 2, x = 3.99 in column 1; y = 4.0 is in row index 2 (the cell (2, 4]),
    # y = 4.01 in row index 3.
    i, j = lattice_index(np.array([4.0, 3.99, -0.5]), np.array([4.0, 4.01, -0.5]), 2.0)
    assert list(i) == [2, 1, -1]
    assert list(j) == [2, 3, 0]


def test_covering_holds_every_cell_a_point_inside_the_bounds_can_fall_in() -> None:
    # Bounds x in [10, 20), y in (30, 40] on 2 m cells: columns 5..9 (5 cells), row
    # indices 20 down to 16 (y in (30, 32] is j = 16): 5 rows; on 3 m cells columns
    # 3 (x in [9, 12)) to 6 (x in [18, 21)): 4; rows j = 14 ((39, 42]) to 11 ((30, 33]): 4.
    w = LatticeWindow.covering((10.0, 30.0, 20.0, 40.0), 2.0)
    assert (w.i0, w.j1, w.rows, w.cols) == (5, 20, 5, 5)
    assert (w.x0, w.y1) == (10.0, 40.0)
    w3 = LatticeWindow.covering((10.0, 30.0, 20.0, 40.0), 3.0)
    assert (w3.i0, w3.j1, w3.rows, w3.cols) == (3, 14, 4, 4)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(10, 20, 1000), 40 - rng.uniform(0, 10, 1000)
    for window in (w, w3):
        _, inside = window.flat(x, y)
        assert inside.all()


def test_around_and_grow() -> None:
    w = LatticeWindow.around(np.array([1.0, 5.5]), np.array([2.5, 0.2]), 1.0)
    # columns 1..5, row indices 3 (y in (2, 3]) down to 1 (y in (0, 1]).
    assert (w.i0, w.j1, w.rows, w.cols) == (1, 3, 3, 5)
    g = w.grow(2)
    assert (g.i0, g.j1, g.rows, g.cols) == (-1, 5, 7, 9)
    flat, inside = g.flat(np.array([1.0]), np.array([2.5]))
    # (row, col) = (5 - 3, 1 - (-1)) = (2, 2): flat 2 * 9 + 2 = 20.
    assert inside.all() and flat[0] == 20


def test_points_outside_take_the_index_asked_for() -> None:
    # 1 m cells, columns 0..2, row indices 2 (y in (1, 2]) down to 1: a 2 × 3 window.
    # (0.5, 1.5): row index 2 (y in (1, 2]) = window row 0, column 0: flat 0. (2.5, 1.2):
    # window row 0, column 2: flat 2. (1.5, 0.5): row index 1 = window row 1, column 1:
    # flat 1 × 3 + 1 = 4. (3.5, 1.5) (column 3) and (0.5, 2.5) (row index 3) are outside:
    # the index asked for, 6 = 2 × 3.
    w = LatticeWindow(1.0, i0=0, j1=2, rows=2, cols=3)
    x = np.array([0.5, 2.5, 1.5, 3.5, 0.5])
    y = np.array([1.5, 1.2, 0.5, 1.5, 2.5])
    flat, inside = w.flat(x, y, outside=6)
    assert list(inside) == [True, True, True, False, False]
    assert list(flat) == [0, 2, 4, 6, 6]
    plain, _ = w.flat(x, y)
    assert list(plain[inside]) == [0, 2, 4]


def test_overlap_slices_line_up_the_same_cells() -> None:
    a = LatticeWindow(1.0, i0=0, j1=10, rows=4, cols=5)  # columns 0..4, rows j 10..7
    b = LatticeWindow(1.0, i0=3, j1=8, rows=4, cols=4)  # columns 3..6, rows j 8..5
    rs, cs, brs, bcs = a.overlap(b)  # type: ignore[misc]
    # Shared: columns 3..4, row indices 8..7: rows 2..3 of a, 0..1 of b.
    assert (rs, cs, brs, bcs) == (slice(2, 4), slice(3, 5), slice(0, 2), slice(0, 2))
    assert a.overlap(LatticeWindow(1.0, i0=5, j1=10, rows=4, cols=5)) is None


def test_a_window_is_assembled_from_the_blocks_with_fill_elsewhere(tmp_path: Path) -> None:
    store = BlockStore(tmp_path, "cells")
    left = LatticeWindow(1.0, i0=0, j1=4, rows=4, cols=3)
    right = LatticeWindow(1.0, i0=2, j1=4, rows=4, cols=3)  # shares column 2 with left
    values = np.arange(12.0).reshape(4, 3)
    store.save("L", np.stack([values, -values]))
    store.save("R", np.stack([values + 100, -values - 100]))
    window = LatticeWindow(1.0, i0=-1, j1=5, rows=6, cols=7)
    out = store.window(window, [("L", left), ("R", right), ("gone", left)], (np.nan, 0.0))
    assert out.shape == (2, 6, 7)
    # Row 0 (j = 5) and column 0 (i = -1) and 6 (i = 5): no block, the fill.
    assert np.isnan(out[0, 0]).all() and np.isnan(out[0, :, 0]).all()
    assert (out[1, 0] == 0).all() and (out[1, :, 6] == 0).all()
    # Cell i = 0, j = 4 is left's (0, 0); i = 4, j = 1 is right's (3, 2).
    assert out[0, 1, 1] == 0.0 and out[0, 4, 5] == 111.0
    assert out[1, 4, 5] == -111.0


def test_flat_in_blocks_indexes_every_point() -> None:
    # More points than a block: column ⌊x / c⌋ − i0 and row j1 − ⌈y / c⌉ for every point,
    # whichever block it falls in (cell (i, j) spans x in [i c, (i+1) c), y in ((j−1) c, j c]).
    from carbonsink.lidar.lattice import BLOCK

    rng = np.random.default_rng(5)
    n = 2 * BLOCK + 3
    x = rng.uniform(-10.0, 60.0, n)
    y = rng.uniform(-10.0, 60.0, n)
    w = LatticeWindow(2.0, i0=2, j1=25, rows=20, cols=22)
    flat, inside = w.flat(x, y)
    col = np.floor(x / 2.0) - 2
    row = 25 - np.ceil(y / 2.0)
    expected = (row >= 0) & (row < 20) & (col >= 0) & (col < 22)
    np.testing.assert_array_equal(inside, expected)
    np.testing.assert_array_equal(flat[expected], (row * 22 + col)[expected].astype(np.int64))
