"""The epoch cube: every per-pixel layer of an epoch on the grid (docs/design.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.config import Epoch
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.imagery import epoch_composite, epoch_landcover
from carbonsink.pipeline.stages.lidar import epoch_lidar

if TYPE_CHECKING:
    from carbonsink.imagery.landcover import LandCover
    from carbonsink.lidar.checkpoints import DtmCheck
    from carbonsink.lidar.merging import LidarResult

__all__ = ["EpochCube", "epoch_cube"]


@dataclass(frozen=True)
class EpochCube:
    """The per-pixel layers of one epoch and the stage results behind them.

    Attributes
    ----------
    cube
        ``(y, x)`` layers: composite reflectance ``rho_<band>``, spectral
        indices, ``valid_count`` and ``gap_filled``, ``water`` (MNDWI),
        ``landcover`` with ``p_<class>`` probabilities, the LiDAR metrics
        (NaN where LiDAR does not cover a cell), ``inside_boundary`` and
        ``cell_area_ha``.
    landcover
        The land-cover result (accuracy, areas).
    lidar
        The LiDAR result (metrics and tile QA; without its DTM and CHM rasters),
        ``None`` when the epoch has no LiDAR.
    imagery_features, lidar_features
        The cube variables the biomass model may use without and with LiDAR.
    dtm_check
        The DTM against the epoch's checkpoints (docs/methodology.md §8.8),
        ``None`` without checkpoints or LiDAR; the metrics in the cube are the
        corrected ones when the survey asked for the correction.
    """

    cube: xr.Dataset
    landcover: LandCover
    lidar: LidarResult | None
    imagery_features: tuple[str, ...]
    lidar_features: tuple[str, ...]
    dtm_check: DtmCheck | None = None


def epoch_cube(ctx: RunContext, epoch: Epoch) -> EpochCube:
    """Imagery (composite, gap-filled; indices; land cover) and LiDAR layers of an epoch."""
    from carbonsink.imagery.composite import fill_composite_gaps
    from carbonsink.imagery.indices import CUBE_INDICES, compute_index
    from carbonsink.imagery.landcover import gap_filled_probabilities, probability_layer
    from carbonsink.lidar.metrics import BIOMASS_FEATURES

    def step(what: str, done: int) -> None:
        ctx.report(f"{epoch.name}: {what}", done, 4)

    step("composite", 0)
    observed = _observed_composite(ctx, epoch)
    step("land cover", 1)
    # The classifier sees only observed cells (it fills its own gaps, flagged);
    # the gap-filled composite feeds the indices and the biomass features.
    landcover = epoch_landcover(ctx, epoch, observed)
    composite = fill_composite_gaps(observed, inside=ctx.inside)
    layers: dict[str, xr.DataArray] = {}
    reflectance = composite["reflectance"]
    for band in reflectance["band"].values:
        layers[f"rho_{band}"] = reflectance.sel(band=band, drop=True)
    for name in CUBE_INDICES:
        layers[name] = compute_index(name, reflectance)
    for name in ("valid_count", "gap_filled", "water"):
        layers[name] = composite[name]
    layers["landcover"] = landcover.class_map
    probabilities = gap_filled_probabilities(landcover, composite)
    for name in probabilities["class"].values:
        layers[probability_layer(str(name))] = probabilities.sel({"class": name}, drop=True)
    imagery_features = tuple(
        [f"rho_{b}" for b in reflectance["band"].values]
        + list(CUBE_INDICES)
        + [probability_layer(str(n)) for n in landcover.probabilities["class"].values]
    )
    step("LiDAR", 2)
    # Water evidence from the imagery is what the scenes saw: not a cloud gap filled from
    # its neighbour (which next to water would be water).
    mndwi = layers.get("mndwi")
    if mndwi is not None:
        mndwi = mndwi.where(~np.asarray(layers["gap_filled"].values, dtype=bool))
    # The checkpoints first: the chain samples its DTM at them as it merges its tiles.
    has_lidar = any(entry.files() for entry in epoch.lidar)
    checkpoints = epoch_checkpoints(ctx, epoch) if has_lidar else None
    lidar = epoch_lidar(ctx, epoch, mndwi=mndwi, checkpoints=checkpoints)
    lidar_features: tuple[str, ...] = ()
    dtm_check = None
    if lidar is not None and checkpoints is not None:
        lidar, dtm_check = checked_lidar(ctx, epoch, lidar, checkpoints, landcover.class_map.values)
    if lidar is not None:
        for metric in lidar.metrics.data_vars:
            layers[str(metric)] = lidar.metrics[metric]
        present = [f for f in BIOMASS_FEATURES if f in lidar.metrics]
        lidar_features = imagery_features + tuple(present)
    layers["inside_boundary"] = ctx.inside
    layers["cell_area_ha"] = ctx.cell_area_ha
    cube = xr.Dataset(
        {
            name: (("y", "x"), np.asarray(layer.values), dict(layer.attrs))
            for name, layer in layers.items()
        },
        coords=ctx.grid.coords(),
        attrs={
            "epoch": epoch.name,
            "date": epoch.date.isoformat(),
            # What moved the composite, for the ledger's warnings (one string each: NetCDF).
            "scenes_left_out": "; ".join(observed.attrs.get("flagged_scenes", [])),
            "scenes_unmasked": "; ".join(observed.attrs.get("unmasked_scenes", [])),
        },
    )
    step("cube", 4)
    return EpochCube(
        cube=cube,
        landcover=landcover,
        # The metrics are in the cube; the DTM and CHM rasters (tens of MB, products of
        # `carbonsink lidar`) are not kept in the run's results or its stage cache.
        lidar=None if lidar is None else replace(lidar, dtm=None, chm=None, dtm_at=None),
        imagery_features=imagery_features,
        lidar_features=lidar_features,
        dtm_check=dtm_check,
    )


#: Block edge (cells) of the imagery's reads and composite: the whole-grid read of a
#: 213 km² survey's two scenes peaked at 1.8 GB (float64 medians of every band), its
#: 1024-cell blocks at 0.8 GB in as much time.
IMAGERY_BLOCK_CELLS = 1024

#: Threads of this process that read and composite the blocks (off a cluster): memory is
#: about that many blocks' worth (some 0.3 GB each for two 10-band scenes), whatever the cores.
IMAGERY_THREADS = 4


def _observed_composite(ctx: RunContext, epoch: Epoch) -> xr.Dataset:
    """The epoch's composite, computed block by block: on a Dask cluster the blocks' reads
    and medians are the workers' tasks, elsewhere this process's threads' (the same
    numbers as a whole-grid read: every cell's median is its own)."""
    import dask

    from carbonsink.pipeline.executors import dask_client

    client = dask_client(ctx.executor)
    local = {"scheduler": "threads", "num_workers": IMAGERY_THREADS}
    with dask.config.set(local if client is None else {"scheduler": client}):
        return epoch_composite(ctx, epoch, chunks=IMAGERY_BLOCK_CELLS).compute()


def epoch_checkpoints(ctx: RunContext, epoch: Epoch) -> pd.DataFrame | None:
    """The epoch's checkpoints on the grid and inside the survey boundary; ``None`` without.

    Checkpoints outside the boundary are left out (as the preflight warns).
    The rows are :func:`~carbonsink.lidar.checkpoints.read_checkpoints`'
    (``x``, ``y`` in the survey CRS), index the file's line numbers.

    Raises
    ------
    InputTableError
        The checkpoint table breaks its schema (every line named).
    """
    from carbonsink.lidar.checkpoints import read_checkpoints

    entry = epoch.checkpoints
    if entry is None:
        return None
    points = read_checkpoints(
        entry.path,
        target_crs=ctx.survey.crs,
        crs=entry.crs,
        known_classes=list(ctx.survey.vegetation.by_code().values()),
        **entry.read_options(),
    )
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    on_grid = ctx.grid.contains(x, y)
    row, col = ctx.grid.index(x[on_grid], y[on_grid])
    inside = ctx.inside.values.astype(bool)[row, col]
    return points[on_grid][inside].copy()


def checked_lidar(
    ctx: RunContext,
    epoch: Epoch,
    lidar: LidarResult,
    points: pd.DataFrame,
    class_map: npt.NDArray[np.integer],
) -> tuple[LidarResult, DtmCheck]:
    """The epoch's DTM against its checkpoints, and its metrics with each class's bias removed.

    A checkpoint without a ``class`` takes the epoch's land-cover class at
    the point (docs/methodology.md §8.8).

    Parameters
    ----------
    ctx
        The run (grid, legend).
    epoch
        The epoch; its ``checkpoints`` entry is read.
    lidar
        The epoch's LiDAR result with its DTM sampled at ``points``
        (:attr:`~carbonsink.lidar.merging.LidarResult.dtm_at`).
    points
        The checkpoints of :func:`epoch_checkpoints`.
    class_map
        ``(y, x)`` class codes of the epoch's land-cover map.

    Returns
    -------
    (LidarResult, DtmCheck)
        The result with corrected metrics (as they were when the survey asks
        for the check only, or no class has enough points), and the check.

    Raises
    ------
    InputError
        No checkpoint inside the boundary lies on the epoch's DTM.
    """
    from carbonsink.errors import InputError
    from carbonsink.lidar.checkpoints import check_dtm_at, correct_metrics

    entry = epoch.checkpoints
    if entry is None or lidar.dtm_at is None or len(lidar.dtm_at) != len(points):
        raise ValueError(
            "checked_lidar needs the epoch's checkpoints and a LiDAR result whose DTM was "
            "sampled at them (epoch_lidar(..., checkpoints=points))"
        )
    legend = ctx.survey.vegetation.by_code()
    points = points.copy()
    row, col = ctx.grid.index(points["x"].to_numpy(), points["y"].to_numpy())
    mapped = np.array([legend.get(int(c), "unmapped") for c in class_map[row, col]], dtype=object)
    given = (
        points["class"].astype("string").str.strip().fillna("")
        if "class" in points
        else pd.Series("", index=points.index)
    )
    points["class"] = np.where(given.to_numpy(dtype=object) == "", mapped, given.to_numpy())
    check = check_dtm_at(
        lidar.dtm_at, points, vertical_datum=entry.vertical_datum, correct=entry.correct
    )
    if not np.isfinite(check.points["error_m"]).any():
        raise InputError(
            f"none of the {len(points)} checkpoints inside the survey boundary lies on the "
            "epoch's LiDAR terrain model",
            where=f"{entry.path.name} (epoch {epoch.name})",
            fix="check the table's crs and that the points are inside the LiDAR coverage",
        )
    bias = check.bias()
    if bias:
        lidar = replace(lidar, metrics=correct_metrics(lidar.metrics, class_map, legend, bias))
    return lidar, check
