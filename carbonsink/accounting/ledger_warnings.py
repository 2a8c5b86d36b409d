"""The warnings the ledger raises itself: detectability, the equations' U, reversals, the cap.

A :class:`LedgerWarning` is what a verifier must know about the claim
(docs/design.md §7; the codes in docs/ledger.md). The stages raise their own;
these are the accounting's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from carbonsink.i18n import N_
from carbonsink.i18n import gettext as _

if TYPE_CHECKING:
    from carbonsink.accounting.combined_uncertainty import CombinedUncertainty
    from carbonsink.accounting.credits import CreditChain
    from carbonsink.accounting.periods import Period
    from carbonsink.accounting.summaries import Summary

__all__ = [
    "LedgerWarning",
    "cap_warnings",
    "equation_warning",
    "pool_warnings",
    "reversal_warnings",
]

FloatArray = npt.NDArray[np.float64]
#: The 100-year cap's pool groups as the warnings name them.
_GROUP_NAMES = {"soil": N_("soil"), "biomass": N_("biomass")}


@dataclass(frozen=True)
class LedgerWarning:
    """A warning that matters to the claim, recorded in the ledger (docs/design.md §7).

    Attributes
    ----------
    code
        Stable identifier, e.g. ``"below-mdd"``, ``"outside-aoa"``, ``"extrapolated-cores"``.
    message
        One or two plain sentences with the numbers.
    where
        What it concerns (epoch, pool, stratum, file).
    """

    code: str
    message: str
    where: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"code": self.code, "message": self.message, "where": self.where}


def pool_warnings(
    change: Mapping[str, FloatArray], pools: Sequence[str], net: Summary
) -> list[LedgerWarning]:
    """``change-not-detectable`` for each pool, ``net-not-significant`` for the net."""
    out = []
    for pool in pools:
        total = change[pool].sum(axis=1)
        low, high = np.quantile(total, [0.05, 0.95])
        if low < 0.0 < high:
            out.append(
                LedgerWarning(
                    "change-not-detectable",
                    _(
                        "the change of the {pool} pool, {mean:,.1f} t C/yr, is not "
                        "distinguishable from zero: its 90 % interval is {low:,.1f} to "
                        "{high:,.1f} t C/yr"
                    ).format(pool=pool, mean=float(total.mean()), low=low, high=high),
                    where=_("pool {pool}").format(pool=pool),
                )
            )
    if net.ci90[0] <= 0.0:
        out.append(
            LedgerWarning(
                "net-not-significant",
                _(
                    "the net removal's 90 % interval ({low:,.1f} to {high:,.1f} t CO2e/yr) "
                    "reaches zero: the survey cannot show a sink at 90 % confidence"
                ).format(low=net.ci90[0], high=net.ci90[1]),
                where=_("project"),
            )
        )
    return out


def equation_warning(
    chain: CreditChain, combined: CombinedUncertainty, areas: Mapping[str, float]
) -> list[LedgerWarning]:
    """Say so when VM0033 eq. 87–91 set the deduction's U above the Monte Carlo's.

    Eq. 5.13 weighs each stratum's relative U by its area, so a small stratum
    whose stocks are poorly known (a large U_i) can dominate the project's U.
    """
    u = chain.uncertainty
    if u["vm0033_equations"] is None or u["used"] != u["vm0033_equations"]:
        return []
    if u["monte_carlo"] is not None and u["used"] <= u["monte_carlo"]:
        return []
    weights = {
        s: ui * float(areas.get(s, 0.0))
        for s, ui in combined.strata.items()
        if math.isfinite(ui) and areas.get(s, 0.0) > 0
    }
    top = sorted(weights, key=weights.__getitem__, reverse=True)[:3]
    named = ", ".join(f"{s} (U {combined.strata[s]:.0%}, {areas[s]:,.1f} ha)" for s in top)
    monte_carlo = "∞" if u["monte_carlo"] is None else f"{u['monte_carlo']:.0%}"
    return [
        LedgerWarning(
            "u-equations-dominate",
            _(
                "the deduction uses VM0033 eq. 87–91's U of {used:.0%}, above the Monte "
                "Carlo's {monte_carlo}: eq. 5.13 weighs each stratum's relative U by its area, "
                "and strata whose stocks are uncertain against their size weigh most — {named}"
            ).format(used=u["used"], monte_carlo=monte_carlo, named=named),
            where=_("project"),
        )
    ]


def reversal_warnings(periods: Sequence[Period]) -> list[LedgerWarning]:
    """A ``reversal`` warning for each monitoring period whose stocks fell."""
    return [
        LedgerWarning(
            "reversal",
            _(
                "the carbon stocks fell in monitoring period {k} ({start} → {end}): NER_stock "
                "changed by {stock:,.1f} t CO2e and the VCUs by {vcu:,.1f}; nothing goes to the "
                "buffer, {cancelled:,.1f} buffer credits are cancelled, and nothing more is "
                "issued until the loss is made good (VM0033 v2.1 §8.5.3)"
            ).format(
                k=p.index,
                start=p.start_epoch,
                end=p.end_epoch,
                stock=p.ner_stock,
                vcu=p.vcu,
                cancelled=p.cancelled,
            ),
            where=_("monitoring period {k}").format(k=p.index),
        )
        for p in periods
        if p.reversal
    ]


def cap_warnings(
    groups: Sequence[str], stated: Mapping[str, float], binding: Mapping[str, float]
) -> list[LedgerWarning]:
    """``cap-100yr-not-stated`` and ``cap-100yr-binding`` for the profile's capped groups.

    Parameters
    ----------
    groups
        The capped groups the ledger counts a pool of.
    stated
        Group → the survey's 100-year benefit, t CO2e.
    binding
        Group → share of the draws in which its cap binds at the last epoch.
    """
    out = []
    for group in groups:
        name = _(_GROUP_NAMES.get(group, group))
        where = _("100-year cap, {group}").format(group=name)
        if group not in stated:
            out.append(
                LedgerWarning(
                    "cap-100yr-not-stated",
                    _(
                        "the profile caps the {group} pools' claim at the project's 100-year "
                        "benefit (VM0033 v2.1 eq. 86), which the survey does not state: no cap "
                        "is applied, so the claim assumes the measured gain lasts 100 years — "
                        "state it in [accounting] benefit_100yr_t_co2e"
                    ).format(group=name),
                    where=where,
                )
            )
        elif binding.get(group, 0.0) > 0.0:
            out.append(
                LedgerWarning(
                    "cap-100yr-binding",
                    _(
                        "the {group} pools' gain exceeds the project's 100-year benefit of "
                        "{cap:,.1f} t CO2e in {share:.0%} of the Monte Carlo draws: it is "
                        "claimed only up to it (VM0033 v2.1 eq. 86)"
                    ).format(group=name, cap=stated[group], share=binding[group]),
                    where=where,
                )
            )
    return out
