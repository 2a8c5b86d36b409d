"""Settings of the LiDAR chain, and the halo every tile needs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from carbonsink.lidar.ground import SMRFParameters
from carbonsink.lidar.metrics import MetricsSpec
from carbonsink.lidar.surfaces import DTM_FILL_REACH, DTM_FILL_SWEEPS
from carbonsink.lidar.water import WaterParameters

__all__ = ["LidarOptions"]


@dataclass(frozen=True)
class LidarOptions:
    """Settings of the LiDAR chain.

    Attributes
    ----------
    ground
        ``"classify"`` runs SMRF; ``"trust"`` uses the files' class 2 as ground.
    smrf
        Ground filter parameters (PDAL defaults).
    water
        Water detection for unclassified clouds; ``None`` disables it (class 9
        is always water).
    dtm_cell, chm_cell
        Cell sizes (m) of the DTM and the CHM; they must divide the grid resolution.
    pit_free
        Apply the pit filter to the CHM.
    metrics
        Percentiles and cover thresholds of the area-based metrics.
    points_per_tile
        Target number of points per tile; the tile size follows from the
        point density in the file headers.
    chunk_size
        Points decoded per read step.
    """

    ground: Literal["classify", "trust"] = "classify"
    smrf: SMRFParameters = field(default_factory=SMRFParameters)
    water: WaterParameters | None = field(default_factory=WaterParameters)
    dtm_cell: float = 1.0
    chm_cell: float = 0.5
    pit_free: bool = False
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    points_per_tile: int = 2_000_000
    chunk_size: int = 1_000_000

    def halo_cells(self, resolution: float) -> int:
        """Halo (grid cells of ``resolution`` m) of points every tile holds around its core.

        The long reach — a point's water label depends on returns within
        :meth:`WaterParameters.reach_m` (~60 m), its ground class on returns
        within :meth:`SMRFParameters.reach_m` (~62 m) — is carried by cell
        statistics the tiles share (:mod:`carbonsink.lidar.phases`), not by
        points. The points must reach what the core's results read point by
        point: the inner window, the core grown by :meth:`inner_margin_m`; in
        ``classify`` mode SMRF's tested region beyond it (:meth:`tested_reach_m`)
        and the SMRF cell its last points fall in; and at least two water or
        SMRF cells, the reach of the blocks a tile writes (the cells its core
        touches and one more all round, :func:`~carbonsink.lidar.phases.run_phases`).
        With the defaults: ⌈(13 + 13 + 1) / 10⌉ = 3 cells of a 10 m grid.
        """
        reach = self.inner_margin_m(resolution)
        if self.ground == "trust":
            return math.ceil(reach / resolution - 1e-9)
        cell = self.smrf.cell
        tested = math.ceil((reach + self.tested_reach_m() + cell) / resolution - 1e-9)
        water_cell = self.water.cell if self.water is not None else 0.0
        blocks = math.ceil(2 * max(cell, water_cell) / resolution - 1e-9)
        return max(tested, blocks)

    def inner_margin_m(self, resolution: float) -> float:
        """:meth:`terrain_margin_m` rounded up to whole DTM and CHM cells, or grid cells (m).

        A tile's terrain and canopy rasters cover its core grown by this
        margin, and must lie on an untiled run's cells: the core's edges are
        on both lattices (the cells divide the grid's), and so are the
        margin's when it is a whole number of both cells — 13 m for the
        default 1 m DTM and 0.5 m CHM (12.5 m rounded up). That length is
        used when floating point holds it exactly (a binary fraction, as 13
        or 6.5); otherwise (0.2 m cells give 2.6 m, which it does not: the
        tile's origin would sit 1e-11 m off the lattice and points on a cell
        line would change cells) the margin is rounded up to whole cells of
        the ``resolution`` m grid, whose edges the grid itself computes.
        """
        step = _common_multiple(self.dtm_cell, self.chm_cell)
        margin = step * math.ceil(self.terrain_margin_m() / step - 1e-9)
        if margin.denominator & (margin.denominator - 1) == 0:  # a power of two: exact
            return float(margin)
        return resolution * math.ceil(self.terrain_margin_m() / resolution - 1e-9)

    def tested_reach_m(self) -> float:
        """How far (m) beyond a tile's inner window SMRF tests points.

        The canopy-floor tests of the inner window's cells read the classes of
        the points within :meth:`SMRFParameters.floor_reach_cells` SMRF cells,
        and one cell more: the window's edge need not fall on an SMRF cell's
        (:func:`~carbonsink.lidar.ground.smrf`).
        """
        return self.smrf.tested_reach_m()

    def terrain_reach_m(self) -> float:
        """How far (m) the terrain of a cell, and one cell beyond it, reads ground returns.

        The DTM fill reaches :data:`~carbonsink.lidar.surfaces.DTM_FILL_REACH`
        cells in :data:`~carbonsink.lidar.surfaces.DTM_FILL_SWEEPS` sweeps (the
        cells the LiDAR covers, which bound the fill, read 5 cells: fewer), and
        a point's height or a cell's slope reads the DTM one cell away.
        """
        return (DTM_FILL_REACH + DTM_FILL_SWEEPS + 1) * self.dtm_cell

    def terrain_margin_m(self) -> float:
        """Margin (m) around a tile's core inside which the terrain, heights and CHM are made.

        The core's results need the DTM within one cell of it
        (:meth:`terrain_reach_m`) and the CHM's pit filter one CHM cell beyond
        the core, whose returns' heights read the DTM one more cell away.
        """
        return self.terrain_reach_m() + self.dtm_cell + self.chm_cell


def _common_multiple(a: float, b: float) -> Fraction:
    """The least common multiple of two cell sizes (m), exactly, as a fraction of a millimetre."""
    fa = Fraction(a).limit_denominator(1000)
    fb = Fraction(b).limit_denominator(1000)
    denominator = math.lcm(fa.denominator, fb.denominator)
    na, nb = int(fa * denominator), int(fb * denominator)
    return Fraction(math.lcm(na, nb), denominator)
