"""Draws of a keyed quantity's residual corrections over the epochs, jointly.

A modelled map's total in a stratum is corrected by the mean of its plots'
residuals (docs/methodology.md eq. 6.8a–b), whose error includes the bound of
the cells outside the area of applicability (eq. 6.8c). The epochs' residual
parts are their own plots'; their outside-AOA parts are shared through the
cells outside the AOA in both (eq. 6.8d). :func:`correction_joint` assembles
the ``(ΣC, ΣC)`` covariance of every epoch's corrections and
:func:`correction_draws` draws them epoch by epoch, each given the ones before
(eq. 6.8e), so every epoch keeps its own covariance and every pair of epochs
the covariance given between them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.distributions import Normal
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.pools import CORRECTION_STREAM, KeyedTotals, quantity_stem
from carbonsink.errors import InputError

__all__ = ["correction_draws", "correction_joint", "epoch_blocks", "sqrt_cov"]

FloatArray = npt.NDArray[np.float64]


def sqrt_cov(cov: FloatArray) -> FloatArray:
    """L with L Lᵀ = Σ: V √Λ of the eigendecomposition, negative rounding set to 0."""
    values, vectors = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    return np.asarray(vectors * np.sqrt(np.clip(values, 0.0, None))[None, :], dtype=np.float64)


def epoch_blocks(quantities: Sequence[KeyedTotals]) -> tuple[FloatArray, list[slice]]:
    """The ``(ΣC, ΣC)`` block-diagonal of the epochs' own correction covariances, and each
    epoch's rows in it (its ``corrections`` order, the earliest epoch first)."""
    ends = np.cumsum([0, *(len(q.corrections) for q in quantities)])
    rows = [slice(int(a), int(b)) for a, b in itertools.pairwise(ends)]
    joint = np.zeros((int(ends[-1]), int(ends[-1])))
    for q, r in zip(quantities, rows, strict=True):
        if q.corrections:
            joint[r, r] = q.correction_cov()
    return joint, rows


def correction_joint(
    name: str, epochs: Sequence[tuple[str, KeyedTotals]], cross: FloatArray | None
) -> FloatArray:
    """``(ΣC, ΣC)`` covariance of every epoch's corrections, in their ``corrections`` orders.

    Diagonal blocks are the epochs' own covariances Σ_e. ``cross`` gives the
    blocks between epochs: a ``(C₁, C_E)`` array is the block of the first
    and last epochs (the others 0; with two epochs, the only one); a
    ``(ΣC, ΣC)`` array is the joint itself — finite, symmetric, and with the
    epochs' own covariances as its diagonal blocks; None: every block between
    epochs 0.

    Raises
    ------
    InputError
        ``cross`` has neither shape, is not finite, is not symmetric, or a
        diagonal block is not its epoch's covariance.
    """
    joint, rows = epoch_blocks([q for _, q in epochs])
    sizes = [r.stop - r.start for r in rows]
    total = joint.shape[0]
    if cross is None or len(epochs) < 2:
        return joint
    block = np.asarray(cross, dtype=np.float64)
    if not np.all(np.isfinite(block)):
        raise InputError(
            f"the {name} correction covariance between the epochs is not finite",
            fix="give finite covariances (t DM²) between the epochs' corrections",
        )
    if block.shape == (total, total):
        scale = max(float(np.abs(joint).max(initial=0.0)), 1e-300)
        if not np.allclose(block, block.T, rtol=1e-9, atol=1e-9 * scale):
            raise InputError(
                f"the joint {name} correction covariance is not symmetric",
                fix="give Cov(c_a, c_b) and Cov(c_b, c_a) as transposes of each other",
            )
        for (epoch, _), r in zip(epochs, rows, strict=True):
            if not np.allclose(block[r, r], joint[r, r], rtol=1e-9, atol=1e-9 * scale):
                raise InputError(
                    f"the joint {name} correction covariance's diagonal block of epoch "
                    f"{epoch!r} is not that epoch's own correction covariance",
                    fix="give each epoch's correction covariance as its diagonal block",
                )
        given = block.copy()
        for r in rows:
            given[r, r] = joint[r, r]
        return given
    if block.shape != (sizes[0], sizes[-1]):
        raise InputError(
            f"the {name} correction covariance between the epochs has shape {block.shape}, "
            f"not ({sizes[0]}, {sizes[-1]}) or ({total}, {total})",
            fix="give the cross-covariance of the first and last epochs' corrections, or "
            "the joint covariance of every epoch's",
        )
    joint[rows[0], rows[-1]] = block
    joint[rows[-1], rows[0]] = block.T
    return joint


def _normals(mc: MonteCarlo, name: str, epoch: str, groups: Sequence[str]) -> FloatArray:
    """``(n, C)`` standard normals of the streams ``<stem>_residual/<epoch>/<stratum>``."""
    return np.column_stack(
        [
            mc.draw(
                CORRECTION_STREAM.format(stem=quantity_stem(name), epoch=epoch, group=group),
                Normal(0.0, 1.0),
            )
            for group in groups
        ]
    )


def correction_draws(
    mc: MonteCarlo,
    name: str,
    epochs: Sequence[tuple[str, KeyedTotals]],
    cross: FloatArray | None,
) -> dict[str, FloatArray]:
    """Draws ``(n, C)`` of each epoch's residual corrections of a keyed quantity, t DM.

    Parameters
    ----------
    mc
        The seeded Monte Carlo.
    name
        The keyed quantity (e.g. ``agb_t_dm``), for the streams and messages.
    epochs
        (epoch name, the epoch's quantity), earliest first.
    cross
        The covariance between the epochs' corrections
        (:func:`correction_joint`); None: independent epochs.

    Returns
    -------
    dict
        Epoch name → ``(n, C_e)`` draws, columns in the epoch's ``corrections`` order.

    Raises
    ------
    InputError
        ``cross`` is malformed (:func:`correction_joint`), or larger than the
        epochs' own covariances allow (a conditional covariance below is not
        positive semi-definite).

    Notes
    -----
    The first epoch's are c₁ = ĉ₁ + Z₁ L₁ᵀ (L₁ L₁ᵀ = Σ₁, Z₁ the normals of the
    streams ``<stem>_residual/<epoch>/<stratum>``). Each later epoch e is drawn
    given all earlier ones, P = 1…e−1, with C_Pe their block of the joint
    covariance and Σ_P theirs (docs/methodology.md eq. 6.8e):

        c_e = ĉ_e + (c_P − ĉ_P) Σ_P⁺ C_Pe + Z_e L_e|Pᵀ,   L_e|P L_e|Pᵀ = Σ_e − C_Peᵀ Σ_P⁺ C_Pe

    (Σ_P⁺ the pseudo-inverse), so that Cov(c_e) = Σ_e and Cov(c_a, c_e) = C_ae
    for every earlier a; an epoch sharing nothing with the earlier ones is
    drawn alone, c_e = ĉ_e + Z_e L_eᵀ. With two epochs this is the first
    epoch's draw and the last's given it.
    """
    if not epochs:
        return {}
    joint = correction_joint(name, epochs, cross)
    rows = epoch_blocks([q for _, q in epochs])[1]
    prior = np.concatenate(
        [np.array([c for c, _ in q.corrections.values()], dtype=np.float64) for _, q in epochs]
    )
    drawn = np.zeros((mc.n_draws, prior.size))
    out: dict[str, FloatArray] = {}
    for e, ((epoch, quantity), here) in enumerate(zip(epochs, rows, strict=True)):
        if not quantity.corrections:
            out[epoch] = np.zeros((mc.n_draws, 0))
            continue
        z = _normals(mc, name, epoch, list(quantity.corrections))
        sigma = joint[here, here]
        before = slice(0, here.start)
        shared = joint[before, here]
        if e == 0 or not shared.any():
            drawn[:, here] = prior[None, here] + z @ sqrt_cov(sigma).T
        else:
            gain = np.linalg.pinv(joint[before, before]) @ shared
            conditional = sigma - shared.T @ gain
            smallest = float(np.linalg.eigvalsh(conditional).min())
            if smallest < -1e-9 * max(float(np.trace(sigma)), 1e-300):
                earlier = ", ".join(repr(epochs[a][0]) for a in range(e))
                raise InputError(
                    f"the {name} correction covariance of epoch {epoch!r} with the earlier "
                    f"epochs ({earlier}) is larger than their own covariances allow: given "
                    f"them, its covariance would have an eigenvalue of {smallest:.4g} t DM² "
                    "(the joint covariance is not positive semi-definite)",
                    fix="give covariances between the epochs that together make a positive "
                    "semi-definite joint (each pair within what its epochs' own allow, and "
                    "the pairs consistent, e.g. eq. 6.8d's φ from one set of per-cell errors)",
                )
            given = (drawn[:, before] - prior[None, before]) @ gain
            drawn[:, here] = prior[None, here] + given + z @ sqrt_cov(conditional).T
        out[epoch] = drawn[:, here].copy()
    return out
