"""Organic matter -> organic carbon: a registry of conversions and a site regression.

Laboratories report soil carbon either as organic carbon (OC, CHN or Dumas
combustion, ``soc_pct``) or as organic matter (OM): loss on ignition
(``om_pct``, method ``LOI``) or the Chinese 有机质 (``om_g_kg``), which is
dichromate-oxidised OC multiplied by 1.724. :data:`OM_TO_OC` holds the
conversions of docs/methodology.md §3 by name; :func:`fit_site_regression` fits the
best one, a regression of measured OC on LOI from paired samples of the site.
:func:`organic_carbon_pct` turns the carbon columns of a soil table into OC %
per layer, with a standard error where the conversion has one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import ConfigError, InputError
from carbonsink.i18n import deferred
from carbonsink.io.soil_sheets import numeric_column as _numeric
from carbonsink.schemas import rows_text

__all__ = [
    "DICHROMATE_OM_PER_OC",
    "MAX_OC_PCT",
    "MIN_SITE_REGRESSION_PAIRS",
    "OM_TO_OC",
    "OmToOcConversion",
    "SiteRegression",
    "dichromate",
    "fit_site_regression",
    "organic_carbon_pct",
    "pribyl",
    "van_bemmelen",
    "vm0033",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: 有机质 = dichromate OC × 1.724, the van Bemmelen factor (Nelson & Sommers 1996).
DICHROMATE_OM_PER_OC: Final = 1.724
#: OC fraction of OM after van Bemmelen (1890): 0.58 (= 1/1.724 rounded).
VAN_BEMMELEN_OC_PER_OM: Final = 0.58
#: OC fraction of OM after Pribyl (2010): 0.50, the median of published ratios.
PRIBYL_OC_PER_OM: Final = 0.50
#: Linear and quadratic coefficients of the tidal-marsh LOI equation (Craft et al. 1991).
VM0033_LINEAR: Final = 0.40
VM0033_QUADRATIC: Final = 0.0025
#: Organic carbon above this (% of dry mass) is not soil (pure plant tissue is ~45–50 %).
MAX_OC_PCT: Final = 60.0
#: A site regression needs at least this many paired LOI/OC samples (docs/methodology.md §3).
MIN_SITE_REGRESSION_PAIRS: Final = 30
#: Column names of optional per-layer standard errors of the carbon values.
SE_COLUMNS: Final = {"soc_pct": "soc_se_pct", "om_pct": "om_se_pct", "om_g_kg": "om_se_g_kg"}
#: 1 g/kg = 0.1 % (OM % = g/kg / 10).
PCT_PER_G_KG: Final = 0.1


def dichromate(om_pct: FloatArray) -> FloatArray:
    """OC from Chinese-lab organic matter (有机质, dichromate method).

    Notes
    -----
    OC = OM / 1.724, exactly: the lab computed OM as dichromate-oxidised OC ×
    1.724 (the van Bemmelen factor; Nelson & Sommers 1996, Methods of Soil
    Analysis Part 3, SSSA Book Series 5, 961–1010), so dividing recovers the
    measured OC (docs/methodology.md §3).
    """
    return np.asarray(om_pct, dtype=np.float64) / DICHROMATE_OM_PER_OC


def van_bemmelen(om_pct: FloatArray) -> FloatArray:
    """OC from organic matter with the van Bemmelen factor.

    Notes
    -----
    OC = 0.58 × OM (van Bemmelen 1890; the factor 1/1.724 rounded, Nelson &
    Sommers 1996).
    """
    return VAN_BEMMELEN_OC_PER_OM * np.asarray(om_pct, dtype=np.float64)


def pribyl(om_pct: FloatArray) -> FloatArray:
    """OC from organic matter with Pribyl's factor of 2.

    Notes
    -----
    OC = 0.50 × OM; Pribyl (2010, Geoderma 156:75–83) finds published OC/OM
    ratios from 1/2.5 to 1/1.4 with a median near 1/2 and recommends 2 over
    1.724 as the OM/OC factor.
    """
    return PRIBYL_OC_PER_OM * np.asarray(om_pct, dtype=np.float64)


def vm0033(om_pct: FloatArray) -> FloatArray:
    """OC from loss on ignition in tidal-marsh soils (VM0033 default).

    Notes
    -----
    %C = 0.40 × %OM + 0.0025 × %OM² (Craft, Seneca & Broome 1991, Estuaries
    14:175–179, the equation VM0033 v2.1 gives for LOI without a site
    calibration; docs/methodology.md §3.2). A linear coefficient of 0.04, which
    some transcriptions print, would give an OC/OM ratio of 0.07 at 10 % OM, far
    below any soil; the tidal-marsh cores of Snedden (2018) — which report both
    LOI and OC — agree with 0.40 (see the tests).
    """
    om = np.asarray(om_pct, dtype=np.float64)
    return VM0033_LINEAR * om + VM0033_QUADRATIC * om**2


def _linear_derivative(factor: float) -> Callable[[FloatArray], FloatArray]:
    def derivative(om_pct: FloatArray) -> FloatArray:
        return np.full(np.shape(om_pct), factor, dtype=np.float64)

    return derivative


def _vm0033_derivative(om_pct: FloatArray) -> FloatArray:
    return VM0033_LINEAR + 2.0 * VM0033_QUADRATIC * np.asarray(om_pct, dtype=np.float64)


@dataclass(frozen=True)
class OmToOcConversion:
    """A registered OM -> OC conversion.

    ``function`` maps OM % to OC % and ``derivative`` gives dOC/dOM (to carry
    an OM standard error to OC). Both are ``None`` for ``"site-regression"``,
    whose coefficients come from a :class:`SiteRegression`.
    """

    name: str
    function: Callable[[FloatArray], FloatArray] | None
    derivative: Callable[[FloatArray], FloatArray] | None
    long_name: str


#: OM -> OC conversions by name (the names of ``[soil].om_to_oc``).
OM_TO_OC: Mapping[str, OmToOcConversion] = MappingProxyType(
    {
        conversion.name: conversion
        for conversion in (
            OmToOcConversion(
                "dichromate",
                dichromate,
                _linear_derivative(1.0 / DICHROMATE_OM_PER_OC),
                "有机质 (dichromate OC × 1.724): OC = OM / 1.724",
            ),
            OmToOcConversion(
                "van-bemmelen",
                van_bemmelen,
                _linear_derivative(VAN_BEMMELEN_OC_PER_OM),
                "van Bemmelen: OC = 0.58 × OM",
            ),
            OmToOcConversion(
                "pribyl",
                pribyl,
                _linear_derivative(PRIBYL_OC_PER_OM),
                "Pribyl 2010: OC = 0.50 × OM",
            ),
            OmToOcConversion(
                "vm0033",
                vm0033,
                _vm0033_derivative,
                "VM0033 tidal marsh (LOI): %C = 0.40 %OM + 0.0025 %OM²",
            ),
            OmToOcConversion(
                "site-regression",
                None,
                None,
                "site regression of measured OC on LOI (≥ 30 pairs)",
            ),
        )
    }
)


@dataclass(frozen=True)
class SiteRegression:
    """Ordinary least-squares regression of measured OC % on OM % (LOI) of one site.

    Attributes
    ----------
    intercept, slope
        OC % = intercept + slope × OM %.
    intercept_se, slope_se
        Standard errors of the coefficients.
    covariance
        2 × 2 covariance matrix of (intercept, slope).
    residual_se
        Residual standard error s (OC %), with n − 2 degrees of freedom.
    n
        Number of pairs.
    om_range_pct
        Smallest and largest OM % of the calibration pairs.
    """

    intercept: float
    slope: float
    intercept_se: float
    slope_se: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    residual_se: float
    n: int
    om_range_pct: tuple[float, float]

    def predict(self, om_pct: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """OC % and its prediction standard error at ``om_pct``.

        Returns
        -------
        oc_pct, se_pct
            Arrays shaped like ``om_pct``.

        Notes
        -----
        ŷ = a + b x; SE_pred = sqrt(s² + [1 x] Σ [1 x]ᵀ), the standard error of
        a new observation (coefficient uncertainty Σ plus residual scatter s²),
        e.g. Draper & Smith (1998), Applied Regression Analysis, §3.
        """
        x = np.asarray(om_pct, dtype=np.float64)
        oc = self.intercept + self.slope * x
        return oc, np.sqrt(self.residual_se**2 + self.coefficient_variance(x))

    def coefficient_variance(self, om_pct: npt.ArrayLike) -> FloatArray:
        """Variance of the fitted mean a + b x from the coefficients alone: [1 x] Σ [1 x]ᵀ."""
        x = np.asarray(om_pct, dtype=np.float64)
        (c00, c01), (_, c11) = self.covariance
        return np.asarray(c00 + 2.0 * c01 * x + c11 * x**2, dtype=np.float64)


def fit_site_regression(om_pct: npt.ArrayLike, oc_pct: npt.ArrayLike) -> SiteRegression:
    """Fit OC % = a + b × OM % to paired LOI / measured-OC samples of a site.

    Parameters
    ----------
    om_pct
        Organic matter (loss on ignition), % of dry mass.
    oc_pct
        Organic carbon measured on the same samples (CHN/Dumas), %.

    Returns
    -------
    SiteRegression

    Raises
    ------
    InputError
        When the arrays differ in length, hold non-finite or negative values,
        have fewer than :data:`MIN_SITE_REGRESSION_PAIRS` pairs, or all OM
        values are equal.

    Notes
    -----
    Ordinary least squares: b = Sxy/Sxx, a = ȳ − b x̄, s² = Σ e²/(n − 2),
    Var(b) = s²/Sxx, Var(a) = s² (1/n + x̄²/Sxx), Cov(a, b) = −x̄ s²/Sxx.
    docs/methodology.md §3 asks for at least 30 pairs, the usual minimum for a
    calibration whose residual SE is itself reliable.
    """
    om = np.asarray(om_pct, dtype=np.float64).ravel()
    oc = np.asarray(oc_pct, dtype=np.float64).ravel()
    if om.size != oc.size:
        raise InputError(
            f"the site regression needs paired samples: {om.size} OM values but "
            f"{oc.size} OC values",
            fix="give one OC value for every OM value (the same samples)",
        )
    bad = ~(np.isfinite(om) & np.isfinite(oc)) | (om < 0) | (oc < 0)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} pair(s) have a missing, non-finite or negative value "
            f"(positions {', '.join(map(str, np.flatnonzero(bad)[:10]))})",
            fix="drop incomplete pairs before fitting the site regression",
        )
    n = int(om.size)
    if n < MIN_SITE_REGRESSION_PAIRS:
        raise InputError(
            f"the site regression needs at least {MIN_SITE_REGRESSION_PAIRS} paired LOI/OC "
            f"samples; got {n} ({MIN_SITE_REGRESSION_PAIRS - n} more needed)",
            fix=f"measure OC (CHN/Dumas) on at least {MIN_SITE_REGRESSION_PAIRS} of the "
            "LOI samples, or choose a published conversion (om_to_oc = "
            '"vm0033", "pribyl", ...)',
        )
    x_mean = float(om.mean())
    y_mean = float(oc.mean())
    sxx = float(((om - x_mean) ** 2).sum())
    if sxx <= 0.0:
        raise InputError(
            f"all {n} OM values of the site regression are equal ({om[0]:g} %)",
            fix="calibrate on samples that span the range of OM of the site",
        )
    slope = float(((om - x_mean) * (oc - y_mean)).sum()) / sxx
    intercept = y_mean - slope * x_mean
    residuals = oc - (intercept + slope * om)
    s2 = float((residuals**2).sum()) / (n - 2)
    var_slope = s2 / sxx
    var_intercept = s2 * (1.0 / n + x_mean**2 / sxx)
    cov = -x_mean * s2 / sxx
    return SiteRegression(
        intercept=intercept,
        slope=slope,
        intercept_se=math.sqrt(var_intercept),
        slope_se=math.sqrt(var_slope),
        covariance=((var_intercept, cov), (cov, var_slope)),
        residual_se=math.sqrt(s2),
        n=n,
        om_range_pct=(float(om.min()), float(om.max())),
    )


@dataclass(frozen=True)
class _CarbonTerms:
    """OC per row with its error terms, for propagation to stocks.

    ``independent_var`` is the variance of each row's OC that is independent
    between rows (measurement error, regression residual); ``gradient`` (n × 2)
    is dOC/d(intercept, slope) of a site regression (zeros for other rows),
    whose coefficient errors are shared by every converted row.
    """

    oc_pct: FloatArray
    independent_var: FloatArray
    gradient: FloatArray
    source: npt.NDArray[np.object_]


def _conversion(om_to_oc: str) -> OmToOcConversion:
    conversion = OM_TO_OC.get(om_to_oc)
    if conversion is None:
        raise ConfigError(
            f"unknown OM -> OC conversion {om_to_oc!r}",
            where="[soil].om_to_oc",
            fix=f"use one of {', '.join(OM_TO_OC)}",
        )
    return conversion


def _standard_errors(frame: pd.DataFrame, column: str, path: str | None) -> FloatArray:
    """An optional standard-error column: NaN where blank or absent, else a number ≥ 0."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    raw = frame[column]
    values = _numeric(frame, column)
    blank = (raw.isna() | (raw.astype("string").str.strip() == "")).to_numpy(dtype=bool)
    bad = (~blank & ~np.isfinite(values)) | (values < 0)
    if bad.any():
        raise InputError(
            f"{column} is not a number ≥ 0 ({_row_labels(frame, bad)})",
            path=path,
            fix=f"write {column} as a plain non-negative number, or leave it blank when unknown",
        )
    return values


def _row_labels(frame: pd.DataFrame, rows: npt.NDArray[np.bool_]) -> str:
    cores = (
        frame["core_id"].astype("string").fillna("(blank)").to_numpy()
        if "core_id" in frame.columns
        else np.full(len(frame), "(no core_id)", dtype=object)
    )
    labels = [
        f"core {core!r} {rows_text(frame.attrs, [line])}"
        for core, line in zip(cores[rows], frame.index[rows], strict=True)
    ]
    shown = "; ".join(labels[:10])
    return shown + (f"; and {len(labels) - 10} more" if len(labels) > 10 else "")


def _carbon_terms(
    layers: pd.DataFrame,
    *,
    om_to_oc: str,
    site_regression: SiteRegression | None,
    path: str | None,
) -> _CarbonTerms:
    conversion = _conversion(om_to_oc)
    n = len(layers)
    soc = _numeric(layers, "soc_pct")
    om = _numeric(layers, "om_pct")
    om_from_g_kg = _numeric(layers, "om_g_kg") * PCT_PER_G_KG
    se = {name: _standard_errors(layers, column, path) for name, column in SE_COLUMNS.items()}
    om_se = np.where(np.isfinite(om), se["om_pct"], se["om_g_kg"] * PCT_PER_G_KG)
    om_se = np.nan_to_num(om_se, nan=0.0)

    measured = np.isfinite(soc)
    om_value = np.where(np.isfinite(om), om, om_from_g_kg)
    converted = ~measured & np.isfinite(om_value)
    missing = ~measured & ~converted
    if missing.any():
        raise InputError(
            "no organic carbon value (soc_pct, om_pct or om_g_kg) "
            f"({_row_labels(layers, missing)})",
            path=path,
            fix="give each layer a value in soc_pct, om_pct or om_g_kg",
        )
    negative = (measured & (soc < 0)) | (converted & (om_value < 0))
    if negative.any():
        raise InputError(
            f"negative organic carbon or organic matter ({_row_labels(layers, negative)})",
            path=path,
            fix="check the carbon columns: values are % (or g/kg) of dry mass, ≥ 0",
        )

    oc = np.where(measured, soc, np.nan)
    independent_var = np.where(measured, np.nan_to_num(se["soc_pct"], nan=0.0) ** 2, 0.0)
    gradient = np.zeros((n, 2), dtype=np.float64)
    source = np.where(measured, "measured", conversion.name).astype(object)
    if converted.any():
        x = om_value[converted]
        x_se = om_se[converted]
        if conversion.function is not None and conversion.derivative is not None:
            oc[converted] = conversion.function(x)
            independent_var[converted] = (conversion.derivative(x) * x_se) ** 2
        else:
            if site_regression is None:
                raise ConfigError(
                    f"om_to_oc is 'site-regression' but no site regression was given "
                    f"({int(converted.sum())} layer(s) report organic matter)",
                    path=path,
                    where="[soil].om_to_oc",
                    fix="fit one with fit_site_regression(om_pct, oc_pct) from ≥ 30 paired "
                    "samples and pass it as site_regression=, or choose a published "
                    "conversion",
                )
            low, high = site_regression.om_range_pct
            outside = (x < low) | (x > high)
            if outside.any():
                logger.warning(
                    deferred(
                        "{file}: {n} layer(s) have OM outside the site regression's "
                        "calibration range {low:.3g}–{high:.3g} %; OC is extrapolated",
                        file=str(path) if path else deferred("soil table"),
                        n=int(outside.sum()),
                        low=float(low),
                        high=float(high),
                    )
                )
            predicted, _ = site_regression.predict(x)
            oc[converted] = predicted
            independent_var[converted] = (
                site_regression.residual_se**2 + (site_regression.slope * x_se) ** 2
            )
            gradient[converted, 0] = 1.0
            gradient[converted, 1] = x
            below = np.zeros(n, dtype=bool)
            below[converted] = predicted < 0
            if below.any():
                raise InputError(
                    "the site regression predicts negative organic carbon "
                    f"({_row_labels(layers, below)})",
                    path=path,
                    fix="these OM values lie below the regression's intercept; check them, "
                    "or calibrate the regression on samples covering low OM",
                )
    too_high = oc > MAX_OC_PCT
    if too_high.any():
        values = ", ".join(f"{v:.4g} %" for v in oc[too_high][:10])
        raise InputError(
            f"organic carbon above {MAX_OC_PCT:g} % ({values}) at {_row_labels(layers, too_high)}",
            path=path,
            fix="check units: soc_pct and om_pct are % of dry mass (not g/kg or fractions), "
            "om_g_kg is g/kg",
        )
    return _CarbonTerms(
        oc_pct=oc, independent_var=independent_var, gradient=gradient, source=source
    )


def organic_carbon_pct(
    layers: pd.DataFrame,
    *,
    om_to_oc: str = "dichromate",
    site_regression: SiteRegression | None = None,
    path: str | None = None,
) -> pd.DataFrame:
    """Organic carbon (% of dry mass) of every layer of a soil table.

    Parameters
    ----------
    layers
        A soil table (docs/design.md §3) with one or more of ``soc_pct``,
        ``om_pct``, ``om_g_kg``; index = line numbers, as from
        :func:`carbonsink.io.tables.read_table`. Optional standard errors
        ``soc_se_pct``, ``om_se_pct``, ``om_se_g_kg`` are propagated.
    om_to_oc
        A conversion of :data:`OM_TO_OC` for the rows that report organic
        matter.
    site_regression
        The fitted regression for ``om_to_oc="site-regression"``.
    path
        The file name for messages.

    Returns
    -------
    pandas.DataFrame
        Same index as ``layers``; columns ``oc_pct``, ``oc_se_pct`` (0 where
        neither a measurement SE nor the conversion gives one) and
        ``oc_source`` (``"measured"`` or the conversion's name).

    Raises
    ------
    ConfigError
        When ``om_to_oc`` is not a known conversion (the message lists them),
        or is ``"site-regression"`` without a ``site_regression``.
    InputError
        When a row has no carbon value, a negative value or SE, or OC above
        60 % (each message names the core and line).

    Notes
    -----
    Per row, ``soc_pct`` when present is measured OC (CHN/Dumas combustion,
    or dichromate OC reported as such) and is used as is. Otherwise OM % is
    ``om_pct``, or ``om_g_kg / 10`` (1 g/kg = 0.1 %), converted with
    ``om_to_oc``: see each conversion's docstring for its equation and source.
    An OM standard error becomes an OC one through dOC/dOM; the site
    regression adds its prediction SE (residual and coefficient terms).
    """
    terms = _carbon_terms(layers, om_to_oc=om_to_oc, site_regression=site_regression, path=path)
    variance = terms.independent_var.copy()
    if site_regression is not None:
        shared = site_regression.coefficient_variance(terms.gradient[:, 1])
        variance = variance + np.where(terms.gradient[:, 0] > 0, shared, 0.0)
    return pd.DataFrame(
        {
            "oc_pct": terms.oc_pct,
            "oc_se_pct": np.sqrt(variance),
            "oc_source": pd.array(terms.source, dtype="string"),
        },
        index=layers.index.copy(),
    )
