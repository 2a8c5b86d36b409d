"""From removals to tradable credits: gross, leakage, uncertainty deduction, buffer.

The chain of docs/methodology.md §5, applied to the Monte Carlo draws of the
annual removals and non-CO2 emissions so that the uncertainty deduction sees
the distribution of the net:

    Gross      = removals − baseline removals − project non-CO2 emissions
    Net        = Gross − leakage                    (leakage = leakage% × Gross, if Gross > 0)
    Adjusted   = Net after the applied uncertainty rule (all three are reported)
    Buffer     = stock part of Adjusted × buffer%   (non-permanence pool)
    Tradable   = Adjusted − Buffer

All quantities are t CO2e per year of the crediting period (a removal is
positive). A project whose net is not a removal earns nothing: tradable is 0
and the chain says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.profiles import MethodologyProfile
from carbonsink.accounting.summaries import Summary, summarize
from carbonsink.accounting.uncertainty_rules import RuleResult, all_rules
from carbonsink.errors import InputError

__all__ = ["CreditChain", "credit_chain"]


@dataclass(frozen=True)
class CreditChain:
    """Every step from removals to tradable credits, per year, with the net's distribution.

    Attributes
    ----------
    removals, non_co2, gross, net
        Monte Carlo summaries (t CO2e/yr).
    baseline_t_co2e_yr, leakage_t_co2e_yr
        Baseline removals and leakage (t CO2e/yr, point values).
    rules
        All three uncertainty rules on the net, the profile's marked applied.
    adjusted_t_co2e_yr, buffer_t_co2e_yr, tradable_t_co2e_yr
        After the applied rule, the buffer contribution, and what can be sold.
    stock_share
        Share of the adjusted removals that is a stock gain (the buffer's base).
    value
        ``tradable × price`` in the price's currency per year, when a price is given.
    notes
        Plain-language remarks (no credit for a source, rule details).
    """

    removals: Summary
    non_co2: Summary
    gross: Summary
    net: Summary
    baseline_t_co2e_yr: float
    leakage_t_co2e_yr: float
    rules: tuple[RuleResult, ...]
    adjusted_t_co2e_yr: float
    buffer_t_co2e_yr: float
    tradable_t_co2e_yr: float
    stock_share: float
    price_per_t: float | None
    value: float | None
    notes: tuple[str, ...]
    buffer_pct: float = 0.0

    @property
    def applied_rule(self) -> RuleResult:
        """The rule the profile applies."""
        return next(r for r in self.rules if r.applied)

    def tradable_at(self, net: float) -> float:
        """What the same chain would make tradable of another net (t CO2e/yr).

        The applied rule's deduction is carried over as the rule defines it:
        a fraction of the net for ``vm0033`` (Net × (1 − (U − U_allowed))),
        a fixed amount for ``ar-tool14`` (DF × half-width) and ``lower-bound``
        (mean − 5th percentile); then the zero floor and the buffer. Used for
        the tradable interval (the chain at the net's 5th and 95th percentiles)
        and to carry a true net through the same chain.
        """
        rule = self.applied_rule
        if rule.rule == "vm0033":
            kept = rule.adjusted / rule.estimate if rule.estimate > 0 else 0.0
            adjusted = net * kept
        else:
            adjusted = net - rule.deduction
        if adjusted <= 0:
            return 0.0
        return adjusted * (1.0 - self.stock_share * self.buffer_pct / 100.0)

    @property
    def tradable_ci90(self) -> tuple[float, float]:
        """The chain applied at the 5th and 95th percentiles of the net, t CO2e/yr."""
        return self.tradable_at(self.net.p5), self.tradable_at(self.net.p95)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for the ledger (t CO2e/yr)."""
        return {
            "units": "t CO2e/yr",
            "removals": self.removals.to_dict(),
            "non_co2_emissions": self.non_co2.to_dict(),
            "baseline_removals": self.baseline_t_co2e_yr,
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
            "adjusted": self.adjusted_t_co2e_yr,
            "stock_share": self.stock_share,
            "buffer": self.buffer_t_co2e_yr,
            "tradable": self.tradable_t_co2e_yr,
            "tradable_ci90": list(self.tradable_ci90),
            "price_per_t": self.price_per_t,
            "value_per_yr": self.value,
            "notes": list(self.notes),
        }


def credit_chain(
    removals_draws: npt.ArrayLike,
    non_co2_draws: npt.ArrayLike,
    *,
    profile: MethodologyProfile,
    baseline_t_co2e_yr: float = 0.0,
    stock_share: float = 1.0,
    price_per_t: float | None = None,
    seed: int | None = None,
) -> CreditChain:
    """Run the credit chain on Monte Carlo draws of removals and non-CO2 emissions.

    Parameters
    ----------
    removals_draws
        Draws of the project's annual removals (t CO2e/yr; 44/12 × ΔC).
    non_co2_draws
        The same draws' non-CO2 emissions (t CO2e/yr, positive = emission).
    profile
        Methodology profile: uncertainty rule, leakage %, buffer %.
    baseline_t_co2e_yr
        Removals the baseline scenario would have had (subtracted).
    stock_share
        Share (0–1) of the adjusted removals held as a stock that could be
        reversed (vegetation, soil): the buffer applies to it.
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
    confidence (and, for ``lower-bound``, to the draws themselves).
    """
    removals = np.asarray(removals_draws, dtype=np.float64).ravel()
    non_co2 = np.asarray(non_co2_draws, dtype=np.float64).ravel()
    if removals.shape != non_co2.shape or removals.size == 0:
        raise InputError(
            f"{removals.size} removal draws and {non_co2.size} non-CO2 draws",
            fix="give the same Monte Carlo draws of both (one value per draw)",
        )
    if not 0.0 <= stock_share <= 1.0:
        raise InputError(f"stock_share {stock_share} is not in [0, 1]", fix="give a fraction")
    gross = removals - float(baseline_t_co2e_yr) - non_co2
    leakage_draws = np.where(gross > 0, gross * profile.leakage_pct / 100.0, 0.0)
    net = gross - leakage_draws
    confidence = profile.confidence
    net_summary = summarize(net, confidences=tuple(sorted({confidence, 0.90, 0.95})), seed=seed)
    tail = (1.0 - confidence) / 2.0
    lower, upper = (float(v) for v in np.quantile(net, [tail, 1.0 - tail]))
    rules = all_rules(
        estimate=net_summary.mean, lower=lower, upper=upper, draws=net, profile=profile
    )
    applied = next(r for r in rules if r.applied)
    notes: list[str] = []
    adjusted = applied.adjusted
    if adjusted <= 0:
        notes.append(
            "the net is not a removal after the uncertainty deduction: no credits "
            f"(adjusted {adjusted:,.1f} t CO2e/yr)"
        )
        buffer = 0.0
        tradable = 0.0
    else:
        buffer = adjusted * stock_share * profile.buffer_pct / 100.0
        tradable = adjusted - buffer
    value = None if price_per_t is None else tradable * float(price_per_t)
    return CreditChain(
        removals=summarize(removals, seed=seed),
        non_co2=summarize(non_co2, seed=seed),
        gross=summarize(gross, seed=seed),
        net=net_summary,
        baseline_t_co2e_yr=float(baseline_t_co2e_yr),
        leakage_t_co2e_yr=float(leakage_draws.mean()),
        rules=tuple(rules),
        adjusted_t_co2e_yr=float(adjusted),
        buffer_t_co2e_yr=float(buffer),
        tradable_t_co2e_yr=float(tradable),
        stock_share=float(stock_share),
        price_per_t=None if price_per_t is None else float(price_per_t),
        value=value,
        notes=tuple(notes),
        buffer_pct=float(profile.buffer_pct),
    )
