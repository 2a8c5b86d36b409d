"""The epoch cube: every per-pixel layer of an epoch on the grid (docs/design.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from carbonsink.config import Epoch
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.imagery import epoch_composite, epoch_landcover
from carbonsink.pipeline.stages.lidar import epoch_lidar

if TYPE_CHECKING:
    from carbonsink.imagery.landcover import LandCover
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
    """

    cube: xr.Dataset
    landcover: LandCover
    lidar: LidarResult | None
    imagery_features: tuple[str, ...]
    lidar_features: tuple[str, ...]


def epoch_cube(ctx: RunContext, epoch: Epoch) -> EpochCube:
    """Imagery (composite, gap-filled; indices; land cover) and LiDAR layers of an epoch."""
    from carbonsink.imagery.composite import fill_composite_gaps
    from carbonsink.imagery.indices import CUBE_INDICES, compute_index
    from carbonsink.imagery.landcover import gap_filled_probabilities, probability_layer
    from carbonsink.lidar.metrics import BIOMASS_FEATURES

    def step(what: str, done: int) -> None:
        ctx.report(f"{epoch.name}: {what}", done, 4)

    step("composite", 0)
    observed = epoch_composite(ctx, epoch).compute()
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
    lidar = epoch_lidar(ctx, epoch)
    lidar_features: tuple[str, ...] = ()
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
        lidar=None if lidar is None else replace(lidar, dtm=None, chm=None),
        imagery_features=imagery_features,
        lidar_features=lidar_features,
    )
