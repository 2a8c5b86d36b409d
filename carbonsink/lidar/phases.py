"""The tiled chain's long reach in raster space: water and SMRF cells shared between tiles.

A point's water label depends on returns up to ~60 m away, its ground class
on returns up to ~62 m away (their lattice cells, :mod:`carbonsink.lidar.lattice`).
Instead of giving every tile a halo of points that wide — each point read and
processed up to ~3 times — every tile holds its core plus a narrow halo (the
terrain margin and the canopy-floor test's reach, :meth:`LidarOptions.halo_cells`),
and the chain runs in three phases over all tiles, each a batch of tasks:

1. *water cells*: each tile writes the statistics of the 2 m water cells its
   core touches (:meth:`~carbonsink.lidar.water.WaterReturns.cells`);
2. *water*: each tile reads the cells within the water reach of its points,
   labels its water (:func:`~carbonsink.lidar.water.water_surfaces`) and writes
   the lowest eligible return of the 1 m SMRF cells its core touches;
3. *the chain*: each tile reads the SMRF cells within SMRF's reach of its
   points and runs the rest (:func:`~carbonsink.lidar.tile_chain.process_tile_points`).

A cell astride a core edge is written by every tile it touches, each holding
all its points (the halo is wider than a cell): they agree. Tiled and untiled
runs give the same results (docs/design.md §6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from carbonsink.grid import Grid, Tile
from carbonsink.io.pointclouds import PointChunk
from carbonsink.lidar._raster_ops import bin_min
from carbonsink.lidar.ground import SMRFParameters, smrf_surfaces
from carbonsink.lidar.lattice import BlockStore, LatticeWindow, save_whole
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.reading import part_suffix
from carbonsink.lidar.tiling import Codec, load_bucket
from carbonsink.lidar.water import (
    CELL_FILL,
    WaterParameters,
    WaterReference,
    WaterReturns,
    water_surfaces,
)

__all__ = [
    "GROUND",
    "HIGH_NOISE",
    "LOW_NOISE",
    "WATER",
    "Prepared",
    "TilePlan",
    "noise_and_water",
    "run_phases",
    "smrf_window",
]

#: ASPRS classes: 2 ground, 7 low noise, 9 water, 18 high noise.
GROUND, LOW_NOISE, WATER, HIGH_NOISE = 2, 7, 9, 18

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def noise_and_water(
    classification: npt.NDArray[np.uint8],
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Noise (7, 18), given water (9) and the returns water detection looks at.

    The candidates have no class that says what they are (not 2–6, 9) and are
    not noise.
    """
    noise = (classification == LOW_NOISE) | (classification == HIGH_NOISE)
    unclassified = ~np.isin(classification, [GROUND, WATER, 3, 4, 5, 6])
    return noise, classification == WATER, unclassified & ~noise


def smrf_window(within: tuple[float, float, float, float], params: SMRFParameters) -> LatticeWindow:
    """The SMRF cells whose minimum surface the tests of the points ``within`` read.

    The tested points lie within the canopy-floor tests' reach of ``within``
    (:func:`~carbonsink.lidar.ground.smrf`); their cells' surfaces read the
    cells within :meth:`SMRFParameters.reach_m`.
    """
    reach = params.tested_reach_m()
    xmin, ymin, xmax, ymax = within
    tested = LatticeWindow.covering(
        (xmin - reach, ymin - reach, xmax + reach, ymax + reach), params.cell
    )
    return tested.grow_m(params.reach_m())


@dataclass(frozen=True)
class Prepared:
    """What the first two phases give a tile's last: its water and SMRF's minimum surface.

    Attributes
    ----------
    water
        Water (class 9 or detected), one per point of the tile.
    zmin
        The lowest eligible return of the SMRF cells on a lattice window
        (NaN where none), read from every tile's blocks.
    made
        SMRF's surfaces made so far, by window (shared with the quarters).
    """

    water: BoolArray
    zmin: Callable[[LatticeWindow], FloatArray]
    made: dict[LatticeWindow, tuple[FloatArray, FloatArray]] = field(default_factory=dict)

    def select(self, keep: BoolArray) -> Prepared:
        """The same for a subset of the points (a quarter of a crowded tile)."""
        return Prepared(self.water[keep], self.zmin, self.made)

    def surfaces(
        self, window: LatticeWindow, params: SMRFParameters
    ) -> tuple[FloatArray, FloatArray]:
        """SMRF's provisional surface and slope on ``window``.

        Cut from surfaces already made on a window holding it (a quarter's,
        from its tile's: a cell's surfaces depend only on the cells within
        the reach, which both windows hold), else made from the blocks.
        """
        for made, (provisional, slope) in self.made.items():
            where = made.overlap(window)
            # ``made`` holds ``window`` when their overlap is the whole of it.
            if where is not None and where[2:] == (slice(0, window.rows), slice(0, window.cols)):
                rs, cs, _, _ = where
                return provisional[rs, cs], slope[rs, cs]
        result = smrf_surfaces(self.zmin(window), params)
        self.made[window] = result
        return result


@dataclass(frozen=True)
class TilePlan:
    """Everything a tile task needs besides its tile: small, picklable, the same for all.

    Attributes
    ----------
    grid
        The analysis grid.
    folder
        Where the buckets and blocks are (every worker reads it).
    codec
        The buckets' coding.
    options
        Chain settings.
    reference
        What land looks like in the survey (water detection).
    halo
        The point halo (grid cells) of tiles and quarters.
    cores
        ``(tile id, core bounds)`` of every tile holding points.
    parts
        Tile id → the read parts that hold its points, in read order
        (:mod:`carbonsink.lidar.reading`).
    surfaces
        The surfaces (``"dtm"``, ``"chm"``) whose blocks the merge needs; a
        CHM not needed is not made, a DTM not needed not sent back.
    """

    grid: Grid
    folder: Path
    codec: Codec
    options: LidarOptions
    reference: WaterReference | None
    halo: int
    cores: tuple[tuple[str, tuple[float, float, float, float]], ...]
    parts: Mapping[str, tuple[int, ...]]
    surfaces: frozenset[str] = frozenset({"dtm", "chm"})

    @property
    def detects_water(self) -> bool:
        return self.options.ground == "classify" and self.options.water is not None

    @property
    def phased(self) -> bool:
        """Whether SMRF runs (and so the first phases): ``classify`` mode."""
        return self.options.ground == "classify"

    def points(self, tile: Tile) -> PointChunk:
        """The points of a tile (core and halo): its bucket parts, in read order."""
        paths = [self.folder / f"{tile.id}{part_suffix(k)}.bin" for k in self.parts[tile.id]]
        return load_bucket(paths, self.codec)

    def blocks(self, cell: float, window: LatticeWindow) -> list[tuple[str, LatticeWindow]]:
        """The tiles' blocks of ``cell`` metres that overlap ``window``."""
        found = []
        for tile_id, bounds in self.cores:
            block = _block(bounds, cell)
            if window.overlap(block) is not None:
                found.append((tile_id, block))
        return found

    def core_bounds(self, tile: Tile) -> tuple[float, float, float, float]:
        return self.grid.tile_grid(tile, with_halo=False).bounds

    def reach_window(self, tile: Tile, cell: float, reach_m: float) -> LatticeWindow:
        """The cells within ``reach_m`` of the cells a tile's points (core and halo) fall in."""
        xmin, ymin, xmax, ymax = self.core_bounds(tile)
        h = self.halo * self.grid.resolution
        around = LatticeWindow.covering((xmin - h, ymin - h, xmax + h, ymax + h), cell)
        return around.grow_m(reach_m)

    def water_labels(self, tile: Tile) -> BoolArray:
        """The saved water labels of a tile's points (phase 2)."""
        return np.asarray(np.load(self.folder / f"labels-{tile.id}.npy"), dtype=bool)

    def prepared(self, tile: Tile) -> Prepared | None:
        """What phases 1–2 left for a tile's last phase (``None`` in ``trust`` mode)."""
        if not self.phased:
            return None
        store = BlockStore(self.folder, "smrf")
        cell = self.options.smrf.cell

        def zmin(window: LatticeWindow) -> FloatArray:
            return np.asarray(store.window(window, self.blocks(cell, window), (np.nan,))[0])

        return Prepared(self.water_labels(tile), zmin)


def _block(core: tuple[float, float, float, float], cell: float) -> LatticeWindow:
    """The cells a tile writes: those its core touches, and one more all round.

    The extra cell holds the points on the grid's east and south edges, which
    belong to no grid cell but to the edge tiles, and take part in water
    detection and SMRF as in an untiled run (a tile's halo holds every point
    of its block's cells).
    """
    return LatticeWindow.covering(core, cell).grow(1)


def _water_cells_job(tile: Tile, plan: TilePlan) -> None:
    """Phase 1: the statistics of the water cells the tile's core touches."""
    points = plan.points(tile)
    _, _, candidates = noise_and_water(points.classification)
    if not candidates.any():
        return
    returns = _returns(points, candidates, plan)
    block = _block(plan.core_bounds(tile), _water_params(plan).cell)
    BlockStore(plan.folder, "water").save(tile.id, returns.cells(block))


def _water_params(plan: TilePlan) -> WaterParameters:
    params = plan.options.water
    if params is None:
        raise ValueError("water detection is off")
    return params


def _returns(points: PointChunk, candidates: BoolArray, plan: TilePlan) -> WaterReturns:
    if plan.reference is None:
        raise ValueError("water detection needs the survey's land reference")
    # Every point a candidate (an unclassified cloud): the arrays themselves, not a copy of
    # 26 bytes a point (WaterReturns only reads them).
    if candidates.all():
        x, y, z, intensity = points.x, points.y, points.z, points.intensity
    else:
        x, y, z = points.x[candidates], points.y[candidates], points.z[candidates]
        intensity = points.intensity[candidates]
    return WaterReturns.of(x, y, z, intensity, plan.reference, _water_params(plan))


def _water_job(tile: Tile, plan: TilePlan) -> None:
    """Phase 2: the tile's water labels, and the SMRF cells its core touches."""
    points = plan.points(tile)
    noise, water, candidates = noise_and_water(points.classification)
    if plan.detects_water and candidates.any():
        params = _water_params(plan)
        assert plan.reference is not None
        window = plan.reach_window(tile, params.cell, params.reach_m())
        cells = BlockStore(plan.folder, "water").window(
            window, plan.blocks(params.cell, window), CELL_FILL
        )
        surfaces = water_surfaces(cells, window, plan.reference, params)
        returns = _returns(points, candidates, plan)
        water[np.flatnonzero(candidates)] |= returns.labels(surfaces)
    save_whole(plan.folder / f"labels-{tile.id}.npy", water)
    eligible = ~water & ~noise
    if eligible.any():
        block = _block(plan.core_bounds(tile), plan.options.smrf.cell)
        size = block.rows * block.cols
        # Returns outside the block or not eligible go to one bin past it, then dropped.
        flat, _ = block.flat(points.x, points.y, outside=size)
        flat = np.where(eligible, flat, size)
        zmin = bin_min(flat, points.z, size + 1)[:size]
        BlockStore(plan.folder, "smrf").save(tile.id, zmin.reshape(1, *block.shape))


def _run_batch(
    job: Callable[[Tile, TilePlan], None],
    tiles: Sequence[Tile],
    plan: TilePlan,
    executor: Executor | None,
) -> None:
    if executor is None or len(tiles) <= 1:
        for tile in tiles:
            job(tile, plan)
        return
    for future in [executor.submit(job, tile, plan) for tile in tiles]:
        future.result()


def run_phases(
    tiles: Sequence[Tile],
    plan: TilePlan,
    executor: Executor | None,
    progress: Callable[[str, float], None] | None = None,
) -> None:
    """Phases 1 and 2 over every tile (nothing to do in ``trust`` mode).

    Parameters
    ----------
    tiles
        The tiles holding points.
    plan
        The run's plan.
    executor
        Runs the tiles of each phase in parallel (``None``: here).
    progress
        Called with ``(stage, fraction of the phases done)``.
    """
    report = progress or (lambda _stage, _fraction: None)
    if not plan.phased:
        return
    if plan.detects_water:
        _run_batch(_water_cells_job, tiles, plan, executor)
        report("water cells", 0.5)
    _run_batch(_water_job, tiles, plan, executor)
    report("water and ground cells", 1.0)
