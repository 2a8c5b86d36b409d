"""The documented parameters of the synthetic Junshan-like survey.

Everything the generator assumes about the site lives here — the classes and
their carbon parameters, the epochs (two by default, an optional third) and
the planted loss of a three-epoch survey, and the survey sizes — so the
README written into a survey, ``survey.toml`` and the tests all quote the same
numbers.

Sources of the values: docs/methodology.md §2 (carbon fraction, root:shoot ratios,
peak-season biomass of Carex, Miscanthus and reed on Poyang/Dongting), §3
(soil ranges) and §4 (CH4; the per-class fluxes are this generator's own
choice, tagged [U], of annual means in the range reported for Dongting-type
floodplains: low on open water and mudflat, highest in sedge meadow). The
dead-organic-matter parameters (:data:`DOM_RATIOS`, :data:`DOM_MULTIPLIER_LOG_SD`
and the sub-quadrat protocol) are also this generator's own choice, [U].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from carbonsink.errors import ConfigError

__all__ = [
    "CARBON_FRACTION",
    "CLASSES",
    "CLASS_BY_CODE",
    "CLASS_BY_NAME",
    "CLASS_NAMES",
    "DOM_MIN_PLOTS",
    "DOM_MULTIPLIER_LENGTH_M",
    "DOM_MULTIPLIER_LOG_SD",
    "DOM_PLOT_SHARE",
    "DOM_RATIOS",
    "DOM_SUBQUADRAT_LOG_SD",
    "EPOCHS",
    "EPOCH_COUNTS",
    "FELLED_REGROWTH_FACTOR",
    "GWP_CH4_AR5",
    "REED_BURN_FACTOR",
    "SCALES",
    "THIRD_EPOCH",
    "ClassParams",
    "EpochSpec",
    "Scale",
    "ScaleSpec",
    "epoch_specs",
]

Scale = Literal["small", "medium", "large", "regional"]

#: Carbon fraction of dry matter, herbaceous and trees (IPCC 2006; docs/methodology.md §2).
CARBON_FRACTION: Final = 0.47
#: Global warming potential of CH4 over 100 years, IPCC AR5 (docs/methodology.md §4).
GWP_CH4_AR5: Final = 28.0

#: Dead:live ratio ``r`` of each class in the 2020 and 2025 epochs (the order of
#: :data:`EPOCHS`; a third epoch, :data:`THIRD_EPOCH`, keeps the 2025 ratios): true
#: dead organic matter (litter and standing dead, Mg DM/ha) is ``DOM = r × AGB × m``
#: with ``m`` a mean-one spatial multiplier. September values for a Dongting
#: floodplain, a generator choice [U]: none on open water; a thin drift-litter film
#: on mudflat; litter under the short-lived sedge canopy; standing dead culms and
#: litter in the reed and Miscanthus beds; poplar litter and dead wood, small
#: relative to a large live stock. By 2025 the reed and Miscanthus beds —
#: recovering, no longer cut in winter since the lake's paper mills closed — carry
#: 20 % more standing dead. Cleared poplar stands take the ratio of the class they
#: recover as.
DOM_RATIOS: Final[dict[str, tuple[float, float]]] = {
    "water": (0.0, 0.0),
    "mudflat": (0.10, 0.10),
    "sedge": (0.25, 0.25),
    "reed": (0.45, 0.54),
    "miscanthus": (0.40, 0.48),
    "poplar": (0.12, 0.12),
}
#: SD of the log of the dead-organic-matter multiplier ``m = exp(σ F − σ²/2)``
#: (mean 1; ``F`` a unit Gaussian random field), one persistent field for both epochs.
DOM_MULTIPLIER_LOG_SD: Final = 0.25
#: Correlation length of that field in m: the SD of the Gaussian smoothing kernel
#: (:func:`~carbonsink.synthetic.random_fields.gaussian_field`), as for every field.
DOM_MULTIPLIER_LENGTH_M: Final = 40.0
#: Share of each class's clip plots whose dead organic matter (litter and standing
#: dead) is also collected, in a sub-quadrat.
DOM_PLOT_SHARE: Final = 1.0 / 3.0
#: ... but at least this many plots of a class (all of them when it has fewer).
DOM_MIN_PLOTS: Final = 5
#: SD of the log of the sub-quadrat's own dead-matter heterogeneity, on top of the
#: heterogeneity it shares with the live clip of the same plot.
DOM_SUBQUADRAT_LOG_SD: Final = 0.2


@dataclass(frozen=True)
class ClassParams:
    """Truth parameters of one land-cover class.

    Parameters
    ----------
    name, code
        Class name and integer code of the class layers.
    root_shoot
        Root:shoot ratio R (BGB = R × AGB).
    ch4_flux_mg_m2_d
        Annual-mean CH4 flux in mg CH4 m⁻² d⁻¹ (a generator choice, [U]).
    agb_mean_mg_ha
        Typical peak-season above-ground biomass in Mg dry matter ha⁻¹.
    agb_log_sd
        SD of the log of the spatially correlated AGB multiplier.
    agb_elevation_slope
        Within-class elevation dependence of AGB: factor ``exp(b (z − z_c))``
        per metre above the class's median elevation ``z_c``.
    height_range_m
        ``(low, high)`` canopy height in metres.
    lai_per_agb
        Leaf area index per Mg ha⁻¹ of AGB (before the class's LAI cap).
    lai_max
        Cap on the leaf area index.
    soc_surface_pct
        Surface (0 cm) soil organic carbon in % of the class, before the
        elevation trend and the residual field.
    soc_decay_cm
        e-folding depth of the SOC excess over the deep value, cm.
    bd_surface_g_cm3
        Surface bulk density of the class, g cm⁻³.
    soc_gain_mg_ha_yr
        Soil carbon gain in the 0–30 cm layer, Mg C ha⁻¹ yr⁻¹.

    Notes
    -----
    Two properties complete the parameters: :attr:`carbon_fraction` (the same
    for every class) and :attr:`dom_ratio` (the class's dead:live ratios of
    :data:`DOM_RATIOS`).
    """

    name: str
    code: int
    root_shoot: float
    ch4_flux_mg_m2_d: float
    agb_mean_mg_ha: float
    agb_log_sd: float
    agb_elevation_slope: float
    height_range_m: tuple[float, float]
    lai_per_agb: float
    lai_max: float
    soc_surface_pct: float
    soc_decay_cm: float
    bd_surface_g_cm3: float
    soc_gain_mg_ha_yr: float

    @property
    def carbon_fraction(self) -> float:
        """Carbon fraction of dry matter (the same for every class)."""
        return CARBON_FRACTION

    @property
    def dom_ratio(self) -> tuple[float, float]:
        """Dead:live ratio of dead organic matter to AGB in the 2020 and 2025 epochs.

        A third epoch (2028) keeps the 2025 ratio.
        """
        return DOM_RATIOS[self.name]


#: The six classes, in code order.
CLASSES: Final[tuple[ClassParams, ...]] = (
    ClassParams("water", 1, 0.0, 2.0, 0.0, 0.0, 0.0, (0.0, 0.0), 0.0, 0.0, 1.3, 15.0, 1.05, 0.0),
    ClassParams("mudflat", 2, 1.0, 1.5, 0.5, 0.6, 0.5, (0.0, 0.1), 0.4, 0.4, 1.2, 15.0, 1.10, 0.3),
    ClassParams(
        "sedge", 3, 1.5, 6.0, 12.8, 0.30, 0.35, (0.3, 0.8), 0.26, 4.5, 2.9, 22.0, 0.85, 1.6
    ),
    ClassParams("reed", 4, 1.0, 3.0, 15.0, 0.28, 0.20, (2.0, 4.0), 0.32, 6.5, 2.5, 30.0, 0.90, 1.4),
    ClassParams(
        "miscanthus", 5, 0.5, 1.0, 13.9, 0.28, -0.15, (2.0, 4.0), 0.26, 5.0, 2.3, 28.0, 0.95, 1.1
    ),
    ClassParams(
        "poplar", 6, 0.24, 0.3, 85.0, 0.15, 0.05, (12.0, 20.0), 0.04, 4.0, 1.9, 35.0, 1.00, 0.7
    ),
)
CLASS_NAMES: Final = tuple(c.name for c in CLASSES)
CLASS_BY_NAME: Final = {c.name: c for c in CLASSES}
CLASS_BY_CODE: Final = {c.code: c for c in CLASSES}


@dataclass(frozen=True)
class EpochSpec:
    """One survey epoch: its name, reference date, image dates and lake level.

    ``water_level_m`` is the lake level (Yellow Sea 1985 datum) during the
    epoch's imagery, LiDAR flight and field campaign.
    """

    name: str
    date: dt.date
    image_dates: tuple[dt.date, dt.date]
    spacecraft: tuple[str, str]
    water_level_m: float


EPOCHS: Final[tuple[EpochSpec, ...]] = (
    EpochSpec(
        "2020",
        dt.date(2020, 9, 15),
        (dt.date(2020, 9, 10), dt.date(2020, 9, 20)),
        ("Sentinel-2A", "Sentinel-2B"),
        25.0,
    ),
    EpochSpec(
        "2025",
        dt.date(2025, 9, 18),
        (dt.date(2025, 9, 13), dt.date(2025, 9, 23)),
        ("Sentinel-2B", "Sentinel-2C"),
        24.9,
    ),
)
#: The optional third epoch (``generate_survey(..., epochs=3)``): three years after
#: 2025, the lake a little higher than in 2025 and lower than in 2020, imaged by the
#: next pair of Sentinel-2 units (2C and the 2D that follows it in the series).
THIRD_EPOCH: Final = EpochSpec(
    "2028",
    dt.date(2028, 9, 20),
    (dt.date(2028, 9, 15), dt.date(2028, 9, 25)),
    ("Sentinel-2C", "Sentinel-2D"),
    24.95,
)
#: The numbers of epochs a synthetic survey can have.
EPOCH_COUNTS: Final = (2, 3)

#: The planted loss of a three-epoch survey (``planted_loss=True``), between 2025 and
#: 2028: every poplar stand is clear-felled (the reserve's order to remove the
#: plantations from the wetland) and the reed beds burn in a late-summer drought fire.
#: A felled stand carries in 2028 this fraction of the biomass of the class it turns
#: into (sedge on its wetter part, bare ground — the mudflat class — on the rest):
#: one season of sparse regrowth.
FELLED_REGROWTH_FACTOR: Final = 0.25
#: A burnt reed bed keeps this fraction of the AGB (and the canopy height) it would
#: carry unburnt in September 2028: charred stubble. Its dead organic matter, ``r ×
#: AGB × m``, burns with it.
REED_BURN_FACTOR: Final = 0.10


def epoch_specs(
    epochs: int = 2,
    *,
    planted_loss: bool = False,
    names: tuple[str, str] = ("epochs", "planted_loss"),
) -> tuple[EpochSpec, ...]:
    """The epochs of a survey of ``epochs`` epochs, after checking the options.

    Parameters
    ----------
    epochs
        2 (:data:`EPOCHS`: 2020, 2025) or 3 (those and :data:`THIRD_EPOCH`, 2028).
    planted_loss
        Plant a loss between 2025 and 2028 (needs ``epochs=3``).
    names
        How the two options are called where they were given (``("--epochs",
        "--planted-loss")`` on the command line), for the error message.

    Returns
    -------
    tuple of EpochSpec
        The epochs in time order.

    Raises
    ------
    ConfigError
        When ``epochs`` is not 2 or 3, or ``planted_loss`` is set with 2 epochs.
    """
    epochs_name, loss_name = names
    sep = " " if epochs_name.startswith("-") else "="
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs not in EPOCH_COUNTS:
        raise ConfigError(
            f"a synthetic survey has 2 or 3 epochs, not {epochs!r}",
            where=epochs_name,
            fix=f"use {epochs_name}{sep}2 (2020, 2025) or {epochs_name}{sep}3 (2020, 2025, 2028)",
        )
    if planted_loss and epochs < 3:
        raise ConfigError(
            f"the planted loss falls between 2025 and 2028, and a survey of {epochs} epochs "
            "ends in 2025",
            where=loss_name,
            fix=f"add {epochs_name}{sep}3, or leave out {loss_name}",
        )
    return EPOCHS if epochs == 2 else (*EPOCHS, THIRD_EPOCH)


@dataclass(frozen=True)
class ScaleSpec:
    """Size of a synthetic survey.

    Parameters
    ----------
    width_m, height_m
        Extent of the area (the boundary fits inside it), metres.
    origin
        Lower-left corner ``(x, y)`` of that extent in EPSG:32649.
    pulse_density_m2
        LiDAR pulses per m² (each pulse gives 0–4 returns).
    lidar_cover_fraction
        Share of the boundary area the drone flight block covers.
    lidar_tiles
        ``(columns, rows)`` of LiDAR tiles per epoch.
    n_plots, n_cores, n_samples
        Biomass clip plots, soil cores and land-cover samples per epoch.
    """

    width_m: float
    height_m: float
    origin: tuple[float, float]
    pulse_density_m2: float
    lidar_cover_fraction: float
    lidar_tiles: tuple[int, int]
    n_plots: int
    n_cores: int
    n_samples: int


SCALES: Final[dict[str, ScaleSpec]] = {
    # Drone density (12–17 pulses/m²) over a flight strip across the area, as
    # drone surveys cover only part of an area; the small survey's LAZ stays
    # ≈ 15 MB for both epochs. Medium writes one ≈ 7-million-point file per
    # epoch (the 5-million-point benchmark), large two ≈ 20-million-point files.
    # Regional (21 km × 14 km, a boundary of ≈ 210 km² — a tenth of East Dongting's
    # reserve) is the scale a survey outgrows one machine at: imagery over the whole
    # area, drone LiDAR over 1.2 % of it in six files per epoch.
    "small": ScaleSpec(2000.0, 1500.0, (700000.0, 3254000.0), 12.0, 0.08, (2, 2), 80, 40, 400),
    "medium": ScaleSpec(4000.0, 3000.0, (699000.0, 3253000.0), 15.0, 0.08, (1, 1), 120, 60, 600),
    "large": ScaleSpec(10000.0, 6000.0, (696000.0, 3251500.0), 17.0, 0.06, (2, 1), 200, 80, 1000),
    "regional": ScaleSpec(
        21000.0, 14000.0, (690000.0, 3246000.0), 12.0, 0.012, (3, 2), 320, 120, 1600
    ),
}
