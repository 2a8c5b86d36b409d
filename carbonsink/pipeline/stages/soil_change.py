"""The soil change the ledger counts: equivalent soil mass, net of allochthonous carbon.

docs/methodology.md §3.4 (equivalent soil mass, eq. 3.9a–b) and §3.11
(allochthonous carbon, eq. 3.24–3.25). The first epoch's cores fix the
reference soil mass M_ref (their mean soil mass 0–D); every core of every
epoch is then valued at M_ref plus the sediment laid on it since the first
survey, and the later epoch's cores lose the carbon that sediment brought.
The strata are block-kriged from those values exactly as from fixed-depth
stocks (§3.10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.accounting.simulation import years_between
from carbonsink.i18n import gettext as _
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.soil import epoch_core_stocks, soc_column, soc_strata

if TYPE_CHECKING:
    from carbonsink.soil.stratum_blocks import StratumBlocks

__all__ = ["SoilBasis", "soil_basis"]

FloatArray = npt.NDArray[np.float64]
#: SD of the sediment's OC when ``[soil] sediment_oc_sd_pct`` is not given, share of it [U].
DEFAULT_SEDIMENT_OC_RELATIVE_SD = 0.25


@dataclass(frozen=True)
class SoilBasis:
    """What the ledger's SOC totals are made of, per epoch.

    Attributes
    ----------
    basis
        ``"equivalent-mass"`` or ``"fixed-depth"``.
    blocks
        The block kriging of the counted values (every epoch).
    deduction_t_c
        ``(E − 1, S)`` allochthonous carbon deducted from each later epoch's
        stratum totals, t C (0 where none or the stratum is held).
    deduction_relative_sd
        ``(E − 1,)`` relative SD of each later epoch's deduction, common to
        every stratum (the sediment OC's or the fraction's; the epochs on the
        same route share it), 0 when the cores' own measurement is deducted.
    warnings
        Conditions that move the soil sink.
    summary
        JSON-ready record for the ledger (``extra["soil_change"]``).
    """

    basis: str
    blocks: StratumBlocks
    deduction_t_c: FloatArray
    deduction_relative_sd: FloatArray
    warnings: list[LedgerWarning] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    #: ``(E − 1, S)`` t C to subtract from the later epochs' kriged totals (the
    #: fraction route, eq. 3.26; 0 when the deduction is in the core values).
    subtract_t_c: FloatArray | None = None
    #: The first and last epochs' core tables whose 0–D column holds the counted values.
    stocks: tuple[pd.DataFrame, ...] | None = None
    #: Each later epoch's deduction route: ``cores`` (sediment OC), ``above-marker``,
    #: ``fraction`` or ``none``; empty at fixed depth.
    routes: tuple[str, ...] = ()

    @property
    def mean_change_mg_ha(self) -> float | None:
        """The counted change over the measured strata per ha, Mg C/ha (``None``: one epoch)."""
        counted = self.summary.get("counted", self.summary.get("fixed_depth"))
        if not counted:
            return None
        area = float(np.asarray(self.blocks.area_ha)[np.array(self.blocks.measured)].sum())
        change = counted["total"]["change_t_c"]
        return None if change is None or area <= 0 else float(change) / area


def _counted(
    stocks: pd.DataFrame, depth: float, values: FloatArray, se: FloatArray
) -> pd.DataFrame:
    """A copy of a core table whose 0–D stock and SE columns are ``values`` and ``se``."""
    column = soc_column(depth)
    out = stocks.copy()
    out[column] = values
    out[column.replace("_mg_ha", "_se_mg_ha")] = se
    return out


def _changes(blocks: StratumBlocks) -> dict[str, dict[str, float | None]]:
    """Each stratum's and the project's total change (last − first epoch) and its SE, t C."""
    totals = blocks.total_t_c
    cov = blocks.total_covariance_t_c
    n = len(blocks.strata)
    last = (len(blocks.variograms) - 1) * n
    out: dict[str, dict[str, float | None]] = {}
    measured = np.array(blocks.measured, dtype=bool)
    for i, s in enumerate(blocks.strata):
        if not measured[i]:
            out[s] = {"change_t_c": None, "se_t_c": None}
            continue
        var = cov[i, i] + cov[last + i, last + i] - 2.0 * cov[i, last + i]
        out[s] = {
            "change_t_c": float(totals[-1, i] - totals[0, i]),
            "se_t_c": math.sqrt(max(float(var), 0.0)),
        }
    pick = np.concatenate([-measured.astype(float), measured.astype(float)])
    idx = np.concatenate([np.arange(n), last + np.arange(n)])
    sub = cov[np.ix_(idx, idx)]
    out["total"] = {
        "change_t_c": float((totals[-1] - totals[0])[measured].sum()),
        "se_t_c": math.sqrt(max(float(pick @ sub @ pick), 0.0)),
    }
    return out


def soil_basis(
    ctx: RunContext,
    results: Sequence[EpochResults],
    strata_map: npt.NDArray[np.integer],
    *,
    depth: float,
) -> SoilBasis:
    """The counted SOC values of the cores, their block kriging and the allochthonous deduction.

    Parameters
    ----------
    ctx
        The run (``[soil] change``, ``sediment_oc_pct``, ``sediment_oc_sd_pct``).
    results
        Every epoch's stage results, earliest first.
    strata_map
        ``(y, x)`` stratum codes.
    depth
        The counted soil depth D, cm.

    Notes
    -----
    Equivalent mass (two epochs, the default): M_ref = mean over the first
    epoch's cores of M(0–D); core j's value is S_j(M_ref + m_acc,j) (eq.
    3.9a, :func:`carbonsink.soil.core_stocks.core_stocks`), minus in the
    later epoch the allochthonous carbon A_j = m_acc,j × OC_sed / 100 (eq.
    3.24), or the carbon measured above the marker when OC_sed is not given;
    without accretion, ``[soil] allochthonous_fraction`` f takes D_s = f ×
    max(0, ΔŜ_s) of each stratum's kriged change (eq. 3.26).
    The deduction per stratum (eq. 3.25) is the difference of the kriged
    totals with and without it; its sediment-OC error δ ~ N(0, r²), common
    to every stratum, enters the Monte Carlo as r² D Dᵀ.
    """
    soil = ctx.survey.soil
    first, last = results[0], results[-1]
    if len(results) < 2 or soil.change == "fixed-depth":
        blocks = soc_strata(
            ctx, [(r.core_stocks, r.soc_maps[depth]) for r in results], strata_map, depth_cm=depth
        )
        fixed_warnings = []
        if len(results) >= 2:
            fixed_warnings.append(
                LedgerWarning(
                    "fixed-depth-soil",
                    _(
                        "the SOC change is compared at fixed depth 0–{depth:g} cm ([soil] "
                        'change = "fixed-depth"): sediment deposition and compaction move it '
                        "without any carbon being sequestered, and no allochthonous carbon is "
                        "deducted"
                    ).format(depth=depth),
                    where=_("SOC 0–{depth:g} cm").format(depth=depth),
                )
            )
        record: dict[str, Any] = {"basis": "fixed-depth", "depth_cm": depth}
        if len(results) >= 2:
            record["fixed_depth"] = _changes(blocks)
        later = max(len(results) - 1, 0)
        return SoilBasis(
            "fixed-depth",
            blocks,
            np.zeros((later, len(blocks.strata))),
            np.zeros(later),
            fixed_warnings,
            record,
            stocks=tuple(r.core_stocks for r in results),
        )

    from carbonsink.soil.core_stocks import depth_label

    label = depth_label(depth)
    masses = first.core_stocks[f"mass_0_{label}_mg_ha"].to_numpy(dtype=np.float64)
    m_ref = float(np.nanmean(masses))
    years = years_between(first.epoch.date, last.epoch.date)
    tables = [
        epoch_core_stocks(
            ctx,
            r.epoch,
            reference_mass_mg_ha={depth: m_ref},
            years_since_first=None if i == 0 else years_between(first.epoch.date, r.epoch.date),
        )
        for i, r in enumerate(results)
    ]
    esm = f"esm_0_{label}_mg_ha"
    esm_se = f"esm_0_{label}_se_mg_ha"
    where = _("SOC 0–{depth} cm at equivalent soil mass").format(depth=label)
    deductions = [
        _epoch_deduction(ctx, table, r.epoch.name, where)
        for table, r in zip(tables[1:], results[1:], strict=True)
    ]
    warnings = list(dict.fromkeys(w for d in deductions for w in d.warnings))
    maps = [r.soc_maps[depth] for r in results]
    gross = [
        _counted(t, depth, t[esm].to_numpy(dtype=np.float64), t[esm_se].to_numpy(dtype=np.float64))
        for t in tables
    ]
    nets = [gross[0]] + [
        _counted(t, depth, t[esm].to_numpy(dtype=np.float64) - d.cores, t[esm_se].to_numpy())
        for t, d in zip(tables[1:], deductions, strict=True)
    ]
    blocks = soc_strata(ctx, list(zip(nets, maps, strict=True)), strata_map, depth_cm=depth)
    fixed = soc_strata(
        ctx,
        [(r.core_stocks, m) for r, m in zip(results, maps, strict=True)],
        strata_map,
        depth_cm=depth,
    )
    measured_strata = np.array(blocks.measured)
    with_carbon = blocks
    if any(d.route in ("cores", "above-marker") for d in deductions):
        with_carbon = soc_strata(
            ctx, list(zip(gross, maps, strict=True)), strata_map, depth_cm=depth
        )
    deduction_t_c = np.zeros((len(deductions), len(blocks.strata)))
    for k, d in enumerate(deductions, start=1):
        if d.route in ("cores", "above-marker"):
            per_stratum = with_carbon.total_t_c[k] - blocks.total_t_c[k]
        elif d.route == "fraction":
            gain = blocks.total_t_c[k] - blocks.total_t_c[0]
            per_stratum = np.maximum(gain, 0.0) * (soil.allochthonous_fraction or 0.0)
        else:
            continue
        deduction_t_c[k - 1] = np.where(measured_strata, np.nan_to_num(per_stratum), 0.0)
    below = np.concatenate(
        [
            (t[f"esm_depth_0_{label}_cm"] - t["max_depth_cm"])[
                t[f"esm_extrapolated_0_{label}"]
            ].to_numpy(dtype=np.float64)
            for t in tables
        ]
    )
    if below.size:
        warnings.append(
            LedgerWarning(
                "extrapolated-cores",
                _(
                    "{n} of {cores} cores do not reach the reference soil mass {mass:,.0f} "
                    "Mg/ha plus their accreted sediment: their SOC at equivalent mass is "
                    "extrapolated below the deepest layer, by {median:.1f} cm (median; at most "
                    "{most:.1f} cm)"
                ).format(
                    n=below.size,
                    cores=sum(len(t) for t in tables),
                    mass=m_ref,
                    median=float(np.median(below)),
                    most=float(below.max()),
                ),
                where=where,
            )
        )
    final = deductions[-1]
    last_table = tables[-1]
    summary: dict[str, Any] = {
        "basis": "equivalent-mass",
        "depth_cm": depth,
        "reference_mass_mg_ha": m_ref,
        "years": years,
        "accretion": {
            "cores": len(last_table),
            "cores_measured": int(final.measured.sum()),
            "mean_accretion_cm": _mean(last_table, "accretion_cm"),
            "mean_accreted_mass_mg_ha": float(np.nanmean(final.accreted))
            if final.measured.any()
            else 0.0,
        },
        "allochthonous": {
            "source": final.source,
            "relative_sd": final.relative_sd,
            "t_c": {s: float(d) for s, d in zip(blocks.strata, deduction_t_c[-1], strict=True)},
            "total_t_c": float(deduction_t_c[-1].sum()),
        },
        "fixed_depth": _changes(fixed),
        "equivalent_mass": _changes(with_carbon),
        "counted": _changes(blocks),
    }
    fractions = np.array([d.route == "fraction" for d in deductions])
    subtract = None
    if fractions.any():
        subtract = np.where(fractions[:, None], deduction_t_c, 0.0)
        counted = summary["counted"]
        for s, d in zip(blocks.strata, subtract[-1], strict=True):
            if counted[s]["change_t_c"] is not None:
                counted[s]["change_t_c"] -= float(d)
        counted["total"]["change_t_c"] -= float(subtract[-1].sum())
    return SoilBasis(
        "equivalent-mass",
        blocks,
        deduction_t_c,
        np.array([d.relative_sd for d in deductions]),
        warnings,
        summary,
        subtract,
        stocks=(nets[0], nets[-1]),
        routes=tuple(d.route for d in deductions),
    )


@dataclass(frozen=True)
class _Deduction:
    """The allochthonous carbon of one later epoch's cores (eq. 3.24–3.26)."""

    route: str  # "cores" (sediment OC), "above-marker", "fraction" or "none"
    cores: FloatArray  # Mg C/ha deducted from each core's value (0 on the fraction route)
    relative_sd: float
    source: str
    measured: npt.NDArray[np.bool_]
    accreted: FloatArray
    warnings: tuple[LedgerWarning, ...]


def _epoch_deduction(ctx: RunContext, later: pd.DataFrame, epoch: str, where: str) -> _Deduction:
    """How much allochthonous carbon a later epoch's cores lose, and by which route."""
    soil = ctx.survey.soil
    warnings: list[LedgerWarning] = []
    accreted = (
        later["accreted_mass_mg_ha"].to_numpy(dtype=np.float64)
        if "accreted_mass_mg_ha" in later
        else np.full(len(later), np.nan)
    )
    measured = np.isfinite(accreted)
    filled = np.where(measured, accreted, float(np.nanmean(accreted)) if measured.any() else 0.0)
    oc_sed = soil.sediment_oc_pct
    relative_sd = 0.0
    fraction = soil.allochthonous_fraction
    deduction = np.zeros(len(later))
    if not measured.any() and fraction is not None:
        route = "fraction"  # taken of the strata's change (eq. 3.26)
        sd = soil.allochthonous_fraction_sd
        relative_sd = (
            DEFAULT_SEDIMENT_OC_RELATIVE_SD if sd is None else (sd / fraction if fraction else 0.0)
        )
        source = _(
            "{fraction:.0%} ± {sd:.0%} of each stratum's SOC gain ([soil] allochthonous_fraction)"
        ).format(fraction=fraction, sd=relative_sd * fraction)
    elif not measured.any():
        route = "none"
        source = _("none: no accretion measured")
        warnings.append(
            LedgerWarning(
                "no-accretion-data",
                _(
                    "the {epoch} soil table records no sediment accretion (columns "
                    "accretion_cm or accretion_cm_yr): the soil change counts any carbon the "
                    "floods deposited, which VM0033 §8.2.4.2.2 requires to be deducted as "
                    "allochthonous — lay marker horizons or date cores to measure it"
                ).format(epoch=epoch),
                where=where,
            )
        )
    elif oc_sed is not None:
        route = "cores"
        deduction = filled * oc_sed / 100.0
        sd = soil.sediment_oc_sd_pct
        relative_sd = (
            DEFAULT_SEDIMENT_OC_RELATIVE_SD if sd is None else (sd / oc_sed if oc_sed > 0 else 0.0)
        )
        source = _("accreted mass × sediment OC {oc:g} % ± {sd:.2g}").format(
            oc=oc_sed, sd=relative_sd * oc_sed
        )
    else:
        # All the carbon now above the marker, including roots grown into it: conservative.
        route = "above-marker"
        above = later["accreted_soc_mg_ha"].to_numpy(dtype=np.float64)
        deduction = np.where(measured, above, float(np.nanmean(above)))
        source = _("all carbon measured above the marker horizon (conservative)")
        warnings.append(
            LedgerWarning(
                "allochthonous-default",
                _(
                    "no sediment organic carbon is given ([soil] sediment_oc_pct): all the "
                    "carbon measured in the accreted sediment is deducted as allochthonous, "
                    "including what the vegetation added to it (conservative) — measure the "
                    "OC of sediment traps"
                ),
                where=where,
            )
        )
    if measured.any() and not measured.all():
        warnings.append(
            LedgerWarning(
                "accretion-filled",
                _(
                    "{n} of {cores} {epoch} cores have no accretion value; they take the mean "
                    "accreted soil mass of the others ({mass:,.0f} Mg/ha)"
                ).format(
                    n=int((~measured).sum()),
                    cores=len(later),
                    epoch=epoch,
                    mass=float(np.nanmean(accreted)),
                ),
                where=where,
            )
        )
    return _Deduction(route, deduction, relative_sd, source, measured, accreted, tuple(warnings))


def _mean(table: pd.DataFrame, column: str) -> float | None:
    if column not in table:
        return None
    values = table[column].to_numpy(dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else None
