"""The LiDAR chain's read: each file cut into equal ranges, spilled to tiles in parallel.

Every point must be decoded, reprojected and handed to the tiles that hold it
(:func:`~carbonsink.lidar.tiling.distribute`) before any tile can start. Done
in one process that is a serial stretch as long as the rest of the chain on
two cores; so each file is cut into an even number of equal ranges
(:func:`read_ranges`), and each range is a task (:func:`spill_range`) that
reads its points from their place in the file, counts the returns per grid
cell and their intensities (the land reference of water detection), and
appends them to its own part of each tile's bucket. A tile's points are then
its parts in range order — the file order of a whole read (a point's
handling does not depend on the chunk it is read in), so the results do not
depend on how the ranges ran.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.grid import Grid, Tile
from carbonsink.io.point_chunks import CHAIN_LAYERS
from carbonsink.io.pointclouds import PointChunk, iter_points, read_lidar_info
from carbonsink.lidar.tiling import Buckets, Codec, distribute

__all__ = [
    "ReadRange",
    "Spill",
    "SpillPlan",
    "SpillTotals",
    "land_counts",
    "read_ranges",
    "spill",
    "spill_range",
]

#: Chunks in one read task: few enough that a file makes several tasks.
CHUNKS_PER_RANGE = 2

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ReadRange:
    """Points ``start`` to ``stop − 1`` of one file, the ``part``-th range of the read."""

    path: Path
    crs: Any
    start: int
    stop: int
    part: int


@dataclass(frozen=True)
class SpillPlan:
    """What every read task shares: the grid, its tiles and where the buckets go."""

    grid: Grid
    tiles: dict[tuple[int, int], Tile]
    folder: Path
    codec: Codec
    chunk_size: int


@dataclass(frozen=True)
class Spill:
    """What one range gave, sparse (a range covers a strip of the grid, not all of it).

    Attributes
    ----------
    part
        The range's place in the read.
    cells, counts
        The analysis-grid cells (flat index) the range's returns fall in, and
        how many fall in each.
    levels, intensities
        The intensity values of its returns, and how many have each.
    tiles
        The tiles that received points (each has a bucket part ``part``).
    """

    part: int
    cells: IntArray
    counts: IntArray
    levels: IntArray
    intensities: IntArray
    tiles: tuple[str, ...]


@dataclass
class SpillTotals:
    """Every range's spill added up, in read order.

    Attributes
    ----------
    cell_counts
        Returns per analysis-grid cell (flat).
    intensities
        Histogram of the returns' intensities (index = intensity).
    parts
        Tile id → the parts holding its points, in read order.
    files_inside
        The files with at least one return inside the grid.
    """

    cell_counts: IntArray
    intensities: IntArray
    parts: dict[str, list[int]]
    files_inside: set[Path]

    def add(self, spilled: Spill, path: Path) -> None:
        """Add one range's spill (ranges in read order)."""
        self.cell_counts[spilled.cells] += spilled.counts
        self.intensities[spilled.levels] += spilled.intensities
        for tile_id in spilled.tiles:
            self.parts.setdefault(tile_id, []).append(spilled.part)
        if spilled.counts.size:
            self.files_inside.add(path)


def land_counts(points: PointChunk, grid: Grid) -> tuple[IntArray, IntArray]:
    """Returns per grid cell (flat) and the intensity histogram of the points inside the grid."""
    row, col = grid.index(points.x, points.y)
    ok = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    intensity = points.intensity
    # A read inside the grid's bounds has every point in, but those on its east and
    # south edges (closed bounds): most chunks need no selection.
    if not ok.all():
        row, col, intensity = row[ok], col[ok], intensity[ok]
    counts = np.bincount(row * grid.width + col, minlength=grid.width * grid.height)
    return counts, np.bincount(intensity, minlength=2**16)


def read_ranges(
    paths: Sequence[Path],
    *,
    crs: Any,
    chunk_size: int,
    chunks_per_range: int = CHUNKS_PER_RANGE,
) -> list[ReadRange]:
    """Each file's points cut into an even number of equal ranges, in read order.

    Parameters
    ----------
    paths
        The LAS/LAZ files, in the order they are read.
    crs
        The survey's CRS for the files (overrides or completes their headers').
    chunk_size
        Points decoded per step (:class:`~carbonsink.lidar.options.LidarOptions`).
    chunks_per_range
        Chunks in one range at most.

    Returns
    -------
    list of ReadRange
        One per range; ``part`` numbers them in read order. A file without
        points gives one empty range.

    Notes
    -----
    A file of n points makes k = ⌈n / (``chunk_size`` × ``chunks_per_range``)⌉
    ranges, one more when k is odd and above 1, each of ⌈n / k⌉ points (the
    last the rest): two workers then finish a file's ranges together, where
    whole chunks left one range of a few points for one worker while the
    other waited (5 million points in chunks of a million: 2 + 2 + 1 million).
    """
    span = chunk_size * chunks_per_range
    ranges: list[ReadRange] = []
    for path in paths:
        count = read_lidar_info(path, crs=crs).point_count
        k = max(1, -(-count // span))
        k += k % 2 if k > 1 else 0
        size = max(1, -(-count // k))
        for start in range(0, max(count, 1), size):
            ranges.append(ReadRange(path, crs, start, min(start + size, count), len(ranges)))
    return ranges


def part_suffix(part: int) -> str:
    """The bucket file suffix of a read part (tile ``t``'s part 3 is ``t-00003.bin``)."""
    return f"-{part:05d}"


def spill_range(job: ReadRange, plan: SpillPlan) -> Spill:
    """Read one range and write its points to the tiles' bucket parts.

    Parameters
    ----------
    job
        The range.
    plan
        The grid, its tiles and the buckets' folder and coding.

    Returns
    -------
    Spill
        The range's returns per grid cell and intensity, and the tiles it wrote.

    Notes
    -----
    The points are read inside the grid's bounds (closed), in the grid's CRS
    (:func:`~carbonsink.io.pointclouds.iter_points`). Each part file is
    written whole under a temporary name and renamed at the end, so a task
    run again (a lost worker, a dropped connection) replaces it with the same
    bytes, even while the first attempt still runs.
    """
    grid = plan.grid
    buckets = Buckets(plan.folder, plan.codec, suffix=part_suffix(job.part))
    cell_counts = np.zeros(grid.width * grid.height, dtype=np.int64)
    intensities = np.zeros(2**16, dtype=np.int64)
    for chunk in iter_points(
        job.path,
        target_crs=grid.crs,
        bounds=grid.bounds,
        crs=job.crs,
        chunk_size=plan.chunk_size,
        start=job.start,
        stop=job.stop,
        layers=CHAIN_LAYERS,
    ):
        counts, histogram = land_counts(chunk, grid)
        cell_counts += counts
        intensities += histogram
        for tile_id, index in distribute(chunk, grid, plan.tiles):
            buckets.add(tile_id, chunk, index)
    buckets.commit()
    cells = np.flatnonzero(cell_counts)
    levels = np.flatnonzero(intensities)
    return Spill(
        job.part, cells, cell_counts[cells], levels, intensities[levels], tuple(buckets.files)
    )


def spill(
    ranges: Sequence[ReadRange],
    plan: SpillPlan,
    *,
    executor: Executor | None,
    progress: Callable[[float], None] | None = None,
) -> SpillTotals:
    """Every range spilled (here, or as tasks of ``executor``) and added up in read order.

    Parameters
    ----------
    ranges
        The ranges (:func:`read_ranges`).
    plan
        The grid, its tiles and the buckets' folder and coding.
    executor
        Runs the ranges in parallel (``None``: here); the buckets and totals
        do not depend on it.
    progress
        Called with the fraction of the ranges done.

    Returns
    -------
    SpillTotals

    Raises
    ------
    InputError, CRSError
        A file cannot be read (after the other ranges have stopped, so
        nothing still writes to the buckets' folder).
    """
    report = progress or (lambda _fraction: None)
    grid = plan.grid
    totals = SpillTotals(
        cell_counts=np.zeros(grid.width * grid.height, dtype=np.int64),
        intensities=np.zeros(2**16, dtype=np.int64),
        parts={},
        files_inside=set(),
    )
    if executor is None or len(ranges) <= 1:
        for done, job in enumerate(ranges, start=1):
            totals.add(spill_range(job, plan), job.path)
            report(done / len(ranges))
        return totals
    futures = [executor.submit(spill_range, job, plan) for job in ranges]
    try:
        for done, (job, future) in enumerate(zip(ranges, futures, strict=True), start=1):
            totals.add(future.result(), job.path)
            report(done / len(ranges))
    except BaseException:
        for future in futures:
            future.cancel()
        for future in futures:  # let the running ones finish before the folder goes
            with contextlib.suppress(BaseException):
                future.result()
        raise
    return totals
