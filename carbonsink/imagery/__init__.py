"""Imagery stage: sensor profiles, reflectance, spectral indices and quality masks.

Science only: functions take and return xarray objects; files are read
through :mod:`carbonsink.io`.
"""

from carbonsink.imagery.indices import INDICES, SpectralIndex, compute_index
from carbonsink.imagery.masks import (
    QA_DECODERS,
    bqa_confidence,
    landsat8_l1_bqa_masks,
    landsat_c2_qa_pixel_masks,
    sentinel2_scl_masks,
    water_mask,
)
from carbonsink.imagery.sensors import (
    SENSORS,
    SensorProfile,
    generic_profile,
    get_sensor,
    landsat8_l1_reflectance,
    read_mtl,
    scaled_reflectance,
    toa_reflectance,
)

__all__ = [
    "INDICES",
    "QA_DECODERS",
    "SENSORS",
    "SensorProfile",
    "SpectralIndex",
    "bqa_confidence",
    "compute_index",
    "generic_profile",
    "get_sensor",
    "landsat8_l1_bqa_masks",
    "landsat8_l1_reflectance",
    "landsat_c2_qa_pixel_masks",
    "read_mtl",
    "scaled_reflectance",
    "sentinel2_scl_masks",
    "toa_reflectance",
    "water_mask",
]
