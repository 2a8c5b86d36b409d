"""Fast raster operations shared by the LiDAR stage: binning, inpainting, morphology.

All functions work on plain numpy arrays and return new arrays.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: float32 or float64 arrays (morphology runs in float32).
AnyFloatArray = npt.NDArray[np.floating]


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


def inpaint(surface: FloatArray) -> FloatArray:
    """Fill NaN cells smoothly from their neighbours (pull-push pyramid interpolation).

    Notes
    -----
    The surface is averaged down a pyramid of 2×2 blocks (ignoring NaN) until
    every cell is known, then pulled back up: each missing cell takes the
    bilinear upsample of the coarser level, and the result is relaxed with a
    few Jacobi sweeps of the Laplace equation so that fills join their
    borders without steps (Gortler et al. 1996, *The Lumigraph*, push-pull;
    the Laplace fill is the ``inpaint_nans`` approach Pingel et al. 2013 use
    for SMRF). Known cells never change.
    """
    known = np.isfinite(surface)
    if known.all():
        return surface.copy()
    if not known.any():
        raise ValueError("cannot inpaint a surface without any known cell")
    filled = _pull_push(surface)
    missing = ~known
    # Relax the filled cells towards a harmonic (Laplace) surface.
    if missing.any():
        work = filled.copy()
        for _ in range(8):
            padded = np.pad(work, 1, mode="edge")
            avg = 0.25 * (
                padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
            )
            work = np.where(missing, avg, surface)
        filled = work
    return filled


def _pull_push(surface: FloatArray) -> FloatArray:
    if np.isfinite(surface).all() or min(surface.shape) <= 1:
        if np.isfinite(surface).all():
            return surface
        return np.where(np.isfinite(surface), surface, np.nanmean(surface))
    h, w = surface.shape
    ph, pw = h + (h % 2), w + (w % 2)
    padded = np.full((ph, pw), np.nan)
    padded[:h, :w] = surface
    blocks = padded.reshape(ph // 2, 2, pw // 2, 2)
    finite = np.isfinite(blocks)
    counts = finite.sum(axis=(1, 3))
    sums = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        coarse = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    coarse = _pull_push(coarse)
    up = _upsample2(_upsample2(coarse, axis=0), axis=1)
    fine = np.where(np.isfinite(padded), padded, up)
    return np.asarray(fine[:h, :w], dtype=np.float64)


def _upsample2(coarse: FloatArray, *, axis: int) -> FloatArray:
    """Bilinear ×2 upsampling along one axis between cell centres (edges clamped).

    Fine cell 2i lies a quarter cell before coarse centre i and fine cell 2i+1
    a quarter cell after, so their values are 0.75·c[i] + 0.25·c[i∓1].
    """
    c = np.moveaxis(coarse, axis, 0)
    prev = np.concatenate([c[:1], c[:-1]])
    nxt = np.concatenate([c[1:], c[-1:]])
    out = np.empty((2 * c.shape[0], *c.shape[1:]))
    out[0::2] = 0.75 * c + 0.25 * prev
    out[1::2] = 0.75 * c + 0.25 * nxt
    return np.moveaxis(out, 0, axis)


def open_square(surface: AnyFloatArray, radius: int) -> AnyFloatArray:
    """Grey opening (erosion then dilation) with a (2r+1)×(2r+1) square window."""
    size = 2 * radius + 1
    eroded = ndimage.minimum_filter(surface, size=size, mode="nearest")
    return np.asarray(ndimage.maximum_filter(eroded, size=size, mode="nearest"))


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
    h, w = surfaces[0].shape
    flats = [s.ravel() for s in surfaces]
    outs = [np.empty(rows.shape[0], dtype=np.float64) for _ in surfaces]
    block = 1 << 16
    for start in range(0, rows.shape[0], block):
        stop = start + block
        r = np.clip(rows[start:stop], 0.0, h - 1.0)
        c = np.clip(cols[start:stop], 0.0, w - 1.0)
        r0 = np.minimum(r.astype(np.int64), max(h - 2, 0))
        c0 = np.minimum(c.astype(np.int64), max(w - 2, 0))
        fr = r - r0
        fc = c - c0
        i00 = r0 * w + c0
        i01 = i00 + (c0 + 1 < w)
        i10 = i00 + np.where(r0 + 1 < h, w, 0)
        i11 = i10 + (c0 + 1 < w)
        for flat, out in zip(flats, outs, strict=True):
            top = flat[i00] * (1.0 - fc) + flat[i01] * fc
            bottom = flat[i10] * (1.0 - fc) + flat[i11] * fc
            out[start:stop] = top * (1.0 - fr) + bottom * fr
    return outs


def _filter_diagonal(
    surface: AnyFloatArray, size: int, *, anti: bool, erode: bool
) -> AnyFloatArray:
    """1-D min/max filter of ``size`` cells along a diagonal.

    Row *i* is shifted right by *i* with a reshape of a padded copy (no
    fancy indexing), which turns anti-diagonals into columns; the main
    diagonal is handled by mirroring left-right first.
    """
    fill = np.inf if erode else -np.inf
    work = surface if anti else surface[:, ::-1]
    h, w = work.shape
    padded = np.full((h, w + h), fill, dtype=surface.dtype)
    padded[:, :w] = work
    skewed = padded.ravel()[: h * (w + h - 1)].reshape(h, w + h - 1)
    func = ndimage.minimum_filter1d if erode else ndimage.maximum_filter1d
    filtered = func(skewed, size=size, axis=0, mode="constant", cval=fill)
    flat = np.concatenate([filtered.ravel(), np.full(h, fill, dtype=surface.dtype)])
    unskewed = flat[: h * (w + h)].reshape(h, w + h)[:, :w]
    return unskewed if anti else unskewed[:, ::-1]


def _morph_octagon(surface: AnyFloatArray, radius: int, *, erode: bool) -> AnyFloatArray:
    """Erosion or dilation by an octagon approximating a disk of ``radius`` cells.

    The octagon is the Minkowski sum of horizontal and vertical segments of
    half-length *a* and two diagonal segments of half-length *b*, with
    ``a + 2b = r`` (reach along the axes) and ``a + b ≈ r/√2`` (reach along the
    diagonals, in diagonal steps), i.e. *b* ≈ 0.293 r. A flat erosion by a
    Minkowski sum is the sequence of erosions by its parts, each an O(n)
    van Herk/Gil-Werman 1-D filter, so the cost does not grow with the radius.
    """
    b = round(radius * (1.0 - math.sqrt(0.5)))
    a = radius - 2 * b
    func = ndimage.minimum_filter1d if erode else ndimage.maximum_filter1d
    out = surface
    if a > 0:
        out = func(out, size=2 * a + 1, axis=0, mode="nearest")
        out = func(out, size=2 * a + 1, axis=1, mode="nearest")
    if b > 0:
        out = _filter_diagonal(out, 2 * b + 1, anti=False, erode=erode)
        out = _filter_diagonal(out, 2 * b + 1, anti=True, erode=erode)
    return np.ascontiguousarray(out)


def open_disk(surface: AnyFloatArray, radius: int) -> AnyFloatArray:
    """Grey opening with an octagonal window approximating a disk of ``radius`` cells."""
    eroded = _morph_octagon(surface, radius, erode=True)
    return _morph_octagon(eroded, radius, erode=False)
