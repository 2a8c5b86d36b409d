"""Soil stage: OM -> OC conversion, depth harmonisation, core stocks, ESM and SOC maps.

Science only: functions take tables and arrays; files are read through
:mod:`carbonsink.io` (e.g. :func:`carbonsink.io.ccn.read_ccn_cores`).
"""

from carbonsink.soil.conversion import (
    OM_TO_OC,
    SiteRegression,
    fit_site_regression,
    organic_carbon_pct,
)
from carbonsink.soil.esm import (
    EsmChange,
    EsmChangeTable,
    SoilCore,
    accretion_soc_rate,
    check_detectable,
    esm_change,
    esm_change_table,
    esm_soc,
    minimum_detectable_difference,
)
from carbonsink.soil.profiles import (
    EqualAreaSpline,
    core_stocks,
    depth_label,
    fit_equal_area_spline,
    layer_stocks,
)

__all__ = [
    "OM_TO_OC",
    "EqualAreaSpline",
    "EsmChange",
    "EsmChangeTable",
    "SiteRegression",
    "SoilCore",
    "accretion_soc_rate",
    "check_detectable",
    "core_stocks",
    "depth_label",
    "esm_change",
    "esm_change_table",
    "esm_soc",
    "fit_equal_area_spline",
    "fit_site_regression",
    "layer_stocks",
    "minimum_detectable_difference",
    "organic_carbon_pct",
]
