"""The true vegetation of an epoch: class zoning, biomass, canopy, LAI and background.

The generative model is items 3–5 of :mod:`carbonsink.synthetic.landscape`;
every field is on the landscape grid and every random field comes from the
``fields`` dictionary :func:`~carbonsink.synthetic.landscape.build_landscape`
draws (one named stream per field). The epoch is given by its index in the
survey (0 for 2020, 1 for 2025, 2 for the optional 2028): the zone edges
shift a little further lakewards with each epoch and a new small noise field
moves them, poplar keeps growing, and stands cleared between 2020 and 2025
recover further. :func:`fell_poplar` and the factors of
:func:`true_agb` plant the loss of a three-epoch survey
(:data:`~carbonsink.synthetic.parameters.FELLED_REGROWTH_FACTOR`,
:data:`~carbonsink.synthetic.parameters.REED_BURN_FACTOR`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from carbonsink.synthetic.parameters import CLASS_BY_NAME, CLASSES, EpochSpec

__all__ = [
    "CANOPY_EXTINCTION",
    "RECOVERY_FACTORS",
    "ZONE_NOISE",
    "ZONE_SHIFT_M",
    "canopy_height",
    "fell_poplar",
    "leaf_area_index",
    "noisy_elevation",
    "senescence",
    "true_agb",
    "wetness",
    "zone_classes",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ClassArray = npt.NDArray[np.int8]

#: Light extinction coefficient of fractional cover, ``fc = 1 − exp(−k LAI)``.
CANOPY_EXTINCTION: Final = 0.5
#: How far (m) the zone thresholds have shifted by each epoch (by epoch index): the
#: vegetation follows the rising terrain lakewards, ≈ 1 cm a year.
ZONE_SHIFT_M: Final = (0.0, -0.05, -0.08)
#: The small noise fields that move the zone edges from one epoch to the next, with
#: their weights (m): epoch ``k`` adds the first ``k`` of them.
ZONE_NOISE: Final = (("zone_noise_2025", 0.08), ("zone_noise_2028", 0.06))
#: Share of the new class's biomass on a poplar stand cleared between 2020 and 2025,
#: by epoch index (it recovers further by 2028).
RECOVERY_FACTORS: Final = (1.0, 0.75, 0.9)

_MUDFLAT_TOP = 25.9
_SEDGE_TOP = 27.6
_TALL_GRASS_TOP = 30.2
_REED_SPLIT = 28.7
_RECOVERY_SPLIT = 28.0
_POPLAR_GROWTH_MG_HA_YR = 3.0


def noisy_elevation(
    elevation: FloatArray, fields: dict[str, FloatArray], *, epoch_index: int
) -> FloatArray:
    """The elevation the classes are zoned on: ``z + 0.35 F₃`` plus the epochs' edge noise.

    Parameters
    ----------
    elevation
        The epoch's elevation, m.
    fields
        The landscape's unit Gaussian fields (``zone_noise`` and those of :data:`ZONE_NOISE`).
    epoch_index
        0, 1 or 2: adds the first ``epoch_index`` fields of :data:`ZONE_NOISE`.

    Returns
    -------
    numpy.ndarray
        The noisy elevation, m.
    """
    z = elevation + 0.35 * fields["zone_noise"]
    for name, weight in ZONE_NOISE[:epoch_index]:
        z = z + weight * fields[name]
    return np.asarray(z, dtype=np.float64)


def zone_classes(
    elevation: FloatArray,
    spec: EpochSpec,
    fields: dict[str, FloatArray],
    plantations: tuple[BoolArray, BoolArray],
    *,
    epoch_index: int,
) -> ClassArray:
    """The epoch's true classes, zoned on a noisy elevation.

    Parameters
    ----------
    elevation
        The epoch's elevation, m.
    spec
        The epoch (its lake level: water below it).
    fields
        The landscape's unit Gaussian fields.
    plantations
        ``(planted, cleared)`` masks of :func:`~carbonsink.synthetic.landscape.build_landscape`:
        the poplar plantations and those cleared between the first two epochs.
    epoch_index
        Position of the epoch in the survey (0 for 2020).

    Returns
    -------
    numpy.ndarray
        int8 class codes: mudflat < 25.9 m < sedge < 27.6 m < reed / miscanthus < 30.2 m
        < poplar on the noisy elevation, thresholds shifted by :data:`ZONE_SHIFT_M`;
        plantations on the 27–30.2 m beach, those cleared recovering (after the first
        epoch) as sedge below 28 m or miscanthus; water below the lake level.
    """
    code = {c.name: c.code for c in CLASSES}
    later = epoch_index > 0
    shift = ZONE_SHIFT_M[epoch_index]
    z = noisy_elevation(elevation, fields, epoch_index=epoch_index)
    classes = np.full(elevation.shape, code["poplar"], dtype=np.int8)
    tall = z < _TALL_GRASS_TOP + shift
    reed = z + 0.6 * fields["reed_split"] < _REED_SPLIT + shift
    classes[tall] = np.where(reed[tall], code["reed"], code["miscanthus"])
    classes[z < _SEDGE_TOP + shift] = code["sedge"]
    classes[z < _MUDFLAT_TOP + shift] = code["mudflat"]
    planted, cleared = plantations
    stand = planted & (elevation > 27.0) & (elevation < _TALL_GRASS_TOP)
    classes[stand] = code["poplar"]
    if later:
        gone = stand & cleared
        classes[gone] = np.where(z[gone] < _RECOVERY_SPLIT, code["sedge"], code["miscanthus"])
    classes[elevation < spec.water_level_m] = code["water"]
    return classes


def fell_poplar(
    classes: ClassArray,
    elevation: FloatArray,
    fields: dict[str, FloatArray],
    *,
    epoch_index: int,
) -> tuple[ClassArray, BoolArray]:
    """Clear-fell every poplar cell: sedge on the wetter part, bare ground on the rest.

    Parameters
    ----------
    classes
        The epoch's classes before the felling.
    elevation, fields, epoch_index
        As for :func:`zone_classes` (the noisy elevation decides the new class).

    Returns
    -------
    classes, felled
        The classes after the felling — every poplar cell sedge where the noisy
        elevation is below 28 m, else mudflat (bare ground, the sparse class) —
        and the mask of the felled cells.
    """
    poplar = CLASS_BY_NAME["poplar"].code
    felled = np.asarray(classes == poplar)
    z = noisy_elevation(elevation, fields, epoch_index=epoch_index)
    out = classes.copy()
    out[felled] = np.where(
        z[felled] < _RECOVERY_SPLIT, CLASS_BY_NAME["sedge"].code, CLASS_BY_NAME["mudflat"].code
    )
    return out, felled


def true_agb(
    elevation: FloatArray,
    classes: ClassArray,
    fields: dict[str, FloatArray],
    *,
    year: int,
    growth_years: int,
    factors: Sequence[tuple[BoolArray, float]] = (),
) -> FloatArray:
    """The epoch's true above-ground biomass, Mg DM/ha.

    Parameters
    ----------
    elevation, classes
        The epoch's elevation (m) and classes.
    fields
        The landscape's unit Gaussian fields (``agb_multiplier``, ``agb_year_<year>``,
        ``poplar_multiplier``).
    year
        The epoch's year, which names its year-to-year multiplier field.
    growth_years
        Years the poplar stands have grown since the first epoch (0 in the first).
    factors
        ``(mask, factor)`` pairs applied in turn: the biomass of the masked cells is
        multiplied by the factor (recovering, felled or burnt cells).

    Returns
    -------
    numpy.ndarray
        ``m_c × M × Y × exp(b_c (z − z_c)) / k_c`` per herbaceous class (mudflat capped
        at 2 Mg/ha), 0 on water; poplar ``clip(85 × lognormal, 55, 125)`` plus
        ``3 × growth_years × sqrt(stand / 85)``; then the factors.
    """
    agb = np.zeros(elevation.shape, dtype=np.float64)
    year_factor = np.exp(0.1 * fields[f"agb_year_{year}"] - 0.005)
    for params in CLASSES:
        if params.name in ("water", "poplar"):
            continue
        cls = classes == params.code
        if not cls.any():
            continue
        sd = params.agb_log_sd
        multiplier = np.exp(sd * fields["agb_multiplier"][cls])
        z_c = float(np.median(elevation[cls]))
        slope = np.exp(params.agb_elevation_slope * (elevation[cls] - z_c))
        relative = multiplier * year_factor[cls] * slope
        agb[cls] = params.agb_mean_mg_ha * relative / relative.mean()
    mud = classes == CLASS_BY_NAME["mudflat"].code
    agb[mud] = np.minimum(agb[mud], 2.0)
    poplar = CLASS_BY_NAME["poplar"]
    sd = poplar.agb_log_sd
    stand = np.clip(
        poplar.agb_mean_mg_ha * np.exp(sd * fields["poplar_multiplier"] - sd**2 / 2), 55.0, 125.0
    )
    trees = classes == poplar.code
    if growth_years == 0:
        agb[trees] = stand[trees]
    else:
        growth = _POPLAR_GROWTH_MG_HA_YR * growth_years
        grown = stand + growth * np.sqrt(stand / poplar.agb_mean_mg_ha)
        agb[trees] = grown[trees]
    for mask, factor in factors:
        agb[mask] *= factor
    return agb


def canopy_height(
    classes: ClassArray, agb: FloatArray, fields: dict[str, FloatArray]
) -> FloatArray:
    """True canopy height, m: rising and saturating with ``AGB / m_c`` in the class's range.

    Parameters
    ----------
    classes, agb
        The epoch's classes and AGB (Mg DM/ha).
    fields
        The landscape's unit Gaussian fields (``height_noise``).

    Returns
    -------
    numpy.ndarray
        Height above ground, m (0 on water).
    """
    height = np.zeros(agb.shape, dtype=np.float64)
    noise = np.exp(0.1 * fields["height_noise"])
    for params in CLASSES:
        cls = classes == params.code
        low, high = params.height_range_m
        if params.name == "water" or not cls.any():
            continue
        if params.name == "mudflat":
            height[cls] = high * np.clip(agb[cls] / 1.0, 0.0, 1.0)
            continue
        if params.name == "poplar":
            rel = np.clip((agb[cls] - 55.0) / 70.0, 0.0, 1.0)
            h = low + (high - low) * rel**0.8 * noise[cls] ** 0.5
        else:
            rel = agb[cls] / params.agb_mean_mg_ha
            saturation = (1.0 - np.exp(-1.3 * rel)) / (1.0 - np.exp(-1.3 * 1.8))
            h = low + (high - low) * saturation * noise[cls]
        height[cls] = np.clip(h, low, high)
    return height


def leaf_area_index(classes: ClassArray, agb: FloatArray) -> FloatArray:
    """True LAI, ``min(lai_max, lai_per_agb × AGB)`` per class.

    Parameters
    ----------
    classes, agb
        The epoch's classes and AGB (Mg DM/ha).

    Returns
    -------
    numpy.ndarray
        Leaf area index.
    """
    lai = np.zeros(agb.shape, dtype=np.float64)
    for params in CLASSES:
        cls = classes == params.code
        lai[cls] = np.minimum(params.lai_max, params.lai_per_agb * agb[cls])
    return lai


_SENESCENCE: Final = {
    "mudflat": 0.3,
    "sedge": 0.05,
    "reed": 0.15,
    "miscanthus": 0.25,
    "poplar": 0.05,
}


def senescence(classes: ClassArray, fields: dict[str, FloatArray]) -> FloatArray:
    """Senescent fraction of the canopy: a class value plus a noise field, in 0–0.6.

    Parameters
    ----------
    classes
        The epoch's classes.
    fields
        The landscape's unit Gaussian fields (``senescence``).

    Returns
    -------
    numpy.ndarray
        The senescent fraction.
    """
    sen = np.zeros(classes.shape, dtype=np.float64)
    for name, base in _SENESCENCE.items():
        cls = classes == CLASS_BY_NAME[name].code
        sen[cls] = base
    return np.clip(sen + 0.05 * fields["senescence"], 0.0, 0.6)


def wetness(elevation: FloatArray, spec: EpochSpec, fields: dict[str, FloatArray]) -> FloatArray:
    """Surface wetness of the background (0 dry – 1 saturated): wet near the lake.

    Parameters
    ----------
    elevation
        The epoch's elevation, m.
    spec
        The epoch (its lake level).
    fields
        The landscape's unit Gaussian fields (``wetness``).

    Returns
    -------
    numpy.ndarray
        ``clip(logistic((level + 0.6 − z) / 0.25) + 0.25 F, 0, 1)``.
    """
    logistic = 1.0 / (1.0 + np.exp(-(spec.water_level_m + 0.6 - elevation) / 0.25))
    return np.clip(logistic + 0.25 * fields["wetness"], 0.0, 1.0)
