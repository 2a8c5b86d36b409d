"""Shared spatial statistics: blocks and folds, variograms, point-set checks.

Used by the science packages (imagery, soil, biomass), which do not import
each other; this package imports only numpy, scipy, pandas, xarray and
:mod:`carbonsink.errors`, :mod:`carbonsink.grid`, :mod:`carbonsink.units`.

* :mod:`carbonsink.spatial.blocks` — the one block/fold convention of the
  spatial cross-validations and the block bootstrap;
* :mod:`carbonsink.spatial.variogram` — empirical and fitted variograms;
* :mod:`carbonsink.spatial.points` — checks of point coordinates and values.
"""

from carbonsink.spatial.blocks import block_folds, block_ids
from carbonsink.spatial.points import (
    point_values,
    positions_text,
    require_distinct_locations,
    require_non_negative,
)
from carbonsink.spatial.variogram import (
    MIN_POINTS_VARIOGRAM,
    VARIOGRAM_MODELS,
    EmpiricalVariogram,
    VariogramModel,
    VariogramName,
    check_variogram_name,
    empirical_variogram,
    fit_variogram,
)

__all__ = [
    "MIN_POINTS_VARIOGRAM",
    "VARIOGRAM_MODELS",
    "EmpiricalVariogram",
    "VariogramModel",
    "VariogramName",
    "block_folds",
    "block_ids",
    "check_variogram_name",
    "empirical_variogram",
    "fit_variogram",
    "point_values",
    "positions_text",
    "require_distinct_locations",
    "require_non_negative",
]
