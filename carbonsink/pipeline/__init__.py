"""Wiring of the stages for a survey (DESIGN.md §1): per-epoch stages and the accounting.

Only this package and :mod:`carbonsink.cli` combine the survey file with the
stages; the stages themselves never parse the survey.

Modules: :mod:`~carbonsink.pipeline.stages` (grid, cube, land cover, LiDAR,
biomass, soil per epoch, and their product files) and
:mod:`~carbonsink.pipeline.accounts` (ledger inputs, warnings, the ledger).
"""

from carbonsink.pipeline.accounts import (
    EpochResults,
    account_survey,
    epoch_ledger_inputs,
    epoch_results,
    ledger_warnings,
    survey_ledger,
    survey_profile,
    write_ledger,
)
from carbonsink.pipeline.stages import (
    IMAGERY_FEATURE_INDICES,
    LIDAR_FEATURES,
    EpochBiomass,
    EpochCube,
    ProgressCallback,
    epoch_biomass,
    epoch_composite,
    epoch_core_stocks,
    epoch_cube,
    epoch_landcover,
    epoch_plots,
    epoch_scenes,
    epoch_soc_map,
    find_epoch,
    load_biomass_models,
    local_executor,
    map_biomass,
    save_biomass_models,
    survey_grid,
    survey_inside,
    write_biomass_products,
    write_index_layers,
    write_landcover_products,
    write_lidar_products,
)

__all__ = [
    "IMAGERY_FEATURE_INDICES",
    "LIDAR_FEATURES",
    "EpochBiomass",
    "EpochCube",
    "EpochResults",
    "ProgressCallback",
    "account_survey",
    "epoch_biomass",
    "epoch_composite",
    "epoch_core_stocks",
    "epoch_cube",
    "epoch_landcover",
    "epoch_ledger_inputs",
    "epoch_plots",
    "epoch_results",
    "epoch_scenes",
    "epoch_soc_map",
    "find_epoch",
    "ledger_warnings",
    "load_biomass_models",
    "local_executor",
    "map_biomass",
    "save_biomass_models",
    "survey_grid",
    "survey_inside",
    "survey_ledger",
    "survey_profile",
    "write_biomass_products",
    "write_index_layers",
    "write_landcover_products",
    "write_ledger",
    "write_lidar_products",
]
