"""Biomass stage: plot features, estimators with intervals, spatial CV, area of applicability.

Science only: functions take the epoch cube and plot tables; models are saved
and loaded through :mod:`carbonsink.biomass.persistence` (skops, never pickle).
"""

from carbonsink.biomass.agb_map import (
    AGB_SOURCES,
    BiomassPredictor,
    FittedBiomassModel,
    fit_biomass_model,
    map_agb,
)
from carbonsink.biomass.aoa import AreaOfApplicability, map_area_of_applicability
from carbonsink.biomass.bootstrap import AgbBootstrap, bootstrap_agb_totals
from carbonsink.biomass.carbon import ClassCarbonParameters, vegetation_carbon
from carbonsink.biomass.estimators import ESTIMATORS, IntervalRegressor, make_estimator
from carbonsink.biomass.features import PlotFeatures, plot_features, validate_plots
from carbonsink.biomass.persistence import load_model, save_model
from carbonsink.biomass.validation import (
    CrossValidation,
    default_block_size,
    plot_predicted_vs_observed,
    spatial_cross_validate,
)

__all__ = [
    "AGB_SOURCES",
    "ESTIMATORS",
    "AgbBootstrap",
    "AreaOfApplicability",
    "BiomassPredictor",
    "ClassCarbonParameters",
    "CrossValidation",
    "FittedBiomassModel",
    "IntervalRegressor",
    "PlotFeatures",
    "bootstrap_agb_totals",
    "default_block_size",
    "fit_biomass_model",
    "load_model",
    "make_estimator",
    "map_agb",
    "map_area_of_applicability",
    "plot_features",
    "plot_predicted_vs_observed",
    "save_model",
    "spatial_cross_validate",
    "validate_plots",
    "vegetation_carbon",
]
