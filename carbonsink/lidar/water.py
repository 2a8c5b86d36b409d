"""Water in an unclassified cloud: level surfaces, not sparseness alone.

A calm water surface is *level*: over tens of metres its returns lie on one
horizontal plane to within a centimetre or two, nothing lies below it, and
its shores are higher. How *many* returns it gives depends on the scanner,
the flight height, the wind and the turbidity: an airborne near-infrared
scanner over a lake gets few (Höfle et al. 2009, ESPL 34:1635), a low drone
flight over calm or turbid shallow water gets nearly as many as over land.
So :func:`detect_water` takes a surface as water when it is level; a sparse,
flat surface (the classic cue) is water too, as before. Where water stands
under emergent vegetation (flooded reed), the lowest returns of a cell lie on
the neighbouring open water's level: those returns are water, not ground
(docs/methodology.md §8.1).

Every step looks at most :meth:`WaterParameters.reach_m` metres away on a
grid of ``cell`` metres aligned to multiples of ``cell``, and reads the
points only through per-cell statistics (:meth:`WaterReturns.cells`): tiles
that share those cells that far label their cores as an untiled run does
(:mod:`carbonsink.lidar.phases`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from carbonsink.lidar._raster_ops import (
    bin_max,
    bin_min,
    binary_close,
    binary_dilate,
    binary_open,
    fill_nearest,
    where,
)
from carbonsink.lidar.lattice import LatticeWindow

__all__ = [
    "CELL_FILL",
    "WaterEvidence",
    "WaterParameters",
    "WaterReference",
    "WaterReturns",
    "WaterSurfaces",
    "detect_water",
    "land_reference_density",
    "land_reference_intensity",
    "water_surfaces",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class WaterParameters:
    """Parameters of :func:`detect_water` (metres unless stated).

    Attributes
    ----------
    cell
        Analysis cell.
    max_relative_density
        A sparse cell holds at most this fraction of the land's return
        density; a sparse, smooth cell is water without the level test.
    max_roughness
        Largest z range within a cell and its 8 neighbours of a smooth cell.
    level_window
        Side of the square window over which a surface must be level.
    max_level_slope
        Largest slope (m/m) of the plane fitted to the smooth cells' mean
        heights in the window: a lake's surface slope is < 1e-4, a floodplain
        mudflat's rarely below 1e-3.
    max_level_residual
        Largest RMS (m) of those heights about the plane: calm water within a
        centimetre or two; exposed mud has ripples, cracks and footprints.
    min_level_share
        Smallest share of the window's cells that must be smooth and occupied.
    max_relative_intensity
        A level surface is water only when it is also *dark*: its cell's mean
        intensity at most this fraction of the land's
        (:class:`WaterReference`). Water reflects 2–5 % of a near-infrared
        pulse back, grass, soil and concrete 15–50 % (USGS spectral library,
        Kokaly et al. 2017): a level sports field or flat ground of an urban
        cloud is level but bright.
    min_width
        Narrowest water body kept: bodies are opened with a square this wide.
    shore_band
        Width of the band around a body where dark returns on its level
        (within ``level_tolerance``) are water too: the waterline, and small
        pools beside a body whose cells also hold land returns.
    blind_shore_band
        The band of a cloud without intensities, where every return on the
        level counts: narrower, since bright mud on the waterline would too.
    level_tolerance
        Height tolerance around the local water level.
    """

    cell: float = 2.0
    max_relative_density: float = 0.25
    max_roughness: float = 0.15
    level_window: float = 20.0
    max_level_slope: float = 1e-3
    max_level_residual: float = 0.015
    min_level_share: float = 0.6
    max_relative_intensity: float = 0.2
    min_width: float = 6.0
    shore_band: float = 10.0
    blind_shore_band: float = 4.0
    level_tolerance: float = 0.04

    def window_cells(self) -> int:
        """The level window in cells (odd, ≥ 3)."""
        k = max(3, round(self.level_window / self.cell))
        return k + 1 - k % 2

    def reach_m(self) -> float:
        """How far (m) a point's label depends on other points, in whole cells.

        A return is water through a body cell within the shore band, whose
        level comes from the nearest occupied body cell (Euclidean, up to
        ⌈(band + k) √2⌉ cells, k = ⌈min_width / cell⌉); that cell through the
        growth near shores (up to ⌈half √2⌉ cells), the opening (k − 1
        cells), the closing (2) and the window (half) around a smooth cell
        (1). The flooded floors look less far.
        """
        half = self.window_cells() // 2
        k = max(1, math.ceil(self.min_width / self.cell))
        band = max(1, math.ceil(max(self.shore_band, self.blind_shore_band) / self.cell))
        cells = (
            math.ceil((band + k) * math.sqrt(2.0))
            + math.ceil(half * math.sqrt(2.0))
            + (k - 1)
            + 2
            + half
            + 1
        )
        return self.cell * cells


@dataclass(frozen=True)
class WaterEvidence:
    """Where the survey says water stood at the flight: a mask on a north-up grid.

    Attributes
    ----------
    mask
        ``(rows, cols)`` True where water is known (the survey's water
        polygons, the epoch's imagery water mask).
    x0, y1
        West and north edges of the mask's grid, m.
    cell
        Its cell size, m.
    sources
        What the mask was made from, for the QA (e.g. ``("polygons",
        "imagery")``).
    """

    mask: BoolArray
    x0: float
    y1: float
    cell: float
    sources: tuple[str, ...] = ()

    def at(self, x: FloatArray, y: FloatArray) -> BoolArray:
        """Whether each point lies in a known-water cell (False off the mask's grid)."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell).astype(np.int64)
        row = np.floor((self.y1 - np.asarray(y)) / self.cell).astype(np.int64)
        rows, cols = self.mask.shape
        ok = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        out = np.zeros(col.shape, dtype=bool)
        out[ok] = self.mask[row[ok], col[ok]]
        return out


@dataclass(frozen=True)
class WaterReference:
    """What land looks like in the whole survey, so that every tile judges alike.

    Attributes
    ----------
    density
        Return density of land, m⁻² (:func:`land_reference_density`).
    intensity
        Intensity of land (:func:`land_reference_intensity`); ``None`` when
        the cloud records none (every intensity 0): level surfaces are then
        not taken as water, only sparse flat ones — except where
        ``evidence`` knows water.
    evidence
        Where the survey knows water stood (``None``: nowhere): there a
        level surface is water whatever its intensity (:func:`detect_water`).
    """

    density: float
    intensity: float | None
    evidence: WaterEvidence | None = None


def land_reference_intensity(histogram: npt.NDArray[np.integer]) -> float | None:
    """The land's intensity: the 90th percentile of the recorded returns' intensities.

    Parameters
    ----------
    histogram
        ``histogram[i]`` counts the returns of intensity ``i``.

    Returns
    -------
    float or None
        The 90th percentile over intensities ≥ 1 (0 is "not recorded"); a
        high percentile, so that a cloud that is mostly (dark) water still
        has land as its reference. ``None`` when no return has an intensity.
    """
    counts = np.asarray(histogram, dtype=np.float64).copy()
    counts[:1] = 0.0
    if counts.sum() == 0:
        return None
    cumulative = np.cumsum(counts)
    return float(np.searchsorted(cumulative, 0.9 * cumulative[-1]))


def land_reference_density(counts: npt.NDArray[np.integer], cell_area: float) -> float:
    """The land's return density: the 90th percentile over occupied cells.

    Parameters
    ----------
    counts
        Returns per cell.
    cell_area
        Area of a cell, m².

    Returns
    -------
    float
        Returns per m² (0 when no cell holds a return). A high percentile
        rather than the median, so that a cloud that is mostly water still has
        land as its reference.
    """
    occupied = counts[counts > 0]
    if occupied.size == 0:
        return 0.0
    return float(np.percentile(occupied, 90)) / cell_area


def _window_plane(
    level: FloatArray, use: BoolArray, size: int, *, with_fit: bool = False
) -> tuple[FloatArray, ...]:
    """Least-squares plane of ``level`` over the ``use`` cells of each size × size window.

    Returns
    -------
    share, slope, rms[, fit]
        Share of the window's cells used; the plane's gradient (height per
        cell); the RMS of the used levels about the plane; with ``with_fit``
        the plane's height at the window's centre cell. NaN where fewer than
        3 cells or a degenerate layout.

    Notes
    -----
    z = a + b c + d r by the window moments of the used cells (means of c,
    r, z and their centred second moments, from uniform filters):
    [b, d] = C_xx⁻¹ C_xz, RMS² = C_zz − [b, d]·C_xz. The levels are taken
    about their median first, so the moments do not cancel.
    """
    rows, cols = np.indices(level.shape, dtype=np.float64)
    rows -= rows.mean()
    cols -= cols.mean()
    m = use.astype(np.float64)
    offset = float(np.nanmedian(level[use])) if use.any() else 0.0
    z = np.where(use, level - offset, 0.0)

    def mean(values: FloatArray) -> FloatArray:
        return np.asarray(ndimage.uniform_filter(values, size=size, mode="constant"))

    share = mean(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc, mr, mz = (mean(m * v) / share for v in (cols, rows, z))
        cc = mean(m * cols * cols) / share - mc * mc
        rr = mean(m * rows * rows) / share - mr * mr
        cr = mean(m * cols * rows) / share - mc * mr
        cz = mean(m * cols * z) / share - mc * mz
        rz = mean(m * rows * z) / share - mr * mz
        zz = mean(m * z * z) / share - mz * mz
        det = cc * rr - cr * cr
        b = (rr * cz - cr * rz) / det
        d = (cc * rz - cr * cz) / det
        rms = np.sqrt(np.maximum(zz - b * cz - d * rz, 0.0))
    few = share * size * size < 3 - 1e-9
    bad = few | ~np.isfinite(det) | (det <= 1e-9)
    slope = np.where(bad, np.nan, np.hypot(b, d))
    out: tuple[FloatArray, ...] = (share, slope, np.where(bad, np.nan, rms))
    if with_fit:
        with np.errstate(invalid="ignore"):
            fit = offset + mz + b * (cols - mc) + d * (rows - mr)
        out += (np.where(bad, np.nan, fit),)
    return out


def detect_water(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    intensity: npt.NDArray[np.integer] | None = None,
    reference: WaterReference | None = None,
    params: WaterParameters | None = None,
) -> BoolArray:
    """Label returns from water in an unclassified cloud.

    Parameters
    ----------
    x, y, z
        Point coordinates in metres.
    intensity
        The returns' intensities (``None``: not recorded).
    reference
        What land looks like, from the whole survey so that every tile uses
        the same reference; by default from these points.
    params
        Detection thresholds.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for points on a water surface, open or under vegetation.

    Notes
    -----
    On cells of ``cell`` metres (docs/methodology.md §8.1, eqs. 8.0a–b):

    1. *smooth*: the z range over the cell and its 8 neighbours ≤
       ``max_roughness``;
    2. *level*: smooth and dark (mean intensity ≤ ``max_relative_intensity``
       × the land's), and the plane fitted to the mean heights of the
       smooth cells of the ``level_window`` around it has slope ≤
       ``max_level_slope`` and RMS ≤ ``max_level_residual``, with ≥
       ``min_level_share`` of the window's cells smooth; and nothing lies
       below it: no cell of the window (with ≥ 2 returns) has its lowest
       return more than ``max_roughness`` under the cell's level — water
       is the bottom of its surroundings, a flat roof is not (one wider
       than the window is: a known limit, docs/methodology.md §8.1);
    3. *sparse*: smooth with at most ``max_relative_density`` × the land's
       density (the classic cue, kept as a second way in);
    4. water cells = level or sparse, closed (holes of empty cells) and
       opened with a ``min_width`` square; then, within half a window of
       them, smooth dark cells on the nearest water cell's level
       (± ``level_tolerance``) — near a shore the window mixes water and land;
    5. *flooded*: cells whose lowest returns are dark and form a level floor
       (the plane test of 2 on each cell's lowest return), and cells within
       half a window of those with a dark floor on it: their dark floor
       returns are water, and so is every dark return within half a window
       of a flooded cell on its floor's level (−2 × ``level_tolerance`` to
       ``max_roughness`` below it) — the waterline, whose cells' floors are
       mostly bright land (:func:`_flooded`; needs intensities);
    6. *dark* returns (intensity ≤ ``max_relative_intensity`` × the land's)
       within ``shore_band`` of a water cell (without intensities: any return
       within ``blind_shore_band``), at most ``level_tolerance`` above the
       nearest water cell's level and at most ``max_roughness`` below it, are
       water too — the waterline (a return below the water level is on or in
       the water: the laser does not see the bottom).

    An intensity of 0 counts as not recorded: such a return or cell is never
    dark. Where the reference's ``evidence`` knows water (a cell whose
    returns mostly lie in it, a return that does), a cell or return counts
    as dark whatever its intensity — turbid or wind-roughened water can be
    bright, and a cloud may record no intensity: the evidence takes the
    place of darkness, never of the level test, so a level surface inside a
    water polygon is still needed (docs/methodology.md §8.1).
    """
    params = params or WaterParameters()
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    if intensity is None:
        intensity = np.zeros(n, dtype=np.uint16)
    # Empty cells beyond the data, as far as anything reaches: the data's edge is
    # filtered as in a tile, whose window reads its neighbours' cells.
    window = LatticeWindow.around(x, y, params.cell).grow_m(params.reach_m())
    if reference is None:
        flat, _ = window.flat(x, y)
        counts = np.bincount(flat, minlength=window.rows * window.cols)
        reference = WaterReference(
            density=land_reference_density(counts, params.cell**2),
            intensity=land_reference_intensity(np.bincount(intensity)),
        )
    returns = WaterReturns.of(x, y, z, intensity, reference, params)
    surfaces = water_surfaces(returns.cells(window), window, reference, params)
    return returns.labels(surfaces)


#: The per-cell statistics :func:`water_surfaces` reads, and their value in an empty cell.
CELL_LAYERS = (
    ("count", 0.0),
    ("sum_z", 0.0),
    ("zmin", np.nan),
    ("zmax", np.nan),
    ("bright_sum", 0.0),
    ("bright_n", 0.0),
    ("known_n", 0.0),
    ("floor_n", 0.0),
    ("dark_floor_n", 0.0),
)
CELL_FILL = tuple(fill for _, fill in CELL_LAYERS)


@dataclass(frozen=True)
class WaterReturns:
    """Returns as water detection reads them: where they are, and whether each is dark.

    Attributes
    ----------
    x, y, z
        Coordinates (m).
    intensity
        Recorded intensities (0: not recorded).
    dark
        Dark enough to be water (intensity ≤ ``max_relative_intensity`` × the
        land's, or inside the survey's water evidence); every return when the
        cloud records no intensity.
    floor_dark
        Dark for the flooded-floor test (step 5): ``dark``, or only the
        evidence's returns when the cloud records no intensity.
    """

    x: FloatArray
    y: FloatArray
    z: FloatArray
    intensity: npt.NDArray[np.integer]
    dark: BoolArray
    floor_dark: BoolArray
    known: BoolArray
    params: WaterParameters
    floors: bool

    @classmethod
    def of(
        cls,
        x: FloatArray,
        y: FloatArray,
        z: FloatArray,
        intensity: npt.NDArray[np.integer],
        reference: WaterReference,
        params: WaterParameters,
    ) -> WaterReturns:
        """The returns' darkness against the survey's ``reference``."""
        n = x.size
        evidence = reference.evidence
        known = np.zeros(n, dtype=bool) if evidence is None else evidence.at(x, y)
        if reference.intensity is None:
            dark, floor_dark = np.ones(n, dtype=bool), known
        else:
            # An intensity of 0 is "not recorded" (a file of a mixed survey), not dark.
            threshold = params.max_relative_intensity * reference.intensity
            dark = ((intensity > 0) & (intensity <= threshold)) | known
            floor_dark = dark
        floors = reference.intensity is not None or bool(known.any())
        return cls(x, y, z, intensity, dark, floor_dark, known, params, floors)

    def cells(self, window: LatticeWindow) -> FloatArray:
        """The statistics of :data:`CELL_LAYERS` on ``window``, from the returns inside it.

        A cell's *floor* returns are those within 2 × ``level_tolerance`` of its
        lowest (step 5): the window must hold all the returns of its cells.
        """
        size = window.rows * window.cols
        # The tile's halo returns, scattered through its points, fall in one bin past the
        # window's (``size``), dropped at the end: no copy of the returns inside.
        flat, _ = window.flat(self.x, self.y, outside=size)
        z, intensity, known, floor_dark = self.z, self.intensity, self.known, self.floor_dark
        bins = size + 1

        def count(cells: IntArray, among: BoolArray | None = None) -> FloatArray:
            """Returns per cell; those ``among`` (no copy when it is everywhere)."""
            if among is not None and not among.all():
                (cells,) = where(among, cells)
            return np.bincount(cells, minlength=bins)[:size].astype(np.float64)

        counts = count(flat)
        zmin = bin_min(flat, z, bins)  # NaN in the last bin unless a return is outside
        zmin[size] = np.nan  # so that no return outside is a floor return
        recorded = intensity > 0  # 0: not recorded, adds nothing to the sum
        floor_return = z <= zmin[flat] + 2.0 * self.params.level_tolerance
        floor_flat, floor_dark = where(floor_return, flat, floor_dark)
        layers = [
            counts,
            np.bincount(flat, weights=z, minlength=bins)[:size],
            zmin[:size],
            bin_max(flat, z, bins)[:size],
            np.bincount(flat, weights=intensity.astype(np.float64), minlength=bins)[:size],
            counts if recorded.all() else count(flat, recorded),
            count(flat, known),
            count(floor_flat),
            count(floor_flat, floor_dark),
        ]
        return np.stack(layers).reshape(len(layers), window.rows, window.cols)

    def labels(self, surfaces: WaterSurfaces | None) -> BoolArray:
        """Which returns are water on ``surfaces`` (steps 4–6; every return inside their window)."""
        water = np.zeros(self.x.size, dtype=bool)
        if surfaces is None:
            return water
        params = self.params
        flat, inside = surfaces.window.flat(self.x, self.y)
        if not inside.all():
            raise ValueError("returns outside the water surfaces' window")
        z = self.z
        if surfaces.body.any():
            depth = surfaces.nearest_level.ravel()[flat] - z
            with np.errstate(invalid="ignore"):
                on_level = (depth >= -params.level_tolerance) & (depth <= params.max_roughness)
            water = surfaces.body.ravel()[flat] | (
                surfaces.band.ravel()[flat] & on_level & self.dark
            )
        if self.floors:
            floor_return = z <= surfaces.zmin.ravel()[flat] + 2.0 * params.level_tolerance
            with np.errstate(invalid="ignore"):
                depth = surfaces.floor_level.ravel()[flat] - z
                waterline = (
                    surfaces.near.ravel()[flat]
                    & (depth >= -2.0 * params.level_tolerance)
                    & (depth <= params.max_roughness)
                )
            flooded = surfaces.flooded.ravel()[flat] & floor_return | waterline
            water |= flooded & self.floor_dark
        return np.asarray(water, dtype=bool)


@dataclass(frozen=True)
class WaterSurfaces:
    """Where water lies on a lattice window (:func:`water_surfaces`), per cell.

    Attributes
    ----------
    window
        The lattice window.
    body, band, nearest_level
        Water bodies (step 4), the shore band around them and the level of
        the nearest body cell (step 6).
    zmin, flooded, near, floor_level
        Each cell's lowest return, the flooded cells, the cells within half a
        window of them and the level of the nearest flooded floor (step 5).
    """

    window: LatticeWindow
    body: BoolArray
    band: BoolArray
    nearest_level: FloatArray
    zmin: FloatArray
    flooded: BoolArray
    near: BoolArray
    floor_level: FloatArray


def water_surfaces(
    cells: FloatArray,
    window: LatticeWindow,
    reference: WaterReference,
    params: WaterParameters,
) -> WaterSurfaces | None:
    """Water bodies and flooded floors on a window from its cells' statistics (steps 1–5).

    Parameters
    ----------
    cells
        The layers of :data:`CELL_LAYERS` on ``window`` (:meth:`WaterReturns.cells`,
        or blocks of several tiles).
    window
        Their lattice window.
    reference
        What land looks like in the survey.
    params
        Detection thresholds.

    Returns
    -------
    WaterSurfaces or None
        ``None`` when fewer than 4 cells hold returns (no water). A cell's
        surfaces depend on the cells within :meth:`WaterParameters.reach_m`.
    """
    count, sum_z, zmin, zmax, bright_sum, bright_n, known_n, floor_n, dark_floor_n = cells
    cell = params.cell
    occupied = count > 0
    if occupied.sum() < 4:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        level = sum_z / count
    hi = ndimage.maximum_filter(np.where(occupied, zmax, -np.inf), size=3, mode="nearest")
    lo = ndimage.minimum_filter(np.where(occupied, zmin, np.inf), size=3, mode="nearest")
    smooth = occupied & (hi - lo <= params.max_roughness)
    sparse = smooth & (count <= params.max_relative_density * reference.density * cell * cell)
    known_cell = 2 * known_n > count
    if reference.intensity is None:
        dark = known_cell
    else:
        threshold = params.max_relative_intensity * reference.intensity
        with np.errstate(invalid="ignore", divide="ignore"):
            dark = (bright_sum / bright_n <= threshold) | known_cell

    size = params.window_cells()
    half = size // 2
    share, slope, rms = _window_plane(level, smooth, size)
    lowest = ndimage.minimum_filter(
        np.where(count >= 2, zmin, np.inf), size=size, mode="constant", cval=np.inf
    )
    with np.errstate(invalid="ignore"):
        level_ok = (
            smooth
            & dark
            & (share >= params.min_level_share)
            & (slope / cell <= params.max_level_slope)
            & (rms <= params.max_level_residual)
            & (lowest >= level - params.max_roughness)
        )
    candidate = level_ok | sparse
    body = binary_close(candidate) & (candidate | ~occupied)
    k = max(1, math.ceil(params.min_width / cell))
    body = binary_open(body, size=k)
    # Near a shore the level window mixes water and land: there a smooth (dark) cell
    # on the level of the water within half a window is water too.
    nearest_level = fill_nearest(
        np.where(body & occupied, level, np.nan), max_distance=half * math.sqrt(2.0)
    )
    with np.errstate(invalid="ignore"):
        on_water_level = np.abs(level - nearest_level) <= params.level_tolerance
    body |= smooth & dark & on_water_level & binary_dilate(body, iterations=half)
    band = np.zeros(body.shape, dtype=bool)
    if body.any():
        band_m = params.shore_band if reference.intensity is not None else params.blind_shore_band
        reach = max(1, math.ceil(band_m / cell))
        nearest_level = fill_nearest(
            np.where(body & occupied, level, np.nan), max_distance=(reach + k) * math.sqrt(2.0)
        )
        band = binary_dilate(body, iterations=reach)
    flooded, near, floor_level = _flooded(zmin, count, floor_n, dark_floor_n, size, params)
    return WaterSurfaces(window, body, band, nearest_level, zmin, flooded, near, floor_level)


def _flooded(
    zmin: FloatArray,
    counts: FloatArray,
    floor_n: FloatArray,
    dark_floor_n: FloatArray,
    size: int,
    params: WaterParameters,
) -> tuple[BoolArray, BoolArray, FloatArray]:
    """Cells of water standing under emergent vegetation (``detect_water`` step 5).

    A cell's *floor* is its lowest return and the returns within 2 ×
    ``level_tolerance`` above it. A cell is flooded when at least half its
    floor returns are dark and the floors of the window around it form a
    level plane (the test of step 2 on the lowest returns; opened with a
    ``min_width`` square like the open water), or when it lies within half a
    window of such a cell with a dark floor on that cell's plane. Its dark
    floor returns are water. Ground under reed is a bright floor, and seldom
    level to a centimetre and a half.

    The waterline: a cell that the shore crosses holds water and bright ground
    on one level, so its floor is not dark and the cell is not flooded; its dark
    returns within half a window of a flooded cell and on that cell's floor
    level (up to 2 × ``level_tolerance`` above the plane of the lowest returns,
    which lies below the surface by their noise, and at most ``max_roughness``
    below it: the laser does not see the bottom) are water, one by one
    (:meth:`WaterReturns.labels`).

    Returns
    -------
    flooded, near, floor_level
        The flooded cells, the cells within half a window of them, and the
        plane of the nearest flooded floor.
    """
    half = size // 2
    dark_floor = (2 * dark_floor_n >= floor_n) & (counts >= 2)
    share, slope, rms, fit = _window_plane(zmin, counts >= 2, size, with_fit=True)
    with np.errstate(invalid="ignore"):
        flooded = (
            dark_floor
            & (share >= params.min_level_share)
            & (slope / params.cell <= params.max_level_slope)
            & (rms <= params.max_level_residual)
        )
    k = max(1, math.ceil(params.min_width / params.cell))
    flooded = binary_open(flooded, size=k)
    with np.errstate(invalid="ignore"):
        floor_level = fill_nearest(
            np.where(flooded, fit, np.nan), max_distance=half * math.sqrt(2.0)
        )
        on_floor = dark_floor & (np.abs(zmin - floor_level) <= params.level_tolerance)
    near = binary_dilate(flooded, iterations=half)
    flooded |= on_floor & near
    return np.asarray(flooded, dtype=bool), np.asarray(near, dtype=bool), floor_level
