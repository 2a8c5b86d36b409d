"""SOC accumulation rate of accreting sediment, from dated cores (docs/methodology.md §3)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from carbonsink.errors import InputError

__all__ = ["accretion_soc_rate"]

FloatArray = npt.NDArray[np.float64]

#: g C m⁻² yr⁻¹ per (cm yr⁻¹ × g cm⁻³ × fraction C): 1 g cm⁻² = 10⁴ g m⁻².
G_M2_PER_G_CM2: Final = 10_000.0


def accretion_soc_rate(
    accretion_cm_yr: float | FloatArray,
    bulk_density_g_cm3: float | FloatArray,
    oc_pct: float | FloatArray,
) -> float | FloatArray:
    """SOC accumulation rate of accreting sediment (dated cores, Cs-137/Pb-210).

    Parameters
    ----------
    accretion_cm_yr
        Vertical accretion rate [cm yr⁻¹], ≥ 0.
    bulk_density_g_cm3
        Dry bulk density of the accreted sediment, > 0.
    oc_pct
        Organic carbon of the sediment [%], 0–100.

    Returns
    -------
    float or ndarray
        SOC accumulation [g C m⁻² yr⁻¹].

    Raises
    ------
    InputError
        For negative accretion, non-positive bulk density or OC outside 0–100 %.

    Notes
    -----
    Rate = accretion × BD × OC/100 × 10⁴ [g C m⁻² yr⁻¹] (docs/methodology.md §3;
    1 g cm⁻² = 10⁴ g m⁻²). Check: 0.5 cm/yr × 1.0 × 2 % → 100 g C m⁻² yr⁻¹.
    """
    rate = np.asarray(accretion_cm_yr, dtype=np.float64)
    bd = np.asarray(bulk_density_g_cm3, dtype=np.float64)
    oc = np.asarray(oc_pct, dtype=np.float64)
    bad = []
    if not (np.isfinite(rate) & (rate >= 0)).all():
        bad.append("accretion_cm_yr must be finite and ≥ 0")
    if not (np.isfinite(bd) & (bd > 0)).all():
        bad.append("bulk_density_g_cm3 must be finite and > 0")
    if not (np.isfinite(oc) & (oc >= 0) & (oc <= 100)).all():
        bad.append("oc_pct must be within 0–100")
    if bad:
        raise InputError(
            f"accretion SOC rate: {'; '.join(bad)}",
            where="accretion",
            fix="check the dated-core accretion rate and the sediment's BD and OC",
        )
    result = rate * bd * oc / 100.0 * G_M2_PER_G_CM2
    return float(result) if result.ndim == 0 else result
