"""Tests of carbonsink.lidar.tiling: halo windows, the point buckets, and seamless tiles.

The runs on the small synthetic LAS (tests/lidar/synthetic_cloud.py) must not
depend on how the grid is tiled.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from carbonsink.grid import Grid
from carbonsink.io.pointclouds import PointChunk
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.processing import process_lidar
from carbonsink.lidar.tiling import Buckets, Codec, load_bucket, split_tile
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
    halo = math.ceil(LidarOptions().halo_m() / 10.0)
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
    # 120 m halo, and cut by tile edges. Every fill reaches a bounded distance, so a
    # tiled run (tiles of 6 cells) equals the single-tile run cell for cell; the
    # lake's middle has no terrain (NaN) in both.
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
    a = load_bucket(buckets.files["a"], codec)
    b = load_bucket(buckets.files["b"], codec)
    order = np.concatenate([half, np.arange(1, n, 2)])
    for name in ("x", "y", "z"):
        error = np.abs(getattr(a, name) - getattr(chunk, name)[order])
        assert error.max() <= 0.5e-4 + 1e-9, name
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name)[: n // 2])
    np.testing.assert_array_equal(a.classification, chunk.classification[order])
    np.testing.assert_array_equal(a.intensity, chunk.intensity[order])


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
