"""Uncertain per-class parameters of the ledger: carbon fraction, root:shoot, CH4 and N2O fluxes.

Each vegetation class's parameters become Monte Carlo distributions whose mean
is the configured value, so the Monte Carlo mean reproduces the point
estimate and the spread says how well the value is known:

- a value with a plausible range ``[low, high]`` (docs/methodology.md §2: carbon
  fraction 0.44–0.49, root:shoot by class) is log-normal with that mean and a
  log-SD that makes the range as wide, in log terms, as a 90 % interval;
- a flux is log-normal with its configured SD (uptake, a negative flux, is
  normal), 50 % of the flux when no SD is given [U];
- a parameter that is exactly 0 (no roots on open water, a flux stated as
  zero) stays 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from carbonsink.accounting.distributions import Fixed, LogNormal, Normal, Uncertain
from carbonsink.accounting.non_co2 import ClassFlux, ClassFluxSettings, FluxSource
from carbonsink.accounting.profiles import MethodologyProfile
from carbonsink.errors import ConfigError

__all__ = [
    "CARBON_FRACTION_RANGE",
    "DEFAULT_FLUX_RELATIVE_SD",
    "ROOT_SHOOT_DEFAULT_FACTOR",
    "ClassParameters",
    "ClassSettings",
    "class_parameters",
    "flux_distribution",
    "range_distribution",
    "survey_class_flux",
]

#: IPCC 2006 range of the carbon fraction of herbaceous and woody dry matter
#: (docs/methodology.md §2).
CARBON_FRACTION_RANGE: Final = (0.44, 0.49)
#: Without a configured range, root:shoot is taken as known within a factor of 2 [U].
ROOT_SHOOT_DEFAULT_FACTOR: Final = 2.0
#: Relative SD of a configured flux without its own SD [U] (a chamber mean is rarely better).
DEFAULT_FLUX_RELATIVE_SD: Final = 0.5
#: z of the two-sided 90 % normal interval, Φ⁻¹(0.95).
_Z90: Final = 1.6448536269514722


def range_distribution(value: float, low: float, high: float, *, name: str) -> Uncertain:
    """A positive parameter known to lie in ``[low, high]``, with mean ``value``.

    Parameters
    ----------
    value
        The configured value (the distribution's mean), ``low ≤ value ≤ high``.
    low, high
        Plausible range (≥ 0).
    name
        Parameter name, for the error message.

    Returns
    -------
    Uncertain
        :class:`~carbonsink.accounting.distributions.LogNormal` with mean
        ``value``, or :class:`~carbonsink.accounting.distributions.Fixed` when
        ``value`` is 0 or the range is a single value.

    Raises
    ------
    ConfigError
        The range does not hold the value, or is negative.

    Notes
    -----
    The range is read as the 90 % interval in log space:
    σ = ln(high / low) / (2 × 1.645) (σ = ln(high / value) / 1.645 when
    low = 0), and X ~ LogNormal with E[X] = value, CV² = e^{σ²} − 1
    (IPCC 2006 Vol. 1 Ch. 3 Table 3.3 for log-normal parameters). The mean,
    not the median, is the configured value, so the Monte Carlo mean of a
    stock equals its point estimate.
    """
    if not 0.0 <= low <= value <= high or not math.isfinite(high):
        raise ConfigError(
            f"{name}: value {value} is not inside its range [{low}, {high}]",
            where=name,
            fix="give a range [low, high] with 0 ≤ low ≤ value ≤ high",
        )
    if value == 0.0 or high == low:
        return Fixed(value)
    sigma = math.log(high / value) / _Z90 if low == 0.0 else math.log(high / low) / (2.0 * _Z90)
    return LogNormal(mean=value, sd=value * math.sqrt(math.expm1(sigma * sigma)))


def flux_distribution(flux: float, sd: float | None) -> Uncertain:
    """The distribution of an annual-mean gas flux (mg m⁻² d⁻¹) with mean ``flux``.

    Parameters
    ----------
    flux
        The flux; emission positive, uptake negative.
    sd
        Its standard deviation; ``None``: :data:`DEFAULT_FLUX_RELATIVE_SD` × |flux| [U].

    Returns
    -------
    Uncertain
        LogNormal(flux, sd) for an emission, Normal(flux, sd) for an uptake or
        a zero flux with an SD, Fixed(0) for a zero flux without one.

    Notes
    -----
    Chamber fluxes are right-skewed (docs/methodology.md §4: a Poyang Carex
    meadow 11.3 ± 11.3 mg CH4 m⁻² h⁻¹), hence log-normal for emissions.
    """
    spread = DEFAULT_FLUX_RELATIVE_SD * abs(flux) if sd is None else float(sd)
    if flux > 0.0:
        return LogNormal(mean=flux, sd=spread)
    if spread == 0.0:
        return Fixed(flux)
    return Normal(mean=flux, sd=spread)


class ClassSettings(ClassFluxSettings, Protocol):
    """What the accounting needs of a vegetation class (the survey's ``[vegetation.classes.*]``).

    The survey's :class:`carbonsink.config.VegetationClass` is one; the
    accounting reads these attributes and never the survey file.
    """

    @property
    def carbon_fraction(self) -> float:
        """Carbon fraction of dry matter."""

    @property
    def carbon_fraction_range(self) -> tuple[float, float] | None:
        """Plausible range of the carbon fraction (``None``: the default range)."""

    @property
    def root_shoot(self) -> float:
        """Below-ground : above-ground biomass ratio."""

    @property
    def root_shoot_range(self) -> tuple[float, float] | None:
        """Plausible range of the root:shoot ratio (``None``: half to twice the value)."""

    @property
    def root_shoot_se(self) -> float | None:
        """Standard error of a measured root:shoot ratio (``None``: not measured)."""

    @property
    def ch4_flux_sd_mg_m2_d(self) -> float | None:
        """SD of the CH4 flux (``None``: 50 % of it)."""

    @property
    def herbaceous(self) -> bool:
        """Herbaceous vegetation, whose peak standing crop varies between years."""

    @property
    def peak_biomass_cv(self) -> float:
        """Between-year coefficient of variation of the peak standing crop (herbaceous)."""

    @property
    def n2o_flux_sd_mg_m2_d(self) -> float | None:
        """SD of the N2O flux (``None``: 50 % of it)."""


@dataclass(frozen=True)
class ClassParameters:
    """The uncertain parameters of one vegetation class.

    Attributes
    ----------
    carbon_fraction, root_shoot
        Dimensionless distributions (shared by every epoch).
    ch4_flux_mg_m2_d, n2o_flux_mg_m2_d
        Flux distributions, mg gas m⁻² d⁻¹.
    ch4_source, n2o_source
        Where the flux came from (measured, configured, default factor).
    peak_cv
        Between-year coefficient of variation of the class's peak standing
        crop (0 for trees and classes that are not herbaceous).
    herbaceous
        Herbaceous vegetation (a profile may hold its biomass in steady state).
    """

    carbon_fraction: Uncertain
    root_shoot: Uncertain
    ch4_flux_mg_m2_d: Uncertain
    n2o_flux_mg_m2_d: Uncertain
    ch4_source: FluxSource
    n2o_source: FluxSource
    peak_cv: float = 0.0
    herbaceous: bool = False


def survey_class_flux(
    name: str, params: ClassFluxSettings, profile: MethodologyProfile
) -> ClassFlux:
    """A class's configured CH4/N2O fluxes with the profile's default factors for that class.

    Notes
    -----
    The profile's factors are per class (or its ``default`` entry,
    :meth:`~carbonsink.accounting.profiles.MethodologyProfile.factors_for`),
    converted from t ha⁻¹ yr⁻¹ to mg m⁻² d⁻¹.
    """
    factors = profile.factors_for(name)
    return ClassFlux(
        ch4_mg_m2_d=params.ch4_flux_mg_m2_d,
        n2o_mg_m2_d=params.n2o_flux_mg_m2_d,
        ch4_default_mg_m2_d=None if factors is None else factors.ch4_mg_m2_d,
        n2o_default_mg_m2_d=None if factors is None else factors.n2o_mg_m2_d,
    )


def class_parameters(
    classes: Mapping[str, ClassSettings], profile: MethodologyProfile
) -> dict[str, ClassParameters]:
    """The Monte Carlo parameters of every class of the survey's legend.

    Parameters
    ----------
    classes
        ``[vegetation.classes]``: name → its :class:`ClassSettings`.
    profile
        The methodology profile (default CH4/N2O factors for classes without a flux).

    Returns
    -------
    dict of str to ClassParameters

    Raises
    ------
    ConfigError
        A class has neither a CH4 (or N2O) flux nor a profile default
        (CH4 is never silently zero).

    Notes
    -----
    Carbon fraction: ``carbon_fraction_range`` or 0.44–0.49 (IPCC 2006,
    docs/methodology.md §2) when that holds the value, else ±5 %. Root:shoot:
    measured (``root_shoot_se`` given), log-normal with mean ``root_shoot`` and
    SD ``root_shoot_se``; else ``root_shoot_range`` or value/2 to 2 × value [U]. See
    :func:`range_distribution` and :func:`flux_distribution`.
    """
    out: dict[str, ClassParameters] = {}
    for name, params in classes.items():
        cf = params.carbon_fraction
        if params.carbon_fraction_range is not None:
            cf_low, cf_high = params.carbon_fraction_range
        elif CARBON_FRACTION_RANGE[0] <= cf <= CARBON_FRACTION_RANGE[1]:
            cf_low, cf_high = CARBON_FRACTION_RANGE
        else:
            cf_low, cf_high = 0.95 * cf, min(1.0, 1.05 * cf)
        rs = params.root_shoot
        rs_low, rs_high = params.root_shoot_range or (
            rs / ROOT_SHOOT_DEFAULT_FACTOR,
            rs * ROOT_SHOOT_DEFAULT_FACTOR,
        )
        root_shoot: Uncertain = (
            range_distribution(rs, rs_low, rs_high, name=f"[vegetation.classes.{name}].root_shoot")
            if params.root_shoot_se is None or rs == 0.0
            else LogNormal(mean=rs, sd=params.root_shoot_se)
        )
        flux = survey_class_flux(name, params, profile)
        ch4, ch4_source = flux.resolve("CH4", class_name=name)
        n2o, n2o_source = flux.resolve("N2O", class_name=name)
        ch4_sd = params.ch4_flux_sd_mg_m2_d if ch4_source == "configured" else None
        n2o_sd = params.n2o_flux_sd_mg_m2_d if n2o_source == "configured" else None
        out[name] = ClassParameters(
            carbon_fraction=range_distribution(
                cf, cf_low, cf_high, name=f"[vegetation.classes.{name}].carbon_fraction"
            ),
            root_shoot=root_shoot,
            ch4_flux_mg_m2_d=flux_distribution(ch4, ch4_sd),
            n2o_flux_mg_m2_d=flux_distribution(n2o, n2o_sd),
            ch4_source=ch4_source,
            n2o_source=n2o_source,
            peak_cv=float(params.peak_biomass_cv) if params.herbaceous else 0.0,
            herbaceous=bool(params.herbaceous),
        )
    return out
