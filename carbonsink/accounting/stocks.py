"""Carbon stocks per pool and stratum, the sink by stock difference, and per-pixel carbon.

Pools are per-pixel densities in Mg C/ha, named by the pool registry
(:data:`~carbonsink.accounting.pools.POOLS`: ``agb_c_mg_ha``,
``bgb_c_mg_ha``, ``dom_c_mg_ha`` where measured, ``soc_0_30_mg_ha``,
``soc_0_100_mg_ha``). Totals multiply each cell's density by its true area
(ha), so they are in t C. Strata are land-cover classes; for a change between
two epochs a cell belongs to the stratum of its class at the later epoch, so
that the strata partition the project area once and the stratum changes add
up to the project change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from scipy.stats import norm

from carbonsink.accounting.pools import pool_for_key, pool_layer
from carbonsink.errors import InputError
from carbonsink.i18n import N_
from carbonsink.units import CO2_PER_C

__all__ = [
    "SINGLE_EPOCH_NOTE",
    "adjust_to_areas",
    "carbon_layers",
    "change_layers",
    "map_total",
    "stock_change",
    "stratum_stocks",
]

#: What a single-epoch survey says instead of a sink.
SINGLE_EPOCH_NOTE = N_(
    "one epoch measures stocks, not a sink: a sink is the change of stocks between two "
    "measured epochs (docs/methodology.md §4); peak herbaceous biomass is an annual pool, not "
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
        Per-pixel pool densities (see :func:`~carbonsink.accounting.pools.pool_layer`), Mg C/ha.
    class_map
        ``(y, x)`` class codes of the strata.
    cell_area_ha
        ``(y, x)`` true cell areas, ha.
    legend
        Stratum (class) name → code.
    pools
        Pools to total, ledger names (``agb``, ``bgb``, ``dom``, ``soc_0_<cm>``).
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
    (docs/methodology.md §1, §4: totals with true cell areas).
    """
    codes = np.asarray(class_map)
    area = np.asarray(cell_area_ha, dtype=np.float64)
    mask = np.ones(codes.shape, dtype=bool) if inside is None else np.asarray(inside, dtype=bool)
    densities = {p: _checked_layer(layers, pool_layer(p), codes.shape) for p in pools}
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
    Removals [t CO2e/yr] = 44/12 × Σ_pools ΔC_pool (docs/methodology.md §4). A
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
        d1 = _checked_layer(layers_t1, pool_layer(pool), codes.shape)
        d2 = _checked_layer(layers_t2, pool_layer(pool), codes.shape)
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


def _layer(values: npt.ArrayLike, like: xr.DataArray, units: str, long_name: str) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(values, dtype=np.float32),
        dims=("y", "x"),
        coords={"y": like["y"], "x": like["x"]},
        attrs={"units": units, "long_name": long_name},
    )


def carbon_layers(
    layers: xr.Dataset,
    *,
    pools: Sequence[str],
    inside: npt.ArrayLike,
    interval: float = 0.90,
) -> xr.Dataset:
    """Per-pixel carbon of the counted pools, with an SD, and the soil layer with its SD.

    Parameters
    ----------
    layers
        The epoch's per-pixel layers: every counted pool's density (Mg C/ha,
        :func:`~carbonsink.accounting.pools.pool_layer`), the dry matter of
        each vegetation pool with its interval (``agb_mg_ha``,
        ``agb_lower_mg_ha``, ``agb_upper_mg_ha``; ``dom_*`` likewise), and the
        soil layer's kriging ``<layer>_variance``.
    pools
        Counted pools, ledger names (``agb``, ``bgb``, ``dom``, ``soc_0_<cm>``).
    inside
        ``(y, x)`` project mask; cells outside are NaN.
    interval
        Central probability of the dry-matter intervals (0.90: the 5th–95th percentiles).

    Returns
    -------
    xarray.Dataset
        ``soc_mg_ha`` and ``soc_sd_mg_ha`` (the counted soil pool and √ of its
        kriging variance), ``carbon_mg_ha`` (Σ counted pools, Mg C/ha) and
        ``carbon_sd_mg_ha``.

    Notes
    -----
    A vegetation pool's carbon is its dry matter × a factor of the cell's
    class, so its SD is SD_DM × C_pool / DM with SD_DM = (upper − lower) / (2 z),
    z = Φ⁻¹(½ + interval / 2) (1.645 for the 90 % interval). The vegetation
    pools' SDs are added (they share the cell's biomass, so their errors are
    taken as fully correlated); the soil SD is independent of them:
    SD_C = √(SD_veg² + SD_SOC²). A per-pixel guide: the project totals'
    uncertainty is the ledger's Monte Carlo.
    """
    soils = [p for p in pools if pool_for_key(p).dry_matter is None]
    vegetation = [p for p in pools if pool_for_key(p).dry_matter is not None]
    if len(soils) != 1:
        raise InputError(
            f"counted pools {list(pools)} hold {len(soils)} soil pools",
            fix="count exactly one soil organic carbon pool",
        )
    z = float(norm.ppf(0.5 + interval / 2.0))
    veg = np.zeros(layers["agb_mg_ha"].shape)
    veg_sd = np.zeros(layers["agb_mg_ha"].shape)
    for pool in vegetation:
        carbon_layer = np.nan_to_num(layers[pool_layer(pool)].values.astype(np.float64))
        veg = veg + carbon_layer
        dm = pool_for_key(pool).dry_matter
        assert dm is not None
        stem = dm.removesuffix("_mg_ha")
        dry = layers[dm].values.astype(np.float64)
        sd_dm = (
            layers[f"{stem}_upper_mg_ha"].values.astype(np.float64)
            - layers[f"{stem}_lower_mg_ha"].values.astype(np.float64)
        ) / (2.0 * z)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_dm = np.where(dry > 0, carbon_layer / dry, 0.0)
        veg_sd = veg_sd + np.nan_to_num(sd_dm * per_dm)
    name = pool_layer(soils[0])
    soc = layers[name].values.astype(np.float64)
    soc_sd = np.sqrt(np.maximum(layers[f"{name}_variance"].values.astype(np.float64), 0.0))
    mask = np.asarray(inside, dtype=bool)
    carbon = np.where(mask, veg + soc, np.nan)
    carbon_sd = np.where(mask, np.sqrt(veg_sd**2 + soc_sd**2), np.nan)
    like = layers["agb_mg_ha"]
    depth = soils[0].partition("_0_")[2]
    counted = " + ".join([*(f"{p.upper()} C" for p in vegetation), f"SOC 0–{depth} cm"])
    return xr.Dataset(
        {
            "soc_mg_ha": _layer(soc, like, "Mg C/ha", f"SOC stock 0–{depth} cm"),
            "soc_sd_mg_ha": _layer(soc_sd, like, "Mg C/ha", f"kriging SD of SOC 0–{depth} cm"),
            "carbon_mg_ha": _layer(carbon, like, "Mg C/ha", f"carbon stock ({counted})"),
            "carbon_sd_mg_ha": _layer(carbon_sd, like, "Mg C/ha", "SD of the carbon stock"),
        }
    )


def change_layers(
    first: xr.Dataset, last: xr.Dataset, *, years: float, epochs: tuple[str, str]
) -> xr.Dataset:
    """Per-pixel stock change and removals between two epochs' :func:`carbon_layers`.

    Parameters
    ----------
    first, last
        :func:`carbon_layers` of the earlier and the later epoch.
    years
        Time between them, years (> 0).
    epochs
        Names of the two epochs (recorded in the attributes).

    Notes
    -----
    Removals [t CO2e/ha/yr] = 44/12 × (C_t2 − C_t1) / (t2 − t1) per cell
    (docs/methodology.md §4), with C the counted pools; SD = 44/12 ×
    √(σ²_t1 + σ²_t2) / (t2 − t1) from the cells' own SDs, treated as
    independent (a per-pixel guide: the project total's uncertainty is the
    ledger's Monte Carlo, which handles the shared errors).
    """
    if not years > 0:
        raise InputError(
            f"the epochs are {years} years apart", fix="order the epochs by date, earliest first"
        )
    like = last["carbon_mg_ha"]
    d_carbon = (last["carbon_mg_ha"].values - first["carbon_mg_ha"].values) / years
    sd = np.sqrt(first["carbon_sd_mg_ha"].values ** 2 + last["carbon_sd_mg_ha"].values ** 2) / years
    d_soc = (last["soc_mg_ha"].values - first["soc_mg_ha"].values) / years
    return xr.Dataset(
        {
            "d_carbon_mg_ha_yr": _layer(d_carbon, like, "Mg C/ha/yr", "change of the carbon stock"),
            "d_soc_mg_ha_yr": _layer(d_soc, like, "Mg C/ha/yr", "change of the SOC stock"),
            "removals_t_co2e_ha_yr": _layer(
                d_carbon * CO2_PER_C, like, "t CO2e/ha/yr", "removals (sink positive)"
            ),
            "removals_sd_t_co2e_ha_yr": _layer(
                sd * CO2_PER_C, like, "t CO2e/ha/yr", "SD of the removals (cells independent)"
            ),
        },
        attrs={"from_epoch": epochs[0], "to_epoch": epochs[1], "years": years},
    )


def map_total(
    density_per_ha: npt.ArrayLike,
    cell_area_ha: npt.ArrayLike,
    *,
    inside: npt.ArrayLike | None = None,
) -> float:
    """Total of a per-hectare map over its cells with a value (true cell areas).

    Parameters
    ----------
    density_per_ha
        ``(y, x)`` density, e.g. Mg DM/ha or Mg C/ha (NaN: no value).
    cell_area_ha
        ``(y, x)`` true cell areas, ha.
    inside
        ``(y, x)`` mask of the cells to count (all by default).

    Returns
    -------
    float
        Σ_c D(c) × A(c) over the cells with a value, in t (Mg) of the
        density's quantity (docs/methodology.md §1: totals use true cell areas).
    """
    density = np.asarray(density_per_ha, dtype=np.float64)
    area = np.asarray(cell_area_ha, dtype=np.float64)
    values = density * area
    if inside is not None:
        values = np.where(np.asarray(inside, dtype=bool), values, np.nan)
    return float(np.nansum(values))
