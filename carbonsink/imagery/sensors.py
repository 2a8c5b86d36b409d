"""Sensor profiles and how digital numbers become reflectance.

The profiles — which band is which, the product's scaling, its quality band —
are format data in :mod:`carbonsink.io.scene_bands` (:data:`SENSORS`), re-exported
here. Landsat 8 Level-1 has no fixed scaling: its top-of-atmosphere (TOA)
coefficients come from the scene's MTL file (:func:`carbonsink.io.landsat_mtl.read_mtl`,
:func:`toa_reflectance`, :func:`landsat8_l1_reflectance`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from carbonsink.errors import InputError
from carbonsink.grid import Grid
from carbonsink.io.landsat_mtl import read_mtl
from carbonsink.io.rasters import read_raster

# The profiles are format data (io); re-exported here, beside the radiometry that uses them.
from carbonsink.io.scene_bands import (
    SENSORS,
    Radiometry,
    SensorProfile,
    generic_profile,
    get_sensor,
)

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
