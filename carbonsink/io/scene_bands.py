"""Satellite products' band layouts: sensor profiles, and where each band of a scene is.

Format knowledge, shared by the imagery stage (which reads the pixels) and the
preflight (which checks, before any compute, that every band a run needs —
and the quality band — can be found). Profiles are data in :data:`SENSORS`
(a registry, not if-chains): a band map from common names (``"red"``,
``"nir"``, ``"swir1"``, ...) to the sensor's band ids, the linear scaling of
its surface-reflectance product, and the name of its quality band and of the
decoder in :data:`carbonsink.io.quality_bands.QA_DECODERS`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from carbonsink.errors import InputError, InputNotFoundError
from carbonsink.io.products import Product, open_product
from carbonsink.io.rasters import read_raster_info

__all__ = [
    "SENSORS",
    "BandSource",
    "Radiometry",
    "SensorProfile",
    "generic_profile",
    "get_sensor",
    "locate_bands",
    "scene_profile",
]

_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")

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
        Key of the decoder in :data:`carbonsink.io.quality_bands.QA_DECODERS`.
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


def scene_profile(
    sensor: str | SensorProfile, band_map: Mapping[str, int | str] | None
) -> SensorProfile:
    """The profile of a scene: a registered sensor, a given profile, or a generic one."""
    if isinstance(sensor, SensorProfile):
        return sensor
    if sensor == "generic":
        if not band_map:
            raise InputError(
                'sensor "generic" needs a band map',
                fix="give e.g. band_map={'red': 3, 'nir': 4} (common name → band number)",
            )
        return generic_profile({k: str(v) for k, v in band_map.items()})
    return get_sensor(sensor)


def _band_files(path: str | os.PathLike[str]) -> list[Path] | None:
    """The raster files of a folder or glob; ``None`` for a single file."""
    text = str(path)
    if glob.has_magic(text):
        matches = [Path(p) for p in sorted(glob.glob(text))]  # noqa: PTH207
    elif Path(text).is_dir():
        matches = sorted(Path(text).iterdir())
    else:
        return None
    files = [p for p in matches if p.is_file() and p.suffix.lower() in _RASTER_SUFFIXES]
    if not files:
        raise InputNotFoundError(
            "no raster files (.tif, .jp2, ...) found",
            path=text,
            fix="give a multiband file, or a folder/glob of one file per band",
        )
    return files


def _file_for(files: Sequence[Path], band_id: str) -> Path | None:
    """The file whose stem is ``band_id`` or ends in ``_<band_id>`` (case-insensitive)."""
    key = band_id.upper()
    found = [f for f in files if f.stem.upper() == key or f.stem.upper().endswith(f"_{key}")]
    if len(found) > 1:
        raise InputError(
            f"{len(found)} files could hold band {band_id}: {', '.join(f.name for f in found)}",
            path=found[0].parent,
            where=f"band {band_id}",
            fix="keep one scene per folder, or give a glob that matches one scene's files",
        )
    return found[0] if found else None


@dataclass(frozen=True)
class BandSource:
    """Where a band is: its file and the band number or description in it."""

    file: Path
    band: int | str


def locate_bands(
    path: str | os.PathLike[str],
    profile: SensorProfile,
    band_map: Mapping[str, int | str] | None,
    wanted: Sequence[str] | None,
    crs: Any,
    product: Product | None = None,
) -> tuple[dict[str, BandSource], BandSource | None]:
    """Where each reflective band (by common name) and the QA band are.

    ``product``: the downloaded product or STAC item ``path`` stands for
    (:func:`carbonsink.io.products.open_products`); found from ``path`` when
    not given.
    """
    ids: dict[str, int | str] = dict(profile.bands)
    if band_map:
        ids.update(band_map)
    names = list(wanted) if wanted is not None else list(ids)
    unknown = [n for n in names if n not in ids]
    if unknown:
        raise InputError(
            f"sensor {profile.name!r} has no band {', '.join(map(repr, unknown))}; "
            f"its bands are {', '.join(ids)}",
            path=path,
            where=f"band {unknown[0]!r}",
            fix="ask for the sensor's common band names, or give a band map",
        )
    if product is None:
        product = open_product(path)
    files = _band_files(path) if product is None else None
    sources: dict[str, BandSource] = {}
    qa: BandSource | None = None
    if product is not None:
        if product.sensor is not None and product.sensor != profile.name:
            raise InputError(
                f"the product is {product.sensor} but the entry says sensor {profile.name!r}",
                path=path,
                fix=f'set sensor = "{product.sensor}" on the imagery entry',
            )
        for name in names:
            found = product.source(str(ids[name]), name)
            if found is not None:
                sources[name] = BandSource(Path(found[0]), found[1])
        found = product.source(profile.qa_band) if profile.qa_band is not None else None
        qa = BandSource(Path(found[0]), found[1]) if found is not None else None
        found_in = f"the product ({', '.join(product.files)})"
    elif files is not None:
        for name in names:
            match = _file_for(files, str(ids[name]))
            if match is not None:
                sources[name] = BandSource(match, 1)
        if profile.qa_band is not None:
            match = _file_for(files, profile.qa_band)
            qa = BandSource(match, 1) if match is not None else None
        found_in = f"the files {', '.join(f.name for f in files[:6])}"
    else:
        info = read_raster_info(path, crs=crs)
        descriptions = [d for d in info.band_descriptions if d]
        for name in names:
            band = ids[name]
            if isinstance(band, int) or str(band).isdigit():
                number = int(band)
                if 1 <= number <= info.count:
                    sources[name] = BandSource(info.path, number)
            elif band in descriptions:
                sources[name] = BandSource(info.path, str(band))
        if profile.qa_band is not None and profile.qa_band in descriptions:
            qa = BandSource(info.path, profile.qa_band)
        found_in = (
            f"the file's band descriptions ({', '.join(descriptions)})"
            if descriptions
            else f"the file, which has {info.count} unnamed band(s)"
        )
    missing = [n for n in names if n not in sources]
    if wanted is not None and missing:
        raise InputError(
            f"band {missing[0]!r} ({ids[missing[0]]}) of sensor {profile.name!r} is not in "
            f"{found_in}",
            path=path,
            where=f"band {missing[0]!r}",
            fix="give the file that holds it, name the files ..._<band id>.tif, or give a "
            "band map (common name → band number)",
        )
    if not sources:
        raise InputError(
            f"none of the bands of sensor {profile.name!r} "
            f"({', '.join(f'{k}={v}' for k, v in ids.items())}) is in {found_in}",
            path=path,
            fix="check the sensor, or give a band map such as {'red': 3, 'nir': 4}",
        )
    return sources, qa
