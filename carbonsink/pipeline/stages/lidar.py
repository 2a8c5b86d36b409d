"""LiDAR stage: an epoch's point clouds → ground, DTM, heights, CHM and metrics on the grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.config import Epoch
from carbonsink.i18n import gettext as _
from carbonsink.io.writers import write_csv, write_netcdf
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.outputs import OutputFolder

if TYPE_CHECKING:
    from carbonsink.lidar.merging import LidarResult
    from carbonsink.lidar.water import WaterEvidence
    from carbonsink.pipeline.stages.epoch import EpochResults

__all__ = [
    "epoch_lidar",
    "epoch_water_evidence",
    "terrain_warnings",
    "unsupported_ha",
    "write_lidar_products",
]


def epoch_water_evidence(
    ctx: RunContext, epoch: Epoch, mndwi: xr.DataArray | None = None
) -> WaterEvidence | None:
    """Where the epoch's survey knows water stood, on the analysis grid; ``None`` without.

    The union of the cells whose centre lies in the ``water_evidence``
    polygons and, with ``imagery = true``, of the cells whose composite MNDWI
    exceeds ``mndwi_threshold`` (docs/methodology.md §8.1).

    Parameters
    ----------
    ctx
        The run (grid, survey CRS).
    epoch
        The epoch; its ``water_evidence`` entry is read.
    mndwi
        The epoch composite's MNDWI on the grid (needed with ``imagery = true``).

    Raises
    ------
    InputError, CRSError
        The polygon file is missing, unreadable, holds no polygons or has no CRS.
    """
    from carbonsink.errors import InputError
    from carbonsink.lidar.processing import grid_evidence, polygon_evidence

    entry = epoch.water_evidence
    if entry is None:
        return None
    grid = ctx.grid
    mask = np.zeros(grid.shape, dtype=bool)
    sources: list[str] = []
    if entry.polygons is not None:
        drawn = polygon_evidence(entry.polygons, grid, crs=entry.crs, layer=entry.layer)
        if not (drawn.mask & ctx.inside.values.astype(bool)).any():
            raise InputError(
                "no water polygon covers a cell centre inside the project boundary",
                path=entry.polygons,
                fix="check the polygons' CRS, or draw the water surfaces inside the project",
            )
        mask |= drawn.mask
        sources.extend(drawn.sources)
    if entry.imagery:
        if mndwi is None:
            raise InputError(
                "water_evidence.imagery needs the epoch's composite, which has no MNDWI layer",
                where=f"epoch {epoch.name!r}",
                fix="give the epoch imagery with a SWIR band, or set imagery = false",
            )
        values = np.asarray(mndwi.values, dtype=np.float64)
        mask |= np.nan_to_num(values, nan=-np.inf) > entry.mndwi_threshold
        sources.append(f"imagery MNDWI > {entry.mndwi_threshold:g}")
    return grid_evidence(mask, grid, tuple(sources))


def epoch_lidar(
    ctx: RunContext,
    epoch: Epoch,
    mndwi: xr.DataArray | None = None,
    checkpoints: pd.DataFrame | None = None,
) -> LidarResult | None:
    """The LiDAR chain on every point cloud of an epoch; ``None`` when it has none.

    The result holds neither the DTM nor the CHM (its outputs are the
    metrics); the DTM is sampled at the ``checkpoints`` (``x``, ``y`` in the
    survey CRS) as its tiles are merged (:attr:`LidarResult.dtm_at`, for
    :func:`~carbonsink.pipeline.stages.cube.checked_lidar`).

    The epoch's LiDAR entries share one ``crs`` and ``ground`` setting (the
    survey file is refused otherwise), which the chain takes. The epoch's
    water evidence (:func:`epoch_water_evidence`; ``mndwi`` the composite's)
    supports its water detection.
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
        workdir=ctx.workdir,
        water_evidence=epoch_water_evidence(ctx, epoch, mndwi),
        keep_surfaces=(),
        dtm_at=None
        if checkpoints is None
        else (checkpoints["x"].to_numpy(np.float64), checkpoints["y"].to_numpy(np.float64)),
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


def unsupported_ha(result: LidarResult, ctx: RunContext) -> float:
    """Area (ha) whose lowest LiDAR surface was a closed canopy's floor, not terrain.

    Σ_c terrain_unsupported_c × A_c over the analysis cells (A_c the true cell
    area; docs/methodology.md §8.2, eq. 8.2a); 0 when no cell has any.
    """
    if "terrain_unsupported" not in result.metrics:
        return 0.0
    share = np.nan_to_num(np.asarray(result.metrics["terrain_unsupported"].values), nan=0.0)
    return float(np.sum(share * ctx.cell_area_ha.values))


def terrain_warnings(ctx: RunContext, results: Sequence[EpochResults]) -> list[LedgerWarning]:
    """A warning per epoch whose LiDAR found closed canopy with no terrain under it.

    The terrain there is filled from the canopy's edge within the DTM fill's
    reach (``DTM_FILL_REACH`` cells of the default DTM cell), or not known;
    the heights, and so the LiDAR biomass features, of those cells are
    uncertain or missing (docs/methodology.md §8.2).
    """
    from carbonsink.lidar.options import LidarOptions
    from carbonsink.lidar.surfaces import DTM_FILL_REACH

    reach = DTM_FILL_REACH * LidarOptions().dtm_cell
    out: list[LedgerWarning] = []
    for result in results:
        lidar = result.cube.lidar
        area = 0.0 if lidar is None else unsupported_ha(lidar, ctx)
        if area > 0.0:
            out.append(
                LedgerWarning(
                    "lidar-terrain-unsupported",
                    _(
                        "{ha:.2f} ha of the LiDAR's lowest surface was a closed canopy's floor "
                        "(no return reached the ground); the terrain there is filled from the "
                        "canopy's edge within {reach:g} m or unknown, and so are the heights — "
                        "a fill under a closed canopy can sit 0.6 m above the ground (RMSE "
                        "0.64 m on the synthetic closed-reed flight, docs/methodology.md §8.2), "
                        "the heights low by as much; check the terrain there or leave those "
                        "cells to the imagery model"
                    ).format(ha=area, reach=reach),
                    where=_("epoch {name} lidar").format(name=result.epoch.name),
                )
            )
    return out
