"""LiDAR stage: ground, terrain and canopy surfaces, area-based metrics, the tiled chain.

Science only: points are read through :mod:`carbonsink.io.pointclouds`; the
metrics and their units live in one registry, :data:`METRICS`, whose
:data:`BIOMASS_FEATURES` the biomass model takes as features.
"""

from carbonsink.lidar.ground import GroundResult, SMRFParameters, smrf
from carbonsink.lidar.merging import LidarResult
from carbonsink.lidar.metrics import (
    BIOMASS_FEATURES,
    METRICS,
    Metric,
    MetricsSpec,
    MetricWindow,
    area_metrics,
    metrics_for,
)
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.processing import grid_for_files, process_lidar
from carbonsink.lidar.surfaces import (
    Raster,
    canopy_height_model,
    height_above_ground,
    terrain_model,
)
from carbonsink.lidar.tile_chain import TileQA, process_tile_points
from carbonsink.lidar.water import WaterParameters, detect_water, land_reference_density

__all__ = [
    "BIOMASS_FEATURES",
    "METRICS",
    "GroundResult",
    "LidarOptions",
    "LidarResult",
    "Metric",
    "MetricWindow",
    "MetricsSpec",
    "Raster",
    "SMRFParameters",
    "TileQA",
    "WaterParameters",
    "area_metrics",
    "canopy_height_model",
    "detect_water",
    "grid_for_files",
    "height_above_ground",
    "land_reference_density",
    "metrics_for",
    "process_lidar",
    "process_tile_points",
    "smrf",
    "terrain_model",
]
