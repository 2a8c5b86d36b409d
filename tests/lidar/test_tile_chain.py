"""Tests of carbonsink.lidar.tile_chain: the chain on one tile, quartering, parallel tiles."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from carbonsink.grid import Grid
from carbonsink.io.pointclouds import PointChunk, read_points
from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.processing import process_lidar
from carbonsink.lidar.tile_chain import process_tile_points
from tests.lidar.synthetic_cloud import CRS_UTM, X0, Y0, assert_same_run, terrain


def test_thread_pool_equals_serial(synthetic: dict, many_tiles) -> None:  # type: ignore[no-untyped-def]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        parallel = process_lidar(
            [synthetic["unclassified"]], synthetic["grid"], tile_size=6, executor=pool
        )
    for name in many_tiles.metrics.data_vars:
        np.testing.assert_array_equal(
            parallel.metrics[name].values, many_tiles.metrics[name].values, err_msg=name
        )
    np.testing.assert_array_equal(parallel.dtm.values, many_tiles.dtm.values)
    np.testing.assert_array_equal(parallel.chm.values, many_tiles.chm.values)
    assert list(parallel.qa["points"]) == list(many_tiles.qa["points"])


def test_process_tile_points_shapes(synthetic: dict) -> None:
    grid = synthetic["grid"]
    pts = read_points(synthetic["unclassified"], target_crs=CRS_UTM)
    metrics, dtm, chm, qa = process_tile_points(pts, window=grid, options=LidarOptions())
    assert all(layer.shape == grid.shape for layer in metrics.values())
    assert dtm.shape == (160, 200) and chm.shape == (320, 400)
    assert qa["points"] == pts.x.size


def test_heights_are_finite_at_convex_corners_of_the_cloud() -> None:
    # A 30 m × 30 m block of points inside a 60 m window: the DTM exists on the LiDAR
    # "support" (covered cells, grown by one cell), and every point's height samples
    # the DTM bilinearly between the 4 nearest 1 m cell centres — at a corner of the
    # block that includes the diagonal neighbour, which must be in the support too.
    rng = np.random.default_rng(4)
    n = 30 * 30 * 8
    x = X0 + 10 + rng.uniform(0, 30, n)
    y = Y0 + 10 + rng.uniform(0, 30, n)
    x = np.concatenate([x, [X0 + 39.9]])  # in the outer quarter of the SE corner cell
    y = np.concatenate([y, [Y0 + 10.1]])
    z = terrain(x, y)
    u8 = np.zeros(x.size, np.uint8)
    points = PointChunk(
        x=x,
        y=y,
        z=z,
        classification=u8 + 1,
        return_number=u8,
        number_of_returns=u8,
        intensity=np.zeros(x.size, np.uint16),
        user_data=u8,
    )
    window = Grid.from_bounds((X0, Y0, X0 + 60, Y0 + 60), crs=CRS_UTM, resolution=10.0)
    with np.errstate(invalid="raise"):
        metrics, _dtm, _chm, _qa = process_tile_points(
            points, window=window, options=LidarOptions()
        )
    covered = metrics["lidar_coverage"] == 1
    assert np.isfinite(metrics["h_max"][covered]).all()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Grid]:
    """A 600 m × 500 m plain with shrubs, 1 return/m² (300,000 points)."""
    from tests.lidar.synthetic_cloud import write_las

    rng = np.random.default_rng(5)
    w, h = 600.0, 500.0
    n = int(w * h)
    x, y = X0 + rng.uniform(0, w, n), Y0 + rng.uniform(0, h, n)
    shrub = rng.random(n) < 0.3
    z = terrain(x, y) + rng.normal(0, 0.02, n) + np.where(shrub, rng.uniform(0.5, 3.0, n), 0.0)
    pts = {"x": x, "y": y, "z": z, "kind": shrub.astype(np.uint8)}
    path = write_las(tmp_path_factory.mktemp("plain") / "plain.las", pts, np.ones(n, np.uint8))
    return path, Grid.from_bounds((X0, Y0, X0 + w, Y0 + h), crs=CRS_UTM, resolution=10.0)


@pytest.mark.parametrize(
    ("points_per_tile", "parts"),
    [
        # Limit 225,000. Without water detection the point halo is 4 cells of 10 m
        # (tests/lidar/test_options.py), so of the 60 × 50 cells the west and east halves'
        # windows are 34 × 50 (57 % of the points each, 1.13 times the tile together), the
        # north and south halves' 60 × 29 (58 %, 1.16 times), the quarters' 34 × 29 (33 %,
        # 1.31 times). Every cut holds at most 75 % a part and 1.5 times in all; the halves
        # (~170,000 points) are within the limit, and west-east processes the fewest.
        (150_000, 2),
        # Limit 120,000: the halves are not within it, the quarters (~99,000) are.
        (80_000, 4),
    ],
)
def test_crowded_tiles_are_split_without_seams(
    plain: tuple[Path, Grid], points_per_tile: int, parts: int
) -> None:
    # The whole plain in one tile; the merged result must be identical to the single-tile run.
    path, grid = plain
    whole = process_lidar([path], grid, tile_size=100, options=LidarOptions(water=None))
    split = process_lidar(
        [path],
        grid,
        tile_size=100,
        options=LidarOptions(points_per_tile=points_per_tile, water=None),
    )
    limit = 1.5 * points_per_tile
    assert len(whole.qa) == 1 and whole.qa["points"].iloc[0] > limit
    assert sorted(split.qa["tile"]) == [f"r0000c0000.{k}" for k in range(parts)]
    assert (split.qa["points"] <= limit).all()
    assert split.qa["points"].sum() == whole.qa["points"].iloc[0]  # each in its core once
    assert_same_run(split, whole)


def test_a_tile_whose_quarters_would_add_half_its_work_is_cut_in_halves(synthetic: dict) -> None:  # type: ignore[no-untyped-def]
    # The 200 m x 160 m scene (~181,000 points) in one tile on 10 m cells, limit
    # 150,000, a 4-cell halo. The quarters' windows are 14 x 12 of the 20 x 16 cells
    # (52 % each) but 672 / 320 = 2.1 times the tile together: more than half the points
    # again. The west and east halves' windows are 14 x 16 (70 % each, 1.4 times), the
    # north and south halves' 20 x 12 (75 %, 1.5 times): both pay, and west-east
    # processes fewer points (as a dense drone tile whose 200 m window in 80 m quarters
    # with 40 m halos held 1.96 times its points, and ran 40 % slower).
    smrf = SMRFParameters(window=10.0)
    options = LidarOptions(points_per_tile=100_000, water=None, smrf=smrf)
    args = ([synthetic["unclassified"]], synthetic["grid"])
    crowded = process_lidar(*args, tile_size=100, options=options)
    whole = process_lidar(
        *args, tile_size=100, options=dataclasses.replace(options, points_per_tile=10**9)
    )
    assert whole.qa["points"].iloc[0] > 150_000
    assert list(crowded.qa["tile"]) == ["r0000c0000.0", "r0000c0000.1"]
    assert_same_run(crowded, whole)


def test_a_tile_whose_quarters_would_not_shrink_is_not_split(synthetic: dict) -> None:  # type: ignore[no-untyped-def]
    # A canopy-floor test reaching 4k + 4 = 60 cells (k = 14) makes the point halo
    # ⌈(13 + 61 + 1)/10⌉ = 8 cells: a corner quarter's window of the 20 x 16-cell grid
    # is (10 + 8) x 16 cells, 90 % of the grid, as full as the parent's (more than 75 %
    # of its points): the tile is processed whole, once.
    wide = SMRFParameters(floor_radius=14)
    assert LidarOptions(smrf=wide).halo_cells(10.0) == 8
    whole = process_lidar(
        [synthetic["unclassified"]],
        synthetic["grid"],
        tile_size=100,
        options=LidarOptions(smrf=wide),
    )
    split = process_lidar(
        [synthetic["unclassified"]],
        synthetic["grid"],
        tile_size=100,
        options=LidarOptions(points_per_tile=100_000, smrf=wide),
    )
    assert list(split.qa["tile"]) == list(whole.qa["tile"]) == ["r0000c0000"]
    assert_same_run(split, whole, rasters=False)


class _PicklingExecutor(concurrent.futures.Executor):
    """Runs each job here after a pickle round trip, as a process pool or Dask would send it."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def submit(  # type: ignore[override]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        fn, args, kwargs = pickle.loads(pickle.dumps((fn, args, kwargs)))
        self.jobs.append(f"{fn.__module__}.{fn.__qualname__}")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_tile_jobs_survive_pickling(synthetic: dict, many_tiles) -> None:  # type: ignore[no-untyped-def]
    # Tile jobs go to worker processes by pickle: the function must be importable by
    # name and its arguments picklable; the results equal the serial run's.
    executor = _PicklingExecutor()
    pickled = process_lidar(
        [synthetic["unclassified"]], synthetic["grid"], tile_size=6, executor=executor
    )
    # Three phases of 12 tiles: water cells, water and SMRF cells, the chain.
    names = [job.rsplit(".", 1)[1] for job in executor.jobs]
    assert names == ["_water_cells_job"] * 12 + ["_water_job"] * 12 + ["_tile_job"] * 12
    for name in many_tiles.metrics.data_vars:
        np.testing.assert_array_equal(
            pickled.metrics[name].values, many_tiles.metrics[name].values, err_msg=name
        )
    np.testing.assert_array_equal(pickled.dtm.values, many_tiles.dtm.values)
    np.testing.assert_array_equal(pickled.chm.values, many_tiles.chm.values)


def test_the_read_in_ranges_gives_the_whole_read(synthetic: dict, many_tiles) -> None:  # type: ignore[no-untyped-def]
    # 180,714 points read in chunks of 20,000: ranges of at most 2 chunks, an even
    # number of them, make 6 read tasks (30,119 points each), each spilling its own
    # bucket parts. A tile's points are its parts in read order, i.e. the file order
    # of one whole read, so every result equals the single-range run's.
    executor = _PicklingExecutor()
    ranged = process_lidar(
        [synthetic["unclassified"]],
        synthetic["grid"],
        tile_size=6,
        executor=executor,
        options=LidarOptions(chunk_size=20_000),
    )
    names = [job.rsplit(".", 1)[1] for job in executor.jobs]
    assert names[:6] == ["spill_range"] * 6 and "spill_range" not in names[6:]
    assert_same_run(ranged, many_tiles)


def test_a_closed_reed_bed_is_seamless_across_tiles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The canopy-floor tests (eqs. 8.2a-b) read 12 cells around each cell; the halo
    # covers them (tests/lidar/test_options.py), so 4 × 3 tiles of 50 m give the
    # untiled numbers.
    from tests.lidar.synthetic_cloud import write_las
    from tests.lidar.test_ground import _reed_bed_scene

    s = _reed_bed_scene()
    pts = {"x": s["x"] + X0, "y": s["y"] + Y0, "z": s["z"], "kind": s["kind"].astype(np.uint8)}
    for v in (pts["x"], pts["y"]):  # ≥ 1 cm off the 10 m lines, as synthetic_points does
        frac = np.mod(v, 10.0)
        near = (frac < 0.01) | (frac > 9.99)
        v[near] += np.where(frac[near] < 0.01, 0.02, -0.02)
    path = write_las(tmp_path / "reed.las", pts, np.ones(pts["x"].size, np.uint8))
    # 2 m cells: the point halo is 7 + 7 = 14 cells (tests/lidar/test_options.py).
    grid = Grid.from_bounds((X0, Y0, X0 + 200, Y0 + 120), crs=CRS_UTM, resolution=2.0)
    dry = LidarOptions(water=None)
    whole = process_lidar([path], grid, tile_size=500, options=dry)
    tiled = process_lidar([path], grid, tile_size=25, options=dry)
    assert len(tiled.qa) == 12
    unsupported = whole.metrics["terrain_unsupported"].values
    assert np.nanmax(unsupported) == 1.0  # the bed's middle: no terrain measured
    assert tiled.qa["canopy_floor_fraction"].max() > 0
    assert_same_run(tiled, whole)


def test_cells_whose_margin_is_not_a_binary_fraction_stay_on_the_untiled_lattice(
    synthetic: dict,
) -> None:
    # 0.2 m DTM and 0.1 m CHM cells: the terrain margin (6 + 4 + 1) × 0.2 + 0.2 + 0.1 =
    # 2.5 m in whole 0.2 m cells is 2.6 m, which floating point does not hold: a tile's
    # rasters would start 1e-11 m off the untiled ones and points on a cell line would
    # change cells. The margin is then one whole 10 m grid cell, and tiles of 5 cells
    # give the untiled run's numbers.
    fine = LidarOptions(dtm_cell=0.2, chm_cell=0.1)
    assert fine.inner_margin_m(10.0) == 10.0
    whole = process_lidar(
        [synthetic["unclassified"]], synthetic["grid"], tile_size=1000, options=fine
    )
    tiled = process_lidar([synthetic["unclassified"]], synthetic["grid"], tile_size=5, options=fine)
    assert len(tiled.qa) > 1
    assert_same_run(tiled, whole)
