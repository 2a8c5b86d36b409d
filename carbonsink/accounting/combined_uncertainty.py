"""VM0033 v2.1 eq. 87–91: the project's uncertainty from its stocks, sources and strata.

VM0033 does not take the uncertainty from a Monte Carlo of the whole chain:
it takes each term's own uncertainty — per carbon stock and GHG source, per
stratum — and combines them as independent errors, weighted by their size
within a stratum and by area across strata (docs/methodology.md §5.3,
eqs. 5.12–5.13):

    within stratum i:  U_i = √(Σ_k (U_ik E_ik)²) / |Σ_k E_ik|
    across strata:     U   = √(Σ_i (U_i A_i)²) / Σ_i A_i

with E_ik "a carbon stock or GHG source" of stratum i in t CO2e — the ledger
passes each counted pool's stock at the end of the period (44/12 × C) and
each gas's emission over the period — U_ik its relative half-width at the
profile's confidence, and A_i the stratum's area.
:func:`combined_uncertainty` computes every U_ik, U_i and U from the
ledger's Monte Carlo draws of the terms, so the ledger can show them beside
the Monte Carlo half-width of the net (the uncertainty of a *change*, which
stock terms do not measure) and the profile can choose which one the
deduction uses (``uncertainty_source``; the default takes the larger).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.uncertainty_rules import combine_across_strata
from carbonsink.errors import InputError

__all__ = ["CombinedUncertainty", "TermUncertainty", "combined_uncertainty"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TermUncertainty:
    """One term (pool or gas) of one stratum.

    Attributes
    ----------
    estimate
        E_ik, the term's mean, in the draws' units (the ledger's: t CO2e).
    half_width
        Half-width of its interval at the profile's confidence, same units.
    relative
        U_ik = half-width / |E_ik| (``inf`` when E_ik = 0 and the half-width is not).
    """

    estimate: float
    half_width: float
    relative: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``relative`` is null when infinite)."""
        return {
            "estimate": self.estimate,
            "half_width": self.half_width,
            "relative_half_width": _finite_or_none(self.relative),
        }


@dataclass(frozen=True)
class CombinedUncertainty:
    """U of every term, of every stratum (eq. 5.12) and of the project (eq. 5.13).

    Attributes
    ----------
    terms
        Stratum → term → :class:`TermUncertainty`.
    strata
        Stratum → U_i.
    project
        U of the project from the strata and their areas.
    confidence
        Confidence level of the half-widths.
    """

    terms: Mapping[str, Mapping[str, TermUncertainty]]
    strata: Mapping[str, float]
    project: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record for the ledger (docs/ledger.md)."""
        return {
            "confidence": self.confidence,
            "units": "t CO2e",
            "project_relative_half_width": _finite_or_none(self.project),
            "strata": {
                s: {
                    "relative_half_width": _finite_or_none(u),
                    "terms": {k: t.to_dict() for k, t in self.terms[s].items()},
                }
                for s, u in self.strata.items()
            },
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _relative(estimate: float, width: float) -> float:
    if estimate == 0.0:
        return 0.0 if width == 0.0 else math.inf
    return width / abs(estimate)


def combined_uncertainty(
    terms: Mapping[str, FloatArray],
    *,
    strata: Sequence[str],
    areas_ha: Mapping[str, float],
    confidence: float = 0.90,
) -> CombinedUncertainty:
    """The VM0033 eq. 87–91 uncertainty of a project from draws of its terms.

    Parameters
    ----------
    terms
        Term name → ``(n, S)`` Monte Carlo draws per stratum in one unit (the
        ledger's: each pool's stock at the period's end and each gas's
        emission over the period, t CO2e, all positive).
    strata
        Stratum names, in the columns' order.
    areas_ha
        Stratum → area, ha (strata without area are left out of eq. 5.13).
    confidence
        Confidence of the half-widths (0.90: the 5th and 95th percentiles).

    Returns
    -------
    CombinedUncertainty

    Raises
    ------
    InputError
        Draws not ``(n, len(strata))``, or a confidence outside (0.5, 1).

    Notes
    -----
    U_ik = ((P_{1−α/2} − P_{α/2}) / 2) / |mean| of the term's draws in stratum
    i; U_i by eq. 5.12 over the terms (as
    :func:`~carbonsink.accounting.uncertainty_rules.combine_within_stratum`,
    with U_ik E_ik = the half-width, so a term of mean 0 counts too), U by
    eq. 5.13 over the strata with area (:func:`combine_across_strata`). A
    stratum whose terms sum to exactly 0 with some spread has U_i = ∞, and so
    has the project then. Worked (docs/methodology.md §5.3): soil 800 at 10 %
    and biomass 200 at 40 % → 11.3 %; strata 300 ha at 10 % and 100 ha at
    30 % → 10.6 %.
    """
    if not 0.5 < confidence < 1.0:
        raise InputError(f"confidence {confidence} is not in (0.5, 1)", fix="give e.g. 0.90")
    tail = (1.0 - confidence) / 2.0
    out: dict[str, dict[str, TermUncertainty]] = {s: {} for s in strata}
    for name, draws in terms.items():
        values = np.asarray(draws, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(strata):
            raise InputError(
                f"draws of {name} have shape {values.shape}; expected (n, {len(strata)})",
                fix="give one column per stratum",
            )
        low, high = np.quantile(values, [tail, 1.0 - tail], axis=0)
        means = values.mean(axis=0)
        for i, stratum in enumerate(strata):
            width = float(high[i] - low[i]) / 2.0
            out[stratum][name] = TermUncertainty(
                estimate=float(means[i]), half_width=width, relative=_relative(means[i], width)
            )
    per_stratum: dict[str, float] = {}
    for stratum in strata:
        # Eq. 5.12 with U_k E_k = h_k (also for a term whose own mean is 0).
        total = sum(t.estimate for t in out[stratum].values())
        spread = math.sqrt(sum(t.half_width**2 for t in out[stratum].values()))
        per_stratum[stratum] = _relative(total, spread)
    weighted = [(per_stratum[s], float(areas_ha.get(s, 0.0))) for s in strata]
    weighted = [(u, a) for u, a in weighted if a > 0]
    if not weighted:
        project = 0.0
    elif any(math.isinf(u) for u, _ in weighted):
        project = math.inf
    else:
        project = combine_across_strata([u for u, _ in weighted], [a for _, a in weighted])
    return CombinedUncertainty(
        terms=out, strata=per_stratum, project=project, confidence=confidence
    )
