"""Scenes: one satellite image on the analysis grid, as reflectance plus its masks.

:func:`read_scene` is the one way imagery enters the pipeline. It takes a
multiband file (bands found by their descriptions, e.g. ``B04``, or by an
explicit band map) or a folder/glob of one file per band (found by the
file-name suffix, e.g. ``..._B4.tif``, ``..._SR_B4.TIF``, ``..._QA_PIXEL.TIF``),
reads the digital numbers onto the grid, converts them to reflectance with
the sensor profile, and decodes the quality band into masks. Pixels are
never dropped here: :class:`Scene` carries an ``unusable`` mask that the
composite honours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from carbonsink.grid import Grid
from carbonsink.i18n import deferred
from carbonsink.imagery.masks import water_mask
from carbonsink.imagery.sensors import SensorProfile, reflectance_from_dn
from carbonsink.io.landsat_mtl import read_mtl
from carbonsink.io.products import Product, open_product, open_products
from carbonsink.io.quality_bands import QA_DECODERS, UNUSABLE_MASKS
from carbonsink.io.rasters import Resampling, read_raster
from carbonsink.io.scene_bands import BandSource, locate_bands, scene_profile

__all__ = ["Scene", "read_scene", "read_scenes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scene:
    """One image on the analysis grid.

    Attributes
    ----------
    reflectance
        ``(band, y, x)`` float32 reflectance (units ``"1"``); ``band`` holds
        common names (``"blue"``, ``"red"``, ``"nir"``, ``"swir1"``, ...).
        NaN at fill and outside the image.
    masks
        Boolean ``(y, x)`` layers: ``nodata``, ``saturated``, the QA
        decoder's layers (``cloud``, ``shadow``, ``cirrus``, ``snow``, ...;
        its water flag renamed ``qa_water``), ``unusable`` (their union, see
        :data:`~carbonsink.io.quality_bands.UNUSABLE_MASKS`) and ``water`` (MNDWI
        > 0 at image date). Without a QA band there is no cloud mask and the
        dataset's ``cloud_mask`` attribute says so.
    sensor
        The sensor profile's name.
    date
        Acquisition date, when known.
    source
        The file, folder or glob read.
    """

    reflectance: xr.DataArray
    masks: xr.Dataset
    sensor: str
    date: dt.date | None
    source: str

    @property
    def usable(self) -> xr.DataArray:
        """True where the pixel may enter a composite."""
        return ~self.masks["unusable"]

    def usable_fraction(self, inside: xr.DataArray | None = None) -> float:
        """Fraction of the (inside) cells that are usable, 0–1."""
        usable = self.usable
        if inside is not None:
            total = int(inside.sum())
            return float((usable & inside).sum()) / total if total else 0.0
        return float(usable.mean())


def _read_dn(
    sources: Mapping[str, BandSource],
    grid: Grid,
    profile: SensorProfile,
    *,
    resampling: Resampling,
    crs: Any,
    chunks: int | None,
) -> dict[str, xr.DataArray]:
    """Digital numbers per common name, float32 with NaN at fill; one read per file."""
    by_file: dict[Path, list[str]] = {}
    for name, source in sources.items():
        by_file.setdefault(source.file, []).append(name)
    dn: dict[str, xr.DataArray] = {}
    for file, names in by_file.items():
        stack = read_raster(
            file,
            grid,
            bands=[sources[n].band for n in names],
            resampling=resampling,
            crs=crs,
            chunks=chunks,
            dtype=np.float32,
            nodata=profile.nodata_dn,
        )
        for i, name in enumerate(names):
            dn[name] = stack.isel(band=i, drop=True)
    return dn


def _mask_attrs(layer: xr.DataArray, name: str, long_name: str) -> xr.DataArray:
    layer = layer.copy()
    layer.name = name
    layer.attrs = {"units": "1", "long_name": long_name}
    return layer


def read_scene(
    path: str | os.PathLike[str],
    grid: Grid,
    *,
    sensor: str | SensorProfile,
    band_map: Mapping[str, int | str] | None = None,
    bands: Sequence[str] | None = None,
    mtl: str | os.PathLike[str] | None = None,
    crs: Any = None,
    date: dt.date | None = None,
    chunks: int | None = None,
    offset: float | None = None,
    resampling: Resampling = "bilinear",
    product: Product | None = None,
) -> Scene:
    """Read one image onto the analysis grid as reflectance with its masks.

    Parameters
    ----------
    path
        A multiband raster, a folder or glob of one raster per band, a
        downloaded product (Sentinel-2 L2A ``.SAFE``/``.zip``, Landsat C2 L2
        folder/``.tar``) or a STAC Item (:mod:`carbonsink.io.products`).
    grid
        The analysis grid.
    sensor
        A name in :data:`~carbonsink.imagery.sensors.SENSORS` or a profile.
    band_map
        Common name → band number (or band description / file suffix);
        overrides the profile's band ids and is required for ``"generic"``.
    bands
        The common names to read; all the sensor's bands found by default.
        A requested band that is absent is an error.
    mtl
        The ``*_MTL.txt`` of a Landsat Level-1 scene (TOA coefficients, date).
    crs
        The file's CRS when it has none (or a wrong one).
    date
        Acquisition date; default from the MTL when given.
    chunks
        Block size for lazy (dask) reading.
    offset
        Overrides the profile's reflectance offset (Sentinel-2 before
        processing baseline 04.00: 0.0).
    resampling
        For the reflective bands; the QA band is always read ``"nearest"``.
        On a grid aligned with the image every resampling returns the
        image's own pixels.
    product
        The product or STAC item ``path`` stands for, when already opened
        (one item of an ItemCollection: :func:`read_scenes`).

    Returns
    -------
    Scene

    Raises
    ------
    InputError, InputNotFoundError, CRSError
        A missing file or band, a raster without a CRS, or one that does
        not overlap the grid.

    Notes
    -----
    Saturation is the QA's saturation flag (Sentinel-2 SCL 1) or any band
    whose DN on the grid equals the sensor's saturated DN (65535 for
    Sentinel-2 L2A and Landsat 8 L1). With ``"bilinear"`` resampling onto a
    coarser or shifted grid, a cell that mixes saturated and unsaturated
    pixels is not flagged; read with ``resampling="nearest"`` to flag every
    cell whose nearest pixel is saturated.
    """
    profile = scene_profile(sensor, band_map)
    if product is None:
        product = open_product(path)
    sources, qa_source = locate_bands(path, profile, band_map, bands, crs, product=product)
    if product is not None:  # the product's own scaling and date (baseline offset, MTL, STAC)
        if product.scale is not None and product.offset is not None:
            profile = dataclasses.replace(profile, scale=product.scale, offset=product.offset)
        if date is None:
            date = product.date
        elif product.date is not None and date != product.date:
            logger.warning(
                deferred(
                    "{file}: the survey gives date {date}, the product metadata {product}; "
                    "{date} is used",
                    file=str(path),
                    date=str(date),
                    product=str(product.date),
                )
            )
    metadata = read_mtl(mtl) if mtl is not None else None
    if date is None and metadata is not None:
        acquired = _find_text(metadata, "DATE_ACQUIRED")
        date = dt.date.fromisoformat(acquired) if acquired else None
    dn = _read_dn(sources, grid, profile, resampling=resampling, crs=crs, chunks=chunks)
    layers = [
        reflectance_from_dn(
            values,
            profile=profile,
            band=name,
            mtl=metadata,
            mtl_path=mtl if mtl is not None else "MTL",
            offset=offset,
        )
        for name, values in dn.items()
    ]
    reflectance = xr.concat(layers, dim=xr.DataArray(list(dn), dims="band", name="band"))
    reflectance = reflectance.transpose("band", "y", "x")
    reflectance.name = "reflectance"
    reflectance.attrs = {
        "units": "1",
        "long_name": f"{'top-of-atmosphere' if profile.radiometry == 'mtl_toa' else 'surface'} "
        "reflectance",
        "sensor": profile.name,
    }

    if qa_source is not None and profile.qa_decoder is not None:
        qa = read_raster(
            qa_source.file,
            grid,
            bands=[qa_source.band],
            resampling="nearest",
            crs=crs,
            chunks=chunks,
        ).isel(band=0, drop=True)
        decoded = QA_DECODERS[profile.qa_decoder](qa)
        masks = decoded.rename({"water": "qa_water"}) if "water" in decoded else decoded
        cloud_note = f"from the {profile.qa_band} band ({profile.qa_decoder})"
    else:
        masks = xr.Dataset()
        cloud_note = (
            "none: the scene has no quality band, so clouds, shadows and snow are not masked"
        )
        logger.warning("%s: no quality band found; clouds are not masked", path)

    missing = reflectance.isnull().any("band")
    nodata = missing | masks["nodata"] if "nodata" in masks else missing
    masks["nodata"] = _mask_attrs(nodata, "nodata", "no data (fill or outside the image)")
    saturated = xr.zeros_like(missing)
    if profile.saturated_dn is not None:
        for values in dn.values():
            saturated = saturated | (values >= np.float32(profile.saturated_dn))
    if "saturated" in masks:
        saturated = saturated | masks["saturated"]
    masks["saturated"] = _mask_attrs(saturated, "saturated", "saturated or defective pixel")
    unusable = xr.zeros_like(missing)
    for name in UNUSABLE_MASKS:
        if name in masks:
            unusable = unusable | masks[name]
    masks["unusable"] = _mask_attrs(unusable, "unusable", "not usable for compositing")
    if {"green", "swir1"} <= set(dn):
        masks["water"] = water_mask(reflectance)
    masks.attrs = {"cloud_mask": cloud_note, "sensor": profile.name}
    return Scene(
        reflectance=reflectance,
        masks=masks,
        sensor=profile.name,
        date=date,
        source=f"{path} (item {product.item})" if product and product.item else str(path),
    )


def read_scenes(path: str | os.PathLike[str], grid: Grid, **options: Any) -> list[Scene]:
    """Every scene an imagery entry names: one, or one per item of a STAC file.

    ``options`` are those of :func:`read_scene`. A STAC ItemCollection or
    catalog (:func:`carbonsink.io.stac.read_stac`) gives one scene per item,
    each dated by its item; anything else is :func:`read_scene` of ``path``.
    """
    found = open_products(path)
    products: list[Product | None] = list(found) if found else [None]
    return [read_scene(path, grid, product=product, **options) for product in products]


def _find_text(metadata: Mapping[str, Any], key: str) -> str | None:
    for name, value in metadata.items():
        if name == key:
            return str(value)
        if isinstance(value, Mapping):
            found = _find_text(value, key)
            if found is not None:
                return found
    return None
