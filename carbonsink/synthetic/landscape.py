"""The true landscape: boundary, terrain, classes, biomass and soil of two or three epochs.

Generative model (all fields on the *landscape grid*, the imagery extent: the
analysis grid grown by a margin and snapped to 20 m so Sentinel-2's 20 m bands
nest in it):

1. **Boundary.** A star-shaped, irregular lake-shore outline: a super-ellipse
   whose radius is modulated by random harmonics (orders 2–15). It is written
   in EPSG:4326 rounded to 1e-7°; the polygon used everywhere else is that
   rounded outline projected back to EPSG:32649, exactly what a reader of
   ``boundary.geojson`` gets.
2. **Elevation** (m, Yellow Sea 1985). ``z = 24 + 8 s^1.2 + 0.6 F₁ + 0.15 F₂``
   where ``s ∈ [0, 1]`` runs from the lake (west-south-west) to the upland
   and ``F`` are unit Gaussian random fields (correlation lengths 300 m and
   50 m). Meandering channels (sine meanders of random phase) are carved in
   with a Gaussian cross-section up to 2.5 m deep, shallowing inland.
   Between epochs sediment is deposited: ``Δz = 5 yr × 8 mm/yr × exp(−(z−24)/2.5)``
   (to 2028, ``3 yr × 8 mm/yr × exp(−(z₂₀₂₅−24)/2.5)`` on the 2025 terrain).
3. **Classes.** Water where ``z`` is below the epoch's lake level; above it
   the classes are zoned on a noisy elevation ``z + 0.35 F₃`` (mudflat <
   25.9 m < sedge < 27.6 m < reed/miscanthus < 30.2 m < poplar; reed in the
   wetter part of the tall-grass belt, split by a second field) plus
   rectangular poplar plantations in the 27–30 m belt. By 2025 most
   plantations are cleared and recover as sedge (below 28 m) or miscanthus,
   the thresholds shift by a few centimetres and a small new noise field
   moves the zone edges; a third epoch (2028) shifts them 3 cm further and
   adds another small field (:mod:`~carbonsink.synthetic.vegetation`).
4. **AGB** (Mg DM/ha). ``AGB = m_c × M × Y × exp(b_c (z − z_c)) / k_c`` with
   ``m_c`` the class mean (:data:`~carbonsink.synthetic.parameters.CLASSES`),
   ``M = exp(σ_c F₄)`` a persistent lognormal multiplier (60 m
   correlation), ``Y`` a year-to-year multiplier (SD of log 0.1), ``b_c`` the
   within-class elevation slope about the class median elevation ``z_c`` and
   ``k_c`` the mean of ``M × Y × exp(b_c (z − z_c))`` over the class's cells
   of the landscape grid, so that the class mean there is exactly ``m_c``
   (mudflat is then capped at 2 Mg/ha). Poplar: 85 Mg/ha × a
   lognormal multiplier, clipped to 55–125, growing 3 Mg/ha/yr to 2025
   (and on to 2028); cleared stands recover at 75 % of the new class's
   biomass by 2025 and 90 % by 2028.
5. **Canopy height** rises non-linearly and saturating with ``AGB / m_c``
   inside the class's height range, times a lognormal noise field; **LAI** is
   ``min(lai_max, lai_per_agb × AGB)`` and fractional cover
   ``1 − exp(−0.5 LAI)`` (which saturates in dense reed).
6. **Soil** (:mod:`~carbonsink.synthetic.sediment`). In 2020
   ``OC(z) = OC_deep + (OC_0 − OC_deep) exp(−z/λ_c)`` with
   ``OC_0 = OC_c − 0.08 (z_elev − 27) + 0.45 R`` (``R`` a 200 m residual
   field no covariate explains) and ``BD(z) = BD_deep − (BD_deep − BD_0)
   exp(−z/30)``. By 2025 a sediment layer of ``d = years × rate`` cm
   (``rate = 0.6 exp(−(z_elev − 26)/1.2)`` cm/yr × a lognormal field,
   ≤ 2 cm/yr; BD 0.85 g/cm³, allochthonous OC ≈ 1.2 %) lies on the old
   profile, which is compacted (old depth ``ζ`` loses ``κ e^{−ζ/20}`` of
   its thickness, ``κ ≈ 0.05``, mass kept), and carbon accumulates as
   ``a exp(−z/12)`` below the new surface with ``a`` set so that the
   autochthonous gain of the 2020 0–30 cm material plus the deposit equals
   ``years × r`` Mg C/ha, ``r`` the mean of the two epochs' class rates times
   a lognormal field. Stocks are ``Σ OC × BD × Δz`` on layers of at most
   0.5 cm (docs/methodology.md §3). The terrain's rise (item 2) is its own
   smooth function of elevation, not tied to ``d``.
7. **Dead organic matter** (Mg DM/ha). ``DOM = r_c × AGB × m`` with a per-class
   and per-epoch dead:live ratio and a persistent mean-one lognormal field
   (:mod:`~carbonsink.synthetic.dead_matter`).
8. **Third epoch** (``epochs=3``). 2028 continues 2025 as 2025 continued
   2020: terrain (item 2), zoning (item 3), poplar growth and recovery (item
   4), soil (item 6: :func:`~carbonsink.synthetic.sediment.later_epoch_soil`,
   three more years of deposit and gain on the 2025 profile) and DOM (item 7,
   the 2025 ratios). Its own random fields (``zone_noise_2028``,
   ``agb_year_2028``) come from new streams, so the first two epochs are the
   same as in a two-epoch survey. **Planted loss** (``planted_loss=True``):
   between 2025 and 2028 every poplar cell is clear-felled
   (:func:`~carbonsink.synthetic.vegetation.fell_poplar`; sedge below 28 m,
   bare ground — mudflat — above, at
   :data:`~carbonsink.synthetic.parameters.FELLED_REGROWTH_FACTOR` of that
   class's biomass) and every reed bed burns (AGB and canopy height ×
   :data:`~carbonsink.synthetic.parameters.REED_BURN_FACTOR`; its DOM, ``r ×
   AGB × m``, burns with it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from carbonsink.grid import Grid
from carbonsink.synthetic.carbon_world import (
    CarbonWorld,
    draw_carbon_world,
    nominal_carbon_world,
)
from carbonsink.synthetic.dead_matter import dom_density, dom_multiplier
from carbonsink.synthetic.parameters import (
    CLASS_BY_NAME,
    EPOCHS,
    FELLED_REGROWTH_FACTOR,
    REED_BURN_FACTOR,
    EpochSpec,
    ScaleSpec,
    epoch_specs,
)
from carbonsink.synthetic.random_fields import gaussian_field, named_stream
from carbonsink.synthetic.sediment import (
    SOIL_STEP_CM,
    SoilProfile,
    SoilWorld,
    draw_soil_world,
    first_epoch_soil,
    later_epoch_soil,
    second_epoch_soil,
)
from carbonsink.synthetic.vegetation import (
    CANOPY_EXTINCTION,
    RECOVERY_FACTORS,
    canopy_height,
    fell_poplar,
    leaf_area_index,
    senescence,
    true_agb,
    wetness,
    zone_classes,
)

__all__ = [
    "ANALYSIS_CRS",
    "CANOPY_EXTINCTION",
    "SOIL_STEP_CM",
    "EpochTruth",
    "Landscape",
    "SoilProfile",
    "SoilWorld",
    "build_landscape",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Analysis CRS of the synthetic survey: WGS 84 / UTM zone 49N.
ANALYSIS_CRS: Final = "EPSG:32649"
#: Analysis grid cell size, m.
RESOLUTION_M: Final = 10.0
#: Margin of the landscape (imagery) grid around the analysis grid, m.
MARGIN_M: Final = 200.0
#: Terrain rise between epochs, ``years × 8 mm/yr × exp(−(z − 24)/2.5)`` m.
_TERRAIN_RISE_M_YR = 0.008


@dataclass(frozen=True)
class EpochTruth:
    """The true state of one epoch on the landscape grid."""

    spec: EpochSpec
    elevation_m: FloatArray
    class_code: npt.NDArray[np.int8]
    agb_mg_ha: FloatArray
    canopy_height_m: FloatArray
    lai: FloatArray
    fractional_cover: FloatArray
    senescence: FloatArray
    wetness: FloatArray
    soil: SoilProfile
    soc_0_30_mg_ha: FloatArray  # fixed-depth stocks below the epoch's surface
    soc_0_100_mg_ha: FloatArray
    lidar_block: Polygon
    dom_mg_ha: FloatArray  # dead organic matter (litter, standing dead), Mg DM/ha
    # Autochthonous carbon gained since the first epoch in the reference material
    # (the first epoch's 0–30 / 0–100 cm plus the deposit), Mg C/ha; 0 in the first.
    soc_gain_0_30_mg_ha: FloatArray
    soc_gain_0_100_mg_ha: FloatArray
    soc_allochthonous_mg_ha: FloatArray  # carbon of the deposited sediment, Mg C/ha
    deposit_cm: FloatArray  # sediment deposited since the first epoch, cm

    @property
    def water_mask(self) -> npt.NDArray[np.bool_]:
        """Open water at the epoch's image dates (below the lake level)."""
        return np.asarray(self.class_code == CLASS_BY_NAME["water"].code)


@dataclass(frozen=True)
class Landscape:
    """The whole synthetic truth.

    Parameters
    ----------
    seed
        Survey seed.
    scale
        Size and sampling densities of the survey.
    landscape_grid
        The imagery extent; every truth field is on this grid.
    grid
        The analysis grid, ``Grid.from_boundary(boundary, crs="EPSG:32649", resolution=10)``.
    window
        ``(row_off, col_off, height, width)`` of ``grid`` inside ``landscape_grid``.
    boundary
        Project boundary in EPSG:32649 (the round trip of ``boundary_lonlat``).
    boundary_lonlat
        Project boundary in EPSG:4326, counter-clockwise (RFC 7946).
    epochs
        True state per epoch, in time order.
    soil_world
        The soil parameters drawn once per seed (sediment, compaction, lab bias).
    carbon
        The carbon fraction, root:shoot ratios and CH4 fluxes of the truth
        (:mod:`~carbonsink.synthetic.carbon_world`).
    disturbed
        The planted loss of a three-epoch survey, empty without it: ``"felled"``
        (poplar cells clear-felled between 2025 and 2028) and ``"burnt"`` (reed
        cells burnt), masks on the landscape grid.
    """

    seed: int
    scale: ScaleSpec
    landscape_grid: Grid
    grid: Grid
    window: tuple[int, int, int, int]
    boundary: Polygon
    boundary_lonlat: Polygon
    epochs: tuple[EpochTruth, ...]
    soil_world: SoilWorld
    carbon: CarbonWorld
    disturbed: Mapping[str, BoolArray] = field(default_factory=dict)

    def crop(self, values: npt.NDArray) -> npt.NDArray:
        """Crop a landscape-grid array to the analysis grid."""
        r, c, h, w = self.window
        return values[r : r + h, c : c + w]

    @property
    def years(self) -> float:
        """Time between the first and the last epoch's reference dates in years of 365.25 days."""
        return (self.epochs[-1].spec.date - self.epochs[0].spec.date).days / 365.25

    @property
    def planted_loss(self) -> bool:
        """Whether the survey has the planted loss between 2025 and 2028."""
        return bool(self.disturbed)


# --------------------------------------------------------------------- build
_FIELDS: Final = (
    ("zone_noise", 8.0),
    ("zone_noise_2025", 4.0),
    ("reed_split", 15.0),
    ("agb_multiplier", 6.0),
    ("agb_year_2020", 10.0),
    ("agb_year_2025", 10.0),
    ("poplar_multiplier", 5.0),
    ("height_noise", 3.0),
    ("senescence", 12.0),
    ("wetness", 6.0),
    ("soc_residual", 20.0),
    ("soc_deep", 25.0),
    ("soc_decay", 15.0),
    ("bd_surface", 12.0),
    ("bd_deep", 25.0),
    ("soc_gain", 10.0),
)
#: The third epoch's own fields (new streams, drawn only for a three-epoch survey).
_THIRD_EPOCH_FIELDS: Final = (("zone_noise_2028", 4.0), ("agb_year_2028", 10.0))


@dataclass(frozen=True)
class _EpochState:
    """What :func:`build_landscape` assembles an :class:`EpochTruth` from."""

    spec: EpochSpec
    elevation: FloatArray
    classes: npt.NDArray[np.int8]
    agb: FloatArray
    soil: SoilProfile
    burnt: BoolArray | None = None  # reed burnt since the previous epoch
    unburnt_agb: FloatArray | None = None  # the AGB it would carry unburnt


def build_landscape(
    seed: int,
    scale: ScaleSpec,
    *,
    draw_carbon: bool = False,
    epochs: int = 2,
    planted_loss: bool = False,
) -> Landscape:
    """Generate the true landscape of every epoch.

    Parameters
    ----------
    seed
        Survey seed; every random stream is derived from it by name.
    scale
        Extent and densities of the survey.
    draw_carbon
        Draw the classes' carbon fraction, root:shoot ratios and CH4 fluxes
        from the priors the survey states (:func:`~carbonsink.synthetic.
        carbon_world.draw_carbon_world`) instead of taking the stated values.
    epochs
        2 (2020, 2025) or 3 (and 2028, item 8 of the module docstring); the
        first two epochs are the same either way.
    planted_loss
        Clear-fell the poplar and burn the reed beds between 2025 and 2028
        (needs ``epochs=3``).

    Returns
    -------
    Landscape
        Boundary, grids and per-epoch truth.

    Raises
    ------
    ConfigError
        When ``epochs`` is not 2 or 3, or ``planted_loss`` is set with 2 epochs.
    """
    specs = epoch_specs(epochs, planted_loss=planted_loss)
    boundary_lonlat, boundary = _boundary(named_stream(seed, "landscape.boundary"), scale)
    grid = Grid.from_boundary(boundary, crs=ANALYSIS_CRS, resolution=RESOLUTION_M)
    gx0, gy0, gx1, gy1 = grid.buffered_bounds(MARGIN_M)
    snap = 2 * RESOLUTION_M
    outer_bounds = (
        math.floor(gx0 / snap) * snap,
        math.floor(gy0 / snap) * snap,
        math.ceil(gx1 / snap) * snap,
        math.ceil(gy1 / snap) * snap,
    )
    outer = Grid.from_bounds(outer_bounds, crs=ANALYSIS_CRS, resolution=RESOLUTION_M)
    col_off = round((grid.bounds[0] - outer.bounds[0]) / RESOLUTION_M)
    row_off = round((outer.bounds[3] - grid.bounds[3]) / RESOLUTION_M)
    window = (row_off, col_off, grid.height, grid.width)

    shape = outer.shape
    xx, yy = np.meshgrid(outer.x, outer.y)
    elevation_2020 = _elevation(seed, outer, xx, yy)
    deposition = 5.0 * _TERRAIN_RISE_M_YR * np.exp(-(elevation_2020 - 24.0) / 2.5)
    elevations = (elevation_2020, elevation_2020 + deposition)

    extra = _THIRD_EPOCH_FIELDS if len(specs) > 2 else ()
    fields = {
        name: gaussian_field(named_stream(seed, f"landscape.{name}"), shape, length_cells=length)
        for name, length in _FIELDS + extra
    }
    plantations = _plantations(named_stream(seed, "landscape.plantations"), outer, xx, yy)
    classes_2020 = zone_classes(elevations[0], EPOCHS[0], fields, plantations, epoch_index=0)
    classes_2025 = zone_classes(elevations[1], EPOCHS[1], fields, plantations, epoch_index=1)

    blocks = _lidar_blocks(boundary, outer, scale.lidar_cover_fraction, count=len(specs))
    soil_2020 = first_epoch_soil(elevation_2020, classes_2020, fields)
    agb_2020 = true_agb(elevations[0], classes_2020, fields, year=2020, growth_years=0)
    poplar = CLASS_BY_NAME["poplar"].code
    cleared = (classes_2020 == poplar) & (classes_2025 != poplar)
    agb_2025 = true_agb(
        elevations[1],
        classes_2025,
        fields,
        year=2025,
        growth_years=EPOCHS[1].date.year - EPOCHS[0].date.year,
        factors=[(cleared, RECOVERY_FACTORS[1])],
    )
    years = (EPOCHS[1].date - EPOCHS[0].date).days / 365.25
    soil_world = draw_soil_world(seed)
    soil_2025 = second_epoch_soil(
        soil_2020,
        classes_2020,
        classes_2025,
        elevation_2020,
        fields["soc_gain"],
        seed=seed,
        world=soil_world,
        years=years,
    )
    states = [
        _EpochState(EPOCHS[0], elevations[0], classes_2020, agb_2020, soil_2020),
        _EpochState(EPOCHS[1], elevations[1], classes_2025, agb_2025, soil_2025),
    ]
    disturbed: dict[str, BoolArray] = {}
    if len(specs) > 2:
        third, disturbed = _third_epoch(
            states, specs[2], fields, plantations, seed=seed, world=soil_world, loss=planted_loss
        )
        states.append(third)

    dead = dom_multiplier(seed, shape, resolution_m=RESOLUTION_M)
    truths = [
        _epoch_truth(state, index, block, fields, dead)
        for index, (state, block) in enumerate(zip(states, blocks, strict=True))
    ]
    return Landscape(
        seed=seed,
        scale=scale,
        landscape_grid=outer,
        grid=grid,
        window=window,
        boundary=boundary,
        boundary_lonlat=boundary_lonlat,
        epochs=tuple(truths),
        soil_world=soil_world,
        carbon=draw_carbon_world(seed) if draw_carbon else nominal_carbon_world(),
        disturbed=disturbed,
    )


def _third_epoch(
    states: list[_EpochState],
    spec: EpochSpec,
    fields: dict[str, FloatArray],
    plantations: tuple[BoolArray, BoolArray],
    *,
    seed: int,
    world: SoilWorld,
    loss: bool,
) -> tuple[_EpochState, dict[str, BoolArray]]:
    """The 2028 epoch, continuing 2025 as 2025 continued 2020; with the planted loss if asked."""
    first, previous = states[0], states[-1]
    index = len(states)
    gap = spec.date.year - previous.spec.date.year
    rise = gap * _TERRAIN_RISE_M_YR * np.exp(-(previous.elevation - 24.0) / 2.5)
    elevation = previous.elevation + rise
    classes = zone_classes(elevation, spec, fields, plantations, epoch_index=index)
    poplar = CLASS_BY_NAME["poplar"].code
    recovering = (first.classes == poplar) & (previous.classes != poplar) & (classes != poplar)
    factors = [(recovering, RECOVERY_FACTORS[index])]
    disturbed: dict[str, BoolArray] = {}
    if loss:
        classes, felled = fell_poplar(classes, elevation, fields, epoch_index=index)
        factors.append((felled, FELLED_REGROWTH_FACTOR))
        disturbed = {"felled": felled, "burnt": np.asarray(classes == CLASS_BY_NAME["reed"].code)}
    unburnt = true_agb(
        elevation,
        classes,
        fields,
        year=spec.date.year,
        growth_years=spec.date.year - first.spec.date.year,
        factors=factors,
    )
    agb = unburnt.copy()
    if loss:
        agb[disturbed["burnt"]] *= REED_BURN_FACTOR
    soil = later_epoch_soil(
        previous.soil,
        previous.classes,
        classes,
        previous.elevation,
        fields["soc_gain"],
        seed=seed,
        years=(spec.date - previous.spec.date).days / 365.25,
    )
    state = _EpochState(
        spec, elevation, classes, agb, soil, disturbed.get("burnt"), unburnt if loss else None
    )
    return state, disturbed


def _epoch_truth(
    state: _EpochState,
    index: int,
    block: Polygon,
    fields: dict[str, FloatArray],
    dead: FloatArray,
) -> EpochTruth:
    """The :class:`EpochTruth` of one epoch (canopy, LAI, DOM and soil stocks from its state)."""
    unburnt = state.agb if state.unburnt_agb is None else state.unburnt_agb
    height = canopy_height(state.classes, unburnt, fields)
    if state.burnt is not None:
        height[state.burnt] *= REED_BURN_FACTOR  # charred stubble of the unburnt canopy
    lai = leaf_area_index(state.classes, state.agb)
    soil = state.soil
    return EpochTruth(
        spec=state.spec,
        elevation_m=state.elevation,
        class_code=state.classes,
        agb_mg_ha=state.agb,
        canopy_height_m=height,
        lai=lai,
        fractional_cover=1.0 - np.exp(-CANOPY_EXTINCTION * lai),
        senescence=senescence(state.classes, fields),
        wetness=wetness(state.elevation, state.spec, fields),
        soil=soil,
        soc_0_30_mg_ha=soil.stock_mg_ha(0.0, 30.0),
        soc_0_100_mg_ha=soil.stock_mg_ha(0.0, 100.0),
        lidar_block=block,
        dom_mg_ha=dom_density(state.classes, state.agb, dead, epoch_index=index),
        soc_gain_0_30_mg_ha=soil.reference_gain_mg_ha(30.0),
        soc_gain_0_100_mg_ha=soil.reference_gain_mg_ha(100.0),
        soc_allochthonous_mg_ha=soil.allochthonous_mg_ha(),
        deposit_cm=np.broadcast_to(soil.deposit_cm, state.elevation.shape).astype(np.float64),
    )


# ------------------------------------------------------------------ geometry
def _boundary(rng: np.random.Generator, scale: ScaleSpec) -> tuple[Polygon, Polygon]:
    x0, y0 = scale.origin
    cx, cy = x0 + scale.width_m / 2, y0 + scale.height_m / 2
    a, b = 0.46 * scale.width_m, 0.45 * scale.height_m
    theta = np.linspace(0.0, 2.0 * np.pi, 240, endpoint=False)
    radius = np.ones_like(theta)
    for order in range(2, 16):
        amplitude = rng.uniform(0.3, 1.0) * 0.09 / order**0.9
        radius += amplitude * np.cos(order * theta + rng.uniform(0.0, 2.0 * np.pi))
    radius = np.clip(radius, 0.7, 1.08)
    # Super-ellipse (exponent 3): a rounded rectangle, roughly filling the extent.
    c, s = np.cos(theta), np.sin(theta)
    px = cx + a * radius * np.sign(c) * np.abs(c) ** (2.0 / 3.0)
    py = cy + b * radius * np.sign(s) * np.abs(s) ** (2.0 / 3.0)
    to_lonlat = Transformer.from_crs(ANALYSIS_CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(px, py)
    lonlat = orient(Polygon(zip(np.round(lon, 7), np.round(lat, 7), strict=True)), sign=1.0)
    to_utm = Transformer.from_crs("EPSG:4326", ANALYSIS_CRS, always_xy=True)

    def project(xy: FloatArray) -> FloatArray:
        x, y = to_utm.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    utm = shapely.transform(lonlat, project)
    return lonlat, utm


def _lidar_blocks(
    boundary: Polygon, outer: Grid, fraction: float, *, count: int = 2
) -> tuple[Polygon, ...]:
    """Rotated flight strips covering ``fraction`` of the boundary, one per epoch.

    Each strip runs south-west to north-east across the elevation gradient —
    from the lake edge (water, mudflat) through sedge and reed to the upland
    woodland — as a drone corridor flight would, so every class is sampled.
    Each epoch's flight is a little off the previous one's: the second 15 m
    west and 10 m north, turned 2° clockwise, the third (of ``count = 3``) as
    far the other way.
    """
    minx, miny, maxx, maxy = boundary.bounds
    centre = (minx + 0.47 * (maxx - minx), miny + 0.50 * (maxy - miny))
    angle = 30.0
    aspect = 12.0  # strip length : width

    def block(size: float, shift: tuple[float, float], turn: float) -> Polygon:
        half_u, half_v = size * aspect**0.5 / 2, size / aspect**0.5 / 2
        rect = Polygon([(-half_u, -half_v), (half_u, -half_v), (half_u, half_v), (-half_u, half_v)])
        rect = affinity.rotate(rect, angle + turn, origin=(0.0, 0.0))
        return affinity.translate(rect, centre[0] + shift[0], centre[1] + shift[1])

    lo, hi = 0.0, max(maxx - minx, maxy - miny)
    for _ in range(40):  # bisection on the block size
        mid = (lo + hi) / 2
        share = block(mid, (0.0, 0.0), 0.0).intersection(boundary).area / boundary.area
        lo, hi = (mid, hi) if share < fraction else (lo, mid)
    size = round(lo, 1)
    placements = (((0.0, 0.0), 0.0), ((-15.0, 10.0), -2.0), ((15.0, -10.0), 2.0))
    blocks = tuple(block(size, shift, turn) for shift, turn in placements[:count])
    ox0, oy0, ox1, oy1 = outer.bounds
    for poly in blocks:
        bx0, by0, bx1, by1 = poly.bounds
        if bx0 < ox0 or by0 < oy0 or bx1 > ox1 or by1 > oy1:  # pragma: no cover - by design
            raise AssertionError("the LiDAR block leaves the landscape grid")
    return blocks


def _plantations(
    rng: np.random.Generator, outer: Grid, xx: FloatArray, yy: FloatArray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Rectangular poplar plantations; the second mask marks those cleared by 2025.

    The draws are the same whatever the number of epochs (the planted loss of
    2028 fells every stand, :func:`~carbonsink.synthetic.vegetation.fell_poplar`).
    """
    x0, y0, x1, y1 = outer.bounds
    area = (x1 - x0) * (y1 - y0)
    n = max(4, round(area / 0.75e6))
    planted = np.zeros(xx.shape, dtype=bool)
    cleared = np.zeros(xx.shape, dtype=bool)
    for i in range(n):
        cx = rng.uniform(x0 + 0.1 * (x1 - x0), x1 - 0.1 * (x1 - x0))
        cy = rng.uniform(y0 + 0.1 * (y1 - y0), y1 - 0.1 * (y1 - y0))
        half_w, half_h = rng.uniform(90.0, 180.0), rng.uniform(60.0, 120.0)
        turn = np.deg2rad(rng.uniform(-15.0, 15.0))
        u = (xx - cx) * np.cos(turn) + (yy - cy) * np.sin(turn)
        v = -(xx - cx) * np.sin(turn) + (yy - cy) * np.cos(turn)
        inside = (np.abs(u) <= half_w) & (np.abs(v) <= half_h)
        planted |= inside
        if i % 4 != 3:  # three of every four plantations are cleared
            cleared |= inside
    return planted, cleared


# ------------------------------------------------------------------- terrain
def _elevation(seed: int, outer: Grid, xx: FloatArray, yy: FloatArray) -> FloatArray:
    direction = np.deg2rad(20.0)
    along = (xx - outer.bounds[0]) * np.cos(direction) + (yy - outer.bounds[1]) * np.sin(direction)
    s = (along - along.min()) / (along.max() - along.min())
    rng = named_stream(seed, "landscape.elevation")
    broad = gaussian_field(rng, outer.shape, length_cells=30.0)
    fine = gaussian_field(rng, outer.shape, length_cells=5.0)
    elevation = 24.0 + 8.0 * s**1.2 + 0.6 * broad + 0.15 * fine
    carve = _channel_depth(named_stream(seed, "landscape.channels"), outer, xx, yy, s)
    return np.asarray(elevation - carve, dtype=np.float64)


def _channel_depth(
    rng: np.random.Generator, outer: Grid, xx: FloatArray, yy: FloatArray, s: FloatArray
) -> FloatArray:
    """Depth (m) of meandering channels running from the lake inland."""
    x0, y0, x1, y1 = outer.bounds
    direction = np.array([np.cos(np.deg2rad(20.0)), np.sin(np.deg2rad(20.0))])
    normal = np.array([-direction[1], direction[0]])
    span = float(np.hypot(x1 - x0, y1 - y0))
    n = max(2, round((x1 - x0) / 1000.0))
    points: list[FloatArray] = []
    progress: list[FloatArray] = []
    lakeside = np.array([x0, y0]) + 0.02 * span * direction
    offsets = np.linspace(0.15, 0.85, n) + rng.uniform(-0.05, 0.05, n)
    for off in offsets:
        start = lakeside + normal * (off - 0.5) * span * 0.9 + normal * 0.25 * span
        length = rng.uniform(0.45, 0.65) * span
        t = np.arange(0.0, length, 2.0)
        wavelength = rng.uniform(350.0, 600.0)
        amplitude = rng.uniform(40.0, 80.0)
        phase1, phase2 = rng.uniform(0.0, 2.0 * np.pi, 2)
        meander = amplitude * np.sin(
            2 * np.pi * t / wavelength + phase1
        ) + 0.3 * amplitude * np.sin(2 * np.pi * t / (0.37 * wavelength) + phase2)
        xy = start + np.outer(t, direction) + np.outer(meander, normal)
        points.append(xy)
        progress.append(t / length)
    tree = cKDTree(np.concatenate(points))
    frac = np.concatenate(progress)
    dist, idx = tree.query(np.column_stack([xx.ravel(), yy.ravel()]))
    f = frac[idx]
    depth = 2.5 * np.sqrt(np.clip(1.0 - f, 0.0, 1.0))
    width = 14.0 - 8.0 * f
    carve = depth * np.exp(-(dist**2) / (2.0 * width**2))
    return np.asarray(carve.reshape(xx.shape), dtype=np.float64)
