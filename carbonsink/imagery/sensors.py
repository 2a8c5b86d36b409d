"""Sensor profiles: which band is which, and how digital numbers become reflectance.

Profiles are data in :data:`SENSORS` (a registry, not if-chains): a band map
from common names (``"red"``, ``"nir"``, ``"swir1"``, ...) to the sensor's band
ids, the linear scaling of its surface-reflectance product, and the name of its
quality band and of the decoder in :data:`carbonsink.imagery.masks.QA_DECODERS`.
Landsat 8 Level-1 has no fixed scaling: its top-of-atmosphere (TOA)
coefficients come from the scene's MTL file (:func:`carbonsink.io.landsat_mtl.read_mtl`,
:func:`toa_reflectance`, :func:`landsat8_l1_reflectance`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.io.landsat_mtl import read_mtl
from carbonsink.io.rasters import read_raster

__all__ = [
    "SENSORS",
    "Radiometry",
    "SensorProfile",
    "generic_profile",
    "get_sensor",
    "landsat8_l1_reflectance",
    "reflectance_from_dn",
    "scaled_reflectance",
    "toa_reflectance",
]

Radiometry = Literal["scale_offset", "mtl_toa"]


@dataclass(frozen=True)
class SensorProfile:
    """What a sensor's files hold and how to turn them into reflectance.

    Parameters
    ----------
    name
        Registry key, e.g. ``"sentinel-2-l2a"``.
    bands
        Common name → band id in the product (file band description or file
        suffix), e.g. ``{"red": "B04"}``.
    radiometry
        ``"scale_offset"``: reflectance = DN × ``scale`` + ``offset``;
        ``"mtl_toa"``: TOA reflectance from the scene's MTL coefficients.
    scale, offset
        Linear scaling for ``"scale_offset"`` (unused for ``"mtl_toa"``).
    nodata_dn
        The DN that marks fill pixels in the reflective bands.
    saturated_dn
        The DN at or above which a reflective band is saturated, or ``None``
        when the product flags saturation only in its QA band.
    qa_band
        Band id of the quality band, or ``None``.
    qa_decoder
        Key of the decoder in :data:`carbonsink.imagery.masks.QA_DECODERS`.
    description
        Product and source of the scaling.
    """

    name: str
    bands: Mapping[str, str]
    radiometry: Radiometry = "scale_offset"
    scale: float = 1.0
    offset: float = 0.0
    nodata_dn: int | None = 0
    saturated_dn: int | None = None
    qa_band: str | None = None
    qa_decoder: str | None = None
    description: str = ""
    band_ids: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", MappingProxyType(dict(self.bands)))
        object.__setattr__(
            self, "band_ids", MappingProxyType({v: k for k, v in self.bands.items()})
        )

    def band_id(self, common_name: str) -> str:
        """The product's band id for ``common_name``.

        Raises
        ------
        InputError
            When the sensor has no such band.
        """
        try:
            return self.bands[common_name]
        except KeyError:
            raise InputError(
                f"sensor {self.name!r} has no band {common_name!r}; "
                f"its band map is {dict(self.bands)}",
                where=f"band {common_name!r}",
                fix="use one of the sensor's common band names, or a generic profile "
                "with an explicit band map",
            ) from None


_SENTINEL2_L2A = SensorProfile(
    name="sentinel-2-l2a",
    bands={
        "coastal": "B01",
        "blue": "B02",
        "green": "B03",
        "red": "B04",
        "rededge1": "B05",
        "rededge2": "B06",
        "rededge3": "B07",
        "nir": "B08",
        "nir08": "B8A",
        "watervapour": "B09",
        "swir1": "B11",
        "swir2": "B12",
    },
    scale=1e-4,
    offset=-0.1,
    saturated_dn=65535,
    qa_band="SCL",
    qa_decoder="sentinel2-scl",
    description=(
        "Sentinel-2 MSI Level-2A surface reflectance: DN × 1e-4 − 0.1 "
        "(BOA_ADD_OFFSET of processing baseline ≥ 04.00, from 25 January 2022; "
        "pass offset=0.0 for older baselines)"
    ),
)

_LANDSAT_C2_L2 = SensorProfile(
    name="landsat-c2-l2",
    bands={
        "coastal": "SR_B1",
        "blue": "SR_B2",
        "green": "SR_B3",
        "red": "SR_B4",
        "nir": "SR_B5",
        "swir1": "SR_B6",
        "swir2": "SR_B7",
    },
    scale=2.75e-5,
    offset=-0.2,
    qa_band="QA_PIXEL",
    qa_decoder="landsat-c2-qa-pixel",
    description=(
        "Landsat 8/9 OLI Collection 2 Level-2 surface reflectance: DN × 2.75e-5 − 0.2 "
        "(USGS Landsat 8-9 Collection 2 Level 2 Science Product Guide)"
    ),
)

_LANDSAT8_L1 = SensorProfile(
    name="landsat8-l1",
    bands={
        "coastal": "B1",
        "blue": "B2",
        "green": "B3",
        "red": "B4",
        "nir": "B5",
        "swir1": "B6",
        "swir2": "B7",
        "pan": "B8",
        "cirrus": "B9",
    },
    radiometry="mtl_toa",
    saturated_dn=65535,
    qa_band="BQA",
    qa_decoder="landsat8-l1-bqa",
    description=(
        "Landsat 8 OLI Level-1 (pre-Collection): TOA reflectance from the MTL "
        "REFLECTANCE_MULT/ADD_BAND_n and SUN_ELEVATION (Landsat 8 Data Users Handbook §5.1)"
    ),
)

_GENERIC = SensorProfile(
    name="generic",
    bands={},
    nodata_dn=None,
    description="A multiband raster already in reflectance; build one with generic_profile()",
)

#: Sensor profiles by name.
SENSORS: Mapping[str, SensorProfile] = MappingProxyType(
    {p.name: p for p in (_SENTINEL2_L2A, _LANDSAT_C2_L2, _LANDSAT8_L1, _GENERIC)}
)


def get_sensor(name: str) -> SensorProfile:
    """The profile registered as ``name``.

    Raises
    ------
    InputError
        When no sensor has that name; the message lists the known ones.
    """
    try:
        return SENSORS[name]
    except KeyError:
        raise InputError(
            f"unknown sensor {name!r}",
            fix=f"use one of {', '.join(sorted(SENSORS))}",
        ) from None


def generic_profile(
    bands: Mapping[str, str],
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    nodata_dn: int | None = None,
    saturated_dn: int | None = None,
    qa_band: str | None = None,
    qa_decoder: str | None = None,
) -> SensorProfile:
    """A ``generic`` profile with an explicit band map (common name → band id)."""
    if not bands:
        raise InputError(
            "a generic sensor profile needs a band map",
            fix='give e.g. {"red": "3", "nir": "4"} (common name → band id)',
        )
    return SensorProfile(
        name="generic",
        bands=bands,
        scale=scale,
        offset=offset,
        nodata_dn=nodata_dn,
        saturated_dn=saturated_dn,
        qa_band=qa_band,
        qa_decoder=qa_decoder,
        description=_GENERIC.description,
    )


def scaled_reflectance(
    dn: xr.DataArray, *, profile: SensorProfile, offset: float | None = None
) -> xr.DataArray:
    """Reflectance = DN × scale + offset, with the profile's fill DN as NaN.

    Parameters
    ----------
    dn
        Digital numbers of a ``"scale_offset"`` sensor.
    profile
        The sensor profile.
    offset
        Overrides the profile's offset (e.g. ``0.0`` for Sentinel-2 products
        of processing baseline < 04.00).

    Returns
    -------
    xarray.DataArray
        float32 reflectance (units ``"1"``); lazy when ``dn`` is.

    Notes
    -----
    ρ = DN · scale + offset (Sentinel-2 L2A: 1e-4 and −0.1, ESA product
    specification; Landsat C2 L2: 2.75e-5 and −0.2, USGS product guide).
    """
    if profile.radiometry != "scale_offset":
        raise InputError(
            f"sensor {profile.name!r} has no fixed scaling ({profile.radiometry})",
            fix="use landsat8_l1_reflectance() with the scene's MTL file",
        )
    add = profile.offset if offset is None else offset
    values = dn.astype(np.float32) * np.float32(profile.scale) + np.float32(add)
    if profile.nodata_dn is not None:
        values = values.where(dn != profile.nodata_dn)
    values.attrs = {
        "units": "1",
        "long_name": "surface reflectance",
        "sensor": profile.name,
    }
    return values


def _mtl_find(mtl: Mapping[str, Any], key: str) -> Any:
    """The first value named ``key`` anywhere in the nested MTL, or ``None``."""
    for name, value in mtl.items():
        if name == key:
            return value
        if isinstance(value, Mapping):
            found = _mtl_find(value, key)
            if found is not None:
                return found
    return None


def _mtl_number(mtl: Mapping[str, Any], key: str, path: str | os.PathLike[str]) -> float:
    value = _mtl_find(mtl, key)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(
            f"the MTL file has no numeric {key}",
            path=path,
            where=key,
            fix="give the scene's original *_MTL.txt file",
        )
    return float(value)


def toa_reflectance(
    dn: xr.DataArray, *, mult: float, add: float, sun_elevation_deg: float
) -> xr.DataArray:
    """Landsat 8 top-of-atmosphere reflectance corrected for the sun angle.

    Parameters
    ----------
    dn
        Quantized calibrated digital numbers (Q_cal) of an OLI band.
    mult, add
        ``REFLECTANCE_MULT_BAND_n`` and ``REFLECTANCE_ADD_BAND_n`` from the MTL.
    sun_elevation_deg
        ``SUN_ELEVATION`` from the MTL, in degrees.

    Returns
    -------
    xarray.DataArray
        float32 TOA reflectance (units ``"1"``), NaN where DN is 0 (fill);
        lazy when ``dn`` is.

    Notes
    -----
    ρλ = (M_ρ · Q_cal + A_ρ) / sin(θ_SE)  (USGS Landsat 8 Data Users Handbook,
    §5.1 "Conversion to TOA Reflectance"), θ_SE the sun elevation angle.
    """
    if not 0.0 < sun_elevation_deg <= 90.0:
        raise InputError(
            f"sun elevation {sun_elevation_deg} degrees is outside (0, 90]",
            where="SUN_ELEVATION",
            fix="check the MTL file; night scenes have no reflectance",
        )
    sin_se = math.sin(math.radians(sun_elevation_deg))
    values = (dn.astype(np.float32) * np.float32(mult) + np.float32(add)) / np.float32(sin_se)
    values = values.where(dn != 0)
    values.attrs = {"units": "1", "long_name": "top-of-atmosphere reflectance"}
    return values


def reflectance_from_dn(
    dn: xr.DataArray,
    *,
    profile: SensorProfile,
    band: str,
    mtl: Mapping[str, Any] | None = None,
    mtl_path: str | os.PathLike[str] = "MTL",
    offset: float | None = None,
) -> xr.DataArray:
    """Reflectance of one band of any registered sensor from its digital numbers.

    Parameters
    ----------
    dn
        ``(y, x)`` digital numbers (NaN allowed for missing pixels).
    profile
        The sensor profile.
    band
        The band's common name (``"red"``); selects the MTL coefficients of
        ``"mtl_toa"`` sensors.
    mtl, mtl_path
        The parsed MTL metadata (and its file name for messages), required
        by ``"mtl_toa"`` sensors.
    offset
        Overrides the offset of ``"scale_offset"`` sensors.

    Returns
    -------
    xarray.DataArray
        float32 reflectance, NaN at fill.

    Notes
    -----
    ``"scale_offset"``: see :func:`scaled_reflectance`; ``"mtl_toa"``: see
    :func:`toa_reflectance`.
    """
    if profile.radiometry == "scale_offset":
        return scaled_reflectance(dn, profile=profile, offset=offset)
    if mtl is None:
        raise InputError(
            f"sensor {profile.name!r} needs the scene's MTL metadata for its TOA coefficients",
            where=f"band {band!r}",
            fix='give the metadata file, e.g. mtl = "LC08_..._MTL.txt" in the survey',
        )
    number = profile.band_id(band).removeprefix("B")
    mult = _mtl_number(mtl, f"REFLECTANCE_MULT_BAND_{number}", mtl_path)
    add = _mtl_number(mtl, f"REFLECTANCE_ADD_BAND_{number}", mtl_path)
    sun_elevation = _mtl_number(mtl, "SUN_ELEVATION", mtl_path)
    return toa_reflectance(dn, mult=mult, add=add, sun_elevation_deg=sun_elevation)


def landsat8_l1_reflectance(
    band_paths: Mapping[str, str | os.PathLike[str]],
    mtl_path: str | os.PathLike[str],
    grid: Grid,
    *,
    chunks: int | None = None,
) -> xr.DataArray:
    """TOA reflectance of Landsat 8 Level-1 band files on the analysis grid.

    Parameters
    ----------
    band_paths
        Common name (``"red"``) or band id (``"B4"``) → GeoTIFF of that band.
    mtl_path
        The scene's ``*_MTL.txt``.
    grid
        The analysis grid; bands are read with ``"nearest"`` resampling, so an
        aligned grid gets the file's own pixels.
    chunks
        Block size for a lazy (dask) result.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` float32 TOA reflectance, ``band`` holding common
        names in the order given; NaN at fill (DN 0) and outside the scene.

    Raises
    ------
    InputError
        An unknown or thermal band, a missing MTL coefficient, or a band file
        that cannot be read onto the grid.

    Notes
    -----
    See :func:`toa_reflectance`.
    """
    profile = SENSORS["landsat8-l1"]
    if not band_paths:
        raise InputError("no Landsat band files were given", fix="give e.g. {'red': 'B4.tif'}")
    mtl = read_mtl(mtl_path)
    sun_elevation = _mtl_number(mtl, "SUN_ELEVATION", mtl_path)
    layers: list[xr.DataArray] = []
    names: list[str] = []
    for key, path in band_paths.items():
        common = key if key in profile.bands else profile.band_ids.get(key)
        if common is None:
            raise InputError(
                f"{key!r} is not a reflective Landsat 8 OLI band "
                f"(band map: {dict(profile.bands)}); thermal bands B10/B11 have no reflectance",
                path=path,
                where=f"band {key!r}",
                fix="name each file by a common name or band id of the band map",
            )
        number = profile.bands[common].removeprefix("B")
        mult = _mtl_number(mtl, f"REFLECTANCE_MULT_BAND_{number}", mtl_path)
        add = _mtl_number(mtl, f"REFLECTANCE_ADD_BAND_{number}", mtl_path)
        # Landsat Level-1 fill is DN 0; declaring it keeps cells outside the
        # scene at 0 (not the uint16 maximum), which toa_reflectance makes NaN.
        dn = read_raster(path, grid, bands=[1], resampling="nearest", chunks=chunks, nodata=0)
        toa = toa_reflectance(
            dn.isel(band=0, drop=True), mult=mult, add=add, sun_elevation_deg=sun_elevation
        )
        layers.append(toa)
        names.append(common)
    reflectance = xr.concat(layers, dim=xr.DataArray(names, dims="band", name="band"))
    reflectance = reflectance.transpose("band", "y", "x")
    reflectance.name = "toa_reflectance"
    reflectance.attrs = {
        "units": "1",
        "long_name": "top-of-atmosphere reflectance",
        "sensor": profile.name,
        "sun_elevation_deg": sun_elevation,
        "mtl_file": str(mtl_path),
    }
    return reflectance
