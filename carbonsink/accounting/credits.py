"""From removals to tradable credits: gross, leakage, uncertainty deduction, buffer.

The chain of docs/methodology.md §5, applied to the Monte Carlo draws of the
annual removals and non-CO2 emissions so that the uncertainty deduction sees
the distribution of the net:

    NER_stock  = removals − baseline removals           (carbon-stock change only)
    Gross      = NER_stock − project non-CO2 emissions
    Net        = Gross − leakage                    (leakage = leakage% × Gross, if Gross > 0)
    Adjusted   = Net after the applied uncertainty rule (all three are reported)
    Buffer     = base × buffer%                     (non-permanence pool)
    Tradable   = Adjusted − Buffer                  (0 when that is not positive)

The buffer's base is the profile's ``buffer_base``: ``"stock-change"``, the
mean NER_stock — not uncertainty-adjusted and without CH4/N2O, VM0033 v2.1
§8.5.3 eq. 93–94 (:func:`vm0033_issuance`); or ``"adjusted-net"``, the
adjusted net (the AR-Tool14/CCER-style and local profiles).

All quantities are t CO2e per year of the crediting period (a removal is
positive). A project whose net is not a removal earns nothing: tradable is 0
and the chain says why.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.profiles import (
    BUFFER_BASES,
    BufferBase,
    MethodologyProfile,
    UncertaintySource,
)
from carbonsink.accounting.summaries import Summary, summarize
from carbonsink.accounting.uncertainty_rules import RuleResult, all_rules, relative_half_width
from carbonsink.errors import InputError
from carbonsink.i18n import gettext as _

__all__ = [
    "BUFFER_BASES",
    "MAX_RELATIVE_HALF_WIDTH",
    "CreditChain",
    "Issuance",
    "credit_chain",
    "net_draws",
    "vm0033_issuance",
]

FloatArray = npt.NDArray[np.float64]
#: An infinite U (a net of mean 0 with spread) is applied as this: under
#: ``vm0033`` and ``ar-tool14`` it leaves no credits.
MAX_RELATIVE_HALF_WIDTH = 10.0


@dataclass(frozen=True)
class Issuance:
    """Credits of one monitoring period by VM0033 v2.1 eq. 93–94.

    Attributes
    ----------
    delta_adjusted
        Adjusted_NER(t2) − Adjusted_NER(t1), t CO2e.
    delta_stock
        NER_stock(t2) − NER_stock(t1), t CO2e (the stock-change part, not
        uncertainty-adjusted, without non-CO2).
    buffer
        The period's buffer contribution, t CO2e (0 when the stocks fell).
    vcu
        Verified carbon units of the period, ``delta_adjusted − buffer``;
        negative when the period lost credits.
    reversal
        True when the stocks fell over the period (``delta_stock < 0``): no
        buffer contribution, and a negative ``vcu`` is a loss to be cancelled
        from the buffer pool, not issued.
    """

    delta_adjusted: float
    delta_stock: float
    buffer: float
    vcu: float
    reversal: bool


def vm0033_issuance(
    adjusted_ner: tuple[float, float],
    ner_stock: tuple[float, float],
    *,
    buffer_pct: float,
) -> Issuance:
    """VCUs and buffer of the monitoring period t1 → t2 (VM0033 v2.1 §8.5.3).

    Parameters
    ----------
    adjusted_ner
        Cumulative uncertainty-adjusted net emission reductions at t1 and t2,
        t CO2e (0 at t1 for the first period).
    ner_stock
        Cumulative stock-change part of the net reductions at t1 and t2,
        t CO2e (biomass, dead organic matter, soil; not adjusted, no CH4/N2O).
    buffer_pct
        Non-permanence buffer, % (VCS AFOLU Non-Permanence Risk Tool).

    Returns
    -------
    Issuance

    Notes
    -----
    Eq. 94: Buffer(t2) = (NER_stock(t2) − NER_stock(t1)) × Buffer%;
    eq. 93: VCU(t2) = (Adjusted_NER(t2) − Adjusted_NER(t1)) − Buffer(t2).
    Worked (issue 15): stock removals 10,000 and CH4 4,000 t CO2e, U = 46 %
    → Adjusted = 6,000 × (1 − (0.46 − 0.20)) = 4,440; Buffer = 0.15 × 10,000
    = 1,500; VCU = 2,940. A period whose stocks fell contributes nothing to
    the buffer and is flagged as a reversal (docs/methodology.md §5.2).
    """
    if not 0.0 <= buffer_pct <= 100.0:
        raise InputError(f"buffer {buffer_pct} % is not in [0, 100]", fix="give a percentage")
    delta_adjusted = float(adjusted_ner[1]) - float(adjusted_ner[0])
    delta_stock = float(ner_stock[1]) - float(ner_stock[0])
    reversal = delta_stock < 0.0
    buffer = 0.0 if reversal else delta_stock * buffer_pct / 100.0
    return Issuance(
        delta_adjusted=delta_adjusted,
        delta_stock=delta_stock,
        buffer=buffer,
        vcu=delta_adjusted - buffer,
        reversal=reversal,
    )


@dataclass(frozen=True)
class CreditChain:
    """Every step from removals to tradable credits, per year, with the net's distribution.

    Attributes
    ----------
    removals, non_co2, gross, net
        Monte Carlo summaries (t CO2e/yr).
    ner_stock
        Summary of the stock-change part of the net, removals − baseline
        (t CO2e/yr): VM0033's NER_stock.
    baseline_t_co2e_yr, leakage_t_co2e_yr
        Baseline removals and leakage (t CO2e/yr, point values).
    rules
        All three uncertainty rules on the net, the profile's marked applied.
    adjusted_t_co2e_yr, buffer_t_co2e_yr, tradable_t_co2e_yr
        After the applied rule, the buffer contribution, and what can be sold.
    buffer_base, buffer_base_t_co2e_yr
        What the buffer % is taken of (``"stock-change"``: the mean
        NER_stock; ``"adjusted-net"``: the adjusted net) and its value.
    uncertainty
        The relative half-widths of the net: ``monte_carlo`` (its interval),
        ``vm0033_equations`` (eq. 87–91, or ``None`` when not given), ``used``
        by the ``vm0033`` and ``ar-tool14`` rules, and the profile's ``source``.
    tradable_ci90
        5th and 95th percentiles of the chain applied draw by draw (the
        applied rule's deduction carried as :meth:`tradable_at` says).
    value
        ``tradable × price`` in the price's currency per year, when a price is given.
    notes
        Plain-language remarks (no credit for a source, rule details).
    """

    removals: Summary
    non_co2: Summary
    gross: Summary
    net: Summary
    ner_stock: Summary
    baseline_t_co2e_yr: float
    leakage_t_co2e_yr: float
    rules: tuple[RuleResult, ...]
    adjusted_t_co2e_yr: float
    buffer_t_co2e_yr: float
    tradable_t_co2e_yr: float
    buffer_base: BufferBase
    buffer_base_t_co2e_yr: float
    buffer_pct: float
    uncertainty: Mapping[str, Any]
    tradable_ci90: tuple[float, float]
    price_per_t: float | None
    value: float | None
    notes: tuple[str, ...]

    @property
    def applied_rule(self) -> RuleResult:
        """The rule the profile applies."""
        return next(r for r in self.rules if r.applied)

    def tradable_at(self, net: float, ner_stock: float | None = None) -> float:
        """What the same chain would make tradable of another net (t CO2e/yr).

        Parameters
        ----------
        net
            The net, t CO2e/yr.
        ner_stock
            Its stock-change part, t CO2e/yr; by default the chain's mean
            NER_stock moved by as much as ``net`` differs from the mean net.

        Notes
        -----
        The applied rule's deduction is carried over as the rule defines it:
        a fraction of the net for ``vm0033`` (Net × (1 − (U − U_allowed))),
        a fixed amount for ``ar-tool14`` (DF × half-width) and ``lower-bound``
        (mean − 5th percentile); then the buffer on the profile's base and the
        zero floor. Used to carry a true net through the same chain.
        """
        stock = self.ner_stock.mean + (net - self.net.mean) if ner_stock is None else ner_stock
        tradable = self._tradable(np.array([net]), np.array([stock]))
        return float(tradable[0])

    def _tradable(self, net: FloatArray, ner_stock: FloatArray) -> FloatArray:
        rule = self.applied_rule
        if rule.rule == "vm0033":
            kept = rule.adjusted / rule.estimate if rule.estimate > 0 else 0.0
            adjusted = net * kept
        else:
            adjusted = net - rule.deduction
        return _after_buffer(adjusted, ner_stock, self.buffer_base, self.buffer_pct)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for the ledger (t CO2e/yr)."""
        return {
            "units": "t CO2e/yr",
            "removals": self.removals.to_dict(),
            "non_co2_emissions": self.non_co2.to_dict(),
            "baseline_removals": self.baseline_t_co2e_yr,
            "ner_stock": self.ner_stock.to_dict(),
            "gross": self.gross.to_dict(),
            "leakage": self.leakage_t_co2e_yr,
            "net": self.net.to_dict(),
            "uncertainty_rules": [
                {
                    "rule": r.rule,
                    "applied": r.applied,
                    "estimate": r.estimate,
                    "adjusted": r.adjusted,
                    "deduction": r.deduction,
                    "relative_half_width": r.relative_half_width
                    if math.isfinite(r.relative_half_width)
                    else None,
                    "explanation": r.explanation,
                }
                for r in self.rules
            ],
            "uncertainty": dict(self.uncertainty),
            "adjusted": self.adjusted_t_co2e_yr,
            "deduction": self.applied_rule.deduction,
            "buffer_base": self.buffer_base,
            "buffer_base_value": self.buffer_base_t_co2e_yr,
            "buffer_pct": self.buffer_pct,
            "buffer": self.buffer_t_co2e_yr,
            "tradable": self.tradable_t_co2e_yr,
            "tradable_ci90": list(self.tradable_ci90),
            "price_per_t": self.price_per_t,
            "value_per_yr": self.value,
            "notes": list(self.notes),
        }


def net_draws(
    removals: FloatArray, non_co2: FloatArray, *, baseline: float, leakage_pct: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """NER_stock, gross, leakage and net of each draw (docs/methodology.md §5, eq. 5.1–5.3).

    NER_stock = removals − baseline; Gross = NER_stock − non-CO2; Leakage =
    leakage% × Gross where Gross > 0, else 0; Net = Gross − Leakage. Rates or
    amounts alike (every term in the same unit).
    """
    ner_stock = removals - baseline
    gross = ner_stock - non_co2
    leakage = np.where(gross > 0, gross * leakage_pct / 100.0, 0.0)
    return ner_stock, gross, leakage, gross - leakage


def _used_u(u_mc: float, combined: float | None, source: UncertaintySource) -> float:
    """The U the rules use (profile's ``uncertainty_source``; Monte Carlo when none given)."""
    if combined is None or source == "monte-carlo":
        return u_mc
    if source == "vm0033-equations":
        return combined
    return max(u_mc, combined)


def _json_u(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _after_buffer(
    adjusted: FloatArray, ner_stock: FloatArray, base: BufferBase, buffer_pct: float
) -> FloatArray:
    """Tradable = Adjusted − Buffer, 0 where the adjusted net or the result is not positive."""
    share = buffer_pct / 100.0
    on = np.maximum(ner_stock, 0.0) if base == "stock-change" else np.maximum(adjusted, 0.0)
    tradable = adjusted - on * share
    return np.asarray(np.where(adjusted > 0, np.maximum(tradable, 0.0), 0.0), dtype=np.float64)


def credit_chain(
    removals_draws: npt.ArrayLike,
    non_co2_draws: npt.ArrayLike,
    *,
    profile: MethodologyProfile,
    baseline_t_co2e_yr: float = 0.0,
    combined_u: float | None = None,
    price_per_t: float | None = None,
    seed: int | None = None,
) -> CreditChain:
    """Run the credit chain on Monte Carlo draws of removals and non-CO2 emissions.

    Parameters
    ----------
    removals_draws
        Draws of the project's annual removals from carbon-stock change
        (t CO2e/yr; 44/12 × ΔC of the counted pools).
    non_co2_draws
        The same draws' non-CO2 emissions (t CO2e/yr, positive = emission).
    profile
        Methodology profile: uncertainty rule, leakage %, buffer % and base.
    baseline_t_co2e_yr
        Removals the baseline scenario would have had (subtracted).
    combined_u
        The relative half-width by VM0033 eq. 87–91 — of the stocks and
        sources, not of the net (:mod:`~carbonsink.accounting.combined_uncertainty`)
        — used as the profile's ``uncertainty_source`` says; ``None``: the
        Monte Carlo's only.
    price_per_t
        Optional price per t CO2e for the value line.
    seed
        The Monte Carlo seed, recorded in the summaries.

    Returns
    -------
    CreditChain

    Notes
    -----
    docs/methodology.md §5. Leakage is ``leakage_pct`` of the gross removals of
    each draw when they are positive (no leakage on a source). The rule is
    applied to the net's Monte Carlo mean and its interval at the profile's
    confidence (and, for ``lower-bound``, to the draws themselves). When the
    U used is not the Monte Carlo's (``combined_u`` with ``uncertainty_source``
    ``"vm0033-equations"``, or larger with ``"conservative"``), the ``vm0033``
    and ``ar-tool14`` rules see the interval mean ± U × |mean|; an infinite U
    counts as :data:`MAX_RELATIVE_HALF_WIDTH` (no credits under either). With
    ``buffer_base = "stock-change"`` (VM0033) one monitoring period from the
    project start is :func:`vm0033_issuance` with NER(t1) = 0:
    Buffer = mean(NER_stock) × buffer%, Tradable = Adjusted − Buffer.
    """
    removals = np.asarray(removals_draws, dtype=np.float64).ravel()
    non_co2 = np.asarray(non_co2_draws, dtype=np.float64).ravel()
    if removals.shape != non_co2.shape or removals.size == 0:
        raise InputError(
            f"{removals.size} removal draws and {non_co2.size} non-CO2 draws",
            fix="give the same Monte Carlo draws of both (one value per draw)",
        )
    ner_stock, gross, leakage_draws, net = net_draws(
        removals, non_co2, baseline=float(baseline_t_co2e_yr), leakage_pct=profile.leakage_pct
    )
    confidence = profile.confidence
    net_summary = summarize(net, confidences=tuple(sorted({confidence, 0.90, 0.95})), seed=seed)
    stock_summary = summarize(ner_stock, seed=seed)
    tail = (1.0 - confidence) / 2.0
    lower, upper = (float(v) for v in np.quantile(net, [tail, 1.0 - tail]))
    u_mc = relative_half_width(net_summary.mean, lower, upper)
    u_used = _used_u(u_mc, combined_u, profile.uncertainty_source)
    if u_used != u_mc:
        width = min(u_used, MAX_RELATIVE_HALF_WIDTH) * abs(net_summary.mean)
        lower, upper = net_summary.mean - width, net_summary.mean + width
    rules = all_rules(
        estimate=net_summary.mean, lower=lower, upper=upper, draws=net, profile=profile
    )
    applied = next(r for r in rules if r.applied)
    base: BufferBase = profile.buffer_base
    adjusted = applied.adjusted
    base_value = stock_summary.mean if base == "stock-change" else adjusted
    notes: list[str] = []
    tradable = float(
        _after_buffer(
            np.array([adjusted]), np.array([stock_summary.mean]), base, profile.buffer_pct
        )[0]
    )
    if adjusted <= 0:
        notes.append(
            _(
                "the net is not a removal after the uncertainty deduction: no credits "
                "(adjusted {adjusted:,.1f} t CO2e/yr)"
            ).format(adjusted=adjusted)
        )
        buffer = 0.0
    else:
        buffer = max(base_value, 0.0) * profile.buffer_pct / 100.0
        if base == "stock-change" and stock_summary.mean < 0:
            notes.append(
                _(
                    "the carbon stocks fell (NER_stock {ner:,.1f} t CO2e/yr): nothing goes to "
                    "the buffer, and the loss is a reversal (VM0033 v2.1 §8.5.3)"
                ).format(ner=stock_summary.mean)
            )
        if tradable == 0.0:
            notes.append(
                _(
                    "the buffer ({buffer:,.1f} t CO2e/yr, {pct:g} % of {base:,.1f}) is not "
                    "smaller than the adjusted net ({adjusted:,.1f}): no credits"
                ).format(buffer=buffer, pct=profile.buffer_pct, base=base_value, adjusted=adjusted)
            )
    chain = CreditChain(
        removals=summarize(removals, seed=seed),
        non_co2=summarize(non_co2, seed=seed),
        gross=summarize(gross, seed=seed),
        net=net_summary,
        ner_stock=stock_summary,
        baseline_t_co2e_yr=float(baseline_t_co2e_yr),
        leakage_t_co2e_yr=float(leakage_draws.mean()),
        rules=tuple(rules),
        adjusted_t_co2e_yr=float(adjusted),
        buffer_t_co2e_yr=float(buffer),
        tradable_t_co2e_yr=tradable,
        buffer_base=base,
        buffer_base_t_co2e_yr=float(base_value),
        buffer_pct=float(profile.buffer_pct),
        uncertainty={
            "monte_carlo": _json_u(u_mc),
            "vm0033_equations": None if combined_u is None else _json_u(combined_u),
            "used": _json_u(u_used),
            "source": profile.uncertainty_source if combined_u is not None else "monte-carlo",
        },
        tradable_ci90=(0.0, 0.0),
        price_per_t=None if price_per_t is None else float(price_per_t),
        value=None if price_per_t is None else tradable * float(price_per_t),
        notes=tuple(notes),
    )
    per_draw = chain._tradable(net, ner_stock)
    low, high = (float(v) for v in np.quantile(per_draw, [0.05, 0.95]))
    return dataclasses.replace(chain, tradable_ci90=(low, high))
