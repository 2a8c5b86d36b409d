"""Imagery stage: sensor profiles, scenes, masks, composites, indices and land cover.

Science only: functions take and return xarray objects; files are read
through :mod:`carbonsink.io`.
"""

from carbonsink.imagery.accuracy import AccuracyReport, accuracy_report, confusion_matrix
from carbonsink.imagery.area_estimate import AreaEstimate, olofsson_area_estimate
from carbonsink.imagery.composite import composite_scenes
from carbonsink.imagery.indices import INDICES, SpectralIndex, compute_index
from carbonsink.imagery.landcover import (
    FORESTS,
    LandCover,
    classify_landcover,
    landcover_features,
)
from carbonsink.imagery.masks import water_mask
from carbonsink.imagery.scenes import Scene, read_scene, read_scenes
from carbonsink.imagery.sensors import (
    SENSORS,
    SensorProfile,
    generic_profile,
    get_sensor,
    landsat8_l1_reflectance,
    reflectance_from_dn,
    scaled_reflectance,
    toa_reflectance,
)
from carbonsink.io.quality_bands import (
    QA_DECODERS,
    bqa_confidence,
    landsat8_l1_bqa_masks,
    landsat_c2_qa_pixel_masks,
    sentinel2_scl_masks,
)

__all__ = [
    "FORESTS",
    "INDICES",
    "QA_DECODERS",
    "SENSORS",
    "AccuracyReport",
    "AreaEstimate",
    "LandCover",
    "Scene",
    "SensorProfile",
    "SpectralIndex",
    "accuracy_report",
    "bqa_confidence",
    "classify_landcover",
    "composite_scenes",
    "compute_index",
    "confusion_matrix",
    "generic_profile",
    "get_sensor",
    "landcover_features",
    "landsat8_l1_bqa_masks",
    "landsat8_l1_reflectance",
    "landsat_c2_qa_pixel_masks",
    "olofsson_area_estimate",
    "read_scene",
    "read_scenes",
    "reflectance_from_dn",
    "scaled_reflectance",
    "sentinel2_scl_masks",
    "toa_reflectance",
    "water_mask",
]
