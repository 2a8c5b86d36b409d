"""Soil carbon change between two epochs at equivalent soil mass (ESM).

A fixed-depth comparison of soil organic carbon between two epochs is biased
when sediment deposition or compaction changes the bulk density: the 0–30 cm
window then holds a different mass of soil. ESM compares the carbon held in the
same *mass* of soil instead (docs/methodology.md §3): for one pair of cores
(:func:`esm_change`, cores being :class:`~carbonsink.soil.soil_core.SoilCore`)
or for every pair of cores of two tables of layers with a ``core_id`` column
(:func:`esm_change_table`). Functions return new objects; inputs are never
modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.errors import InputError
from carbonsink.soil.soil_core import SoilCore

__all__ = ["EsmChange", "EsmChangeTable", "esm_change", "esm_change_table"]

FloatArray = npt.NDArray[np.float64]

#: Columns a layer table needs for :func:`esm_change_table` (``coarse_frac`` optional).
LAYER_COLUMNS: Final = (
    "core_id",
    "depth_top_cm",
    "depth_bottom_cm",
    "bulk_density_g_cm3",
    "oc_pct",
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
        Passed to :func:`~carbonsink.soil.soil_core.esm_soc` (only matters for an
        explicit M_ref).

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
