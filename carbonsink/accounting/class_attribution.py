"""The true classes behind a mapped class: class factors that respect the maps' errors.

A pool whose carbon needs a class factor (BGB = CF_c × R_c × AGB; AGB C =
CF_c × AGB) takes the factor of the cell's *true* class, but the ledger only
knows each epoch's *mapped* class. Every land-cover map errs (its accuracy
sample says how often, Olofsson et al. 2014), and the change strata — the
last map's classes — gather exactly the cells that map misclassified into a
class: a sedge meadow mapped as reed in the last epoch and as sedge in the
first looks like a sedge → reed conversion whose BGB changes by
(R_reed − R_sedge) × AGB although nothing changed. Taking the mapped class
as true biases such a stratum's change and spreads the two classes' factor
priors over a transition that did not happen.

Here each (first map class a, last map class b) pair of cells gets a joint
distribution of its true classes (j in the first epoch, k in the last) from
the two maps' error matrices, assuming the maps err independently given the
truth (docs/methodology.md §6.10):

    P(j, k | a, b) ∝ (1 − τ) δ_jk π_j P₁(a | j) P_T(b | j) + τ p̂₁_aj p̂_T,bk

with p̂_e,ij = W_e,i n_e,ij / n_e,i· the epoch's estimated area proportions
(map class i, reference class j; Olofsson et al. 2014 eq. 4, W the mapped
class shares, n the accuracy sample's counts), P_e(i | j) = p̂_e,ij / p̂_e,·j
the map's chance of labelling a true j as i, π_j the mean of the two epochs'
p̂_·j, and τ the share of the area whose true class changed. The first term
is a cell that kept its class, the second one that changed (its true
classes then independent, each as the map's row says). τ is the maximum-
likelihood fit to the mapped pair areas O_ab:

    τ̂ = argmax_τ Σ_ab O_ab log[(1 − τ) Σ_j π_j P₁(a | j) P_T(b | j) + τ W₁,a W_T,b]

A key's class mix is then the pair posterior's marginal: the first epoch's
key (s, a) is the pair (a, s); the last epoch's key (s, s) holds every pair
(a, s), weighted by the last epoch's mapped AGB of each pair. In the Monte
Carlo the accuracy sample's rows are resampled (a multinomial bootstrap of
each map class's counts) and the mixes recomputed in every draw, τ̂ held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar

from carbonsink.errors import InputError

__all__ = ["ClassAttribution", "mix_factor", "pair_posterior", "transition_share"]

FloatArray = npt.NDArray[np.float64]


def _square(matrix: npt.ArrayLike, size: int, what: str) -> FloatArray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (size, size) or not np.all(np.isfinite(m)) or np.any(m < 0):
        raise InputError(
            f"{what} has shape {m.shape} or values that are not finite and ≥ 0",
            where="land-cover class attribution",
            fix=f"give a ({size}, {size}) matrix of finite values ≥ 0 (rows map class, "
            "columns reference class, one class order)",
        )
    return m


def proportions(counts: FloatArray, shares: FloatArray) -> FloatArray:
    """p̂_ij = W_i n_ij / n_i· (Olofsson et al. 2014 eq. 4), ``(..., C, C)``.

    A map class with area but no sample unit is taken as itself (p̂_ii = W_i).
    """
    totals = counts.sum(axis=-1, keepdims=True)
    rows = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    unsampled = totals[..., 0] <= 0
    diagonal = np.broadcast_to(np.eye(counts.shape[-1]), counts.shape)
    rows = np.where(unsampled[..., None], diagonal, rows)
    p: FloatArray = rows * shares[..., :, None]
    return p


def _labelling(p: FloatArray) -> FloatArray:
    """P(map i | true j) = p̂_ij / p̂_·j; a class no reference unit has keeps P(j | j) = 1."""
    column = p.sum(axis=-2, keepdims=True)
    out: FloatArray = np.divide(p, column, out=np.zeros_like(p), where=column > 0)
    absent = (column <= 0)[..., 0, :]
    eye = np.broadcast_to(np.eye(p.shape[-1], dtype=bool), p.shape)
    return np.where(absent[..., None, :] & eye, 1.0, out)


def _prior(first: FloatArray, last: FloatArray) -> FloatArray:
    prior: FloatArray = 0.5 * (first.sum(axis=-2) + last.sum(axis=-2))
    return prior


def transition_share(first: FloatArray, last: FloatArray, pair_area: FloatArray) -> float:
    """τ̂, the share of the area whose true class changed between the two maps (module docstring).

    Parameters
    ----------
    first, last
        ``(C, C)`` estimated area proportions p̂_ij of the first and last
        epoch's maps (rows map class, columns reference class, one order).
    pair_area
        ``(C, C)`` mapped area of each (first map class, last map class) pair, ha.

    Returns
    -------
    float
        τ̂ in [0, 1]: 0 when the maps' errors explain every mapped change.
    """
    stable = np.einsum("j,aj,bj->ab", _prior(first, last), _labelling(first), _labelling(last))
    change = np.outer(first.sum(axis=1), last.sum(axis=1))
    seen = pair_area > 0
    weights, s, c = pair_area[seen], stable[seen], change[seen]

    def negative_log_likelihood(tau: float) -> float:
        likelihood = (1.0 - tau) * s + tau * c
        return float(-np.sum(weights * np.log(np.maximum(likelihood, 1e-300))))

    fit = minimize_scalar(negative_log_likelihood, bounds=(0.0, 1.0), method="bounded")
    tau = float(fit.x)
    # The bounded search stops a tolerance inside the bounds: an end that is no worse is taken.
    for end in (0.0, 1.0):
        if negative_log_likelihood(end) <= negative_log_likelihood(tau):
            tau = end
    return tau


def pair_posterior(
    first: FloatArray, last: FloatArray, tau: float, a: int, b: int
) -> tuple[FloatArray, FloatArray]:
    """True-class distributions of a cell mapped ``a`` in the first epoch and ``b`` in the last.

    ``first`` and ``last`` are ``(C, C)`` area proportions, or ``(n, C, C)``
    stacks of them (one per Monte Carlo draw).

    Returns
    -------
    (q₁, q_T)
        ``(..., C)`` each: P(true class j in the first epoch | a, b) and P(true
        class k in the last | a, b), the marginals of P(j, k | a, b) (module
        docstring). A pair neither term explains takes each map's own row.
    """
    kept = (
        (1.0 - tau)
        * _prior(first, last)
        * _labelling(first)[..., a, :]
        * _labelling(last)[..., b, :]
    )
    row1, row2 = first[..., a, :], last[..., b, :]
    # Σ_k p̂_T,bk etc.: the changed term's marginals without forming the (C, C) outer product.
    s1, s2 = row1.sum(axis=-1, keepdims=True), row2.sum(axis=-1, keepdims=True)
    total = kept.sum(axis=-1, keepdims=True) + tau * s1 * s2
    q1 = (kept + tau * row1 * s2) / np.where(total > 0, total, 1.0)
    q2 = (kept + tau * s1 * row2) / np.where(total > 0, total, 1.0)
    # No explanation of either kind (τ = 0 and no kept class fits): each map's own row.
    alone = (total <= 0) & (s1 > 0) & (s2 > 0)
    q1 = np.where(alone, row1 / np.where(s1 > 0, s1, 1.0), q1)
    q2 = np.where(alone, row2 / np.where(s2 > 0, s2, 1.0), q2)
    return q1, q2


@dataclass(frozen=True, eq=False)
class ClassAttribution:
    """What the two land-cover maps say of the true classes of the ledger's keys.

    Parameters
    ----------
    classes
        Class names, the order of every matrix's rows and columns.
    first_counts, last_counts
        ``(C, C)`` accuracy-sample counts n_ij of each epoch's map (rows map
        class, columns reference class).
    first_shares, last_shares
        ``(C,)`` mapped area share W_i of each class (they sum to 1).
    pair_area
        ``(C, C)`` mapped area of each (first map class a, last map class b)
        pair of cells inside the project, ha.
    pair_agb_last
        ``(C, C)`` the last epoch's mapped AGB of each pair, t DM (it weights
        the pairs of a last-epoch key; the areas where a key has none).

    Notes
    -----
    :meth:`draw` is an :class:`~carbonsink.accounting.distributions.Uncertain`:
    ``(n, K, C)`` weights, each key's true-class mix per draw, the keys in
    :attr:`keys` order. Equality is identity (the matrices are arrays).
    """

    classes: tuple[str, ...]
    first_counts: FloatArray = field(repr=False)
    last_counts: FloatArray = field(repr=False)
    first_shares: FloatArray = field(repr=False)
    last_shares: FloatArray = field(repr=False)
    pair_area: FloatArray = field(repr=False)
    pair_agb_last: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        size = len(self.classes)
        for name in ("first_counts", "last_counts", "pair_area", "pair_agb_last"):
            object.__setattr__(self, name, _square(getattr(self, name), size, name))
        for name in ("first_shares", "last_shares"):
            shares = np.asarray(getattr(self, name), dtype=np.float64)
            if shares.shape != (size,) or np.any(shares < 0) or not np.isclose(shares.sum(), 1):
                raise InputError(
                    f"{name} {shares.tolist()} are not {size} shares ≥ 0 summing to 1",
                    where="land-cover class attribution",
                    fix="give each class's share of the mapped area",
                )
            object.__setattr__(self, name, shares)

    @property
    def tau(self) -> float:
        """τ̂ from the plug-in area proportions (held in every draw)."""
        return transition_share(*self._proportions(), self.pair_area)

    @property
    def keys(self) -> tuple[tuple[int, str, str], ...]:
        """(epoch: 0 first / 1 last, stratum, mapped class) of every key with cells."""
        first = [
            (0, self.classes[b], self.classes[a])
            for b in range(len(self.classes))
            for a in np.flatnonzero(self.pair_area[:, b] > 0)
        ]
        last = [(1, s, s) for b, s in enumerate(self.classes) if np.any(self.pair_area[:, b] > 0)]
        return tuple(first + last)

    def _proportions(self) -> tuple[FloatArray, FloatArray]:
        return (
            proportions(self.first_counts, self.first_shares),
            proportions(self.last_counts, self.last_shares),
        )

    def _mixes(self, first: FloatArray, last: FloatArray, tau: float) -> FloatArray:
        """``(..., K, C)`` key mixes from (stacks of) the two epochs' area proportions."""
        firsts: list[FloatArray] = []
        lasts: list[FloatArray] = []
        for b in range(len(self.classes)):
            held = np.flatnonzero(self.pair_area[:, b] > 0)
            if held.size == 0:
                continue
            agb = self.pair_agb_last[held, b]
            weights = agb if agb.sum() > 0 else self.pair_area[held, b]
            mixed = np.zeros((*first.shape[:-2], len(self.classes)))
            for a, weight in zip(held, weights / weights.sum(), strict=True):
                q1, q2 = pair_posterior(first, last, tau, int(a), b)
                firsts.append(q1)
                mixed = mixed + weight * q2
            lasts.append(mixed)
        return np.stack(firsts + lasts, axis=-2)

    def plug_in(self) -> dict[tuple[int, str, str], dict[str, float]]:
        """Each key's mix from the plug-in proportions (the ledger's record)."""
        mixes = self._mixes(*self._proportions(), self.tau)
        return {
            key: {c: float(w) for c, w in zip(self.classes, mix, strict=True) if w > 1e-12}
            for key, mix in zip(self.keys, mixes, strict=True)
        }

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``(n, K, C)`` key mixes, the accuracy sample's rows resampled in each draw."""
        tau = self.tau
        stacks = []
        for counts, shares in (
            (self.first_counts, self.first_shares),
            (self.last_counts, self.last_shares),
        ):
            sizes = counts.sum(axis=1)
            drawn = np.zeros((n, *counts.shape))
            for i, size in enumerate(sizes):
                if size > 0:
                    drawn[:, i, :] = rng.multinomial(round(size), counts[i] / size, size=n)
            stacks.append(proportions(drawn, shares))
        return self._mixes(stacks[0], stacks[1], tau)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description for the ledger."""
        return {
            "distribution": "land-cover class attribution (docs/methodology.md §6.10)",
            "transition_share": self.tau,
            "classes": list(self.classes),
        }


def mix_factor(
    weights: FloatArray | None,
    classes: Sequence[str],
    factors: Sequence[Mapping[str, FloatArray]],
    mapped: str,
) -> FloatArray:
    """Σ_j w_j Π_f f_j: the draws of a key's factor product over its true-class mix.

    ``weights`` is ``(n, C)`` (one mix per draw, ``classes`` order) or ``None``
    for the mapped class alone.
    """
    if weights is None:
        total = np.asarray(1.0)
        for factor in factors:
            total = total * factor[mapped]
        return np.asarray(total, dtype=np.float64)
    out = np.zeros(weights.shape[0])
    for j, cls in enumerate(classes):
        if not np.any(weights[:, j]):
            continue
        product = weights[:, j]
        for factor in factors:
            product = product * factor[cls]
        out = out + product
    return out
