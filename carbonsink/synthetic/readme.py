"""The README.md written into a synthetic survey: what each file is and how it was made."""

from __future__ import annotations

from typing import Any

from carbonsink.synthetic.fieldwork import (
    ACCRETION_ERROR_SD,
    CHECKPOINT_RTK_SD_M,
    CHECKPOINTS_PER_CLASS,
    dead_matter_plot_count,
    nominal_plot_counts,
)
from carbonsink.synthetic.landscape import (
    ANALYSIS_CRS,
    RESOLUTION_M,
    SOIL_STEP_CM,
    Landscape,
)
from carbonsink.synthetic.lidar import LIDAR_CRS
from carbonsink.synthetic.parameters import (
    CARBON_FRACTION,
    CLASSES,
    DOM_MULTIPLIER_LENGTH_M,
    DOM_MULTIPLIER_LOG_SD,
    DOM_SUBQUADRAT_LOG_SD,
    EPOCHS,
    FELLED_REGROWTH_FACTOR,
    GWP_CH4_AR5,
    REED_BURN_FACTOR,
    Scale,
)
from carbonsink.synthetic.sediment import (
    COMPACTION_DEPTH_CM,
    COMPACTION_MEAN,
    COMPACTION_RANGE,
    DEPOSITION_ELEVATION_M,
    DEPOSITION_LOG_SD,
    DEPOSITION_MAX_CM_YR,
    DEPOSITION_RATE_CM_YR,
    DEPOSITION_SCALE_M,
    GAIN_DECAY_CM,
    LAB_METHOD_BIAS_SD,
    SEDIMENT_BD_G_CM3,
    SEDIMENT_OC_LOG_SD,
    SEDIMENT_OC_MEAN_PCT,
    SEDIMENT_OC_SD_PCT,
)
from carbonsink.synthetic.vegetation import RECOVERY_FACTORS, ZONE_NOISE, ZONE_SHIFT_M
from carbonsink.units import CO2_PER_C

__all__ = ["readme_text"]


_FILES = (
    ("`survey.toml`", "the survey description the pipeline reads", "—"),
    (
        "`boundary.geojson`",
        "project boundary, an irregular lake-shore polygon (RFC 7946)",
        "EPSG:4326",
    ),
    (
        "`imagery/s2_<date>.tif`",
        "Sentinel-2 L2A-like scenes, uint16, bands B02 B03 B04 B05 B06 B07 B08 B8A B11 B12 "
        "SCL, DN = (reflectance + 0.1) × 10000, nodata 0",
        "EPSG:32649",
    ),
    (
        "`lidar/2020/*.laz`",
        "drone LiDAR tiles, LAS 1.2 point format 3, **no CRS record** (given in survey.toml)",
        "EPSG:4547",
    ),
    (
        "`lidar/<later epoch>/*.laz`",
        "drone LiDAR tiles, LAS 1.4 point format 6, WKT CRS VLR",
        "EPSG:4547",
    ),
    (
        "`plots_<epoch>.csv`",
        "biomass plots: `plot_id, lon, lat, agb_g_m2, agb_dead_g_m2, size_m2, veg_class, "
        "date`; `agb_dead_g_m2` (dead organic matter) on about one plot in three, empty "
        "on the others",
        "EPSG:4490",
    ),
    (
        "`soil_<epoch>.csv`",
        "soil-core layers: `core_id, lon, lat, depth_top_cm, depth_bottom_cm, "
        "bulk_density_g_cm3`, `soc_pct` (2020, CHN) or `om_g_kg` (<later>, dichromate 有机质) "
        "and `accretion_cm` (<later>: sediment above the 2020 marker horizon), `method, date`",
        "EPSG:4326",
    ),
    (
        "`landcover_<epoch>.csv`",
        "reference land-cover samples: `x, y, class`",
        "EPSG:32649",
    ),
    (
        "`checkpoints_<epoch>.csv`",
        "RTK GNSS ground checkpoints: `checkpoint_id, x, y, z, class`; `z` the true "
        "ground the LiDAR ground returns lie on plus RTK noise, `class` the true class",
        "EPSG:32649",
    ),
    ("`truth/truth_<epoch>.nc`", "true per-pixel layers on the analysis grid", "EPSG:32649"),
    ("`truth/totals.json`", "true totals inside the boundary and the true sink", "—"),
)


def _file_table(later: list[str]) -> str:
    """The table of files; ``later`` the epochs after the first (the LiDAR row is per epoch)."""
    rows = ["| file | what | CRS |", "|---|---|---|"]
    for name, what, crs in _FILES:
        for epoch in later if "<later epoch>" in name else [""]:
            text = what.replace("<later>", " and ".join(later))
            rows.append(f"| {name.replace('<later epoch>', epoch)} | {text} | {crs} |")
    return "\n".join(rows)


def _class_table() -> str:
    dom_header = " / ".join(e.name for e in EPOCHS)
    rows = [
        "| code | class | AGB mean (Mg DM/ha) | height (m) | R (root:shoot) | CF | "
        "CH4 (mg m⁻² d⁻¹) | surface SOC (%) | 0–30 cm SOC gain (Mg C/ha/yr) | "
        f"DOM:AGB r {dom_header} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in CLASSES:
        low, high = c.height_range_m
        rows.append(
            f"| {c.code} | {c.name} | {c.agb_mean_mg_ha:g} | {low:g}–{high:g} | "
            f"{c.root_shoot:g} | {c.carbon_fraction:g} | {c.ch4_flux_mg_m2_d:g} | "
            f"{c.soc_surface_pct:g} | {c.soc_gain_mg_ha_yr:g} | "
            f"{' / '.join(f'{r:g}' for r in c.dom_ratio)} |"
        )
    return "\n".join(rows)


def _carbon_world_note(landscape: Landscape) -> str:
    """A paragraph on a drawn carbon world (empty for the stated values)."""
    world = landscape.carbon
    if not world.drawn:
        return ""
    ratios = ", ".join(f"{name} {value:.3f}" for name, value in world.root_shoot.items())
    fluxes = ", ".join(f"{name} {value:.2f}" for name, value in world.ch4_flux_mg_m2_d.items())
    return (
        "\n\n**Drawn carbon parameters.** This survey's truth does not use the tabled CF, R "
        "and CH4 fluxes but values drawn for the seed from the priors survey.toml states "
        "(`carbonsink.synthetic.carbon_world`; `carbon_world` in truth/totals.json): "
        f"CF {world.carbon_fraction:.4f}; R {ratios}; CH4 (mg m⁻² d⁻¹) {fluxes}."
    )


def _options_note(landscape: Landscape) -> str:
    """The generator options beyond seed and scale (empty for the default two epochs)."""
    if len(landscape.epochs) < 3:
        return ""
    loss = " and the planted loss (`--planted-loss`)" if landscape.planted_loss else ""
    return f", with a third epoch (`--epochs 3`){loss}"


def _revisit_text(later: list[str], first: str) -> str:
    """Which cores revisit which sites: 60 % of each later epoch's, the previous epoch's."""
    previous = [first, *later[:-1]]
    parts = [
        f"60 % of the {name} cores revisit {before} sites"
        if k == 0
        else f"60 % of the {name} cores {before} sites"
        for k, (name, before) in enumerate(zip(later, previous, strict=True))
    ]
    return " and ".join(parts)


def _third_epoch_note(landscape: Landscape) -> str:
    """The paragraph on the third epoch (empty for a two-epoch survey)."""
    if len(landscape.epochs) < 3:
        return ""
    first, second, third = (e.spec for e in landscape.epochs[:3])
    gap = third.date.year - second.date.year
    (_, w1), (_, w2) = ZONE_NOISE
    shift = round(100 * (ZONE_SHIFT_M[1] - ZONE_SHIFT_M[2]))
    a, b, c = first.name, second.name, third.name
    return f"""

**Third epoch ({c}).** {c} continues {b} as {b} continued {a}. The terrain
rises by `Δz = {gap} yr × 8 mm/yr × e^(−(z_{b} − 24)/2.5)`; the zone thresholds
shift {shift} cm further lakewards and another small noise field (weight {w2:g} m
beside {b}'s {w1:g} m, its own random stream) moves the zone edges; the lake
stands at {third.water_level_m:g} m. Herbaceous AGB gets its own year multiplier, poplar
keeps growing (≈ 3 Mg/ha/yr since {a}) and the stands cleared by {b} reach
{_pct(RECOVERY_FACTORS[2])} of their new class's biomass; DOM keeps the {b} dead:live ratios.
The soil model runs on for the {gap} years: more of the same sediment on the
deposit (`d` by {c} = `d` by {b} + years × rate, the rate of the same field on
the {b} elevation; `d`, `deposit_cm` and `accretion_cm` stay the total since
the {a} marker horizon), no further compaction, and `a` calibrated so that the
reference material holds the {b} gain plus years × rate (the mean of the {b}
and {c} classes' rates, × the same lognormal field). The {c} samples go to
the {b} dichromate lab (the same `b`). The {c} LiDAR strip is flown 15 m
east and 10 m south of {a}'s, turned 2° anticlockwise ({b}'s: 15 m west, 10 m
north, 2° clockwise). The {c} epoch draws only from random streams of its
own: the files of {a} and {b} are those of the two-epoch survey."""


def _planted_loss_note(landscape: Landscape, totals: dict[str, Any]) -> str:
    """The paragraph on the planted loss (empty without it)."""
    if not landscape.planted_loss:
        return ""
    loss = totals["planted_loss"]
    before, after = loss["from_epoch"], loss["to_epoch"]
    period = next(p for p in totals["periods"] if p["to_epoch"] == after)
    total = period["total_stock_change_t_c"]
    outcome = (
        "it falls, and the period's net removals are negative: a reversal"
        if total < 0
        else "on this seed it still rises, the soil's gain outweighing the loss"
    )
    return f"""

**Planted loss** (`--planted-loss`). Between {before} and {after} every poplar
stand is clear-felled ({loss["felled_ha"]:.1f} ha inside the boundary: the reserve's
order to take the plantations out of the wetland), and a late-summer drought
fire burns the reed beds ({loss["burnt_ha"]:.1f} ha). A felled cell is sedge where the
noisy elevation is below 28 m and bare ground (class mudflat) above, with
{_pct(FELLED_REGROWTH_FACTOR)} of that class's biomass (one season of sparse regrowth); a burnt
reed cell keeps {_pct(REED_BURN_FACTOR)} of the AGB and of the canopy height it would have
unburnt (charred stubble), and its dead organic matter (`r × AGB × m`) burns
with it. The true carbon stock (AGB, BGB, DOM and autochthonous SOC 0–100 cm)
changes by {total:+.1f} t C over the period: {outcome}."""


def _pct(fraction: float) -> str:
    """A fraction as a percentage, the survey's way (``0.25`` → ``25 %``)."""
    return f"{100 * fraction:g} %"


def _periods_text(totals: dict[str, Any]) -> str:
    """The table of true per-period changes (empty for a two-epoch survey)."""
    if "periods" not in totals:
        return ""
    rows = []
    for p in totals["periods"]:
        change = p["stock_change_t_c"]
        rows.append(
            f"| {p['from_epoch']}→{p['to_epoch']} | {p['years']:.4f} | {change['agb_c']:+.1f} | "
            f"{change['bgb_c']:+.1f} | {change['dom_c']:+.1f} | {change['soc_0_100']:+.1f} | "
            f"**{p['total_stock_change_t_c']:+.1f}** | {p['removals_t_co2e_yr']:.1f} | "
            f"{p['ch4_t_co2e_yr']:.1f} | {p['net_t_co2e_yr']:.1f} |"
        )
    table = "\n".join(rows)
    return f"""

**Monitoring periods** (`periods` in `truth/totals.json`: each consecutive
pair of epochs, with the same definitions as the sink over the period's years,
CH4 from the class areas of its later epoch). Stock changes in t C, the soil
the autochthonous change 0–100 cm; the periods' stock changes add up to the
change from the first epoch to the last.

| period | years | ΔAGB C | ΔBGB C | ΔDOM C | ΔSOC 0–100 | total | removals (t CO2e/yr) | \
CH4 (t CO2e/yr) | net (t CO2e/yr) |
|---|---|---|---|---|---|---|---|---|---|
{table}"""


def readme_text(
    landscape: Landscape, *, scale: Scale, totals: dict[str, Any], design_note: str = ""
) -> str:
    """Markdown describing the survey, its generative model and its truth.

    Parameters
    ----------
    landscape
        The truth the survey was generated from.
    scale
        The survey size name.
    totals
        The content of ``truth/totals.json``.
    design_note
        A paragraph on the sampling design the last epoch was sampled at
        (:func:`~carbonsink.synthetic.design_points.design_note`), after the
        field data's; empty without one.

    Returns
    -------
    str
        The README text (deterministic for a seed and scale).
    """
    grid = landscape.grid
    first, last = (e.spec for e in landscape.epochs[:1] + landscape.epochs[-1:])
    second = landscape.epochs[1].spec
    later = [e.spec.name for e in landscape.epochs[1:]]
    later_text = " and ".join(later)
    third = len(landscape.epochs) > 2
    sink = totals["sink"]
    epochs_rows = "\n".join(
        f"| {e.spec.name} | {e.spec.date.isoformat()} | "
        f"{', '.join(d.isoformat() for d in e.spec.image_dates)} | {e.spec.water_level_m:g} m |"
        for e in landscape.epochs
    )
    stock_rows = "\n".join(
        f"| {name} | {v['area_ha']['total']:.2f} | {v['stocks_t_c']['agb_c']:.1f} | "
        f"{v['stocks_t_c']['bgb_c']:.1f} | {v['stocks_t_c']['dom_c']:.1f} | "
        f"{v['stocks_t_c']['soc_0_30']:.1f} | {v['stocks_t_c']['soc_0_100']:.1f} |"
        for name, v in totals["epochs"].items()
    )
    nominal = nominal_plot_counts(landscape.scale.n_plots)
    dead_plots = {name: dead_matter_plot_count(n) for name, n in nominal.items()}
    dead_text = ", ".join(f"{name} {n}" for name, n in dead_plots.items())
    land_classes = [c.name for c in CLASSES if c.name != "water"]
    checkpoint_classes = ", ".join(land_classes)
    world = totals["soil_world"]
    rate_formula = (
        f"`rate = {DEPOSITION_RATE_CM_YR:g} × exp(−(z − {DEPOSITION_ELEVATION_M:g} m)"
        f"/{DEPOSITION_SCALE_M:g} m) × M`"
    )
    stock_header = (
        "| epoch | area (ha) | AGB C (t) | BGB C (t) | DOM C (t) | "
        "SOC 0–30 fixed depth (t) | SOC 0–100 fixed depth (t) |"
    )
    delta = sink["delta_c_t_c_yr"]
    return f"""# Junshan wetland demonstration (synthetic)

A synthetic survey of a Junshan-like freshwater floodplain on East Dongting
Lake (Yueyang, Hunan; ~113.07°E 29.41°N), written by `carbonsink.synthetic`
(`carbonsink sample-data`) with seed **{landscape.seed}** at scale
**{scale}**{_options_note(landscape)}. Every input \
is generated from a known truth, which is written in
`truth/` so that the pipeline's estimates can be scored. The same seed and
scale always give byte-identical files. Nothing here is real data.

Analysis grid: {ANALYSIS_CRS} (WGS 84 / UTM 49N), {RESOLUTION_M:g} m cells,
{grid.height} rows × {grid.width} columns, bounds {tuple(round(b) for b in grid.bounds)}.

## Files

{_file_table(later)}

EPSG:4547 is CGCS2000 / 3-degree Gauss-Kruger CM 114E; EPSG:4490 is CGCS2000
geographic. Heights everywhere are on the Yellow Sea 1985 datum.

## Epochs

| epoch | reference date | image dates | lake level |
|---|---|---|---|
{epochs_rows}

## Generative model

**Landscape.** Elevation rises from ≈ 24 m at the lake (west-south-west) to
≈ 32 m upland: `z = 24 + 8 s^1.2 + 0.6 F₁ + 0.15 F₂` (`s` the normalised
distance from the lake, `F` unit Gaussian random fields made by filtering
white noise, correlation lengths 300 m and 50 m), with meandering channels up
to 2.5 m deep carved in. The terrain rises by up to ≈ 4 cm by 2025
(`Δz = 5 yr × 8 mm/yr × e^(−(z − 24)/2.5)`, a smooth function of
elevation; the soil's own deposit and compaction are described under
**Soil**).
Water lies below the lake level; above it the classes are zoned on a noisy
elevation (mudflat < 25.9 m < sedge < 27.6 m < reed / miscanthus < 30.2 m <
poplar), plus rectangular poplar plantations on the 27–30 m beach. Three of
every four plantations were cleared between the epochs and recover as sedge
(below 28 m) or miscanthus at 75 % of their biomass; remaining poplar grows
≈ 3 Mg/ha/yr. Zone edges shift slightly between epochs.

{_class_table()}

**Biomass.** True AGB = class mean × spatially correlated lognormal
multiplier × year multiplier × `exp(b (z − z_class))` (within-class
elevation dependence), normalised so the class mean over the landscape is the
tabled value; poplar 55–125 Mg/ha in 2020. Canopy height rises non-linearly
(saturating) with AGB relative to the class mean, with a noise field, inside
the class's height range. LAI = min(LAI_max, c × AGB); fractional cover
`1 − exp(−0.5 LAI)` saturates in dense reed. Vegetation carbon
`C_veg = AGB × CF × (1 + R)` with CF = {CARBON_FRACTION} and R per class
(table; the same values are in survey.toml's `[vegetation]`).{_carbon_world_note(landscape)}

**Dead organic matter** (DOM: litter and standing dead, Mg DM/ha; a
generator choice, [U]). `DOM = r × AGB × m`, with `r` the class's dead:live
ratio of the epoch (table, column DOM:AGB) and `m = exp(σ F − σ²/2)` a
lognormal multiplier of mean 1 (σ = {DOM_MULTIPLIER_LOG_SD:g}, correlation
length {DOM_MULTIPLIER_LENGTH_M:g} m, its own random field), the same field in
both epochs. September ratios of a Dongting floodplain: none on open water, a
thin drift-litter film on mudflat, litter under the short-lived sedge canopy,
standing dead culms and litter in the reed and Miscanthus beds, poplar litter
and dead wood (small relative to a large live stock). By {second.name} the
recovering reed and Miscanthus beds, no longer cut in winter, carry 20 % more
standing dead, so the DOM change is not just the AGB change: where a cell
keeps its class its dead:live ratio changes by exactly
r_{second.name} / r_{first.name} (1.2 in reed and Miscanthus, 1 elsewhere). Cleared
poplar stands take the ratio of the class they recover as. DOM carbon =
DOM × CF (CF = {CARBON_FRACTION}); `C_veg` above is live vegetation only.

**Soil.** In {first.name}, `OC(z) = OC_deep + (OC_0 − OC_deep) e^(−z/λ)` with a
class- and elevation-dependent surface value plus a 200 m residual field that
no covariate explains (0.8–4 %), `OC_deep` ≈ 0.55 %; bulk density rises from
0.8–1.2 at the surface to 1.3–1.5 g/cm³ at depth (`e^(−z/30)`).

**Deposition, compaction and carbon gain to {second.name}** (a depositional
floodplain). By {second.name} a layer of new sediment of thickness
`d = years × rate` lies on the {first.name} surface, with
{rate_formula}
cm/yr (`z` the {first.name} elevation, `M` a mean-one lognormal field, SD of
log {DEPOSITION_LOG_SD:g}, 100 m correlation; clipped to
0–{DEPOSITION_MAX_CM_YR:g} cm/yr): on this seed a mean of
{world["mean_deposit_cm"]:.2f} cm{f" by {last.name}" if third else ""} \
({world["mean_deposition_rate_cm_yr"]:.2f} cm/yr) over the
land inside the boundary, more under open water. The sediment has bulk
density {SEDIMENT_BD_G_CM3:g} g/cm³ and organic carbon `OC_sed = μ_sed × M'` (`M'` a
mean-one lognormal field, SD of log {SEDIMENT_OC_LOG_SD:g}), μ_sed the world's
mean, drawn once per seed from N({SEDIMENT_OC_MEAN_PCT:g}, {SEDIMENT_OC_SD_PCT:g}²) %
(here {world["sediment_oc_pct_mean"]:.3f} %). That carbon is **allochthonous** —
made elsewhere and brought by the floods, not removed from the atmosphere by
the project: `C_allo = d × BD_sed × OC_sed` Mg C/ha (1 cm × 1 g/cm³ × 1 % =
1 Mg C/ha). The old profile is compacted under the new load: a layer at old
depth ζ loses the fraction `κ e^(−ζ/{COMPACTION_DEPTH_CM:g} cm)` of its thickness, its mass and
OC % unchanged (its BD rises by `1/(1 − κ e^(−ζ/{COMPACTION_DEPTH_CM:g}))`), with κ a 200 m
field of mean {COMPACTION_MEAN:g} in {COMPACTION_RANGE[0]:g}–{COMPACTION_RANGE[1]:g}
(mean {world["compaction"]:.4f} here), so old depth ζ now lies at
`z = d + ζ − {COMPACTION_DEPTH_CM:g} κ (1 − e^(−ζ/{COMPACTION_DEPTH_CM:g}))`. Autochthonous carbon
`a e^(−z/{GAIN_DECAY_CM:g})` is added to OC %, `z` below the new surface (so it also grows
into the sediment), with `a` set so that the carbon gained in the **reference
material** — the {first.name} 0–30 cm material plus the sediment deposited on
it, the new depths 0 … z(30) — is years × rate (table; mean of the two epochs'
classes, × a lognormal field). A fixed-depth comparison therefore counts the
sediment's carbon and the compaction (the {second.name} 0–30 cm holds the
sediment and less of the old profile, at a higher BD); an equivalent-soil-mass
comparison that deducts the allochthonous carbon finds the autochthonous
gain. True stocks sum `OC % × BD × Δz` over layers of at most
{SOIL_STEP_CM:g} cm, the sediment and the old material apart.{_third_epoch_note(landscape)}\
{_planted_loss_note(landscape, totals)}

**Imagery.** Reflectance = fc × canopy + (1 − fc) × background (wet/dry mud)
with NIR rising and saturating with LAI and a senescent fraction per class;
turbid water is dark in NIR/SWIR (MNDWI separates it). Each scene has its own
clouds (SCL 8/9, bright), shadows 150 m to the north-west (SCL 3, dark),
sensor noise and a 10-day phenology step; 20 m bands are 2 × 2 averages.
Tags: PROCESSING_BASELINE=05.09, BOA_ADD_OFFSET=-1000,
QUANTIFICATION_VALUE=10000, SENSING_DATE.

**LiDAR.** A rotated flight strip (south-west to north-east, across the
elevation gradient from the lake edge to the upland) covering
≈ {landscape.scale.lidar_cover_fraction:.0%} of the boundary's area (not
aligned to it), flown in 60 m swaths at
{landscape.scale.pulse_density_m2:g} pulses/m². Ground returns lie on the
true terrain with 3 cm noise; vegetation returns are spread through the
canopy up to the true height (multiple returns, ordered by height); pulses
on open water return rarely (12 %), flat at the lake level (8 mm noise).
The ground-return probability falls with LAI, so dense marsh grass hides
the ground. Coordinates transformed with pyproj to {LIDAR_CRS}; scale 0.01 m.
**Every point has classification 1 (unassigned); the true kind of each
return is in `user_data`: 0 ground, 1 vegetation, 2 water.**

**Field data.** ~{landscape.scale.n_plots} plots per epoch stratified over
the vegetated classes, a third inside the LiDAR block: 1 m² clip plots
(herbaceous, mudflat) and 400 m² poplar inventory plots; `agb_g_m2` = true
cell AGB × 100 × lognormal within-cell heterogeneity (SD of log 0.3; 0.1 for
poplar) × 3 % weighing error; positions carry a 2 m handheld-GNSS error
(plots lie at least 10 m inside the boundary). On about one plot in three
— max(5, round(n/3)) of a class's n plots, all of them when it has fewer;
nominally {sum(dead_plots.values())} plots per epoch:
{dead_text} — litter and standing dead are also collected
in a sub-quadrat and weighed dry: `agb_dead_g_m2` = true cell DOM × 100 ×
the same within-cell heterogeneity factor as the plot's live clip (dead and
live of one quadrat are correlated) × the sub-quadrat's own lognormal
heterogeneity (SD of log {DOM_SUBQUADRAT_LOG_SD:g}) × 3 % weighing error. The
other plots leave `agb_dead_g_m2` empty (not measured, not 0). So few
dead-matter plots suit a per-class dead:live ratio (with its standard error)
better than a model; poplar and mudflat have only ~5 such plots each, so a
pooled ratio (e.g. poplar with the other classes, or over both epochs) is
acceptable there.
{landscape.scale.n_cores} soil cores per epoch (layers 0–10, 10–20, 20–30,
30–50, 50–70, 70–100 cm; 15 % stop at 50 or 70 cm) sample the cell's true
profile × a micro-site factor, with lab error (BD 5 %, CHN 3 %, dichromate
6 %); {later_text} report{"" if third else "s"} organic matter \
`om_g_kg = OC % × (1 + b) × 10 × 1.724`, with
`b` the dichromate lab's relative method bias, common to every {later_text} sample
and drawn once per seed from N(0, {LAB_METHOD_BIAS_SD:g}²) (b = {world["lab_method_bias"]:+.4f}
here, in `truth/totals.json`; the {first.name} CHN lab is unbiased). {later_text}
cores also record `accretion_cm`, the sediment above a marker horizon laid at
the {first.name} survey: true `d` × (1 + {ACCRETION_ERROR_SD:g} Z), at least 0, to
0.1 cm (one value per core, repeated on its layers). Cores are taken on land
only. {_revisit_text(later, first.name)}. {landscape.scale.n_samples}
land-cover samples per epoch, stratified by true class.
RTK ground checkpoints per epoch
(`checkpoints_<epoch>.csv`, x/y/z in m, {ANALYSIS_CRS}, heights on the point
clouds' datum): a surveyor walks each land class inside the epoch's LiDAR
block with an RTK GNSS rover, {CHECKPOINTS_PER_CLASS} points per class
({checkpoint_classes}; none on water; fewer, or none, where the block holds
fewer cells of a class), at random inside the boundary and the block, each in
a distinct cell of that class.
`class` is the **true** class of the point's cell. `z` is the true ground
the LiDAR ground returns come from — the epoch's elevation interpolated
bilinearly at (x, y) between the 10 m cell centres, the very surface the
simulator puts its ground returns on (before their 3 cm noise) — plus RTK
noise of SD {CHECKPOINT_RTK_SD_M * 100:g} cm (N(0, {CHECKPOINT_RTK_SD_M:g}²) m),
independent per point; x, y and z are rounded to 1 mm. They let the pipeline
measure how far its terrain model lies above the true ground under each
vegetation class.{design_note}

## Truth

`truth/truth_<epoch>.nc`: `class` (1 water, 2 mudflat, 3 sedge, 4 reed,
5 miscanthus, 6 poplar), `elevation_m`, `canopy_height_m`, `agb_mg_ha`,
`bgb_mg_ha`, `veg_c_mg_ha`, `dom_mg_ha` (dead organic matter, Mg DM/ha),
`soc_0_30_mg_ha`, `soc_0_100_mg_ha` (fixed-depth stocks below the epoch's
surface), `soc_gain_0_30_mg_ha`, `soc_gain_0_100_mg_ha` (autochthonous carbon
gained since {first.name} in the reference material — the {first.name} 0–30 /
0–100 cm material plus the sediment deposited on it; 0 in {first.name}),
`soc_allochthonous_mg_ha` (`d × BD_sed × OC_sed`; 0 in {first.name}),
`deposit_cm` (`d`; 0 in {first.name}),
`soc_surface_pct`, `lai`, `fractional_cover`, `water_mask` (at the image
dates), `inside_boundary` (cell centre inside the boundary), `lidar_coverage`
(cell centre inside the flight block).

`truth/totals.json`, inside the boundary with true cell areas
(`Grid.cell_area_ha`), from the float32 values in the NetCDF files:

- class areas (ha); pool totals in t C (`stocks_t_c`): `agb_c = Σ A·AGB·CF`,
  `bgb_c = Σ A·BGB·CF`, `veg_c` (live AGB + BGB), `dom_c = Σ A·DOM·CF` (dead
  organic matter), `soc_0_30`, `soc_0_100` (fixed depth), `soc_gain_0_30`,
  `soc_gain_0_100` (autochthonous gain), `soc_allochthonous`; AGB (t DM)
  inside and outside the LiDAR block;
- `ΔC_pool = (stock_{last.name} − stock_{first.name}) / years` (`delta_c_t_c_yr`,
  every pool including `dom_c`), years = days between the reference dates /
  365.25 = {sink["years"]:.4f}; the soil pools `soc_0_30` and `soc_0_100` are
  the **true autochthonous change** (Δ`soc_gain` / years) — what a ledger must
  find; `soc_0_30_fixed_depth` and `soc_0_100_fixed_depth` are the fixed-depth
  stock changes and `soc_allochthonous` the sediment's carbon, per year;
- removals = 44/12 × (ΔC_agb + ΔC_bgb + ΔC_soc_0_100 + ΔC_dom) (t CO2e/yr);
- CH4 = Σ_class area_{last.name} × flux × 365 × 1e-5 × {GWP_CH4_AR5:g} (AR5)
  (t CO2e/yr), using the {last.name} class areas;
- net = removals − CH4;
- for a ledger that does not count dead organic matter:
  `removals_without_dom_t_co2e_yr` = 44/12 × (ΔC_agb + ΔC_bgb + ΔC_soc_0_100)
  and `net_without_dom_t_co2e_yr` = that − CH4;
- `soil_world`: μ_sed (`sediment_oc_pct_mean`), BD_sed, mean κ
  (`compaction`), the lab-method bias `b` and its epoch, and the mean deposit
  of the land inside the boundary.

{stock_header}
|---|---|---|---|---|---|---|
{stock_rows}

Soil 0–100 cm: autochthonous change {delta["soc_0_100"]:+.1f} t C/yr (counted in the
removals); fixed-depth change {delta["soc_0_100_fixed_depth"]:+.1f} t C/yr; allochthonous
carbon deposited {delta["soc_allochthonous"]:+.1f} t C/yr (0–30 cm: autochthonous
{delta["soc_0_30"]:+.1f}, fixed depth {delta["soc_0_30_fixed_depth"]:+.1f} t C/yr).
True dead-organic-matter change ΔC_dom = {sink["delta_c_t_c_yr"]["dom_c"]:+.2f} t C/yr
({CO2_PER_C * sink["delta_c_t_c_yr"]["dom_c"]:+.1f} t CO2e/yr).
True sink {first.name}→{last.name}: removals {sink["removals_t_co2e_yr"]:.1f} t CO2e/yr,
CH4 {sink["ch4_t_co2e_yr"]:.1f} t CO2e/yr, **net {sink["net_t_co2e_yr"]:.1f} t CO2e/yr**;
without dead organic matter: removals {sink["removals_without_dom_t_co2e_yr"]:.1f},
net {sink["net_without_dom_t_co2e_yr"]:.1f} t CO2e/yr.
Peak herbaceous AGB is a stock that dies back each year, not an annual sink:
only the change between the epochs counts.{_periods_text(totals)}
"""
