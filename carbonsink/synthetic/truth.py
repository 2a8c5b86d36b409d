"""The truth written beside a synthetic survey: per-pixel layers and totals.

``truth/truth_<epoch>.nc`` holds every true layer on the analysis grid
(float32 densities; integer class and mask layers with a
``flag_values``/``flag_meanings`` legend). ``truth/totals.json`` holds the
totals inside the boundary and the true sink between the epochs, computed
from exactly the float32 values written to the NetCDF files:

* inside = cells whose centre lies inside the boundary
  (:meth:`carbonsink.grid.Grid.boundary_mask`); ``A`` = true cell area in ha
  (:attr:`carbonsink.grid.Grid.cell_area_ha`);
* area of class k = Σ_inside A × [class = k] (ha);
* AGB total = Σ_inside A × agb_mg_ha (t dry matter), split by the epoch's
  LiDAR coverage mask;
* pool totals (t C): agb_c = Σ A × agb × CF, bgb_c = Σ A × bgb × CF, veg_c = Σ
  A × veg_c_mg_ha (live vegetation only), soc_0_30 = Σ A × soc_0_30_mg_ha,
  soc_0_100 = Σ A × soc_0_100_mg_ha (fixed-depth stocks below the epoch's
  surface), dom_c = Σ A × dom × CF (dead organic matter), with CF the world's
  carbon fraction (0.47, or drawn: :mod:`~carbonsink.synthetic.carbon_world`);
  and soc_gain_0_30 = Σ A × soc_gain_0_30_mg_ha, soc_gain_0_100 = Σ A ×
  soc_gain_0_100_mg_ha (autochthonous carbon gained since the first epoch in
  the reference material — the first epoch's 0–30 / 0–100 cm material plus the
  sediment deposited on it; 0 in the first epoch) and soc_allochthonous = Σ A
  × soc_allochthonous_mg_ha (carbon of that sediment, d × BD_sed × OC_sed; 0
  in the first epoch);
* ΔC_pool = (total_2025 − total_2020) / years (t C/yr), with years =
  days between the epochs' reference dates / 365.25, for the vegetation and
  DOM pools; the soil pools soc_0_30 and soc_0_100 are the TRUE
  AUTOCHTHONOUS change, Δ soc_gain_0_30 / years and Δ soc_gain_0_100 / years
  (what an equivalent-soil-mass ledger that deducts the allochthonous carbon
  must find); soc_0_30_fixed_depth and soc_0_100_fixed_depth are the
  fixed-depth stock changes (which include the deposited sediment and the
  compaction) and soc_allochthonous the deposited sediment's carbon, per year;
* removals = 44/12 × (ΔC_agb_c + ΔC_bgb_c + ΔC_soc_0_100 + ΔC_dom_c)
  (t CO2e/yr), the pools of :data:`REMOVAL_POOLS`;
* CH4 = Σ_k area_k(2025) × F_k × 365 × 1e-5 × 28 (t CO2e/yr), F_k the class
  flux in mg CH4 m⁻² d⁻¹ (the world's: stated or drawn), GWP AR5 = 28, class
  areas of the later epoch;
* net = removals − CH4;
* carbon_world: the carbon fraction, root:shoot ratios and CH4 fluxes of the
  truth, and whether they were drawn from the survey's priors;
* soil_world: the soil parameters drawn for the seed — sediment_oc_pct_mean
  (μ_sed), sediment_bd_g_cm3, compaction (mean κ), lab_method_bias (b) and
  its epoch — and mean_deposit_cm, the area-weighted mean deposit of the
  last epoch's land (non-water) cells inside the boundary;
* for comparison with a ledger that does not count dead organic matter:
  removals_without_dom = 44/12 × (ΔC_agb_c + ΔC_bgb_c + ΔC_soc_0_100) and
  net_without_dom = removals_without_dom − CH4 (the definitions before the
  DOM pool was added).

The sink is always from the first epoch to the last. A survey of three epochs
(2020, 2025, 2028) also gets ``periods``: for each consecutive pair of epochs
(a monitoring period) the same block as ``sink``, over the period's years and
with CH4 from the class areas of its later epoch, plus ``stock_change_t_c``
(``stock_to − stock_from`` per pool, t C; the soil pools the autochthonous
change) and ``total_stock_change_t_c``, their sum over :data:`REMOVAL_POOLS`;
the periods' stock changes add up to the last epoch's stocks minus the
first's; ``soil_world.lab_method_bias_epochs`` lists every epoch the biased
lab measured. With the planted loss, ``planted_loss`` gives the areas felled
and burnt inside the boundary. A two-epoch survey's totals have none of these
keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from carbonsink.io.writers import write_json, write_netcdf
from carbonsink.synthetic.landscape import EpochTruth, Landscape
from carbonsink.synthetic.parameters import (
    CLASS_BY_NAME,
    CLASSES,
    FELLED_REGROWTH_FACTOR,
    GWP_CH4_AR5,
    REED_BURN_FACTOR,
)
from carbonsink.synthetic.sediment import COMPACTION_DEPTH_CM
from carbonsink.units import CO2_PER_C, T_HA_YR_PER_MG_M2_D

__all__ = ["REMOVAL_POOLS", "REMOVAL_POOLS_WITHOUT_DOM", "totals", "truth_dataset", "write_truth"]

#: Pools counted in the removals.
REMOVAL_POOLS: Final = ("agb_c", "bgb_c", "soc_0_100", "dom_c")
#: Pools of the DOM-free removals (``removals_without_dom_t_co2e_yr``).
REMOVAL_POOLS_WITHOUT_DOM: Final = tuple(p for p in REMOVAL_POOLS if p != "dom_c")

#: ``delta_c_t_c_yr`` key → the ``stocks_t_c`` pool whose change it is.
_STOCK_OF_DELTA: Final = {
    "agb_c": "agb_c",
    "bgb_c": "bgb_c",
    "veg_c": "veg_c",
    "soc_0_30": "soc_gain_0_30",
    "soc_0_100": "soc_gain_0_100",
    "dom_c": "dom_c",
    "soc_0_30_fixed_depth": "soc_0_30",
    "soc_0_100_fixed_depth": "soc_0_100",
    "soc_allochthonous": "soc_allochthonous",
}

_FLOAT_LAYERS: Final = (
    ("elevation_m", "m", "true terrain elevation (Yellow Sea 1985 height)"),
    ("canopy_height_m", "m", "true canopy height above ground"),
    ("agb_mg_ha", "Mg ha-1", "true above-ground biomass (dry matter)"),
    ("bgb_mg_ha", "Mg ha-1", "true below-ground biomass (dry matter), AGB x root:shoot"),
    ("veg_c_mg_ha", "Mg C ha-1", "true vegetation carbon, AGB x CF x (1 + R)"),
    (
        "dom_mg_ha",
        "Mg DM/ha",
        "true dead organic matter (litter and standing dead, dry matter), r x AGB x m",
    ),
    ("soc_0_30_mg_ha", "Mg C ha-1", "true soil organic carbon stock 0-30 cm"),
    ("soc_0_100_mg_ha", "Mg C ha-1", "true soil organic carbon stock 0-100 cm"),
    (
        "soc_gain_0_30_mg_ha",
        "Mg C ha-1",
        "true autochthonous soil organic carbon gained since the first epoch in the "
        "reference material: the first epoch's 0-30 cm soil plus the sediment deposited on it",
    ),
    (
        "soc_gain_0_100_mg_ha",
        "Mg C ha-1",
        "true autochthonous soil organic carbon gained since the first epoch in the "
        "reference material: the first epoch's 0-100 cm soil plus the sediment deposited on it",
    ),
    (
        "soc_allochthonous_mg_ha",
        "Mg C ha-1",
        "true allochthonous carbon of the sediment deposited since the first epoch, "
        "deposit x BD_sed x OC_sed",
    ),
    ("deposit_cm", "cm", "true thickness of the sediment deposited since the first epoch"),
    ("soc_surface_pct", "%", "true soil organic carbon at the surface"),
    ("lai", "1", "true leaf area index"),
    ("fractional_cover", "1", "true fractional vegetation cover, 1 - exp(-0.5 LAI)"),
)


def _root_shoot(
    classes: npt.NDArray[np.integer], root_shoot: Mapping[str, float]
) -> npt.NDArray[np.float64]:
    ratio = np.zeros(classes.shape, dtype=np.float64)
    for params in CLASSES:
        ratio[classes == params.code] = root_shoot[params.name]
    return ratio


def truth_dataset(landscape: Landscape, epoch: EpochTruth) -> xr.Dataset:
    """The epoch's true layers on the analysis grid.

    Parameters
    ----------
    landscape, epoch
        The truth.

    Returns
    -------
    xarray.Dataset
        Float32 densities and int8/uint8 class and mask layers, each with
        ``units`` and ``long_name``; the CRS is recorded the rioxarray way.
    """
    grid = landscape.grid
    crop = landscape.crop
    classes = crop(epoch.class_code).astype(np.int8)
    agb = crop(epoch.agb_mg_ha)
    ratio = _root_shoot(classes, landscape.carbon.root_shoot)
    fraction = landscape.carbon.carbon_fraction
    values = {
        "elevation_m": crop(epoch.elevation_m),
        "canopy_height_m": crop(epoch.canopy_height_m),
        "agb_mg_ha": agb,
        "bgb_mg_ha": agb * ratio,
        "veg_c_mg_ha": agb * fraction * (1.0 + ratio),
        "dom_mg_ha": crop(epoch.dom_mg_ha),
        "soc_0_30_mg_ha": crop(epoch.soc_0_30_mg_ha),
        "soc_0_100_mg_ha": crop(epoch.soc_0_100_mg_ha),
        "soc_gain_0_30_mg_ha": crop(epoch.soc_gain_0_30_mg_ha),
        "soc_gain_0_100_mg_ha": crop(epoch.soc_gain_0_100_mg_ha),
        "soc_allochthonous_mg_ha": crop(epoch.soc_allochthonous_mg_ha),
        "deposit_cm": crop(epoch.deposit_cm),
        "soc_surface_pct": crop(epoch.soil.oc_pct(0.0)),
        "lai": crop(epoch.lai),
        "fractional_cover": crop(epoch.fractional_cover),
    }
    ds = grid.dataset(
        attrs={
            "title": f"True layers of the synthetic Junshan-like survey, epoch {epoch.spec.name}",
            "epoch": epoch.spec.name,
            "date": epoch.spec.date.isoformat(),
            "seed": landscape.seed,
            "water_level_m": epoch.spec.water_level_m,
            "carbon_fraction": fraction,
            "source": "carbonsink.synthetic (see README.md of the survey)",
            "Conventions": "CF-1.8",
        }
    )
    ds["class"] = grid.dataarray(
        classes,
        name="class",
        units="1",
        long_name="true land-cover class",
        attrs={
            "flag_values": np.array([c.code for c in CLASSES], dtype=np.int8),
            "flag_meanings": " ".join(c.name for c in CLASSES),
        },
    )
    for name, units, long_name in _FLOAT_LAYERS:
        ds[name] = grid.dataarray(
            values[name].astype(np.float32), name=name, units=units, long_name=long_name
        )
    masks = {
        "water_mask": (crop(epoch.water_mask), "open water at the image dates"),
        "inside_boundary": (
            grid.boundary_mask(landscape.boundary),
            "cell centre inside the project boundary",
        ),
        "lidar_coverage": (
            grid.boundary_mask(epoch.lidar_block),
            "cell centre inside the LiDAR flight block",
        ),
    }
    for name, (mask, long_name) in masks.items():
        ds[name] = grid.dataarray(
            mask.astype(np.uint8),
            name=name,
            units="1",
            long_name=long_name,
            attrs={"flag_values": np.array([0, 1], dtype=np.uint8), "flag_meanings": "no yes"},
        )
    # Re-write the CRS on the full dataset so every variable gets its
    # ``grid_mapping`` and the CRS survives a NetCDF round trip.
    out: xr.Dataset = ds.rio.write_crs(grid.crs.to_wkt()).rio.write_transform(grid.transform)
    for var in out.data_vars.values():
        # List the scalar CRS variable as a coordinate so that a plain
        # ``xr.open_dataset`` (without ``decode_coords="all"``) finds it too.
        var.encoding["coordinates"] = "spatial_ref"
    return out


def _weighted_sum(ds: xr.Dataset, name: str, weights: npt.NDArray[np.float64]) -> float:
    return float(np.sum(ds[name].values.astype(np.float64) * weights))


def totals(landscape: Landscape, datasets: dict[str, xr.Dataset]) -> dict[str, Any]:
    """Totals inside the boundary per epoch, and the true sink between the epochs.

    Parameters
    ----------
    landscape
        The truth (for the grid and the epoch dates).
    datasets
        The per-epoch datasets of :func:`truth_dataset`, by epoch name.

    Returns
    -------
    dict
        JSON-ready totals; see the module docstring for every formula.
    """
    area = landscape.grid.cell_area_ha
    world = landscape.carbon
    out: dict[str, Any] = {"epochs": {}}
    for epoch in landscape.epochs:
        ds = datasets[epoch.spec.name]
        inside = ds["inside_boundary"].values.astype(bool)
        covered = ds["lidar_coverage"].values.astype(bool)
        weights = np.where(inside, area, 0.0)
        classes = ds["class"].values

        def total(name: str, w: npt.NDArray[np.float64] = weights, ds: xr.Dataset = ds) -> float:
            return _weighted_sum(ds, name, w)

        stocks = {
            "agb_c": total("agb_mg_ha") * world.carbon_fraction,
            "bgb_c": total("bgb_mg_ha") * world.carbon_fraction,
            "veg_c": total("veg_c_mg_ha"),
            "soc_0_30": total("soc_0_30_mg_ha"),
            "soc_0_100": total("soc_0_100_mg_ha"),
            "dom_c": total("dom_mg_ha") * world.carbon_fraction,
            "soc_gain_0_30": total("soc_gain_0_30_mg_ha"),
            "soc_gain_0_100": total("soc_gain_0_100_mg_ha"),
            "soc_allochthonous": total("soc_allochthonous_mg_ha"),
        }
        class_area = {c.name: float(np.sum(weights[classes == c.code])) for c in CLASSES}
        out["epochs"][epoch.spec.name] = {
            "date": epoch.spec.date.isoformat(),
            "area_ha": {**class_area, "total": float(weights.sum())},
            "stocks_t_c": stocks,
            "agb_t_dm": {
                "total": total("agb_mg_ha"),
                "inside_lidar": total("agb_mg_ha", np.where(covered, weights, 0.0)),
                "outside_lidar": total("agb_mg_ha", np.where(covered, 0.0, weights)),
            },
            "lidar_coverage_ha": float(np.sum(np.where(covered, weights, 0.0))),
        }
    first, last = landscape.epochs[0].spec, landscape.epochs[-1].spec
    out["sink"] = _change(out["epochs"], landscape, first.name, last.name, landscape.years)
    if len(landscape.epochs) > 2:
        out["periods"] = _periods(out["epochs"], landscape)
    if landscape.planted_loss:
        out["planted_loss"] = _planted_loss(landscape, datasets[last.name])
    out["method"] = {
        "inside": "cells whose centre is inside boundary.geojson (Grid.boundary_mask)",
        "area": "true (ellipsoidal) cell area in ha, Grid.cell_area_ha",
        "stocks_t_c": "sum over inside cells of density [Mg/ha] x cell area [ha]; "
        "agb_c = AGB x CF, bgb_c = BGB x CF, dom_c = DOM x CF (dead organic matter: litter "
        "and standing dead), CF = carbon_world.carbon_fraction; veg_c = live AGB + BGB "
        "carbon (no DOM); soc_0_30 and "
        "soc_0_100 are fixed-depth stocks below the epoch's surface; soc_gain_0_30 and "
        "soc_gain_0_100 the autochthonous carbon gained since the first epoch in the reference "
        "material (the first epoch's 0-30 / 0-100 cm plus the sediment deposited on it); "
        "soc_allochthonous the carbon of that sediment (deposit x BD_sed x OC_sed); values as "
        "stored (float32) in truth_<epoch>.nc",
        "agb_t_dm": "sum of agb_mg_ha x cell area, split by the epoch's lidar_coverage mask",
        "delta_c_t_c_yr": "(stock_2025 - stock_2020) / years, years = days between the "
        "epochs' dates / 365.25; soc_0_30 and soc_0_100 are the true autochthonous change, "
        "(soc_gain_2025 - soc_gain_2020) / years, which an equivalent-soil-mass ledger that "
        "deducts the allochthonous sediment carbon must find; soc_0_30_fixed_depth and "
        "soc_0_100_fixed_depth the fixed-depth stock changes (they include the deposited "
        "sediment and the compaction of the old profile); soc_allochthonous the carbon "
        "deposited with the sediment, per year",
        "removals_t_co2e_yr": "44/12 x (delta agb_c + delta bgb_c + delta soc_0_100 + delta "
        "dom_c), soc_0_100 the autochthonous change",
        "removals_without_dom_t_co2e_yr": "44/12 x (delta agb_c + delta bgb_c + delta "
        "soc_0_100): the removals without the dead-organic-matter pool, to score a ledger "
        "that does not count DOM",
        "ch4_t_co2e_yr": "sum over classes of area_2025 [ha] x flux [mg CH4/m2/d] x 365e-5 "
        "x GWP 28 (AR5)",
        "net_t_co2e_yr": "removals - CH4",
        "net_without_dom_t_co2e_yr": "removals_without_dom - CH4",
        "soil_world": "parameters drawn for the seed: sediment_oc_pct_mean = the world's mean "
        "OC of the deposited sediment (% OC, drawn from N(1.2, 0.1^2)); lab_method_bias = b, "
        "the lab_method_bias_epoch lab reads OC x (1 + b) (b drawn from N(0, 0.02^2)); "
        "compaction = mean kappa inside the boundary (old depth z loses kappa exp(-z/20 cm) "
        "of its thickness); mean_deposit_cm = area-weighted mean deposit over the last "
        "epoch's land (non-water) cells inside the boundary",
        "carbon_world": "the truth's carbon fraction, root:shoot ratio R per class (BGB = R x "
        "AGB) and CH4 flux per class (mg CH4/m2/d); drawn = true: drawn for the seed from the "
        "priors survey.toml states (carbonsink.synthetic.carbon_world), false: the stated "
        "values",
    }
    if "periods" in out:
        out["method"]["periods"] = (
            "each consecutive pair of epochs, as the sink is for the first and last: "
            "stock_change_t_c = stock_to - stock_from (t C; soc_0_30 and soc_0_100 the "
            "autochthonous change, as in delta_c_t_c_yr), total_stock_change_t_c = the sum of "
            "stock_change_t_c over the removal pools (agb_c, bgb_c, soc_0_100, dom_c), "
            "delta_c_t_c_yr = stock_change_t_c / the period's years; CH4 from the class areas "
            "of the period's later epoch. The periods' stock changes add up to the last epoch "
            "minus the first"
        )
    if "planted_loss" in out:
        out["method"]["planted_loss"] = (
            "felled_ha, burnt_ha: area inside the boundary of the poplar cells clear-felled and "
            "of the reed cells burnt between the last two epochs (true cell areas)"
        )
    out["soil_world"] = _soil_world(landscape, datasets[last.name])
    out["carbon_world"] = {
        "drawn": world.drawn,
        "carbon_fraction": world.carbon_fraction,
        "root_shoot": dict(world.root_shoot),
        "ch4_flux_mg_m2_d": dict(world.ch4_flux_mg_m2_d),
    }
    out["seed"] = landscape.seed
    return out


def _change(
    epochs: dict[str, Any], landscape: Landscape, first: str, last: str, years: float
) -> dict[str, Any]:
    """The true change from epoch ``first`` to epoch ``last``: the ``sink`` block's content."""
    world = landscape.carbon
    s1 = epochs[first]["stocks_t_c"]
    s2 = epochs[last]["stocks_t_c"]
    # The soil pools soc_0_30 and soc_0_100 are the true autochthonous change.
    delta = {key: (s2[pool] - s1[pool]) / years for key, pool in _STOCK_OF_DELTA.items()}
    removals = CO2_PER_C * sum(delta[pool] for pool in REMOVAL_POOLS)
    removals_without_dom = CO2_PER_C * sum(delta[pool] for pool in REMOVAL_POOLS_WITHOUT_DOM)
    areas_2 = epochs[last]["area_ha"]
    ch4_by_class = {
        c.name: areas_2[c.name] * world.ch4_flux_mg_m2_d[c.name] * T_HA_YR_PER_MG_M2_D * GWP_CH4_AR5
        for c in CLASSES
    }
    ch4 = sum(ch4_by_class.values())
    return {
        "from_epoch": first,
        "to_epoch": last,
        "years": years,
        "delta_c_t_c_yr": delta,
        "removal_pools": list(REMOVAL_POOLS),
        "removals_t_co2e_yr": removals,
        "ch4_t_co2e_yr": ch4,
        "ch4_by_class_t_co2e_yr": ch4_by_class,
        "ch4_class_areas_epoch": last,
        "ch4_flux_mg_m2_d": dict(world.ch4_flux_mg_m2_d),
        "gwp_ch4": GWP_CH4_AR5,
        "net_t_co2e_yr": removals - ch4,
        "removal_pools_without_dom": list(REMOVAL_POOLS_WITHOUT_DOM),
        "removals_without_dom_t_co2e_yr": removals_without_dom,
        "net_without_dom_t_co2e_yr": removals_without_dom - ch4,
    }


def _periods(epochs: dict[str, Any], landscape: Landscape) -> list[dict[str, Any]]:
    """The true change of each consecutive pair of epochs (a survey of three or more)."""
    out = []
    for before, after in itertools.pairwise(landscape.epochs):
        years = (after.spec.date - before.spec.date).days / 365.25
        period = _change(epochs, landscape, before.spec.name, after.spec.name, years)
        s1 = epochs[before.spec.name]["stocks_t_c"]
        s2 = epochs[after.spec.name]["stocks_t_c"]
        stock_change = {key: s2[pool] - s1[pool] for key, pool in _STOCK_OF_DELTA.items()}
        total = sum(stock_change[pool] for pool in REMOVAL_POOLS)
        out.append(
            {
                **period,
                "stock_change_t_c": stock_change,
                "total_stock_change_t_c": total,
            }
        )
    return out


def _planted_loss(landscape: Landscape, ds: xr.Dataset) -> dict[str, Any]:
    """Areas (ha, inside the boundary) of the planted loss of the last period."""
    inside = ds["inside_boundary"].values.astype(bool)
    weights = np.where(inside, landscape.grid.cell_area_ha, 0.0)
    before, after = landscape.epochs[-2].spec.name, landscape.epochs[-1].spec.name
    areas = {
        f"{name}_ha": float(np.sum(weights[landscape.crop(mask)]))
        for name, mask in landscape.disturbed.items()
    }
    return {
        "from_epoch": before,
        "to_epoch": after,
        **areas,
        "felled_regrowth_factor": FELLED_REGROWTH_FACTOR,
        "reed_burn_factor": REED_BURN_FACTOR,
    }


def _soil_world(landscape: Landscape, ds: xr.Dataset) -> dict[str, Any]:
    """The ``soil_world`` block of ``totals.json`` (means over the last epoch's land inside)."""
    world = landscape.soil_world
    names = [e.spec.name for e in landscape.epochs]
    inside = ds["inside_boundary"].values.astype(bool)
    land = inside & (ds["class"].values != CLASS_BY_NAME["water"].code)
    weights = np.where(land, landscape.grid.cell_area_ha, 0.0)
    deposit = float(np.sum(ds["deposit_cm"].values.astype(np.float64) * weights) / weights.sum())
    kappa = np.broadcast_to(landscape.epochs[-1].soil.compaction, landscape.landscape_grid.shape)
    inside_weights = np.where(inside, landscape.grid.cell_area_ha, 0.0)
    compaction = float(np.sum(landscape.crop(kappa) * inside_weights) / inside_weights.sum())
    return {
        "sediment_oc_pct_mean": world.sediment_oc_pct_mean,
        "sediment_bd_g_cm3": world.sediment_bd_g_cm3,
        "compaction": compaction,
        "compaction_depth_cm": COMPACTION_DEPTH_CM,
        "lab_method_bias": world.lab_method_bias,
        "lab_method_bias_epoch": world.lab_method_bias_epoch,
        **({"lab_method_bias_epochs": list(world.biased_epochs(names))} if len(names) > 2 else {}),
        "mean_deposit_cm": deposit,
        "mean_deposition_rate_cm_yr": deposit / landscape.years,
    }


def write_truth(landscape: Landscape, out_dir: Path) -> tuple[list[Path], dict[str, Any]]:
    """Write ``truth_<epoch>.nc`` for each epoch and ``totals.json`` into ``out_dir``.

    Returns
    -------
    paths, totals
        The files written and the totals dictionary.
    """
    datasets = {e.spec.name: truth_dataset(landscape, e) for e in landscape.epochs}
    paths = [write_netcdf(ds, out_dir / f"truth_{name}.nc") for name, ds in datasets.items()]
    summary = totals(landscape, datasets)
    paths.append(write_json(summary, out_dir / "totals.json"))
    return paths, summary
