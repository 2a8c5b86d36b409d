"""Area-based LiDAR metrics on the analysis grid.

For every grid cell: height maximum, mean, standard deviation and percentiles
of the returns' heights above ground, canopy cover above height thresholds,
return and ground densities, the mean and slope of the terrain, and a coverage
mask of the cells the LiDAR actually covers (METHODOLOGY.md §8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from carbonsink.lidar.surfaces import Raster, slope_degrees

__all__ = ["METRIC_ATTRS", "MetricsSpec", "area_metrics"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Heights are quantised to this step (m) for sorting; percentiles are exact to it.
HEIGHT_QUANTUM = 0.001
_HEIGHT_OFFSET = 100.0  # m: heights from −100 m to +4000 m fit the 22-bit key
_HEIGHT_BITS = 22


@dataclass(frozen=True)
class MetricsSpec:
    """Which metrics to compute.

    Attributes
    ----------
    percentiles
        Height percentiles (0–100) to compute.
    cover_thresholds
        Heights (m) above which canopy cover fractions are computed.
    min_returns
        A cell with fewer (non-water) returns gets NaN height metrics and is
        not counted as covered.
    """

    percentiles: Sequence[int] = (10, 25, 50, 75, 90, 95, 99)
    cover_thresholds: Sequence[float] = (0.3, 2.0)
    min_returns: int = 4


def _cover_name(threshold: float) -> str:
    return f"cover_{threshold:g}m".replace(".", "p")


#: ``units`` and ``long_name`` of every metric layer.
METRIC_ATTRS: dict[str, tuple[str, str]] = {
    "h_max": ("m", "maximum return height above ground"),
    "h_mean": ("m", "mean return height above ground"),
    "h_sd": ("m", "standard deviation of return heights above ground"),
    "return_density": ("m-2", "LiDAR returns per square metre (water excluded)"),
    "ground_density": ("m-2", "ground returns per square metre"),
    "water_fraction": ("1", "fraction of returns on open water"),
    "dtm_mean": ("m", "mean terrain elevation"),
    "dtm_slope": ("degree", "mean terrain slope"),
    "lidar_coverage": ("1", "cell covered by LiDAR returns (1) or not (0)"),
}


def metric_attrs(name: str) -> tuple[str, str]:
    """``(units, long_name)`` of a metric name, including percentiles and covers."""
    if name in METRIC_ATTRS:
        return METRIC_ATTRS[name]
    if name.startswith("h_p"):
        return "m", f"{name[3:]}th percentile of return heights above ground"
    if name.startswith("cover_"):
        return "1", f"fraction of returns higher than {name[6:].replace('p', '.')}"
    raise KeyError(name)


def area_metrics(
    x: FloatArray,
    y: FloatArray,
    height: FloatArray,
    *,
    ground: BoolArray,
    water: BoolArray,
    dtm: Raster,
    x0: float,
    y1: float,
    cell: float,
    shape: tuple[int, int],
    spec: MetricsSpec | None = None,
) -> dict[str, FloatArray]:
    """Per-cell LiDAR metrics on a grid window.

    Parameters
    ----------
    x, y, height
        Returns (m) and their heights above ground (m).
    ground, water
        Masks of ground and water returns.
    dtm
        The terrain model covering the window (for ``dtm_mean`` and ``dtm_slope``).
    x0, y1, cell, shape
        Upper-left corner, cell size (m) and ``(rows, cols)`` of the window.
    spec
        Percentiles and cover thresholds.

    Returns
    -------
    dict of str to numpy.ndarray
        Float layers of ``shape``; names as in :data:`METRIC_ATTRS` plus
        ``h_p<NN>`` percentiles and ``cover_<T>m`` fractions.

    Notes
    -----
    Returns whose height is undefined (NaN: no terrain within the DTM's
    reach) count in the densities but not in the height metrics.
    Heights are those of all non-water returns (ground included, so cover =
    returns above the threshold / all non-water returns: the "all-returns
    cover index", e.g. Næsset 2002, RSE 80:88). Percentiles interpolate
    linearly between order statistics (numpy's default, Hyndman & Fan type 7)
    on heights quantised to 1 mm. Densities divide counts by the cell area.
    """
    spec = spec or MetricsSpec()
    rows, cols = shape
    n_cells = rows * cols
    col = np.floor((x - x0) / cell).astype(np.int64)
    row = np.floor((y1 - y) / cell).astype(np.int64)
    inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    flat_all = row[inside] * cols + col[inside]
    water_in = water[inside]
    counts_all = np.bincount(flat_all, minlength=n_cells).astype(np.float64)
    water_counts = np.bincount(flat_all[water_in], minlength=n_cells).astype(np.float64)
    ground_counts = np.bincount(flat_all[ground[inside] & ~water_in], minlength=n_cells).astype(
        np.float64
    )

    land_counts = counts_all - water_counts
    # Returns without a defined height (no terrain within reach: the middle of a
    # lake, or a stand with no ground return nearby) do not enter height metrics.
    keep = ~water_in & np.isfinite(height[inside])
    flat = flat_all[keep]
    h = height[inside][keep]
    n = np.bincount(flat, minlength=n_cells).astype(np.float64)
    valid = n >= spec.min_returns
    out: dict[str, FloatArray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(flat, weights=h, minlength=n_cells) / n
        sq = np.bincount(flat, weights=h * h, minlength=n_cells) / n
        sd = np.sqrt(np.maximum(sq - mean * mean, 0.0) * n / np.maximum(n - 1, 1))
    hmax = np.full(n_cells, -np.inf)
    np.maximum.at(hmax, flat, h)
    out["h_max"] = hmax
    out["h_mean"] = mean
    out["h_sd"] = sd

    # Percentiles: sort once by (cell, quantised height) packed into one int64 key.
    q = np.clip(np.rint((h + _HEIGHT_OFFSET) / HEIGHT_QUANTUM), 0, (1 << _HEIGHT_BITS) - 1)
    key = np.sort((flat << _HEIGHT_BITS) | q.astype(np.int64))
    sorted_h = (key & ((1 << _HEIGHT_BITS) - 1)) * HEIGHT_QUANTUM - _HEIGHT_OFFSET
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    nn = n.astype(np.int64)
    for p in spec.percentiles:
        pos = starts + (p / 100.0) * np.maximum(nn - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, starts + np.maximum(nn - 1, 0))
        frac = pos - lo
        safe_lo = np.clip(lo, 0, max(len(sorted_h) - 1, 0))
        safe_hi = np.clip(hi, 0, max(len(sorted_h) - 1, 0))
        if len(sorted_h):
            value = sorted_h[safe_lo] * (1 - frac) + sorted_h[safe_hi] * frac
        else:
            value = np.full(n_cells, np.nan)
        out[f"h_p{p}"] = value
    for threshold in spec.cover_thresholds:
        above = np.bincount(flat[h > threshold], minlength=n_cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[_cover_name(threshold)] = above / n

    for name in list(out):
        out[name] = np.where(valid, out[name], np.nan).reshape(rows, cols)

    area = cell * cell
    out["return_density"] = (land_counts / area).reshape(rows, cols)
    out["ground_density"] = (ground_counts / area).reshape(rows, cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["water_fraction"] = np.where(counts_all > 0, water_counts / counts_all, np.nan).reshape(
            rows, cols
        )
    out["lidar_coverage"] = (counts_all >= spec.min_returns).astype(np.float64).reshape(rows, cols)
    dtm_mean, dtm_slope = _block_means(dtm, x0=x0, y1=y1, cell=cell, shape=shape)
    covered = out["lidar_coverage"] > 0
    out["dtm_mean"] = np.where(covered, dtm_mean, np.nan)
    out["dtm_slope"] = np.where(covered, dtm_slope, np.nan)
    return out


def _block_means(
    dtm: Raster, *, x0: float, y1: float, cell: float, shape: tuple[int, int]
) -> tuple[FloatArray, FloatArray]:
    """Mean DTM elevation and slope per analysis cell (DTM cells must nest in it)."""
    rows, cols = shape
    factor = round(cell / dtm.cell)
    off_c = round((x0 - dtm.x0) / dtm.cell)
    off_r = round((dtm.y1 - y1) / dtm.cell)
    need_r, need_c = rows * factor, cols * factor
    window = dtm.values[off_r : off_r + need_r, off_c : off_c + need_c]
    slope = slope_degrees(dtm)[off_r : off_r + need_r, off_c : off_c + need_c]
    if window.shape != (need_r, need_c) or off_r < 0 or off_c < 0:
        raise ValueError("the DTM does not cover the metrics window")
    blocks = window.reshape(rows, factor, cols, factor)
    sblocks = slope.reshape(rows, factor, cols, factor)
    return blocks.mean(axis=(1, 3)), sblocks.mean(axis=(1, 3))
