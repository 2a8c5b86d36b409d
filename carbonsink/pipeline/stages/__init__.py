"""The stages of a run, one thin module each: survey section → keyword options → library call.

:mod:`~.imagery` (scenes, composite, land cover), :mod:`~.lidar`,
:mod:`~.cube` (the epoch's per-pixel layers), :mod:`~.biomass`,
:mod:`~.soil`, :mod:`~.epoch` (all of an epoch), :mod:`~.ledger` (the
accounting) and :mod:`~.report` (what the report shows).
"""

from carbonsink.pipeline.stages.biomass import (
    EpochBiomass,
    epoch_biomass,
    epoch_plots,
    load_biomass_models,
    map_biomass,
    save_biomass_models,
    write_biomass_products,
)
from carbonsink.pipeline.stages.cube import EpochCube, epoch_cube
from carbonsink.pipeline.stages.epoch import EpochResults, epoch_results
from carbonsink.pipeline.stages.imagery import (
    epoch_composite,
    epoch_landcover,
    epoch_scenes,
    write_index_layers,
    write_landcover_products,
)
from carbonsink.pipeline.stages.ledger import (
    epoch_ledger_inputs,
    ledger_warnings,
    survey_ledger,
    write_ledger,
)
from carbonsink.pipeline.stages.lidar import epoch_lidar, write_lidar_products
from carbonsink.pipeline.stages.soil import (
    SoilMap,
    epoch_core_stocks,
    epoch_soc_map,
    epoch_soil_map,
    soc_strata,
    write_core_stocks,
    write_soil_map,
)

__all__ = [
    "EpochBiomass",
    "EpochCube",
    "EpochResults",
    "SoilMap",
    "epoch_biomass",
    "epoch_composite",
    "epoch_core_stocks",
    "epoch_cube",
    "epoch_landcover",
    "epoch_ledger_inputs",
    "epoch_lidar",
    "epoch_plots",
    "epoch_results",
    "epoch_scenes",
    "epoch_soc_map",
    "epoch_soil_map",
    "ledger_warnings",
    "load_biomass_models",
    "map_biomass",
    "save_biomass_models",
    "soc_strata",
    "survey_ledger",
    "write_biomass_products",
    "write_core_stocks",
    "write_index_layers",
    "write_landcover_products",
    "write_ledger",
    "write_lidar_products",
    "write_soil_map",
]
