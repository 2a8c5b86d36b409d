"""What the report shows: the results the pipeline already computed, gathered in one object.

The report only presents results (docs/design.md §2): :mod:`carbonsink.pipeline`
fills a :class:`ReportContent` from the stage results and the ledger, and
:func:`carbonsink.report.html.render_report` turns it into HTML. Nothing here
computes science.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.i18n import Message

__all__ = ["EpochReport", "MethodologyRow", "ReportContent"]


@dataclass(frozen=True)
class EpochReport:
    """One epoch's results for the report.

    Attributes
    ----------
    name, date
        The epoch and its date (ISO).
    layers
        ``(y, x)`` layers on the analysis grid (coords ``x``, ``y`` in metres
        of the survey CRS), each with ``units`` and ``long_name``:
        ``landcover`` (integer codes, attributes ``flag_values`` and
        ``flag_meanings`` — space-separated class names), ``agb_mg_ha``,
        ``agb_lower_mg_ha``, ``agb_upper_mg_ha`` (the biomass interval),
        ``agb_outside_aoa`` (bool), ``soc_mg_ha`` and ``soc_sd_mg_ha`` (SOC
        stock to the counted depth and its kriging SD), ``carbon_mg_ha``
        (total carbon of the counted pools), ``inside_boundary`` (bool). Cells
        outside the boundary are NaN in the float layers.
    soil_depth_cm
        Depth of ``soc_mg_ha``.
    accuracy
        Land-cover accuracy: ``AccuracyReport.to_dict()`` of
        :mod:`carbonsink.imagery.accuracy` (``overall_accuracy``, ``kappa``,
        ``users_accuracy``, ``producers_accuracy``, ``confusion``, ``n``).
    areas
        Olofsson area table, index ``class``: ``mapped_area_ha``,
        ``adjusted_area_ha``, ``se_ha``, ``ci_low_ha``, ``ci_high_ha``, ...
    biomass_cv
        Model name (``imagery``, ``lidar``) → spatial-CV table, one row per
        fold and a last ``pooled`` row: ``fold``, ``n``, ``n_blocks``, ``r2``,
        ``rmse_mg_ha``, ``relative_rmse``, ``bias_mg_ha``, ``coverage``.
    biomass_predictions
        Model name → held-out predictions: ``observed``, ``predicted``,
        ``lower``, ``upper`` (Mg DM/ha).
    biomass_models_used
        Names of the models that mapped AGB, in order of preference.
    lidar_decision
        Why the LiDAR model is or is not used.
    cores
        Core stocks: ``x``, ``y`` (survey CRS, m), ``soc_mg_ha`` (to
        ``soil_depth_cm``) and ``extrapolated`` (bool), index ``core_id``.
    soil_variogram
        The SOC map's variogram: ``model``, ``nugget``, ``psill``, ``range_m``,
        ``units``, ``of`` (``values`` or ``residuals``), its curve
        (``curve_m``, ``curve_semivariance``) and, when it was fitted, the
        experimental classes ``lag_m``, ``semivariance``, ``n_pairs``;
        ``None`` when not known.
    soil_cv
        Leave-one-out scores of the SOC map (``n``, ``rmse_mg_ha``,
        ``mean_error_mg_ha``, ``r2``, ``coverage``, ``interval``, ``method``);
        ``None`` when not known.
    soil_cv_predictions
        Per core: ``observed``, ``predicted``, ``lower``, ``upper`` (Mg C/ha).
    """

    name: str
    date: str
    layers: xr.Dataset
    soil_depth_cm: float
    accuracy: dict[str, Any]
    areas: pd.DataFrame
    biomass_cv: dict[str, pd.DataFrame]
    biomass_predictions: dict[str, pd.DataFrame]
    biomass_models_used: tuple[str, ...]
    lidar_decision: str | Message
    cores: pd.DataFrame
    soil_variogram: dict[str, Any] | None = None
    soil_cv: dict[str, Any] | None = None
    soil_cv_predictions: pd.DataFrame | None = None


@dataclass(frozen=True)
class MethodologyRow:
    """One parameter of the methodology as applied: name, value (with units) and source."""

    parameter: str | Message
    value: str | Message
    source: str | Message


@dataclass(frozen=True)
class ReportContent:
    """Everything the report shows.

    Attributes
    ----------
    title
        The survey's name.
    ledger
        The ledger as written (``ledger.json``, layout in docs/ledger.md).
    manifest
        The run manifest (``manifest.json``): ``inputs`` (path, size,
        sha256), ``survey_sha256``, ``versions``, ``seed``, ``stages``
        (name → seconds and whether it came from the cache).
    epochs
        Each epoch's results, earliest first.
    change
        ``None`` for one epoch; else per-pixel ``removals_t_co2e_ha_yr``
        (t CO2e/ha/yr, sink positive) and ``removals_sd_t_co2e_ha_yr`` (its
        SD from the two epochs' pixel uncertainties, independent errors),
        on the grid.
    net_draws
        Monte Carlo draws of the project net removals, t CO2e/yr (for a
        histogram with the 90 % interval and the applied rule); ``None`` for
        one epoch.
    methodology
        Parameters as applied, with their sources.
    language
        The language the report is written in (:data:`carbonsink.i18n.LANGUAGES`).
    """

    title: str
    ledger: dict[str, Any]
    manifest: dict[str, Any]
    epochs: list[EpochReport]
    change: xr.Dataset | None
    net_draws: npt.NDArray[np.float64] | None
    methodology: list[MethodologyRow] = field(default_factory=list)
    language: str = "en"
