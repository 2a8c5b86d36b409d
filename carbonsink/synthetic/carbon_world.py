"""The world's carbon parameters: nominal, or drawn from the priors the survey states.

A survey states each class's carbon fraction CF, root:shoot ratio R and CH4
flux F with an uncertainty (docs/methodology.md §2 and §4): a plausible range
read as a log-normal, or a relative SD. The ledger draws them in its Monte
Carlo. In the nominal world (the default, and the committed sample survey)
the true values are the stated ones, so a coverage count over seeds sees
these parameters' spread as width only. In a drawn world the true values are
drawn once per seed from exactly the distributions the survey states; the
coverage of the 90 % intervals over seeds then counts the parameter
uncertainty as well (``benchmarks/coverage_ledger.py``).

The distributions, for a stated value v and range [low, high]
(``carbonsink.accounting.parameters.range_distribution``, IPCC 2006 Vol. 1
Table 3.3 for log-normal parameters)::

    σ = ln(high / low) / (2 × 1.645)
    X = v × exp(σ Z − σ² / 2),  Z ~ N(0, 1)          (E[X] = v)

with CF's range 0.44–0.49 (IPCC 2006, the survey states no own range), R's
range from ``root_shoot_range`` of the class or v/2 to 2v, and the CH4 flux
log-normal with mean F and SD 0.5 F (σ² = ln(1 + 0.5²)). One R and one flux
are drawn per class and one CF for all classes (the world's dry matter is
all one kind of plant tissue to the 0.44–0.49 range; the ledger draws CF per
class, which treats the classes' CF errors as independent — a 3 % log-SD
that barely moves a per-stratum interval), each shared by both epochs (as
the ledger shares its draws). Water's R is 0 and stays 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from carbonsink.accounting.parameters import (
    CARBON_FRACTION_RANGE,
    DEFAULT_FLUX_RELATIVE_SD,
    ROOT_SHOOT_DEFAULT_FACTOR,
)
from carbonsink.config import DEFAULT_CLASSES
from carbonsink.synthetic.parameters import CARBON_FRACTION, CLASSES
from carbonsink.synthetic.random_fields import named_stream

__all__ = ["CarbonWorld", "draw_carbon_world", "nominal_carbon_world", "range_log_sd"]

#: z of the two-sided 90 % normal interval, Φ⁻¹(0.95).
_Z90: Final = 1.6448536269514722


@dataclass(frozen=True)
class CarbonWorld:
    """True carbon parameters of every class.

    Parameters
    ----------
    carbon_fraction
        CF of every class, t C per t dry matter.
    root_shoot
        Class → R (BGB = R × AGB).
    ch4_flux_mg_m2_d
        Class → annual-mean CH4 flux, mg CH4 m⁻² d⁻¹.
    drawn
        ``True``: drawn from the survey's priors; ``False``: the stated values.
    """

    carbon_fraction: float
    root_shoot: Mapping[str, float]
    ch4_flux_mg_m2_d: Mapping[str, float]
    drawn: bool


def range_log_sd(low: float, high: float) -> float:
    """σ of a log-normal whose range ``[low, high]`` spans 2 × 1.645 σ in log space.

    Examples
    --------
    >>> round(range_log_sd(0.5, 3.0), 4)  # reed: ln 6 / 3.2897
    0.5446
    """
    return math.log(high / low) / (2.0 * _Z90)


def nominal_carbon_world() -> CarbonWorld:
    """The stated values of :data:`~carbonsink.synthetic.parameters.CLASSES`."""
    return CarbonWorld(
        carbon_fraction=CARBON_FRACTION,
        root_shoot={c.name: c.root_shoot for c in CLASSES},
        ch4_flux_mg_m2_d={c.name: c.ch4_flux_mg_m2_d for c in CLASSES},
        drawn=False,
    )


def draw_carbon_world(seed: int) -> CarbonWorld:
    """Draw CF, R and the CH4 flux of every class from the stream ``"landscape.carbon_world"``.

    Parameters
    ----------
    seed
        Survey seed.

    Returns
    -------
    CarbonWorld
        CF first, then per class in code order R and F, each
        v × exp(σ Z − σ²/2) with the module's σ (mean v).
    """
    rng = named_stream(seed, "landscape.carbon_world")
    flux_sigma = math.sqrt(math.log1p(DEFAULT_FLUX_RELATIVE_SD**2))

    def draw(value: float, sigma: float) -> float:
        return value * math.exp(sigma * float(rng.standard_normal()) - sigma * sigma / 2.0)

    cf = draw(CARBON_FRACTION, range_log_sd(*CARBON_FRACTION_RANGE))
    rs: dict[str, float] = {}
    flux: dict[str, float] = {}
    for params in CLASSES:
        known = DEFAULT_CLASSES.get(params.name)
        stated = known.root_shoot_range if known is not None else None
        factor = ROOT_SHOOT_DEFAULT_FACTOR
        low, high = stated or (params.root_shoot / factor, params.root_shoot * factor)
        rs[params.name] = draw(params.root_shoot, range_log_sd(low, high)) if high > 0 else 0.0
        flux[params.name] = draw(params.ch4_flux_mg_m2_d, flux_sigma)
    return CarbonWorld(carbon_fraction=cf, root_shoot=rs, ch4_flux_mg_m2_d=flux, drawn=True)
