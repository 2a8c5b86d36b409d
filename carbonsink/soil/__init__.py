"""Soil stage: OM -> OC conversion, depth harmonisation, core stocks, ESM and SOC maps.

Science only: functions take tables and arrays; files are read through
:mod:`carbonsink.io` (e.g. :func:`carbonsink.io.ccn.read_ccn_cores`). The SOC
map is :mod:`~carbonsink.soil.soc_map` (its model in
:mod:`~carbonsink.soil.soc_model`, :mod:`~carbonsink.soil.local_kriging` and
:mod:`~carbonsink.soil.regression`), scored by
:mod:`~carbonsink.soil.soc_cross_validation`; the variance of the survey total
is :mod:`~carbonsink.soil.block_variance`. The change at equivalent soil mass
is :mod:`~carbonsink.soil.esm` (a core's cumulative soil mass and carbon in
:mod:`~carbonsink.soil.soil_core`), whether a change can be detected
:mod:`~carbonsink.soil.detectability`, and the accretion rate of dated cores
:mod:`~carbonsink.soil.accretion`. Variograms are
:mod:`carbonsink.spatial.variogram`'s.
"""

from carbonsink.soil.accretion import accretion_soc_rate
from carbonsink.soil.block_variance import BlockEstimate, areal_mean_variance
from carbonsink.soil.conversion import (
    OM_TO_OC,
    SiteRegression,
    fit_site_regression,
    organic_carbon_pct,
)
from carbonsink.soil.core_stocks import core_stocks, depth_label
from carbonsink.soil.detectability import check_detectable, minimum_detectable_difference
from carbonsink.soil.esm import EsmChange, EsmChangeTable, esm_change, esm_change_table
from carbonsink.soil.profiles import EqualAreaSpline, fit_equal_area_spline, layer_stocks
from carbonsink.soil.regression import sample_covariates
from carbonsink.soil.soc_cross_validation import SocCrossValidation, cross_validate_soc
from carbonsink.soil.soc_map import predict_soc
from carbonsink.soil.soil_core import SoilCore, esm_soc

__all__ = [
    "OM_TO_OC",
    "BlockEstimate",
    "EqualAreaSpline",
    "EsmChange",
    "EsmChangeTable",
    "SiteRegression",
    "SocCrossValidation",
    "SoilCore",
    "accretion_soc_rate",
    "areal_mean_variance",
    "check_detectable",
    "core_stocks",
    "cross_validate_soc",
    "depth_label",
    "esm_change",
    "esm_change_table",
    "esm_soc",
    "fit_equal_area_spline",
    "fit_site_regression",
    "layer_stocks",
    "minimum_detectable_difference",
    "organic_carbon_pct",
    "predict_soc",
    "sample_covariates",
]
