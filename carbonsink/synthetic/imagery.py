"""Sentinel-2 L2A-like scenes computed from the true landscape.

Canopy model, per 10 m cell and band ``b`` (surface reflectance):

* land: ``ρ = fc × ρ_canopy + (1 − fc) × ρ_background`` with fractional cover
  ``fc = 1 − exp(−0.5 LAI)``, which saturates in dense reed, so NDVI does too;
  ``ρ_canopy = (1 − sen) × ρ_leaf(b) × g_b(LAI) + sen × ρ_dry(b)`` where the
  near-infrared bands (B06–B8A) grow with LAI as ``g = 1 − 0.4 exp(−0.45 LAI)``
  and ``sen`` is the senescent fraction of the class (September: miscanthus
  and reed start to yellow). Poplar crowns are darker (self-shadowing).
  ``ρ_background`` mixes dry and wet mud by a wetness field that rises
  towards the lake, which is what makes mudflats vary between wet and dry.
* water: a turbid-lake spectrum, dark in NIR and SWIR (so MNDWI > 0.6).

Each scene adds a 10-day phenology step (the second scene is slightly more
senescent), a small residual of the atmospheric correction, sensor noise
(SD 0.002 + 1 % of the value), cloud blobs (SCL 9 in their opaque cores,
SCL 8 at their edges) blended towards a bright cloud spectrum, and their
shadows (SCL 3), displaced 150 m north-west of the clouds. Bands B05–B07,
B8A, B11 and B12 are averaged over 2 × 2 cells (Sentinel-2's native 20 m).
Digital numbers follow processing baseline ≥ 04.00: ``DN = (ρ + 0.1) × 10000``
(``BOA_ADD_OFFSET = −1000``), clipped to 1–65535; 0 is nodata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from carbonsink.io.writers import atomic_path
from carbonsink.synthetic.landscape import EpochTruth, Landscape
from carbonsink.synthetic.parameters import CLASS_BY_NAME
from carbonsink.synthetic.random_fields import gaussian_field, named_stream

__all__ = ["BANDS", "SCL_CODES", "scene_reflectance", "write_scene"]

FloatArray = npt.NDArray[np.float64]

#: Spectral bands in file order; ``SCL`` (scene classification) is appended.
BANDS: Final = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
#: Bands Sentinel-2 measures at 20 m.
_BANDS_20M: Final = ("B05", "B06", "B07", "B8A", "B11", "B12")
#: Scene classification codes used (Sentinel-2 L2A SCL).
SCL_CODES: Final = {
    "cloud_shadow": 3,
    "vegetation": 4,
    "not_vegetated": 5,
    "water": 6,
    "cloud_medium_probability": 8,
    "cloud_high_probability": 9,
}

_LEAF: Final = np.array([0.025, 0.055, 0.030, 0.085, 0.25, 0.33, 0.37, 0.39, 0.19, 0.09])
_DRY: Final = np.array([0.06, 0.08, 0.10, 0.13, 0.18, 0.21, 0.23, 0.24, 0.30, 0.22])
_POPLAR_SHADE: Final = np.array([0.8, 0.85, 0.8, 0.85, 0.9, 0.9, 0.9, 0.9, 0.85, 0.8])
_MUD_DRY: Final = np.array([0.07, 0.09, 0.11, 0.13, 0.15, 0.16, 0.17, 0.18, 0.25, 0.20])
_MUD_WET_FACTOR: Final = np.array([0.7, 0.7, 0.65, 0.6, 0.5, 0.5, 0.45, 0.45, 0.3, 0.25])
_WATER: Final = np.array([0.055, 0.07, 0.055, 0.04, 0.02, 0.015, 0.012, 0.010, 0.004, 0.002])
_TURBIDITY: Final = np.array([0.01, 0.03, 0.04, 0.03, 0.01, 0.005, 0.004, 0.003, 0.001, 0.0005])
_CLOUD: Final = np.array([0.45, 0.44, 0.44, 0.45, 0.46, 0.46, 0.47, 0.47, 0.38, 0.28])
_NIR_BANDS: Final = np.array([b in ("B06", "B07", "B08", "B8A") for b in BANDS])
#: Cloud shadow offset in cells (rows, cols): 150 m to the north-west.
_SHADOW_SHIFT: Final = (-11, -11)
_WRITE_ROWS: Final = 256


def scene_reflectance(
    landscape: Landscape, epoch: EpochTruth, *, scene: int
) -> tuple[FloatArray, npt.NDArray[np.uint8]]:
    """Surface reflectance ``(band, row, col)`` and SCL of one scene on the landscape grid.

    Parameters
    ----------
    landscape
        The true landscape.
    epoch
        The epoch the scene belongs to.
    scene
        0 or 1: which of the epoch's two image dates.

    Returns
    -------
    reflectance, scl
        Float64 reflectance of :data:`BANDS` and the uint8 scene classification.
    """
    seed = landscape.seed
    name = f"imagery.{epoch.spec.name}.{scene}"
    shape = epoch.class_code.shape
    lai = epoch.lai[np.newaxis]
    fc = epoch.fractional_cover[np.newaxis]
    sen = np.clip(epoch.senescence + 0.05 * scene, 0.0, 0.7)[np.newaxis]
    band = (slice(None), np.newaxis, np.newaxis)
    nir_gain = np.where(_NIR_BANDS[band], 1.0 - 0.4 * np.exp(-0.45 * lai), 1.0)
    leaf = np.broadcast_to(_LEAF[band], (len(BANDS), *shape)).copy()
    poplar = epoch.class_code == CLASS_BY_NAME["poplar"].code
    leaf[:, poplar] *= _POPLAR_SHADE[:, np.newaxis]
    canopy = (1.0 - sen) * leaf * nir_gain + sen * _DRY[band]
    wet = epoch.wetness[np.newaxis]
    background = _MUD_DRY[band] * (1.0 - wet + wet * _MUD_WET_FACTOR[band])
    reflectance = fc * canopy + (1.0 - fc) * background

    turbidity = 0.5 + 0.5 * gaussian_field(
        named_stream(seed, f"imagery.{epoch.spec.name}.turbidity"), shape, length_cells=20.0
    )
    water_refl = _WATER[band] + np.clip(turbidity, 0.0, 1.0)[np.newaxis] * _TURBIDITY[band]
    water = epoch.water_mask
    reflectance = np.where(water[np.newaxis], water_refl, reflectance)

    rng = named_stream(seed, name)
    reflectance = (
        reflectance
        + rng.normal(0.0, 0.002, (len(BANDS), 1, 1))
        * np.array([1.5, 1.0, 0.6, 0.4, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1])[band]
    )
    for i, b in enumerate(BANDS):
        if b in _BANDS_20M:
            reflectance[i] = _block_average(reflectance[i])
    noise_sd = 0.002 + 0.01 * np.abs(reflectance)
    reflectance = reflectance + noise_sd * rng.standard_normal(reflectance.shape)

    scl = np.full(shape, SCL_CODES["not_vegetated"], dtype=np.uint8)
    scl[epoch.fractional_cover > 0.25] = SCL_CODES["vegetation"]
    scl[water] = SCL_CODES["water"]

    cloud_field = gaussian_field(named_stream(seed, f"{name}.clouds"), shape, length_cells=7.0)
    threshold = float(np.quantile(cloud_field, 0.93))
    opacity = np.clip((cloud_field - threshold) / 0.8, 0.0, 1.0) ** 0.5
    cloudy = opacity > 0.0
    shadow = _shift(cloudy, _SHADOW_SHIFT) & ~cloudy
    shadow_depth = 0.3 + 0.2 * (1.0 - _shift(opacity, _SHADOW_SHIFT))
    reflectance = np.where(shadow[np.newaxis], reflectance * shadow_depth[np.newaxis], reflectance)
    reflectance = (1.0 - opacity[np.newaxis]) * reflectance + opacity[np.newaxis] * _CLOUD[band]
    scl[shadow] = SCL_CODES["cloud_shadow"]
    scl[cloudy] = SCL_CODES["cloud_medium_probability"]
    scl[opacity > 0.6] = SCL_CODES["cloud_high_probability"]
    return np.asarray(reflectance, dtype=np.float64), scl


def _block_average(values: FloatArray) -> FloatArray:
    """Average over aligned 2 × 2 blocks (the grid is snapped to 20 m)."""
    rows, cols = values.shape
    r2, c2 = rows - rows % 2, cols - cols % 2
    out = values.copy()
    blocks = values[:r2, :c2].reshape(r2 // 2, 2, c2 // 2, 2).mean(axis=(1, 3))
    out[:r2, :c2] = np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)
    return out


def _shift(values: npt.NDArray, offset: tuple[int, int]) -> npt.NDArray:
    """Shift an array by ``(rows, cols)`` cells, filling with zeros (no wrap)."""
    dr, dc = offset
    out = np.zeros_like(values)
    rows, cols = values.shape
    src_r = slice(max(0, -dr), rows - max(0, dr))
    dst_r = slice(max(0, dr), rows - max(0, -dr))
    src_c = slice(max(0, -dc), cols - max(0, dc))
    dst_c = slice(max(0, dc), cols - max(0, -dc))
    out[dst_r, dst_c] = values[src_r, src_c]
    return out


def reflectance_to_dn(reflectance: FloatArray) -> npt.NDArray[np.uint16]:
    """Encode reflectance as L2A digital numbers: ``DN = (ρ + 0.1) × 10000``, 1–65535."""
    dn = np.rint((reflectance + 0.1) * 10000.0)
    return np.clip(dn, 1, 65535).astype(np.uint16)


def write_scene(
    landscape: Landscape,
    epoch: EpochTruth,
    *,
    scene: int,
    path: Path,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write one scene as a multi-band uint16 GeoTIFF (tiled, DEFLATE) atomically.

    Parameters
    ----------
    landscape, epoch
        The truth the scene is computed from.
    scene
        0 or 1: which of the epoch's two image dates.
    path
        Destination file.
    progress
        Called with the fraction of rows written.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Bands B02 … B12 then SCL, described by name; dataset tags
    ``PROCESSING_BASELINE=05.09``, ``BOA_ADD_OFFSET=-1000``,
    ``QUANTIFICATION_VALUE=10000``, ``SENSING_DATE``; nodata 0. Rows are
    written in windows of 256 so the writer never holds more than a window of
    encoded data.
    """
    reflectance, scl = scene_reflectance(landscape, epoch, scene=scene)
    grid = landscape.landscape_grid
    date: dt.date = epoch.spec.image_dates[scene]
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": len(BANDS) + 1,
        "dtype": "uint16",
        "crs": grid.crs.to_wkt(),
        "transform": grid.transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "DEFLATE",
        "predictor": 2,
        "interleave": "band",
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(
            PROCESSING_BASELINE="05.09",
            BOA_ADD_OFFSET="-1000",
            QUANTIFICATION_VALUE="10000",
            SENSING_DATE=date.isoformat(),
            SPACECRAFT_NAME=epoch.spec.spacecraft[scene],
            PRODUCT_TYPE="S2MSI2A (synthetic)",
        )
        for i, name in enumerate((*BANDS, "SCL"), start=1):
            dst.set_band_description(i, name)
        for row0 in range(0, grid.height, _WRITE_ROWS):
            rows = min(_WRITE_ROWS, grid.height - row0)
            window = Window(0, row0, grid.width, rows)
            dn = reflectance_to_dn(reflectance[:, row0 : row0 + rows])
            dst.write(dn, indexes=list(range(1, len(BANDS) + 1)), window=window)
            dst.write(
                scl[row0 : row0 + rows].astype(np.uint16), indexes=len(BANDS) + 1, window=window
            )
            if progress is not None:
                progress((row0 + rows) / grid.height)
    return path
