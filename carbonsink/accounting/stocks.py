"""Carbon stocks per pool and stratum, and the sink by stock difference between epochs.

Pools are per-pixel densities in Mg C/ha (``agb_c_mg_ha``, ``bgb_c_mg_ha``,
``dom_c_mg_ha`` where given, ``soc_0_30_mg_ha``, ``soc_0_100_mg_ha``). Totals
multiply each cell's density by its true area (ha), so they are in t C. Strata
are land-cover classes; for a change between two epochs a cell belongs to the
stratum of its class at the later epoch, so that the strata partition the
project area once and the stratum changes add up to the project change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.units import CO2_PER_C

__all__ = [
    "POOL_LAYERS",
    "SINGLE_EPOCH_NOTE",
    "adjust_to_areas",
    "stock_change",
    "stratum_stocks",
]

#: Pool name → per-pixel density layer (Mg C/ha).
POOL_LAYERS: Mapping[str, str] = {
    "agb": "agb_c_mg_ha",
    "bgb": "bgb_c_mg_ha",
    "dom": "dom_c_mg_ha",
    "soc_0_30": "soc_0_30_mg_ha",
    "soc_0_100": "soc_0_100_mg_ha",
}

#: What a single-epoch survey says instead of a sink.
SINGLE_EPOCH_NOTE = (
    "one epoch measures stocks, not a sink: a sink is the change of stocks between two "
    "measured epochs (METHODOLOGY.md §4); peak herbaceous biomass is an annual pool, not "
    "an annual removal"
)


def _checked_layer(
    layers: xr.Dataset, name: str, shape: tuple[int, ...]
) -> npt.NDArray[np.float64]:
    if name not in layers:
        raise InputError(
            f"pool layer {name!r} is not in the epoch's layers "
            f"(it has {', '.join(map(str, layers.data_vars))})",
            fix="compute the pool first, or leave it out of the profile's pools",
        )
    values = np.asarray(layers[name].values, dtype=np.float64)
    if values.shape != shape:
        raise InputError(
            f"pool layer {name!r} has shape {values.shape}, the class map {shape}",
            fix="put every layer on the analysis grid",
        )
    return values


def stratum_stocks(
    layers: xr.Dataset,
    class_map: npt.ArrayLike,
    cell_area_ha: npt.ArrayLike,
    legend: Mapping[str, int],
    *,
    pools: Sequence[str],
    inside: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Area and carbon stock of each pool in each stratum (class), with true cell areas.

    Parameters
    ----------
    layers
        Per-pixel pool densities (see :data:`POOL_LAYERS`), Mg C/ha.
    class_map
        ``(y, x)`` class codes of the strata.
    cell_area_ha
        ``(y, x)`` true cell areas, ha.
    legend
        Stratum (class) name → code.
    pools
        Pools to total, names in :data:`POOL_LAYERS`.
    inside
        ``(y, x)`` project mask (all cells by default).

    Returns
    -------
    pandas.DataFrame
        Index ``stratum`` (plus a ``total`` row): ``area_ha``, per pool
        ``<pool>_t_c`` (t C) and ``<pool>_mg_ha`` (area-weighted mean,
        Mg C/ha), and ``unmapped_ha`` (cells of the stratum with no value of
        some pool, whose stock is not counted — reported, never filled).

    Notes
    -----
    Stock_s,p [t C] = Σ_{cells c in s} D_p(c) [Mg C/ha] × A(c) [ha]
    (METHODOLOGY.md §1, §4: totals with true cell areas).
    """
    unknown = [p for p in pools if p not in POOL_LAYERS]
    if unknown:
        raise InputError(
            f"unknown pool(s) {', '.join(unknown)}", fix=f"use {', '.join(POOL_LAYERS)}"
        )
    codes = np.asarray(class_map)
    area = np.asarray(cell_area_ha, dtype=np.float64)
    mask = np.ones(codes.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    densities = {p: _checked_layer(layers, POOL_LAYERS[p], codes.shape) for p in pools}
    rows = []
    for name, code in legend.items():
        cells = mask & (codes == code)
        row: dict[str, float | str] = {"stratum": name, "area_ha": float(area[cells].sum())}
        missing = np.zeros(codes.shape, dtype=bool)
        for pool, density in densities.items():
            valid = cells & np.isfinite(density)
            stock = float((density[valid] * area[valid]).sum())
            row[f"{pool}_t_c"] = stock
            row[f"{pool}_mg_ha"] = stock / float(area[valid].sum()) if valid.any() else np.nan
            missing |= cells & ~np.isfinite(density)
        row["unmapped_ha"] = float(area[missing].sum())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("stratum")
    total = table.sum(numeric_only=True)
    for pool in pools:
        total[f"{pool}_mg_ha"] = (
            total[f"{pool}_t_c"] / total["area_ha"] if total["area_ha"] else np.nan
        )
    table.loc["total"] = total
    return table


def adjust_to_areas(stocks: pd.DataFrame, adjusted_area_ha: Mapping[str, float]) -> pd.DataFrame:
    """Stratum stocks rescaled to area-adjusted stratum areas (Olofsson et al. 2014).

    Parameters
    ----------
    stocks
        From :func:`stratum_stocks`.
    adjusted_area_ha
        Stratum → area-adjusted area (the imagery stage's estimate), ha.

    Returns
    -------
    pandas.DataFrame
        The same columns, with ``area_ha`` the adjusted area and each
        ``<pool>_t_c`` = mean density of the mapped stratum × adjusted area.

    Notes
    -----
    A map's pixel count is biased by its classification errors; the
    stratified estimator corrects the areas, and each stratum's stock is its
    mean density (from the mapped cells) times that area.
    """
    out = stocks.drop(index="total").copy()
    missing = sorted(set(out.index) - set(adjusted_area_ha))
    if missing:
        raise InputError(
            f"no adjusted area for stratum(s) {', '.join(missing)}",
            fix="give the area estimate of every stratum of the map",
        )
    pools = [c.removesuffix("_t_c") for c in out.columns if c.endswith("_t_c")]
    out["area_ha"] = [float(adjusted_area_ha[s]) for s in out.index]
    for pool in pools:
        out[f"{pool}_t_c"] = np.nan_to_num(out[f"{pool}_mg_ha"].to_numpy()) * out["area_ha"]
    total = out.sum(numeric_only=True)
    for pool in pools:
        total[f"{pool}_mg_ha"] = (
            total[f"{pool}_t_c"] / total["area_ha"] if total["area_ha"] else np.nan
        )
    out.loc["total"] = total
    return out


def stock_change(
    layers_t1: xr.Dataset,
    layers_t2: xr.Dataset,
    class_map_t2: npt.ArrayLike,
    cell_area_ha: npt.ArrayLike,
    legend: Mapping[str, int],
    *,
    years: float,
    pools: Sequence[str],
    inside: npt.ArrayLike | None = None,
) -> tuple[pd.DataFrame, xr.Dataset]:
    """The sink by stock difference: per stratum and per pixel, per year.

    Parameters
    ----------
    layers_t1, layers_t2
        Per-pixel pool densities of the two epochs (Mg C/ha), on one grid.
    class_map_t2
        Strata: the class of each cell at the later epoch.
    cell_area_ha, legend, pools, inside
        As :func:`stratum_stocks`.
    years
        Time between the epochs' reference dates, years (> 0).

    Returns
    -------
    (pandas.DataFrame, xarray.Dataset)
        Per stratum (and ``total``): ``area_ha``, per pool ``d_<pool>_t_c_yr``
        (t C/yr), ``removals_t_co2e_yr`` (44/12 × Σ pools) and
        ``unmapped_ha`` (cells where a pool lacks a value at either epoch);
        and per pixel ``d_<pool>_mg_ha_yr`` (Mg C/ha/yr) and
        ``removals_t_co2e_ha_yr``.

    Notes
    -----
    ΔC_pool [t C/yr] = Σ_c (D_pool,t2(c) − D_pool,t1(c)) A(c) / (t2 − t1);
    Removals [t CO2e/yr] = 44/12 × Σ_pools ΔC_pool (METHODOLOGY.md §4). A
    removal (sink) is positive.
    """
    if not years > 0:
        raise InputError(
            f"the epochs are {years} years apart", fix="order the epochs by date, earliest first"
        )
    codes = np.asarray(class_map_t2)
    area = np.asarray(cell_area_ha, dtype=np.float64)
    mask = np.ones(codes.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    change: dict[str, npt.NDArray[np.float64]] = {}
    for pool in pools:
        d1 = _checked_layer(layers_t1, POOL_LAYERS[pool], codes.shape)
        d2 = _checked_layer(layers_t2, POOL_LAYERS[pool], codes.shape)
        change[pool] = (d2 - d1) / years
    total_rate = np.sum([change[p] for p in pools], axis=0)
    rows = []
    for name, code in [*legend.items(), ("total", None)]:
        cells = mask if code is None else mask & (codes == code)
        row: dict[str, float | str] = {"stratum": name, "area_ha": float(area[cells].sum())}
        missing = np.zeros(codes.shape, dtype=bool)
        removals_c = 0.0
        for pool in pools:
            valid = cells & np.isfinite(change[pool])
            rate = float((change[pool][valid] * area[valid]).sum())
            row[f"d_{pool}_t_c_yr"] = rate
            removals_c += rate
            missing |= cells & ~np.isfinite(change[pool])
        row["removals_t_co2e_yr"] = removals_c * CO2_PER_C
        row["unmapped_ha"] = float(area[missing].sum())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("stratum")
    coords = {k: v for k, v in layers_t2.coords.items() if k in ("y", "x")}
    pixel = xr.Dataset(coords=coords)
    for pool in pools:
        pixel[f"d_{pool}_mg_ha_yr"] = xr.DataArray(
            change[pool].astype(np.float32),
            dims=("y", "x"),
            attrs={"units": "Mg C/ha/yr", "long_name": f"change of the {pool} carbon stock"},
        )
    pixel["removals_t_co2e_ha_yr"] = xr.DataArray(
        (total_rate * CO2_PER_C).astype(np.float32),
        dims=("y", "x"),
        attrs={"units": "t CO2e/ha/yr", "long_name": "removals (stock gain, positive = sink)"},
    )
    pixel.attrs = {"years": years, "pools": list(pools)}
    return table, pixel
