"""The true sink of each ledger stratum, to score a ledger against a synthetic survey's truth.

A ledger's strata are the *mapped* classes of the last epoch, so the truth a
stratum's interval must contain is the true change of the cells the map put
in it — whatever their true class:

    ΔC_p,s = Σ_{c ∈ s, inside} a_c (D_p,c(t2) − D_p,c(t1)) / years

for each pool p with density D in ``truth_<epoch>.nc`` (``agb_c`` = AGB × CF,
``bgb_c`` = BGB × CF, ``dom_c`` = DOM × CF), ``a_c`` the true cell area (ha)
and years as in ``totals.json``; removals_s = 44/12 × Σ of the pools the
ledger counts. The soil pools are scored against the true autochthonous
change, as ``totals.json`` counts them:

    ΔC_soc_0_D,s = Σ_{c ∈ s, inside} a_c (G_D,c(t2) − G_D,c(t1)) / years

with ``G_D`` = ``soc_gain_0_D_mg_ha`` (D = 30 or 100), the carbon gained
since the first epoch in the reference material (the first epoch's 0–D cm
plus the sediment deposited on it; 0 in the first epoch) — not the
fixed-depth difference of ``soc_0_D_mg_ha``, which also holds the
allochthonous carbon of the deposit and the effect of compaction. Truth
written before the soil learnt deposition has no gain layers; there the
fixed-depth difference is the autochthonous change (no deposit, no
compaction) and is used instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.units import CO2_PER_C

__all__ = ["BIOMASS_POOLS", "LEDGER_POOLS", "dtm_scores", "stratum_sink", "stratum_stocks"]

#: Ledger pool name → (truth layer, times the carbon fraction).
LEDGER_POOLS: Final = {
    "agb": ("agb_mg_ha", True),
    "bgb": ("bgb_mg_ha", True),
    "dom": ("dom_mg_ha", True),
    "soc_0_100": ("soc_gain_0_100_mg_ha", False),
    "soc_0_30": ("soc_gain_0_30_mg_ha", False),
}
#: The pools whose stock at an epoch the truth holds as such (the soil's gain layers
#: are changes since the first epoch, not stocks).
BIOMASS_POOLS: Final = ("agb", "bgb", "dom")
#: Fixed-depth layer of a soil gain layer, for truth written without the gain layers.
_FIXED_DEPTH: Final = {
    "soc_gain_0_100_mg_ha": "soc_0_100_mg_ha",
    "soc_gain_0_30_mg_ha": "soc_0_30_mg_ha",
}


def _check_grid(truth: xr.Dataset, strata_map: npt.NDArray[np.integer]) -> None:
    """Raise :class:`InputError` unless the strata map is on the truth's grid."""
    if truth["class"].shape != strata_map.shape:
        raise InputError(
            f"the strata map has shape {strata_map.shape}, the truth {truth['class'].shape}",
            fix="give the land-cover map of the same grid as the truth",
        )


def stratum_sink(
    truth_dir: Path,
    strata_map: npt.NDArray[np.integer],
    cell_area_ha: npt.NDArray[np.floating],
    legend: Mapping[int, str],
    *,
    pools: Sequence[str],
) -> dict[str, dict[str, float]]:
    """True change per ledger stratum and pool (t C/yr) and the removals (t CO2e/yr).

    Parameters
    ----------
    truth_dir
        The survey's ``truth/`` folder.
    strata_map
        The ledger's strata: class codes of the last epoch's land-cover map,
        on the truth's grid.
    cell_area_ha
        True cell areas of that grid, ha.
    legend
        Class code → stratum name.
    pools
        The ledger's counted pools (keys of :data:`LEDGER_POOLS`).

    Returns
    -------
    dict
        Stratum (and ``"total"``) → pool → ΔC (t C/yr), and
        ``"removals_t_co2e_yr"``; the soil pools are the autochthonous change
        (module docstring).

    Raises
    ------
    InputError
        The map is not on the truth's grid, or a pool has no truth layer.
    """
    summary = json.loads((truth_dir / "totals.json").read_text(encoding="utf-8"))
    sink = summary["sink"]
    years = float(sink["years"])
    unknown = [p for p in pools if p not in LEDGER_POOLS]
    if unknown:
        raise InputError(f"no truth layer for pools {unknown}", fix=f"use {list(LEDGER_POOLS)}")
    with (
        xr.open_dataset(truth_dir / f"truth_{sink['from_epoch']}.nc") as first,
        xr.open_dataset(truth_dir / f"truth_{sink['to_epoch']}.nc") as last,
    ):
        _check_grid(first, strata_map)
        inside = last["inside_boundary"].values.astype(bool)
        fraction = float(last.attrs["carbon_fraction"])
        change = {}
        for pool in pools:
            layer, carbon = LEDGER_POOLS[pool]
            if layer not in last.data_vars and layer in _FIXED_DEPTH:
                layer = _FIXED_DEPTH[layer]  # truth without deposition
            delta = last[layer].values.astype(np.float64) - first[layer].values.astype(np.float64)
            change[pool] = delta * (fraction if carbon else 1.0) * cell_area_ha / years
    out = _by_stratum(change, inside, strata_map, legend)
    for row in out.values():
        row["removals_t_co2e_yr"] = CO2_PER_C * sum(row[p] for p in pools)
    return out


def stratum_stocks(
    truth_dir: Path,
    epoch: str,
    strata_map: npt.NDArray[np.integer],
    cell_area_ha: npt.NDArray[np.floating],
    legend: Mapping[int, str],
    *,
    pools: Sequence[str],
) -> dict[str, dict[str, float]]:
    """True biomass carbon stock per ledger stratum at one epoch, t C.

    S_p,s(t) = Σ_{c ∈ s, inside} a_c D_p,c(t) × CF, for the pools of
    :data:`BIOMASS_POOLS` (``truth_<epoch>.nc``; CF its ``carbon_fraction``);
    the strata are those of :func:`stratum_sink`, so each stratum's stock at
    the last epoch minus the first, over the years, is its sink.

    Returns
    -------
    dict
        Stratum (and ``"total"``) → pool → stock (t C).

    Raises
    ------
    InputError
        A pool that is not a biomass pool, or a map not on the truth's grid.
    """
    unknown = [p for p in pools if p not in BIOMASS_POOLS]
    if unknown:
        raise InputError(
            f"no stock layer for pools {unknown}", fix=f"use pools of {list(BIOMASS_POOLS)}"
        )
    with xr.open_dataset(truth_dir / f"truth_{epoch}.nc") as truth:
        _check_grid(truth, strata_map)
        inside = truth["inside_boundary"].values.astype(bool)
        fraction = float(truth.attrs["carbon_fraction"])
        stock = {
            pool: truth[LEDGER_POOLS[pool][0]].values.astype(np.float64) * fraction * cell_area_ha
            for pool in pools
        }
    return _by_stratum(stock, inside, strata_map, legend)


def _by_stratum(
    layers: Mapping[str, npt.NDArray[np.float64]],
    inside: npt.NDArray[np.bool_],
    strata_map: npt.NDArray[np.integer],
    legend: Mapping[int, str],
) -> dict[str, dict[str, float]]:
    """Each layer summed over the cells inside the project of each stratum, and in total."""
    out = {
        name: {key: float(v[inside & (strata_map == code)].sum()) for key, v in layers.items()}
        for code, name in legend.items()
    }
    out["total"] = {key: float(v[inside].sum()) for key, v in layers.items()}
    return out


#: Fewest land cells of a class, true and mapped alike, for its terrain scores.
MIN_DTM_CELLS: Final = 30


def dtm_scores(
    cube: xr.Dataset,
    truth: xr.Dataset,
    legend: Mapping[int, str],
    removed_m: Mapping[str, float],
) -> pd.DataFrame:
    """The terrain's error per class before and after the checkpoint correction.

    Parameters
    ----------
    cube
        An epoch cube (``dtm_mean``, ``h_p95``, ``landcover``), its terrain corrected.
    truth
        The epoch's truth (``elevation_m``, ``canopy_height_m``, ``class``, ``water_mask``).
    legend
        Class code → name.
    removed_m
        Class name → the bias the correction removed from its mapped cells
        (the ledger's ``lidar.<epoch>.dtm_check.classes.<c>.bias_m`` where
        ``corrected``), m.

    Returns
    -------
    pandas.DataFrame
        Per land class with at least :data:`MIN_DTM_CELLS` finite cells whose
        true and mapped classes agree: ``cells``, ``bias_raw_m``, ``bias_m``,
        ``rmse_raw_m``, ``rmse_m`` (the cell means against the true cell
        elevations) and ``height_gap_raw_m``, ``height_gap_m`` (mean of
        ``h_p95`` − true canopy height). The raw terrain is the cube's plus
        the bias removed (docs/methodology.md eq. 8.8d: an exact shift), the
        raw heights the cube's minus it.
    """
    dtm = cube["dtm_mean"].values.astype(np.float64)
    p95 = cube["h_p95"].values.astype(np.float64)
    mapped = cube["landcover"].values
    true_z = truth["elevation_m"].values.astype(np.float64)
    canopy = truth["canopy_height_m"].values.astype(np.float64)
    true_class = truth["class"].values
    land = truth["water_mask"].values == 0
    removed = np.zeros(dtm.shape)
    for code, name in legend.items():
        removed[mapped == code] = removed_m.get(name, 0.0)
    rows = []
    for code, name in legend.items():
        cells = land & (true_class == code) & (mapped == code) & np.isfinite(dtm)
        if cells.sum() < MIN_DTM_CELLS:
            continue
        error = dtm[cells] - true_z[cells]
        raw = error + removed[cells]
        heights = cells & np.isfinite(p95)
        gap = p95[heights] - canopy[heights]
        rows.append(
            {
                "class": name,
                "cells": int(cells.sum()),
                "bias_raw_m": float(raw.mean()),
                "bias_m": float(error.mean()),
                "rmse_raw_m": float(np.sqrt(np.mean(raw**2))),
                "rmse_m": float(np.sqrt(np.mean(error**2))),
                "height_gap_raw_m": float((gap - removed[heights]).mean()),
                "height_gap_m": float(gap.mean()),
            }
        )
    return pd.DataFrame(rows).set_index("class") if rows else pd.DataFrame()
