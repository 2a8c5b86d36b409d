"""Tests of carbonsink.lidar.reading: the read in equal ranges, spilled in parallel."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
from pathlib import Path

import numpy as np

from carbonsink.io.pointclouds import iter_points
from carbonsink.lidar.reading import (
    SpillPlan,
    land_counts,
    part_suffix,
    read_ranges,
    spill,
)
from carbonsink.lidar.tiling import Buckets, Codec, distribute, load_bucket

CHUNK = 20_000
SIZE, HALO = 6, 4  # tiles of 6 cells with the 4-cell halo, as the many-tile run


def _plan(synthetic: dict, folder: Path) -> SpillPlan:
    grid = synthetic["grid"]
    folder.mkdir()
    return SpillPlan(
        grid=grid,
        tiles={(t.row, t.col): t for t in grid.tiles(size=SIZE, halo=HALO)},
        folder=folder,
        codec=Codec.for_grid(grid),
        chunk_size=CHUNK,
    )


def test_ranges_are_an_even_number_of_equal_ranges_in_file_order(synthetic: dict) -> None:
    # 180,714 points in ranges of at most 2 × 20,000: ⌈180,714 / 40,000⌉ = 5 ranges, odd,
    # so 6 of ⌈180,714 / 6⌉ = 30,119 points (the last 180,714 − 5 × 30,119 = 30,119 too).
    ranges = read_ranges([synthetic["unclassified"]], crs=None, chunk_size=CHUNK)
    assert [(r.start, r.stop, r.part) for r in ranges] == [
        (0, 30_119, 0),
        (30_119, 60_238, 1),
        (60_238, 90_357, 2),
        (90_357, 120_476, 3),
        (120_476, 150_595, 4),
        (150_595, 180_714, 5),
    ]
    # One range when the file fits in one; an even count stays as it is: 4 × 45,179
    # (the last 45,177) in ranges of at most 50,000.
    assert len(read_ranges([synthetic["unclassified"]], crs=None, chunk_size=100_000)) == 1
    four = read_ranges([synthetic["unclassified"]], crs=None, chunk_size=25_000)
    assert [(r.start, r.stop) for r in four] == [
        (0, 45_179),
        (45_179, 90_358),
        (90_358, 135_537),
        (135_537, 180_714),
    ]


def test_spilled_ranges_are_the_whole_read(synthetic: dict, tmp_path: Path) -> None:
    # The reference: one whole read in chunks of 20,000, each chunk distributed to
    # the tiles and appended to one bucket per tile (the chain before the ranges).
    plan = _plan(synthetic, tmp_path / "ranges")
    grid, path = plan.grid, synthetic["unclassified"]
    whole = Buckets(tmp_path, plan.codec)
    counts = np.zeros(grid.width * grid.height, dtype=np.int64)
    histogram = np.zeros(2**16, dtype=np.int64)
    for chunk in iter_points(path, target_crs=grid.crs, bounds=grid.bounds, chunk_size=CHUNK):
        c, h = land_counts(chunk, grid)
        counts += c
        histogram += h
        for tile_id, index in distribute(chunk, grid, plan.tiles):
            whole.add(tile_id, chunk, index)
    whole.commit()

    totals = spill(read_ranges([path], crs=None, chunk_size=CHUNK), plan, executor=None)
    np.testing.assert_array_equal(totals.cell_counts, counts)
    np.testing.assert_array_equal(totals.intensities, histogram)
    assert totals.files_inside == {path}
    assert sorted(totals.parts) == sorted(whole.files)
    for tile_id, parts in totals.parts.items():
        assert parts == sorted(parts), tile_id
        paths = [plan.folder / f"{tile_id}{part_suffix(k)}.bin" for k in parts]
        got = load_bucket(paths, plan.codec)
        expected = load_bucket(whole.files[tile_id], plan.codec)
        for name in ("x", "y", "z", "classification", "intensity"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), name)

    # A range run again (a lost worker's task) rewrites its parts rather than adding
    # its points twice.
    before = {f.name: f.read_bytes() for f in plan.folder.iterdir()}
    again = spill(read_ranges([path], crs=None, chunk_size=CHUNK), plan, executor=None)
    assert again.parts == totals.parts
    assert {f.name: f.read_bytes() for f in plan.folder.iterdir()} == before

    # Two attempts of one range at once (a unit sent again while the first still runs)
    # interleave their chunks in time but each writes its own files: the parts are whole.
    first, second = (Buckets(plan.folder, plan.codec, suffix=part_suffix(0)) for _ in "ab")
    range_0 = read_ranges([path], crs=None, chunk_size=CHUNK)[0]
    for chunk in iter_points(
        path,
        target_crs=grid.crs,
        bounds=grid.bounds,
        chunk_size=CHUNK,
        start=range_0.start,
        stop=range_0.stop,
    ):
        for tile_id, index in distribute(chunk, grid, plan.tiles):
            first.add(tile_id, chunk, index)
            second.add(tile_id, chunk, index)
    first.commit()
    second.commit()
    assert {f.name: f.read_bytes() for f in plan.folder.iterdir()} == before

    # The same ranges as tasks of a pool write the same parts, byte for byte.
    pooled_plan = _plan(synthetic, tmp_path / "pooled")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pooled = spill(read_ranges([path], crs=None, chunk_size=CHUNK), pooled_plan, executor=pool)
    assert pooled.parts == totals.parts
    np.testing.assert_array_equal(pooled.cell_counts, totals.cell_counts)
    for tile_id, parts in totals.parts.items():
        for k in parts:
            name = f"{tile_id}{part_suffix(k)}.bin"
            assert (pooled_plan.folder / name).read_bytes() == (plan.folder / name).read_bytes()


def test_a_file_outside_the_grid_is_reported_as_such(synthetic: dict, tmp_path: Path) -> None:
    # A range whose points all fall outside the grid adds nothing and names no tile.
    plan = _plan(synthetic, tmp_path / "ranges")
    far = SpillPlan(
        grid=plan.grid.__class__.from_bounds(
            (0.0, 0.0, 100.0, 100.0), crs=plan.grid.crs, resolution=10.0
        ),
        tiles={},
        folder=plan.folder,
        codec=plan.codec,
        chunk_size=CHUNK,
    )
    ranges = read_ranges([synthetic["unclassified"]], crs=None, chunk_size=CHUNK)
    totals = spill(ranges, far, executor=None)
    assert totals.files_inside == set() and totals.parts == {}
    assert not totals.cell_counts.any()


_FORK_AFTER_PARALLEL_DECODE = """
import sys
import laspy
from carbonsink.io.pointclouds import iter_points
from carbonsink.pipeline.executors import local_executor

path = sys.argv[1]

def count(start):
    chunks = iter_points(path, target_crs="EPSG:32650", chunk_size=20_000,
                         start=start, stop=start + 60_000)
    return sum(len(c) for c in chunks)

# The parent decodes on laspy's default backend first (rayon's pool is started) ...
laspy.read(path)
# ... then forks its workers, which decode the ranges.
with local_executor(2) as pool:
    print(sum(pool.map(count, range(0, 180_714, 60_000))))
"""


def test_workers_forked_after_a_parallel_decode_read_their_ranges(
    synthetic: dict, tmp_path: Path
) -> None:
    # The CI's suite hung here: a worker forked after its parent had decoded LAZ on
    # lazrs' rayon pool waited forever on that pool's threads (they do not survive
    # the fork). Run in a fresh interpreter so that the parent's state is this
    # test's; the timeout turns a hang into a failure.
    import laspy

    laz = tmp_path / "cloud.laz"
    las = laspy.read(synthetic["unclassified"])
    las.write(laz, laz_backend=laspy.LazBackend.Lazrs)
    done = subprocess.run(
        [sys.executable, "-c", _FORK_AFTER_PARALLEL_DECODE, str(laz)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 180_714  # every point, read once by one of the 4 ranges
