"""The LiDAR chain on one tile: points -> ground -> DTM -> heights -> CHM -> metrics.

:func:`process_tile_points` runs the chain on the points of one tile window
(halo included). :func:`run_tiles` runs it for every tile — in this process,
in a pool, or on a Dask cluster — and crops each result to the tile core
(:class:`TileResult`), so memory depends on the tile size, not on the file.
A tile job is a top-level function whose arguments pickle (the tile's bucket
file, not its points), so it can be sent to worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonsink.grid import Grid, Tile
from carbonsink.io.pointclouds import PointChunk
from carbonsink.lidar._raster_ops import binary_close, binary_dilate, where, window_cells
from carbonsink.lidar.ground import smrf, smrf_points
from carbonsink.lidar.metrics import area_metrics
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.phases import (
    GROUND,
    WATER,
    Prepared,
    TilePlan,
    noise_and_water,
    smrf_window,
)
from carbonsink.lidar.surfaces import (
    Raster,
    canopy_height_model,
    height_above_ground,
    terrain_model,
)
from carbonsink.lidar.tiling import SPLITS, grid_position, split_tile
from carbonsink.lidar.water import WaterReference, detect_water

__all__ = [
    "PointLabels",
    "TileQA",
    "TileResult",
    "label_points",
    "process_tile_points",
    "run_tiles",
]


@dataclass(frozen=True)
class PointLabels:
    """What the chain takes each point to be (one bool per point, in the points' order).

    Attributes
    ----------
    ground
        Ground (SMRF, or the files' class 2 with ``ground = "trust"``).
    water
        Water (class 9, or detected in an unclassified cloud).
    noise
        Noise (classes 7 and 18): neither ground, water nor vegetation.
    floor
        On a closed canopy's floor: what SMRF's morphology took for ground
        and :func:`~carbonsink.lidar.ground.canopy_floor` did not (never with
        ``ground = "trust"``); not ground.
    """

    ground: npt.NDArray[np.bool_]
    water: npt.NDArray[np.bool_]
    noise: npt.NDArray[np.bool_]
    floor: npt.NDArray[np.bool_]

    def asprs(self, classification: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """ASPRS classes: 2 ground, 9 water, the rest as given (a given 2 not ground: 1)."""
        out = np.array(classification, dtype=np.uint8, copy=True)
        out[(out == GROUND) & ~self.ground] = 1
        out[self.ground] = GROUND
        out[self.water] = WATER
        return out


def label_points(
    points: PointChunk,
    *,
    options: LidarOptions,
    reference: WaterReference | None = None,
    within: tuple[float, float, float, float] | None = None,
    prepared: Prepared | None = None,
) -> PointLabels:
    """Noise, water and ground of a set of points, as the chain labels them.

    Parameters
    ----------
    points
        Points in a projected CRS (metres).
    options
        Chain settings (``ground`` mode, water and SMRF parameters).
    reference
        What land looks like for water detection (the survey's; by default
        from these points).
    within
        ``(xmin, ymin, xmax, ymax)`` of the points whose ground class is
        wanted; SMRF leaves the others' untested (not ground, not floor) but
        reads them (:func:`~carbonsink.lidar.ground.smrf`). Default: all.
    prepared
        The points' water and SMRF's minimum surface from the tiled chain's
        first phases (:mod:`carbonsink.lidar.phases`), in ``classify`` mode
        with ``within``: SMRF then reads the surface rather than bins these
        points, whose halo is narrower than its reach.

    Returns
    -------
    PointLabels
        Class 9 is water and 7 and 18 noise as given; in ``classify`` mode
        water is then detected among the points of no class
        (:func:`~carbonsink.lidar.water.detect_water`) and SMRF finds the
        ground among the rest; in ``trust`` mode class 2 is the ground.
    """
    x, y, z = points.x, points.y, points.z
    cls = points.classification
    noise, water, candidates = noise_and_water(cls)
    if options.ground == "trust":
        none = np.zeros(len(x), dtype=bool)
        return PointLabels(ground=cls == GROUND, water=water, noise=noise, floor=none)
    if prepared is not None:
        water = prepared.water
    elif options.water is not None and candidates.any():
        idx = np.flatnonzero(candidates)
        water[idx] = detect_water(
            x[idx],
            y[idx],
            z[idx],
            intensity=points.intensity[idx],
            reference=reference,
            params=options.water,
        )
    eligible = ~water & ~noise
    if not len(x):
        none = np.zeros(0, dtype=bool)
        return PointLabels(ground=none, water=water, noise=noise, floor=none)
    if prepared is None or within is None:
        found = smrf(x, y, z, params=options.smrf, eligible=eligible, within=within)
    else:
        window = smrf_window(within, options.smrf)
        found = smrf_points(
            x,
            y,
            z,
            eligible=eligible,
            within=within,
            window=window,
            surfaces=prepared.surfaces(window, options.smrf),
            params=options.smrf,
        )
    return PointLabels(ground=found.ground, water=water, noise=noise, floor=found.floor)


@dataclass(frozen=True)
class TileQA:
    """Quality figures of one tile."""

    tile: str
    points: int
    ground_fraction: float
    water_fraction: float
    canopy_floor_fraction: float
    dtm_gap_fraction: float
    seconds: float


@dataclass(frozen=True)
class TileResult:
    """The results of one tile (or part of a tile), cropped to its core.

    Attributes
    ----------
    tile
        The tile; its core is where the results go in the grid.
    metrics
        Metric layers on the core's cells of the analysis grid.
    dtm, chm
        The DTM and CHM blocks of the core, at their own cell sizes (``None``
        when the run needs none: :attr:`~carbonsink.lidar.phases.TilePlan.surfaces`).
    qa
        The tile's quality figures.
    """

    tile: Tile
    metrics: dict[str, npt.NDArray[np.float64]]
    dtm: npt.NDArray[np.float32] | None
    chm: npt.NDArray[np.float32] | None
    qa: TileQA


def process_tile_points(
    points: PointChunk,
    *,
    window: Grid,
    options: LidarOptions,
    reference: WaterReference | None = None,
    core: Grid | None = None,
    prepared: Prepared | None = None,
    chm: bool = True,
) -> tuple[dict[str, npt.NDArray[np.float64]], Raster, Raster | None, dict[str, float]]:
    """Run the chain on the points of one tile window (halo included).

    Parameters
    ----------
    points
        The tile's points in the grid CRS (metres).
    window
        The tile's halo window of the analysis grid.
    options
        Chain settings.
    reference
        What land looks like (density, intensity) for water detection; the
        same for every tile of a run (:func:`~carbonsink.lidar.water.detect_water`).
    core
        The part of ``window`` whose results are wanted (a sub-window on the
        same cells; default: all of it). Without ``prepared``, water and
        ground are found with every point of ``window``; the per-point ground tests, the terrain,
        heights and CHM are made only over the core and the margin they read
        (:meth:`~carbonsink.lidar.options.LidarOptions.inner_margin_m`, whole
        DTM and CHM cells), the metrics over the core's cells — where the
        halo's points are read, not processed.
    prepared
        The points' water and SMRF's minimum surface from the tiled chain's
        first phases (:func:`label_points`); then the window's points need
        only reach the canopy-floor test's margin beyond the core's.
    chm
        Whether to make the CHM (the metrics do not read it).

    Returns
    -------
    metrics, dtm, chm, qa
        Metric layers on ``core``, the DTM and CHM rasters covering it (the
        CHM ``None`` when not asked for), and QA figures of the points inside it.
    """
    if core is None:
        core = window
    inner = _inner_bounds(window, core, options)
    labels = label_points(
        points, options=options, reference=reference, within=inner, prepared=prepared
    )
    near = _inside(points.x, points.y, inner)
    if near.all():
        x, y, z = points.x, points.y, points.z
        noise, ground, water, floor = labels.noise, labels.ground, labels.water, labels.floor
    else:
        x, y, z = points.x[near], points.y[near], points.z[near]
        noise, ground = labels.noise[near], labels.ground[near]
        water, floor = labels.water[near], labels.floor[near]
    # Noise enters no surface and no metric; most clouds have none (no copies then).
    if noise.any():
        keep = ~noise
        xk, yk, zk = x[keep], y[keep], z[keep]
        ground_k, water_k, floor_k = ground[keep], water[keep], floor[keep]
    else:
        xk, yk, zk, ground_k, water_k, floor_k = x, y, z, ground, water, floor
    support = _support(xk, yk, inner, options.dtm_cell)
    gx, gy, gz = where(ground, x, y, z)
    dtm, filled = terrain_model(gx, gy, gz, bounds=inner, cell=options.dtm_cell, support=support)
    heights = height_above_ground(xk, yk, zk, dtm)
    canopy = None
    if chm:
        dry = ~water_k
        canopy = canopy_height_model(
            *((xk, yk, heights) if dry.all() else (xk[dry], yk[dry], heights[dry])),
            bounds=inner,
            cell=options.chm_cell,
            pit_free=options.pit_free,
        )
    # The metrics of a cell read only its own returns and the DTM under it: made on
    # the core's cells (returns outside them are dropped).
    cx0, _, _, cy1 = core.bounds
    metrics = area_metrics(
        xk,
        yk,
        heights,
        ground=ground_k,
        water=water_k,
        dtm=dtm,
        x0=cx0,
        y1=cy1,
        cell=core.resolution,
        shape=core.shape,
        spec=options.metrics,
        floor=floor_k,
    )
    rows, cols = _cells_under(dtm, core.bounds)
    filled, support = filled[rows, cols], support[rows, cols]
    dtm = _crop_raster(dtm, core.bounds)
    canopy = None if canopy is None else _crop_raster(canopy, core.bounds)
    mine = _inside(x, y, core.bounds)
    n = max(int(mine.sum()), 1)
    qa = {
        "points": float(mine.sum()),
        "ground_fraction": float(np.count_nonzero(ground & mine) / n),
        "water_fraction": float(np.count_nonzero(water & mine) / n),
        "canopy_floor_fraction": float(np.count_nonzero(floor & mine) / n),
        "dtm_gap_fraction": float(filled.sum() / max(support.sum(), 1)),
    }
    return metrics, dtm, canopy, qa


def _inner_bounds(
    window: Grid, core: Grid, options: LidarOptions
) -> tuple[float, float, float, float]:
    """The core grown by the terrain margin (whole DTM and CHM cells), within the window.

    :meth:`~carbonsink.lidar.options.LidarOptions.inner_margin_m` is a whole
    number of DTM cells and of CHM cells that floating point holds exactly
    (else whole grid cells), so the terrain and canopy rasters made on these
    bounds lie on the same cells as an untiled run's.
    """
    wx0, wy0, wx1, wy1 = window.bounds
    cx0, cy0, cx1, cy1 = core.bounds
    tolerance = 1e-6 * window.resolution
    if (
        cx0 < wx0 - tolerance
        or cy0 < wy0 - tolerance
        or cx1 > wx1 + tolerance
        or cy1 > wy1 + tolerance
    ):
        raise ValueError(f"the core {core.bounds} is not inside the window {window.bounds}")
    grow = options.inner_margin_m(window.resolution)
    cells = grow / window.resolution
    if abs(cells - round(cells)) < 1e-9:  # whole grid cells: the grid's own cell edges
        r = round((wy1 - cy1) / window.resolution)
        c = round((cx0 - wx0) / window.resolution)
        g = round(cells)
        r0, c0 = max(0, r - g), max(0, c - g)
        r1 = min(window.height, r + core.height + g)
        c1 = min(window.width, c + core.width + g)
        return window.window_grid((r0, c0, r1 - r0, c1 - c0)).bounds
    return (max(wx0, cx0 - grow), max(wy0, cy0 - grow), min(wx1, cx1 + grow), min(wy1, cy1 + grow))


def _cells_under(raster: Raster, bounds: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """Rows and columns of a raster's cells under ``bounds`` (on its cells)."""
    xmin, ymin, xmax, ymax = bounds
    c0 = round((xmin - raster.x0) / raster.cell)
    r0 = round((raster.y1 - ymax) / raster.cell)
    return (
        slice(r0, r0 + round((ymax - ymin) / raster.cell)),
        slice(c0, c0 + round((xmax - xmin) / raster.cell)),
    )


def _crop_raster(raster: Raster, bounds: tuple[float, float, float, float]) -> Raster:
    """A raster's part under ``bounds`` (on its cells)."""
    rows, cols = _cells_under(raster, bounds)
    return Raster(
        raster.values[rows, cols],
        raster.x0 + cols.start * raster.cell,
        raster.y1 - rows.start * raster.cell,
        raster.cell,
    )


def _inside(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], bounds: tuple[float, ...]
) -> npt.NDArray[np.bool_]:
    """Points in a window's cells (x in [xmin, xmax), y in (ymin, ymax], as the grid bins)."""
    xmin, ymin, xmax, ymax = bounds
    return (x >= xmin) & (x < xmax) & (y > ymin) & (y <= ymax)


def _support(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    bounds: tuple[float, float, float, float],
    cell: float,
) -> npt.NDArray[np.bool_]:
    """DTM cells the LiDAR covers: cells holding a return, small holes closed, grown by 1."""
    xmin, ymin, xmax, ymax = bounds
    cols = max(1, round((xmax - xmin) / cell))
    rows = max(1, round((ymax - ymin) / cell))
    flat, _ = window_cells(x, y, x0=xmin, y1=ymax, cell=cell, shape=(rows, cols))
    hit = np.zeros(rows * cols, dtype=bool)
    hit[flat] = True
    grid = hit.reshape(rows, cols)
    closed = binary_close(grid, iterations=2)
    # The 3 × 3 square: diagonal neighbours too, bilinear reads them.
    return binary_dilate(grid | closed)


def _tile_job(tile: Tile, plan: TilePlan) -> list[TileResult]:
    """Process one tile's bucket (the last phase); a crowded tile is processed in parts.

    SMRF's surfaces are made once for the tile's window; its parts read theirs from them.
    """
    prepared = plan.prepared(tile)
    if prepared is not None:
        inner = _inner_bounds(
            plan.grid.tile_grid(tile, with_halo=True),
            plan.grid.tile_grid(tile, with_halo=False),
            plan.options,
        )
        prepared.surfaces(smrf_window(inner, plan.options.smrf), plan.options.smrf)
    return list(_process_tile(plan.points(tile), tile, plan, prepared))


def _process_tile(
    points: PointChunk, tile: Tile, plan: TilePlan, prepared: Prepared | None
) -> Iterator[TileResult]:
    """Results for a tile, cut in halves or quarters (recursively) while it is crowded.

    Tile sizes come from the header's point density, which underestimates the
    density of a cloud covering only part of its bounding box (a rotated
    flight strip); processing crowded tiles in parts keeps memory near the
    ``points_per_tile`` target. The cut is the one of :data:`~carbonsink.lidar.tiling.SPLITS`
    (north and south halves, west and east halves, quarters) whose parts hold
    at most 75 % of the tile's points each and 1.5 times its points together
    (their halos), preferring parts within the limit and, among those, the
    fewest points processed: two halves add one halo where four quarters add
    two (the medium survey's crowded tiles: 1.07–1.08 instead of 1.24–1.25 times their
    points). Each part takes the points of its own halo window from the
    parent's (core plus halo, a superset), so the results do not depend on
    the cut.
    """
    grid, options = plan.grid, plan.options
    limit = int(1.5 * options.points_per_tile)
    if len(points) > limit and (tile.core[2] > 1 or tile.core[3] > 1):
        cell = _window_cell(grid, tile, points)
        parts = _best_split(tile, plan, cell, limit)
        # A part's points: those whose cell of the tile's window lies in the part's (one
        # lookup a point; the tile's points all lie in its window, as the buckets hold them).
        hr0, hc0, hh0, hw0 = tile.halo
        masks = []
        for hr, hc, hh, hw in (part.halo for part in parts):
            table = np.zeros((hh0, hw0), dtype=bool)
            table[hr - hr0 : hr - hr0 + hh, hc - hc0 : hc - hc0 + hw] = True
            masks.append(table.ravel()[cell])
        del cell  # 8 bytes a point, not held while the parts run
        if parts:
            for part, inside in zip(parts, masks, strict=True):
                yield from _process_tile(
                    points.select(inside),
                    part,
                    plan,
                    None if prepared is None else prepared.select(inside),
                )
            return
    start = time.perf_counter()
    metrics, dtm, chm, qa = process_tile_points(
        points,
        window=grid.tile_grid(tile, with_halo=True),
        options=options,
        reference=plan.reference,
        core=grid.tile_grid(tile, with_halo=False),
        prepared=prepared,
        chm="chm" in plan.surfaces,
    )
    yield TileResult(
        tile=tile,
        metrics=metrics,
        dtm=dtm.values.astype(np.float32) if "dtm" in plan.surfaces else None,
        chm=None if chm is None else chm.values.astype(np.float32),
        qa=TileQA(
            tile=tile.id,
            points=int(qa["points"]),
            ground_fraction=qa["ground_fraction"],
            water_fraction=qa["water_fraction"],
            canopy_floor_fraction=qa["canopy_floor_fraction"],
            dtm_gap_fraction=qa["dtm_gap_fraction"],
            seconds=time.perf_counter() - start,
        ),
    )


def _window_cell(grid: Grid, tile: Tile, points: PointChunk) -> npt.NDArray[np.intp]:
    """Each point's flat cell in the tile's halo window (row-major), from its grid position."""
    hr0, hc0, hh0, hw0 = tile.halo
    row_f, col_f = grid_position(grid, points.x, points.y)
    rows = np.clip(row_f.astype(np.intp) - hr0, 0, hh0 - 1)
    cols = np.clip(col_f.astype(np.intp) - hc0, 0, hw0 - 1)
    return np.asarray(rows * hw0 + cols, dtype=np.intp)


def _best_split(tile: Tile, plan: TilePlan, cell: npt.NDArray[np.intp], limit: int) -> list[Tile]:
    """The parts (holding points) of the cut :func:`_process_tile` takes; none when none pays.

    A cut pays when its parts hold at most 75 % of the tile's points each and
    1.5 times its points together: a halo about as wide as the core leaves
    every part's window nearly as full as the parent's, and cutting on would
    multiply the work without bounding the memory (a dense drone tile of 160 m,
    its window 200 m, cut into 80 m quarters with 40 m halos processed 1.96
    times its points, and ran 40 % slower). The parts' points are counted from
    one histogram of the tile's window (``cell``: :func:`_window_cell`).
    """
    hr0, hc0, hh0, hw0 = tile.halo
    n_points = len(cell)
    per_cell = np.bincount(cell, minlength=hh0 * hw0).reshape(hh0, hw0)
    best: tuple[tuple[bool, int], list[Tile]] | None = None
    for cut_rows, cut_cols in SPLITS:
        parts = split_tile(plan.grid, tile, plan.halo, rows=cut_rows, cols=cut_cols)
        if len(parts) < 2:
            continue
        held = []
        for part in parts:
            r, c, h, w = part.halo
            n = int(per_cell[r - hr0 : r - hr0 + h, c - hc0 : c - hc0 + w].sum())
            if n:
                held.append((part, n))
        # The parts' windows cover the tile's: some part holds points.
        sizes = [n for _, n in held]
        if max(sizes) > 0.75 * n_points or sum(sizes) > 1.5 * n_points:
            continue
        key = (max(sizes) > limit, sum(sizes))
        if best is None or key < best[0]:
            best = (key, [part for part, _ in held])
    return [] if best is None else best[1]


def run_tiles(jobs: list[Tile], plan: TilePlan, executor: Executor | None) -> Iterator[TileResult]:
    """Tile results in job order (serial, or from the executor as they finish).

    Parameters
    ----------
    jobs
        The tiles to process; each has a bucket in the plan's folder, and the
        first phases have run (:func:`~carbonsink.lidar.phases.run_phases`).
    plan
        The run's plan.
    executor
        Runs the tiles in parallel (results identical to a serial run);
        ``None`` runs them here.

    Yields
    ------
    TileResult
        One per tile, or one per part of a crowded tile.
    """
    if executor is None or len(jobs) <= 1:  # one tile: no pool start-up to pay
        for tile in jobs:
            yield from _tile_job(tile, plan)
        return
    futures = [executor.submit(_tile_job, tile, plan) for tile in jobs]
    for future in futures:
        yield from future.result()
