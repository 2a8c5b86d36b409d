"""The 100-year cap of a pool group's claim (docs/methodology.md eq. 5.21, VM0033 v2.1 eq. 86)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from carbonsink.units import CO2_PER_C

__all__ = ["cap_group", "capped_changes"]

FloatArray = npt.NDArray[np.float64]


def cap_group(pool: str) -> str:
    """The 100-year cap's group of a counted pool: ``"soil"`` or ``"biomass"``."""
    return "soil" if pool.startswith("soc") else "biomass"


def capped_changes(
    gained: Mapping[str, FloatArray], caps: Mapping[str, float] | None
) -> tuple[dict[str, FloatArray], dict[str, float]]:
    """Each pool's ``(n, S)`` change (t C) with every capped group held to its cap (eq. 5.21).

    In a draw where 44/12 × Σ_{p ∈ g} Σ_s ΔC_p,s exceeds the cap B_g (t CO2e), every
    pool and stratum of the group is scaled by B_g / that total. Also returns the share
    of the draws in which each group's cap binds.
    """
    out = dict(gained)
    shares: dict[str, float] = {}
    for group, cap in (caps or {}).items():
        members = [p for p in out if cap_group(p) == group]
        if not members:
            continue
        total = CO2_PER_C * np.sum([out[p].sum(axis=1) for p in members], axis=0)
        over = total > cap
        factor = np.where(over, cap / np.where(over, total, 1.0), 1.0)
        for p in members:
            out[p] = out[p] * factor[:, None]
        shares[group] = float(over.mean())
    return out, shares
