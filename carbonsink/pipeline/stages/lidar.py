"""LiDAR stage: an epoch's point clouds → ground, DTM, heights, CHM and metrics on the grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from carbonsink.config import Epoch
from carbonsink.io.writers import write_csv, write_netcdf
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OutputFolder

if TYPE_CHECKING:
    from carbonsink.lidar.merging import LidarResult

__all__ = ["epoch_lidar", "write_lidar_products"]


def epoch_lidar(ctx: RunContext, epoch: Epoch) -> LidarResult | None:
    """The LiDAR chain on every point cloud of an epoch; ``None`` when it has none.

    The epoch's LiDAR entries share one ``crs`` and ``ground`` setting (the
    survey file is refused otherwise), which the chain takes.
    """
    from carbonsink.lidar.options import LidarOptions
    from carbonsink.lidar.processing import process_lidar

    files = [f for entry in epoch.lidar for f in entry.files()]
    if not files:
        return None
    entry = epoch.lidar[0]
    return process_lidar(
        files,
        ctx.grid,
        crs=entry.crs,
        options=LidarOptions(ground=entry.ground),
        executor=ctx.executor,
    )


def write_lidar_products(result: LidarResult, folder: OutputFolder) -> list[Path]:
    """Write the metrics cube (NetCDF) and the per-tile QA table (CSV).

    The DTM and CHM were written by the chain itself (it streams them tile
    by tile) to the paths it was given; they are listed too.
    """
    written = [
        write_netcdf(result.metrics, folder.path("lidar_metrics")),
        write_csv(result.qa, folder.path("lidar_qa"), float_format="%.6g"),
    ]
    for path in (result.dtm_path, result.chm_path):
        if path is not None:
            written.append(path)
    return written
