"""Non-CO2 gases: CH4 and N2O emissions per vegetation class, in t CO2e per year.

Freshwater wetlands emit methane, and it can cancel the carbon sink
(docs/methodology.md §4). This module turns per-class fluxes (mg m⁻² d⁻¹) and class
areas (ha) into tonnes of gas and of CO2 equivalent with a chosen IPCC GWP
set, and runs the sensitivity of the net sink to the CH4 flux. A CH4 flux is
never silently zero: a class with no flux and no default factor is an error,
and a flux of exactly 0 is accepted but labelled in the table.

Sign convention: emissions are positive numbers here; the net sink subtracts
them from the (positive) removals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol

import pandas as pd

from carbonsink.errors import ConfigError, InputError
from carbonsink.units import T_HA_YR_PER_MG_M2_D, flux_mg_m2_d_to_t_ha_yr

__all__ = [
    "GWP",
    "GWP_SOURCES",
    "N2O_FRESHWATER_DEFAULT_MG_M2_D",
    "N2O_FRESHWATER_DEFAULT_T_HA_YR",
    "Ch4Sensitivity",
    "ClassFlux",
    "ClassFluxSettings",
    "FluxSource",
    "GwpSet",
    "ch4_sensitivity",
    "class_emissions",
    "class_fluxes",
]

logger = logging.getLogger(__name__)

#: IPCC assessment reports whose GWP-100 values a profile may use.
GwpSet = Literal["AR4", "AR5", "AR6"]

#: Where a flux came from, as written in the emissions table.
FluxSource = Literal["measured", "configured", "default factor"]
Gas = Literal["CH4", "N2O"]

#: 100-year global warming potentials by IPCC assessment report (docs/methodology.md §4).
GWP: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "AR4": MappingProxyType({"CH4": 25.0, "N2O": 298.0}),
        "AR5": MappingProxyType({"CH4": 28.0, "N2O": 265.0}),
        "AR6": MappingProxyType({"CH4": 27.0, "N2O": 273.0}),
    }
)

#: The table each GWP set is read from.
GWP_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "AR4": "IPCC AR4 WG1 (2007) Table 2.14, GWP-100",
        "AR5": "IPCC AR5 WG1 (2013) Table 8.7, GWP-100 without climate-carbon feedbacks",
        "AR6": "IPCC AR6 WG1 (2021) Table 7.15, GWP-100; CH4 non-fossil (27.0)",
    }
)

#: VM0033 v2.1 default N2O emission of freshwater wetlands, t N2O ha⁻¹ yr⁻¹
#: (docs/methodology.md §4).
N2O_FRESHWATER_DEFAULT_T_HA_YR: Final = 0.000864
#: The same default as a flux: 0.000864 / (365 × 1e-5) = 0.2367 mg N2O m⁻² d⁻¹.
N2O_FRESHWATER_DEFAULT_MG_M2_D: Final = N2O_FRESHWATER_DEFAULT_T_HA_YR / T_HA_YR_PER_MG_M2_D


@dataclass(frozen=True)
class ClassFlux:
    """CH4 and N2O fluxes of one vegetation class, with their defaults and origin.

    Parameters
    ----------
    ch4_mg_m2_d, n2o_mg_m2_d
        Annual-mean flux in mg gas m⁻² d⁻¹ (emission positive, uptake
        negative); ``None`` when not given for the class.
    ch4_default_mg_m2_d, n2o_default_mg_m2_d
        The methodology profile's default factor, used when the flux is
        ``None``; ``None`` when the profile has none.
    ch4_measured, n2o_measured
        The flux comes from a measured flux table (chamber or eddy covariance)
        rather than from the survey file's configuration.

    Notes
    -----
    The flux used is the class's own value when given (labelled ``"measured"``
    or ``"configured"``), else the default factor (``"default factor"``); with
    neither, :func:`class_emissions` raises :class:`~carbonsink.errors.ConfigError`.
    """

    ch4_mg_m2_d: float | None = None
    n2o_mg_m2_d: float | None = None
    ch4_default_mg_m2_d: float | None = None
    n2o_default_mg_m2_d: float | None = None
    ch4_measured: bool = False
    n2o_measured: bool = False

    def resolve(self, gas: Gas, *, class_name: str) -> tuple[float, FluxSource]:
        """The flux of ``gas`` (mg m⁻² d⁻¹) that applies, and where it came from.

        Raises
        ------
        ConfigError
            Neither a flux nor a default factor is given, or the value is not finite.
        """
        if gas == "CH4":
            value, default, measured = self.ch4_mg_m2_d, self.ch4_default_mg_m2_d, self.ch4_measured
        else:
            value, default, measured = self.n2o_mg_m2_d, self.n2o_default_mg_m2_d, self.n2o_measured
        key = f"{gas.lower()}_flux_mg_m2_d"
        source: FluxSource
        if value is not None:
            flux, source = float(value), "measured" if measured else "configured"
        elif default is not None:
            flux, source = float(default), "default factor"
        else:
            raise ConfigError(
                f"class {class_name!r} has no {gas} flux and the methodology profile gives "
                f"no default factor; {gas} is never assumed to be zero",
                where=f"[vegetation.classes.{class_name}].{key}",
                fix=f"set {key} for this class (0 only if a zero flux is really claimed), "
                "supply a measured flux table, or use a profile with a default factor",
            )
        if not math.isfinite(flux):
            raise ConfigError(
                f"class {class_name!r} has a {source} {gas} flux of {flux}",
                where=f"[vegetation.classes.{class_name}].{key}",
                fix=f"give a finite {key} in mg {gas} m⁻² d⁻¹",
            )
        return flux, source


class ClassFluxSettings(Protocol):
    """A vegetation class's configured fluxes (the survey's ``[vegetation.classes.*]``)."""

    @property
    def ch4_flux_mg_m2_d(self) -> float | None:
        """CH4 flux, mg CH4 m⁻² d⁻¹ (``None``: not configured)."""

    @property
    def n2o_flux_mg_m2_d(self) -> float | None:
        """N2O flux, mg N2O m⁻² d⁻¹ (``None``: not configured)."""


def class_fluxes(
    classes: Mapping[str, ClassFluxSettings],
    *,
    ch4_default_mg_m2_d: float | None = None,
    n2o_default_mg_m2_d: float | None = None,
    measured_ch4_mg_m2_d: Mapping[str, float] | None = None,
    measured_n2o_mg_m2_d: Mapping[str, float] | None = None,
) -> dict[str, ClassFlux]:
    """Per-class fluxes from the survey's vegetation classes and the profile's defaults.

    Parameters
    ----------
    classes
        ``[vegetation.classes]`` of the survey: name → its configured fluxes.
    ch4_default_mg_m2_d, n2o_default_mg_m2_d
        The methodology profile's default factors (``None``: no default).
    measured_ch4_mg_m2_d, measured_n2o_mg_m2_d
        Class name → measured annual-mean flux; a measured value takes
        precedence over the configured one.

    Returns
    -------
    dict of str to ClassFlux
        One entry per class of ``classes``.

    Raises
    ------
    ConfigError
        A measured flux names a class that is not in the legend.
    """
    measured_ch4 = dict(measured_ch4_mg_m2_d or {})
    measured_n2o = dict(measured_n2o_mg_m2_d or {})
    for gas, table in (("CH4", measured_ch4), ("N2O", measured_n2o)):
        unknown = sorted(set(table) - set(classes))
        if unknown:
            raise ConfigError(
                f"measured {gas} fluxes name classes not in the legend: {', '.join(unknown)}",
                where="[vegetation.classes]",
                fix=f"use class names of the legend ({', '.join(classes)})",
            )
    return {
        name: ClassFlux(
            ch4_mg_m2_d=measured_ch4.get(name, params.ch4_flux_mg_m2_d),
            n2o_mg_m2_d=measured_n2o.get(name, params.n2o_flux_mg_m2_d),
            ch4_default_mg_m2_d=ch4_default_mg_m2_d,
            n2o_default_mg_m2_d=n2o_default_mg_m2_d,
            ch4_measured=name in measured_ch4,
            n2o_measured=name in measured_n2o,
        )
        for name, params in classes.items()
    }


def _gwp_values(gwp: str) -> Mapping[str, float]:
    if gwp not in GWP:
        raise ConfigError(
            f"unknown GWP set {gwp!r}",
            where="[accounting].gwp",
            fix=f"use one of {', '.join(GWP)}",
        )
    return GWP[gwp]


def _checked_area(name: str, area_ha: float) -> float:
    area = float(area_ha)
    if not math.isfinite(area) or area < 0:
        raise InputError(
            f"class {name!r} has an area of {area} ha",
            where=f"class areas, {name}",
            fix="class areas must be finite and ≥ 0 ha; check the land-cover area estimate",
        )
    return area


def class_emissions(
    areas_ha: Mapping[str, float],
    fluxes: Mapping[str, ClassFlux],
    *,
    gwp: GwpSet = "AR5",
) -> pd.DataFrame:
    """CH4 and N2O emissions per class in t gas and t CO2e per year.

    Parameters
    ----------
    areas_ha
        Class name → area in ha (e.g. the area-adjusted class areas of the
        later epoch). Every class here needs an entry in ``fluxes``.
    fluxes
        Class name → :class:`ClassFlux` (see :func:`class_fluxes`). Classes
        without an area are ignored.
    gwp
        IPCC GWP set: ``"AR4"``, ``"AR5"`` (default) or ``"AR6"`` (:data:`GWP`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``class``; columns ``area_ha``, ``ch4_flux_mg_m2_d``,
        ``ch4_flux_source``, ``n2o_flux_mg_m2_d``, ``n2o_flux_source``,
        ``ch4_t_yr``, ``n2o_t_yr``, ``ch4_t_co2e_yr``, ``n2o_t_co2e_yr``,
        ``total_t_co2e_yr`` and ``note`` (says when a flux is exactly zero).
        ``attrs`` holds ``gwp``, ``gwp_ch4``, ``gwp_n2o`` and ``gwp_source``.

    Raises
    ------
    ConfigError
        A class has no flux entry, or a flux is missing with no default factor
        (CH4 is never silently zero), or the GWP set is unknown.
    InputError
        An area is negative or not finite, or there are no classes.

    Notes
    -----
    E_gas [t yr⁻¹] = A [ha] × F [mg m⁻² d⁻¹] × 365 × 10⁻⁵ and
    E [t CO2e yr⁻¹] = E_CH4 × GWP_CH4 + E_N2O × GWP_N2O (docs/methodology.md §1, §4;
    1 mg m⁻² = 10⁻⁵ t ha⁻¹). GWP-100 values from IPCC AR4 WG1 Table 2.14, AR5
    WG1 Table 8.7 and AR6 WG1 Table 7.15.
    """
    gwp_values = _gwp_values(gwp)
    if not areas_ha:
        raise InputError(
            "no class areas were given",
            where="class areas",
            fix="pass the area (ha) of each vegetation class",
        )
    rows: list[dict[str, Any]] = []
    for name, area_ha in areas_ha.items():
        area = _checked_area(name, area_ha)
        if name not in fluxes:
            raise ConfigError(
                f"class {name!r} has an area but no CH4/N2O flux entry",
                where=f"[vegetation.classes.{name}]",
                fix=f"add class {name!r} to the vegetation legend with its "
                "ch4_flux_mg_m2_d and n2o_flux_mg_m2_d, or use a profile with default factors",
            )
        ch4_flux, ch4_source = fluxes[name].resolve("CH4", class_name=name)
        n2o_flux, n2o_source = fluxes[name].resolve("N2O", class_name=name)
        ch4_t = area * flux_mg_m2_d_to_t_ha_yr(ch4_flux)
        n2o_t = area * flux_mg_m2_d_to_t_ha_yr(n2o_flux)
        notes = [
            f"{gas} flux is exactly 0 ({source}): no {gas} emission counted"
            for gas, flux, source in (("CH4", ch4_flux, ch4_source), ("N2O", n2o_flux, n2o_source))
            if flux == 0.0
        ]
        if ch4_flux == 0.0 and area > 0:
            logger.info("class %r: CH4 flux is exactly 0 (%s)", name, ch4_source)
        rows.append(
            {
                "class": name,
                "area_ha": area,
                "ch4_flux_mg_m2_d": ch4_flux,
                "ch4_flux_source": ch4_source,
                "n2o_flux_mg_m2_d": n2o_flux,
                "n2o_flux_source": n2o_source,
                "ch4_t_yr": ch4_t,
                "n2o_t_yr": n2o_t,
                "ch4_t_co2e_yr": ch4_t * gwp_values["CH4"],
                "n2o_t_co2e_yr": n2o_t * gwp_values["N2O"],
                "note": "; ".join(notes),
            }
        )
    table = pd.DataFrame(rows).set_index("class")
    table["total_t_co2e_yr"] = table["ch4_t_co2e_yr"] + table["n2o_t_co2e_yr"]
    table = table[
        [
            "area_ha",
            "ch4_flux_mg_m2_d",
            "ch4_flux_source",
            "n2o_flux_mg_m2_d",
            "n2o_flux_source",
            "ch4_t_yr",
            "n2o_t_yr",
            "ch4_t_co2e_yr",
            "n2o_t_co2e_yr",
            "total_t_co2e_yr",
            "note",
        ]
    ]
    table.attrs.update(
        gwp=gwp,
        gwp_ch4=gwp_values["CH4"],
        gwp_n2o=gwp_values["N2O"],
        gwp_source=GWP_SOURCES[gwp],
    )
    return table


@dataclass(frozen=True)
class Ch4Sensitivity:
    """The net sink against a scaled CH4 flux (see :func:`ch4_sensitivity`).

    Attributes
    ----------
    table
        One row per multiplier: ``ch4_multiplier``,
        ``ch4_flux_area_weighted_mg_m2_d``, ``removals_t_co2e_yr``,
        ``ch4_t_co2e_yr``, ``n2o_t_co2e_yr``, ``net_t_co2e_yr``.
    break_even_multiplier
        The multiplier of every class's CH4 flux at which the net sink is 0;
        NaN when the CH4 emission is 0 (scaling it cannot change the net
        sink). Negative when the net sink is negative even with no CH4.
    break_even_ch4_flux_mg_m2_d
        The area-weighted mean CH4 flux at the break-even multiplier.
    gwp
        The GWP set used.
    """

    table: pd.DataFrame
    break_even_multiplier: float
    break_even_ch4_flux_mg_m2_d: float
    gwp: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (the table as a list of records)."""
        return {
            "gwp": self.gwp,
            "break_even_multiplier": _json_float(self.break_even_multiplier),
            "break_even_ch4_flux_mg_m2_d": _json_float(self.break_even_ch4_flux_mg_m2_d),
            "table": [
                {key: float(value) for key, value in record.items()}
                for record in self.table.to_dict(orient="records")
            ],
        }


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def ch4_sensitivity(
    removals_t_co2e_yr: float,
    areas_ha: Mapping[str, float],
    fluxes: Mapping[str, ClassFlux],
    *,
    multipliers: Sequence[float] = (0.0, 0.5, 1.0, 2.0, 4.0),
    gwp: GwpSet = "AR5",
) -> Ch4Sensitivity:
    """Net sink when every class's CH4 flux is scaled by each multiplier.

    Parameters
    ----------
    removals_t_co2e_yr
        CO2 removals of the project (positive = sink), t CO2e/yr.
    areas_ha, fluxes, gwp
        As for :func:`class_emissions`.
    multipliers
        Factors applied to every class's CH4 flux (finite, ≥ 0). N2O is kept
        at its value.

    Returns
    -------
    Ch4Sensitivity
        The table and the break-even multiplier.

    Raises
    ------
    ConfigError, InputError
        As :func:`class_emissions`; also for a negative or non-finite
        multiplier or removal.

    Notes
    -----
    Net(k) = R − k × Σ_c A_c F_CH4,c × 365 × 10⁻⁵ × GWP_CH4 − E_N2O
    (docs/methodology.md §4), so the break-even multiplier is
    k* = (R − E_N2O) / E_CH4 [t CO2e/yr].
    """
    removals = float(removals_t_co2e_yr)
    if not math.isfinite(removals):
        raise InputError(
            f"removals of {removals} t CO2e/yr",
            where="CH4 sensitivity",
            fix="pass the finite CO2 removals (t CO2e/yr) of the project",
        )
    factors = [float(m) for m in multipliers]
    bad = [m for m in factors if not math.isfinite(m) or m < 0]
    if not factors or bad:
        raise ConfigError(
            f"CH4 flux multipliers must be a non-empty list of finite numbers ≥ 0; got {factors}",
            where="CH4 sensitivity",
            fix="use multipliers such as (0, 0.5, 1, 2, 4)",
        )
    emissions = class_emissions(areas_ha, fluxes, gwp=gwp)
    ch4 = float(emissions["ch4_t_co2e_yr"].sum())
    n2o = float(emissions["n2o_t_co2e_yr"].sum())
    total_area = float(emissions["area_ha"].sum())
    mean_flux = (
        float((emissions["area_ha"] * emissions["ch4_flux_mg_m2_d"]).sum()) / total_area
        if total_area > 0
        else math.nan
    )
    table = pd.DataFrame(
        {
            "ch4_multiplier": factors,
            "ch4_flux_area_weighted_mg_m2_d": [m * mean_flux for m in factors],
            "removals_t_co2e_yr": [removals] * len(factors),
            "ch4_t_co2e_yr": [m * ch4 for m in factors],
            "n2o_t_co2e_yr": [n2o] * len(factors),
            "net_t_co2e_yr": [removals - m * ch4 - n2o for m in factors],
        }
    )
    break_even = (removals - n2o) / ch4 if ch4 != 0.0 else math.nan
    return Ch4Sensitivity(
        table=table,
        break_even_multiplier=break_even,
        break_even_ch4_flux_mg_m2_d=break_even * mean_flux,
        gwp=gwp,
    )
