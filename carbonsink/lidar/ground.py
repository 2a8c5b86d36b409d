"""Ground classification: the Simple Morphological Filter (SMRF) and water detection.

A plain SMRF labels water as ground, because the water surface is the lowest
surface around. Water returns (class 9, or flat, sparse surfaces detected by
:func:`detect_water` when the cloud is unclassified) are therefore removed
before the filter and are never ground (METHODOLOGY.md §8).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from carbonsink.lidar._raster_ops import bilinear_many, bin_max, bin_min, inpaint, open_disk

__all__ = ["GroundResult", "SMRFParameters", "WaterParameters", "detect_water", "smrf"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SMRFParameters:
    """Parameters of SMRF (Pingel et al. 2013), in metres; defaults as PDAL's ``filters.smrf``.

    Attributes
    ----------
    cell
        Cell size of the minimum surface (m).
    slope
        Slope threshold (rise over run) separating terrain from objects.
    window
        Largest morphological window (m); objects wider than this stay ground.
    threshold
        Elevation threshold (m) of the final point classification.
    scalar
        Elevation scaling factor: the threshold grows by ``scalar × local slope``.
    """

    cell: float = 1.0
    slope: float = 0.15
    window: float = 18.0
    threshold: float = 0.5
    scalar: float = 1.25

    @property
    def max_radius_cells(self) -> int:
        return max(1, math.ceil(self.window / self.cell))


@dataclass(frozen=True)
class GroundResult:
    """Outcome of :func:`smrf`.

    Attributes
    ----------
    ground
        ``True`` for ground points.
    surface
        Provisional bare-earth surface on the SMRF cells (m), rows north to south.
    origin
        ``(x_min, y_max)`` of the surface's upper-left corner.
    cell
        Cell size of ``surface`` (m).
    """

    ground: BoolArray
    surface: FloatArray
    origin: tuple[float, float]
    cell: float


def _progressive_filter(
    surface: npt.NDArray[np.floating], *, cell: float, slope: float, max_radius: int
) -> BoolArray:
    """Cells whose height drops by more than the slope allows under growing openings.

    Notes
    -----
    Pingel et al. 2013, eq. 1–2: for radius r = 1…R, open the last surface with
    a window of radius r; a cell is an object when the opening lowers it by
    more than ``slope × r × cell``.
    """
    last = surface
    is_object = np.zeros(surface.shape, dtype=bool)
    for radius in range(1, max_radius + 1):
        this = open_disk(last, radius)
        is_object |= (last - this) > slope * radius * cell
        last = this
    return is_object


def smrf(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    params: SMRFParameters | None = None,
    eligible: BoolArray | None = None,
) -> GroundResult:
    """Classify ground points with the Simple Morphological Filter.

    Parameters
    ----------
    x, y, z
        Point coordinates in metres (projected CRS).
    params
        Filter parameters (PDAL defaults when omitted).
    eligible
        Points that may be ground (e.g. not water, not noise); others never are.

    Returns
    -------
    GroundResult
        The ground mask and the provisional bare-earth surface.

    Notes
    -----
    Pingel, Clarke & McBride 2013, *An improved simple morphological filter
    for the terrain classification of airborne LIDAR data*, ISPRS J. 77:21–30:

    1. minimum surface Z_min on a grid of ``cell`` metres, empty cells inpainted;
    2. low outliers: cells of ``−Z_min`` that a radius-1 opening lowers by more
       than slope 5 (the paper's low-noise step);
    3. objects: the progressive filter with growing windows up to ``window``;
    4. provisional DTM Z_pro = Z_min without low outliers and objects, inpainted;
    5. a point is ground when ``|z − Z_pro(x, y)| ≤ threshold + scalar × S(x, y)``
       with S the slope (gradient magnitude) of Z_pro, both interpolated
       bilinearly at the point.

    Windows are squares of half-size r cells (scipy's separable min/max
    filters), not disks; a square reaches √2 further along diagonals.
    """
    params = params or SMRFParameters()
    n = x.size
    if eligible is None:
        eligible = np.ones(n, dtype=bool)
    cell = params.cell
    if not eligible.any():
        return GroundResult(np.zeros(n, dtype=bool), np.full((1, 1), np.nan), (0.0, 0.0), cell)
    ex, ey, ez = x[eligible], y[eligible], z[eligible]
    x0 = math.floor(ex.min() / cell) * cell
    y1 = math.ceil(ey.max() / cell) * cell
    if y1 == ey.max():
        y1 += cell
    width = math.floor((ex.max() - x0) / cell) + 1
    height = math.floor((y1 - ey.min()) / cell) + 1
    col = np.minimum(((ex - x0) / cell).astype(np.int64), width - 1)
    row = np.minimum(((y1 - ey) / cell).astype(np.int64), height - 1)
    zmin = bin_min(row * width + col, ez, height * width).reshape(height, width)
    empty = np.isnan(zmin)
    zmin_filled = inpaint(zmin)

    # Morphology in float32 relative to the lowest cell: 0.1 mm steps up to
    # 1.6 km of relief, half the memory traffic of float64.
    base = float(np.min(zmin_filled))
    relative = (zmin_filled - base).astype(np.float32)
    low = _progressive_filter(-relative, cell=cell, slope=5.0, max_radius=1)
    objects = _progressive_filter(
        relative, cell=cell, slope=params.slope, max_radius=params.max_radius_cells
    )
    provisional = zmin_filled.copy()
    provisional[low | objects | empty] = np.nan
    if np.isnan(provisional).all():
        provisional = zmin_filled
    provisional = inpaint(provisional)

    grad_r, grad_c = np.gradient(provisional, cell)
    slope_surface = np.hypot(grad_r, grad_c)

    all_rows = (y1 - y) / cell - 0.5
    all_cols = (x - x0) / cell - 0.5
    z_pro, s_pro = bilinear_many([provisional, slope_surface], all_rows, all_cols)
    ground = eligible & (np.abs(z - z_pro) <= params.threshold + params.scalar * s_pro)
    logger.debug(
        "SMRF: %d points, %d x %d cells, %.1f %% objects, %.1f %% ground",
        n,
        height,
        width,
        100 * objects.mean(),
        100 * ground.mean(),
    )
    return GroundResult(ground=ground, surface=provisional, origin=(x0, y1), cell=cell)


@dataclass(frozen=True)
class WaterParameters:
    """Parameters of :func:`detect_water`.

    Attributes
    ----------
    cell
        Analysis cell (m).
    max_relative_density
        A water cell has at most this fraction of the cloud's median return density.
    max_roughness
        Largest z range (m) within a water cell and its 8 neighbours.
    min_area
        Smallest water body kept (m²).
    """

    cell: float = 2.0
    max_relative_density: float = 0.25
    max_roughness: float = 0.15
    min_area: float = 100.0


def detect_water(
    x: FloatArray, y: FloatArray, z: FloatArray, *, params: WaterParameters | None = None
) -> BoolArray:
    """Label returns from open water in an unclassified cloud.

    Parameters
    ----------
    x, y, z
        Point coordinates in metres.
    params
        Detection thresholds.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for points on a detected water surface.

    Notes
    -----
    Near-infrared laser pulses are mostly absorbed or specularly reflected by
    water, so water gives *sparse* returns lying on a *flat* surface (e.g.
    Höfle et al. 2009, *Water surface mapping from airborne laser scanning
    using signal intensity and elevation data*, ESPL 34:1635). A cell is water
    when its return density is below ``max_relative_density`` × the median
    density of occupied cells and the z range over its 3×3 neighbourhood is
    below ``max_roughness``; connected water cells smaller than ``min_area``
    are dropped, and each body must be level (its cells' median z within
    ``max_roughness`` of the body median).
    """
    params = params or WaterParameters()
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    cell = params.cell
    x0 = math.floor(x.min() / cell) * cell
    y1 = math.floor(y.max() / cell) * cell + cell
    width = int((x.max() - x0) // cell) + 1
    height = int((y1 - y.min()) // cell) + 1
    col = np.minimum(((x - x0) / cell).astype(np.int64), width - 1)
    row = np.minimum(((y1 - y) / cell).astype(np.int64), height - 1)
    flat = row * width + col
    n_cells = height * width
    counts = np.bincount(flat, minlength=n_cells).reshape(height, width)
    occupied = counts > 0
    if occupied.sum() < 4:
        return np.zeros(n, dtype=bool)
    zmax = bin_max(flat, z, n_cells).reshape(height, width)
    zmin = bin_min(flat, z, n_cells).reshape(height, width)
    # z range over the 3×3 neighbourhood (empty cells are neutral).
    hi = ndimage.maximum_filter(np.where(occupied, zmax, -np.inf), size=3, mode="nearest")
    lo = ndimage.minimum_filter(np.where(occupied, zmin, np.inf), size=3, mode="nearest")
    roughness = hi - lo
    median_density = float(np.median(counts[occupied]))
    sparse = occupied & (counts <= params.max_relative_density * median_density)
    candidate = sparse & (roughness <= params.max_roughness)
    # Close small holes (empty cells inside a water body are water too).
    body = ndimage.binary_closing(candidate, iterations=1) & (candidate | ~occupied)
    labels, n_bodies = ndimage.label(body)
    if n_bodies == 0:
        return np.zeros(n, dtype=bool)
    index = np.arange(1, n_bodies + 1)
    sizes = np.bincount(labels.ravel(), minlength=n_bodies + 1)[1:]
    level = np.where(occupied, 0.5 * (zmax + zmin), np.nan)
    measured = occupied & (labels > 0)
    top = ndimage.maximum(np.where(measured, level, -np.inf), labels, index)
    bottom = ndimage.minimum(np.where(measured, level, np.inf), labels, index)
    level_ok = np.asarray(top) - np.asarray(bottom) <= 2 * params.max_roughness
    keep = np.concatenate([[False], (sizes >= params.min_area / cell**2) & level_ok])
    water_cells = keep[labels]
    return np.asarray(water_cells.ravel()[flat], dtype=bool)
