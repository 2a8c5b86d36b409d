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
from scipy import ndimage

from carbonsink.lidar._raster_ops import (
    bilinear_many,
    bin_min,
    binary_dilate,
    data_box,
    fill_nearest,
    inpaint,
    open_disk,
    separable_correlation,
    surface_gradient,
)
from carbonsink.lidar.lattice import LatticeWindow

__all__ = [
    "GroundResult",
    "SMRFParameters",
    "canopy_floor",
    "smrf",
    "smrf_points",
    "smrf_surfaces",
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
    floor_roughness, floor_share, floor_radius
        A closed canopy's floor: ground cells whose lowest ground returns
        scatter more than ``floor_roughness`` (m) about their local plane over
        a square of ``floor_radius`` cells each way, where ground is under
        ``floor_share`` of the returns, are not ground (:func:`canopy_floor`).
    floor_edge
        A floor's edge: a ground cell within ``floor_radius`` + 1 cells of a
        floor whose lowest ground return fails eq. 8.2 (``threshold`` +
        ``scalar`` × slope) against the plane of the terrain beside it (the
        ground cells farther from the floor, within twice that distance) is a
        floor too (:func:`_floor_edge`).
    """

    cell: float = 1.0
    slope: float = 0.15
    window: float = 18.0
    threshold: float = 0.5
    scalar: float = 1.25
    zmin_reach: int = 2
    fill_reach: int = 6
    fill_sweeps: int = 4
    floor_roughness: float = 0.15
    floor_share: float = 0.2
    floor_radius: int = 2
    floor_edge: bool = True

    def reach_m(self) -> float:
        """How far (m) a point's class can depend on other data (for tile halos).

        The opening of radius r reads the surface within 2r (erosion then
        dilation), the minimum surface's fill reaches ``zmin_reach`` cells and
        the provisional surface's fill ``fill_reach + fill_sweeps``, plus one
        cell for the bilinear lookup, and the canopy-floor test's
        :meth:`floor_reach_cells` + 1 (the half cell a point's own cell spans,
        rounded up).
        """
        cells = self.zmin_reach + self.fill_reach + self.fill_sweeps + 1 + self.floor_reach_cells()
        return 2.0 * self.max_radius_cells * self.cell + (cells + 1) * self.cell

    def tested_reach_m(self) -> float:
        """How far (m) beyond ``within`` :func:`smrf` tests points.

        The canopy-floor tests read the classes of the points within
        :meth:`floor_reach_cells`, and one cell more: ``within``'s edge need not
        fall on a cell's.
        """
        return (self.floor_reach_cells() + 1) * self.cell

    def floor_reach_cells(self) -> int:
        """Cells beyond a point's own whose points' morphology classes its floor test reads.

        The test of a cell reads the cells within k = ``floor_radius``, whose
        points lie up to one more cell away: k + 1. The edge test
        (``floor_edge``) reads the floors within k + 1 cells and the plane of
        the terrain within 2(k + 1), whose cells are terrain when no floor
        lies within k + 1 of them: 2(k + 1) + (k + 1) + k + 1 = 4k + 4.
        """
        k = self.floor_radius
        return 4 * k + 4 if self.floor_edge and math.isfinite(self.floor_roughness) else k + 1

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
    floor
        ``True`` for points the morphology took as ground that lie on a closed
        canopy's floor (:func:`canopy_floor`): not ground, the terrain under
        them is not measured.
    """

    ground: BoolArray
    surface: FloatArray
    origin: tuple[float, float]
    cell: float
    floor: BoolArray


#: Margin (m) of the morphology's comparisons: half a millimetre. Point clouds are stored
#: in millimetres (or coarser), so drops of exactly slope × r × cell are common; the
#: float32 surface relative to the window's lowest cell rounds them either way by up to
#: ~1e-4 m (1.6 km of relief), depending on the window — a tile and its neighbour
#: disagreed. With the margin an exact tie is never an object, whatever the window —
#: for data stored to 1 mm or coarser with less than ~4 km of relief (finer storage
#: scales can still tip a near-tie either way).
TIE_M = 5e-4


def _progressive_filter(
    surface: npt.NDArray[np.floating],
    *,
    cell: float,
    slope: float,
    max_radius: int,
    outside: BoolArray,
) -> BoolArray:
    """Cells whose height drops by more than the slope allows under growing openings.

    Notes
    -----
    Pingel et al. 2013, eq. 1–2: for radius r = 1…R, open the last surface with
    a window of radius r; a cell is an object when the opening lowers it by
    more than ``slope × r × cell`` (plus :data:`TIE_M`, so that exact ties on
    millimetre data fall the same way in every tile). The openings are taken
    over the cells with a value (``outside`` is +inf: :func:`open_disk`).
    """
    last = surface
    is_object = np.zeros(surface.shape, dtype=bool)
    with np.errstate(invalid="ignore"):  # inf − inf far from data: NaN, never an object
        for radius in range(1, max_radius + 1):
            this = open_disk(last, radius, outside=outside)
            is_object |= (last - this) > slope * radius * cell + TIE_M
            last = this
    return is_object


def smrf(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    params: SMRFParameters | None = None,
    eligible: BoolArray | None = None,
    within: tuple[float, float, float, float] | None = None,
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
    within
        ``(xmin, ymin, xmax, ymax)`` of the points whose class is wanted (a
        tile's inner window): the others are returned neither ground nor
        floor, and their per-point tests (steps 5–6) are skipped. The points
        inside get the class they get without ``within``: the surfaces are made
        from every point, and step 6 reads the classes of the points within
        :meth:`SMRFParameters.floor_reach_cells` of them, which are computed too.

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
       bilinearly at the point;
    6. not in the paper: ground on a closed canopy's floor is not ground
       (:func:`canopy_floor`) — a reed bed wider than the window leaves no
       ground return inside it, and steps 3–5 take its lowest returns.

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
    if not eligible.any():
        none = np.zeros(n, dtype=bool)
        return GroundResult(none, np.full((1, 1), np.nan), (0.0, 0.0), params.cell, none.copy())
    ex, ey, ez = x[eligible], y[eligible], z[eligible]
    # Empty cells beyond the data, as far as anything reaches: the data's edge is
    # filtered as in a tile, whose window reads its neighbours' cells.
    window = LatticeWindow.around(ex, ey, params.cell).grow_m(params.reach_m())
    flat, _ = window.flat(ex, ey)
    zmin = bin_min(flat, ez, window.rows * window.cols).reshape(window.shape)
    surfaces = smrf_surfaces(zmin, params)
    return smrf_points(
        x, y, z, eligible=eligible, within=within, window=window, surfaces=surfaces, params=params
    )


def smrf_surfaces(zmin: FloatArray, params: SMRFParameters) -> tuple[FloatArray, FloatArray]:
    """SMRF's steps 1–4 on a minimum surface: the provisional DTM and its slope.

    Parameters
    ----------
    zmin
        The lowest eligible return per cell of ``params.cell`` metres (NaN
        where none) on a lattice window (:class:`~carbonsink.lidar.lattice.LatticeWindow`).
    params
        Filter parameters.

    Returns
    -------
    provisional, slope
        Z_pro (NaN inside wide objects and far from data) and the magnitude
        of its gradient; a cell's values depend on the cells within
        :meth:`SMRFParameters.reach_m` (less the floor test's reach).
    """
    empty = np.isnan(zmin)
    if empty.all():
        nothing = np.full(zmin.shape, np.nan)
        return nothing, nothing.copy()
    # Only the data's bounding box, grown by the surfaces' reach, is worked on: beyond it
    # both surfaces are NaN, and what lies there reads as the box's border does (+inf to
    # the erosions, −inf to the dilations, nothing to the fills): a survey's footprint
    # seldom fills its windows.
    margin = params.max_radius_cells + params.zmin_reach + params.fill_reach + 2
    box = data_box(~empty, margin)
    if box == (slice(0, zmin.shape[0]), slice(0, zmin.shape[1])):
        return _smrf_surfaces(zmin, empty, params)
    provisional = np.full(zmin.shape, np.nan)
    slope = np.full(zmin.shape, np.nan)
    provisional[box], slope[box] = _smrf_surfaces(zmin[box], empty[box], params)
    return provisional, slope


def _smrf_surfaces(
    zmin: FloatArray, empty: BoolArray, params: SMRFParameters
) -> tuple[FloatArray, FloatArray]:
    """:func:`smrf_surfaces` on a window holding every data cell within its reach."""
    cell = params.cell
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
        np.where(unknown, np.inf, -relative),
        cell=cell,
        slope=5.0,
        max_radius=1,
        outside=unknown,
    )
    objects = _progressive_filter(
        np.where(unknown, np.inf, relative),
        cell=cell,
        slope=params.slope,
        max_radius=params.max_radius_cells,
        outside=unknown,
    )
    provisional = np.where(low | objects | empty, np.nan, zmin)
    provisional = inpaint(provisional, reach=params.fill_reach, sweeps=params.fill_sweeps)
    grad_r, grad_c = surface_gradient(provisional, cell)
    logger.debug("SMRF: %d x %d cells, %.1f %% objects", *zmin.shape, 100 * objects.mean())
    return provisional, np.hypot(grad_r, grad_c)


def smrf_points(
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    *,
    eligible: BoolArray,
    within: tuple[float, float, float, float] | None,
    window: LatticeWindow,
    surfaces: tuple[FloatArray, FloatArray],
    params: SMRFParameters,
) -> GroundResult:
    """SMRF's steps 5–6: the points' classes against the provisional surface.

    Parameters
    ----------
    x, y, z
        Point coordinates (m).
    eligible
        Points that may be ground.
    within
        As in :func:`smrf`.
    window
        The lattice window of ``surfaces``; it holds every eligible point
        tested (those within ``within`` and the floor test's reach).
    surfaces
        Z_pro and its slope (:func:`smrf_surfaces`).
    params
        Filter parameters.
    """
    n = x.size
    provisional, slope_surface = surfaces
    cell = params.cell
    tested = eligible if within is None else eligible & _near(x, y, within, params)
    tx, ty, tz = x[tested], y[tested], z[tested]
    z_pro, s_pro = bilinear_many(
        [provisional, slope_surface], (window.y1 - ty) / cell - 0.5, (tx - window.x0) / cell - 0.5
    )
    ground = np.zeros(n, dtype=bool)
    ground[tested] = np.abs(tz - z_pro) <= params.threshold + params.scalar * s_pro
    floor = np.zeros(n, dtype=bool)
    cells, inside = window.flat(tx, ty)
    if not inside.all():
        raise ValueError("tested points outside the SMRF window")
    floor[tested] = canopy_floor(
        cells, tz, ground=ground[tested], shape=window.shape, params=params
    )
    ground &= ~floor
    if within is not None:  # the margin was tested for the floor test only
        outside = ~_near(x, y, within, None)
        ground[outside] = False
        floor[outside] = False
    logger.debug(
        "SMRF: %d points (%d tested), %.1f %% of the tested ground",
        n,
        int(tested.sum()),
        100 * ground.sum() / max(int(tested.sum()), 1),
    )
    return GroundResult(
        ground=ground, surface=provisional, origin=(window.x0, window.y1), cell=cell, floor=floor
    )


def _near(
    x: FloatArray,
    y: FloatArray,
    bounds: tuple[float, float, float, float],
    params: SMRFParameters | None,
) -> BoolArray:
    """Points inside ``bounds``, grown by the floor tests' reach when ``params`` are given."""
    grow = 0.0 if params is None else params.tested_reach_m()
    xmin, ymin, xmax, ymax = bounds
    return (x >= xmin - grow) & (x < xmax + grow) & (y > ymin - grow) & (y <= ymax + grow)


def canopy_floor(
    cells: npt.NDArray[np.int64],
    z: FloatArray,
    *,
    ground: BoolArray,
    shape: tuple[int, int],
    params: SMRFParameters,
) -> BoolArray:
    """Ground points lying on a closed canopy's floor rather than on the terrain.

    Parameters
    ----------
    cells
        Flat index of each eligible point's cell on the SMRF grid.
    z
        Their elevations (m).
    ground
        The morphology's ground among them.
    shape
        ``(rows, cols)`` of the SMRF grid.
    params
        ``floor_roughness`` σ_max (m), ``floor_share`` s_max and
        ``floor_radius`` k (cells).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for ground points in cells of a canopy floor.

    Notes
    -----
    Where a dense canopy stands wider than the window (a closed reed bed), no
    pulse reaches the ground and the morphology takes the canopy's lowest
    returns as the terrain. Terrain — bare, or seen through grass or crowns —
    is smooth at the scale of a few metres: its per-cell lowest ground
    return follows a plane to within the ranging noise and the grass's lowest
    layer (95th percentiles of σ: 2–14 cm on the synthetic marsh, sedge the
    roughest; 11–12 cm on the shared real clouds' reference ground,
    docs/methodology.md §8.2). A canopy's floor is the lowest of a few
    returns scattered through the stems: σ 18–30 cm (5th–95th percentile)
    on the synthetic closed reed bed. It also holds few of the returns
    around it (5–11 %, against 19–100 % for terrain). With z_c the lowest
    ground return of cell c and, over the (2k + 1)² cells around c that hold
    ground, n_c of them, the plane fit ẑ = a + b·col + d·row and the share
    g_c = ground returns / eligible returns over those cells, a cell is a
    canopy floor when

        σ_c = √[Σ (z − ẑ)² / (n_c − 3)] > σ_max,  g_c < s_max,  n_c ≥ 8,

    The bed's edge escapes this test: over the k cells inside it, the window
    reaches the terrain outside, whose ground is smooth and plentiful, and the
    step there widens SMRF's threshold by ``scalar`` × slope, so the canopy's
    lowest returns there stay ground (a strip about k + 1 m wide along the
    edge of a closed bed; in the narrower beds SMRF's window removes the
    canopy itself). With ``floor_edge`` the strip's cells are tested against
    the terrain beside them (:func:`_floor_edge`, eq. 8.2b).

    Both tests must fail together: rough terrain with much ground (mountain
    slopes, σ up to 0.9 m on PDAL_hexbin-crop, where ground is ≥ 45 % of the
    returns) and the floor of an open canopy (ground rarer, but smooth) stay
    ground. With the edge test a cell's floor depends on the points within
    :meth:`SMRFParameters.floor_reach_cells` (4k + 4) of it (tile halo:
    :meth:`SMRFParameters.reach_m`).
    """
    if not cells.size:
        return np.zeros(0, dtype=bool)
    # Per-cell sums over the whole grid, then work on the box of the cells holding
    # points (a tile's inner window, when SMRF tests only those): a window reaching
    # past it finds no point either way.
    on_ground = np.flatnonzero(ground)  # one index for three uses (:func:`where`)
    grounded = cells[on_ground]
    n_full = shape[0] * shape[1]
    zmin_full = bin_min(grounded, z[on_ground], n_full).reshape(shape)
    everyone_full = np.bincount(cells, minlength=n_full).reshape(shape)
    box = data_box(everyone_full > 0, 0)
    zmin = np.ascontiguousarray(zmin_full[box])
    known = np.isfinite(zmin)
    if not known.any():
        return np.zeros(z.size, dtype=bool)
    sigma, n = _plane_scatter(zmin, params.floor_radius)
    counts = np.bincount(grounded, minlength=n_full).reshape(shape)[box].astype(np.float64)
    everyone = everyone_full[box].astype(np.float64)
    ones = np.ones(2 * params.floor_radius + 1)
    # Sums of counts: integers, exact in any order, so a tile and its neighbour
    # agree on every cell.
    g_sum = separable_correlation(counts, ones, ones)
    e_sum = separable_correlation(everyone, ones, ones)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = g_sum / e_sum
    floor_box = known & (n >= 8) & (sigma > params.floor_roughness) & (share < params.floor_share)
    if floor_box.any() and params.floor_edge:
        floor_box |= _floor_edge(zmin, floor_box, params)
    floor_grid = np.zeros(shape, dtype=bool)
    floor_grid[box] = floor_box
    out = np.zeros(z.size, dtype=bool)
    out[on_ground] = floor_grid.ravel()[grounded]
    return out


def _floor_edge(zmin: FloatArray, floor: BoolArray, params: SMRFParameters) -> BoolArray:
    """Ground cells along a floor that eq. 8.2 rejects against the terrain beside them.

    Within k + 1 cells of a floor (k = ``floor_radius``) the floor test's
    window reaches the terrain outside the canopy, whose smooth, plentiful
    ground passes it: the canopy's lowest returns stay ground in a strip
    about k + 1 cells wide. The terrain there is the plane ẑ of the ground
    cells around it that lie farther than k + 1 cells from any floor, within
    2(k + 1) cells (:func:`_plane_at`), S its slope: a strip cell whose
    lowest ground return z_c has z_c − ẑ > ``threshold`` + ``scalar`` × S
    (SMRF's own test, eq. 8.2, with the terrain it could not see) is a floor
    too. Only returns above the terrain are rejected: a strip cell below
    the plane is a dip, not a canopy. As in the progressive filter, an exact
    tie is not a floor (:data:`TIE_M`): the plane's last bits may differ
    between a tile and an untiled run.
    """
    reach = params.floor_radius + 1
    known = np.isfinite(zmin)
    near = binary_dilate(floor, iterations=reach)
    strip = np.asarray(known & ~floor & near, dtype=bool)
    if not strip.any():
        return strip
    level, slope, n = _plane_at(zmin, known & ~near, 2 * reach)
    limit = params.threshold + params.scalar * slope / params.cell
    with np.errstate(invalid="ignore"):
        return np.asarray(strip & (n >= 8) & (zmin - level > limit + TIE_M), dtype=bool)


def _plane_at(
    z: FloatArray, use: BoolArray, radius: int
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Each cell's value on the least-squares plane of the ``use`` cells around it.

    Over the cells c' within ``radius`` cells each way of cell c with
    ``use`` (n_c of them), with offsets u = col' − col, v = row' − row, the
    plane z ≈ a + b·u + d·v fitted by least squares gives a at c and its
    slope √(b² + d²) per cell (NaN where the normal equations are singular:
    n_c < 3 or the cells on one line). The window sums are separable
    correlations with the kernels 1, u, v, u², uv, v² (exact integer
    weights), so the cost does not grow with the radius squared. Returns a,
    the slope and n_c.
    """
    # Elevations as they are (no offset by the array's lowest value, which differs
    # between a tile and an untiled run): the same cells give the same sums.
    w = use.astype(np.float64)
    zw = np.where(use, z, 0.0)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    ones = np.ones_like(offsets)

    def window(values: FloatArray, row_kernel: FloatArray, col_kernel: FloatArray) -> FloatArray:
        along_rows = ndimage.correlate1d(values, row_kernel, axis=0, mode="constant")
        return np.asarray(ndimage.correlate1d(along_rows, col_kernel, axis=1, mode="constant"))

    n = window(w, ones, ones)
    su, sv = window(w, ones, offsets), window(w, offsets, ones)
    suu, svv = window(w, ones, offsets**2), window(w, offsets**2, ones)
    suv = window(w, offsets, offsets)
    sz, suz, svz = window(zw, ones, ones), window(zw, ones, offsets), window(zw, offsets, ones)
    det = n * (suu * svv - suv**2) - su * (su * svv - suv * sv) + sv * (su * suv - suu * sv)
    # Cramer's rule on the normal equations [n su sv; su suu suv; sv suv svv] (a b d)ᵀ
    # = (sz suz svz)ᵀ.
    det_a = sz * (suu * svv - suv**2) - su * (suz * svv - suv * svz) + sv * (suz * suv - suu * svz)
    det_b = n * (suz * svv - suv * svz) - sz * (su * svv - suv * sv) + sv * (su * svz - suz * sv)
    det_d = n * (suu * svz - suz * suv) - su * (su * svz - suz * sv) + sz * (su * suv - suu * sv)
    with np.errstate(invalid="ignore", divide="ignore"):
        solvable = np.abs(det) > 1e-9 * np.maximum(n, 1.0) ** 3
        level = np.where(solvable, det_a / det, np.nan)
        slope = np.where(solvable, np.hypot(det_b, det_d) / np.abs(det), np.nan)
    return level, slope, np.rint(n).astype(np.int64)


def _plane_scatter(zmin: FloatArray, radius: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Scatter (m) of each cell's neighbourhood about its least-squares plane.

    For every cell c with a value, over the cells c' within ``radius`` cells
    each way that have one (n_c of them, c included): offsets u = col' − col,
    v = row' − row, w = z_c' − z_c (relative to the cell itself, so
    elevations of any size lose no precision), the plane w ≈ a + b·u + d·v
    fitted by least squares and σ = √[Σ residual² / (n_c − 3)]; NaN where
    n_c < 3. Returns σ and n_c.

    The sums of 1, u, v, u², uv and v² over the neighbours depend only on
    which cells have a value: separable correlations of that mask with
    integer kernels, exact in float64. The sums of w, uw, vw and w² are
    accumulated shift by shift, in the order of the rows then the columns of
    the window (the centre adds nothing: its w is 0).
    """
    rows, cols = zmin.shape
    known = np.isfinite(zmin)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    ones = np.ones_like(offsets)
    mask = known.astype(np.float64)

    def window(row_kernel: FloatArray, col_kernel: FloatArray) -> FloatArray:
        total = separable_correlation(mask, row_kernel, col_kernel)
        total[~known] = 0.0  # a cell without a value has no neighbourhood
        return total

    n = window(ones, ones)
    su, sv = window(ones, offsets), window(offsets, ones)
    suu, svv = window(ones, offsets**2), window(offsets**2, ones)
    suv = window(offsets, offsets)
    sw, suw, svw, sww = (np.zeros(zmin.shape) for _ in range(4))
    # w = m' (z' − z_c) with m' = 1 where the neighbour has a value: z' − z_c exactly
    # there (z_c × 1 is z_c), 0 − 0 elsewhere, without a NaN to clear in every shift.
    centre = np.where(known, zmin, 0.0)
    pad_z = np.pad(centre, radius)
    pad_m = np.pad(mask, radius)
    w = np.empty(zmin.shape)
    term = np.empty(zmin.shape)
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if dr == 0 and dc == 0:
                continue
            at = (slice(radius + dr, radius + dr + rows), slice(radius + dc, radius + dc + cols))
            np.multiply(pad_m[at], centre, out=w)
            np.subtract(pad_z[at], w, out=w)
            sw += w
            if dc:
                np.multiply(w, dc, out=term)
                suw += term
            if dr:
                np.multiply(w, dr, out=term)
                svw += term
            np.multiply(w, w, out=term)
            sww += term
    with np.errstate(invalid="ignore", divide="ignore"):
        mu, mv, mw = su / n, sv / n, sw / n
        cuu = suu / n - mu * mu
        cuv = suv / n - mu * mv
        cvv = svv / n - mv * mv
        cuw = suw / n - mu * mw
        cvw = svw / n - mv * mw
        cww = sww / n - mw * mw
        det = cuu * cvv - cuv * cuv
        b = (cuw * cvv - cvw * cuv) / det
        d = (cvw * cuu - cuw * cuv) / det
        residual = np.maximum(cww - b * cuw - d * cvw, 0.0)
        sigma = np.sqrt(residual * n / (n - 3))
    sigma[~known | (n < 3)] = np.nan
    return np.asarray(sigma, dtype=np.float64), n.astype(np.int64)
