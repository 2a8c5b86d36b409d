"""Tests of carbonsink.lidar.tiling: halo windows, the point buckets, and seamless tiles.

The runs on the small synthetic LAS (tests/lidar/synthetic_cloud.py) must not
depend on how the grid is tiled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from carbonsink.grid import Grid
from carbonsink.io.pointclouds import PointChunk
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.processing import process_lidar
from carbonsink.lidar.tiling import (
    DECODE_BLOCK,
    Buckets,
    Codec,
    heaviest_first,
    load_bucket,
    split_tile,
)
from tests.lidar.synthetic_cloud import (
    CRS_UTM,
    HEIGHT,
    WIDTH,
    X0,
    Y0,
    assert_same_run,
    write_las,
)


def test_tiled_run_is_seamless(one_tile, many_tiles) -> None:  # type: ignore[no-untyped-def]
    assert len(one_tile.qa) == 1 and len(many_tiles.qa) == 12
    assert_same_run(many_tiles, one_tile)


def test_qa_counts_points_per_tile(synthetic: dict, many_tiles) -> None:  # type: ignore[no-untyped-def]
    grid, pts = synthetic["grid"], synthetic["points"]
    col = (pts["x"] - X0) / 10.0
    row = (Y0 + HEIGHT - pts["y"]) / 10.0
    halo = LidarOptions().halo_cells(10.0)
    # Each tile counts the points of its core (the halo's are read, not counted), so
    # every point is counted once.
    expected = {}
    for tile in grid.tiles(size=6, halo=halo):
        r, c, h, w = tile.core
        expected[tile.id] = int(np.sum((row >= r) & (row < r + h) & (col >= c) & (col < c + w)))
    assert sum(expected.values()) == pts["x"].size
    qa = many_tiles.qa.set_index("tile")
    assert sorted(qa.index) == sorted(expected)
    for tile_id, n in expected.items():
        assert qa.loc[tile_id, "points"] == n, tile_id
    assert ((qa["ground_fraction"] > 0) & (qa["ground_fraction"] < 1)).all()


def test_tiles_agree_across_a_lake_wider_than_the_halo(tmp_path: Path) -> None:
    # A 300 m lake (sparse flat returns) in a 400 m x 300 m plain: far wider than the
    # 60 m water reach and the tiles' 40 m point halo, and cut by tile edges. Every
    # fill reaches a bounded distance, so a tiled run (tiles of 6 cells) equals the
    # single-tile run cell for cell; the lake's middle has no terrain (NaN) in both.
    rng = np.random.default_rng(7)
    w, h = 400.0, 300.0
    n = int(w * h * 4)
    x = X0 + rng.uniform(0, w, n)
    y = Y0 + rng.uniform(0, h, n)
    lake = (x - X0 > 50) & (x - X0 < 350)
    keep = ~lake | (rng.random(n) < 0.05)
    x, y = x[keep], y[keep]
    z = np.where(
        lake[keep],
        24.0 + rng.uniform(-0.005, 0.005, x.size),
        25.0 + 0.01 * (x - X0) + rng.normal(0, 0.02, x.size),
    )
    pts = {"x": x, "y": y, "z": z, "kind": np.where(lake[keep], 2, 0).astype(np.uint8)}
    path = write_las(tmp_path / "lake.las", pts, np.ones(x.size, np.uint8))
    grid = Grid.from_bounds((X0, Y0, X0 + w, Y0 + h), crs=CRS_UTM, resolution=10.0)
    whole = process_lidar([path], grid, tile_size=100)
    tiled = process_lidar([path], grid, tile_size=6)
    assert len(tiled.qa) > 1
    for name in whole.metrics.data_vars:
        np.testing.assert_array_equal(
            tiled.metrics[name].values, whole.metrics[name].values, err_msg=name
        )
    np.testing.assert_array_equal(tiled.dtm.values, whole.dtm.values)
    # 150 m from either shore, beyond the fills' reach: no terrain.
    middle = whole.dtm.values[:, 195:205]
    assert np.isnan(middle).all()


def test_buckets_give_back_the_points_alike_in_every_tile(tmp_path: Path) -> None:
    # The codec of a 200 m × 160 m grid has the finest step, 0.1 mm (1.01 × 200 m / 2³¹
    # is far below it): coordinates come back within half a step, classes and
    # intensities exactly (water detection needs the intensities), and a point
    # spilled to two buckets decodes to the same coordinates from both.
    grid = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=CRS_UTM, resolution=10.0)
    codec = Codec.for_grid(grid)
    assert (codec.x0, codec.y0, codec.quantum) == (X0, Y0, 1e-4)
    rng = np.random.default_rng(3)
    n = 1000
    u8 = np.zeros(n, np.uint8)
    chunk = PointChunk(
        x=X0 + rng.uniform(0, WIDTH, n),
        y=Y0 + rng.uniform(0, HEIGHT, n),
        z=rng.uniform(-5.0, 40.0, n),
        classification=rng.integers(0, 19, n).astype(np.uint8),
        return_number=u8,
        number_of_returns=u8,
        intensity=rng.integers(0, 65536, n).astype(np.uint16),
        user_data=u8,
    )
    buckets = Buckets(tmp_path, codec)
    half = np.arange(0, n, 2)
    buckets.add("a", chunk, half)
    buckets.add("a", chunk, np.arange(1, n, 2))  # appended: a holds every point
    buckets.add("b", chunk, half)
    buckets.add("c", chunk, np.arange(0))  # nothing to spill: no file
    assert buckets.counts == {"a": n, "b": n // 2}
    assert sorted(buckets.files) == ["a", "b"]
    assert not buckets.files["a"].exists()  # written under a temporary name until committed
    buckets.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin"]
    a = load_bucket(buckets.files["a"], codec)
    b = load_bucket(buckets.files["b"], codec)
    order = np.concatenate([half, np.arange(1, n, 2)])
    for name in ("x", "y", "z"):
        error = np.abs(getattr(a, name) - getattr(chunk, name)[order])
        assert error.max() <= 0.5e-4 + 1e-9, name
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name)[: n // 2])
    np.testing.assert_array_equal(a.classification, chunk.classification[order])
    np.testing.assert_array_equal(a.intensity, chunk.intensity[order])
    # Parts read in order into one array: a then b is a's points then b's.
    both = load_bucket([buckets.files["a"], buckets.files["b"]], codec)
    np.testing.assert_array_equal(both.x, np.concatenate([a.x, b.x]))
    np.testing.assert_array_equal(both.intensity, np.concatenate([a.intensity, b.intensity]))
    # A part cut short (not whole 15-byte records) is refused, not read as fewer points.
    with buckets.files["b"].open("r+b") as handle:
        handle.truncate(15 * (n // 2) - 4)
    with pytest.raises(OSError, match="truncated"):
        load_bucket([buckets.files["a"], buckets.files["b"]], codec)


def test_quarters_of_a_tile_partition_its_core_each_with_its_own_halo() -> None:
    # One tile covers the 20 × 16-cell grid; its quarters are 10 × 8 cells with a
    # 6-cell halo clipped at the grid edges: 16 × 14 cells each.
    grid = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=CRS_UTM, resolution=10.0)
    (tile,) = grid.tiles(size=100, halo=6)
    parts = split_tile(grid, tile, 6)
    assert [p.id for p in parts] == [f"r0000c0000.{k}" for k in range(4)]
    assert [p.core for p in parts] == [(0, 0, 8, 10), (0, 10, 8, 10), (8, 0, 8, 10), (8, 10, 8, 10)]
    assert [p.halo for p in parts] == [
        (0, 0, 14, 16),
        (0, 4, 14, 16),
        (2, 0, 14, 16),
        (2, 4, 14, 16),
    ]
    covered = np.zeros(grid.shape, int)
    for part in parts:
        covered[part.core_slices] += 1
    assert (covered == 1).all()


def test_halves_of_a_tile_partition_its_core_each_with_its_own_halo() -> None:
    # The same tile cut across its columns: west and east halves of 16 × 10 cells, their
    # windows 16 × (10 + 6) cells; across its rows: north and south halves of 8 × 20
    # cells, their windows (8 + 6) × 20 cells.
    grid = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=CRS_UTM, resolution=10.0)
    (tile,) = grid.tiles(size=100, halo=6)
    west_east = split_tile(grid, tile, 6, rows=False)
    assert [p.id for p in west_east] == ["r0000c0000.0", "r0000c0000.1"]
    assert [(p.core, p.halo) for p in west_east] == [
        ((0, 0, 16, 10), (0, 0, 16, 16)),
        ((0, 10, 16, 10), (0, 4, 16, 16)),
    ]
    north_south = split_tile(grid, tile, 6, cols=False)
    assert [(p.core, p.halo) for p in north_south] == [
        ((0, 0, 8, 20), (0, 0, 14, 20)),
        ((8, 0, 8, 20), (2, 0, 14, 20)),
    ]
    # An axis one cell long is not cut: a one-row tile cut across its rows is itself.
    (row,) = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + 10.0), crs=CRS_UTM, resolution=10.0).tiles(
        size=100, halo=6
    )
    assert [p.core for p in split_tile(grid, row, 6, cols=False)] == [row.core]


def _brute_force_membership(grid, tiles, x, y):  # type: ignore[no-untyped-def]
    """The points each tile holds, by the definition: its own core (points on the grid's
    east or south edge in the last column or row), or inside its halo window."""
    col = (x - grid.transform.c) / grid.resolution
    row = (grid.transform.f - y) / grid.resolution
    col = np.where(col == grid.width, grid.width - 1e-9, col)
    row = np.where(row == grid.height, grid.height - 1e-9, row)
    out = {}
    for tile in tiles.values():
        r, c, h, w = tile.core
        hr, hc, hh, hw = tile.halo
        core = (row >= r) & (row < r + h) & (col >= c) & (col < c + w)
        window = (row >= hr) & (row < hr + hh) & (col >= hc) & (col < hc + hw)
        index = np.flatnonzero(core | window)
        if index.size:
            out[tile.id] = index
    return out


def _chunk_at(x: np.ndarray, y: np.ndarray) -> PointChunk:
    u8 = np.zeros(x.size, np.uint8)
    return PointChunk(
        x=x,
        y=y,
        z=x,
        classification=u8,
        return_number=u8,
        number_of_returns=u8,
        intensity=np.zeros(x.size, np.uint16),
        user_data=u8,
    )


@pytest.mark.parametrize(("size", "halo"), [(4, 1), (3, 2), (2, 3), (5, 0)])
def test_distribute_gives_each_tile_its_core_and_halo_points(size: int, halo: int) -> None:
    # 1,000 points, a tenth of them on the 10 m grid lines and the grid's edges, on a
    # 13 x 9-cell grid: each tile gets, in file order, the points of its core and of its
    # halo window — a halo wider than a tile (3 > 2) reaching past the neighbours.
    from carbonsink.lidar.tiling import distribute

    grid = Grid.from_bounds((X0, Y0, X0 + 130, Y0 + 90), crs=CRS_UTM, resolution=10.0)
    tiles = {(t.row, t.col): t for t in grid.tiles(size=size, halo=halo)}
    rng = np.random.default_rng(size * 10 + halo)
    x = X0 + rng.uniform(0, 130, 1000)
    y = Y0 + rng.uniform(0, 90, 1000)
    x[:100] = X0 + 10 * rng.integers(0, 14, 100)  # on the lines, x = xmax included
    y[50:150] = Y0 + 10 * rng.integers(0, 10, 100)  # y = ymin included
    chunk = _chunk_at(x, y)
    got = dict(distribute(chunk, grid, tiles))
    expected = _brute_force_membership(grid, tiles, x, y)
    assert sorted(got) == sorted(expected)
    for tile_id, index in expected.items():
        np.testing.assert_array_equal(got[tile_id], index, err_msg=tile_id)
    # A chunk none of whose points is in any tile yields nothing.
    far = _chunk_at(np.array([X0 - 5.0]), np.array([Y0 + 5.0]))
    assert list(distribute(far, grid, tiles)) == []


def test_distribute_leaves_out_absent_tiles_and_refuses_irregular_windows() -> None:
    # Tiles of 4 cells with a 2-cell halo on a 13 x 9-cell grid, the tile at (1, 1)
    # left out of the dict: its points go to the neighbours whose windows hold them
    # and to no one else (the brute-force definition, tile by tile).
    from carbonsink.lidar.tiling import distribute

    grid = Grid.from_bounds((X0, Y0, X0 + 130, Y0 + 90), crs=CRS_UTM, resolution=10.0)
    tiles = {(t.row, t.col): t for t in grid.tiles(size=4, halo=2)}
    del tiles[(1, 1)]
    rng = np.random.default_rng(7)
    x, y = X0 + rng.uniform(0, 130, 2000), Y0 + rng.uniform(0, 90, 2000)
    got = dict(distribute(_chunk_at(x, y), grid, tiles))
    expected = _brute_force_membership(grid, tiles, x, y)
    assert sorted(got) == sorted(expected) and "r0001c0001" not in got
    for tile_id, index in expected.items():
        np.testing.assert_array_equal(got[tile_id], index, err_msg=tile_id)
    # A tile whose window differs from its tile row's is not a layout of rows and columns.
    odd = dict(tiles)
    r, c, h, w = odd[(0, 0)].halo
    odd[(0, 0)] = dataclasses.replace(odd[(0, 0)], halo=(r, c, h + 1, w))
    with pytest.raises(ValueError, match="rows and columns"):
        list(distribute(_chunk_at(x, y), grid, odd))


def test_tile_spans_count_the_holders_of_each_row() -> None:
    # Windows (start, size) of three tile rows on 8 grid rows: 0 holds rows 0-3, 1 holds
    # 2-6, 2 holds 5-7: row 2 is held by tile rows 0-1, row 5 by 1-2, row 7 by 2 alone.
    from carbonsink.lidar.tiling import _spans

    first, span = _spans(8, {0: (0, 4), 1: (2, 5), 2: (5, 3)}, "row")
    np.testing.assert_array_equal(first, [0, 0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(span, [1, 1, 2, 2, 1, 2, 2, 1])
    # Tile row 1 missing (no points there): row 3 is held by tile rows 0 and 2, a span of
    # 3 whose middle distribute finds absent; rows 7 and beyond by none.
    first, span = _spans(9, {0: (0, 5), 2: (3, 4)}, "row")
    np.testing.assert_array_equal(first, [0, 0, 0, 0, 0, 2, 2, 0, 0])
    np.testing.assert_array_equal(span, [1, 1, 1, 3, 3, 1, 1, 0, 0])
    # Tile rows 0 and 2 holding row 5 while tile row 1, present, does not: refused.
    with pytest.raises(ValueError, match="consecutive tile rows"):
        _spans(8, {0: (0, 8), 1: (0, 1), 2: (4, 4)}, "row")


def test_distribute_with_a_whole_tile_row_missing() -> None:
    # Tiles of 2 cells with a 2-cell halo on an 8 x 4-cell grid: a point in grid row 2
    # lies in the windows of tile rows 0, 1 and 2; with tile row 1 left out it goes to
    # tile rows 0 and 2 only (the brute-force definition), not refused.
    from carbonsink.lidar.tiling import distribute

    grid = Grid.from_bounds((X0, Y0, X0 + 40, Y0 + 80), crs=CRS_UTM, resolution=10.0)
    tiles = {(t.row, t.col): t for t in grid.tiles(size=2, halo=2) if t.row != 1}
    rng = np.random.default_rng(3)
    x, y = X0 + rng.uniform(0, 40, 500), Y0 + rng.uniform(0, 80, 500)
    got = dict(distribute(_chunk_at(x, y), grid, tiles))
    expected = _brute_force_membership(grid, tiles, x, y)
    assert sorted(got) == sorted(expected)
    for tile_id, index in expected.items():
        np.testing.assert_array_equal(got[tile_id], index, err_msg=tile_id)


def test_points_on_the_grids_east_and_south_edges_are_tiled_like_untiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Points exactly on x = xmax or y = ymin are in no grid cell but read (closed read
    # bounds) and take part in SMRF. On a 4 x 6-cell grid in tiles of 3 cells: P on the
    # east edge 0.5 m north of the boundary between tile rows 0 and 1 lies in tile row
    # 0 but in an SMRF cell the tile below also writes (its block reaches one cell past
    # its core); Q on the south edge is in a 7th row, past the 2 tile rows. Every tile
    # that reads P's or Q's SMRF cell must see their z there, as the untiled run does —
    # without sharing them with the last column's and row's tiles, the tile below wrote
    # P's cell without P (and read NaN), and Q was in no tile at all.
    from carbonsink.lidar import lattice

    rng = np.random.default_rng(0)
    w, h = 40.0, 60.0
    n = int(w * h * 4)
    p_xy, q_xy = (X0 + w, Y0 + h - 29.5), (X0 + 12.3, Y0)
    x = np.r_[X0 + rng.uniform(0, w, n), p_xy[0], q_xy[0]]
    y = np.r_[Y0 + rng.uniform(0, h, n), p_xy[1], q_xy[1]]
    z = np.r_[25.0 + rng.normal(0, 0.02, n), 24.0, 24.5]
    pts = {"x": x, "y": y, "z": z, "kind": np.zeros(x.size, np.uint8)}
    path = write_las(tmp_path / "edges.las", pts, np.ones(x.size, np.uint8))
    grid = Grid.from_bounds((X0, Y0, X0 + w, Y0 + h), crs=CRS_UTM, resolution=10.0)
    seen: dict[str, list[float]] = {"P": [], "Q": []}
    window = lattice.BlockStore.window

    def recorded(self, where, blocks, fill):  # type: ignore[no-untyped-def]
        out = window(self, where, blocks, fill)
        if self.name == "smrf":
            for name, (px, py) in (("P", p_xy), ("Q", q_xy)):
                flat, inside = where.flat(np.array([px]), np.array([py]))
                if inside[0]:
                    seen[name].append(float(out[0].ravel()[flat[0]]))
        return out

    monkeypatch.setattr(lattice.BlockStore, "window", recorded)
    dry = LidarOptions(water=None)
    whole = process_lidar([path], grid, tile_size=100, options=dry)
    assert seen == {"P": [24.0], "Q": [24.5]}
    seen["P"].clear()
    seen["Q"].clear()
    tiled = process_lidar([path], grid, tile_size=3, options=dry)
    assert len(tiled.qa) == 4
    assert len(seen["P"]) >= 2 and set(seen["P"]) == {24.0}
    assert len(seen["Q"]) >= 1 and set(seen["Q"]) == {24.5}
    assert_same_run(tiled, whole)


def test_a_bucket_past_a_decode_block_decodes_every_point(tmp_path: Path) -> None:
    # More points than a decode block: each coordinate is x0 + steps × quantum (the steps
    # are the rounded offsets), whichever block it is decoded in.
    grid = Grid.from_bounds((X0, Y0, X0 + WIDTH, Y0 + HEIGHT), crs=CRS_UTM, resolution=10.0)
    codec = Codec.for_grid(grid)
    rng = np.random.default_rng(8)
    n = 2 * DECODE_BLOCK + 11
    u8 = np.zeros(n, np.uint8)
    chunk = PointChunk(
        x=X0 + rng.uniform(0, WIDTH, n),
        y=Y0 + rng.uniform(0, HEIGHT, n),
        z=rng.uniform(-5.0, 40.0, n),
        classification=u8,
        return_number=u8,
        number_of_returns=u8,
        intensity=np.zeros(n, np.uint16),
        user_data=u8,
    )
    buckets = Buckets(tmp_path, codec)
    buckets.add("t", chunk, np.arange(n))
    buckets.commit()
    back = load_bucket(buckets.files["t"], codec)
    steps = np.rint((chunk.x - X0) / codec.quantum)
    np.testing.assert_array_equal(back.x, X0 + steps * codec.quantum)
    np.testing.assert_array_equal(back.z, np.rint(chunk.z / codec.quantum) * codec.quantum)


def test_heaviest_first_orders_tiles_by_the_points_of_their_windows() -> None:
    # A 4 × 4 grid in 2 × 2 tiles with a halo of 1 cell: the windows are rows/cols 0-2
    # (first tile row/col) and 1-3 (second). Counts: 10 in cell (0, 0), 5 in (3, 3),
    # 1 in (1, 2). Windows: r0c0 rows 0-2 cols 0-2: 10 + 1 = 11; r0c1 rows 0-2 cols 1-3:
    # 1; r1c0 rows 1-3 cols 0-2: 1; r1c1 rows 1-3 cols 1-3: 5 + 1 = 6. Ties (r0c1, r1c0)
    # keep the order given.
    grid = Grid.from_bounds((0.0, 0.0, 40.0, 40.0), crs=CRS_UTM, resolution=10.0)
    tiles = list(grid.tiles(size=2, halo=1))
    counts = np.zeros(16, dtype=np.int64)
    counts[0 * 4 + 0], counts[3 * 4 + 3], counts[1 * 4 + 2] = 10, 5, 1
    order = [t.id for t in heaviest_first(tiles, counts, grid)]
    ids = [t.id for t in tiles]
    assert order == [ids[0], ids[3], ids[1], ids[2]]
