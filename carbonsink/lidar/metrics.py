"""Area-based LiDAR metrics on the analysis grid, declared in one registry.

For every grid cell: height maximum, mean, standard deviation and percentiles
of the returns' heights above ground, canopy cover above height thresholds,
return and ground densities, the mean and slope of the terrain, and a coverage
mask of the cells the LiDAR actually covers (docs/methodology.md §8).

Every metric is a :class:`Metric` in :data:`METRICS` (name → function, units,
long_name, and whether the biomass model takes it as a feature: that subset is
:data:`BIOMASS_FEATURES`). The percentile (``h_p<NN>``) and cover
(``cover_<T>m``) families follow a :class:`MetricsSpec`; :func:`metrics_for`
gives the registry of any spec. A metric's function takes a
:class:`MetricWindow`, the returns of one grid window binned to its cells
once, and returns its layer. Adding a metric is one entry in
:func:`metrics_for` and its function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from carbonsink.lidar._raster_ops import where, window_cells
from carbonsink.lidar.surfaces import Raster, slope_degrees

__all__ = [
    "BIOMASS_FEATURES",
    "HEIGHT_QUANTUM",
    "METRICS",
    "Metric",
    "MetricWindow",
    "MetricsSpec",
    "area_metrics",
    "canopy_cover",
    "dtm_mean",
    "dtm_slope",
    "ground_density",
    "height_max",
    "height_mean",
    "height_percentile",
    "height_sd",
    "lidar_coverage",
    "metrics_for",
    "return_density",
    "water_fraction",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Heights are quantised to this step (m) for sorting; percentiles are exact to it.
HEIGHT_QUANTUM = 0.001
_HEIGHT_OFFSET = 100.0  # m: heights from −100 m to +4000 m fit the 22-bit key
_HEIGHT_BITS = 22

#: Percentiles and cover thresholds (m) offered to the biomass model as features.
_BIOMASS_PERCENTILES = frozenset({50, 90, 95})
_BIOMASS_COVER_THRESHOLDS = frozenset({0.3, 2.0})


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


@dataclass(frozen=True, eq=False)
class MetricWindow:
    """The returns of one grid window binned to its cells: what the metrics share.

    Built once per window by :meth:`from_returns`. Per-cell arrays are flat
    (``rows·cols``, row-major). Work that several metrics need (the mean
    height, the one sort of the heights, the DTM block means) is done on first
    use and kept.

    Attributes
    ----------
    shape
        ``(rows, cols)`` of the window.
    cell
        Cell size (m).
    spec
        The metrics settings (``min_returns``).
    dtm
        The terrain model covering the window.
    x0, y1
        Upper-left corner of the window.
    returns_per_cell
        All returns in each cell, water included.
    water_per_cell
        Water returns in each cell.
    ground_per_cell
        Ground returns not on water in each cell.
    floor_per_cell
        Returns on a closed canopy's floor in each cell: the ground filter's
        ground that is not terrain (:func:`carbonsink.lidar.ground.canopy_floor`).
    height_cell
        Cell index of each height return: non-water, with a defined height.
    heights
        Heights above ground (m) of those returns.
    heights_per_cell
        Height returns in each cell (n).
    valid
        Cells with at least ``spec.min_returns`` height returns.
    """

    shape: tuple[int, int]
    cell: float
    spec: MetricsSpec
    dtm: Raster
    x0: float
    y1: float
    returns_per_cell: FloatArray
    water_per_cell: FloatArray
    ground_per_cell: FloatArray
    floor_per_cell: FloatArray
    height_cell: IntArray
    heights: FloatArray
    heights_per_cell: FloatArray
    valid: BoolArray

    @classmethod
    def from_returns(
        cls,
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
        spec: MetricsSpec,
        floor: BoolArray | None = None,
    ) -> MetricWindow:
        """Bin returns to the cells of a window (returns outside it are dropped).

        Parameters are those of :func:`area_metrics`.
        """
        rows, cols = shape
        n_cells = rows * cols
        flat_all, inside = window_cells(x, y, x0=x0, y1=y1, cell=cell, shape=shape)
        water_in = water[inside]
        counts_all = np.bincount(flat_all, minlength=n_cells).astype(np.float64)
        water_counts = np.bincount(flat_all[water_in], minlength=n_cells).astype(np.float64)
        (grounded,) = where(ground[inside] & ~water_in, flat_all)
        ground_counts = np.bincount(grounded, minlength=n_cells).astype(np.float64)
        floor_in = np.zeros(flat_all.size, dtype=bool) if floor is None else floor[inside]
        floor_counts = np.bincount(flat_all[floor_in], minlength=n_cells).astype(np.float64)
        # Returns without a defined height (no terrain within reach: the middle of a
        # lake, or a stand with no ground return nearby) do not enter height metrics.
        height_in = height[inside]
        keep = ~water_in & np.isfinite(height_in)
        flat = flat_all[keep]
        n = np.bincount(flat, minlength=n_cells).astype(np.float64)
        return cls(
            shape=shape,
            cell=cell,
            spec=spec,
            dtm=dtm,
            x0=x0,
            y1=y1,
            returns_per_cell=counts_all,
            water_per_cell=water_counts,
            ground_per_cell=ground_counts,
            floor_per_cell=floor_counts,
            height_cell=flat,
            heights=height_in[keep],
            heights_per_cell=n,
            valid=n >= spec.min_returns,
        )

    @property
    def n_cells(self) -> int:
        """Cells in the window."""
        return self.shape[0] * self.shape[1]

    def layer(self, values: FloatArray) -> FloatArray:
        """A flat per-cell array as a ``(rows, cols)`` layer."""
        return values.reshape(self.shape)

    def height_layer(self, values: FloatArray) -> FloatArray:
        """A flat height metric as a layer, NaN where a cell has too few height returns."""
        return np.where(self.valid, values, np.nan).reshape(self.shape)

    @cached_property
    def mean_height(self) -> FloatArray:
        """Mean height (m) of each cell's height returns (flat; NaN where none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (
                np.bincount(self.height_cell, weights=self.heights, minlength=self.n_cells)
                / self.heights_per_cell
            )

    @cached_property
    def sorted_heights(self) -> FloatArray:
        """Heights grouped by cell, ascending within each cell, quantised to 1 mm.

        One sort of the whole window: (cell, quantised height) packed into one
        integer key. The key is 32 bits wide when the window's cells and its
        span of heights fit (about 40 % faster to sort than 64), else 64; the
        order and the values are the same either way. Cell ``i`` holds
        ``sorted_heights[first_of_cell[i] : first_of_cell[i] + heights_per_cell[i]]``.
        """
        h = self.heights
        q = np.clip(np.rint((h + _HEIGHT_OFFSET) / HEIGHT_QUANTUM), 0, (1 << _HEIGHT_BITS) - 1)
        quanta = q.astype(np.int64)
        if not len(quanta):
            return np.zeros(0)
        low = int(quanta.min())
        height_bits = int(quanta.max() - low).bit_length()
        cell_bits = max(self.n_cells - 1, 0).bit_length()
        if height_bits + cell_bits <= 32:
            quanta -= low
            key32 = (self.height_cell.astype(np.uint32) << np.uint32(height_bits)) | quanta.astype(
                np.uint32
            )
            quanta = (np.sort(key32) & np.uint32((1 << height_bits) - 1)).astype(np.int64) + low
        else:
            key = np.sort((self.height_cell << _HEIGHT_BITS) | quanta)
            quanta = key & ((1 << _HEIGHT_BITS) - 1)
        return np.asarray(quanta * HEIGHT_QUANTUM - _HEIGHT_OFFSET, dtype=np.float64)

    @cached_property
    def first_of_cell(self) -> IntArray:
        """Index in :attr:`sorted_heights` of each cell's first height."""
        n = self.heights_per_cell
        return np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)

    @cached_property
    def covered(self) -> BoolArray:
        """Layer of cells with at least ``spec.min_returns`` returns of any kind."""
        return (self.returns_per_cell >= self.spec.min_returns).reshape(self.shape)

    @cached_property
    def dtm_block_means(self) -> tuple[FloatArray, FloatArray]:
        """Mean DTM elevation and slope per cell (layers; DTM cells nest in a cell)."""
        return _block_means(self.dtm, x0=self.x0, y1=self.y1, cell=self.cell, shape=self.shape)


#: A metric's function: the window's binned returns → its ``(rows, cols)`` layer.
MetricFunction = Callable[[MetricWindow], FloatArray]


@dataclass(frozen=True)
class Metric:
    """One area-based metric layer.

    Attributes
    ----------
    name
        Layer name in the metrics dataset (and feature name in the biomass model).
    units
        UDUNITS units (CF ``units`` attribute).
    long_name
        Description (CF ``long_name`` attribute).
    compute
        Function of a :class:`MetricWindow` returning the float layer.
    biomass_feature
        Whether the biomass model takes this metric as a feature.
    """

    name: str
    units: str
    long_name: str
    compute: MetricFunction
    biomass_feature: bool = False


# ------------------------------------------------------------ height metrics
def height_max(window: MetricWindow) -> FloatArray:
    """Maximum return height above ground per cell.

    Notes
    -----
    h_max = max_i h_i over the cell's non-water returns with a defined height
    (area-based approach: Næsset 2002, RSE 80:88). NaN where the cell has
    fewer than ``min_returns`` of them.
    """
    hmax = np.full(window.n_cells, -np.inf)
    np.maximum.at(hmax, window.height_cell, window.heights)
    return window.height_layer(hmax)


def height_mean(window: MetricWindow) -> FloatArray:
    """Mean return height above ground per cell.

    Notes
    -----
    h_mean = (1/n) Σ_i h_i over the cell's n non-water returns with a defined
    height (Næsset 2002, RSE 80:88). NaN where n < ``min_returns``.
    """
    return window.height_layer(window.mean_height)


def height_sd(window: MetricWindow) -> FloatArray:
    """Standard deviation of return heights above ground per cell.

    Notes
    -----
    The sample standard deviation (Bessel's correction, ddof 1):
    s = √[(n / (n − 1)) · ((1/n) Σ_i h_i² − h̄²)], with the variance clipped
    at 0 against rounding and 0 for a single return. NaN where
    n < ``min_returns``.
    """
    n = window.heights_per_cell
    h = window.heights
    mean = window.mean_height
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.bincount(window.height_cell, weights=h * h, minlength=window.n_cells) / n
        sd = np.sqrt(np.maximum(sq - mean * mean, 0.0) * n / np.maximum(n - 1, 1))
    return window.height_layer(sd)


def height_percentile(window: MetricWindow, percentile: float) -> FloatArray:
    """A percentile of return heights above ground per cell.

    Parameters
    ----------
    window
        The binned returns.
    percentile
        Percentile p, 0–100.

    Notes
    -----
    Linear interpolation between order statistics (numpy's default; Hyndman &
    Fan 1996, Am. Stat. 50:361, type 7): with the cell's n heights sorted,
    h_(0) ≤ … ≤ h_(n−1), and r = (p/100)(n − 1), the percentile is
    h_(⌊r⌋) + (r − ⌊r⌋)(h_(⌊r⌋+1) − h_(⌊r⌋)), on heights quantised to
    :data:`HEIGHT_QUANTUM` (1 mm). NaN where n < ``min_returns``.
    """
    sorted_h = window.sorted_heights
    starts = window.first_of_cell
    last = np.maximum(window.heights_per_cell.astype(np.int64) - 1, 0)
    if not len(sorted_h):
        return window.height_layer(np.full(window.n_cells, np.nan))
    # The rank within the cell, not within the window: its fraction must not depend on
    # how many heights the window holds before the cell (tiles would differ in the
    # last bits).
    rank = (percentile / 100.0) * last
    below = np.floor(rank).astype(np.int64)
    frac = rank - below
    lo = starts + below
    hi = np.minimum(lo + 1, starts + last)
    top = len(sorted_h) - 1
    value = sorted_h[np.clip(lo, 0, top)] * (1 - frac) + sorted_h[np.clip(hi, 0, top)] * frac
    return window.height_layer(value)


def canopy_cover(window: MetricWindow, threshold: float) -> FloatArray:
    """Fraction of returns higher than a threshold above ground per cell.

    Parameters
    ----------
    window
        The binned returns.
    threshold
        Height above ground (m).

    Notes
    -----
    cover = #{i : h_i > threshold} / n over the cell's n non-water returns with
    a defined height, ground returns included: the "all-returns cover index"
    (e.g. Næsset 2002, RSE 80:88). NaN where n < ``min_returns``.
    """
    heights = window.heights
    above = np.bincount(window.height_cell[heights > threshold], minlength=window.n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        return window.height_layer(above / window.heights_per_cell)


# -------------------------------------------------------------- cell metrics
def return_density(window: MetricWindow) -> FloatArray:
    """Returns per square metre, water excluded.

    Notes
    -----
    density = (returns − water returns) / cell², all returns with or without
    a defined height.
    """
    land = window.returns_per_cell - window.water_per_cell
    return window.layer(land / (window.cell * window.cell))


def ground_density(window: MetricWindow) -> FloatArray:
    """Ground returns per square metre.

    Notes
    -----
    density = ground returns not on water / cell².
    """
    return window.layer(window.ground_per_cell / (window.cell * window.cell))


def water_fraction(window: MetricWindow) -> FloatArray:
    """Fraction of a cell's returns on open water.

    Notes
    -----
    water returns / all returns; NaN where the cell has no return.
    """
    counts = window.returns_per_cell
    with np.errstate(invalid="ignore", divide="ignore"):
        return window.layer(np.where(counts > 0, window.water_per_cell / counts, np.nan))


def terrain_unsupported(window: MetricWindow) -> FloatArray:
    """Share of a cell's lowest surface that was a closed canopy's floor, not terrain.

    Notes
    -----
    floor returns / (floor + ground returns), the floor returns being those
    the ground filter's morphology took for ground and the canopy-floor test
    rejected (docs/methodology.md §8.2, eq. 8.2a): 1 in the middle of a closed
    reed bed, whose terrain is then only filled from its edges (within 6 m)
    or undefined. NaN where the cell has neither.
    """
    floor = window.floor_per_cell
    both = floor + window.ground_per_cell
    with np.errstate(invalid="ignore", divide="ignore"):
        return window.layer(np.where(both > 0, floor / both, np.nan))


def lidar_coverage(window: MetricWindow) -> FloatArray:
    """Cells covered by LiDAR (1) or not (0).

    Notes
    -----
    1 where the cell holds at least ``min_returns`` returns of any kind
    (water included), else 0.
    """
    return window.covered.astype(np.float64)


def dtm_mean(window: MetricWindow) -> FloatArray:
    """Mean terrain elevation per cell.

    Notes
    -----
    The mean of the DTM cells nested in the cell; NaN where the cell is not
    covered (:func:`lidar_coverage` 0).

    Raises
    ------
    ValueError
        If the DTM does not cover the window.
    """
    return np.where(window.covered, window.dtm_block_means[0], np.nan)


def dtm_slope(window: MetricWindow) -> FloatArray:
    """Mean terrain slope (degrees) per cell.

    Notes
    -----
    The mean over the DTM cells nested in the cell of their slope
    atan(|∇z|), ∇z by central differences
    (:func:`~carbonsink.lidar.surfaces.slope_degrees`); NaN where the cell is
    not covered.

    Raises
    ------
    ValueError
        If the DTM does not cover the window.
    """
    return np.where(window.covered, window.dtm_block_means[1], np.nan)


# ------------------------------------------------------------------ registry
def _cover_name(threshold: float) -> str:
    return f"cover_{threshold:g}m".replace(".", "p")


def _ordinal(number: float) -> str:
    if number != int(number):
        return f"{number:g}th"
    n = int(number)
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def metrics_for(spec: MetricsSpec) -> Mapping[str, Metric]:
    """The metrics registry of a spec: name → :class:`Metric`, in layer order.

    Parameters
    ----------
    spec
        Settings; its ``percentiles`` and ``cover_thresholds`` give the
        ``h_p<NN>`` and ``cover_<T>m`` entries.

    Returns
    -------
    Mapping of str to Metric
        A read-only mapping: the height metrics, the percentiles, the covers,
        then the densities, water fraction, coverage and terrain.
    """
    entries = [
        Metric(
            "h_max", "m", "maximum return height above ground", height_max, biomass_feature=True
        ),
        Metric("h_mean", "m", "mean return height above ground", height_mean, biomass_feature=True),
        Metric(
            "h_sd",
            "m",
            "standard deviation of return heights above ground",
            height_sd,
            biomass_feature=True,
        ),
        *(
            Metric(
                f"h_p{p}",
                "m",
                f"{_ordinal(p)} percentile of return heights above ground",
                partial(height_percentile, percentile=p),
                biomass_feature=p in _BIOMASS_PERCENTILES,
            )
            for p in spec.percentiles
        ),
        *(
            Metric(
                _cover_name(t),
                "1",
                f"fraction of returns higher than {t:g}m",
                partial(canopy_cover, threshold=t),
                biomass_feature=t in _BIOMASS_COVER_THRESHOLDS,
            )
            for t in spec.cover_thresholds
        ),
        Metric(
            "return_density",
            "m-2",
            "LiDAR returns per square metre (water excluded)",
            return_density,
        ),
        Metric("ground_density", "m-2", "ground returns per square metre", ground_density),
        Metric("water_fraction", "1", "fraction of returns on open water", water_fraction),
        Metric(
            "terrain_unsupported",
            "1",
            "share of the lowest surface on a closed canopy's floor (terrain not measured)",
            terrain_unsupported,
        ),
        Metric(
            "lidar_coverage", "1", "cell covered by LiDAR returns (1) or not (0)", lidar_coverage
        ),
        Metric("dtm_mean", "m", "mean terrain elevation", dtm_mean),
        Metric("dtm_slope", "degree", "mean terrain slope", dtm_slope),
    ]
    return MappingProxyType({metric.name: metric for metric in entries})


#: The registry of the default :class:`MetricsSpec`.
METRICS: Mapping[str, Metric] = metrics_for(MetricsSpec())

#: LiDAR metrics the biomass model takes as features where LiDAR covers a cell.
BIOMASS_FEATURES: tuple[str, ...] = tuple(
    name for name, metric in METRICS.items() if metric.biomass_feature
)


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
    floor: BoolArray | None = None,
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
    floor
        Returns on a closed canopy's floor (for ``terrain_unsupported``);
        default none.

    Returns
    -------
    dict of str to numpy.ndarray
        Float layers of ``shape``, one per entry of ``metrics_for(spec)``, in
        its order.

    Raises
    ------
    ValueError
        If the DTM does not cover the window.

    Notes
    -----
    Returns whose height is undefined (NaN: no terrain within the DTM's
    reach) count in the densities but not in the height metrics.
    Heights are those of all non-water returns (ground included, so cover =
    returns above the threshold / all non-water returns: the "all-returns
    cover index", e.g. Næsset 2002, RSE 80:88). Percentiles interpolate
    linearly between order statistics (numpy's default, Hyndman & Fan type 7)
    on heights quantised to 1 mm. Densities divide counts by the cell area.
    The returns are binned, and the heights sorted, once for all metrics
    (:class:`MetricWindow`).
    """
    spec = spec or MetricsSpec()
    window = MetricWindow.from_returns(
        x,
        y,
        height,
        ground=ground,
        water=water,
        dtm=dtm,
        x0=x0,
        y1=y1,
        cell=cell,
        shape=shape,
        spec=spec,
        floor=floor,
    )
    return {name: metric.compute(window) for name, metric in metrics_for(spec).items()}


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
