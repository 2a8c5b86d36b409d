"""Every stage of one epoch: cube, biomass, core stocks, SOC maps and their block totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from carbonsink.config import Epoch
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.biomass import EpochBiomass, epoch_biomass
from carbonsink.pipeline.stages.cube import EpochCube, epoch_cube
from carbonsink.pipeline.stages.soil import (
    epoch_core_stocks,
    epoch_soc_map,
    soc_block,
    soc_map_cv,
)

if TYPE_CHECKING:
    from carbonsink.soil.block_variance import BlockEstimate
    from carbonsink.soil.soc_cross_validation import SocCrossValidation

__all__ = ["EpochResults", "epoch_results"]


@dataclass(frozen=True)
class EpochResults:
    """Everything the stages computed for one epoch that the accounting uses.

    Attributes
    ----------
    epoch
        The survey's epoch.
    cube, biomass
        The epoch cube and biomass stage.
    core_stocks
        Core stocks at every ``[soil] depths_cm`` (survey CRS x/y).
    soc_maps
        Depth (cm) → SOC map with variance (:func:`~.soil.epoch_soc_map`).
    soc_blocks
        Depth (cm) → block-kriging estimate of the survey's SOC total.
    soc_cv
        Depth (cm) → leave-one-out cross-validation of the SOC map's procedure.
    """

    epoch: Epoch
    cube: EpochCube
    biomass: EpochBiomass
    core_stocks: pd.DataFrame
    soc_maps: dict[float, xr.Dataset]
    soc_blocks: dict[float, BlockEstimate]
    soc_cv: dict[float, SocCrossValidation]

    def layers(self, soil_depth_cm: float) -> xr.Dataset:
        """The epoch's per-pixel layers: cube, biomass and the SOC map at one depth."""
        return xr.merge(
            [
                self.cube.cube.drop_vars(["spatial_ref"], errors="ignore"),
                self.biomass.layers,
                self.soc_maps[soil_depth_cm].drop_vars(["spatial_ref"], errors="ignore"),
            ],
            compat="override",
            combine_attrs="drop_conflicts",
        )


def epoch_results(ctx: RunContext, epoch: Epoch) -> EpochResults:
    """Run the per-epoch stages: cube, biomass, core stocks, SOC maps, their totals and CV.

    The SOC maps use ordinary kriging for the block total whatever the
    survey's ``[soil] prediction`` (block kriging is defined for it only);
    regression-kriged maps still give the per-pixel layers.
    """
    cube = epoch_cube(ctx, epoch)
    biomass = epoch_biomass(ctx, epoch, cube)
    stocks = epoch_core_stocks(ctx, epoch)
    covariates = cube.cube[["ndvi", "mndwi"]]
    soc_maps: dict[float, xr.Dataset] = {}
    soc_blocks: dict[float, BlockEstimate] = {}
    soc_cv: dict[float, SocCrossValidation] = {}
    for depth in ctx.survey.soil.depths_cm:
        soc_maps[depth] = epoch_soc_map(ctx, stocks, depth_cm=depth, covariates=covariates)
        soc_blocks[depth] = soc_block(ctx, stocks, soc_maps[depth], depth_cm=depth)
        soc_cv[depth] = soc_map_cv(
            ctx, stocks, soc_maps[depth], depth_cm=depth, covariates=covariates
        )
    return EpochResults(
        epoch=epoch,
        cube=cube,
        biomass=biomass,
        core_stocks=stocks,
        soc_maps=soc_maps,
        soc_blocks=soc_blocks,
        soc_cv=soc_cv,
    )
