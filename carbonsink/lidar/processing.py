"""The LiDAR chain, tiled and streamed: points -> ground -> DTM -> heights -> CHM -> metrics.

Points are read once, in chunks, and spilled to per-tile bucket files (each
tile with a halo at least as wide as the ground filter's window, docs/design.md §4
and §6). Each tile is then processed on its own — in this process, in a pool,
or on a Dask cluster — and its results are cropped to the tile core and
written into the grid-wide outputs, so memory depends on the tile size, not
on the file, and the merged result has no seams.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from affine import Affine

from carbonsink.errors import CRSError, InputError
from carbonsink.grid import Grid, Tile
from carbonsink.io.pointclouds import PointChunk, iter_points, read_lidar_info
from carbonsink.io.writers import WindowedCOGWriter
from carbonsink.lidar.ground import (
    SMRFParameters,
    WaterParameters,
    detect_water,
    land_reference_density,
    smrf,
)
from carbonsink.lidar.metrics import MetricsSpec, area_metrics, metrics_for
from carbonsink.lidar.surfaces import (
    DTM_FILL_REACH,
    DTM_FILL_SWEEPS,
    Raster,
    canopy_height_model,
    height_above_ground,
    terrain_model,
)

__all__ = [
    "LidarOptions",
    "LidarResult",
    "TileQA",
    "grid_for_files",
    "process_lidar",
    "process_tile_points",
]

logger = logging.getLogger(__name__)

#: ASPRS classes: 2 ground, 7 low noise, 9 water, 18 high noise.
GROUND, LOW_NOISE, WATER, HIGH_NOISE = 2, 7, 9, 18

ProgressCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class LidarOptions:
    """Settings of the LiDAR chain.

    Attributes
    ----------
    ground
        ``"classify"`` runs SMRF; ``"trust"`` uses the files' class 2 as ground.
    smrf
        Ground filter parameters (PDAL defaults).
    water
        Water detection for unclassified clouds; ``None`` disables it (class 9
        is always water).
    dtm_cell, chm_cell
        Cell sizes (m) of the DTM and the CHM; they must divide the grid resolution.
    pit_free
        Apply the pit filter to the CHM.
    metrics
        Percentiles and cover thresholds of the area-based metrics.
    points_per_tile
        Target number of points per tile; the tile size follows from the
        point density in the file headers.
    chunk_size
        Points decoded per read step.
    """

    ground: Literal["classify", "trust"] = "classify"
    smrf: SMRFParameters = field(default_factory=SMRFParameters)
    water: WaterParameters | None = field(default_factory=WaterParameters)
    dtm_cell: float = 1.0
    chm_cell: float = 0.5
    pit_free: bool = False
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    points_per_tile: int = 2_000_000
    chunk_size: int = 1_000_000

    def halo_m(self) -> float:
        """Halo width (m) every tile needs for its core to match an untiled run.

        A point's ground class depends on data within
        :meth:`SMRFParameters.reach_m` (about twice the window), and a DTM
        cell on ground within the DTM fill's reach and sweeps plus one cell
        (:data:`~carbonsink.lidar.surfaces.DTM_FILL_REACH`).
        """
        return self.smrf.reach_m() + (DTM_FILL_REACH + DTM_FILL_SWEEPS + 1) * self.dtm_cell


@dataclass(frozen=True)
class TileQA:
    """Quality figures of one tile."""

    tile: str
    points: int
    ground_fraction: float
    water_fraction: float
    dtm_gap_fraction: float
    seconds: float


@dataclass
class LidarResult:
    """Outputs of :func:`process_lidar`.

    Attributes
    ----------
    metrics
        Area-based metrics on the analysis grid (units in attributes).
    dtm, chm
        Grid-wide terrain model and canopy height model at their own cell
        sizes, as DataArrays with the analysis CRS — or ``None`` when they
        were streamed to ``dtm_path``/``chm_path`` instead.
    qa
        One row per tile (points, ground and water fractions, DTM gaps, time).
    dtm_path, chm_path
        The Cloud-Optimized GeoTIFFs written, if any.
    """

    metrics: xr.Dataset
    dtm: xr.DataArray | None
    chm: xr.DataArray | None
    qa: pd.DataFrame
    dtm_path: Path | None = None
    chm_path: Path | None = None


@dataclass(frozen=True)
class _TileResult:
    tile: Tile
    metrics: dict[str, npt.NDArray[np.float64]]
    dtm: npt.NDArray[np.float32]
    chm: npt.NDArray[np.float32]
    qa: TileQA


def _check_nesting(grid: Grid, options: LidarOptions) -> None:
    for name, cell in (("dtm_cell", options.dtm_cell), ("chm_cell", options.chm_cell)):
        if not cell > 0:
            raise InputError(
                f"{name} {cell:g} m is not a positive cell size",
                fix=f"give a {name} that divides the grid resolution, e.g. 1.0 or 0.5 m",
            )
        ratio = grid.resolution / cell
        if abs(ratio - round(ratio)) > 1e-9:
            raise InputError(
                f"{name} {cell:g} m does not divide the grid resolution {grid.resolution:g} m",
                fix=f"choose a {name} such as {grid.resolution / math.ceil(ratio):g} m",
            )


def process_tile_points(
    points: PointChunk,
    *,
    window: Grid,
    options: LidarOptions,
    reference_density: float | None = None,
) -> tuple[dict[str, npt.NDArray[np.float64]], Raster, Raster, dict[str, float]]:
    """Run the chain on the points of one tile window (halo included).

    Parameters
    ----------
    points
        The tile's points in the grid CRS (metres).
    window
        The tile's halo window of the analysis grid.
    options
        Chain settings.
    reference_density
        Return density of land (m⁻²) for water detection; the same for every
        tile of a run (see :func:`~carbonsink.lidar.ground.detect_water`).

    Returns
    -------
    metrics, dtm, chm, qa
        Metric layers on ``window``, the DTM and CHM rasters covering it, and
        QA figures.
    """
    x, y, z = points.x, points.y, points.z
    cls = points.classification
    noise = (cls == LOW_NOISE) | (cls == HIGH_NOISE)
    water = cls == WATER
    if options.ground == "trust":
        ground = cls == GROUND
    else:
        unclassified = ~np.isin(cls, [GROUND, WATER, 3, 4, 5, 6])
        if options.water is not None and unclassified.any() and len(x) > 0:
            detected = np.zeros(len(x), dtype=bool)
            idx = np.nonzero(unclassified & ~noise)[0]
            detected[idx] = detect_water(
                x[idx], y[idx], z[idx], reference_density=reference_density, params=options.water
            )
            water |= detected
        eligible = ~water & ~noise
        ground = (
            smrf(x, y, z, params=options.smrf, eligible=eligible).ground
            if len(x)
            else (np.zeros(0, dtype=bool))
        )
    bounds = window.bounds
    support = _support(x[~noise], y[~noise], bounds, options.dtm_cell)
    dtm, filled = terrain_model(
        x[ground], y[ground], z[ground], bounds=bounds, cell=options.dtm_cell, support=support
    )
    keep = ~noise
    heights = height_above_ground(x[keep], y[keep], z[keep], dtm)
    veg = ~water[keep]
    chm = canopy_height_model(
        x[keep][veg],
        y[keep][veg],
        heights[veg],
        bounds=bounds,
        cell=options.chm_cell,
        pit_free=options.pit_free,
    )
    metrics = area_metrics(
        x[keep],
        y[keep],
        heights,
        ground=ground[keep],
        water=water[keep],
        dtm=dtm,
        x0=bounds[0],
        y1=bounds[3],
        cell=window.resolution,
        shape=window.shape,
        spec=options.metrics,
    )
    n = max(len(x), 1)
    qa = {
        "points": float(len(x)),
        "ground_fraction": float(ground.sum() / n),
        "water_fraction": float(water.sum() / n),
        "dtm_gap_fraction": float(filled.sum() / max(support.sum(), 1)),
    }
    return metrics, dtm, chm, qa


def _support(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    bounds: tuple[float, float, float, float],
    cell: float,
) -> npt.NDArray[np.bool_]:
    """DTM cells the LiDAR covers: cells holding a return, small holes closed, grown by 1."""
    from scipy import ndimage

    xmin, ymin, xmax, ymax = bounds
    cols = max(1, round((xmax - xmin) / cell))
    rows = max(1, round((ymax - ymin) / cell))
    c = np.floor((x - xmin) / cell).astype(np.int64)
    r = np.floor((ymax - y) / cell).astype(np.int64)
    ok = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
    hit = np.zeros(rows * cols, dtype=bool)
    hit[r[ok] * cols + c[ok]] = True
    grid = hit.reshape(rows, cols)
    closed = ndimage.binary_closing(grid, structure=np.ones((3, 3), bool), iterations=2)
    square = np.ones((3, 3), dtype=bool)  # diagonal neighbours too: bilinear reads them
    return np.asarray(ndimage.binary_dilation(grid | closed, structure=square), dtype=bool)


# ---------------------------------------------------------------- bucketing
_RECORD = np.dtype([("x", "<i4"), ("y", "<i4"), ("z", "<i4"), ("classification", "u1")])


@dataclass(frozen=True)
class _Codec:
    """Bucket coordinates as int32 steps of ``quantum`` metres from one origin.

    13 bytes a point instead of 25 halves the bucket I/O. The origin and step
    are the same for every tile of a run, so a point decodes to the same
    coordinates in every tile that holds it (tiles agree exactly). The step
    is 0.1 mm (finer than LAS files record, 1 mm or 1 cm), coarser only for
    grids wider than 214 km.
    """

    x0: float
    y0: float
    quantum: float

    @classmethod
    def for_grid(cls, grid: Grid) -> _Codec:
        xmin, ymin, xmax, ymax = grid.bounds
        extent = max(xmax - xmin, ymax - ymin, 1.0)
        return cls(xmin, ymin, max(1e-4, 1.01 * extent / 2**31))

    def encode(self, chunk: PointChunk, index: npt.NDArray[np.int64]) -> npt.NDArray[np.void]:
        records = np.empty(index.size, dtype=_RECORD)
        records["x"] = np.rint((chunk.x[index] - self.x0) / self.quantum)
        records["y"] = np.rint((chunk.y[index] - self.y0) / self.quantum)
        records["z"] = np.rint(chunk.z[index] / self.quantum)
        records["classification"] = chunk.classification[index]
        return records

    def decode(self, records: npt.NDArray[np.void]) -> PointChunk:
        n = len(records)
        u8 = np.zeros(n, dtype=np.uint8)
        return PointChunk(
            x=self.x0 + records["x"] * self.quantum,
            y=self.y0 + records["y"] * self.quantum,
            z=records["z"] * self.quantum,
            classification=np.ascontiguousarray(records["classification"]),
            return_number=u8,
            number_of_returns=u8,
            intensity=np.zeros(n, dtype=np.uint16),
            user_data=u8,
        )


class _Buckets:
    """Per-tile point buckets: one raw binary file per tile, appended chunk by chunk."""

    def __init__(self, folder: Path, codec: _Codec) -> None:
        self.folder = folder
        self.codec = codec
        self.files: dict[str, Path] = {}
        self.counts: dict[str, int] = {}

    def add(self, tile_id: str, chunk: PointChunk, index: npt.NDArray[np.int64]) -> None:
        if index.size == 0:
            return
        records = self.codec.encode(chunk, index)
        path = self.files.setdefault(tile_id, self.folder / f"{tile_id}.bin")
        with path.open("ab") as handle:
            records.tofile(handle)
        self.counts[tile_id] = self.counts.get(tile_id, 0) + int(index.size)


def _split_tile(grid: Grid, tile: Tile, halo: int) -> list[Tile]:
    """The (up to) four quarters of a tile's core, each with its own halo."""
    r, c, h, w = tile.core
    rows = [(r, h // 2), (r + h // 2, h - h // 2)] if h > 1 else [(r, h)]
    cols = [(c, w // 2), (c + w // 2, w - w // 2)] if w > 1 else [(c, w)]
    parts = []
    for i, (r0, hh) in enumerate(rows):
        for j, (c0, ww) in enumerate(cols):
            hr0, hc0 = max(0, r0 - halo), max(0, c0 - halo)
            hr1 = min(grid.height, r0 + hh + halo)
            hc1 = min(grid.width, c0 + ww + halo)
            parts.append(
                Tile(
                    id=f"{tile.id}.{2 * i + j}",
                    row=tile.row,
                    col=tile.col,
                    core=(r0, c0, hh, ww),
                    halo=(hr0, hc0, hr1 - hr0, hc1 - hc0),
                )
            )
    return parts


def _load_bucket(path: Path, codec: _Codec) -> PointChunk:
    return codec.decode(np.fromfile(path, dtype=_RECORD))


def _distribute(
    chunk: PointChunk,
    grid: Grid,
    tiles: dict[tuple[int, int], Tile],
    size: int,
    halo: int,
) -> Iterator[tuple[str, npt.NDArray[np.int64]]]:
    """Indices of the chunk's points that fall in each tile's halo window.

    Every point goes to its core tile; points within ``halo`` cells of a core
    edge also go to the neighbouring tiles (the halo windows are clipped at
    the grid edges, so the membership test is exact).
    """
    t = grid.transform
    col_f = (chunk.x - t.c) / t.a
    row_f = (t.f - chunk.y) / t.a
    tile_col = np.floor(col_f / size).astype(np.int64)
    tile_row = np.floor(row_f / size).astype(np.int64)
    in_c = col_f - tile_col * size
    in_r = row_f - tile_row * size
    near = (in_r < halo) | (in_r >= size - halo) | (in_c < halo) | (in_c >= size - halo)
    edge = np.flatnonzero(near)
    offsets = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    for (tr, tc), tile in tiles.items():
        hr, hc, hh, hw = tile.halo
        # Core members: cheap test on the integer tile indices.
        members = [np.flatnonzero((tile_row == tr) & (tile_col == tc))]
        if edge.size:
            er, ec = tile_row[edge], tile_col[edge]
            candidate = np.zeros(edge.size, dtype=bool)
            for dr, dc in offsets:
                if (dr, dc) != (0, 0):
                    candidate |= (er == tr - dr) & (ec == tc - dc)
            idx = edge[candidate]
            pr, pc = row_f[idx], col_f[idx]
            ok = (pr >= hr) & (pr < hr + hh) & (pc >= hc) & (pc < hc + hw)
            members.append(idx[ok])
        index = np.sort(np.concatenate(members))
        if index.size:
            yield tile.id, index


def _files_crs(path: str | Path, file_crs: Any) -> Any:
    """The CRS of a point cloud, if it is projected in metres (else the UTM zone to use)."""
    from pyproj import Transformer

    from carbonsink.crs import crs_plausibility_problem, require_projected_crs

    info = read_lidar_info(path, crs=file_crs)
    name = Path(path).name
    if info.crs is None:
        raise CRSError(
            "the point cloud has no CRS",
            path=path,
            fix="give the files' CRS with --file-crs, and the output CRS with --crs",
        )
    implausible = crs_plausibility_problem(info.crs, info.bounds[:4])
    if implausible:
        raise CRSError(
            implausible,
            path=path,
            fix="give the files' true CRS with --file-crs and the output CRS with --crs",
        )
    to_lonlat = Transformer.from_crs(info.crs, "EPSG:4326", always_xy=True)
    centre = to_lonlat.transform(
        (info.bounds[0] + info.bounds[2]) / 2, (info.bounds[1] + info.bounds[3]) / 2
    )
    return require_projected_crs(info.crs, what=f"the CRS of {name}", lonlat_hint=centre)


def grid_for_files(
    files: Sequence[str | Path], *, crs: Any, resolution: float, file_crs: Any = None
) -> Grid:
    """The analysis grid covering the extent of some LAS/LAZ files in ``crs``.

    Parameters
    ----------
    files
        Point-cloud files.
    crs
        Projected analysis CRS (metres); ``None``: the first file's own CRS,
        which must then be projected in metres.
    resolution
        Cell size (m).
    file_crs
        The files' CRS when their headers lack it or are wrong.

    Raises
    ------
    CRSError
        A file has no CRS, an implausible one, or (with ``crs=None``) one
        that is not in metres: the message names the UTM zone to use.
    InputError
        No files.
    """
    from pyproj import Transformer

    from carbonsink.crs import require_projected_crs

    if not files:
        raise InputError("no point-cloud files were given", fix="pass at least one LAS/LAZ file")
    target = _files_crs(files[0], file_crs) if crs is None else require_projected_crs(crs)
    xmin = ymin = math.inf
    xmax = ymax = -math.inf
    for path in files:
        info = read_lidar_info(path, crs=file_crs)
        if info.crs is None:
            raise InputError(
                "the point cloud has no CRS",
                path=path,
                fix="give the files' CRS (e.g. --file-crs EPSG:4547)",
            )
        transformer = Transformer.from_crs(info.crs, target, always_xy=True)
        b = transformer.transform_bounds(*info.bounds[:4], densify_pts=21)
        xmin, ymin = min(xmin, b[0]), min(ymin, b[1])
        xmax, ymax = max(xmax, b[2]), max(ymax, b[3])
    return Grid.from_bounds((xmin, ymin, xmax, ymax), crs=target, resolution=resolution)


def _extent_text(path: Path, crs: Any, grid: Grid) -> str:
    """A file's extent in the grid CRS, for messages."""
    from pyproj import Transformer

    info = read_lidar_info(path, crs=crs)
    if info.crs is None:
        return "no CRS"
    transformer = Transformer.from_crs(info.crs, grid.crs, always_xy=True)
    bounds = transformer.transform_bounds(*info.bounds[:4], densify_pts=21)
    return f"extent {tuple(round(v) for v in bounds)}"


def choose_tile_size(grid: Grid, files: Sequence[Path], crs: Any, options: LidarOptions) -> int:
    """Tile edge (grid cells) so that a tile holds about ``points_per_tile`` points.

    The density is the header point count over the header extent in the grid
    CRS (metres, whatever the files' units); tiles that turn out crowded are
    split after reading (see ``_split_oversized``).
    """
    from pyproj import Transformer

    total_points = 0
    total_area = 0.0
    for path in files:
        info = read_lidar_info(path, crs=crs)
        total_points += info.point_count
        if info.crs is None:
            continue
        transformer = Transformer.from_crs(info.crs, grid.crs, always_xy=True)
        xmin, ymin, xmax, ymax = transformer.transform_bounds(*info.bounds[:4], densify_pts=21)
        total_area += max((xmax - xmin) * (ymax - ymin), 1.0)
    density = total_points / max(total_area, 1.0)
    edge_m = math.sqrt(options.points_per_tile / max(density, 1e-9))
    halo_cells = math.ceil(options.halo_m() / grid.resolution)
    return max(4 * halo_cells, 8, int(edge_m // grid.resolution))


def process_lidar(
    files: Iterable[str | Path],
    grid: Grid,
    *,
    crs: Any = None,
    options: LidarOptions | None = None,
    tile_size: int | None = None,
    executor: Executor | None = None,
    workdir: str | Path | None = None,
    dtm_path: str | Path | None = None,
    chm_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> LidarResult:
    """Run the whole LiDAR chain for some files on the analysis grid.

    Parameters
    ----------
    files
        LAS/LAZ files (tiles of one survey epoch).
    grid
        The analysis grid; metrics are computed on it.
    crs
        The survey's CRS for the files (overrides or completes their headers).
    options
        Chain settings (defaults: SMRF with PDAL's defaults, 1 m DTM, 0.5 m CHM).
    tile_size
        Tile edge in grid cells; chosen from the point density when omitted.
    executor
        A :class:`concurrent.futures.Executor` (process or thread pool, or a
        Dask client's ``get_executor()``) to run tiles in parallel; results
        are identical to a serial run. Tile jobs read their points from
        bucket files in ``workdir``: on a cluster of several machines give a
        ``workdir`` on a file system every worker can read.
    workdir
        Folder for the temporary point buckets (default: a system temp folder).
    dtm_path, chm_path
        Write the DTM / CHM tile by tile to these Cloud-Optimized GeoTIFFs
        instead of keeping them in memory (memory then stays bounded by the
        tile size, whatever the area).
    progress
        Called with ``(stage, fraction)``.

    Returns
    -------
    LidarResult
        Metrics on the grid, DTM, CHM and per-tile QA.
    """
    options = options or LidarOptions()
    _check_nesting(grid, options)
    paths = [Path(f) for f in files]
    if not paths:
        raise InputError("no point-cloud files were given", fix="pass at least one LAS/LAZ file")
    report = progress or (lambda _stage, _fraction: None)
    size = tile_size or choose_tile_size(grid, paths, crs, options)
    halo = math.ceil(options.halo_m() / grid.resolution)
    tiles = {(t.row, t.col): t for t in grid.tiles(size=size, halo=halo)}
    read_bounds = grid.bounds

    cell_counts = np.zeros(grid.width * grid.height, dtype=np.int64)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="carbonsink-lidar-") as tmp:
        buckets = _Buckets(Path(tmp), _Codec.for_grid(grid))
        for i, path in enumerate(paths):
            before = int(cell_counts.sum())

            def on_read(done: int, total: int, i: int = i) -> None:
                report("reading points", (i + done / max(total, 1)) / len(paths) * 0.4)

            for chunk in iter_points(
                path,
                target_crs=grid.crs,
                bounds=read_bounds,
                crs=crs,
                chunk_size=options.chunk_size,
                progress=on_read,
            ):
                row, col = grid.index(chunk.x, chunk.y)
                ok = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
                cell_counts += np.bincount(
                    row[ok] * grid.width + col[ok], minlength=cell_counts.size
                )
                for tile_id, index in _distribute(chunk, grid, tiles, size, halo):
                    buckets.add(tile_id, chunk, index)
            if int(cell_counts.sum()) == before:
                logger.warning("%s: no point falls inside the analysis grid %s", path, grid)
        report("reading points", 0.4)
        if not cell_counts.any():
            extents = "; ".join(f"{p.name}: {_extent_text(p, crs, grid)}" for p in paths)
            raise InputError(
                f"none of the {len(paths)} point-cloud file(s) has a point inside the analysis "
                f"grid {tuple(round(v) for v in grid.bounds)} ({grid.crs.to_string()}): "
                f"{extents}",
                path=paths[0] if len(paths) == 1 else None,
                fix="check that these are the survey's files and that their CRS is right "
                "(a wrong or missing CRS puts them elsewhere)",
            )
        # One land density for every tile, so that water detection agrees across tiles.
        reference = land_reference_density(cell_counts, grid.resolution**2)

        jobs = [t for t in tiles.values() if t.id in buckets.files]
        merger = _Merger(grid, options, dtm_path=dtm_path, chm_path=chm_path)
        try:
            results = _run_tiles(jobs, grid, buckets, options, executor, reference, halo)
            total_cells = sum(t.core[2] * t.core[3] for t in jobs)
            done_cells = 0
            for result in results:
                merger.add(result)
                done_cells += result.tile.core[2] * result.tile.core[3]
                report("processing tiles", 0.4 + 0.55 * done_cells / max(total_cells, 1))
        except BaseException:
            merger.abort()
            raise
        return merger.finish()


def _tile_job(
    tile: Tile,
    grid: Grid,
    bucket: Path,
    codec: _Codec,
    options: LidarOptions,
    reference_density: float | None,
    halo: int,
) -> list[_TileResult]:
    """Process one tile's bucket; a crowded tile is processed in quarters."""
    points = _load_bucket(bucket, codec)
    return list(_process_tile(points, tile, grid, options, reference_density, halo))


def _process_tile(
    points: PointChunk,
    tile: Tile,
    grid: Grid,
    options: LidarOptions,
    reference_density: float | None,
    halo: int,
) -> Iterator[_TileResult]:
    """Results for a tile, quartering it (recursively) while it is crowded.

    Tile sizes come from the header's point density, which underestimates the
    density of a cloud covering only part of its bounding box (a rotated
    flight strip); processing crowded tiles in quarters keeps memory near the
    ``points_per_tile`` target. Each quarter takes the points of its own halo
    window from the parent's (core plus halo, a superset), so the results do
    not depend on the split.
    """
    limit = int(1.5 * options.points_per_tile)
    if len(points) > limit and (tile.core[2] > 1 or tile.core[3] > 1):
        t = grid.transform
        col_f = (points.x - t.c) / t.a
        row_f = (t.f - points.y) / t.a
        for part in _split_tile(grid, tile, halo):
            hr, hc, hh, hw = part.halo
            inside = (row_f >= hr) & (row_f < hr + hh) & (col_f >= hc) & (col_f < hc + hw)
            if inside.any():
                yield from _process_tile(
                    points.select(inside), part, grid, options, reference_density, halo
                )
        return
    start = time.perf_counter()
    window = grid.tile_grid(tile, with_halo=True)
    metrics, dtm, chm, qa = process_tile_points(
        points, window=window, options=options, reference_density=reference_density
    )
    rs, cs = tile.crop
    cropped = {name: layer[rs, cs] for name, layer in metrics.items()}
    f_dtm = round(grid.resolution / options.dtm_cell)
    f_chm = round(grid.resolution / options.chm_cell)
    dtm_core = dtm.values[rs.start * f_dtm : rs.stop * f_dtm, cs.start * f_dtm : cs.stop * f_dtm]
    chm_core = chm.values[rs.start * f_chm : rs.stop * f_chm, cs.start * f_chm : cs.stop * f_chm]
    yield _TileResult(
        tile=tile,
        metrics=cropped,
        dtm=dtm_core.astype(np.float32),
        chm=chm_core.astype(np.float32),
        qa=TileQA(
            tile=tile.id,
            points=int(qa["points"]),
            ground_fraction=qa["ground_fraction"],
            water_fraction=qa["water_fraction"],
            dtm_gap_fraction=qa["dtm_gap_fraction"],
            seconds=time.perf_counter() - start,
        ),
    )


def _run_tiles(
    jobs: list[Tile],
    grid: Grid,
    buckets: _Buckets,
    options: LidarOptions,
    executor: Executor | None,
    reference_density: float | None,
    halo: int,
) -> Iterator[_TileResult]:
    """Tile results in job order (serial, or from the executor as they finish)."""
    if executor is None or len(jobs) <= 1:  # one tile: no pool start-up to pay
        for tile in jobs:
            yield from _tile_job(
                tile, grid, buckets.files[tile.id], buckets.codec, options, reference_density, halo
            )
        return
    futures = [
        executor.submit(
            _tile_job,
            tile,
            grid,
            buckets.files[tile.id],
            buckets.codec,
            options,
            reference_density,
            halo,
        )
        for tile in jobs
    ]
    for future in futures:
        yield from future.result()


class _Merger:
    """Places tile cores into the grid-wide outputs as tile results arrive."""

    def __init__(
        self,
        grid: Grid,
        options: LidarOptions,
        *,
        dtm_path: str | Path | None,
        chm_path: str | Path | None,
    ) -> None:
        self.grid = grid
        self.options = options
        self.layers: dict[str, npt.NDArray[np.float32]] = {}
        self.qa: list[TileQA] = []
        self.f_dtm = round(grid.resolution / options.dtm_cell)
        self.f_chm = round(grid.resolution / options.chm_cell)
        self.surfaces: dict[str, npt.NDArray[np.float32] | WindowedCOGWriter] = {}
        for name, path, factor, long_name in (
            ("dtm", dtm_path, self.f_dtm, "terrain elevation (DTM)"),
            (
                "chm",
                chm_path,
                self.f_chm,
                "canopy height model (binned maximum height above ground)",
            ),
        ):
            shape = (grid.height * factor, grid.width * factor)
            if path is None:
                self.surfaces[name] = np.full(shape, np.nan, dtype=np.float32)
            else:
                cell = grid.resolution / factor
                t = grid.transform
                self.surfaces[name] = WindowedCOGWriter(
                    path,
                    width=shape[1],
                    height=shape[0],
                    transform=Affine(cell, 0.0, t.c, 0.0, -cell, t.f),
                    crs=grid.crs.to_wkt(),
                    tags={"units": "m", "long_name": long_name},
                )

    def add(self, result: _TileResult) -> None:
        rs, cs = result.tile.core_slices
        for name, layer in result.metrics.items():
            target = self.layers.setdefault(name, np.full(self.grid.shape, np.nan, np.float32))
            target[rs, cs] = layer
        for name, block, factor in (
            ("dtm", result.dtm, self.f_dtm),
            ("chm", result.chm, self.f_chm),
        ):
            surface = self.surfaces[name]
            if isinstance(surface, WindowedCOGWriter):
                surface.write(block, row_off=rs.start * factor, col_off=cs.start * factor)
            else:
                surface[
                    rs.start * factor : rs.stop * factor, cs.start * factor : cs.stop * factor
                ] = block
        self.qa.append(result.qa)

    def abort(self) -> None:
        for surface in self.surfaces.values():
            if isinstance(surface, WindowedCOGWriter):
                surface.abort()

    def finish(self) -> LidarResult:
        grid = self.grid
        if "lidar_coverage" in self.layers:
            self.layers["lidar_coverage"] = np.nan_to_num(self.layers["lidar_coverage"], nan=0.0)
        ds = grid.dataset(attrs={"title": "LiDAR area-based metrics"})
        registry = metrics_for(self.options.metrics)
        for name, values in self.layers.items():
            metric = registry[name]
            ds[name] = grid.dataarray(
                values, name=name, units=metric.units, long_name=metric.long_name
            )
        qa = pd.DataFrame([q.__dict__ for q in sorted(self.qa, key=lambda q: q.tile)])
        out: dict[str, xr.DataArray | None] = {}
        paths: dict[str, Path | None] = {}
        for name, cell, long_name in (
            ("dtm", self.options.dtm_cell, "terrain elevation (DTM)"),
            (
                "chm",
                self.options.chm_cell,
                "canopy height model (binned maximum height above ground)",
            ),
        ):
            surface = self.surfaces[name]
            if isinstance(surface, WindowedCOGWriter):
                paths[name] = surface.close()
                out[name] = None
            else:
                paths[name] = None
                out[name] = _fine_layer(grid, surface, cell, name, "m", long_name)
        return LidarResult(
            metrics=ds,
            dtm=out["dtm"],
            chm=out["chm"],
            qa=qa,
            dtm_path=paths["dtm"],
            chm_path=paths["chm"],
        )


def _fine_layer(
    grid: Grid, values: npt.NDArray[np.float32], cell: float, name: str, units: str, long_name: str
) -> xr.DataArray:
    from affine import Affine

    t = grid.transform
    fine = Grid(
        crs=grid.crs,
        transform=Affine(cell, 0.0, t.c, 0.0, -cell, t.f),
        width=values.shape[1],
        height=values.shape[0],
    )
    return fine.dataarray(values, name=name, units=units, long_name=long_name)
