"""The ledger's strata table: stocks, change, chain and uncertainty per stratum and in total."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonsink.accounting.combined_uncertainty import CombinedUncertainty
from carbonsink.accounting.credits import CreditChain
from carbonsink.accounting.simulation import EpochInputs, TermDraws
from carbonsink.accounting.summaries import Summary, summarize

__all__ = ["strata_table"]

FloatArray = npt.NDArray[np.float64]


def strata_table(
    epochs: Sequence[EpochInputs],
    strata: Sequence[str],
    pools: Sequence[str],
    draws: TermDraws,
    chains: Mapping[str, CreditChain],
    stock_summaries: Mapping[str, Mapping[str, Mapping[str, Summary]]],
    combined: CombinedUncertainty | None,
    *,
    seed: int,
) -> pd.DataFrame:
    """The ledger's strata table: one row per stratum and the ``total`` (docs/ledger.md).

    Parameters
    ----------
    epochs
        The epochs of the ledger (one, or the first and last).
    strata
        Stratum names, in the draws' column order.
    pools
        The counted pools' ledger names.
    draws
        The Monte Carlo draws of the terms.
    chains
        Stratum (and ``"total"``) → credit chain; empty for one epoch.
    stock_summaries
        Epoch → pool → stratum (and ``"total"``) → stock summary, t C.
    combined
        The VM0033 eq. 87–91 uncertainty of the terms (``None`` for one epoch).
    seed
        The Monte Carlo seed, recorded in the summaries.
    """
    single = combined is None
    later = epochs[-1]
    rows: list[dict[str, Any]] = []
    for i, stratum in enumerate([*strata, "total"]):
        row: dict[str, Any] = {"stratum": stratum}
        if stratum == "total":
            row["area_ha"] = float(sum(later.stratum_area_ha.values()))
            row["adjusted_area_ha"] = float(
                sum(later.class_area_ha.get(s, (0.0, 0.0))[0] for s in strata)
            )
        else:
            row["area_ha"] = float(later.stratum_area_ha.get(stratum, 0.0))
            row["adjusted_area_ha"] = float(later.class_area_ha.get(stratum, (np.nan, 0.0))[0])
        for epoch in epochs:
            for pool in pools:
                summary = stock_summaries[epoch.name][pool][stratum]
                row[f"{pool}_{epoch.name}_t_c"] = summary.mean
            row[f"stock_{epoch.name}_p5_t_c"], row[f"stock_{epoch.name}_p95_t_c"] = _bounds(
                np.sum([draws.stocks[epoch.name][p] for p in pools], axis=0), i, seed
            )
        if not single:
            for pool in pools:
                values = draws.change[pool]
                column = values.sum(axis=1) if stratum == "total" else values[:, i]
                row[f"d_{pool}_t_c_yr"] = float(column.mean())
                low, high = np.quantile(column, [0.05, 0.95])
                row[f"d_{pool}_p5_t_c_yr"], row[f"d_{pool}_p95_t_c_yr"] = float(low), float(high)
            for term, values in (("ch4", draws.ch4), ("n2o", draws.n2o)):
                column = values.sum(axis=1) if stratum == "total" else values[:, i]
                row[f"{term}_t_co2e_yr"] = float(column.mean())
            chain = chains[stratum]
            row |= {
                "removals_t_co2e_yr": chain.removals.mean,
                "removals_p5_t_co2e_yr": chain.removals.p5,
                "removals_p95_t_co2e_yr": chain.removals.p95,
                "non_co2_t_co2e_yr": chain.non_co2.mean,
                "baseline_t_co2e_yr": chain.baseline_t_co2e_yr,
                "gross_t_co2e_yr": chain.gross.mean,
                "gross_p5_t_co2e_yr": chain.gross.p5,
                "gross_p95_t_co2e_yr": chain.gross.p95,
                "leakage_t_co2e_yr": chain.leakage_t_co2e_yr,
                "net_t_co2e_yr": chain.net.mean,
                "net_p5_t_co2e_yr": chain.net.p5,
                "net_p95_t_co2e_yr": chain.net.p95,
                "relative_half_width_90": chain.net.relative_half_width_90,
                "u_monte_carlo": chain.uncertainty["monte_carlo"],
                "u_vm0033_equations": chain.uncertainty["vm0033_equations"],
                "u_used": chain.uncertainty["used"],
            }
            assert combined is not None
            for pool in pools:
                row[f"u_{pool}"] = _pool_u(draws.change[pool], i, combined.confidence)
            for rule in chain.rules:
                row[f"deduction_{rule.rule.replace('-', '_')}_t_co2e_yr"] = rule.deduction
            row |= {
                "rule_applied": chain.applied_rule.rule,
                "adjusted_t_co2e_yr": chain.adjusted_t_co2e_yr,
                "ner_stock_t_co2e_yr": chain.ner_stock.mean,
                "buffer_base_t_co2e_yr": chain.buffer_base_t_co2e_yr,
                "buffer_t_co2e_yr": chain.buffer_t_co2e_yr,
                "tradable_t_co2e_yr": chain.tradable_t_co2e_yr,
                "tradable_ci90_t_co2e_yr": list(chain.tradable_ci90),
                "value_per_yr": chain.value,
            }
        rows.append(row)
    return pd.DataFrame(rows).set_index("stratum")


def _bounds(values: FloatArray, i: int, seed: int) -> tuple[float, float]:
    column = values.sum(axis=1) if i == values.shape[1] else values[:, i]
    summary = summarize(column, seed=seed)
    return summary.p5, summary.p95


def _pool_u(change: FloatArray, i: int, confidence: float) -> float | None:
    """Relative half-width (at ``confidence``) of a pool's change in column ``i`` or in total.

    From the Monte Carlo draws of the change; ``i`` = the number of columns
    is the ``total`` row, of the summed draws (the strata's errors of one pool
    are not independent). Not from VM0033 eq. 87–91, whose terms are stocks
    (``uncertainty_vm0033``).
    """
    tail = (1.0 - confidence) / 2.0
    column = change.sum(axis=1) if i == change.shape[1] else change[:, i]
    low, high = np.quantile(column, [tail, 1.0 - tail])
    mean = float(column.mean())
    spread = float(high - low) / 2.0
    value = spread / abs(mean) if mean else (0.0 if spread == 0 else math.inf)
    return value if math.isfinite(value) else None
