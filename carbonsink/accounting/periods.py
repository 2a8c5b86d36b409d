"""Monitoring periods: what each verification issues, by VM0033 v2.1 §8.5.3 (eq. 93–94).

Epochs t₀ < t₁ < … < tₙ make n monitoring periods, period k from t_{k−1} to
t_k. At every epoch the ledger re-estimates the *cumulative* figures since
t₀ with all the data so far: the credit chain
(:func:`~carbonsink.accounting.credits.credit_chain`) runs on the Monte Carlo
draws of the removals and non-CO2 emissions since t₀
(:class:`~carbonsink.accounting.simulation.Cumulative`), which gives NER(t_k),
its U, Adjusted_NER(t_k) and NER_stock(t_k) (the chain's per-year values ×
years since t₀; all 0 at t₀). Then, docs/methodology.md eq. 5.16–5.20:

    ΔNER_k     = NER(t_k) − NER(t_{k−1})                    draw by draw
    Buffer_k   = min(max(0, NER_stock(t_k) − NER_stock(t_{k−1})) × buffer%,
                     max(0, ΔAdjusted))                                   (eq. 94)
                 (``adjusted-net`` base: buffer% of max(0, ΔAdjusted))
    VCU_k      = Adjusted_NER(t_k) − Adjusted_NER(t_{k−1}) − Buffer_k       (eq. 93)
    B_k        = Σ_{j≤k} VCU_j,        P_k = max(0, max_{j≤k} B_j)
    Issued_k   = P_k − P_{k−1}
    Cancelled_k = min(−VCU_k, Σ_{j<k} Issued_j − Σ_{j<k} Cancelled_j)   when VCU_k < 0

A period whose stocks fell (ΔNER_stock < 0) is a reversal: it adds nothing to
the buffer, and a negative VCU_k is a loss: buffer credits equal to it (at
most what was issued and not yet cancelled) are cancelled, and nothing more
is issued until the cumulative VCUs are back above their peak P (what was
issued once is not issued again). The periods' ΔNER add up to NER(tₙ) in
every draw; with no loss, the issued VCUs add up to the cumulative chain's
tradable at tₙ.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.combined_uncertainty import combined_uncertainty
from carbonsink.accounting.credits import CreditChain, credit_chain, net_draws, vm0033_issuance
from carbonsink.accounting.profiles import BufferBase, MethodologyProfile
from carbonsink.accounting.simulation import (
    DAYS_PER_YEAR,
    Cumulative,
    EpochInputs,
    TermDraws,
    years_between,
)
from carbonsink.accounting.summaries import Summary, summarize
from carbonsink.errors import InputError
from carbonsink.units import CO2_PER_C

__all__ = [
    "Period",
    "cumulative_chains",
    "issued_by_period",
    "monitoring_periods",
    "period_issuance",
    "vintage_fractions",
]

FloatArray = npt.NDArray[np.float64]


def vintage_fractions(start: dt.date, end: dt.date) -> list[tuple[int, int, float]]:
    """The calendar years (vintages) of a crediting period and the years of each.

    Parameters
    ----------
    start, end
        First and last day of the period (the epochs' dates), ``start < end``.

    Returns
    -------
    list of (vintage, days, years)
        One entry per calendar year touched; ``days`` of the period in that
        year (from ``start`` inclusive to ``end`` exclusive) and ``days / 365.25``.
        The years add up to :func:`years_between`.

    Raises
    ------
    InputError
        ``end`` is not after ``start``.
    """
    if end <= start:
        raise InputError(
            f"the crediting period {start} → {end} is empty",
            fix="order the epochs by date, earliest first",
        )
    out = []
    for year in range(start.year, end.year + 1):
        lo = max(start, dt.date(year, 1, 1))
        hi = min(end, dt.date(year + 1, 1, 1))
        days = (hi - lo).days
        if days > 0:
            out.append((year, days, days / DAYS_PER_YEAR))
    return out


def period_issuance(
    adjusted: tuple[float, float],
    ner_stock: tuple[float, float],
    *,
    buffer_pct: float,
    base: BufferBase,
) -> tuple[float, float, bool]:
    """Buffer contribution, VCUs and reversal flag of one period (eq. 93–94), t CO2e.

    Parameters
    ----------
    adjusted
        Cumulative Adjusted_NER at the period's start and end.
    ner_stock
        Cumulative NER_stock at the period's start and end.
    buffer_pct
        The profile's buffer, %.
    base
        ``"stock-change"``: :func:`~carbonsink.accounting.credits.vm0033_issuance`;
        ``"adjusted-net"``: the buffer is buffer% of max(0, ΔAdjusted). Either
        way it is at most max(0, ΔAdjusted): it is withheld from what the
        period earns.

    Returns
    -------
    (buffer, vcu, reversal)
    """
    issuance = vm0033_issuance(adjusted, ner_stock, buffer_pct=buffer_pct)
    earned = max(issuance.delta_adjusted, 0.0)
    buffer = issuance.buffer if base == "stock-change" else earned * buffer_pct / 100.0
    # The buffer is withheld from the VCUs the period earns, never more (as the chain's
    # zero floor: an adjusted net the deduction took to 0 puts nothing in the buffer).
    buffer = min(buffer, earned)
    return buffer, issuance.delta_adjusted - buffer, issuance.reversal


def issued_by_period(vcus: Sequence[float]) -> list[tuple[float, float]]:
    """(issued, cancelled from the buffer) of each period from its VCUs (module docstring).

    Issued_k = P_k − P_{k−1} with P_k = max(0, max_{j≤k} Σ_{i≤j} VCU_i): only
    VCUs above the cumulative peak are issued, so a loss is made good before
    anything more is. A negative VCU_k cancels min(−VCU_k, issued and not yet
    cancelled) buffer credits.

    Examples
    --------
    VCUs 100, −30, 50: B = 100, 70, 120 and P = 100, 100, 120, so issued 100,
    0, 20; the loss of 30 cancels 30 buffer credits.

    >>> issued_by_period([100.0, -30.0, 50.0])
    [(100.0, 0.0), (0.0, 30.0), (20.0, 0.0)]
    """
    out: list[tuple[float, float]] = []
    total = peak = issued = cancelled = 0.0
    for vcu in vcus:
        total += vcu
        new_peak = max(peak, total)
        cancel = min(-vcu, issued - cancelled) if vcu < 0 else 0.0
        out.append((new_peak - peak, max(cancel, 0.0)))
        issued += new_peak - peak
        cancelled += max(cancel, 0.0)
        peak = new_peak
    return out


@dataclass(frozen=True)
class Period:
    """One monitoring period of a stratum or the project (t CO2e, not per year).

    Attributes
    ----------
    index
        1 for the first period.
    start_epoch, end_epoch, start, end, years
        The epochs that bound it, their dates and the years between.
    removals, non_co2, ner_stock
        Means of the period's stock-change removals, CH4 + N2O emissions and
        NER_stock (removals − baseline).
    ner
        Summary of the period's NER draws, ΔNER_k (its 90 % interval and U).
    cumulative
        The cumulative chain at the period's end: ``years``, ``ner`` (Summary),
        ``u`` (the U its rule used), ``adjusted``, ``ner_stock``, ``buffer``
        and ``tradable``.
    delta_adjusted, buffer, vcu, reversal
        Eq. 93–94 of the period (:func:`period_issuance`).
    issued, cancelled
        VCUs issued and buffer credits cancelled (:func:`issued_by_period`).
    """

    index: int
    start_epoch: str
    end_epoch: str
    start: dt.date
    end: dt.date
    years: float
    removals: float
    non_co2: float
    ner_stock: float
    ner: Summary
    cumulative: Mapping[str, Any]
    delta_adjusted: float
    buffer: float
    vcu: float
    reversal: bool
    issued: float = 0.0
    cancelled: float = 0.0

    def vintages(self) -> list[tuple[int, int, float, float]]:
        """(vintage, days, years, issued VCUs) of each calendar year of the period (eq. 5.15)."""
        return [
            (vintage, days, years, self.issued * years / self.years)
            for vintage, days, years in vintage_fractions(self.start, self.end)
        ]

    def _issuance(self) -> dict[str, Any]:
        return {
            "delta_adjusted": self.delta_adjusted,
            "buffer": self.buffer,
            "vcu": self.vcu,
            "reversal": self.reversal,
            "issued": self.issued,
            "buffer_cancelled": self.cancelled,
        }

    def brief(self) -> dict[str, Any]:
        """The period's NER and issuance alone (``stratum_periods`` of the ledger)."""
        return {
            "period": self.index,
            "ner": self.ner.mean,
            "ner_ci90": list(self.ner.ci90),
            **self._issuance(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (``periods`` of the ledger, docs/ledger.md)."""
        cumulative = dict(self.cumulative)
        cumulative["ner"] = self.cumulative["ner"].to_dict()
        return {
            "period": self.index,
            "start_epoch": self.start_epoch,
            "end_epoch": self.end_epoch,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "years": self.years,
            "removals": self.removals,
            "non_co2_emissions": self.non_co2,
            "ner_stock": self.ner_stock,
            "ner": self.ner.to_dict(),
            "cumulative": cumulative,
            **self._issuance(),
            "vintages": [
                {"vintage": v, "days": d, "years": y, "issued_t_co2e": i}
                for v, d, y, i in self.vintages()
            ],
        }


def _u(chain: CreditChain) -> float | None:
    used = chain.uncertainty.get("used")
    return None if used is None else float(used)


def _pick(values: FloatArray, column: int | None) -> FloatArray:
    """A stratum's column of ``(n, S)`` draws, or their sum over the strata."""
    picked = values.sum(axis=1) if column is None else values[:, column]
    return np.asarray(picked, dtype=np.float64)


def monitoring_periods(
    epochs: Sequence[tuple[str, dt.date]],
    cumulative: Mapping[str, Cumulative],
    chains: Mapping[str, CreditChain],
    *,
    column: int | None,
    baseline_t_co2e_yr: float,
    leakage_pct: float,
    seed: int,
) -> list[Period]:
    """The monitoring periods of one stratum (``column``) or the project (``None``).

    Parameters
    ----------
    epochs
        ``(name, date)`` of every epoch, earliest first (at least two).
    cumulative
        Epoch (the second onwards) → the draws since the first epoch.
    chains
        Epoch (the second onwards) → the cumulative credit chain at it, per
        year (:func:`~carbonsink.accounting.credits.credit_chain` on the
        cumulative draws / years).
    column
        The stratum's column of the draws, or ``None`` for their sum over
        strata (the project).
    baseline_t_co2e_yr, leakage_pct
        The chain's baseline (0 for a stratum) and leakage %.
    seed
        The Monte Carlo seed, recorded in the summaries.

    Returns
    -------
    list of Period
        Eq. 5.16–5.20 (module docstring); ``issued`` and ``cancelled`` filled.
    """
    previous_net = np.zeros(1)
    previous = {"adjusted": 0.0, "ner_stock": 0.0, "removals": 0.0, "non_co2": 0.0}
    periods: list[Period] = []
    for index, ((start_name, start), (end_name, end)) in enumerate(
        itertools.pairwise(epochs), start=1
    ):
        since = cumulative[end_name]
        chain = chains[end_name]
        removals, non_co2 = _pick(since.removals, column), _pick(since.non_co2, column)
        ner_stock, _, _, net = net_draws(
            removals,
            non_co2,
            baseline=baseline_t_co2e_yr * since.years,
            leakage_pct=leakage_pct,
        )
        now = {
            "adjusted": chain.adjusted_t_co2e_yr * since.years,
            "ner_stock": float(ner_stock.mean()),
            "removals": float(removals.mean()),
            "non_co2": float(non_co2.mean()),
        }
        buffer, vcu, reversal = period_issuance(
            (previous["adjusted"], now["adjusted"]),
            (previous["ner_stock"], now["ner_stock"]),
            buffer_pct=chain.buffer_pct,
            base=chain.buffer_base,
        )
        periods.append(
            Period(
                index=index,
                start_epoch=start_name,
                end_epoch=end_name,
                start=start,
                end=end,
                years=years_between(start, end),
                removals=now["removals"] - previous["removals"],
                non_co2=now["non_co2"] - previous["non_co2"],
                ner_stock=now["ner_stock"] - previous["ner_stock"],
                ner=summarize(net - previous_net, seed=seed),
                cumulative={
                    "years": since.years,
                    "ner": summarize(net, seed=seed),
                    "u": _u(chain),
                    "adjusted": now["adjusted"],
                    "ner_stock": now["ner_stock"],
                    "buffer": chain.buffer_t_co2e_yr * since.years,
                    "tradable": chain.tradable_t_co2e_yr * since.years,
                },
                delta_adjusted=now["adjusted"] - previous["adjusted"],
                buffer=buffer,
                vcu=vcu,
                reversal=reversal,
            )
        )
        previous, previous_net = now, net
    issued = issued_by_period([p.vcu for p in periods])
    return [
        dataclasses.replace(p, issued=i, cancelled=c)
        for p, (i, c) in zip(periods, issued, strict=True)
    ]


def cumulative_chains(
    draws: TermDraws,
    epochs: Sequence[EpochInputs],
    *,
    strata: Sequence[str],
    pools: Sequence[str],
    profile: MethodologyProfile,
    last: Mapping[str, CreditChain],
    baseline_t_co2e_yr: float = 0.0,
    price_per_t: float | None = None,
    seed: int | None = None,
) -> dict[str, dict[str, CreditChain]]:
    """The credit chains since the first epoch at every later epoch, per stratum and project.

    Parameters
    ----------
    draws
        The Monte Carlo of every epoch (:func:`~carbonsink.accounting.simulation.simulate_terms`).
    epochs
        Every epoch, earliest first (at least two).
    strata, pools
        The strata (the draws' columns) and the counted pools.
    profile
        The methodology profile of the chains.
    last
        The ledger's chains (stratum and ``"total"``), which are the last
        epoch's: reused as they are.
    baseline_t_co2e_yr, price_per_t, seed
        As for :func:`~carbonsink.accounting.credits.credit_chain` (the
        baseline on the project's chain only).

    Returns
    -------
    dict
        Epoch (the second onwards) → stratum (and ``"total"``) → chain, per
        year of the years since the first epoch. A chain's U by VM0033 eq.
        87–91 is that of the stocks at its epoch and the emissions since t₀.
    """
    out: dict[str, dict[str, CreditChain]] = {}
    for epoch in epochs[1:-1]:
        since = draws.cumulative[epoch.name]
        terms = {p: CO2_PER_C * draws.stocks[epoch.name][p] for p in pools}
        terms |= {"ch4": since.ch4, "n2o": since.n2o}
        combined = combined_uncertainty(
            terms, strata=strata, areas_ha=epoch.stratum_area_ha, confidence=profile.confidence
        )
        removals, non_co2 = since.removals / since.years, since.non_co2 / since.years
        chains = {
            s: credit_chain(
                removals[:, i],
                non_co2[:, i],
                profile=profile,
                combined_u=combined.strata[s],
                price_per_t=price_per_t,
                seed=seed,
            )
            for i, s in enumerate(strata)
        }
        chains["total"] = credit_chain(
            removals.sum(axis=1),
            non_co2.sum(axis=1),
            profile=profile,
            baseline_t_co2e_yr=baseline_t_co2e_yr,
            combined_u=combined.project,
            price_per_t=price_per_t,
            seed=seed,
        )
        out[epoch.name] = chains
    out[epochs[-1].name] = dict(last)
    return out
