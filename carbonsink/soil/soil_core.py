"""One soil core's layers on the mass coordinate: cumulative soil mass and SOC.

Equivalent soil mass (ESM, :mod:`carbonsink.soil.esm`) compares the carbon held
in the same *mass* of soil rather than in the same depth window (docs/methodology.md
§3). This module puts a core on that coordinate: the cumulative fine-soil mass
and organic carbon at its layer boundaries, and the SOC at a reference soil
mass. The functions work on the layers of one core (arrays of depths, bulk
density, organic-carbon percentage and coarse fraction) and return new objects;
inputs are never modified.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.interpolate import PchipInterpolator

from carbonsink.errors import InputError

__all__ = ["EsmSoc", "SoilCore", "cumulative_mass_carbon", "esm_soc"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: Mg soil ha⁻¹ per (g cm⁻³ × cm): 1 g cm⁻² = 10⁻⁶ Mg per 10⁻⁸ ha = 100 Mg ha⁻¹.
MG_HA_PER_G_CM2: Final = 100.0

_FIX_LAYERS = (
    "give each core contiguous layers from 0 cm down (harmonise the depths first), with "
    "bulk_density_g_cm3 > 0, oc_pct ≥ 0 and 0 ≤ coarse_frac < 1"
)


def _core_name(core_id: str | None) -> str:
    return "core (unnamed)" if core_id is None else f"core {core_id!r}"


def _layer_arrays(
    depth_top_cm: ArrayLike,
    depth_bottom_cm: ArrayLike,
    bulk_density_g_cm3: ArrayLike,
    oc_pct: ArrayLike,
    coarse_frac: ArrayLike | None,
    core_id: str | None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validated copies of a core's layer arrays, sorted by depth."""
    name = _core_name(core_id)
    raw = {
        "depth_top_cm": depth_top_cm,
        "depth_bottom_cm": depth_bottom_cm,
        "bulk_density_g_cm3": bulk_density_g_cm3,
        "oc_pct": oc_pct,
    }
    arrays = {key: np.array(value, dtype=np.float64, ndmin=1) for key, value in raw.items()}
    n = arrays["depth_top_cm"].size
    arrays["coarse_frac"] = (
        np.zeros(n) if coarse_frac is None else np.array(coarse_frac, dtype=np.float64, ndmin=1)
    )
    sizes = {key: a.size for key, a in arrays.items()}
    if n == 0 or len(set(sizes.values())) != 1 or any(a.ndim != 1 for a in arrays.values()):
        raise InputError(
            f"layer arrays must be one-dimensional, non-empty and of equal length (got {sizes})",
            where=name,
            fix="pass one value per layer for every quantity",
        )
    for key, values in arrays.items():
        if not np.isfinite(values).all():
            raise InputError(
                f"{key} has missing or non-finite values",
                where=name,
                fix=f"fill in {key} for every layer of the core",
            )
    order = np.argsort(arrays["depth_top_cm"], kind="stable")
    top, bottom, bd, oc, cf = (arrays[k][order] for k in (*raw, "coarse_frac"))
    problems = []
    if top[0] != 0.0:
        problems.append(f"the first layer starts at {top[0]:g} cm, not at the surface (0 cm)")
    if (bottom <= top).any():
        problems.append("a layer has depth_bottom_cm ≤ depth_top_cm")
    gaps = np.flatnonzero(top[1:] != bottom[:-1])
    if gaps.size:
        i = int(gaps[0])
        problems.append(f"layers are not contiguous ({bottom[i]:g} cm then {top[i + 1]:g} cm)")
    if (bd <= 0).any():
        problems.append(f"bulk_density_g_cm3 ≤ 0 ({bd[bd <= 0][0]:g})")
    if (oc < 0).any():
        problems.append(f"oc_pct < 0 ({oc[oc < 0][0]:g})")
    if ((cf < 0) | (cf >= 1)).any():
        problems.append(f"coarse_frac outside [0, 1) ({cf[(cf < 0) | (cf >= 1)][0]:g})")
    if problems:
        raise InputError("; ".join(problems), where=name, fix=_FIX_LAYERS)
    return top, bottom, bd, oc, cf


def cumulative_mass_carbon(
    depth_top_cm: ArrayLike,
    depth_bottom_cm: ArrayLike,
    bulk_density_g_cm3: ArrayLike,
    oc_pct: ArrayLike,
    coarse_frac: ArrayLike | None = None,
    *,
    core_id: str | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Cumulative fine-soil mass and organic carbon at the layer boundaries of a core.

    Parameters
    ----------
    depth_top_cm, depth_bottom_cm
        Layer limits in cm below the surface; the layers must be contiguous from
        0 cm (any order; they are sorted by depth).
    bulk_density_g_cm3
        Dry bulk density of each layer.
    oc_pct
        Organic carbon of each layer, % of fine-soil mass.
    coarse_frac
        Coarse-fragment volume fraction of each layer (``None``: 0).
    core_id
        Name used in error messages.

    Returns
    -------
    mass_mg_ha, soc_mg_ha
        Arrays of length ``n_layers + 1`` starting at 0: cumulative soil mass
        M [Mg ha⁻¹] and cumulative SOC S [Mg C ha⁻¹] at each layer boundary.

    Raises
    ------
    InputError
        Naming the core, when the layers are not contiguous from 0 cm, arrays
        differ in length, or a value is missing or out of range.

    Notes
    -----
    M(z) = Σ BDᵢ · dᵢ · (1 − CFᵢ) · 100 [Mg ha⁻¹] and
    S(z) = Σ OCᵢ · BDᵢ · dᵢ · (1 − CFᵢ) [Mg C ha⁻¹] (docs/methodology.md §3;
    Ellert & Bettany 1995, Can. J. Soil Sci. 75:529). 1 g cm⁻² = 100 Mg ha⁻¹.
    """
    top, bottom, bd, oc, cf = _layer_arrays(
        depth_top_cm, depth_bottom_cm, bulk_density_g_cm3, oc_pct, coarse_frac, core_id
    )
    layer_mass = bd * (bottom - top) * (1.0 - cf) * MG_HA_PER_G_CM2
    layer_soc = layer_mass * oc / 100.0
    zero = np.zeros(1)
    return np.concatenate([zero, np.cumsum(layer_mass)]), np.concatenate(
        [zero, np.cumsum(layer_soc)]
    )


@dataclass(frozen=True)
class EsmSoc:
    """Cumulative SOC of one core at a reference soil mass."""

    soc_mg_ha: float
    reference_mass_mg_ha: float
    #: The reference mass lies below the deepest layer (value extrapolated).
    extrapolated: bool


def esm_soc(
    depth_top_cm: ArrayLike,
    depth_bottom_cm: ArrayLike,
    bulk_density_g_cm3: ArrayLike,
    oc_pct: ArrayLike,
    coarse_frac: ArrayLike | None = None,
    *,
    reference_mass_mg_ha: float,
    core_id: str | None = None,
    allow_extrapolation: bool = False,
) -> EsmSoc:
    """Cumulative SOC of a core at a reference soil mass (monotone PCHIP on M, S).

    Parameters
    ----------
    depth_top_cm, depth_bottom_cm, bulk_density_g_cm3, oc_pct, coarse_frac
        Layers of the core, as in :func:`cumulative_mass_carbon`.
    reference_mass_mg_ha
        Reference cumulative soil mass M_ref [Mg ha⁻¹], ≥ 0.
    core_id
        Name used in error messages.
    allow_extrapolation
        When M_ref exceeds the core's total mass: if ``False`` (default) raise;
        if ``True`` extend the deepest layer's carbon concentration and flag
        the result ``extrapolated``.

    Returns
    -------
    EsmSoc

    Raises
    ------
    InputError
        Naming the core, for bad layers, a negative M_ref, or an M_ref beyond
        the core's mass without ``allow_extrapolation``.

    Notes
    -----
    S(M_ref) from the piecewise-cubic Hermite interpolant with Fritsch–Carlson
    monotone slopes (Fritsch & Carlson 1980, SIAM J. Numer. Anal. 17:238;
    scipy ``PchipInterpolator``) through the points (M(z), S(z)) of
    :func:`cumulative_mass_carbon`; as M is increasing and S non-decreasing,
    the interpolant is non-decreasing and passes through every layer boundary
    (docs/methodology.md §3; Wendt & Hauser 2013, Eur. J. Soil Sci. 64:58).
    Extrapolation, only when allowed: S(M) = S(M_n) + OC_n/100 · (M − M_n),
    with OC_n the deepest layer's carbon percentage.
    """
    mass, soc = cumulative_mass_carbon(
        depth_top_cm, depth_bottom_cm, bulk_density_g_cm3, oc_pct, coarse_frac, core_id=core_id
    )
    name = _core_name(core_id)
    m_ref = float(reference_mass_mg_ha)
    if not math.isfinite(m_ref) or m_ref < 0:
        raise InputError(
            f"reference soil mass {m_ref:g} Mg/ha is not a finite value ≥ 0",
            where=name,
            fix="give a reference mass ≥ 0 Mg/ha (e.g. the cumulative mass at 30 cm)",
        )
    if m_ref <= mass[-1]:
        # Layers without carbon give flat segments; scipy's harmonic-mean slopes
        # then divide by zero internally (the result is still exact and monotone).
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            value = float(PchipInterpolator(mass, soc, extrapolate=False)(m_ref))
        return EsmSoc(soc_mg_ha=value, reference_mass_mg_ha=m_ref, extrapolated=False)
    if not allow_extrapolation:
        raise InputError(
            f"reference soil mass {m_ref:.1f} Mg/ha exceeds the core's total mass "
            f"{mass[-1]:.1f} Mg/ha; S would be extrapolated below the deepest layer",
            where=name,
            fix="use a smaller reference mass or depth, sample deeper, or pass "
            "allow_extrapolation=True to extend the deepest layer (the result is flagged)",
        )
    # Slope of the deepest segment = OC_n / 100 (Mg C per Mg soil) of the deepest layer.
    deepest_slope = (soc[-1] - soc[-2]) / (mass[-1] - mass[-2])
    value = float(soc[-1] + deepest_slope * (m_ref - mass[-1]))
    logger.info("%s: S extrapolated to %.1f Mg/ha beyond %.1f Mg/ha", name, m_ref, mass[-1])
    return EsmSoc(soc_mg_ha=value, reference_mass_mg_ha=m_ref, extrapolated=True)


@dataclass(frozen=True, eq=False)
class SoilCore:
    """The layers of one soil core (validated copies; arrays sorted by depth).

    Layers must be contiguous from 0 cm; ``coarse_frac`` ``None`` means 0.
    """

    core_id: str
    depth_top_cm: FloatArray
    depth_bottom_cm: FloatArray
    bulk_density_g_cm3: FloatArray
    oc_pct: FloatArray
    coarse_frac: FloatArray | None = None

    def __post_init__(self) -> None:
        arrays = _layer_arrays(
            self.depth_top_cm,
            self.depth_bottom_cm,
            self.bulk_density_g_cm3,
            self.oc_pct,
            self.coarse_frac,
            self.core_id,
        )
        names = ("depth_top_cm", "depth_bottom_cm", "bulk_density_g_cm3", "oc_pct", "coarse_frac")
        for key, values in zip(names, arrays, strict=True):
            values.setflags(write=False)
            object.__setattr__(self, key, values)

    @property
    def depth_cm(self) -> float:
        """Depth of the bottom of the deepest layer."""
        return float(self.depth_bottom_cm[-1])

    def cumulative(self) -> tuple[FloatArray, FloatArray]:
        """M and S at the layer boundaries (see :func:`cumulative_mass_carbon`)."""
        return cumulative_mass_carbon(
            self.depth_top_cm,
            self.depth_bottom_cm,
            self.bulk_density_g_cm3,
            self.oc_pct,
            self.coarse_frac,
            core_id=self.core_id,
        )

    def at_depth(self, depth_cm: float) -> tuple[float, float]:
        """Cumulative mass [Mg/ha] and SOC [Mg C/ha] from 0 cm to ``depth_cm``.

        Exact for uniform layers: M and S are linear in depth inside a layer.
        """
        if not 0.0 <= depth_cm <= self.depth_cm:
            raise InputError(
                f"the core reaches {self.depth_cm:g} cm, not the reference depth {depth_cm:g} cm",
                where=_core_name(self.core_id),
                fix="use a reference depth the cores reach, or sample deeper",
            )
        boundaries = np.concatenate([[0.0], self.depth_bottom_cm])
        mass, soc = self.cumulative()
        return float(np.interp(depth_cm, boundaries, mass)), float(
            np.interp(depth_cm, boundaries, soc)
        )

    def soc_at_mass(self, reference_mass_mg_ha: float, *, allow_extrapolation: bool) -> EsmSoc:
        """S at a reference mass (see :func:`esm_soc`)."""
        return esm_soc(
            self.depth_top_cm,
            self.depth_bottom_cm,
            self.bulk_density_g_cm3,
            self.oc_pct,
            self.coarse_frac,
            reference_mass_mg_ha=reference_mass_mg_ha,
            core_id=self.core_id,
            allow_extrapolation=allow_extrapolation,
        )
