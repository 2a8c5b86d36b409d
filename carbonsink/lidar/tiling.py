"""Tiles of the LiDAR chain: their size, their halo windows and the points spilled to them.

The tile size follows from the point density in the file headers
(:func:`choose_tile_size`), and every tile has a halo at least as wide as the
ground filter's window (docs/design.md §4 and §6). Points are read once, in
chunks, and spilled to per-tile bucket files (:class:`Buckets`, coordinates
encoded by :class:`Codec`): each point goes to its core tile and to the
neighbours whose halo windows hold it (:func:`distribute`). A tile that turns
out crowded is processed in halves or quarters (:func:`split_tile`).
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from carbonsink.crs import transformer
from carbonsink.grid import Grid, Tile
from carbonsink.io.pointclouds import PointChunk, read_lidar_info
from carbonsink.lidar.options import LidarOptions

__all__ = [
    "SPLITS",
    "Buckets",
    "Codec",
    "choose_tile_size",
    "distribute",
    "grid_position",
    "heaviest_first",
    "load_bucket",
    "split_tile",
]


def choose_tile_size(grid: Grid, files: Sequence[Path], crs: Any, options: LidarOptions) -> int:
    """Tile edge (grid cells) so that a tile holds about ``points_per_tile`` points.

    The density is the header point count over the header extent in the grid
    CRS (metres, whatever the files' units); tiles that turn out crowded are
    split after reading (see :func:`split_tile`).
    """

    total_points = 0
    total_area = 0.0
    for path in files:
        info = read_lidar_info(path, crs=crs)
        total_points += info.point_count
        if info.crs is None:
            continue
        to_grid = transformer(info.crs, grid.crs, path=path, what="point cloud")
        xmin, ymin, xmax, ymax = to_grid.transform_bounds(*info.bounds[:4], densify_pts=21)
        total_area += max((xmax - xmin) * (ymax - ymin), 1.0)
    density = total_points / max(total_area, 1.0)
    edge_m = math.sqrt(options.points_per_tile / max(density, 1e-9))
    halo_cells = options.halo_cells(grid.resolution)
    return max(4 * halo_cells, 8, int(edge_m // grid.resolution))


def heaviest_first(
    tiles: Sequence[Tile], cell_counts: npt.NDArray[np.integer], grid: Grid
) -> list[Tile]:
    """The tiles in order of the points of their halo windows, most first (ties: as given).

    A phase's tasks are its tiles; given the heaviest first, the last to start
    is a light one, and the workers finish the phase nearly together instead
    of one waiting on a crowded tile that started last.

    Parameters
    ----------
    tiles
        The tiles.
    cell_counts
        Returns per grid cell (flat, row-major), as the read counts them.
    grid
        The analysis grid.
    """
    counts = np.asarray(cell_counts).reshape(grid.shape)

    def points(tile: Tile) -> int:
        r, c, h, w = tile.halo
        return int(counts[r : r + h, c : c + w].sum())

    return sorted(tiles, key=lambda tile: -points(tile))


# ---------------------------------------------------------------- bucketing
#: Points per block of :meth:`Codec.decode`.
DECODE_BLOCK = 1 << 16

_RECORD = np.dtype(
    [("x", "<i4"), ("y", "<i4"), ("z", "<i4"), ("classification", "u1"), ("intensity", "<u2")]
)


@dataclass(frozen=True)
class Codec:
    """Bucket coordinates as int32 steps of ``quantum`` metres from one origin.

    15 bytes a point (coordinates, class and intensity, which water
    detection needs) instead of 27 halves the bucket I/O. The origin and step
    are the same for every tile of a run, so a point decodes to the same
    coordinates in every tile that holds it (tiles agree exactly). The step
    is 0.1 mm (finer than LAS files record, 1 mm or 1 cm), coarser only for
    grids wider than 214 km.
    """

    x0: float
    y0: float
    quantum: float

    @classmethod
    def for_grid(cls, grid: Grid) -> Codec:
        """The codec of a run on ``grid``: origin at its lower-left corner."""
        xmin, ymin, xmax, ymax = grid.bounds
        extent = max(xmax - xmin, ymax - ymin, 1.0)
        return cls(xmin, ymin, max(1e-4, 1.01 * extent / 2**31))

    def encode(self, chunk: PointChunk, index: npt.NDArray[np.int64]) -> npt.NDArray[np.void]:
        """The bucket records (x, y, z steps, class, intensity) of the chunk's points ``index``."""
        records = np.empty(index.size, dtype=_RECORD)
        records["x"] = np.rint((chunk.x[index] - self.x0) / self.quantum)
        records["y"] = np.rint((chunk.y[index] - self.y0) / self.quantum)
        records["z"] = np.rint(chunk.z[index] / self.quantum)
        records["classification"] = chunk.classification[index]
        records["intensity"] = chunk.intensity[index]
        return records

    def decode(self, records: npt.NDArray[np.void]) -> PointChunk:
        """Points from bucket records (return numbers and user data are 0)."""
        n = len(records)
        u8 = np.zeros(n, dtype=np.uint8)
        x, y, z = np.empty(n), np.empty(n), np.empty(n)
        # x0 + steps × quantum (the same operations, so the same bits), in blocks whose
        # temporaries stay in the CPU cache.
        for start in range(0, n, DECODE_BLOCK):
            part = records[start : start + DECODE_BLOCK]
            stop = start + len(part)
            np.multiply(part["x"], self.quantum, out=x[start:stop])
            x[start:stop] += self.x0
            np.multiply(part["y"], self.quantum, out=y[start:stop])
            y[start:stop] += self.y0
            np.multiply(part["z"], self.quantum, out=z[start:stop])
        return PointChunk(
            x=x,
            y=y,
            z=z,
            classification=np.ascontiguousarray(records["classification"]),
            return_number=u8,
            number_of_returns=u8,
            intensity=np.ascontiguousarray(records["intensity"]),
            user_data=u8,
        )


class Buckets:
    """Per-tile point buckets: one raw binary file per tile, appended chunk by chunk.

    ``suffix`` names one part of the buckets (``<tile><suffix>.bin``): each
    read task writes its own part (:mod:`carbonsink.lidar.reading`). The
    points go to a temporary file of this writer's own (``.<name>.<token>.part``)
    and :meth:`commit` renames each onto its bucket's name, so that a read
    task run twice at once (sent again after a dropped connection while the
    first attempt still runs) leaves each part whole, never mixed.
    """

    def __init__(self, folder: Path, codec: Codec, suffix: str = "") -> None:
        self.folder = folder
        self.codec = codec
        self.suffix = suffix
        self.files: dict[str, Path] = {}
        self.counts: dict[str, int] = {}
        self._token = secrets.token_hex(6)

    def add(self, tile_id: str, chunk: PointChunk, index: npt.NDArray[np.int64]) -> None:
        """Append the chunk's points ``index`` to the bucket of tile ``tile_id``."""
        if index.size == 0:
            return
        records = self.codec.encode(chunk, index)
        path = self.files.get(tile_id)
        mode = "ab"
        if path is None:  # a bucket starts empty: a read task run again rewrites its part
            path = self.files[tile_id] = self.folder / f"{tile_id}{self.suffix}.bin"
            mode = "wb"
        with self._temporary(path).open(mode) as handle:
            # Not ndarray.tofile: its short write on a full disk is an OSError without errno
            # ENOSPC, which the run must recognise to say that the disk is full.
            handle.write(records.view(np.uint8).data)
        self.counts[tile_id] = self.counts.get(tile_id, 0) + int(index.size)

    def commit(self) -> None:
        """Give every bucket written its name (an atomic rename of its temporary file)."""
        for path in self.files.values():
            self._temporary(path).replace(path)

    def _temporary(self, path: Path) -> Path:
        return path.with_name(f".{path.name}.{self._token}.part")


#: How a crowded tile's core can be cut: across its rows, across its columns, or both.
SPLITS = ((True, False), (False, True), (True, True))


def split_tile(
    grid: Grid, tile: Tile, halo: int, *, rows: bool = True, cols: bool = True
) -> list[Tile]:
    """A tile's core cut in halves across its ``rows`` and/or its ``cols``, each part with a halo.

    Both: the (up to) four quarters; one: the two halves. An axis one cell long
    is not cut.

    Parameters
    ----------
    grid
        The analysis grid (halo windows are clipped at its edges).
    tile
        The tile to split; the parts are named ``<tile id>.<k>``, k = 0, 1, … in
        row-major order.
    halo
        Halo width (grid cells) of each part.
    rows, cols
        Whether to cut across the rows (a north and a south half) and across
        the columns (a west and an east half).
    """
    r, c, h, w = tile.core
    row_cuts = [(r, h // 2), (r + h // 2, h - h // 2)] if rows and h > 1 else [(r, h)]
    col_cuts = [(c, w // 2), (c + w // 2, w - w // 2)] if cols and w > 1 else [(c, w)]
    parts: list[Tile] = []
    for r0, hh in row_cuts:
        for c0, ww in col_cuts:
            hr0, hc0 = max(0, r0 - halo), max(0, c0 - halo)
            hr1 = min(grid.height, r0 + hh + halo)
            hc1 = min(grid.width, c0 + ww + halo)
            parts.append(
                Tile(
                    id=f"{tile.id}.{len(parts)}",
                    row=tile.row,
                    col=tile.col,
                    core=(r0, c0, hh, ww),
                    halo=(hr0, hc0, hr1 - hr0, hc1 - hc0),
                )
            )
    return parts


def load_bucket(path: Path | Sequence[Path], codec: Codec) -> PointChunk:
    """The points of a bucket file written with ``codec`` (or of its parts, in order).

    The parts are read straight into one array (no copy to join them).
    """
    paths = [path] if isinstance(path, Path) else list(path)
    sizes = [p.stat().st_size for p in paths]
    records = np.empty(sum(sizes) // _RECORD.itemsize, dtype=_RECORD)
    buffer = records.view(np.uint8)
    offset = 0
    for part, size in zip(paths, sizes, strict=True):
        with part.open("rb") as handle:
            read = handle.readinto(buffer[offset : offset + size].data)
        if size % _RECORD.itemsize or read != size:
            raise OSError(f"bucket part {part} is truncated ({size} bytes, {read} read)")
        offset += size
    return codec.decode(records)


def grid_position(
    grid: Grid, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Fractional row and column of points in the grid, for sharing them among tiles.

    A point on the grid's east or south edge (x = xmax, y = ymin) lies in no
    cell, but it is read (the read bounds are closed) and takes part in
    water detection and SMRF: it counts in the last column or row, so the
    tiles holding that column or row hold it — and every tile writing its
    SMRF or water cell has it, as in an untiled run.
    """
    t = grid.transform
    col_f = (x - t.c) / t.a
    row_f = (t.f - y) / t.a
    col_f = np.where(col_f == grid.width, np.nextafter(float(grid.width), 0.0), col_f)
    row_f = np.where(row_f == grid.height, np.nextafter(float(grid.height), 0.0), row_f)
    return row_f, col_f


@dataclass(frozen=True)
class _Layout:
    """Which tiles' halo windows hold each grid row and column.

    Tiles lie in rows and columns (:meth:`~carbonsink.grid.Grid.tiles`): every
    tile of a tile row has the same window rows, every tile of a tile column
    the same window columns, so the tiles holding cell (r, c) are the tile
    rows ``row_first[r]`` … ``+ row_span[r] − 1`` crossed with the tile
    columns ``col_first[c]`` … ``+ col_span[c] − 1``, those missing from the
    tiles skipped (memory in the grid's rows plus columns, not its cells).
    ``key[i × n_cols + j]`` is the tile (i, j)'s key, −1 when there is none;
    ``ids[key]`` its id.
    """

    row_first: npt.NDArray[np.int32]
    row_span: npt.NDArray[np.int32]
    col_first: npt.NDArray[np.int32]
    col_span: npt.NDArray[np.int32]
    n_cols: int
    key: npt.NDArray[np.int32]
    ids: tuple[str, ...]


def _spans(
    length: int, windows: dict[int, tuple[int, int]], what: str
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """First holder and span of holders of each of ``length`` positions.

    ``windows`` maps a tile row (or column) to its window ``(start, size)``;
    a tile row missing from it holds nothing. The span runs from the first
    to the last tile row holding the position (``distribute`` skips the
    missing ones between them); every tile row present in between must hold
    it too.
    """
    n = 1 + max(windows)
    held = np.zeros((n, length), dtype=bool)
    for index, (start, size) in windows.items():
        held[index, start : start + size] = True
    any_held = held.any(axis=0)
    first = np.where(any_held, held.argmax(axis=0), 0).astype(np.int32)
    last = np.where(any_held, n - 1 - held[::-1].argmax(axis=0), -1)
    span = np.where(any_held, last - first + 1, 0).astype(np.int32)
    present = np.zeros(n, dtype=bool)
    present[list(windows)] = True
    # A present tile row between the first and last holders that does not hold the position.
    tile = np.arange(n)[:, None]
    between = (tile >= first[None, :]) & (tile <= last[None, :])
    if np.any(between & present[:, None] & ~held):
        raise ValueError(f"the tiles' windows do not hold consecutive tile {what}s")
    return first, span


@functools.lru_cache(maxsize=4)
def _layout(
    height: int, width: int, tiles: tuple[tuple[int, int, str, tuple[int, ...]], ...]
) -> _Layout:
    """The layout of a grid's tiles ``(row, col, id, halo window)``, built once a process."""
    rows: dict[int, tuple[int, int]] = {}
    cols: dict[int, tuple[int, int]] = {}
    for r, c, _, (hr, hc, hh, hw) in tiles:
        if rows.setdefault(r, (hr, hh)) != (hr, hh) or cols.setdefault(c, (hc, hw)) != (hc, hw):
            raise ValueError("the tiles are not in rows and columns of equal windows")
    n_cols = 1 + max(cols)
    key = np.full((1 + max(rows)) * n_cols, -1, dtype=np.int32)
    ids: list[str] = []
    for r, c, tile_id, _ in tiles:
        key[r * n_cols + c] = len(ids)
        ids.append(tile_id)
    row_first, row_span = _spans(height, rows, "row")
    col_first, col_span = _spans(width, cols, "column")
    return _Layout(row_first, row_span, col_first, col_span, n_cols, key, tuple(ids))


def distribute(
    chunk: PointChunk, grid: Grid, tiles: dict[tuple[int, int], Tile]
) -> Iterator[tuple[str, npt.NDArray[np.int64]]]:
    """Indices of the chunk's points that fall in each tile's halo window.

    Every point goes to its core tile; points within ``halo`` cells of a core
    edge also go to the tiles whose halo windows hold them — the neighbours,
    or farther ones when the halo is wider than a tile (the halo windows are
    clipped at the grid edges, so the membership test is exact).

    Parameters
    ----------
    chunk
        Points in the grid CRS.
    grid
        The analysis grid.
    tiles
        The tiles of ``grid``, keyed by (tile row, tile column); their halo
        windows say which cells they hold.

    Raises
    ------
    ValueError
        The tiles are not in rows and columns of equal windows (as
        :meth:`~carbonsink.grid.Grid.tiles` makes them).

    Yields
    ------
    tile_id, index
        A tile's id and the sorted indices of the chunk's points in its halo window.

    Notes
    -----
    Halo windows are whole grid cells in rows and columns of tiles, so the
    tiles holding a point are the tile rows holding its cell's row crossed
    with the tile columns holding its column: two lookups a point in tables
    over the grid's rows and columns, built once a process (:class:`_Layout`).
    The (tile, index) memberships are then grouped by tile with one stable
    sort (a test per tile over every point made a 60-tile survey spend 16 s
    of its 69 s LiDAR stage here).
    """
    if not tiles or not len(chunk):
        return
    layout = _layout(
        grid.height,
        grid.width,
        tuple(sorted((r, c, t.id, tuple(t.halo)) for (r, c), t in tiles.items())),
    )
    row_f, col_f = grid_position(grid, chunk.x, chunk.y)
    on = (row_f >= 0) & (row_f < grid.height) & (col_f >= 0) & (col_f < grid.width)
    if on.all():  # the read's points: inside the grid (its bounds are the read's)
        who = np.arange(len(chunk), dtype=np.int64)
    else:
        who = np.flatnonzero(on)
        row_f, col_f = row_f[who], col_f[who]
    # Truncation is the floor: the positions are not negative.
    row, col = row_f.astype(np.int32), col_f.astype(np.int32)
    first_row, rows_holding = layout.row_first[row], layout.row_span[row]
    first_col, cols_holding = layout.col_first[col], layout.col_span[col]
    keys, members = [], []
    for di in range(int(rows_holding.max(initial=0))):
        # The points held by more than di tile rows (None: all of them) …
        by_row = None if di == 0 and rows_holding.min() > 0 else np.flatnonzero(rows_holding > di)
        for dj in range(int(cols_holding.max(initial=0))):
            # … and of these, those held by more than dj tile columns.
            if by_row is not None:
                pick: npt.NDArray[np.int64] | None = by_row[cols_holding[by_row] > dj]
            elif dj == 0 and cols_holding.min() > 0:
                pick = None
            else:
                pick = np.flatnonzero(cols_holding > dj)
            if pick is None:
                tile_row, tile_col, index = first_row, first_col, who
            else:
                tile_row, tile_col, index = first_row[pick], first_col[pick], who[pick]
            key = layout.key[(tile_row + di) * layout.n_cols + (tile_col + dj)]
            present = key >= 0
            if not present.all():
                key, index = key[present], index[present]
            keys.append(key)
            members.append(index)
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int32)
    if not all_keys.size:
        return
    everyone = np.concatenate(members)
    # Group by tile with a stable sort on the keys (a radix sort when they fit 16 bits);
    # within a tile, each (di, dj)'s indices are an ascending run, which a stable sort
    # (timsort) merges in linear time.
    order = np.argsort(
        all_keys.astype(np.uint16) if len(layout.ids) <= 2**16 else all_keys, kind="stable"
    )
    all_keys, everyone = all_keys[order], everyone[order]
    starts = np.flatnonzero(np.r_[True, all_keys[1:] != all_keys[:-1]])
    stops = np.append(starts[1:], all_keys.size)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        yield layout.ids[int(all_keys[a])], np.sort(everyone[a:b], kind="stable")
