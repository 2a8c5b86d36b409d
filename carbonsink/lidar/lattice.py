"""Cell lattices of the LiDAR chain's rasters, and per-tile blocks of them on disk.

Water detection and SMRF bin points on square cells aligned to multiples of
their cell size (a global *lattice*): cell (i, j) spans
``x ∈ [i·c, (i+1)·c)`` and ``y ∈ ((j−1)·c, j·c]``, as the analysis grid bins
(x west-inclusive, y north-inclusive). Because the lattice does not depend on
the window, a tile's per-cell sums, minima and counts equal an untiled run's
wherever the tile holds every point of the cell. That is what lets the chain
carry its long reach (tens of metres) in *raster* space: each tile writes the
cell statistics of its core to a :class:`BlockStore`, and a neighbour reads
the window it needs from the blocks instead of re-reading and re-processing
the points of a wide halo (docs/design.md §6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from carbonsink.io.writers import atomic_path

__all__ = ["BlockStore", "LatticeWindow", "save_whole"]

FloatArray = npt.NDArray[np.float64]

#: Points per block of the per-point passes (their temporaries fit the CPU cache).
BLOCK = 1 << 16


@dataclass(frozen=True)
class LatticeWindow:
    """A window of the lattice of ``cell`` metres: ``rows`` × ``cols`` cells.

    Attributes
    ----------
    cell
        Cell size (m).
    i0
        Lattice column of the window's first column (its west edge is ``i0 · cell``).
    j1
        Lattice row index of the window's first row (its north edge is ``j1 · cell``).
    rows, cols
        Window size in cells.
    """

    cell: float
    i0: int
    j1: int
    rows: int
    cols: int

    @property
    def x0(self) -> float:
        """West edge (m)."""
        return self.i0 * self.cell

    @property
    def y1(self) -> float:
        """North edge (m)."""
        return self.j1 * self.cell

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @classmethod
    def around(cls, x: FloatArray, y: FloatArray, cell: float) -> LatticeWindow:
        """The smallest window holding every point (at least one cell)."""
        i, j = lattice_index(x, y, cell)
        i0, j1 = int(i.min()), int(j.max())
        return cls(cell, i0, j1, int(j1 - j.min()) + 1, int(i.max() - i0) + 1)

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], cell: float) -> LatticeWindow:
        """The cells that points inside ``bounds`` can fall in.

        ``bounds`` = ``(xmin, ymin, xmax, ymax)`` with x in ``[xmin, xmax)`` and
        y in ``(ymin, ymax]``, as a grid window bins points.
        """
        xmin, ymin, xmax, ymax = bounds
        i0 = math.floor(xmin / cell)
        i1 = math.ceil(xmax / cell)  # exclusive
        j1 = math.ceil(ymax / cell)
        j0 = math.floor(ymin / cell)  # exclusive: cell j0 spans y ≤ ymin
        return cls(cell, i0, j1, max(1, j1 - j0), max(1, i1 - i0))

    def grow(self, cells: int) -> LatticeWindow:
        """The window grown by ``cells`` on every side."""
        return LatticeWindow(
            self.cell,
            self.i0 - cells,
            self.j1 + cells,
            self.rows + 2 * cells,
            self.cols + 2 * cells,
        )

    def grow_m(self, reach_m: float) -> LatticeWindow:
        """The window grown by the whole cells that ``reach_m`` metres need on every side."""
        return self.grow(math.ceil(reach_m / self.cell - 1e-9))

    def flat(
        self, x: FloatArray, y: FloatArray, *, outside: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Flat cell index of each point and whether it lies in the window.

        Computed in floating point (the lattice indices ⌊x / c⌋ and ⌈y / c⌉
        are whole numbers, exact below 2⁵³), in blocks of :data:`BLOCK`
        points whose temporaries stay in the CPU cache (twice as fast as
        whole-array passes through main memory). With ``outside`` (e.g.
        ``rows × cols``, one bin past the window's), a point outside the
        window takes that index: per-cell sums over ``rows × cols + 1`` bins
        then need no selection of the points inside, and the last bin is
        dropped.
        """
        n = len(x)
        flat = np.empty(n, dtype=np.int64)
        inside = np.empty(n, dtype=bool)
        size = min(n, BLOCK)
        col, row, test = np.empty(size), np.empty(size), np.empty(size, dtype=bool)
        for start in range(0, n, BLOCK):
            stop = min(start + BLOCK, n)
            m = stop - start
            c, r, t, ok = col[:m], row[:m], test[:m], inside[start:stop]
            np.divide(x[start:stop], self.cell, out=c)
            np.floor(c, out=c)
            c -= self.i0
            np.divide(y[start:stop], self.cell, out=r)
            np.ceil(r, out=r)
            np.subtract(self.j1, r, out=r)
            np.greater_equal(r, 0, out=ok)
            ok &= np.less(r, self.rows, out=t)
            ok &= np.greater_equal(c, 0, out=t)
            ok &= np.less(c, self.cols, out=t)
            r *= self.cols
            r += c
            if outside is not None:
                np.copyto(r, outside, where=~ok)
            flat[start:stop] = r
        return flat, inside

    def overlap(self, other: LatticeWindow) -> tuple[slice, slice, slice, slice] | None:
        """Row and column slices of this window and of ``other`` where they overlap."""
        r0 = max(0, self.j1 - other.j1)  # the first shared row, in this window
        top = max(0, other.j1 - self.j1)  # and in ``other``
        c0 = max(0, other.i0 - self.i0)
        oc0 = max(0, self.i0 - other.i0)
        rows = min(self.rows - r0, other.rows - top)
        cols = min(self.cols - c0, other.cols - oc0)
        if rows <= 0 or cols <= 0:
            return None
        return (
            slice(r0, r0 + rows),
            slice(c0, c0 + cols),
            slice(top, top + rows),
            slice(oc0, oc0 + cols),
        )


def lattice_index(
    x: FloatArray, y: FloatArray, cell: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Lattice column i = ⌊x / c⌋ and row index j = ⌈y / c⌉ of each point."""
    i = np.floor(np.asarray(x) / cell).astype(np.int64)
    j = np.ceil(np.asarray(y) / cell).astype(np.int64)
    return i, j


def save_whole(path: Path, array: npt.NDArray[np.generic]) -> None:
    """Save ``array`` as ``.npy`` under a temporary name, then rename it onto ``path``.

    A tile task run twice at once (sent again after a dropped connection) then
    leaves a whole file, never one half-written under a reader.
    """
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.save(handle, array)


class BlockStore:
    """Per-tile blocks of lattice layers, as ``.npy`` files in a folder.

    A tile saves the layers of the lattice cells its core touches
    (:meth:`save`); a job reads any window (:meth:`window`), assembled from
    the blocks that overlap it, with ``fill`` where no tile wrote. Blocks of
    neighbouring tiles may share cells (a cell astride a core edge): both hold
    the same values, since each tile holds all the cell's points.

    Parameters
    ----------
    folder
        Where the blocks are written (shared by every worker).
    name
        The layers' name (one set of blocks per name).
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name

    def _path(self, tile_id: str) -> Path:
        return self.folder / f"{self.name}-{tile_id}.npy"

    def save(self, tile_id: str, layers: FloatArray) -> None:
        """Save a tile's block: ``layers[k, row, col]`` on the tile's window."""
        save_whole(self._path(tile_id), np.ascontiguousarray(layers, dtype=np.float64))

    def window(
        self,
        window: LatticeWindow,
        blocks: Sequence[tuple[str, LatticeWindow]],
        fill: Sequence[float],
    ) -> FloatArray:
        """The layers on ``window``, from the blocks ``(tile id, block window)`` that exist.

        Returns
        -------
        numpy.ndarray
            ``(len(fill), rows, cols)``; layer k is ``fill[k]`` where no block covers a cell.
        """
        out = np.empty((len(fill), window.rows, window.cols), dtype=np.float64)
        for k, value in enumerate(fill):
            out[k] = value
        for tile_id, block in blocks:
            where = window.overlap(block)
            path = self._path(tile_id)
            if where is None or not path.exists():
                continue
            rs, cs, brs, bcs = where
            data = np.load(path, mmap_mode="r")
            out[:, rs, cs] = data[:, brs, bcs]
        return out
