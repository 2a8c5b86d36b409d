"""Terrain and canopy surfaces: DTM from ground points, heights above ground, CHM.

Surfaces are north-up rasters described by a :class:`Raster` (values plus the
upper-left corner and the cell size), computed on windows that nest in the
analysis grid, so that tiles can be cropped and merged without seams.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonsink.lidar._raster_ops import (
    bilinear_at,
    bilinear_combine,
    bilinear_corners,
    bin_max,
    bin_mean,
    inpaint,
    surface_gradient,
)

__all__ = [
    "PointSamples",
    "Raster",
    "canopy_height_model",
    "height_above_ground",
    "terrain_model",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Raster:
    """A north-up raster: ``values[row, col]`` with the cell (row, col) spanning
    ``x0 + col·cell … x0 + (col+1)·cell`` and ``y1 − (row+1)·cell … y1 − row·cell``."""

    values: FloatArray
    x0: float
    y1: float
    cell: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    def cell_index(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Row and column of the cells containing the points (may be out of range)."""
        col = np.floor((x - self.x0) / self.cell).astype(np.int64)
        row = np.floor((self.y1 - y) / self.cell).astype(np.int64)
        return row, col

    def sample(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Bilinear interpolation between cell centres at the points."""
        rows = (self.y1 - y) / self.cell - 0.5
        cols = (x - self.x0) / self.cell - 0.5
        return bilinear_at(self.values, rows, cols)


class PointSamples:
    """A surface's bilinear values at fixed points, gathered from its blocks as they arrive.

    The surface is never whole in memory: each block placed with :meth:`take`
    gives the points the cells of it they need, and :meth:`values` then
    equals :meth:`Raster.sample` of the whole surface bit for bit (the same
    corners and weights, :func:`~carbonsink.lidar._raster_ops.bilinear_corners`),
    NaN for a point off the surface (beyond half a cell of its outer
    centres) and where a cell it needs has no value or was never placed.

    Parameters
    ----------
    x, y
        The points (the surface's CRS, m).
    x0, y1, cell, shape
        The whole surface's upper-left corner, cell size and ``(rows, cols)``.
    """

    def __init__(
        self,
        x: FloatArray,
        y: FloatArray,
        *,
        x0: float,
        y1: float,
        cell: float,
        shape: tuple[int, int],
    ) -> None:
        if np.shape(x) != np.shape(y):
            raise ValueError(f"x and y of the points differ in shape: {np.shape(x)}, {np.shape(y)}")
        h, w = shape
        rows = (y1 - np.asarray(y, dtype=np.float64)) / cell - 0.5
        cols = (np.asarray(x, dtype=np.float64) - x0) / cell - 0.5
        self.on = (rows >= -0.5) & (rows <= h - 0.5) & (cols >= -0.5) & (cols <= w - 0.5)
        corners, self.fr, self.fc = bilinear_corners(shape, rows[self.on], cols[self.on])
        self.rows, self.cols = np.divmod(np.stack(corners), w)
        self.corner_values = np.full(self.rows.shape, np.nan, dtype=np.float64)

    def take(self, block: npt.NDArray[np.floating], *, row_off: int, col_off: int) -> None:
        """Record the cells of a block of the surface, its upper-left cell (row_off, col_off)."""
        r = self.rows - row_off
        c = self.cols - col_off
        inside = (r >= 0) & (r < block.shape[0]) & (c >= 0) & (c < block.shape[1])
        self.corner_values[inside] = block[r[inside], c[inside]]

    def values(self) -> FloatArray:
        """The surface at every point (NaN off it, or where a cell it needs is missing)."""
        out = np.full(self.on.shape, np.nan)
        out[self.on] = bilinear_combine(list(self.corner_values), self.fr, self.fc)
        return out


def _window(
    bounds: tuple[float, float, float, float], cell: float
) -> tuple[float, float, int, int]:
    xmin, ymin, xmax, ymax = bounds
    width = max(1, round((xmax - xmin) / cell))
    height = max(1, round((ymax - ymin) / cell))
    return xmin, ymax, height, width


def terrain_model(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    bounds: tuple[float, float, float, float],
    cell: float = 1.0,
    support: BoolArray | None = None,
) -> tuple[Raster, BoolArray]:
    """Digital terrain model from ground points.

    Parameters
    ----------
    x, y, z
        Ground points (m).
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the raster; multiples of ``cell``.
    cell
        DTM cell size (m).
    support
        Cells where a terrain value is wanted (e.g. cells the LiDAR covers);
        gaps outside it stay NaN. Default: every cell.

    Returns
    -------
    dtm : Raster
        Ground elevation (m) at every cell.
    filled : numpy.ndarray of bool
        ``True`` where no ground point fell in the cell and the value was
        interpolated (gaps under dense vegetation or water).

    Notes
    -----
    A cell holding ground points takes their mean elevation (on locally planar
    ground this is the plane at the points' centroid, within ``slope × cell/2``
    of the cell-centre value). Empty cells inside ``support`` and within
    ``DTM_FILL_REACH`` (6) cells of ground are filled by a local membrane: the
    nearest cell's value relaxed by ``DTM_FILL_SWEEPS`` (4) Jacobi sweeps of
    the Laplace equation (:func:`inpaint`); the small holes dense marsh grass
    leaves converge towards the harmonic surface (on planar ground, the
    plane). Cells farther from any ground — the middle of open water or of
    wide stands without a ground return — stay NaN: the terrain there is not
    measured, and heights of returns there are undefined. docs/methodology.md §8
    names a TIN; a TIN over a gap depends on the gap's whole border, however
    far, so tiles cut through a lake would disagree, while this fill reaches
    a bounded distance and tiled runs merge without seams. Filled cells are
    flagged and reported.
    """
    x0, y1, height, width = _window(bounds, cell)
    dtm = Raster(np.full((height, width), np.nan), x0, y1, cell)
    if x.size == 0:  # no ground at all: nothing to fill from
        return dtm, np.zeros((height, width), dtype=bool)
    row, col = dtm.cell_index(x, y)
    inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
    mean, _counts = bin_mean(row[inside] * width + col[inside], z[inside], height * width)
    values = mean.reshape(height, width)
    filled = ~np.isfinite(values)
    if support is not None:
        filled &= support
    if not np.isfinite(values).any():  # no ground inside the window: no terrain here
        return Raster(values, x0, y1, cell), np.zeros((height, width), dtype=bool)
    if filled.any():
        values, filled = _fill_gaps(values, filled)
    return Raster(values, x0, y1, cell), filled


#: Reach (cells) and Jacobi sweeps of the DTM's gap fill (for the tile halo).
DTM_FILL_REACH = 6
DTM_FILL_SWEEPS = 4


def _fill_gaps(values: FloatArray, gaps: BoolArray) -> tuple[FloatArray, BoolArray]:
    """Fill ``gaps`` within reach of ground; return the values and the cells filled."""
    filled_values = inpaint(values, reach=DTM_FILL_REACH, sweeps=DTM_FILL_SWEEPS)
    filled = gaps & np.isfinite(filled_values)
    return np.where(filled | np.isfinite(values), filled_values, np.nan), filled


def height_above_ground(x: FloatArray, y: FloatArray, z: FloatArray, dtm: Raster) -> FloatArray:
    """Height of every point above the DTM (m): ``z − DTM(x, y)``, DTM bilinear.

    Notes
    -----
    Height normalisation, docs/methodology.md §8: height above ground = z − DTM(x, y).
    """
    return z - dtm.sample(x, y)


def canopy_height_model(
    x: FloatArray,
    y: FloatArray,
    height: FloatArray,
    *,
    bounds: tuple[float, float, float, float],
    cell: float = 0.5,
    pit_free: bool = False,
    pit_depth: float = 1.0,
) -> Raster:
    """Binned canopy height model: the maximum height above ground per cell.

    Parameters
    ----------
    x, y, height
        Points and their heights above ground (m); pass vegetation and ground
        returns (not water).
    bounds
        ``(xmin, ymin, xmax, ymax)``; multiples of ``cell``.
    cell
        CHM cell size (m), default 0.5.
    pit_free
        Replace "pits" — cells more than ``pit_depth`` below the median of
        their 3×3 neighbourhood, where a pulse slipped deep into the canopy —
        by that median, and fill empty cells with it.
    pit_depth
        Depth (m) that makes a cell a pit.

    Returns
    -------
    Raster
        Canopy height (m); NaN where a cell holds no return.

    Notes
    -----
    docs/methodology.md §8: CHM = maximum height per cell ("binned"). Heights
    below zero (noise below the DTM) are clipped to 0. The pit filter is a
    3×3 median replacement in the spirit of Khosravipour et al. 2014 (PE&RS
    80:863), not their full multi-threshold algorithm.
    """
    x0, y1, rows, cols = _window(bounds, cell)
    chm = Raster(np.full((rows, cols), np.nan), x0, y1, cell)
    r, c = chm.cell_index(x, y)
    # Returns without a defined height (no terrain within reach) are left out.
    inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols) & np.isfinite(height)
    values = bin_max(r[inside] * cols + c[inside], np.maximum(height[inside], 0.0), rows * cols)
    values = values.reshape(rows, cols)
    if pit_free:
        padded = np.pad(values, 1, mode="edge")
        stack = np.stack([padded[i : i + rows, j : j + cols] for i in range(3) for j in range(3)])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods
            med = np.nanmedian(stack, axis=0)
        pits = np.isfinite(med) & (~np.isfinite(values) | (med - values > pit_depth))
        values = np.where(pits, med, values)
    return Raster(values, x0, y1, cell)


def slope_degrees(dtm: Raster) -> FloatArray:
    """Terrain slope (degrees) of a DTM by central differences."""
    grad_r, grad_c = surface_gradient(dtm.values, dtm.cell)
    return np.asarray(np.degrees(np.arctan(np.hypot(grad_r, grad_c))), dtype=np.float64)
