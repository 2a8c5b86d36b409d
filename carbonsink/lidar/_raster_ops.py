"""Fast raster operations shared by the LiDAR stage: binning, local hole filling, morphology.

All functions work on plain numpy arrays and return new arrays.
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: float32 or float64 arrays (morphology runs in float32).
AnyFloatArray = npt.NDArray[np.floating]

#: Points per block of the per-point passes (their temporaries fit the CPU cache).
BLOCK = 1 << 16
#: Cells along a block's edge in :func:`fill_nearest`.
FILL_BLOCK = 128


def where(mask: BoolArray, *arrays: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], ...]:
    """``a[mask]`` for each array, through one index of the places where ``mask`` is true.

    The same elements in the same order. numpy's boolean indexing scans the
    mask again for each array, one branch an element: on a mask scattered
    through the points (the ground, a cell's floor returns) that branch is
    mispredicted half the time, and 3 million points took 14–17 ms an array
    where the index takes 2 ms and each gather 2–4 ms (numpy 2.4, 2 cores).
    For a mask nearly all true the plain boolean index is as fast.
    """
    index = np.flatnonzero(mask)
    return tuple(a[index] for a in arrays)


def bin_min(cell: IntArray, values: FloatArray, n_cells: int) -> FloatArray:
    """Minimum of ``values`` per flat cell index; NaN for empty cells."""
    out = np.full(n_cells, np.inf)
    np.minimum.at(out, cell, values)
    out[np.isinf(out)] = np.nan
    return out


def bin_max(cell: IntArray, values: FloatArray, n_cells: int) -> FloatArray:
    """Maximum of ``values`` per flat cell index; NaN for empty cells."""
    out = np.full(n_cells, -np.inf)
    np.maximum.at(out, cell, values)
    out[np.isinf(out)] = np.nan
    return out


def bin_mean(cell: IntArray, values: FloatArray, n_cells: int) -> tuple[FloatArray, IntArray]:
    """Mean of ``values`` per flat cell index (NaN when empty) and the counts."""
    counts = np.bincount(cell, minlength=n_cells)
    sums = np.bincount(cell, weights=values, minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return mean, counts.astype(np.int64)


def window_cells(
    x: FloatArray, y: FloatArray, *, x0: float, y1: float, cell: float, shape: tuple[int, int]
) -> tuple[IntArray, BoolArray]:
    """Flat cell index of the points inside a window, and which points those are.

    The window's upper-left corner is ``(x0, y1)``; its cell (r, c) holds
    ⌊(x − x0) / cell⌋ = c and ⌊(y1 − y) / cell⌋ = r. Computed in floating
    point (whole numbers, exact below 2⁵³, float64 whatever x is) in blocks
    of :data:`BLOCK` points whose temporaries stay in the CPU cache.
    """
    rows, cols = shape
    n = len(x)
    flat = np.empty(n, dtype=np.int64)
    inside = np.empty(n, dtype=bool)
    size = min(n, BLOCK)
    col, row, test = np.empty(size), np.empty(size), np.empty(size, dtype=bool)
    kept = 0
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        m = stop - start
        c, r, t, ok = col[:m], row[:m], test[:m], inside[start:stop]
        np.subtract(x[start:stop], x0, out=c, dtype=np.float64)
        c /= cell
        np.floor(c, out=c)
        np.subtract(y1, y[start:stop], out=r, dtype=np.float64)
        r /= cell
        np.floor(r, out=r)
        np.greater_equal(r, 0, out=ok)
        ok &= np.less(r, rows, out=t)
        ok &= np.greater_equal(c, 0, out=t)
        ok &= np.less(c, cols, out=t)
        r *= cols
        r += c
        block = r[ok]
        flat[kept : kept + block.size] = block
        kept += block.size
    return flat[:kept], inside


def fill_nearest(surface: FloatArray, *, max_distance: float | None = None) -> FloatArray:
    """Give NaN cells the value of their nearest known cell (Euclidean, in cells).

    Cells farther than ``max_distance`` cells from any known cell stay NaN,
    so a cell's value depends only on data within that distance — what lets
    tiles with a halo fill their cores identically. Known cells never change.
    Ties between equidistant cells are broken deterministically by scipy's
    exact distance transform (Maurer et al. 2003).

    With ``max_distance``, a large surface is filled in blocks of
    :data:`FILL_BLOCK` cells, each from the known cells within
    ⌈``max_distance``⌉ cells of it (the only ones that can be its cells'
    nearest): blocks with nothing to fill, or nothing near to fill from,
    cost no transform (a survey's footprint seldom fills its windows).
    """
    known = np.isfinite(surface)
    if known.all() or not known.any():
        return surface.copy()
    if max_distance is None or max(surface.shape) <= 2 * FILL_BLOCK:
        return _fill_nearest_whole(surface, known, max_distance)
    halo = math.ceil(max_distance)
    filled = np.array(surface, dtype=np.float64)
    rows, cols = surface.shape
    for r0 in range(0, rows, FILL_BLOCK):
        for c0 in range(0, cols, FILL_BLOCK):
            block = (slice(r0, min(r0 + FILL_BLOCK, rows)), slice(c0, min(c0 + FILL_BLOCK, cols)))
            if known[block].all():
                continue
            # Around the block: every known cell within ``halo`` cells of one of its cells;
            # those beyond are more than ``max_distance`` away.
            hr0, hc0 = max(0, r0 - halo), max(0, c0 - halo)
            around = (
                slice(hr0, min(r0 + FILL_BLOCK + halo, rows)),
                slice(hc0, min(c0 + FILL_BLOCK + halo, cols)),
            )
            part = _fill_nearest_whole(surface[around], known[around], max_distance)
            filled[block] = part[r0 - hr0 : block[0].stop - hr0, c0 - hc0 : block[1].stop - hc0]
    return filled


def _fill_nearest_whole(
    surface: AnyFloatArray, known: BoolArray, max_distance: float | None
) -> FloatArray:
    """:func:`fill_nearest` by one distance transform of the whole surface."""
    if not known.any():
        return np.full(surface.shape, np.nan)
    if known.all():
        return np.array(surface, dtype=np.float64)
    distance, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
    filled = np.asarray(surface[rows, cols], dtype=np.float64)
    if max_distance is not None:
        filled[distance > max_distance] = np.nan
    return filled


def data_box(data: BoolArray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the bounding box of the ``data`` cells, grown by ``margin`` cells.

    Clipped to the array; the whole array when it holds no data.
    """
    rows = np.flatnonzero(data.any(axis=1))
    if not rows.size:
        return slice(0, data.shape[0]), slice(0, data.shape[1])
    cols = np.flatnonzero(data.any(axis=0))
    return (
        slice(max(0, int(rows[0]) - margin), min(data.shape[0], int(rows[-1]) + margin + 1)),
        slice(max(0, int(cols[0]) - margin), min(data.shape[1], int(cols[-1]) + margin + 1)),
    )


def inpaint(surface: FloatArray, *, reach: float, sweeps: int) -> FloatArray:
    """Fill NaN cells within ``reach`` cells of data smoothly and locally.

    Notes
    -----
    Missing cells within ``reach`` cells of a known cell start from their
    nearest known value (:func:`fill_nearest`) and are relaxed by ``sweeps``
    Jacobi iterations of the Laplace equation (each takes the mean of its
    finite 4-neighbours; known cells stay fixed) — the membrane fill of
    ``inpaint_nans`` that Pingel et al. 2013 use for SMRF, truncated so that a
    cell depends only on data within ``reach + sweeps`` cells. Small holes
    converge towards the harmonic surface (on planar ground, the plane);
    cells beyond ``reach`` stay NaN.
    """
    known = np.isfinite(surface)
    start = fill_nearest(surface, max_distance=reach)
    finite = np.isfinite(start)  # the same in every sweep: relaxed cells stay finite
    relax = np.flatnonzero(~known & finite)
    if not relax.size:
        return start
    # The 4-neighbours of each relaxed cell (flat indices); beyond the surface's edge a
    # cell is its own neighbour (edge padding). Non-finite ones count 0 and are not
    # counted. Only the relaxed cells are visited: in a survey's windows they are few.
    rows, cols = start.shape
    r, c = np.divmod(relax, cols)
    neighbours = (
        np.where(r > 0, relax - cols, relax),  # up
        np.where(r < rows - 1, relax + cols, relax),  # down
        np.where(c > 0, relax - 1, relax),  # left
        np.where(c < cols - 1, relax + 1, relax),  # right
    )
    flat_finite = finite.ravel()
    count = flat_finite[neighbours[0]].astype(np.int64)
    for k in neighbours[1:]:
        count += flat_finite[k]
    update = count > 0
    cells, divisor = relax[update], count[update]
    up, down, left, right = (k[update] for k in neighbours)
    work = np.where(finite, start, 0.0).ravel()
    for _ in range(sweeps):
        # Jacobi: every mean from the last sweep; the sum in the order up, down, left, right.
        total = work[up] + work[down]
        total += work[left]
        total += work[right]
        work[cells] = total / divisor
    filled = work.reshape(start.shape)
    filled[~finite] = np.nan
    return filled


def open_square(surface: AnyFloatArray, radius: int) -> AnyFloatArray:
    """Grey opening (erosion then dilation) with a (2r+1)×(2r+1) square window."""
    size = 2 * radius + 1
    eroded = ndimage.minimum_filter(surface, size=size, mode="nearest")
    return np.asarray(ndimage.maximum_filter(eroded, size=size, mode="nearest"))


def surface_gradient(surface: FloatArray, cell: float) -> tuple[FloatArray, FloatArray]:
    """Row and column derivatives of a surface by central differences (``np.gradient``).

    A surface one cell thick along an axis (a sliver of a tile) has no slope
    along it: that derivative is 0 instead of numpy's error.
    """
    grads = [
        np.gradient(surface, cell, axis=axis)
        if surface.shape[axis] >= 2
        else np.zeros_like(surface)
        for axis in (0, 1)
    ]
    return np.asarray(grads[0], dtype=np.float64), np.asarray(grads[1], dtype=np.float64)


def bilinear_at(surface: FloatArray, rows: FloatArray, cols: FloatArray) -> FloatArray:
    """Bilinear interpolation of a cell-centred surface at fractional row/col positions.

    ``rows``/``cols`` are in cell units with 0 at the *centre* of the first
    cell; positions beyond the outer centres take the edge values (clamped).
    """
    return bilinear_many([surface], rows, cols)[0]


def bilinear_many(
    surfaces: list[FloatArray], rows: FloatArray, cols: FloatArray
) -> list[FloatArray]:
    """:func:`bilinear_at` for several surfaces of one shape, sharing the weights.

    Points are processed in blocks of 2**16 so the temporaries stay in the
    CPU cache instead of streaming through main memory.
    """
    flats = [s.ravel() for s in surfaces]
    outs = [np.empty(rows.shape[0], dtype=np.float64) for _ in surfaces]
    for start in range(0, rows.shape[0], BLOCK):
        stop = start + BLOCK
        corners, fr, fc = bilinear_corners(surfaces[0].shape, rows[start:stop], cols[start:stop])
        for flat, out in zip(flats, outs, strict=True):
            out[start:stop] = bilinear_combine([flat[i] for i in corners], fr, fc)
    return outs


def bilinear_corners(
    shape: tuple[int, ...], rows: FloatArray, cols: FloatArray
) -> tuple[list[npt.NDArray[np.int64]], FloatArray, FloatArray]:
    """The flat indices of the four cells around each position, and its fractions of a cell.

    Corners in the order (r0, c0), (r0, c0 + 1), (r0 + 1, c0), (r0 + 1, c0 + 1)
    of a ``shape`` surface (row-major), the next row or column being the same
    one at the last; positions beyond the outer centres are clamped to them
    (:func:`bilinear_at`).
    """
    h, w = shape
    r = np.clip(rows, 0.0, h - 1.0)
    c = np.clip(cols, 0.0, w - 1.0)
    r0 = np.minimum(r.astype(np.int64), max(h - 2, 0))
    c0 = np.minimum(c.astype(np.int64), max(w - 2, 0))
    i00 = r0 * w + c0
    i01 = i00 + (c0 + 1 < w)
    i10 = i00 + np.where(r0 + 1 < h, w, 0)
    i11 = i10 + (c0 + 1 < w)
    return [i00, i01, i10, i11], r - r0, c - c0


def bilinear_combine(values: list[FloatArray], fr: FloatArray, fc: FloatArray) -> FloatArray:
    """Bilinear interpolation from the values at :func:`bilinear_corners` and the fractions."""
    v00, v01, v10, v11 = values
    top = v00 * (1.0 - fc) + v01 * fc
    bottom = v10 * (1.0 - fc) + v11 * fc
    return np.asarray(top * (1.0 - fr) + bottom * fr, dtype=np.float64)


@functools.cache
def _opencv() -> ModuleType:
    """OpenCV, imported when a morphology first needs it (0.3 s, not on every command)."""
    import cv2

    # The chain's parallelism is its tile processes; OpenCV's own threads would only
    # contend with them for the cores (a filter takes milliseconds).
    cv2.setNumThreads(1)
    return cv2


def segment_filter(
    surface: AnyFloatArray, half: int, step: tuple[int, int], *, erode: bool
) -> AnyFloatArray:
    """Min (``erode``) or max over the segment {k·step : |k| ≤ ``half``} around each cell.

    Cells outside the array are ignored (as +inf for a minimum, −inf for a
    maximum). The segment is OpenCV's flat erosion (dilation) by a line
    structuring element of 2 ``half`` + 1 cells along ``step`` — exact (a min
    or max, no arithmetic), vectorised along the rows, 5–8 times as fast as
    numpy's shifted minima on SMRF's windows. The surface must hold no NaN
    (OpenCV's SIMD min and max do not propagate it as numpy's do); SMRF's
    morphology works on +inf where there is no data.
    """
    if half == 0:
        return np.array(surface, copy=True)
    dr, dc = abs(step[0]), abs(step[1])
    kernel = np.zeros((2 * half * dr + 1, 2 * half * dc + 1), dtype=np.uint8)
    k = np.arange(-half, half + 1)
    kernel[half * dr + k * step[0], half * dc + k * step[1]] = 1
    cv2 = _opencv()
    op = cv2.erode if erode else cv2.dilate
    filtered = op(
        np.ascontiguousarray(surface),
        kernel,
        borderType=cv2.BORDER_CONSTANT,
        borderValue=np.inf if erode else -np.inf,
    )
    return np.asarray(filtered, dtype=surface.dtype)


def separable_correlation(
    values: FloatArray, row_kernel: FloatArray, col_kernel: FloatArray
) -> FloatArray:
    """Σ_k Σ_l row_kernel[k] col_kernel[l] × values[r + k − a, c + l − b] at every cell (r, c).

    A correlation with the outer product of two odd-length kernels (a, b their
    half-lengths), zero beyond the edges — ``ndimage.correlate1d`` along the
    rows then the columns with ``mode="constant"`` — by OpenCV's
    ``sepFilter2D`` in float64, several times as fast on SMRF's grids. Sums of
    small integers (counts, offsets) are exact in any order, so they equal
    ndimage's to the bit.
    """
    cv2 = _opencv()
    filtered = cv2.sepFilter2D(
        np.ascontiguousarray(values, dtype=np.float64),
        cv2.CV_64F,
        np.asarray(col_kernel, dtype=np.float64),
        np.asarray(row_kernel, dtype=np.float64),
        borderType=cv2.BORDER_CONSTANT,
    )
    return np.asarray(filtered, dtype=np.float64)


def octagon_segments(radius: int) -> tuple[int, int]:
    """Half-lengths ``(a, b)`` of the axis and diagonal segments of the octagon of ``radius``.

    ``a + 2b = r`` and ``b ≈ r (1 − 1/√2)``, with ``a ≥ 1`` whenever ``b ≥ 1``
    (two diagonal segments alone span only a checkerboard).
    """
    b = round(radius * (1.0 - math.sqrt(0.5)))
    b = min(b, (radius - 1) // 2)
    return radius - 2 * b, max(b, 0)


def _morph_octagon(surface: AnyFloatArray, radius: int, *, erode: bool) -> AnyFloatArray:
    """Erosion or dilation by an octagon approximating a disk of ``radius`` cells.

    The octagon is the Minkowski sum of horizontal and vertical segments of
    half-length *a* and two diagonal segments of half-length *b*, with
    ``a + 2b = r`` (reach along the axes) and ``a + b ≈ r/√2`` (reach along the
    diagonals, in diagonal steps), i.e. *b* ≈ 0.293 r. A flat erosion by a
    Minkowski sum is the sequence of erosions by its parts, each a 1-D
    filter built by doubling (:func:`segment_filter`), so the cost grows only
    with the logarithm of the radius.
    """
    a, b = octagon_segments(radius)
    steps = [(1, 0), (0, 1)] if a > 0 else []
    halves = [a] * len(steps)
    if b > 0:
        steps += [(1, 1), (1, -1)]
        halves += [b, b]
    passes = list(zip(halves, steps, strict=True))
    if not erode:
        # The dilation adjoint to a sequence of erosions applies the parts in
        # reverse order; only then is the opening anti-extensive at the grid edges.
        passes.reverse()
    out = surface
    for half, step in passes:
        out = segment_filter(out, half, step, erode=erode)
    return np.ascontiguousarray(out)


def open_disk(
    surface: AnyFloatArray, radius: int, *, outside: npt.NDArray[np.bool_] | None = None
) -> AnyFloatArray:
    """Grey opening with an octagonal window approximating a disk of ``radius`` cells.

    With ``outside`` (cells with no value, holding +inf), the opening is taken
    over the other cells only: max over y ∈ B(c) ∖ outside of min over
    z ∈ B(y) ∖ outside of f(z) — the outside cells are +inf in the result. A
    cell's opening then does not depend on where the window ends, nor on how
    far the empty cells around the data extend.
    """
    eroded = _morph_octagon(surface, radius, erode=True)
    if outside is None:
        return _morph_octagon(eroded, radius, erode=False)
    eroded[outside] = -np.inf
    opened = _morph_octagon(eroded, radius, erode=False)
    opened[outside] = np.inf
    return opened


def _binary(mask: BoolArray, size: int, iterations: int, *, dilate: bool) -> BoolArray:
    """OpenCV's dilation or erosion of ``mask`` by a ``size`` × ``size`` square, cells beyond false.

    The anchors put the square where ``ndimage`` puts it: the centre for an
    odd size; for an even one, a dilation reflects the structure (anchor
    ``(size − 1) // 2``) and an erosion does not (``size // 2``).
    """
    if size < 1 or iterations < 1:
        raise ValueError(f"a {size}-cell square iterated {iterations} times is no morphology")
    if size % 2 == 0 and iterations > 1:
        raise ValueError("an even square is applied once: its anchor is off centre")
    if mask.size == 0:
        return np.zeros(mask.shape, dtype=bool)
    cv2 = _opencv()
    anchor = (size - 1) // 2 if dilate else size // 2
    operation = cv2.dilate if dilate else cv2.erode
    out = operation(
        np.ascontiguousarray(mask, dtype=np.uint8),
        np.ones((size, size), dtype=np.uint8),
        anchor=(anchor, anchor),
        iterations=iterations,
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.asarray(out, dtype=bool).reshape(mask.shape)


def binary_dilate(mask: BoolArray, *, size: int = 3, iterations: int = 1) -> BoolArray:
    """``ndimage.binary_dilation(mask, np.ones((size, size)), iterations)``, bit for bit.

    By OpenCV (dozens of times as fast on a tile's rasters); an even ``size``
    only once.
    """
    return _binary(mask, size, iterations, dilate=True)


def binary_erode(mask: BoolArray, *, size: int = 3, iterations: int = 1) -> BoolArray:
    """``ndimage.binary_erosion(mask, np.ones((size, size)), iterations)``, bit for bit.

    Cells beyond the edges count as false (ndimage's ``border_value=0``).
    """
    return _binary(mask, size, iterations, dilate=False)


def binary_close(mask: BoolArray, *, iterations: int = 1) -> BoolArray:
    """``ndimage.binary_closing`` by the 3 × 3 square: dilation, then erosion (beyond: false)."""
    return binary_erode(binary_dilate(mask, iterations=iterations), iterations=iterations)


def binary_open(mask: BoolArray, *, size: int) -> BoolArray:
    """``ndimage.binary_opening`` by the ``size`` × ``size`` square: erosion, then dilation."""
    return binary_dilate(binary_erode(mask, size=size), size=size)
