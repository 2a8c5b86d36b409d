"""Uncertainty deductions: from a net removal and its interval to the adjusted total.

Three rule families (docs/methodology.md §5), selected by the methodology profile
(:mod:`carbonsink.accounting.profiles`); the ledger shows all three and marks
the one applied (:func:`all_rules`):

``vm0033``
    VCS / VM0033: no deduction while the relative half-width U of the interval
    is within the allowable uncertainty; above it the net is reduced by the
    excess, ``Adjusted = Net × (1 − (U − U_allowed))``.
``ar-tool14``
    CDM AR-Tool14 / CCER style: a discount factor DF, stepped by U, of the
    interval half-width is deducted, ``Adjusted = estimate − DF × half-width``.
``lower-bound``
    Credit the 5th percentile of the Monte Carlo distribution.

Sign convention: a removal (sink) is positive. A net source (net ≤ 0) earns no
credits, and no rule may make it look smaller: :func:`apply_rule` returns
``min(net, rule value)`` and says so in the explanation.
"""

from __future__ import annotations

import logging
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from carbonsink.errors import InputError
from carbonsink.i18n import gettext as _

if TYPE_CHECKING:
    from carbonsink.accounting.profiles import MethodologyProfile

__all__ = [
    "AR_TOOL14_DISCOUNT_BANDS",
    "UNCERTAINTY_RULES",
    "RuleResult",
    "UncertaintyRule",
    "all_rules",
    "apply_rule",
    "ar_tool14_deduction",
    "ar_tool14_discount_factor",
    "combine_across_strata",
    "combine_within_stratum",
    "half_width",
    "lower_bound_deduction",
    "relative_half_width",
    "vm0033_deduction",
]

logger = logging.getLogger(__name__)

UncertaintyRule = Literal["vm0033", "ar-tool14", "lower-bound"]
#: The rule families a methodology profile may select.
UNCERTAINTY_RULES: tuple[str, ...] = typing.get_args(UncertaintyRule)

#: AR-Tool14 discount factors: (upper edge of U, inclusive; DF). Above the last
#: edge (U > 30 %) DF = 1, i.e. the lower confidence bound is credited.
AR_TOOL14_DISCOUNT_BANDS: Final[tuple[tuple[float, float], ...]] = (
    (0.10, 0.0),
    (0.15, 0.25),
    (0.20, 0.50),
    (0.30, 0.75),
)
#: U within this relative distance of a band edge counts as on the edge, so that
#: e.g. (110 − 90) / 2 / 100 computed as 0.1000000000000001 still falls in "≤ 10 %".
_EDGE_RTOL: Final = 1e-9


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one uncertainty rule on one estimate.

    Attributes
    ----------
    rule
        The rule family (``"vm0033"``, ``"ar-tool14"``, ``"lower-bound"``).
    estimate
        The net estimate the rule was applied to (t CO2e; removal positive).
    adjusted
        The estimate after the rule (t CO2e); never above ``estimate``.
    deduction
        ``estimate − adjusted`` (t CO2e, ≥ 0).
    relative_half_width
        U = half-width of the interval / |estimate| (a fraction; ``inf`` when
        the estimate is 0).
    applied
        True for the rule of the methodology profile (the one the ledger uses).
    explanation
        One or two sentences a verifier can follow: the rule, U, the threshold
        or discount factor, the arithmetic.
    """

    rule: UncertaintyRule
    estimate: float
    adjusted: float
    deduction: float
    relative_half_width: float
    applied: bool
    explanation: str


# ------------------------------------------------------------------- helpers
def _finite(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InputError(
            f"{name} is {number}, not a finite number",
            where=name,
            fix="check the Monte Carlo totals passed to the uncertainty rule (NaN or inf)",
        )
    return number


def half_width(lower: float, upper: float) -> float:
    """Half-width of a confidence interval: (upper − lower) / 2.

    Parameters
    ----------
    lower, upper
        The interval bounds (same unit as the estimate).

    Returns
    -------
    float
        The half-width, ≥ 0.

    Raises
    ------
    InputError
        When a bound is not finite or ``lower > upper``.

    Notes
    -----
    h = (upper − lower) / 2. For an asymmetric (Monte Carlo) interval this is
    the mean of the two one-sided distances, the quantity VM0033 and AR-Tool14
    express as "half-width of the confidence interval" (docs/methodology.md §5).
    """
    low = _finite(lower, "lower")
    high = _finite(upper, "upper")
    if low > high:
        raise InputError(
            f"the interval is reversed: lower {low:g} > upper {high:g}",
            where="lower/upper",
            fix="pass the lower bound first (e.g. the 5th and 95th percentiles for 90 %)",
        )
    return (high - low) / 2.0


def relative_half_width(mean: float, lower: float, upper: float) -> float:
    """Relative half-width U of a confidence interval (a fraction, not a percentage).

    Parameters
    ----------
    mean
        The estimate (t CO2e or any unit; removal positive).
    lower, upper
        The interval bounds at the profile's confidence (e.g. 90 %).

    Returns
    -------
    float
        U = half-width / |mean|; ``inf`` when ``mean`` is 0 and the interval has
        width, 0 when both are 0.

    Raises
    ------
    InputError
        When a value is not finite or ``lower > upper``.

    Notes
    -----
    U = ((upper − lower) / 2) / |mean|  (VM0033 v2.1 §8.5; CDM AR-Tool14:
    "half-width of the 90 % confidence interval as a percentage of the mean").
    """
    centre = _finite(mean, "mean")
    width = half_width(lower, upper)
    if centre == 0.0:
        return 0.0 if width == 0.0 else math.inf
    return width / abs(centre)


def _as_vector(values: Sequence[float] | npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise InputError(
            f"{name} must be a non-empty 1-D sequence (got shape {array.shape})",
            where=name,
            fix="pass one value per term (pool, gas or stratum)",
        )
    if not np.all(np.isfinite(array)):
        raise InputError(
            f"{name} holds NaN or inf values",
            where=name,
            fix="check the per-term totals and uncertainties passed in",
        )
    return array


def combine_within_stratum(
    estimates: Sequence[float] | npt.ArrayLike,
    relative_half_widths: Sequence[float] | npt.ArrayLike,
) -> float:
    """Relative uncertainty of a sum of terms (pools, gases) within one stratum.

    Parameters
    ----------
    estimates
        E_k, the terms that are summed (same unit, signs as in the sum).
    relative_half_widths
        U_k, each term's relative half-width (fractions, ≥ 0).

    Returns
    -------
    float
        U of Σ E_k (a fraction); ``inf`` when Σ E_k = 0 and some U_k E_k ≠ 0.

    Raises
    ------
    InputError
        When the sequences differ in length, are empty, hold NaN/inf, or a U_k is
        negative.

    Notes
    -----
    U = sqrt(Σ_k (U_k × E_k)²) / |Σ_k E_k|  — propagation of independent errors
    of a sum (IPCC 2006 Vol. 1 Ch. 3 Eq. 3.2; VM0033 v2.1 §8.5). Terms whose
    errors are correlated need the Monte Carlo instead.
    """
    values = _as_vector(estimates, "estimates")
    u = _as_vector(relative_half_widths, "relative_half_widths")
    _check_pairs(values, u, "estimates")
    numerator = float(np.sqrt(np.sum((u * values) ** 2)))
    total = abs(float(values.sum()))
    if total == 0.0:
        return 0.0 if numerator == 0.0 else math.inf
    return numerator / total


def combine_across_strata(
    relative_half_widths: Sequence[float] | npt.ArrayLike,
    areas_ha: Sequence[float] | npt.ArrayLike,
) -> float:
    """Relative uncertainty of a project total from its strata.

    Parameters
    ----------
    relative_half_widths
        U_i, each stratum's relative half-width (fractions, ≥ 0).
    areas_ha
        A_i, each stratum's area in hectares (> 0).

    Returns
    -------
    float
        U of the project (a fraction).

    Raises
    ------
    InputError
        When the sequences differ in length, are empty, hold NaN/inf, a U_i is
        negative or an area is not positive.

    Notes
    -----
    U = sqrt(Σ_i (U_i × A_i)²) / Σ_i A_i  (VM0033 v2.1 §8.5, the area-weighted
    combination of stratum uncertainties; docs/methodology.md §5).
    """
    u = _as_vector(relative_half_widths, "relative_half_widths")
    areas = _as_vector(areas_ha, "areas_ha")
    _check_pairs(areas, u, "areas_ha")
    if np.any(areas <= 0.0):
        raise InputError(
            "every stratum area must be positive",
            where="areas_ha",
            fix="leave strata with no area out of the combination",
        )
    return float(np.sqrt(np.sum((u * areas) ** 2)) / areas.sum())


def _check_pairs(values: npt.NDArray[np.float64], u: npt.NDArray[np.float64], name: str) -> None:
    if values.shape != u.shape:
        raise InputError(
            f"{name} has {values.size} values but relative_half_widths has {u.size}",
            where=name,
            fix="pass one relative half-width per term",
        )
    if np.any(u < 0.0):
        raise InputError(
            "a relative half-width is negative",
            where="relative_half_widths",
            fix="relative half-widths are (upper − lower) / 2 / |mean| and cannot be negative",
        )


# --------------------------------------------------------------- rule families
def vm0033_deduction(net: float, half_width_rel: float, *, allowable: float = 0.20) -> float:
    """Net removals after the VM0033 / VCS uncertainty deduction.

    Parameters
    ----------
    net
        Net removals (t CO2e; removal positive).
    half_width_rel
        U, the relative half-width of the net's confidence interval (fraction).
    allowable
        U_allowed, the allowable relative half-width (fraction): 0.20 at 90 %
        confidence (0.30 at 95 %).

    Returns
    -------
    float
        The adjusted net (t CO2e).

    Raises
    ------
    InputError
        When a value is not finite, U is negative or ``allowable`` is outside
        [0, 1].

    Notes
    -----
    Adjusted = Net                          when U ≤ U_allowed,
    Adjusted = Net × (1 − (U − U_allowed))  when U > U_allowed
    (VM0033 v2.1 §8.5; docs/methodology.md §5). Worked: U = 25 %, U_allowed = 20 %
    → Net × 0.95. The factor is floored at 0 (U − U_allowed > 100 % credits
    nothing rather than a negative amount). A net source (Net ≤ 0) is returned
    unchanged: ``min(Net, Net × factor) = Net`` — the deduction never makes an
    emission look smaller.
    """
    value = _finite(net, "net")
    u = float(half_width_rel)
    if math.isnan(u) or u < 0.0:
        raise InputError(
            f"relative half-width {u} must be ≥ 0",
            where="half_width_rel",
            fix="pass (upper − lower) / 2 / |net| (see relative_half_width)",
        )
    if not 0.0 <= allowable <= 1.0:
        raise InputError(
            f"allowable uncertainty {allowable} must be a fraction in [0, 1]",
            where="allowable",
            fix="give e.g. 0.20 for 20 % (VM0033 at 90 % confidence)",
        )
    if value <= 0.0 or u <= allowable:
        return value
    factor = max(0.0, 1.0 - (u - allowable))
    return min(value, value * factor)


def ar_tool14_discount_factor(half_width_rel: float) -> float:
    """AR-Tool14 discount factor DF for a relative half-width U.

    Parameters
    ----------
    half_width_rel
        U, the relative half-width of the 90 % confidence interval (fraction).

    Returns
    -------
    float
        DF as a fraction of the half-width: 0, 0.25, 0.50, 0.75 or 1.

    Raises
    ------
    InputError
        When U is NaN or negative.

    Notes
    -----
    U ≤ 10 %: 0; 10 % < U ≤ 15 %: 0.25; 15 % < U ≤ 20 %: 0.50;
    20 % < U ≤ 30 %: 0.75; U > 30 %: 1 (CDM AR-Tool14; docs/methodology.md §5).
    Each band includes its upper edge (exactly 10 % → 0, exactly 15 % → 0.25,
    exactly 30 % → 0.75), read as AR-Tool14's "less than or equal to"; U within
    a relative 1e-9 of an edge counts as on it, so floating-point noise in
    (upper − lower) / 2 / mean does not push a value into the next band.
    """
    u = float(half_width_rel)
    if math.isnan(u) or u < 0.0:
        raise InputError(
            f"relative half-width {u} must be ≥ 0",
            where="half_width_rel",
            fix="pass (upper − lower) / 2 / |estimate| (see relative_half_width)",
        )
    for edge, factor in AR_TOOL14_DISCOUNT_BANDS:
        if u <= edge * (1.0 + _EDGE_RTOL):
            return factor
    return 1.0


def ar_tool14_deduction(estimate: float, half_width: float) -> float:
    """Estimate after the AR-Tool14 (CCER style) uncertainty discount.

    Parameters
    ----------
    estimate
        The net estimate (t CO2e; removal positive).
    half_width
        The half-width of its 90 % confidence interval (t CO2e, ≥ 0).

    Returns
    -------
    float
        Adjusted = estimate − DF × half-width (t CO2e).

    Raises
    ------
    InputError
        When a value is not finite or the half-width is negative.

    Notes
    -----
    U = half-width / |estimate|; DF from :func:`ar_tool14_discount_factor`;
    Adjusted = estimate − DF × half-width (CDM AR-Tool14; docs/methodology.md §5).
    Worked: estimate 1000, half-width 170 (U = 17 %) → DF 0.5 → 1000 − 85 = 915.
    At DF = 1 this is the lower confidence bound of a symmetric interval. For a
    net source the result is at or below the estimate, as it should be.
    """
    value = _finite(estimate, "estimate")
    width = _finite(half_width, "half_width")
    if width < 0.0:
        raise InputError(
            f"half-width {width:g} is negative",
            where="half_width",
            fix="pass (upper − lower) / 2",
        )
    u = relative_half_width(value, value - width, value + width)
    return value - ar_tool14_discount_factor(u) * width


def lower_bound_deduction(draws: npt.ArrayLike, *, percentile: float = 5.0) -> float:
    """The lower-bound credit: a low percentile of the Monte Carlo draws.

    Parameters
    ----------
    draws
        Monte Carlo draws of the net (t CO2e), 1-D, finite.
    percentile
        The percentile credited, in (0, 50]; 5 by default.

    Returns
    -------
    float
        The ``percentile``-th percentile of ``draws`` (t CO2e).

    Raises
    ------
    InputError
        When ``draws`` is empty, not 1-D or holds NaN/inf, or the percentile is
        outside (0, 50].

    Notes
    -----
    Adjusted = P5(draws) (docs/methodology.md §5, rule 3; IPCC 2006 Vol. 1 Ch. 3
    Approach 2), computed by linear interpolation between order statistics
    (``numpy.percentile`` default, Hyndman & Fan type 7). This function returns
    the percentile as it is; :func:`apply_rule` caps it at the mean estimate.
    """
    values = _as_vector(draws, "draws")
    if not 0.0 < percentile <= 50.0:
        raise InputError(
            f"percentile {percentile} must be in (0, 50]",
            where="percentile",
            fix="give e.g. 5 for the 5th percentile",
        )
    return float(np.percentile(values, percentile))


# ---------------------------------------------------------------- dispatching
def apply_rule(
    rule_name: UncertaintyRule,
    *,
    estimate: float,
    lower: float,
    upper: float,
    draws: npt.ArrayLike | None = None,
    profile: MethodologyProfile,
    units: str = "t CO2e/yr",
) -> RuleResult:
    """Apply one uncertainty rule family to a net estimate and its interval.

    Parameters
    ----------
    rule_name
        ``"vm0033"``, ``"ar-tool14"`` or ``"lower-bound"``.
    estimate
        The net estimate (t CO2e; removal positive), e.g. the Monte Carlo mean.
    lower, upper
        Its confidence interval at ``profile.confidence`` (e.g. the 5th and
        95th percentiles for 90 %).
    draws
        Monte Carlo draws of the net, for ``lower-bound``. Without draws the
        lower-bound rule uses ``lower``, which is only allowed when the interval
        is the central one whose lower end is the profile's percentile
        (confidence 0.90 ↔ percentile 5).
    units
        Units of the estimate, as the explanation states them (the credit
        chain's net is per year).
    profile
        The methodology profile: ``allowable_uncertainty_pct`` (vm0033),
        ``confidence`` and ``lower_bound_percentile`` (lower-bound).
    Returns
    -------
    RuleResult
        Estimate, adjusted value, deduction, U and an explanation; ``applied``
        is true when ``rule_name`` is the profile's ``uncertainty_rule``.

    Raises
    ------
    InputError
        On an unknown rule, non-finite values, a reversed interval, or
        ``lower-bound`` without draws and with a non-matching interval.

    Notes
    -----
    vm0033: Adjusted = Net × (1 − (U − U_allowed)) when U > U_allowed;
    ar-tool14: Adjusted = estimate − DF(U) × half-width; lower-bound:
    Adjusted = P5 (docs/methodology.md §5). A net source (estimate ≤ 0) earns no
    credits, and every rule returns min(estimate, rule value), so no rule ever
    shrinks an emission; likewise a percentile above the mean is capped at the
    mean.
    """
    if rule_name not in UNCERTAINTY_RULES:
        raise InputError(
            f"unknown uncertainty rule {rule_name!r}",
            where="uncertainty_rule",
            fix=f"use one of {', '.join(UNCERTAINTY_RULES)}",
        )
    value = _finite(estimate, "estimate")
    width = half_width(lower, upper)
    u = relative_half_width(value, lower, upper)
    confidence = f"{profile.confidence:.0%}"
    u_text = "∞" if math.isinf(u) else f"{u:.1%}"

    if rule_name == "vm0033":
        allowable = profile.allowable_uncertainty_pct / 100.0
        rule_value = vm0033_deduction(value, u, allowable=allowable)
        allowed = f"{allowable:.0%}"
        if u <= allowable:
            detail = _(
                "U = {u} at {confidence} is within the allowable {allowed}: no deduction"
            ).format(u=u_text, confidence=confidence, allowed=allowed)
        else:
            factor = max(0.0, 1.0 - (u - allowable))
            detail = _(
                "U = {u} at {confidence} exceeds the allowable {allowed}: "
                "Net × (1 − ({u} − {allowed})) = {net} × {factor}"
            )
            if factor == 0.0 and value > 0.0:
                detail += _(
                    " — U ≥ {allowed} + 100 points = {ceiling}, so the factor 1 − (U − {allowed}) "
                    "is floored at 0 and the deduction takes the whole net: nothing is credited "
                    "until more cores or plots narrow the interval"
                )
            detail = detail.format(
                u=u_text,
                confidence=confidence,
                allowed=allowed,
                net=f"{value:,.2f}",
                factor=f"{factor:.4f}",
                ceiling=f"{allowable + 1:.0%}",
            )
    elif rule_name == "ar-tool14":
        factor = ar_tool14_discount_factor(u)
        rule_value = value - factor * width
        detail = _(
            "U = {u} at {confidence} → discount factor {pct} of the half-width {width}: "
            "{net} − {factor} × {width}"
        ).format(
            u=u_text,
            confidence=confidence,
            pct=f"{factor:.0%}",
            width=f"{width:,.2f}",
            net=f"{value:,.2f}",
            factor=f"{factor:g}",
        )
    else:
        percentile = profile.lower_bound_percentile
        if draws is not None:
            rule_value = lower_bound_deduction(draws, percentile=percentile)
            detail = _("P{p} of {n} Monte Carlo draws = {value}").format(
                p=f"{percentile:g}", n=f"{np.size(draws):,}", value=f"{rule_value:,.2f}"
            )
        else:
            matching = (1.0 - profile.confidence) / 2.0 * 100.0
            if not math.isclose(matching, percentile, rel_tol=1e-9):
                raise InputError(
                    f"the lower-bound rule needs the P{percentile:g} of the draws, but no draws "
                    f"were given and the {confidence} interval's lower end is P{matching:g}",
                    where="draws",
                    fix="pass the Monte Carlo draws of the net (draws=...)",
                )
            rule_value = _finite(lower, "lower")
            detail = _("P{p} = the lower end of the {confidence} interval = {value}").format(
                p=f"{percentile:g}", confidence=confidence, value=f"{lower:,.2f}"
            )

    adjusted = min(value, rule_value)
    if value <= 0.0:
        detail += _(
            "; the net is a source ({net} {units} ≤ 0): no credits, and the rule never "
            "shrinks an emission, so adjusted = min(net, rule value) = {adjusted}"
        ).format(net=f"{value:,.2f}", units=units, adjusted=f"{adjusted:,.2f}")
    elif rule_value > value:
        detail += _("; capped at the estimate {net}").format(net=f"{value:,.2f}")
    explanation = _("{rule}: {detail} → adjusted {adjusted} {units}.").format(
        rule=rule_name, detail=detail, adjusted=f"{adjusted:,.2f}", units=units
    )
    logger.debug(explanation)
    return RuleResult(
        rule=rule_name,
        estimate=value,
        adjusted=adjusted,
        deduction=value - adjusted,
        relative_half_width=u,
        applied=rule_name == profile.uncertainty_rule,
        explanation=explanation,
    )


def all_rules(
    *,
    estimate: float,
    lower: float,
    upper: float,
    draws: npt.ArrayLike | None = None,
    profile: MethodologyProfile,
    units: str = "t CO2e/yr",
) -> list[RuleResult]:
    """All three rule families on the same estimate, the profile's rule marked applied.

    Parameters
    ----------
    estimate, lower, upper, draws, profile, units
        As for :func:`apply_rule`.

    Returns
    -------
    list of RuleResult
        In the order ``vm0033``, ``ar-tool14``, ``lower-bound``; exactly one has
        ``applied=True``.

    Raises
    ------
    InputError
        As :func:`apply_rule`.

    Notes
    -----
    The ledger reports all three so a buyer can compare registries
    (docs/methodology.md §5: "the report shows all three, and applies one").
    """
    return [
        apply_rule(
            name,
            estimate=estimate,
            lower=lower,
            upper=upper,
            draws=draws,
            profile=profile,
            units=units,
        )
        for name in typing.get_args(UncertaintyRule)
    ]
