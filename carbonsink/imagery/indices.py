"""Spectral indices: a registry of formulas on a reflectance ``(band, y, x)`` array.

Each index in :data:`INDICES` names the common bands it needs (``"red"``,
``"nir"``, ``"swir1"``, ... as in :mod:`carbonsink.imagery.sensors`) and a
function whose docstring gives the formula and its source. The functions use
xarray arithmetic only, so a dask-backed input gives a lazy result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import xarray as xr

from carbonsink.errors import InputError

__all__ = [
    "CUBE_INDICES",
    "INDICES",
    "SpectralIndex",
    "compute_index",
    "evi",
    "lswi",
    "mndwi",
    "ndre",
    "ndvi",
    "ndwi",
    "normalized_difference",
    "savi",
]

#: Soil brightness correction factor L of SAVI (Huete 1988: 0.5 for intermediate cover).
SAVI_L = 0.5


def normalized_difference(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """(a − b) / (a + b), NaN where a + b = 0.

    Notes
    -----
    The common form of NDVI, NDWI, MNDWI, NDRE and LSWI.
    """
    total = a + b
    return (a - b) / total.where(total != 0)


def ndvi(*, nir: xr.DataArray, red: xr.DataArray) -> xr.DataArray:
    """Normalized difference vegetation index.

    Notes
    -----
    NDVI = (NIR − Red) / (NIR + Red)  (Rouse et al. 1974; Tucker 1979,
    Remote Sens. Environ. 8:127–150).
    """
    return normalized_difference(nir, red)


def evi(*, nir: xr.DataArray, red: xr.DataArray, blue: xr.DataArray) -> xr.DataArray:
    """Enhanced vegetation index.

    Notes
    -----
    EVI = 2.5 (NIR − Red) / (NIR + 6 Red − 7.5 Blue + 1)  (Huete et al. 2002,
    Remote Sens. Environ. 83:195–213). NaN where the denominator is 0.
    """
    denominator = nir + 6.0 * red - 7.5 * blue + 1.0
    return 2.5 * (nir - red) / denominator.where(denominator != 0)


def savi(*, nir: xr.DataArray, red: xr.DataArray) -> xr.DataArray:
    """Soil-adjusted vegetation index with L = 0.5.

    Notes
    -----
    SAVI = (1 + L)(NIR − Red) / (NIR + Red + L), L = 0.5  (Huete 1988,
    Remote Sens. Environ. 25:295–309).
    """
    denominator = nir + red + SAVI_L
    return (1.0 + SAVI_L) * (nir - red) / denominator.where(denominator != 0)


def ndwi(*, green: xr.DataArray, nir: xr.DataArray) -> xr.DataArray:
    """Normalized difference water index (McFeeters).

    Notes
    -----
    NDWI = (Green − NIR) / (Green + NIR)  (McFeeters 1996, Int. J. Remote
    Sens. 17:1425–1432).
    """
    return normalized_difference(green, nir)


def mndwi(*, green: xr.DataArray, swir1: xr.DataArray) -> xr.DataArray:
    """Modified normalized difference water index.

    Notes
    -----
    MNDWI = (Green − SWIR1) / (Green + SWIR1)  (Xu 2006, Int. J. Remote Sens.
    27:3025–3033); SWIR1 ≈ 1.6 µm (Landsat 8 B6, Sentinel-2 B11).
    """
    return normalized_difference(green, swir1)


def ndre(*, nir: xr.DataArray, rededge1: xr.DataArray) -> xr.DataArray:
    """Normalized difference red-edge index.

    Notes
    -----
    NDRE = (NIR − RE) / (NIR + RE), RE the ~705 nm red-edge band (Sentinel-2
    B05)  (Gitelson & Merzlyak 1994, J. Plant Physiol. 143:286–292; Barnes et
    al. 2000).
    """
    return normalized_difference(nir, rededge1)


def lswi(*, nir: xr.DataArray, swir1: xr.DataArray) -> xr.DataArray:
    """Land surface water index.

    Notes
    -----
    LSWI = (NIR − SWIR1) / (NIR + SWIR1)  (Xiao et al. 2004, Remote Sens.
    Environ. 89:519–534; Gao 1996's NDWI).
    """
    return normalized_difference(nir, swir1)


@dataclass(frozen=True)
class SpectralIndex:
    """A registered index: its function, the common bands it needs and its long name."""

    name: str
    function: Callable[..., xr.DataArray]
    bands: tuple[str, ...]
    long_name: str


#: Spectral indices by (lower-case) name.
INDICES: Mapping[str, SpectralIndex] = MappingProxyType(
    {
        index.name: index
        for index in (
            SpectralIndex("ndvi", ndvi, ("nir", "red"), "normalized difference vegetation index"),
            SpectralIndex("evi", evi, ("nir", "red", "blue"), "enhanced vegetation index"),
            SpectralIndex("savi", savi, ("nir", "red"), "soil-adjusted vegetation index"),
            SpectralIndex("ndwi", ndwi, ("green", "nir"), "normalized difference water index"),
            SpectralIndex(
                "mndwi", mndwi, ("green", "swir1"), "modified normalized difference water index"
            ),
            SpectralIndex(
                "ndre", ndre, ("nir", "rededge1"), "normalized difference red-edge index"
            ),
            SpectralIndex("lswi", lswi, ("nir", "swir1"), "land surface water index"),
        )
    }
)

#: Indices of an epoch's cube: the features the biomass model is offered
#: beside the composite bands, and the soil-map covariates (NDVI, MNDWI).
CUBE_INDICES: tuple[str, ...] = ("ndvi", "evi", "savi", "ndwi", "mndwi", "ndre", "lswi")


def compute_index(name: str, reflectance: xr.DataArray) -> xr.DataArray:
    """Compute a registered spectral index from a reflectance array.

    Parameters
    ----------
    name
        An index in :data:`INDICES` (case-insensitive), e.g. ``"ndvi"``.
    reflectance
        ``(band, y, x)`` reflectance whose ``band`` coordinate holds common
        band names (as made by :mod:`carbonsink.imagery.sensors`).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` index named ``name`` with ``units = "1"`` and a
        ``long_name``; coordinates (and CRS) of the input; lazy when the
        input is dask-backed. The input is not modified.

    Raises
    ------
    InputError
        When the index is unknown, or a band it needs is missing (the message
        names the index, the band and the bands present).

    Notes
    -----
    Formulas and sources are in each index function's docstring.
    """
    key = name.lower()
    index = INDICES.get(key)
    if index is None:
        raise InputError(
            f"unknown spectral index {name!r}",
            fix=f"use one of {', '.join(INDICES)}",
        )
    if "band" not in reflectance.dims:
        raise InputError(
            f"index {key.upper()} needs a (band, y, x) array; this one has dims "
            f"{tuple(reflectance.dims)}",
            fix="stack the bands along a 'band' dimension with common band names",
        )
    present = [str(b) for b in reflectance["band"].values]
    for band in index.bands:
        if band not in present:
            raise InputError(
                f"index {key.upper()} needs band {band!r}, which the reflectance does not "
                f"have (its bands: {', '.join(present) or 'none'}; "
                f"{key.upper()} uses {', '.join(index.bands)})",
                where=f"band {band!r}",
                fix="read that band too (check the sensor's band map), or choose an index "
                "the sensor supports",
            )
    arguments = {band: reflectance.sel(band=band, drop=True) for band in index.bands}
    values = index.function(**arguments)
    values.name = key
    values.attrs = {"units": "1", "long_name": index.long_name}
    return values
