"""The carbon pools as data: what each pool is, where its layer lives, how it is sampled.

A pool (docs/methodology.md §2–§4) is one registry entry in :data:`POOLS`:
its name in a methodology profile, the per-pixel density layer that holds it
(Mg C/ha), the *quantity* the survey measures for it and the per-class
factors that turn that quantity into carbon. Stocks, the ledger's Monte Carlo,
the per-pixel carbon, the report and profile validation all read this
registry, so adding a pool is one entry here, a science function that maps
the pool's quantity, and the stage code that calls it and hands the quantity
to the ledger (docs/design.md §9).

A *quantity* is what the stages measure, per epoch, in one of three forms
(:data:`Quantity`):

- :class:`KeyedTotals` — map totals of dry matter per (stratum, class) key
  with spatial-block bootstrap replicates (above-ground biomass; dead organic
  matter when it is modelled like AGB);
- :class:`RatioTotals` — a per-class ratio (with its SE) to another keyed
  quantity (dead organic matter as a ratio to live AGB);
- :class:`StratumTotals` — totals of carbon per stratum with the covariance
  of their errors (soil organic carbon block-kriged per stratum).

In a Monte Carlo draw, pool p of stratum s at epoch e is

    C_p[e, s] = Σ_{keys (s, c)} Q_p[e, s, c] × Π_{f ∈ factors(p)} f_c      (keyed quantities)
    C_p[e, s] = Q_p[e, s]                                                   (stratum totals)

with Q_p the draw of the pool's quantity and f_c the class's carbon fraction
or root:shoot ratio (drawn once, shared by the epochs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from carbonsink.errors import InputError
from carbonsink.i18n import N_

__all__ = [
    "CORRECTION_STREAM",
    "POOLS",
    "ClassFactor",
    "KeyedTotals",
    "Pool",
    "Quantity",
    "RatioTotals",
    "StratumTotals",
    "counted_pools",
    "pool_for_key",
    "pool_layer",
    "quantity_stem",
    "stream_name",
]

FloatArray = npt.NDArray[np.float64]

#: Per-class parameters a pool's quantity is multiplied by (names of
#: :class:`~carbonsink.accounting.parameters.ClassParameters` attributes).
ClassFactor = Literal["carbon_fraction", "root_shoot"]


@dataclass(frozen=True)
class Pool:
    """One carbon pool.

    Attributes
    ----------
    name
        Its name in a methodology profile's ``pools`` (``agb``, ``bgb``, ``dom``, ``soc``).
    label
        Plain name for the report and the notes.
    layer
        Per-pixel density layer, Mg C/ha; ``{depth}`` stands for the soil
        depth label (``soc_0_{depth}_mg_ha``).
    quantity
        Name of the measured quantity the Monte Carlo draws (``agb_t_dm``,
        ``dom_t_dm``, ``soc_t_c``): a key of :attr:`EpochInputs.quantities`.
    factors
        Class factors that turn the quantity into carbon, applied left to right.
    dry_matter
        Per-pixel dry-matter layer whose prediction interval
        (``<stem>_lower_mg_ha``, ``<stem>_upper_mg_ha``) gives the pool's
        per-pixel SD, scaled by the pool's carbon per unit of it
        (``agb_mg_ha`` for AGB and BGB, ``dom_mg_ha`` for DOM); ``None`` for
        the soil, whose SD is √ of its kriging variance (``<layer>_variance``).
    not_measured
        Why the pool is left out when the survey gives no value of its quantity.
    """

    name: str
    label: str
    layer: str
    quantity: str
    factors: tuple[ClassFactor, ...]
    dry_matter: str | None
    not_measured: str

    def key(self, soil_depth_cm: float) -> str:
        """The pool's name in the ledger: ``soc_0_<depth>`` for the soil, else :attr:`name`."""
        return f"{self.name}_0_{_depth(soil_depth_cm)}" if "{depth}" in self.layer else self.name


def _depth(soil_depth_cm: float) -> str:
    return f"{soil_depth_cm:g}"


#: The pools, in the canonical order of a profile's ``pools`` (VM0033 v2.1 §8.1).
POOLS: Mapping[str, Pool] = MappingProxyType(
    {
        "agb": Pool(
            name="agb",
            label=N_("above-ground biomass"),
            layer="agb_c_mg_ha",
            quantity="agb_t_dm",
            factors=("carbon_fraction",),
            dry_matter="agb_mg_ha",
            not_measured=N_("no above-ground biomass map"),
        ),
        "bgb": Pool(
            name="bgb",
            label=N_("below-ground biomass"),
            layer="bgb_c_mg_ha",
            quantity="agb_t_dm",
            factors=("carbon_fraction", "root_shoot"),
            dry_matter="agb_mg_ha",
            not_measured=N_("no above-ground biomass map"),
        ),
        "dom": Pool(
            name="dom",
            label=N_("dead organic matter"),
            layer="dom_c_mg_ha",
            quantity="dom_t_dm",
            factors=("carbon_fraction",),
            dry_matter="dom_mg_ha",
            not_measured=N_("no dead-organic-matter layer"),
        ),
        "soc": Pool(
            name="soc",
            label=N_("soil organic carbon"),
            layer="soc_0_{depth}_mg_ha",
            quantity="soc_t_c",
            factors=(),
            dry_matter=None,
            not_measured=N_("no soil organic carbon map"),
        ),
    }
)


def pool_for_key(key: str) -> Pool:
    """The pool of a ledger pool name (``agb``, ``dom``, ``soc_0_30``, ...).

    Raises
    ------
    InputError
        The name is no pool of :data:`POOLS`.
    """
    if key in POOLS:
        return POOLS[key]
    stem, _, depth = key.partition("_0_")
    if stem in POOLS and "{depth}" in POOLS[stem].layer and depth:
        return POOLS[stem]
    known = ", ".join(p if "{depth}" not in POOLS[p].layer else f"{p}_0_<cm>" for p in POOLS)
    raise InputError(f"unknown pool {key!r}", fix=f"use {known}")


def pool_layer(key: str) -> str:
    """The density layer (Mg C/ha) of a ledger pool name: ``soc_0_30`` → ``soc_0_30_mg_ha``."""
    pool = pool_for_key(key)
    if "{depth}" in pool.layer:
        return pool.layer.format(depth=key.partition("_0_")[2])
    return pool.layer


# ---------------------------------------------------------------- quantities
def quantity_stem(quantity: str) -> str:
    """``agb_t_dm`` → ``agb``: the prefix of the quantity's Monte Carlo streams."""
    return quantity.split("_", 1)[0]


@dataclass(frozen=True)
class KeyedTotals:
    """Map totals of a quantity per (stratum, class) key, with bootstrap replicates.

    Attributes
    ----------
    keys
        ``(stratum, class)`` pairs: the cells of a stratum whose class at
        this epoch is ``class`` (the class sets the factors).
    totals
        ``(K,)`` map total of each key (t DM).
    replicates
        ``(B, K)`` spatial-block bootstrap replicates of those totals; the
        draws read only the columns of :meth:`bootstrapped` keys (a run
        bootstraps only those, leaving the others 0, unless it asks for the
        comparison).
    corrections
        Stratum → (ĉ_s, SE): the model-assisted correction of the stratum's
        map total from the plots' held-out residuals and its standard error,
        t DM (docs/methodology.md §6.4); strata not listed have none.
    correction_covariance
        ``(C, C)`` covariance of the corrections' errors, t DM², in the order
        of ``corrections``; ``None``: independent, their SEs on the diagonal.
    outside_se
        Stratum → SE (t DM) of the error of its cells outside every model's
        area of applicability (docs/methodology.md eq. 6.8c), the part of
        the correction's variance that another epoch's can share (eq. 6.8d);
        already in ``correction_covariance``.
    bootstrap_cells
        ``(cells mapped, cells each replicate predicts)`` over the models:
        fewer predicted when a large key is summed over a sample of its
        cells (docs/methodology.md eq. 6.8s); ``None`` when not told.
    comparison
        Every key was bootstrapped, corrected strata too: the ledger shows
        every key's bootstrap SD (their draws still take the correction).

    Notes
    -----
    A draw resamples whole replicate rows (keeping the dependence between
    keys) and centres them on the map: Q = Q_boot − mean(Q_boot) + Q_map
    (the map is the estimate, the replicates its spread; docs/methodology.md §6),
    then adds the strata's corrections c ~ N(ĉ, Σ_c) (jointly over the
    strata; between the epochs only their cells outside the area of
    applicability share an error, eq. 6.8d), each spread
    over its stratum's keys in proportion to their map totals. The keys of a
    stratum with a correction take no bootstrap spread: the difference
    estimator's error is the correction's, whose held-out residuals already
    hold the model-fit error (docs/methodology.md §6.4).
    """

    keys: tuple[tuple[str, str], ...]
    totals: FloatArray
    replicates: FloatArray
    corrections: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    correction_covariance: FloatArray | None = None
    outside_se: Mapping[str, float] = field(default_factory=dict)
    bootstrap_cells: tuple[int, int] | None = None
    comparison: bool = False

    def correction_cov(self) -> FloatArray:
        """``(C, C)`` covariance of the corrections (diagonal of SE² when not given)."""
        if self.correction_covariance is not None:
            return np.asarray(self.correction_covariance, dtype=np.float64)
        return np.diag([se * se for _, se in self.corrections.values()])

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", np.asarray(self.totals, dtype=np.float64))
        object.__setattr__(self, "replicates", np.asarray(self.replicates, dtype=np.float64))

    def check(self, name: str, *, where: str) -> None:
        """Raise :class:`~carbonsink.errors.InputError` unless the arrays fit the keys."""
        totals, replicates = self.totals, self.replicates
        if totals.shape != (len(self.keys),):
            raise InputError(
                f"{len(self.keys)} {name} keys but {totals.shape} totals",
                where=where,
                fix="give one total per (stratum, class) key",
            )
        if replicates.ndim != 2 or replicates.shape[1] != totals.size or replicates.shape[0] < 2:
            raise InputError(
                f"{name} bootstrap replicates have shape {replicates.shape}; expected (B ≥ 2, "
                f"{totals.size})",
                where=where,
                fix="give the bootstrap totals of every key, one row per replicate",
            )
        if not (np.all(np.isfinite(totals)) and np.all(np.isfinite(replicates))):
            raise InputError(
                f"{name} totals or bootstrap replicates are not finite",
                where=where,
                fix="drop failed bootstrap replicates and masked cells before the ledger",
            )
        strata = {s for s, _ in self.keys}
        bad = sorted(
            s
            for s, (c, se) in self.corrections.items()
            if s not in strata or not (math.isfinite(c) and math.isfinite(se) and se >= 0)
        )
        if bad:
            raise InputError(
                f"{name} corrections of {', '.join(bad)} are not finite with SE ≥ 0, or name "
                "strata without keys",
                where=where,
                fix="give each stratum's residual correction and its SE, t DM",
            )
        cov = self.correction_cov()
        n = len(self.corrections)
        if cov.shape != (n, n) or not np.all(np.isfinite(cov)):
            raise InputError(
                f"{name} correction covariance has shape {cov.shape}, not ({n}, {n}) finite values",
                where=where,
                fix="give the covariance of the corrections, in their order",
            )
        order = list(self.corrections)
        bad = sorted(
            s
            for s, se in self.outside_se.items()
            if s not in self.corrections
            or not (
                math.isfinite(se)
                and se >= 0
                and se * se <= cov[order.index(s), order.index(s)] * (1 + 1e-9)
            )
        )
        if bad:
            raise InputError(
                f"{name} outside-AOA SEs of {', '.join(bad)} are not finite, ≥ 0 and within "
                "their correction's variance",
                where=where,
                fix="give each corrected stratum's outside-AOA SE, part of its correction's SE",
            )

    def bootstrapped(self) -> list[int]:
        """Indices of the keys whose stratum has no correction: their draws take the bootstrap."""
        return [k for k, (s, _) in enumerate(self.keys) if s not in self.corrections]

    def key_shares(self) -> FloatArray:
        """``(K,)`` share of each key in its stratum's map total (equal shares when it is 0)."""
        shares = np.zeros(len(self.keys))
        for stratum in {s for s, _ in self.keys}:
            members = np.array([s == stratum for s, _ in self.keys])
            total = float(self.totals[members].sum())
            shares[members] = (
                self.totals[members] / total if total > 0 else 1.0 / int(members.sum())
            )
        return shares

    def record(self, name: str) -> dict[str, Any]:
        """The ledger's ``inputs`` entries of this quantity (docs/ledger.md)."""
        shown = set(range(len(self.keys)) if self.comparison else self.bootstrapped())
        by_key: dict[str, dict[str, float]] = {}
        for k, (stratum, cls) in enumerate(self.keys):
            by_key[f"{stratum}/{cls}"] = {"map": float(self.totals[k])}
            if k in shown:
                by_key[f"{stratum}/{cls}"]["bootstrap_sd"] = float(
                    np.std(self.replicates[:, k], ddof=1)
                )
        entries: dict[str, Any] = {
            name: by_key,
            f"{quantity_stem(name)}_bootstrap_replicates": (
                int(self.replicates.shape[0]) if shown else 0
            ),
            f"{quantity_stem(name)}_residual_correction_t_dm": {
                s: {"correction": c, "se": se, "outside_aoa_se": self.outside_se.get(s, 0.0)}
                for s, (c, se) in self.corrections.items()
            },
        }
        if self.bootstrap_cells is not None:
            cells, predicted = self.bootstrap_cells
            entries[f"{quantity_stem(name)}_bootstrap_cells"] = {
                "cells": cells,
                "predicted": predicted,
            }
        return entries


@dataclass(frozen=True)
class RatioTotals:
    """A quantity measured as a per-class ratio to another keyed quantity.

    Attributes
    ----------
    base
        Name of the keyed quantity it is a ratio to (``agb_t_dm``).
    ratios
        Ratio group → (ratio, its standard error), dimensionless. A group is
        a class with its own ratio, or several classes sharing one (e.g. the
        ratio of all plots for classes with too few of their own).
    group_of
        Class → its ratio group.

    Notes
    -----
    Q[s, c] = r_g(c) × Q_base[s, c] per key, with r_g = max(0, N(r̂_g, SE_g²)),
    one draw per group and epoch (the ratios are measured on each epoch's
    plots; classes of one group share its draw). A draw below 0 counts as 0
    (censoring, which raises the mean a little when SE is near r̂).
    """

    base: str
    ratios: Mapping[str, tuple[float, float]]
    group_of: Mapping[str, str]

    def check(self, name: str, *, where: str) -> None:
        """Raise :class:`~carbonsink.errors.InputError` unless ratios, SEs and groups fit."""
        bad = [
            g
            for g, (r, se) in self.ratios.items()
            if not (math.isfinite(r) and math.isfinite(se) and r >= 0 and se >= 0)
        ]
        if bad:
            raise InputError(
                f"{name} ratios of {', '.join(bad)} are not finite and ≥ 0",
                where=where,
                fix="give each ratio ≥ 0 and its standard error ≥ 0",
            )
        unknown = sorted({g for g in self.group_of.values() if g not in self.ratios})
        if unknown:
            raise InputError(
                f"{name} classes belong to ratio groups without a ratio: {', '.join(unknown)}",
                where=where,
                fix="give every group a class is assigned to its ratio",
            )

    def record(self, name: str) -> dict[str, Any]:
        """The ledger's ``inputs`` entries of this quantity (docs/ledger.md)."""
        return {
            name: {
                "ratio_to": self.base,
                "ratios": {g: {"ratio": r, "se": se} for g, (r, se) in self.ratios.items()},
                "group_of": dict(self.group_of),
            }
        }


@dataclass(frozen=True)
class StratumTotals:
    """Totals of carbon per stratum, with the covariance of their errors.

    Attributes
    ----------
    totals
        Stratum → estimated total, t C (every stratum of the epoch).
    covariance
        ``(S, S)`` covariance of the totals' errors, t C², in the order of
        ``totals`` (block kriging per stratum,
        :func:`carbonsink.soil.stratum_blocks.stratum_blocks`).
    held
        Strata whose total is not measured but held at another epoch's value
        (no soil cores): the accounting stage gives them the same total and
        error in every epoch, so they carry no change.

    Notes
    -----
    A draw is Q = Q̂ + ε with ε ~ N(0, Σ) jointly over the strata of every
    epoch: Σ's diagonal blocks are each epoch's ``covariance``, the
    off-diagonal block of the first and last epochs the ledger's
    ``error_covariance`` (docs/methodology.md §6.5). The strata add up to the
    project in every draw.
    """

    totals: Mapping[str, float]
    covariance: FloatArray
    held: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariance", np.asarray(self.covariance, dtype=np.float64))

    @classmethod
    def from_total_se(cls, totals: Mapping[str, float], se: float) -> StratumTotals:
        """Strata that share one relative error of the project total: ε_s = ε × Q̂_s / Σ Q̂.

        ``Σ_st = SE² w_s w_t`` with ``w_s = Q̂_s / Σ Q̂`` (all strata scale together).

        Raises
        ------
        InputError
            The SE is not finite and ≥ 0.
        """
        if not (math.isfinite(se) and se >= 0):
            raise InputError(
                f"the SE of the total is {se}", fix="give the block-kriging SE of the total (≥ 0)"
            )
        values = np.array([float(v) for v in totals.values()])
        total = float(values.sum())
        weights = values / total if total > 0 else np.zeros_like(values)
        return cls(totals=dict(totals), covariance=float(se) ** 2 * np.outer(weights, weights))

    def check(self, name: str, *, where: str) -> None:
        """Raise :class:`~carbonsink.errors.InputError` unless the covariance fits the strata."""
        n = len(self.totals)
        cov = self.covariance
        if cov.shape != (n, n) or not np.all(np.isfinite(cov)):
            raise InputError(
                f"the {name} error covariance has shape {cov.shape}, not ({n}, {n}) finite values",
                where=where,
                fix="give the covariance of the strata's totals, in the order of the totals",
            )
        if np.any(np.diag(cov) < 0) or not np.allclose(cov, cov.T, rtol=1e-9, atol=1e-9):
            raise InputError(
                f"the {name} error covariance is not symmetric with variances ≥ 0",
                where=where,
                fix="give a covariance matrix (block kriging of the strata)",
            )
        unknown = sorted(set(self.held) - set(self.totals))
        if unknown:
            raise InputError(
                f"{name} holds strata {unknown} that have no total",
                where=where,
                fix="name only strata of the totals as held",
            )

    @property
    def total(self) -> float:
        """The epoch's total over all strata."""
        return float(sum(self.totals.values()))

    @property
    def se(self) -> float:
        """Standard error of the epoch's total, √(1ᵀ Σ 1), t C."""
        return float(np.sqrt(max(float(self.covariance.sum()), 0.0)))

    def stratum_se(self) -> dict[str, float]:
        """Standard error of each stratum's total, t C."""
        diag = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        return {s: float(v) for s, v in zip(self.totals, diag, strict=True)}

    def record(self, name: str) -> dict[str, Any]:
        """The ledger's ``inputs`` entries of this quantity (docs/ledger.md)."""
        stem = quantity_stem(name)
        return {
            name: dict(self.totals),
            f"{stem}_total_t_c": self.total,
            f"{stem}_total_se_t_c": self.se,
            f"{stem}_stratum_se_t_c": self.stratum_se(),
            f"{stem}_held_strata": list(self.held),
        }


#: What the stages measure for a pool, in one of three forms.
Quantity = KeyedTotals | RatioTotals | StratumTotals

#: Stream of a keyed quantity's residual correction of one stratum and epoch.
CORRECTION_STREAM: Final = "{stem}_residual/{epoch}/{group}"

#: Streams of the Monte Carlo named after a quantity (module docstring).
_STREAMS: Final = {
    KeyedTotals: "{stem}_bootstrap/{epoch}",
    RatioTotals: "{stem}_ratio/{epoch}/{group}",
    StratumTotals: "{stem}_total/{epoch}/{group}",
}


def stream_name(quantity: str, kind: type, *, epoch: str, group: str = "") -> str:
    """The Monte Carlo stream of a quantity's error at an epoch (and ratio group)."""
    return _STREAMS[kind].format(stem=quantity_stem(quantity), epoch=epoch, group=group)


def counted_pools(
    profile_pools: Sequence[str], available: Sequence[str], *, soil_depth_cm: float
) -> tuple[list[tuple[str, Pool]], list[Pool]]:
    """The pools a ledger counts, and those of the profile it cannot.

    Parameters
    ----------
    profile_pools
        The methodology profile's ``pools``.
    available
        Quantities every epoch measured.
    soil_depth_cm
        The profile's soil depth (names the soil pool ``soc_0_<depth>``).

    Returns
    -------
    (list of (ledger name, Pool), list of Pool)
        Counted pools in registry order, and the profile's pools whose
        quantity is not measured.
    """
    counted: list[tuple[str, Pool]] = []
    absent: list[Pool] = []
    for name, pool in POOLS.items():
        if name not in profile_pools:
            continue
        if pool.quantity in available:
            counted.append((pool.key(soil_depth_cm), pool))
        else:
            absent.append(pool)
    return counted, absent
