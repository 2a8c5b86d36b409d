"""The credit ledger: every term from stocks to tradable credits, per stratum and vintage.

:func:`build_ledger` runs the Monte Carlo of every term
(:mod:`carbonsink.accounting.simulation`: stocks of the counted pools,
their change, removals, CH4 and N2O per stratum, from the epochs'
aggregates) until the 5th/95th percentiles of the project net are stable,
then the credit chain (:func:`~carbonsink.accounting.credits.credit_chain`)
on the project and on each stratum, the vintages, and the warnings.

Stocks are the map sums over true cell areas: the maps predict every cell
whatever its class, so a classification error moves a cell between strata but
does not change the project's stock. The area-adjusted areas (Olofsson et al.
2014) scale the per-area non-CO2 emissions, where a biased pixel count would
bias the project total.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.accounting.budget import variance_budget
from carbonsink.accounting.combined_uncertainty import CombinedUncertainty, combined_uncertainty
from carbonsink.accounting.credits import CreditChain, credit_chain, net_draws
from carbonsink.accounting.ledger_table import strata_table
from carbonsink.accounting.ledger_warnings import (
    LedgerWarning,
    cap_warnings,
    equation_warning,
    pool_warnings,
    reversal_warnings,
)
from carbonsink.accounting.montecarlo import DEFAULT_DRAWS, MonteCarlo, run_until_converged
from carbonsink.accounting.non_co2 import GWP
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.periods import (
    Period,
    cumulative_chains,
    monitoring_periods,
    vintage_fractions,
)
from carbonsink.accounting.pools import Pool, StratumTotals, counted_pools, quantity_stem
from carbonsink.accounting.profiles import CapGroup, MethodologyProfile
from carbonsink.accounting.simulation import (
    EpochInputs,
    TermDraws,
    cap_group,
    needed_quantities,
    simulate_terms,
    years_between,
)
from carbonsink.accounting.stocks import SINGLE_EPOCH_NOTE
from carbonsink.accounting.summaries import Summary, summarize
from carbonsink.errors import InputError
from carbonsink.i18n import gettext as _
from carbonsink.units import CO2_PER_C

__all__ = [
    "LEDGER_SCHEMA",
    "Ledger",
    "LedgerWarning",
    "build_ledger",
    "vintage_fractions",
]

#: Identifier of the ledger JSON layout (documented in docs/ledger.md).
LEDGER_SCHEMA: Final = "carbonsink-ledger/1"
FloatArray = npt.NDArray[np.float64]


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class Ledger:
    """The accounting of a survey: stocks, sink, non-CO2 and credits, per stratum and vintage.

    Attributes
    ----------
    profile
        The methodology profile applied.
    epochs
        ``(name, date)`` of each epoch, earliest first.
    pools
        Pools counted (``agb``, ``bgb``, ``soc_0_30`` or ``soc_0_100``).
    strata
        Per stratum (index ``stratum``, plus ``total``): areas, stocks by pool
        and epoch, change, removals, non-CO2, gross and net with 90 % bounds,
        the three rules' deductions, leakage, buffer, tradable and value.
    vintages
        Per stratum and vintage (calendar year): years of the period in it,
        tradable t CO2e and value; empty for one epoch.
    chains
        Stratum (and ``"total"``) → :class:`CreditChain` (t CO2e/yr).
    stock_summaries
        Epoch → pool → stratum (and ``"total"``) → :class:`Summary` (t C).
    monte_carlo
        Seed, draws, convergence and every parameter's distribution.
    warnings
        Warnings that matter to the claim.
    notes
        Plain statements (single epoch, pools not measured, ...).
    polygon
        Hash and area of the project polygon (so the hectares are not sold twice).
    currency
        Currency of the value column.
    statement
        What the claim says instead of a number (one epoch), in the ledger's
        language; ``""`` for a sink.
    extra
        Further JSON-ready sections (``inputs``: each epoch's aggregates).
    draws
        The project's Monte Carlo draws (``removals``, ``non_co2``, ``net``,
        t CO2e/yr) for plots, and ``cumulative_net``: ``(n, E − 1)`` the
        project's net since the first epoch at each later one, t CO2e (eq.
        5.16); not written to JSON. Empty for one epoch.
    periods
        Stratum (and ``"total"``) → its monitoring periods, one per pair of
        consecutive epochs (:mod:`~carbonsink.accounting.periods`); empty for
        one epoch.
    """

    profile: MethodologyProfile
    epochs: tuple[tuple[str, dt.date], ...]
    pools: tuple[str, ...]
    strata: pd.DataFrame
    vintages: pd.DataFrame
    chains: Mapping[str, CreditChain]
    stock_summaries: Mapping[str, Mapping[str, Mapping[str, Summary]]]
    monte_carlo: Mapping[str, Any]
    warnings: tuple[LedgerWarning, ...]
    notes: tuple[str, ...]
    polygon: Mapping[str, Any]
    currency: str = "CNY"
    statement: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    draws: Mapping[str, FloatArray] = field(default_factory=dict, repr=False)
    periods: Mapping[str, Sequence[Period]] = field(default_factory=dict)

    @property
    def single_epoch(self) -> bool:
        """True when the survey has one epoch (stocks only, no sink)."""
        return len(self.epochs) == 1

    @property
    def years(self) -> float | None:
        """Years between the first and last epoch (``None`` for one epoch)."""
        if self.single_epoch:
            return None
        return years_between(self.epochs[0][1], self.epochs[-1][1])

    @property
    def tradable_t_co2e(self) -> float:
        """Tradable credits of the whole crediting period, t CO2e (0 for one epoch)."""
        if self.single_epoch:
            return 0.0
        years = self.years
        assert years is not None
        return self.chains["total"].tradable_t_co2e_yr * years

    def to_dict(self) -> dict[str, Any]:
        """The ledger as JSON-ready values (layout ``carbonsink-ledger/1``, docs/ledger.md)."""
        strata_rows = []
        for stratum, row in self.strata.iterrows():
            record: dict[str, Any] = {"stratum": str(stratum)}
            record.update({str(k): _cell(v) for k, v in row.items()})
            strata_rows.append(record)
        stocks = {
            epoch: {
                pool: {s: summary.to_dict() for s, summary in by_stratum.items()}
                for pool, by_stratum in by_pool.items()
            }
            for epoch, by_pool in self.stock_summaries.items()
        }
        years = self.years
        period = None
        if years is not None:
            period = {
                "start": self.epochs[0][1].isoformat(),
                "end": self.epochs[-1][1].isoformat(),
                "years": years,
            }
        return {
            "schema": LEDGER_SCHEMA,
            "single_epoch": self.single_epoch,
            "epochs": [{"name": n, "date": d.isoformat()} for n, d in self.epochs],
            "crediting_period": period,
            "profile": self.profile.settings(),
            "pools": list(self.pools),
            "units": {
                "stocks": "t C",
                "rates": "t CO2e/yr (change: t C/yr)",
                "areas": "ha",
                "credits": "t CO2e",
                "value": self.currency,
            },
            "claim": self._claim(),
            "project": None if self.single_epoch else self.chains["total"].to_dict(),
            "strata": strata_rows,
            "stratum_chains": {
                s: chain.to_dict() for s, chain in self.chains.items() if s != "total"
            },
            "vintages": [
                {str(k): _cell(v) for k, v in row.items()}
                for row in self.vintages.to_dict(orient="records")
            ],
            "periods": [p.to_dict() for p in self.periods.get("total", ())],
            "stratum_periods": {
                s: [p.brief() for p in periods]
                for s, periods in self.periods.items()
                if s != "total"
            },
            "stocks": stocks,
            "monte_carlo": dict(self.monte_carlo),
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": list(self.notes),
            "polygon": dict(self.polygon),
            **dict(self.extra),
        }

    def _claim(self) -> dict[str, Any]:
        if self.single_epoch:
            return {"tradable_t_co2e": 0.0, "statement": self.statement}
        chain = self.chains["total"]
        years = self.years
        assert years is not None
        rule = chain.applied_rule
        return {
            "tradable_t_co2e": self.tradable_t_co2e,
            "tradable_t_co2e_yr": chain.tradable_t_co2e_yr,
            "tradable_ci90_t_co2e_yr": list(chain.tradable_ci90),
            "net_t_co2e_yr": chain.net.mean,
            "net_ci90_t_co2e_yr": list(chain.net.ci90),
            "removals_t_co2e_yr": chain.removals.mean,
            "removals_ci90_t_co2e_yr": list(chain.removals.ci90),
            "issued_t_co2e": sum(p.issued for p in self.periods.get("total", ())),
            "reversals": [p.index for p in self.periods.get("total", ()) if p.reversal],
            "rule_applied": rule.rule,
            "relative_half_width": _json_number(rule.relative_half_width),
            "value": None if chain.value is None else chain.value * years,
            "currency": self.currency if chain.value is not None else None,
            "years": years,
        }


def _cell(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return _json_number(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _total_correlation(epochs: Sequence[EpochInputs], name: str, cross: FloatArray | None) -> float:
    """Correlation of the first and last epochs' errors of a quantity's project total."""
    first, last = epochs[0].quantities[name], epochs[-1].quantities[name]
    assert isinstance(first, StratumTotals) and isinstance(last, StratumTotals)
    if cross is None or len(epochs) < 2 or first.se == 0 or last.se == 0:
        return 0.0
    n = len(first.totals)
    # (S, S): the first and last epochs' block; (E·S, E·S): every epoch's, whose
    # first-last block is taken (simulation.joint_covariance).
    block = cross if np.shape(cross) == (n, n) else np.asarray(cross)[:n, -n:]
    return float(np.clip(float(np.sum(block)) / (first.se * last.se), -1.0, 1.0))


def _absence(pool: Pool, partly: set[str]) -> str:
    """Why a pool of the profile is not counted."""
    if pool.quantity in partly:
        return _("{pool} is measured in some epochs only").format(pool=_(pool.label))
    return _(pool.not_measured)


def build_ledger(
    epochs: Sequence[EpochInputs],
    classes: Mapping[str, ClassParameters],
    *,
    profile: MethodologyProfile,
    seed: int,
    n_draws: int = DEFAULT_DRAWS,
    max_draws: int | None = None,
    baseline_t_co2e_yr: float = 0.0,
    price_per_t: float | None = None,
    currency: str = "CNY",
    warnings: Sequence[LedgerWarning] = (),
    notes: Sequence[str] = (),
    polygon: Mapping[str, Any] | None = None,
    error_covariance: Mapping[str, FloatArray] | None = None,
    benefit_100yr_t_co2e: Mapping[CapGroup, float] | None = None,
    budget: bool = False,
) -> Ledger:
    """Run the Monte Carlo of every term and the credit chain; assemble the ledger.

    Parameters
    ----------
    epochs
        One or more epochs' aggregates, earliest first, on the same strata.
    classes
        Per-class parameter distributions
        (:func:`~carbonsink.accounting.parameters.class_parameters`).
    profile
        Methodology profile: pools, soil depth, GWP set, rule, leakage, buffer.
    seed
        Monte Carlo seed: the same seed gives the same ledger.
    n_draws
        First number of draws (≥ 10,000 for aggregated terms, docs/methodology.md §6);
        doubled until the 5th/95th percentiles of the project net are stable to 1 %.
    max_draws
        Upper bound of that doubling (default 16 × ``n_draws``).
    baseline_t_co2e_yr
        Baseline removals of the project, t CO2e/yr (subtracted from the project row).
    price_per_t
        Optional price per t CO2e, for the value column.
    currency
        Currency of the price.
    warnings
        Warnings from the stages (extrapolated cores, cells outside the area
        of applicability, changes below the minimum detectable difference).
    notes
        Plain statements from the stages (how a pool was estimated), after
        the ledger's own.
    polygon
        Hash and area of the project polygon.
    error_covariance
        Quantity given as stratum totals (``soc_t_c``) → ``(S, S)`` covariance
        of the first epoch's stratum errors (rows, in its totals' order) with
        the last epoch's (columns), or the ``(E·S, E·S)`` joint of every
        epoch's, t C² (joint block kriging of the surveys,
        :func:`carbonsink.soil.stratum_blocks.stratum_blocks`); keyed quantity
        (``agb_t_dm``, ``dom_t_dm``) → the ``(C₁, C_E)`` covariance of the
        first and last epochs' residual corrections or the ``(ΣC, ΣC)`` joint of
        every epoch's, t DM² (eq. 6.8d;
        :func:`carbonsink.accounting.corrections.correction_joint`); absent
        quantities have independent epochs.
    benefit_100yr_t_co2e
        Pool group (``soil``, ``biomass``) → the project's 100-year benefit,
        t CO2e: the cap of the profile's ``hundred_year_cap`` groups (eq. 5.21).
    budget
        Also give the uncertainty budget of the project's net removals in
        ``extra["u_budget"]`` (:func:`~carbonsink.accounting.budget.variance_budget`,
        eq. 6.14: one more run of the Monte Carlo per group of inputs).

    Returns
    -------
    Ledger

    Raises
    ------
    InputError
        No epochs, epochs out of date order, or epochs on different strata.

    Notes
    -----
    Equations in :mod:`carbonsink.accounting.simulation` and
    :mod:`carbonsink.accounting.pools` (docs/methodology.md §4–§6). The draws
    of a parameter come from a stream named after it
    (``carbon_fraction/<class>``, ``agb_bootstrap/<epoch>``,
    ``soc_total/<epoch>``, ...), so the result does not depend on the order
    of evaluation. A pool of the profile is counted when every epoch gives
    its quantity (:data:`~carbonsink.accounting.pools.POOLS`); the others
    are named in the notes. Stratum chains carry no baseline
    (it is a project figure); the project row is the claim, and the stratum
    rows do not add up to it after the non-linear deduction and the
    zero floor for a stratum that is a source.
    """
    if not epochs:
        raise InputError("no epochs were given", fix="give at least one epoch's aggregates")
    dates = [e.date for e in epochs]
    if any(b <= a for a, b in itertools.pairwise(dates)):
        raise InputError(
            f"epoch dates {', '.join(map(str, dates))} are not increasing",
            fix="order the epochs by date, earliest first",
        )
    strata = epochs[-1].strata
    for epoch in epochs:
        if epoch.strata != strata:
            raise InputError(
                f"epoch {epoch.name!r} has strata {list(epoch.strata)}, the last epoch "
                f"{list(strata)}",
                fix="total every epoch on the change strata (the classes at the last epoch)",
            )
    covariance = {k: np.asarray(v, dtype=np.float64) for k, v in (error_covariance or {}).items()}
    measured = [q for q in epochs[0].quantities if all(q in e.quantities for e in epochs)]
    counted, absent = counted_pools(
        profile.pools, measured, soil_depth_cm=float(profile.soil_depth_cm)
    )
    partly = {q for e in epochs for q in e.quantities} - set(measured)
    pools = [key for key, _ in counted]
    gwp = GWP[profile.gwp]
    ledger_notes: list[str] = []
    if absent:
        ledger_notes.append(
            _(
                "pool(s) {pools} of the {profile} profile are not measured by this survey and "
                "are not counted ({why})"
            ).format(
                pools=", ".join(p.name for p in absent),
                profile=profile.name,
                why="; ".join(dict.fromkeys(_absence(p, partly) for p in absent)),
            )
        )
    single = len(epochs) == 1
    statement = _(SINGLE_EPOCH_NOTE) if single else ""
    if single:
        ledger_notes.append(statement)
    elif profile.herbaceous_biomass == "steady-state" and {"agb", "bgb"} & set(pools):
        ledger_notes.append(
            _(
                "herbaceous live biomass is in steady state (the {profile} profile): in each "
                "stratum a gain of herbaceous AGB and BGB is not credited, a loss is "
                "(docs/methodology.md eq. 2.4)"
            ).format(profile=profile.name)
        )
    ledger_notes += notes

    stated: dict[str, float] = {str(g): float(v) for g, v in (benefit_100yr_t_co2e or {}).items()}
    capped = [g for g in profile.hundred_year_cap if any(cap_group(p) == g for p in pools)]
    caps: dict[str, float] | None = (
        None if single else {g: float(stated[g]) for g in capped if g in stated}
    )

    def simulate(mc: MonteCarlo) -> TermDraws:
        return simulate_terms(
            mc,
            epochs,
            classes,
            strata=strata,
            pools=counted,
            gwp=gwp,
            error_covariance=covariance,
            herbaceous_steady_state=profile.herbaceous_biomass == "steady-state",
            caps=caps,
        )

    def project_net(mc: MonteCarlo) -> FloatArray:
        draws = simulate(mc)
        if single:
            stocks = draws.stocks[epochs[0].name]
            total: FloatArray = np.sum([stocks[p].sum(axis=1) for p in pools], axis=0)
            return total
        net: FloatArray = draws.removals.sum(axis=1) - draws.non_co2.sum(axis=1)
        return net

    run = run_until_converged(
        project_net,
        seed=seed,
        start=n_draws,
        max_draws=max_draws if max_draws is not None else 16 * n_draws,
    )
    mc = MonteCarlo(seed, run.n_draws)
    draws = simulate(mc)
    stock_summaries = {
        epoch.name: {
            pool: {
                **{
                    s: summarize(draws.stocks[epoch.name][pool][:, i], seed=seed)
                    for i, s in enumerate(strata)
                },
                "total": summarize(draws.stocks[epoch.name][pool].sum(axis=1), seed=seed),
            }
            for pool in pools
        }
        for epoch in epochs
    }
    chains: dict[str, CreditChain] = {}
    periods: dict[str, list[Period]] = {}
    stage_warnings = list(warnings)
    vintage_rows: list[dict[str, Any]] = []
    combined: CombinedUncertainty | None = None
    if not single:
        # VM0033 eq. 87-91 on its own terms: E is a carbon stock or a GHG source, t CO2e —
        # each pool's stock at the period's end and each gas's emission over the period.
        period = years_between(epochs[0].date, epochs[-1].date)
        terms = {p: CO2_PER_C * draws.stocks[epochs[-1].name][p] for p in pools}
        terms |= {"ch4": draws.ch4 * period, "n2o": draws.n2o * period}
        combined = combined_uncertainty(
            terms,
            strata=strata,
            areas_ha=epochs[-1].stratum_area_ha,
            confidence=profile.confidence,
        )
        for i, stratum in enumerate(strata):
            chains[stratum] = credit_chain(
                draws.removals[:, i],
                draws.non_co2[:, i],
                profile=profile,
                combined_u=combined.strata[stratum],
                price_per_t=price_per_t,
                seed=seed,
            )
        chains["total"] = credit_chain(
            draws.removals.sum(axis=1),
            draws.non_co2.sum(axis=1),
            profile=profile,
            baseline_t_co2e_yr=baseline_t_co2e_yr,
            combined_u=combined.project,
            price_per_t=price_per_t,
            seed=seed,
        )
        stage_warnings += pool_warnings(draws.change, pools, chains["total"].net)
        stage_warnings += equation_warning(chains["total"], combined, epochs[-1].stratum_area_ha)
        by_epoch = cumulative_chains(
            draws,
            epochs,
            strata=strata,
            pools=pools,
            profile=profile,
            last=chains,
            baseline_t_co2e_yr=baseline_t_co2e_yr,
            price_per_t=price_per_t,
            seed=seed,
        )
        periods = {
            key: monitoring_periods(
                [(e.name, e.date) for e in epochs],
                draws.cumulative,
                {name: epoch_chains[key] for name, epoch_chains in by_epoch.items()},
                column=None if key == "total" else strata.index(key),
                baseline_t_co2e_yr=baseline_t_co2e_yr if key == "total" else 0.0,
                leakage_pct=profile.leakage_pct,
                seed=seed,
            )
            for key in chains
        }
        stage_warnings += reversal_warnings(periods["total"])
        stage_warnings += cap_warnings(capped, stated, draws.capped)
        for stratum, stratum_periods in periods.items():
            for monitoring in stratum_periods:
                for vintage, days, years, issued in monitoring.vintages():
                    vintage_rows.append(
                        {
                            "stratum": stratum,
                            "period": monitoring.index,
                            "vintage": vintage,
                            "days": days,
                            "years": years,
                            "tradable_t_co2e": issued,
                            "value": None if price_per_t is None else issued * price_per_t,
                        }
                    )
    project_draws: dict[str, FloatArray] = {}
    if not single:
        removals = draws.removals.sum(axis=1)
        non_co2 = draws.non_co2.sum(axis=1)
        net = net_draws(
            removals, non_co2, baseline=float(baseline_t_co2e_yr), leakage_pct=profile.leakage_pct
        )[3]
        project_draws = {"removals": removals, "non_co2": non_co2, "net": net}
        project_draws["cumulative_net"] = np.column_stack(
            [
                net_draws(
                    since.removals.sum(axis=1),
                    since.non_co2.sum(axis=1),
                    baseline=float(baseline_t_co2e_yr) * since.years,
                    leakage_pct=profile.leakage_pct,
                )[3]
                for since in (draws.cumulative[e.name] for e in epochs[1:])
            ]
        )
    table = strata_table(epochs, strata, pools, draws, chains, stock_summaries, combined, seed=seed)
    monte_carlo = {
        **mc.to_dict(),
        **{
            f"{quantity_stem(q)}_error_correlation": _total_correlation(
                epochs, q, covariance.get(q)
            )
            for q in needed_quantities(epochs[-1], counted)
            if isinstance(epochs[-1].quantities[q], StratumTotals)
        },
        "convergence": run.convergence.to_dict(),
        "converged_output": _("project net removals (t CO2e/yr)")
        if not single
        else _("project carbon stock (t C)"),
    }
    inputs = {
        epoch.name: {
            **{
                k: v
                for q in needed_quantities(epoch, counted)
                for k, v in epoch.quantities[q].record(q).items()
            },
            "class_area_ha": {
                c: {"adjusted": a, "se": se} for c, (a, se) in epoch.class_area_ha.items()
            },
            "stratum_area_ha": dict(epoch.stratum_area_ha),
        }
        for epoch in epochs
    }
    extra: dict[str, Any] = {}
    if budget and not single:
        half_width, rows = variance_budget(project_net, seed=seed, n_draws=run.n_draws)
        extra["u_budget"] = {
            "output": _("project net removals (t CO2e/yr)"),
            "half_width90": half_width,
            "groups": [row.to_dict() for row in rows],
        }
    return Ledger(
        profile=profile,
        epochs=tuple((e.name, e.date) for e in epochs),
        pools=tuple(pools),
        strata=table,
        vintages=pd.DataFrame(
            vintage_rows,
            columns=["stratum", "period", "vintage", "days", "years", "tradable_t_co2e", "value"],
        ),
        chains=chains,
        stock_summaries=stock_summaries,
        monte_carlo=monte_carlo,
        warnings=tuple(stage_warnings),
        notes=tuple(ledger_notes),
        polygon=dict(polygon or {}),
        currency=currency,
        statement=statement,
        extra={
            "inputs": inputs,
            **({} if combined is None else {"uncertainty_vm0033": combined.to_dict()}),
            **(
                {}
                if not capped or single
                else {
                    "cap_100yr": {
                        "groups": capped,
                        "benefit_t_co2e": {g: stated.get(g) for g in capped},
                        "binding_share": {g: draws.capped.get(g, 0.0) for g in capped},
                    }
                }
            ),
            **extra,
        },
        draws=project_draws,
        periods=periods,
    )
