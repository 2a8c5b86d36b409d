"""Settings of the LiDAR chain, and the halo every tile needs."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def halo_m(self) -> float:
        """Halo width (m) every tile needs for its core to match an untiled run.

        A point's ground class depends on data within
        :meth:`SMRFParameters.reach_m` (about twice the window) — and on the
        water labels there, each of which depends on data within
        :meth:`WaterParameters.reach_m` (when water is detected: ``classify``
        mode) — and a DTM cell on ground within the
        DTM fill's reach and sweeps plus one cell
        (:data:`~carbonsink.lidar.surfaces.DTM_FILL_REACH`).
        """
        detects = self.water is not None and self.ground == "classify"
        water = self.water.reach_m() if self.water is not None and detects else 0.0
        # The core's CHM cells read one CHM cell beyond it (the pit filter), whose
        # returns' heights read the terrain there.
        return self.smrf.reach_m() + water + self.terrain_reach_m() + self.chm_cell

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
