"""Every unit constant and conversion carbonsink uses, in one place.

Sources: docs/methodology.md §1; IPCC 2006 Guidelines; NIST Handbook 44 (feet).
"""

from __future__ import annotations

from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "CO2_PER_C",
    "FOOT_M",
    "G_M2_PER_MG_HA",
    "HA_PER_MU",
    "M2_PER_HA",
    "M2_PER_MU",
    "MG_HA_PER_G_M2",
    "MG_HA_PER_KG_M2",
    "T_HA_YR_PER_MG_M2_D",
    "US_SURVEY_FOOT_M",
    "c_to_co2",
    "co2_to_c",
    "feet_to_metres",
    "flux_mg_m2_d_to_t_ha_yr",
    "flux_mg_m2_h_to_t_ha_yr",
    "g_m2_to_mg_ha",
    "ha_to_mu",
    "m2_to_ha",
    "mg_ha_to_g_m2",
    "mu_to_ha",
    "us_survey_feet_to_metres",
]

Number = TypeVar("Number", float, npt.NDArray[np.floating])

#: Molar mass ratio CO2 / C = 44.0095 / 12.011, rounded as IPCC does to 44/12.
CO2_PER_C: Final = 44.0 / 12.0
#: 1 ha = 10,000 m².
M2_PER_HA: Final = 10_000.0
#: 1 mu (亩) = 10,000/15 m² = 666.67 m² (Chinese statutory area unit).
M2_PER_MU: Final = M2_PER_HA / 15.0
#: 1 mu = 1/15 ha.
HA_PER_MU: Final = 1.0 / 15.0
#: 1 g m⁻² = 1e-6 Mg / 1e-4 ha = 0.01 Mg ha⁻¹.
MG_HA_PER_G_M2: Final = 0.01
#: 1 Mg ha⁻¹ = 100 g m⁻².
G_M2_PER_MG_HA: Final = 100.0
#: 1 kg m⁻² = 10 Mg ha⁻¹.
MG_HA_PER_KG_M2: Final = 10.0
#: 1 mg m⁻² d⁻¹ = 1e-9 t / 1e-4 ha × 365 d = 3.65e-3 t ha⁻¹ yr⁻¹.
T_HA_YR_PER_MG_M2_D: Final = 365.0 * 1e-5
#: International foot, exactly 0.3048 m.
FOOT_M: Final = 0.3048
#: US survey foot, exactly 1200/3937 m.
US_SURVEY_FOOT_M: Final = 1200.0 / 3937.0


def mu_to_ha(area_mu: Number) -> Number:
    """Convert mu (亩) to hectares: ha = mu / 15."""
    return area_mu * HA_PER_MU


def ha_to_mu(area_ha: Number) -> Number:
    """Convert hectares to mu (亩): mu = ha × 15."""
    return area_ha / HA_PER_MU


def m2_to_ha(area_m2: Number) -> Number:
    """Convert square metres to hectares: ha = m² / 10,000."""
    return area_m2 / M2_PER_HA


def g_m2_to_mg_ha(density_g_m2: Number) -> Number:
    """Convert an areal density from g m⁻² to Mg ha⁻¹ (× 0.01)."""
    return density_g_m2 * MG_HA_PER_G_M2


def mg_ha_to_g_m2(density_mg_ha: Number) -> Number:
    """Convert an areal density from Mg ha⁻¹ to g m⁻² (× 100)."""
    return density_mg_ha * G_M2_PER_MG_HA


def c_to_co2(mass_c: Number) -> Number:
    """Convert a mass of carbon to the mass of CO2 holding it (× 44/12)."""
    return mass_c * CO2_PER_C


def co2_to_c(mass_co2: Number) -> Number:
    """Convert a mass of CO2 to the mass of carbon in it (× 12/44)."""
    return mass_co2 / CO2_PER_C


def flux_mg_m2_d_to_t_ha_yr(flux: Number) -> Number:
    """Convert a gas flux from mg m⁻² d⁻¹ to t ha⁻¹ yr⁻¹.

    Notes
    -----
    1 mg m⁻² = 1e-9 t per 1e-4 ha = 1e-5 t ha⁻¹, so
    ``t ha⁻¹ yr⁻¹ = mg m⁻² d⁻¹ × 365 × 1e-5`` (docs/methodology.md §1).
    """
    return flux * T_HA_YR_PER_MG_M2_D


def flux_mg_m2_h_to_t_ha_yr(flux: Number, *, hours_per_year: float = 8760.0) -> Number:
    """Convert a gas flux from mg m⁻² h⁻¹ to t ha⁻¹ yr⁻¹.

    ``hours_per_year`` lets a seasonal flux (e.g. six months of emission,
    4380 h) be annualised explicitly.
    """
    return flux * hours_per_year * 1e-5


def feet_to_metres(length_ft: Number) -> Number:
    """Convert international feet to metres (× 0.3048)."""
    return length_ft * FOOT_M


def us_survey_feet_to_metres(length_ft: Number) -> Number:
    """Convert US survey feet to metres (× 1200/3937)."""
    return length_ft * US_SURVEY_FOOT_M
