"""Quality bands: the bit and class layouts of each sensor's QA band, and their decoders.

Each decoder in :data:`QA_DECODERS` turns an integer QA layer ``(y, x)`` into
an :class:`xarray.Dataset` of boolean masks with the same coordinates, and an
``unusable`` layer (the union of nodata, cloud, cirrus, shadow and snow) for
compositing. These are format definitions (the product guides' tables), so
they live in ``io``: the imagery science composites with them and the
preflight foresees with them which scenes are wholly clouded over the
project. Bit tests use integer arithmetic on the xarray object, so a
dask-backed QA layer stays lazy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal

import xarray as xr

from carbonsink.errors import InputError

__all__ = [
    "BQA_CONFIDENCE_BITS",
    "QA_DECODERS",
    "QA_PIXEL_BITS",
    "SCL_CLASSES",
    "UNUSABLE_MASKS",
    "BqaFlag",
    "bqa_confidence",
    "landsat8_l1_bqa_masks",
    "landsat_c2_qa_pixel_masks",
    "qa_bit",
    "sentinel2_scl_masks",
]

BqaFlag = Literal["water", "snow_ice", "cirrus", "cloud"]

#: Lowest bit of each 2-bit confidence of the pre-Collection Landsat 8 BQA
#: (Landsat 8 Data Users Handbook v1, Table 6-3): 0 not determined, 1 no
#: (0–33 %), 2 maybe (34–66 %), 3 yes (67–100 %). Bit 0 is designated fill.
BQA_CONFIDENCE_BITS: Mapping[str, int] = MappingProxyType(
    {"water": 4, "snow_ice": 10, "cirrus": 12, "cloud": 14}
)

#: Single-bit flags of Landsat Collection 2 QA_PIXEL (Landsat 8-9 C2 Level-2
#: Science Product Guide, Table 6-3).
QA_PIXEL_BITS: Mapping[str, int] = MappingProxyType(
    {
        "nodata": 0,
        "dilated_cloud": 1,
        "cirrus": 2,
        "cloud": 3,
        "shadow": 4,
        "snow": 5,
        "clear": 6,
        "water": 7,
    }
)

#: Sentinel-2 L2A scene classification (SCL) values of each mask (ESA
#: Sen2Cor product definition): 0 no data, 1 saturated or defective, 3 cloud
#: shadow, 6 water, 8 cloud medium probability, 9 cloud high probability,
#: 10 thin cirrus, 11 snow or ice.
SCL_CLASSES: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "nodata": (0,),
        "saturated": (1,),
        "shadow": (3,),
        "water": (6,),
        "cloud": (8, 9),
        "cirrus": (10,),
        "snow": (11,),
    }
)

#: Mask layers whose union is ``unusable`` (pixels a composite skips).
UNUSABLE_MASKS: tuple[str, ...] = (
    "nodata",
    "saturated",
    "cloud",
    "dilated_cloud",
    "cirrus",
    "shadow",
    "snow",
)


def _require_integer(qa: xr.DataArray, what: str) -> None:
    if qa.dtype.kind not in "iu":
        raise InputError(
            f"the {what} layer has dtype {qa.dtype}, not an integer type",
            where=str(qa.name) if qa.name is not None else None,
            fix='read QA bands with resampling="nearest" so their bits stay intact',
        )


def qa_bit(qa: xr.DataArray, bit: int, *, width: int = 1) -> xr.DataArray:
    """The ``width``-bit field of ``qa`` starting at ``bit`` (as integers).

    Notes
    -----
    field = ⌊qa / 2^bit⌋ mod 2^width.
    """
    _require_integer(qa, "QA")
    return (qa // (1 << bit)) % (1 << width)


def bqa_confidence(qa: xr.DataArray, flag: BqaFlag) -> xr.DataArray:
    """Confidence 0–3 of a pre-Collection Landsat 8 BQA flag (see :data:`BQA_CONFIDENCE_BITS`)."""
    if flag not in BQA_CONFIDENCE_BITS:
        raise InputError(
            f"{flag!r} is not a BQA confidence flag",
            fix=f"use one of {', '.join(BQA_CONFIDENCE_BITS)}",
        )
    return qa_bit(qa, BQA_CONFIDENCE_BITS[flag], width=2)


def _masks(layers: dict[str, xr.DataArray], sensor: str) -> xr.Dataset:
    unusable = None
    for name in UNUSABLE_MASKS:
        if name in layers:
            unusable = layers[name] if unusable is None else unusable | layers[name]
    assert unusable is not None
    layers["unusable"] = unusable
    for name, layer in layers.items():
        layer.name = name
        layer.attrs = {"units": "1", "long_name": f"{name.replace('_', ' ')} mask"}
    return xr.Dataset(layers, attrs={"qa_decoder": sensor})


def landsat8_l1_bqa_masks(qa: xr.DataArray, *, min_confidence: int = 3) -> xr.Dataset:
    """Masks from a pre-Collection Landsat 8 Level-1 BQA layer.

    Parameters
    ----------
    qa
        ``(y, x)`` integer BQA values.
    min_confidence
        Lowest 2-bit confidence counted as the condition: 3 ("yes",
        67–100 %) by default; 2 also takes "maybe".

    Returns
    -------
    xarray.Dataset
        Boolean ``nodata`` (bit 0), ``water``, ``snow`` (snow/ice),
        ``cirrus``, ``cloud`` and ``unusable``.

    Notes
    -----
    Confidence = ⌊BQA / 2^b⌋ mod 4 with b = 4 (water), 10 (snow/ice),
    12 (cirrus), 14 (cloud) (Landsat 8 Data Users Handbook v1, Table 6-3).
    """
    if not 1 <= min_confidence <= 3:
        raise InputError(
            f"min_confidence {min_confidence} is not 1, 2 or 3",
            fix="use 3 (high confidence) or 2 (medium and high)",
        )
    layers = {"nodata": qa_bit(qa, 0) == 1}
    flags: tuple[tuple[str, BqaFlag], ...] = (
        ("water", "water"),
        ("snow", "snow_ice"),
        ("cirrus", "cirrus"),
        ("cloud", "cloud"),
    )
    for name, flag in flags:
        layers[name] = bqa_confidence(qa, flag) >= min_confidence
    return _masks(layers, "landsat8-l1-bqa")


def landsat_c2_qa_pixel_masks(qa: xr.DataArray) -> xr.Dataset:
    """Masks from a Landsat Collection 2 QA_PIXEL layer.

    Returns
    -------
    xarray.Dataset
        Boolean ``nodata`` (bit 0), ``dilated_cloud`` (1), ``cirrus`` (2),
        ``cloud`` (3), ``shadow`` (4), ``snow`` (5), ``clear`` (6),
        ``water`` (7) and ``unusable``.

    Notes
    -----
    flag = ⌊QA_PIXEL / 2^b⌋ mod 2 (Landsat 8-9 C2 Level-2 Science Product
    Guide, Table 6-3).
    """
    layers = {name: qa_bit(qa, bit) == 1 for name, bit in QA_PIXEL_BITS.items()}
    return _masks(layers, "landsat-c2-qa-pixel")


def sentinel2_scl_masks(scl: xr.DataArray) -> xr.Dataset:
    """Masks from a Sentinel-2 L2A scene classification (SCL) layer.

    Returns
    -------
    xarray.Dataset
        Boolean ``nodata``, ``saturated``, ``shadow``, ``water``, ``cloud``
        (medium and high probability), ``cirrus``, ``snow`` and ``unusable``
        (see :data:`SCL_CLASSES`).
    """
    _require_integer(scl, "SCL")
    layers = {name: scl.isin(list(values)) for name, values in SCL_CLASSES.items()}
    return _masks(layers, "sentinel2-scl")


#: QA decoders by the name a :class:`~carbonsink.io.scene_bands.SensorProfile` gives.
QA_DECODERS: Mapping[str, Callable[[xr.DataArray], xr.Dataset]] = MappingProxyType(
    {
        "landsat8-l1-bqa": landsat8_l1_bqa_masks,
        "landsat-c2-qa-pixel": landsat_c2_qa_pixel_masks,
        "sentinel2-scl": sentinel2_scl_masks,
    }
)
