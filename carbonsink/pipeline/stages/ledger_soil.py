"""Per-stratum SOC totals for the ledger: block kriging of both epochs, held strata, lab method.

docs/methodology.md §3.2 (a change of lab method) and §3.10 (SOC of each
stratum from its own cores).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.accounting.pools import StratumTotals
from carbonsink.accounting.simulation import EpochInputs
from carbonsink.errors import InputError
from carbonsink.i18n import gettext as _
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.soil import method_calibration, soc_column

if TYPE_CHECKING:
    from carbonsink.pipeline.stages.soil_change import SoilBasis
    from carbonsink.soil.stratum_blocks import StratumBlocks

__all__ = ["hold", "method_change", "soc_quantities"]


def soc_quantities(
    ctx: RunContext,
    results: Sequence[EpochResults],
    inputs: Sequence[EpochInputs],
    strata_map: npt.NDArray[np.integer],
    *,
    depth: float,
    basis: SoilBasis | None = None,
) -> tuple[list[StratumTotals], npt.NDArray[np.float64] | None, list[LedgerWarning], StratumBlocks]:
    """Per-stratum SOC totals of the epochs with their joint covariance (docs/methodology.md §3.10).

    A stratum with at least ``MIN_STRATUM_CORES`` cores in every epoch takes
    its block-kriged mean × area of the counted core values (``basis``, by
    default :func:`~.soil_change.soil_basis`: at equivalent soil mass, net of
    allochthonous carbon, with the deduction's common error r² D Dᵀ). Another is
    *held*: its total is the first epoch's SOC map total in every epoch, with
    the SE of that map total when every cell's error is the same
    (Σ_c σ_c a_c, an upper bound), perfectly correlated between epochs — its
    soil adds no sink, and a ``soil-not-sampled`` warning says so.

    Returns
    -------
    (quantities, cross, warnings, blocks)
        One :class:`StratumTotals` per epoch; the ``(S, S)`` covariance of
        the two epochs' errors, or for three or more epochs the ``(E·S, E·S)``
        joint covariance of every epoch's (``None`` for one epoch); warnings;
        and the block kriging itself.
    """
    from carbonsink.pipeline.stages.soil_change import soil_basis
    from carbonsink.soil.stratum_blocks import MIN_STRATUM_CORES

    column = soc_column(depth)
    if basis is None:
        basis = soil_basis(ctx, results, strata_map, depth=depth)
    blocks = basis.blocks
    n = len(blocks.strata)
    totals = blocks.total_t_c
    joint = blocks.total_covariance_t_c
    first_map = inputs[0].quantities["soc_t_c"]
    assert isinstance(first_map, StratumTotals)
    area = ctx.cell_area_ha.values
    inside = ctx.inside.values.astype(bool)
    sd = np.sqrt(np.clip(results[0].soc_maps[depth][f"{column}_variance"].values, 0.0, None))
    legend = {name: code for code, name in ctx.survey.vegetation.by_code().items()}
    held = [s for s, measured in zip(blocks.strata, blocks.measured, strict=True) if not measured]
    warnings: list[LedgerWarning] = list(basis.warnings)
    if len(results) > 1 and basis.subtract_t_c is not None:
        totals[1:] = totals[1:] - basis.subtract_t_c
    for a, b in itertools.product(range(1, len(results)), repeat=2):
        # The deduction's relative error is common to the later epochs on one route.
        r_a, r_b = basis.deduction_relative_sd[a - 1], basis.deduction_relative_sd[b - 1]
        if r_a > 0 and r_b > 0 and basis.routes[a - 1] == basis.routes[b - 1]:
            d_a = np.where(np.array(blocks.measured), basis.deduction_t_c[a - 1], 0.0)
            d_b = np.where(np.array(blocks.measured), basis.deduction_t_c[b - 1], 0.0)
            joint[a * n : (a + 1) * n, b * n : (b + 1) * n] += r_a * r_b * np.outer(d_a, d_b)
    for s in held:
        i = blocks.strata.index(s)
        cells = inside & (strata_map == legend[s]) & np.isfinite(sd)
        se = float((sd * area)[cells].sum())
        totals[:, i] = first_map.totals[s]
        for a in range(len(results)):
            for b in range(len(results)):
                joint[a * n + i, b * n + i] = se * se
        if blocks.area_ha[i] > 0:
            counts = _(", ").join(
                _("{n} in {epoch}").format(n=int(c), epoch=r.epoch.name)
                for c, r in zip(blocks.n_cores[:, i], results, strict=True)
            )
            warnings.append(
                LedgerWarning(
                    "soil-not-sampled",
                    _(
                        "stratum {stratum} ({ha:,.1f} ha) has too few soil cores of its own "
                        "({counts}; {needed} per epoch needed): its soil organic carbon is held "
                        "at the {epoch} map total ({total:,.1f} ± {se:,.1f} t C) in every epoch, "
                        "so it adds no soil sink (zero change — conservative unless its soil "
                        "is losing carbon)"
                    ).format(
                        stratum=s,
                        ha=blocks.area_ha[i],
                        counts=counts,
                        needed=MIN_STRATUM_CORES,
                        epoch=results[0].epoch.name,
                        total=first_map.totals[s],
                        se=se,
                    ),
                    where=_("SOC 0–{depth:g} cm, stratum {stratum}").format(depth=depth, stratum=s),
                )
            )
    method = method_change(ctx, results)
    if method is not None:
        sd, message, changed = method
        # One conversion between the methods: its error is common to the epochs measured
        # by the new one. Held strata have no cores.
        on = {k: np.where(np.array(blocks.measured), totals[k], 0.0) for k in changed}
        for a, b in itertools.product(changed, repeat=2):
            joint[a * n : (a + 1) * n, b * n : (b + 1) * n] += sd * sd * np.outer(on[a], on[b])
        where = _("SOC 0–{depth:g} cm").format(depth=depth)
        warnings.append(LedgerWarning("lab-method-change", message, where=where))
    joint = hold(joint, [blocks.strata.index(s) for s in held], n_epochs=len(results))
    quantities = [
        StratumTotals(
            totals={s: float(totals[e, i]) for i, s in enumerate(blocks.strata)},
            covariance=joint[e * n : (e + 1) * n, e * n : (e + 1) * n],
            held=tuple(held),
        )
        for e in range(len(results))
    ]
    cross = None if len(results) == 1 else joint[:n, n : 2 * n] if len(results) == 2 else joint
    return quantities, cross, warnings, blocks


def hold(
    joint: npt.NDArray[np.float64], held: Sequence[int], *, n_epochs: int
) -> npt.NDArray[np.float64]:
    """The joint covariance with each held stratum identical in every epoch.

    Parameters
    ----------
    joint
        ``(E·S, E·S)`` covariance of the strata's totals, epoch-major.
    held
        Indices of the held strata.
    n_epochs
        E.

    Returns
    -------
    numpy.ndarray
        A copy in which every held stratum's rows and columns are 0 except
        its own epochs' entries, all equal to its first-epoch variance: its
        error is one and the same in every epoch (zero change in every
        draw), and shares nothing with the other strata.
    """
    out = np.array(joint, dtype=np.float64, copy=True)
    n = out.shape[0] // n_epochs
    for i in held:
        rows = [e * n + i for e in range(n_epochs)]
        variance = float(out[rows[0], rows[0]])
        out[rows, :] = 0.0
        out[:, rows] = 0.0
        out[np.ix_(rows, rows)] = variance
    return out


def method_change(
    ctx: RunContext, results: Sequence[EpochResults]
) -> tuple[float, str, list[int]] | None:
    """The relative SD of a lab-method bias against the first epoch, why, and the epochs it hits.

    When the soil tables' ``method`` columns name other organic-carbon methods
    in a later epoch than in the first, that epoch's SOC totals carry a common
    relative error δ ~ N(0, σ²), σ = ``[soil] method_bias_sd_pct`` (all
    measured strata together, t C² = σ² T_s T_t, and shared by every such
    epoch; a held stratum has no cores and no method): the conversion between
    methods is known only to a few per cent (docs/methodology.md §3.2). With
    ``[soil] method_pairs`` the stocks are corrected by the measured bias and σ
    is the SD left, σ_N of eq. 3.3b. Returns the indices of those epochs too.

    Raises
    ------
    InputError
        The samples by both methods calibrate other methods than the epochs use.
    """
    if len(results) < 2:
        return None
    found, keys = [], []
    for result in results:
        entry = result.epoch.soil
        table = ctx.points(entry) if entry is not None else None
        if table is None or "method" not in table:
            return None
        names = {str(m).strip(): str(m).strip().lower() for m in table["method"].dropna()}
        found.append(sorted(names))
        keys.append(set(names.values()))  # "CHN" and "chn " are one method
    changed = [k for k in range(1, len(results)) if keys[0] and keys[k] and keys[k] != keys[0]]
    if not changed:
        return None
    later = _(", ").join(results[k].epoch.name for k in changed)
    later_methods = sorted({m for k in changed for m in found[k]})
    calibration = method_calibration(ctx)
    if calibration is not None:
        used = {m.strip().lower() for m in later_methods} - {calibration.reference}
        if used - {calibration.method}:
            raise InputError(
                f"the samples by both methods calibrate {calibration.method} against "
                f"{calibration.reference}, but the soil of epoch(s) {later} is measured by "
                f"{', '.join(later_methods)}",
                path=calibration.path,
                fix="measure the samples by the first epoch's method and the later epochs' one",
            )
    sd = (
        calibration.bias_sd
        if calibration is not None
        else ctx.survey.soil.method_bias_sd_pct / 100.0
    )
    changed_text = _(
        "the organic-carbon lab method changed between the epochs ({first}: {first_methods}; "
        "{last}: {last_methods})"
    ).format(
        first=results[0].epoch.name,
        first_methods=", ".join(found[0]),
        last=later,
        last_methods=", ".join(later_methods),
    )
    if calibration is None:
        message = _(
            "{changed}: the {last} SOC stocks carry a method-bias uncertainty of "
            "{sd:.0%} of their value ([soil] method_bias_sd_pct), common to every stratum — "
            "measure a set of samples by both methods to replace it"
        ).format(changed=changed_text, last=later, sd=sd)
    else:
        message = _(
            "{changed}: {n} samples measured by both methods ({file}) differ by "
            "{mean:+.2%} on average (SD {spread:.2%}); with the prior SD of {prior:.2%} "
            "([soil] method_bias_sd_pct) the bias is {bias:+.2%}, so the {method} organic "
            "carbon is divided by {divisor:.4f}, and the {last} SOC stocks carry the bias's "
            "remaining uncertainty of {sd:.2%} of their value, common to every stratum "
            "(eq. 3.3b)"
        ).format(
            changed=changed_text,
            n=calibration.pairs,
            file=Path(calibration.path).name,
            mean=calibration.mean_difference,
            spread=calibration.sd_difference,
            prior=calibration.prior_sd,
            bias=calibration.bias,
            method=calibration.method,
            divisor=1.0 + calibration.bias,
            last=later,
            sd=sd,
        )
    return sd, message, changed
