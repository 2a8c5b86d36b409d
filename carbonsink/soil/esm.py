"""Soil carbon change at equivalent soil mass (ESM), detectability and accretion.

A fixed-depth comparison of soil organic carbon between two epochs is biased
when sediment deposition or compaction changes the bulk density: the 0–30 cm
window then holds a different mass of soil. ESM compares the carbon held in the
same *mass* of soil instead (docs/methodology.md §3). The functions here work on the
layers of one core (arrays of depths, bulk density, organic-carbon percentage
and coarse fraction) or on tables of layers with a ``core_id`` column, and
return new objects; inputs are never modified.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.interpolate import PchipInterpolator
from scipy.stats import t as student_t

from carbonsink.errors import InputError

__all__ = [
    "Detectability",
    "EsmChange",
    "EsmChangeTable",
    "EsmSoc",
    "SoilCore",
    "accretion_soc_rate",
    "check_detectable",
    "cumulative_mass_carbon",
    "esm_change",
    "esm_change_table",
    "esm_soc",
    "minimum_detectable_difference",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

#: Mg soil ha⁻¹ per (g cm⁻³ × cm): 1 g cm⁻² = 10⁻⁶ Mg per 10⁻⁸ ha = 100 Mg ha⁻¹.
MG_HA_PER_G_CM2: Final = 100.0
#: g C m⁻² yr⁻¹ per (cm yr⁻¹ × g cm⁻³ × fraction C): 1 g cm⁻² = 10⁴ g m⁻².
G_M2_PER_G_CM2: Final = 10_000.0
#: Columns a layer table needs for :func:`esm_change_table` (``coarse_frac`` optional).
LAYER_COLUMNS: Final = (
    "core_id",
    "depth_top_cm",
    "depth_bottom_cm",
    "bulk_density_g_cm3",
    "oc_pct",
)

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


@dataclass(frozen=True)
class EsmChange:
    """SOC change between two epochs at equivalent soil mass and at fixed depth."""

    core_id_t1: str
    core_id_t2: str
    reference_depth_cm: float
    reference_mass_mg_ha: float
    soc_t1_esm_mg_ha: float
    soc_t2_esm_mg_ha: float
    delta_soc_esm_mg_ha: float
    soc_t1_fixed_mg_ha: float
    soc_t2_fixed_mg_ha: float
    delta_soc_fixed_mg_ha: float
    #: Either epoch's S(M_ref) was extrapolated below its deepest layer.
    extrapolated: bool


def esm_change(
    core_t1: SoilCore,
    core_t2: SoilCore,
    *,
    reference_depth_cm: float = 30.0,
    reference_mass_mg_ha: float | None = None,
    allow_extrapolation: bool = False,
) -> EsmChange:
    """SOC change between a core of epoch 1 and one of epoch 2 at equivalent soil mass.

    Parameters
    ----------
    core_t1, core_t2
        The cores (or site-mean profiles) of the two epochs; both must reach
        ``reference_depth_cm``.
    reference_depth_cm
        Depth of the fixed-depth comparison and of the default reference mass.
    reference_mass_mg_ha
        M_ref [Mg ha⁻¹]; ``None``: the smaller of the two cores' masses at
        ``reference_depth_cm``.
    allow_extrapolation
        Passed to :func:`esm_soc` (only matters for an explicit M_ref).

    Returns
    -------
    EsmChange

    Raises
    ------
    InputError
        Naming the core, for bad layers, a core shallower than the reference
        depth, or an M_ref beyond a core's mass.

    Notes
    -----
    M_ref = min(M₁(z_ref), M₂(z_ref)); ΔSOC_ESM = S₂(M_ref) − S₁(M_ref);
    ΔSOC_fixed = S₂(z_ref) − S₁(z_ref) (docs/methodology.md §3; Ellert & Bettany
    1995; von Haden et al. 2020, Glob. Change Biol. 26:3759). Taking the
    smaller mass keeps both values interpolated, never extrapolated.
    """
    mass_t1, soc_fixed_t1 = core_t1.at_depth(reference_depth_cm)
    mass_t2, soc_fixed_t2 = core_t2.at_depth(reference_depth_cm)
    m_ref = min(mass_t1, mass_t2) if reference_mass_mg_ha is None else reference_mass_mg_ha
    esm_t1 = core_t1.soc_at_mass(m_ref, allow_extrapolation=allow_extrapolation)
    esm_t2 = core_t2.soc_at_mass(m_ref, allow_extrapolation=allow_extrapolation)
    return EsmChange(
        core_id_t1=core_t1.core_id,
        core_id_t2=core_t2.core_id,
        reference_depth_cm=float(reference_depth_cm),
        reference_mass_mg_ha=float(m_ref),
        soc_t1_esm_mg_ha=esm_t1.soc_mg_ha,
        soc_t2_esm_mg_ha=esm_t2.soc_mg_ha,
        delta_soc_esm_mg_ha=esm_t2.soc_mg_ha - esm_t1.soc_mg_ha,
        soc_t1_fixed_mg_ha=soc_fixed_t1,
        soc_t2_fixed_mg_ha=soc_fixed_t2,
        delta_soc_fixed_mg_ha=soc_fixed_t2 - soc_fixed_t1,
        extrapolated=esm_t1.extrapolated or esm_t2.extrapolated,
    )


@dataclass(frozen=True, eq=False)
class EsmChangeTable:
    """ESM change for many pairs of cores and their mean with its standard error."""

    #: One row per pair: the fields of :class:`EsmChange` (plus ``distance`` for "nearest").
    pairs: pd.DataFrame
    n_pairs: int
    mean_delta_soc_esm_mg_ha: float
    #: SE of the mean paired difference, SD/√n (NaN for one pair).
    se_delta_soc_esm_mg_ha: float
    mean_delta_soc_fixed_mg_ha: float
    se_delta_soc_fixed_mg_ha: float
    #: Core ids of each epoch that found no partner.
    unpaired_t1: tuple[str, ...]
    unpaired_t2: tuple[str, ...]


def _cores_from_layers(layers: pd.DataFrame, epoch: str) -> dict[str, SoilCore]:
    missing = [c for c in LAYER_COLUMNS if c not in layers.columns]
    if missing:
        raise InputError(
            f"{epoch} layer table lacks column(s) {', '.join(missing)}",
            where=f"{epoch} layers",
            fix=f"the table needs {', '.join(LAYER_COLUMNS)} (coarse_frac optional); convert "
            "organic matter to oc_pct first",
        )
    numeric_columns = [*LAYER_COLUMNS[1:], *(["coarse_frac"] if "coarse_frac" in layers else [])]
    # Text in a numeric cell becomes NaN here and is reported per core below.
    numbers = layers[numeric_columns].apply(pd.to_numeric, errors="coerce")
    if "coarse_frac" in numbers:
        # A blank cell means no coarse fragments; text stays NaN and is an error.
        numbers["coarse_frac"] = numbers["coarse_frac"].where(layers["coarse_frac"].notna(), 0.0)
    cores: dict[str, SoilCore] = {}
    for core_id, group in numbers.groupby(layers["core_id"].astype(str), sort=True):
        column = {name: group[name].to_numpy(dtype=np.float64) for name in numeric_columns}
        try:
            cores[str(core_id)] = SoilCore(
                core_id=str(core_id),
                depth_top_cm=column["depth_top_cm"],
                depth_bottom_cm=column["depth_bottom_cm"],
                bulk_density_g_cm3=column["bulk_density_g_cm3"],
                oc_pct=column["oc_pct"],
                coarse_frac=column.get("coarse_frac"),
            )
        except InputError as error:
            problem = error.problem
            raise InputError(
                problem.message, where=f"{epoch} layers, {problem.where}", fix=problem.fix
            ) from error
    return cores


def _pairs_on_column(
    layers_t1: pd.DataFrame, layers_t2: pd.DataFrame, column: str
) -> list[tuple[str, str, float]]:
    sites: list[dict[str, str]] = []
    for epoch, layers in (("t1", layers_t1), ("t2", layers_t2)):
        if column not in layers.columns:
            raise InputError(
                f"{epoch} layer table has no pairing column {column!r}",
                where=f"{epoch} layers",
                fix=f"add {column!r} to both tables, or pass pair_on a mapping "
                "{core_id_t1: core_id_t2} or 'nearest'",
            )
        located = layers[layers[column].notna()]
        per_site = located.groupby(located[column].astype(str))["core_id"].unique()
        crowded = per_site[per_site.map(len) > 1]
        if len(crowded):
            site = crowded.index[0]
            raise InputError(
                f"{epoch}: {column} {site!r} has several cores "
                f"({', '.join(map(str, crowded.iloc[0]))}); ESM pairs one core per epoch",
                where=f"{epoch} layers, {column} {site}",
                fix="give each core its own pairing value, or pass pair_on a mapping",
            )
        sites.append({str(site): str(cores[0]) for site, cores in per_site.items()})
    common = sorted(set(sites[0]) & set(sites[1]))
    return [(sites[0][s], sites[1][s], math.nan) for s in common]


def _pairs_nearest(
    layers_t1: pd.DataFrame, layers_t2: pd.DataFrame, max_distance: float
) -> list[tuple[str, str, float]]:
    points = []
    for epoch, layers in (("t1", layers_t1), ("t2", layers_t2)):
        if not {"x", "y"} <= set(layers.columns):
            raise InputError(
                f"{epoch} layer table has no x/y columns to pair cores by distance",
                where=f"{epoch} layers",
                fix="project both tables to the analysis CRS (x, y in metres) first",
            )
        first = layers.groupby(layers["core_id"].astype(str), sort=True)[["x", "y"]].first()
        points.append(first)
    a, b = points
    xy_a, xy_b = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    distance = np.hypot(*(xy_a[:, None, :] - xy_b[None, :, :]).transpose(2, 0, 1))
    candidates = sorted(
        (float(distance[i, j]), str(a.index[i]), str(b.index[j]))
        for i, j in zip(*np.nonzero(distance <= max_distance), strict=True)
    )
    taken_a: set[str] = set()
    taken_b: set[str] = set()
    pairs = []
    for d, core_a, core_b in candidates:
        if core_a not in taken_a and core_b not in taken_b:
            taken_a.add(core_a)
            taken_b.add(core_b)
            pairs.append((core_a, core_b, d))
    return sorted(pairs)


def _mean_se(values: FloatArray) -> tuple[float, float]:
    n = values.size
    if n == 0:
        return math.nan, math.nan
    se = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(np.mean(values)), se


def esm_change_table(
    layers_t1: pd.DataFrame,
    layers_t2: pd.DataFrame,
    *,
    pair_on: str | Mapping[str, str] = "site_id",
    max_distance: float | None = None,
    reference_depth_cm: float = 30.0,
    reference_mass_mg_ha: float | None = None,
    allow_extrapolation: bool = False,
) -> EsmChangeTable:
    """ESM change for every pair of cores of two epochs, and the mean change with its SE.

    Parameters
    ----------
    layers_t1, layers_t2
        Layer tables of the two epochs: ``core_id``, ``depth_top_cm``,
        ``depth_bottom_cm``, ``bulk_density_g_cm3``, ``oc_pct``, optionally
        ``coarse_frac`` (a blank cell is read as 0, no coarse fragments) and
        ``x``/``y``.
    pair_on
        How cores are paired: the name of a column present in both tables
        (e.g. ``"site_id"``; one core per value and epoch); a mapping
        ``{core_id_t1: core_id_t2}``; or ``"nearest"``: cores closest in
        ``x``/``y`` (same projected CRS) within ``max_distance``, matched one
        to one, closest pairs first.
    max_distance
        Largest pairing distance in CRS units; required with ``"nearest"``.
    reference_depth_cm, reference_mass_mg_ha, allow_extrapolation
        As in :func:`esm_change`, for every pair (default M_ref per pair).

    Returns
    -------
    EsmChangeTable

    Raises
    ------
    InputError
        For a missing column, an unknown core in the mapping, several cores per
        pairing value, no pair at all, or any bad core (named).

    Notes
    -----
    The pairs are a paired design: mean Δ = Σ Δᵢ / n and
    SE = sd(Δᵢ) / √n (Student 1908; Zar 2010, Biostatistical Analysis, ch. 9).
    """
    cores_t1 = _cores_from_layers(layers_t1, "t1")
    cores_t2 = _cores_from_layers(layers_t2, "t2")
    if isinstance(pair_on, Mapping):
        for epoch, ids, cores in (
            ("t1", pair_on.keys(), cores_t1),
            ("t2", pair_on.values(), cores_t2),
        ):
            unknown = sorted(set(map(str, ids)) - set(cores))
            if unknown:
                raise InputError(
                    f"pair_on names {epoch} core(s) not in the {epoch} table: {', '.join(unknown)}",
                    where=f"{epoch} layers",
                    fix="map core_ids that exist: {core_id_t1: core_id_t2}",
                )
        pairs = [(str(a), str(b), math.nan) for a, b in pair_on.items()]
    elif pair_on == "nearest":
        if max_distance is None or not max_distance > 0:
            raise InputError(
                f"pair_on='nearest' needs max_distance > 0 (got {max_distance})",
                where="pair_on",
                fix="give the largest distance, in CRS units, at which cores count as a pair",
            )
        pairs = _pairs_nearest(layers_t1, layers_t2, max_distance)
    else:
        pairs = _pairs_on_column(layers_t1, layers_t2, pair_on)
    if not pairs:
        raise InputError(
            f"no pair of cores found between the epochs (pair_on={pair_on!r})",
            where="pair_on",
            fix="check the pairing column or mapping, or increase max_distance",
        )
    rows = []
    for core_a, core_b, distance in pairs:
        change = esm_change(
            cores_t1[core_a],
            cores_t2[core_b],
            reference_depth_cm=reference_depth_cm,
            reference_mass_mg_ha=reference_mass_mg_ha,
            allow_extrapolation=allow_extrapolation,
        )
        rows.append({**asdict(change), "distance": distance})
    table = pd.DataFrame(rows)
    mean_esm, se_esm = _mean_se(table["delta_soc_esm_mg_ha"].to_numpy(dtype=np.float64))
    mean_fixed, se_fixed = _mean_se(table["delta_soc_fixed_mg_ha"].to_numpy(dtype=np.float64))
    paired_t1 = {a for a, _, _ in pairs}
    paired_t2 = {b for _, b, _ in pairs}
    return EsmChangeTable(
        pairs=table,
        n_pairs=len(table),
        mean_delta_soc_esm_mg_ha=mean_esm,
        se_delta_soc_esm_mg_ha=se_esm,
        mean_delta_soc_fixed_mg_ha=mean_fixed,
        se_delta_soc_fixed_mg_ha=se_fixed,
        unpaired_t1=tuple(sorted(set(cores_t1) - paired_t1)),
        unpaired_t2=tuple(sorted(set(cores_t2) - paired_t2)),
    )


def minimum_detectable_difference(
    s: float,
    n: int,
    *,
    alpha: float = 0.05,
    two_sided: bool = True,
    df: int | None = None,
) -> float:
    """Minimum detectable difference between two epochs' mean SOC stocks.

    Parameters
    ----------
    s
        Standard deviation of the core stocks within an epoch (pooled), in the
        units of the difference (e.g. Mg C ha⁻¹).
    n
        Number of cores per epoch (≥ 2).
    alpha
        Significance level.
    two_sided
        Two-sided test (t at 1 − α/2) or one-sided (t at 1 − α).
    df
        Degrees of freedom of t; ``None``: 2(n − 1), the pooled two-sample
        t-test of two independent samples of n cores.

    Returns
    -------
    float
        MDD in the units of ``s``.

    Raises
    ------
    InputError
        If s < 0 or not finite, n < 2, alpha outside (0, 1) or df < 1.

    Notes
    -----
    MDD = t_{1−α/2, ν} · √(2 s² / n) (docs/methodology.md §3): the minimum
    detectable difference of a two-sample t-test (Zar 2010, Biostatistical
    Analysis, 5th ed., ch. 8) without its power term t_β, so a true difference
    equal to the MDD is detected with 50 % power; ν = 2(n − 1), the degrees of
    freedom of two independent samples of n cores (as used for soil carbon by
    Garten & Wullschleger 1999, J. Environ. Qual. 28:1359). Pass ``df=n - 1``
    for the more conservative choice of some
    protocols.
    """
    if not math.isfinite(s) or s < 0:
        raise InputError(
            f"standard deviation {s} is not a finite value ≥ 0",
            where="minimum detectable difference",
            fix="pass the SD of the core stocks",
        )
    if n < 2 or not 0 < alpha < 1 or (df is not None and df < 1):
        raise InputError(
            f"cannot compute the MDD with n={n} cores, alpha={alpha}, df={df}",
            where="minimum detectable difference",
            fix="use n ≥ 2 cores per epoch, 0 < alpha < 1 and df ≥ 1",
        )
    nu = 2 * (n - 1) if df is None else df
    quantile = 1.0 - alpha / 2.0 if two_sided else 1.0 - alpha
    return float(student_t.ppf(quantile, nu)) * math.sqrt(2.0 * s * s / n)


@dataclass(frozen=True)
class Detectability:
    """Whether a change exceeds the minimum detectable difference."""

    detectable: bool
    delta: float
    mdd: float
    n: int
    #: Warning text for the ledger when not detectable, else ``None``.
    warning: str | None


def check_detectable(
    delta: float,
    s: float,
    n: int,
    *,
    alpha: float = 0.05,
    two_sided: bool = True,
    df: int | None = None,
    units: str = "Mg C/ha",
) -> Detectability:
    """Compare a SOC change with its minimum detectable difference.

    Parameters
    ----------
    delta
        The change (e.g. mean ΔSOC between epochs).
    s, n, alpha, two_sided, df
        As in :func:`minimum_detectable_difference`.
    units
        Units of ``delta`` and ``s``, for the warning text.

    Returns
    -------
    Detectability
        ``detectable`` is ``|delta| ≥ MDD``; ``warning`` the text to record in
        the ledger otherwise.

    Notes
    -----
    Warn when |ΔSOC| < MDD (docs/methodology.md §3); MDD from
    :func:`minimum_detectable_difference`.
    """
    mdd = minimum_detectable_difference(s, n, alpha=alpha, two_sided=two_sided, df=df)
    detectable = abs(delta) >= mdd
    warning = None
    if not detectable:
        warning = (
            f"ΔSOC {delta:.2f} {units} is below the minimum detectable difference "
            f"{mdd:.2f} {units} ({n} cores per epoch, SD {s:.2f} {units}, α = {alpha:g}"
            f"{', two-sided' if two_sided else ', one-sided'})"
        )
        logger.info(warning)
    return Detectability(detectable=detectable, delta=float(delta), mdd=mdd, n=n, warning=warning)


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
