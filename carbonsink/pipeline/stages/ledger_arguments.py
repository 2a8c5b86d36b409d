"""What the accounting's Monte Carlo is given: the epochs' SOC totals and the errors they share.

The accounting stage (:func:`~.ledger.survey_ledger`) and the sampling design
(:mod:`carbonsink.design`) both start from these: every epoch's aggregates
with the strata's SOC totals block-kriged from their own cores, jointly over
the epochs (docs/methodology.md §3.10), and what the epochs'
corrections share outside the area of applicability (eq. 6.8d), for
every pair of epochs.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.ledger import LedgerWarning
from carbonsink.accounting.pools import KeyedTotals
from carbonsink.accounting.simulation import EpochInputs
from carbonsink.errors import InputError
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.stages.epoch import EpochResults
from carbonsink.pipeline.stages.ledger_biomass import outside_joint_covariance, shared_outside
from carbonsink.pipeline.stages.ledger_soil import soc_quantities
from carbonsink.pipeline.stages.soil_change import SoilBasis, soil_basis
from carbonsink.soil.stratum_blocks import StratumBlocks

__all__ = ["KEYED_MAPS", "LedgerArguments", "ledger_arguments"]

#: Keyed quantities of modelled maps: (quantity, density layer, model-source layer).
KEYED_MAPS = (("agb_t_dm", "agb_mg_ha", "agb_model"), ("dom_t_dm", "dom_mg_ha", "dom_model"))


@dataclass(frozen=True)
class LedgerArguments:
    """What the accounting's Monte Carlo is given besides the survey's settings.

    Attributes
    ----------
    inputs
        Every epoch's aggregates, with the strata's SOC totals block-kriged
        from their own cores (:func:`~.ledger_soil.soc_quantities`).
    error_covariance
        ``soc_t_c``: the SOC errors between the epochs (``(S, S)`` for two,
        the ``(E·S, E·S)`` joint for more); a keyed quantity: the ``(ΣC, ΣC)``
        joint covariance of every epoch's corrections, with what each pair of
        epochs shares outside the area of applicability (absent when no pair
        shares anything).
    basis, blocks
        The soil change's basis and the block kriging of every epoch.
    soil_warnings
        What the soil totals' construction warns of.
    outside_shared
        The ledger's ``outside_aoa_shared`` record (the first and last epochs).
    outside_pairs
        The ledger's ``outside_aoa_shared_pairs`` record: every pair of
        epochs' (three or more epochs; empty for two).
    """

    inputs: list[EpochInputs]
    error_covariance: dict[str, npt.NDArray[np.float64]]
    basis: SoilBasis
    blocks: StratumBlocks
    soil_warnings: list[LedgerWarning]
    outside_shared: dict[str, dict[str, dict[str, float]]]
    outside_pairs: list[dict[str, Any]]


def ledger_arguments(
    ctx: RunContext,
    results: Sequence[EpochResults],
    inputs: Sequence[EpochInputs],
    *,
    depth: float,
) -> LedgerArguments:
    """The epochs' inputs with their SOC totals, and the errors the epochs share.

    See :func:`~.ledger.survey_ledger` (its Notes) and docs/methodology.md §3.10, eq. 6.8d.
    """
    missing = [r.epoch.name for r in results if depth not in r.soc_maps]
    if missing:
        raise InputError(
            f"the {ctx.profile.name} profile counts soil to {depth:g} cm but epochs "
            f"{', '.join(missing)} have no SOC map at that depth",
            where="[soil].depths_cm",
            fix=f"add {depth:g} to [soil] depths_cm",
        )
    inputs = list(inputs)
    strata_map = results[-1].cube.cube["landcover"].values
    basis = soil_basis(ctx, results, strata_map, depth=depth)
    soc, cross, soil_warnings, blocks = soc_quantities(
        ctx, results, inputs, strata_map, depth=depth, basis=basis
    )
    for i, quantity in enumerate(soc):
        quantities = {**inputs[i].quantities, "soc_t_c": quantity}
        inputs[i] = dataclasses.replace(inputs[i], quantities=quantities)
    covariance: dict[str, npt.NDArray[np.float64]] = {} if cross is None else {"soc_t_c": cross}
    shared_record: dict[str, dict[str, dict[str, float]]] = {}
    by_pair: dict[tuple[int, int], dict[str, Any]] = {}
    pairs = list(itertools.combinations(range(len(results)), 2))
    for name, density, source in KEYED_MAPS if len(results) >= 2 else ():
        # What every pair of epochs' cells outside the AOA share (eq. 6.8d), drawn jointly.
        keyed = [i.quantities.get(name) for i in inputs]
        if not all(isinstance(q, KeyedTotals) for q in keyed):
            continue
        totals = [q for q in keyed if isinstance(q, KeyedTotals)]
        shared = {
            (a, b): shared_outside(
                ctx, results[a], results[b], strata_map, density=density, source=source
            )
            for a, b in pairs
        }
        records = {
            (a, b): {
                s: {
                    "shared": phi,
                    "covariance_t_dm2": phi
                    * totals[a].outside_se.get(s, 0.0)
                    * totals[b].outside_se.get(s, 0.0),
                }
                for s, phi in phis.items()
            }
            for (a, b), phis in shared.items()
        }
        if any(v["covariance_t_dm2"] for record in records.values() for v in record.values()):
            covariance[name] = outside_joint_covariance(totals, shared)
        shared_record[name] = records[(0, len(results) - 1)]
        for pair in pairs:
            by_pair.setdefault(pair, {})[name] = records[pair]
    pair_record = (
        [
            {"epochs": [inputs[a].name, inputs[b].name], "quantities": by_quantity}
            for (a, b), by_quantity in by_pair.items()
        ]
        if len(results) > 2
        else []
    )
    return LedgerArguments(
        inputs=inputs,
        error_covariance=covariance,
        basis=basis,
        blocks=blocks,
        soil_warnings=soil_warnings,
        outside_shared=shared_record,
        outside_pairs=pair_record,
    )
