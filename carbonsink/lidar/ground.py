"""Ground classification: the Simple Morphological Filter (SMRF).

A plain SMRF labels water as ground, because the water surface is the lowest
surface around. Water returns (class 9, or level surfaces detected by
:func:`carbonsink.lidar.water.detect_water` when the cloud is unclassified)
are therefore removed before the filter and are never ground
(docs/methodology.md §8).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonsink.lidar._raster_ops import (
    bilinear_many,
    bin_min,
    fill_nearest,
    inpaint,
    open_disk,
    surface_gradient,
)

__all__ = [
    "GroundResult",
    "SMRFParameters",
    "smrf",
]

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
    zmin_reach
        Empty cells of the minimum surface within this many cells of data take
        the nearest value (PDAL's ``knnfill``); farther ones are ignored.
    fill_reach, fill_sweeps
        Reach (cells) and Jacobi sweeps of the provisional surface's fill.
    """

    cell: float = 1.0
    slope: float = 0.15
    window: float = 18.0
    threshold: float = 0.5
    scalar: float = 1.25
    zmin_reach: int = 2
    fill_reach: int = 6
    fill_sweeps: int = 4

    def reach_m(self) -> float:
        """How far (m) a point's class can depend on other data (for tile halos).

        The opening of radius r reads the surface within 2r (erosion then
        dilation), the minimum surface's fill reaches ``zmin_reach`` cells and
        the provisional surface's fill ``fill_reach + fill_sweeps``, plus one
        cell for the bilinear lookup.
        """
        cells = self.zmin_reach + self.fill_reach + self.fill_sweeps + 1
        return 2.0 * self.max_radius_cells * self.cell + cells * self.cell

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
    with np.errstate(invalid="ignore"):  # inf − inf far from data: NaN, never an object
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

    1. minimum surface Z_min on a grid of ``cell`` metres, empty cells within
       ``zmin_reach`` cells given their nearest cell's value (PDAL's
       ``knnfill`` with k = 1), farther ones ignored by the morphology;
    2. low outliers: cells of ``−Z_min`` that a radius-1 opening lowers by more
       than slope 5 (the paper's low-noise step);
    3. objects: the progressive filter with growing windows up to ``window``;
    4. provisional DTM Z_pro = Z_min without low outliers and objects, holes
       within ``fill_reach`` cells filled by a local membrane (:func:`inpaint`);
       points where it stays undefined (inside wide objects) are not ground;
    5. a point is ground when ``|z − Z_pro(x, y)| ≤ threshold + scalar × S(x, y)``
       with S the slope (gradient magnitude) of Z_pro, both interpolated
       bilinearly at the point.

    Windows are octagons approximating disks of radius r cells, built from
    1-D min/max filters along the rows, columns and both diagonals, so the
    cost does not grow with the window. Every step is local: a point's class
    depends only on data within about twice the window, which is what the
    tile halo must cover.
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
    zmin_filled = fill_nearest(zmin, max_distance=params.zmin_reach)
    # Morphology in float32 relative to the lowest cell (0.1 mm steps up to 1.6
    # km of relief, half the memory traffic of float64). Cells farther than the
    # reach from data are +inf: erosions never pick them and, since every cell
    # within the window of a data cell has data within the window, neither do
    # the dilations at data cells — their value cannot matter.
    base = float(np.nanmin(zmin_filled))
    relative = (zmin_filled - base).astype(np.float32)
    unknown = np.isnan(relative)
    low = _progressive_filter(
        np.where(unknown, np.inf, -relative), cell=cell, slope=5.0, max_radius=1
    )
    objects = _progressive_filter(
        np.where(unknown, np.inf, relative),
        cell=cell,
        slope=params.slope,
        max_radius=params.max_radius_cells,
    )
    provisional = np.where(low | objects | empty, np.nan, zmin)
    provisional = inpaint(provisional, reach=params.fill_reach, sweeps=params.fill_sweeps)

    grad_r, grad_c = surface_gradient(provisional, cell)
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
