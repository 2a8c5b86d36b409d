"""The Monte Carlo of the ledger's terms: stocks per pool, their change, removals and non-CO2.

Inputs are per-epoch aggregates the stages computed (:class:`EpochInputs`):
the measured quantities of the pools (:mod:`carbonsink.accounting.pools`)
and the area-adjusted class areas. Each draw d builds, for every epoch e,
counted pool p and stratum s, the stock C_p[e, s] of
:mod:`~carbonsink.accounting.pools` (class factors CF_c and R_c drawn once and
shared by every epoch, so their error cancels in the change:
docs/methodology.md §6), then per stratum

    ΔC_p     = (C_p[t2, s] − C_p[t1, s]) / (t2 − t1)
    Removals = 44/12 × Σ_p ΔC_p
    Non-CO2  = A_s × (F_CH4,s · GWP_CH4 + F_N2O,s · GWP_N2O) × 365 × 10⁻⁵

with t1, t2 the first and last epochs, A_s the later epoch's area-adjusted
class area (normal, its Olofsson SE) and the fluxes of
:mod:`carbonsink.accounting.parameters`; with more epochs the non-CO2 rate is
the mean of the periods' rates weighted by their years, and every later
epoch's terms since the first are kept as amounts (:class:`Cumulative`, the
monitoring periods of :mod:`carbonsink.accounting.periods`). Strata are the
classes at the last epoch, so they partition the project once. Every
parameter is drawn from a stream named after it (``carbon_fraction/<class>``,
``agb_bootstrap/<epoch>``, ``soc_total/<epoch>``, ...), so the draws do not
depend on the order of evaluation.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.caps import cap_group, capped_changes
from carbonsink.accounting.corrections import correction_draws, sqrt_cov
from carbonsink.accounting.distributions import Empirical, Normal
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.parameters import ClassParameters
from carbonsink.accounting.pools import (
    POOLS,
    ClassFactor,
    KeyedTotals,
    Pool,
    Quantity,
    RatioTotals,
    StratumTotals,
    stream_name,
)
from carbonsink.errors import InputError
from carbonsink.units import CO2_PER_C, T_HA_YR_PER_MG_M2_D

__all__ = [
    "DAYS_PER_YEAR",
    "Cumulative",
    "EpochInputs",
    "TermDraws",
    "cap_group",
    "correction_draws",
    "joint_covariance",
    "needed_quantities",
    "simulate_terms",
    "years_between",
]

#: Length of the mean Julian year, days (the years between epochs, docs/methodology.md §4).
DAYS_PER_YEAR = 365.25
#: The live-biomass quantity (AGB, and BGB through the root:shoot ratio).
AGB_QUANTITY = POOLS["agb"].quantity

FloatArray = npt.NDArray[np.float64]


def years_between(start: dt.date, end: dt.date) -> float:
    """Years between two dates: days / 365.25.

    Notes
    -----
    t2 − t1 of docs/methodology.md §4 in Julian years; 2020-09-15 → 2025-09-18
    is 1,829 days = 5.00753 years.
    """
    return (end - start).days / DAYS_PER_YEAR


@dataclass(frozen=True)
class EpochInputs:
    """One epoch's aggregates, on the change strata (the classes at the later epoch).

    Attributes
    ----------
    name, date
        The epoch.
    strata
        Stratum names, in table order.
    stratum_area_ha
        Mapped area of each stratum (true cell areas inside the project), ha.
    quantities
        Measured quantity name (``agb_t_dm``, ``dom_t_dm``, ``soc_t_c``) →
        its totals and how their error is sampled
        (:data:`~carbonsink.accounting.pools.Quantity`).
    class_area_ha
        Class → (area-adjusted area, its SE), ha (Olofsson et al. 2014).
    """

    name: str
    date: dt.date
    strata: tuple[str, ...]
    stratum_area_ha: Mapping[str, float]
    quantities: Mapping[str, Quantity]
    class_area_ha: Mapping[str, tuple[float, float]]

    def __post_init__(self) -> None:
        where = f"epoch {self.name!r}"
        for name, quantity in self.quantities.items():
            quantity.check(name, where=where)
            if isinstance(quantity, KeyedTotals):
                unknown = sorted({s for s, _ in quantity.keys} - set(self.strata))
                if unknown:
                    raise InputError(
                        f"{name} keys name unknown strata {unknown}",
                        where=where,
                        fix="build every table of the epoch on the same strata",
                    )
            elif isinstance(quantity, RatioTotals):
                if not isinstance(self.quantities.get(quantity.base), KeyedTotals):
                    raise InputError(
                        f"{name} is a ratio to {quantity.base!r}, which the epoch does not "
                        "give as keyed totals",
                        where=where,
                        fix=f"give {quantity.base} with bootstrap replicates",
                    )
            else:
                missing = sorted(set(self.strata) - set(quantity.totals))
                if missing:
                    raise InputError(
                        f"strata lack {name} totals {missing}",
                        where=where,
                        fix="build every table of the epoch on the same strata",
                    )


@dataclass(frozen=True)
class Cumulative:
    """Draws of the terms from the first epoch to a later one, as amounts (eq. 5.16).

    Attributes
    ----------
    years
        Years from the first epoch to this one.
    removals
        ``(n, S)`` 44/12 × the counted stock change since the first epoch
        (herbaceous gains removed under steady state), t CO2e.
    ch4, n2o
        ``(n, S)`` emissions since the first epoch, t CO2e: Σ over the
        periods up to this epoch of the period's rate (its end epoch's class
        area) × its years.
    """

    years: float
    removals: FloatArray
    ch4: FloatArray
    n2o: FloatArray

    @property
    def non_co2(self) -> FloatArray:
        """CH4 + N2O since the first epoch, t CO2e."""
        return self.ch4 + self.n2o


@dataclass(frozen=True)
class TermDraws:
    """Monte Carlo draws of the ledger's terms, ``(n, S)`` per stratum."""

    stocks: dict[str, dict[str, FloatArray]]  # epoch → pool → (n, S), t C
    change: dict[str, FloatArray]  # pool → (n, S), t C/yr
    removals: FloatArray  # (n, S), t CO2e/yr
    ch4: FloatArray  # (n, S), t CO2e/yr
    n2o: FloatArray  # (n, S), t CO2e/yr
    #: Epoch (the second onwards) → what happened since the first epoch, as amounts.
    cumulative: dict[str, Cumulative] = field(default_factory=dict)
    #: Capped pool group → share of the draws in which the 100-year cap binds at the last epoch.
    capped: dict[str, float] = field(default_factory=dict)

    @property
    def non_co2(self) -> FloatArray:
        """CH4 + N2O, t CO2e/yr."""
        return self.ch4 + self.n2o


def needed_quantities(epoch: EpochInputs, pools: Sequence[tuple[str, Pool]]) -> list[str]:
    """The quantities of an epoch the counted pools need: theirs and the bases of ratios.

    Raises
    ------
    InputError
        A counted pool's quantity is not in the epoch.
    """
    needed: list[str] = []
    for _, pool in pools:
        name = pool.quantity
        quantity = epoch.quantities.get(name)
        if quantity is None:
            raise InputError(
                f"the {pool.name} pool is counted but epoch {epoch.name!r} gives no {name}",
                fix="count a pool only when every epoch measures its quantity",
            )
        chain = [name] + ([quantity.base] if isinstance(quantity, RatioTotals) else [])
        needed += [q for q in chain if q not in needed]
    return needed


def _quantity_draws(
    mc: MonteCarlo,
    epoch: EpochInputs,
    names: Sequence[str],
    *,
    strata: Sequence[str],
    total_errors: Mapping[str, FloatArray],
    peak_cv: Mapping[str, float],
    corrections: Mapping[str, FloatArray],
) -> dict[str, FloatArray]:
    """Draws of quantities of an epoch: ``(n, K)`` per key, or ``(n, S)`` per stratum.

    ``corrections`` gives a keyed quantity's drawn residual corrections
    (:func:`correction_draws`). A keyed quantity of a herbaceous class c is
    multiplied by its epoch's peak-standing-crop factor max(0, N(1, CV_c²)) (stream
    ``peak_biomass/<epoch>/<class>``): the year's peak differs from the
    class's lasting stock by the between-year variability (docs/methodology.md
    §2.2), and BGB and a DOM ratio inherit it from AGB.
    """
    out: dict[str, FloatArray] = {}
    keyed_first = sorted(
        ((n, epoch.quantities[n]) for n in names),
        key=lambda item: not isinstance(item[1], KeyedTotals),
    )
    for name, quantity in keyed_first:
        if isinstance(quantity, KeyedTotals):
            # A corrected stratum's error is its correction's (model-assisted, eq. 6.8a-b):
            # the held-out residuals already hold the model-fit error the bootstrap measures.
            # The others take the bootstrap's spread (rows resampled whole: a draw's rows do
            # not depend on which columns are drawn).
            out[name] = np.tile(quantity.totals, (mc.n_draws, 1))
            bootstrapped = quantity.bootstrapped()
            if bootstrapped:
                # The mean over the whole matrix, then the columns: numpy sums a column of a
                # narrower array in another order (the last bits would differ).
                centre = quantity.replicates.mean(axis=0)[bootstrapped]
                boot = mc.draw(
                    stream_name(name, KeyedTotals, epoch=epoch.name),
                    Empirical(quantity.replicates[:, bootstrapped]),
                )
                out[name][:, bootstrapped] += boot - centre
            if quantity.corrections:
                shares = quantity.key_shares()
                drawn = corrections[name]
                for j, stratum in enumerate(quantity.corrections):
                    members = [k for k, (s, _) in enumerate(quantity.keys) if s == stratum]
                    out[name][:, members] += np.outer(drawn[:, j], shares[members])
            for k, (_, cls) in enumerate(quantity.keys):
                cv = peak_cv.get(cls, 0.0)
                if cv > 0:
                    factor = mc.draw(f"peak_biomass/{epoch.name}/{cls}", Normal(1.0, cv))
                    out[name][:, k] *= np.maximum(factor, 0.0)
        elif isinstance(quantity, RatioTotals):
            base = epoch.quantities[quantity.base]
            assert isinstance(base, KeyedTotals)
            ratios = {
                group: np.maximum(
                    mc.draw(
                        stream_name(name, RatioTotals, epoch=epoch.name, group=group),
                        Normal(r, se),
                    ),
                    0.0,
                )
                for group, (r, se) in quantity.ratios.items()
            }
            columns = []
            for k, (_, cls) in enumerate(base.keys):
                if cls not in quantity.group_of:
                    raise InputError(
                        f"{name} has no ratio for class {cls!r}",
                        where=f"epoch {epoch.name!r}",
                        fix="give a ratio for every class of the epoch's map",
                    )
                columns.append(out[quantity.base][:, k] * ratios[quantity.group_of[cls]])
            out[name] = np.stack(columns, axis=1) if columns else np.zeros((mc.n_draws, 0))
        else:
            point = np.array([quantity.totals[s] for s in strata], dtype=np.float64)
            out[name] = point[None, :] + total_errors[name]
    return out


def _pool_stock(
    pool: Pool,
    quantity: Quantity,
    draws: FloatArray,
    keys: Sequence[tuple[str, str]],
    factors: Mapping[ClassFactor, Mapping[str, FloatArray]],
    *,
    index: Mapping[str, int],
    epoch: str,
) -> FloatArray:
    """``(n, S)`` stock of a pool: Σ over keys of quantity × class factors (pools module)."""
    if isinstance(quantity, StratumTotals):
        return draws
    stock = np.zeros((draws.shape[0], len(index)))
    for k, (stratum, cls) in enumerate(keys):
        if any(cls not in factors[f] for f in pool.factors):
            raise InputError(
                f"class {cls!r} of epoch {epoch!r} is not in the vegetation legend",
                where="[vegetation.classes]",
                fix=f"add {cls!r} to the legend",
            )
        value = draws[:, k]
        for factor in pool.factors:
            value = value * factors[factor][cls]
        stock[:, index[stratum]] += value
    return stock


def _class_mask(epoch: EpochInputs, name: str, classes: set[str]) -> FloatArray:
    """``(K,)`` 1 for the keys of a keyed quantity whose class is in ``classes``, else 0."""
    return np.array([1.0 if c in classes else 0.0 for _, c in _keys_of(epoch, name)])


def _keys_of(epoch: EpochInputs, name: str) -> tuple[tuple[str, str], ...]:
    quantity = epoch.quantities[name]
    if isinstance(quantity, RatioTotals):
        quantity = epoch.quantities[quantity.base]
    return quantity.keys if isinstance(quantity, KeyedTotals) else ()


def joint_covariance(
    epochs: Sequence[EpochInputs],
    name: str,
    strata: Sequence[str],
    cross: FloatArray | None,
) -> FloatArray:
    """``(E·S, E·S)`` covariance of a stratum-totals quantity's errors over the epochs.

    Diagonal blocks are each epoch's covariance, reordered to ``strata``.
    ``cross`` gives the blocks between epochs: an ``(S, S)`` array is the
    block of the first and last epochs (the others 0); an ``(E·S, E·S)``
    array is the joint covariance of every epoch (each epoch's block in its
    totals' order), whose blocks between epochs are taken, reordered likewise.
    """
    n = len(strata)
    size = len(epochs) * n
    joint = np.zeros((size, size))
    orders = []
    for e, epoch in enumerate(epochs):
        quantity = epoch.quantities[name]
        assert isinstance(quantity, StratumTotals)
        order = [list(quantity.totals).index(s) for s in strata]
        orders.append(order)
        joint[e * n : (e + 1) * n, e * n : (e + 1) * n] = quantity.covariance[np.ix_(order, order)]
    if cross is None or len(epochs) < 2:
        return joint
    block = np.asarray(cross, dtype=np.float64)
    if block.shape == (n, n):
        pairs = {(0, len(epochs) - 1): block}
    elif block.shape == (size, size) and len(epochs) > 2:
        pairs = {
            (a, b): block[a * n : (a + 1) * n, b * n : (b + 1) * n]
            for a, b in itertools.combinations(range(len(epochs)), 2)
        }
    else:
        raise InputError(
            f"the {name} error covariance between the epochs has shape {block.shape}, "
            f"not ({n}, {n}) or ({size}, {size})",
            fix="give the cross-covariance of the first and last epochs' strata, or the "
            "joint covariance of every epoch's",
        )
    for (a, b), values in pairs.items():
        values = values[np.ix_(orders[a], orders[b])]
        joint[a * n : (a + 1) * n, b * n : (b + 1) * n] = values
        joint[b * n : (b + 1) * n, a * n : (a + 1) * n] = values.T
    return joint


def _stratum_errors(
    mc: MonteCarlo,
    epochs: Sequence[EpochInputs],
    name: str,
    strata: Sequence[str],
    cross: FloatArray | None,
) -> dict[str, FloatArray]:
    """Joint normal errors ``(n, S)`` of every epoch's stratum totals (t C).

    ε = Z Lᵀ with Z the standard normals of the streams
    ``<stem>_total/<epoch>/<stratum>`` and L = V √Λ from the eigendecomposition
    Σ = V Λ Vᵀ of :func:`joint_covariance` (eigenvalues below 0 from rounding
    are set to 0, so a singular Σ — a stratum held in both epochs — is fine); a
    stratum held in every epoch takes the first epoch's error in each.
    """
    factor = sqrt_cov(joint_covariance(epochs, name, strata, cross))
    z = np.column_stack(
        [
            mc.draw(stream_name(name, StratumTotals, epoch=e.name, group=s), Normal(0.0, 1.0))
            for e in epochs
            for s in strata
        ]
    )
    errors = z @ factor.T
    n = len(strata)
    # A stratum held in every epoch has one error, the same in each: copied, so that its
    # change is exactly 0 in every draw (the square root of the singular Σ gives its
    # epochs' columns equal only to rounding, ~1e-12 of the stock).
    held = set.intersection(*(set(getattr(e.quantities[name], "held", ())) for e in epochs))
    for j, stratum in enumerate(strata):
        if stratum in held:
            for i in range(1, len(epochs)):
                errors[:, i * n + j] = errors[:, j]
    return {e.name: errors[:, i * n : (i + 1) * n] for i, e in enumerate(epochs)}


def simulate_terms(
    mc: MonteCarlo,
    epochs: Sequence[EpochInputs],
    classes: Mapping[str, ClassParameters],
    *,
    strata: Sequence[str],
    pools: Sequence[tuple[str, Pool]],
    gwp: Mapping[str, float],
    error_covariance: Mapping[str, FloatArray],
    herbaceous_steady_state: bool = False,
    caps: Mapping[str, float] | None = None,
) -> TermDraws:
    """Draw every term of the ledger (module docstring).

    Parameters
    ----------
    mc
        The seeded Monte Carlo (its size is the number of draws).
    epochs
        One epoch (stocks only) or every epoch, earliest first: the change
        and rates run from the first to the last, and ``cumulative`` gives
        every later epoch's terms since the first (monitoring periods).
    classes
        Per-class parameter distributions.
    strata
        Stratum names, in table order.
    pools
        Counted pools: (ledger name, registry entry).
    gwp
        GWP of ``CH4`` and ``N2O``.
    error_covariance
        Quantity given as stratum totals → ``(S, S)`` covariance of the first
        epoch's errors (rows, in its totals' order) with the last epoch's
        (columns), or the ``(E·S, E·S)`` joint covariance of every epoch's
        (:func:`joint_covariance`); keyed quantity → ``(C₁, C_E)`` covariance of the first
        epoch's residual corrections with the last's, in their
        ``corrections`` orders, or the ``(ΣC, ΣC)`` joint covariance of every
        epoch's (eq. 6.8d; :func:`~carbonsink.accounting.corrections.correction_joint`);
        absent: independent epochs.
    herbaceous_steady_state
        The profile treats herbaceous live biomass as steady state: in each
        stratum the change of the AGB-based pools (AGB, BGB) is that of the
        other classes plus min(0, H₂ − H₁), H the herbaceous part of the
        stock (docs/methodology.md eq. 2.4); the stocks stay as measured.
    caps
        Pool group (``"soil"``: the SOC pool; ``"biomass"``: AGB, BGB, DOM)
        → the project's 100-year benefit, t CO2e: in each draw the group's
        counted change since the first epoch is scaled down, in every
        stratum alike, to at most it (docs/methodology.md eq. 5.21).

    Returns
    -------
    TermDraws
    """
    n = mc.n_draws
    index = {s: i for i, s in enumerate(strata)}
    needed = sorted({f for _, pool in pools for f in pool.factors})
    factors = {
        f: {c: mc.draw(f"{f}/{c}", getattr(p, f)) for c, p in classes.items()} for f in needed
    }
    quantities = {e.name: needed_quantities(e, pools) for e in epochs}
    total_errors: dict[str, dict[str, FloatArray]] = {}
    for name in sorted({q for names in quantities.values() for q in names}):
        if not all(isinstance(e.quantities.get(name), StratumTotals) for e in epochs):
            continue
        errors = _stratum_errors(mc, epochs, name, strata, error_covariance.get(name))
        for epoch_name, values in errors.items():
            total_errors.setdefault(epoch_name, {})[name] = values
    corrections: dict[str, dict[str, FloatArray]] = {e.name: {} for e in epochs}
    for name in sorted({q for names in quantities.values() for q in names}):
        keyed = [
            (e.name, q) for e in epochs if isinstance(q := e.quantities.get(name), KeyedTotals)
        ]
        cross = error_covariance.get(name) if len(keyed) == len(epochs) else None
        for epoch_name, values in correction_draws(mc, name, keyed, cross).items():
            corrections[epoch_name][name] = values
    stocks: dict[str, dict[str, FloatArray]] = {}
    herbaceous: dict[str, dict[str, FloatArray]] = {}
    herbs = {c for c, p in classes.items() if p.herbaceous}
    for epoch in epochs:
        draws = _quantity_draws(
            mc,
            epoch,
            quantities[epoch.name],
            strata=strata,
            total_errors=total_errors.get(epoch.name, {}),
            peak_cv={c: p.peak_cv for c, p in classes.items()},
            corrections=corrections[epoch.name],
        )
        stocks[epoch.name] = {
            key: _pool_stock(
                pool,
                epoch.quantities[pool.quantity],
                draws[pool.quantity],
                _keys_of(epoch, pool.quantity),
                factors,
                index=index,
                epoch=epoch.name,
            )
            for key, pool in pools
        }
        if herbaceous_steady_state:
            herbaceous[epoch.name] = {
                key: _pool_stock(
                    pool,
                    epoch.quantities[pool.quantity],
                    draws[pool.quantity] * _class_mask(epoch, pool.quantity, herbs),
                    _keys_of(epoch, pool.quantity),
                    factors,
                    index=index,
                    epoch=epoch.name,
                )
                for key, pool in pools
                if pool.quantity == AGB_QUANTITY
            }
    first, later = epochs[0], epochs[-1]
    ch4 = np.zeros((n, len(strata)))
    n2o = np.zeros((n, len(strata)))
    if len(epochs) == 1:
        return TermDraws(
            stocks=stocks, change={}, removals=np.zeros((n, len(strata))), ch4=ch4, n2o=n2o
        )
    for stratum in strata:
        if stratum not in classes:
            raise InputError(
                f"stratum {stratum!r} has no vegetation-class parameters (CH4, N2O flux)",
                where="[vegetation.classes]",
                fix=f"add {stratum!r} to the legend; CH4 is never assumed to be zero",
            )
    fluxes = {
        s: (
            mc.draw(f"ch4_flux/{s}", classes[s].ch4_flux_mg_m2_d),
            mc.draw(f"n2o_flux/{s}", classes[s].n2o_flux_mg_m2_d),
        )
        for s in strata
    }
    years = years_between(first.date, later.date)
    keys = [key for key, _ in pools]
    cumulative: dict[str, Cumulative] = {}
    emitted_ch4, emitted_n2o = np.zeros((n, len(strata))), np.zeros((n, len(strata)))
    for previous, epoch in itertools.pairwise(epochs):
        # The period's rate takes its end epoch's area-adjusted class area (eq. 5.16).
        span = years_between(previous.date, epoch.date)
        rate_ch4, rate_n2o = np.zeros((n, len(strata))), np.zeros((n, len(strata)))
        for stratum in strata:
            area, se = epoch.class_area_ha.get(stratum, (0.0, 0.0))
            drawn = np.maximum(mc.draw(f"class_area/{epoch.name}/{stratum}", Normal(area, se)), 0.0)
            ch4_flux, n2o_flux = fluxes[stratum]
            rate_ch4[:, index[stratum]] = drawn * ch4_flux * T_HA_YR_PER_MG_M2_D * gwp["CH4"]
            rate_n2o[:, index[stratum]] = drawn * n2o_flux * T_HA_YR_PER_MG_M2_D * gwp["N2O"]
        emitted_ch4 = emitted_ch4 + rate_ch4 * span
        emitted_n2o = emitted_n2o + rate_n2o * span
        ch4 = ch4 + rate_ch4 * (span / years)
        n2o = n2o + rate_n2o * (span / years)
        gained = {p: stocks[epoch.name][p] - stocks[first.name][p] for p in keys}
        for p, first_h in herbaceous.get(first.name, {}).items():
            # Eq. 2.4 since the first epoch: the herbaceous gain is removed.
            gained[p] = gained[p] - np.maximum(herbaceous[epoch.name][p] - first_h, 0.0)
        gained, _ = capped_changes(gained, caps)
        cumulative[epoch.name] = Cumulative(
            years=years_between(first.date, epoch.date),
            removals=CO2_PER_C * np.sum([gained[p] for p in keys], axis=0),
            ch4=emitted_ch4,
            n2o=emitted_n2o,
        )
    change = {p: (stocks[later.name][p] - stocks[first.name][p]) / years for p in keys}
    for p, first_h in herbaceous.get(first.name, {}).items():
        last_h = herbaceous[later.name][p]
        # Eq. 2.4: the herbaceous part changes by min(0, H2 − H1), i.e. its gain is removed.
        change[p] = change[p] - np.maximum(last_h - first_h, 0.0) / years
    capped: dict[str, float] = {}
    if caps:
        amounts, capped = capped_changes({p: change[p] * years for p in keys}, caps)
        change = {p: amounts[p] / years for p in keys}
    removals = CO2_PER_C * np.sum([change[p] for p in keys], axis=0)
    return TermDraws(
        stocks=stocks,
        change=change,
        removals=removals,
        ch4=ch4,
        n2o=n2o,
        cumulative=cumulative,
        capped=capped,
    )
