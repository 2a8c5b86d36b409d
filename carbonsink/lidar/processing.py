"""The LiDAR chain, tiled and streamed: points -> ground -> DTM -> heights -> CHM -> metrics.

Points are read once, in chunks, and spilled to per-tile bucket files (each
tile with a narrow halo, :meth:`~carbonsink.lidar.options.LidarOptions.halo_cells`;
:mod:`carbonsink.lidar.tiling`), each file in an even number of equal ranges that run
as tasks (:mod:`carbonsink.lidar.reading`). The tiles then run in three batches — water
cells, water labels and SMRF cells, the chain — sharing the cell statistics
that carry water detection's and SMRF's reach (:mod:`carbonsink.lidar.phases`,
docs/methodology.md §8.7), in this process, in a pool, or on a Dask cluster
(:mod:`carbonsink.lidar.tile_chain`); their results are cropped to the
tile core and written into the grid-wide outputs
(:mod:`carbonsink.lidar.merging`), so memory depends on the tile size, not
on the file, and the merged result has no seams.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from carbonsink.crs import transformer
from carbonsink.errors import CRSError, InputError
from carbonsink.grid import Grid
from carbonsink.i18n import N_, deferred
from carbonsink.io.pointclouds import read_lidar_info, read_points
from carbonsink.io.vectors import load_water_polygons
from carbonsink.lidar.merging import LidarResult, Merger
from carbonsink.lidar.options import LidarOptions
from carbonsink.lidar.phases import TilePlan, run_phases
from carbonsink.lidar.reading import SpillPlan, land_counts, read_ranges, spill
from carbonsink.lidar.tile_chain import label_points, run_tiles
from carbonsink.lidar.tiling import Codec, choose_tile_size, heaviest_first
from carbonsink.lidar.water import (
    WaterEvidence,
    WaterReference,
    land_reference_density,
    land_reference_intensity,
)

__all__ = [
    "classify_file",
    "evidence_agreement",
    "grid_evidence",
    "grid_for_files",
    "polygon_evidence",
    "process_lidar",
    "water_reference",
    "water_summary",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]


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


def _files_crs(path: str | Path, file_crs: Any) -> Any:
    """The CRS of a point cloud, if it is projected in metres (else the UTM zone to use)."""

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
    to_lonlat = transformer(info.crs, "EPSG:4326", path=path, what="point cloud")
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
        to_target = transformer(info.crs, target, path=path, what="point cloud")
        b = to_target.transform_bounds(*info.bounds[:4], densify_pts=21)
        xmin, ymin = min(xmin, b[0]), min(ymin, b[1])
        xmax, ymax = max(xmax, b[2]), max(ymax, b[3])
    return Grid.from_bounds((xmin, ymin, xmax, ymax), crs=target, resolution=resolution)


def _extent_text(path: Path, crs: Any, grid: Grid) -> str:
    """A file's extent in the grid CRS, for messages."""
    info = read_lidar_info(path, crs=crs)
    if info.crs is None:
        return "no CRS"
    bounds = transformer(info.crs, grid.crs, path=path).transform_bounds(
        *info.bounds[:4], densify_pts=21
    )
    return f"extent {tuple(round(v) for v in bounds)}"


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
    water_evidence: WaterEvidence | None = None,
    keep_surfaces: Collection[str] = ("dtm", "chm"),
    dtm_at: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
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
        Folder for the temporary point buckets (created when missing; default:
        the system's temporary folder).
    dtm_path, chm_path
        Write the DTM / CHM tile by tile to these Cloud-Optimized GeoTIFFs
        instead of keeping them in memory (memory then stays bounded by the
        tile size, whatever the area).
    progress
        Called with ``(stage, fraction)``.
    water_evidence
        Where the survey knows water stood at the flight: there a level
        surface is water whatever its intensity
        (:func:`~carbonsink.lidar.water.detect_water`); the LiDAR's water is
        compared with it in :attr:`LidarResult.water`.
    keep_surfaces
        The surfaces (``"dtm"``, ``"chm"``) kept in memory when no path is
        given; the others are not kept (:attr:`LidarResult.dtm` is then ``None``).
    dtm_at
        Points ``(x, y)`` (the grid's CRS, m) at which the DTM is sampled
        bilinearly as its tiles are merged (:attr:`LidarResult.dtm_at`, equal
        to sampling the whole DTM), kept or not: checkpoints need no DTM of
        the whole survey in memory (1.2 GB at 1 m for 213 km²).

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
    halo = options.halo_cells(grid.resolution)
    tiles = {(t.row, t.col): t for t in grid.tiles(size=size, halo=halo)}

    if workdir is not None:  # absolute: a cluster's workers have their own working folders
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="carbonsink-lidar-") as tmp:
        ranges = read_ranges(paths, crs=crs, chunk_size=options.chunk_size)
        spilled = spill(
            ranges,
            SpillPlan(
                grid=grid,
                tiles=tiles,
                folder=Path(tmp),
                codec=Codec.for_grid(grid),
                chunk_size=options.chunk_size,
            ),
            executor=executor,
            progress=lambda fraction: report("reading points", 0.4 * fraction),
        )
        cell_counts, intensities, parts = spilled.cell_counts, spilled.intensities, spilled.parts
        for path in paths:
            if path not in spilled.files_inside:
                logger.warning(
                    deferred(
                        "{file}: no point falls inside the analysis grid {grid}",
                        file=str(path),
                        grid=str(grid),
                    )
                )
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
        # One land reference for every tile, so that water detection agrees across tiles.
        reference = water_reference(cell_counts, intensities, grid, water_evidence)

        jobs = heaviest_first([t for t in tiles.values() if t.id in parts], cell_counts, grid)
        plan = TilePlan(
            grid=grid,
            folder=Path(tmp),
            codec=Codec.for_grid(grid),
            options=options,
            reference=reference,
            halo=halo,
            cores=tuple((t.id, grid.tile_grid(t, with_halo=False).bounds) for t in jobs),
            parts={tile_id: tuple(numbers) for tile_id, numbers in parts.items()},
        )
        run_phases(
            jobs,
            plan,
            executor,
            progress=lambda stage, f: report(stage, 0.4 + 0.15 * f),
        )
        merger = Merger(
            grid,
            options,
            dtm_path=dtm_path,
            chm_path=chm_path,
            keep=keep_surfaces,
            dtm_at=dtm_at,
        )
        try:
            # The tiles make (and send back) only the surfaces the merger uses.
            results = run_tiles(jobs, dataclasses.replace(plan, surfaces=merger.needs), executor)
            total_cells = sum(t.core[2] * t.core[3] for t in jobs)
            done_cells = 0
            for result in results:
                merger.add(result)
                done_cells += result.tile.core[2] * result.tile.core[3]
                report("processing tiles", 0.55 + 0.4 * done_cells / max(total_cells, 1))
        except BaseException:
            merger.abort()
            raise
        merged = _finish_clearing(merger, Path(tmp))
        summary = water_summary(options, reference)
        if water_evidence is not None:
            summary["evidence"] = evidence_agreement(water_evidence, merged.metrics, grid)
        return dataclasses.replace(merged, water=summary)


def _finish_clearing(merger: Merger, folder: Path) -> LidarResult:
    """The merger's finish while the tiles' bucket files are deleted beside it.

    Unlinking a few hundred megabytes of buckets takes about 0.1 s that need
    not wait for the COGs' conversion (GDAL and the unlinks release the GIL).
    """
    with ThreadPoolExecutor(1) as pool:
        cleared = pool.submit(_clear_folder, folder)
        try:
            return merger.finish()
        finally:
            cleared.result()


def _clear_folder(folder: Path) -> None:
    """Delete the files directly in ``folder`` (the buckets and the phases' rasters)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def water_reference(
    cell_counts: npt.NDArray[np.integer],
    intensities: npt.NDArray[np.integer],
    grid: Grid,
    evidence: WaterEvidence | None = None,
) -> WaterReference:
    """What land looks like in a whole survey, for water detection in every tile.

    Parameters
    ----------
    cell_counts
        Returns per analysis-grid cell (flat).
    intensities
        Histogram of the returns' intensities (index = intensity).
    grid
        The analysis grid.
    evidence
        Where the survey knows water stood (:class:`WaterEvidence`), if anywhere.
    """
    return WaterReference(
        density=land_reference_density(cell_counts, grid.resolution**2),
        intensity=land_reference_intensity(intensities),
        evidence=evidence,
    )


def classify_file(
    path: str | Path,
    *,
    crs: Any = None,
    file_crs: Any = None,
    resolution: float = 10.0,
    options: LidarOptions | None = None,
    water_polygons: str | Path | None = None,
    water_polygons_crs: Any = None,
    water_polygons_layer: str | None = None,
) -> npt.NDArray[np.uint8]:
    """ASPRS classes of every point of one file, in its order, as the chain labels them.

    Parameters
    ----------
    path
        A LAS/LAZ file.
    crs
        Projected CRS (metres) to work in; ``None``: the file's own.
    file_crs
        The file's CRS when its header lacks it or is wrong.
    resolution
        Cell (m) of the grid whose return counts give the land's density
        (the survey's resolution, for the labels of a survey's run).
    options
        Chain settings.
    water_polygons, water_polygons_crs, water_polygons_layer
        Water surfaces at the flight as evidence (:func:`polygon_evidence`),
        their CRS when the file lacks it, and their layer in a multi-layer file.

    Returns
    -------
    numpy.ndarray of uint8
        2 ground, 9 water, the file's other classes kept (a class 2 that is
        not ground becomes 1): :meth:`~carbonsink.lidar.tile_chain.PointLabels.asprs`
        of :func:`~carbonsink.lidar.tile_chain.label_points` over the whole
        file with the land reference of :func:`water_reference` — the labels
        of a one-tile run; tiled runs label alike (the cells they share).

    Notes
    -----
    The file is held in memory (about 60 bytes a point).
    """
    options = options or LidarOptions()
    grid = grid_for_files([path], crs=crs, resolution=resolution, file_crs=file_crs)
    # The polygons first: a bad file is refused before the points are read.
    evidence = (
        None
        if water_polygons is None
        else polygon_evidence(
            water_polygons, grid, crs=water_polygons_crs, layer=water_polygons_layer
        )
    )
    points = read_points(path, target_crs=grid.crs, crs=file_crs)
    reference = water_reference(*land_counts(points, grid), grid, evidence)
    labels = label_points(points, options=options, reference=reference)
    return labels.asprs(points.classification)


def polygon_evidence(
    path: str | Path, grid: Grid, *, crs: Any = None, layer: str | None = None
) -> WaterEvidence:
    """Water polygons as evidence on the analysis grid: the cells whose centre they hold.

    Parameters
    ----------
    path
        A vector file of the water surfaces at the flight (any OGR format).
    grid
        The analysis grid.
    crs, layer
        The polygons' CRS when the file lacks it, and the layer of a multi-layer file.

    Returns
    -------
    WaterEvidence
        The mask on ``grid`` (a cell is known water when its centre lies in a
        polygon: the shoreline is the grid's, to half a cell).

    Raises
    ------
    InputError, CRSError
        The file is missing or unreadable, holds no polygons, has no CRS, or
        no polygon covers a cell centre of the grid (a wrong CRS puts them
        elsewhere).
    """
    polygons = load_water_polygons(path, crs=crs, layer=layer).to_crs(grid.crs)
    mask = grid.boundary_mask(polygons)
    if not mask.any():
        raise InputError(
            f"no water polygon covers a cell centre of the analysis grid "
            f"{tuple(round(v) for v in grid.bounds)} ({grid.crs.to_string()})",
            path=Path(path),
            fix="check the polygons' CRS (a GeoJSON without one is read as longitude/latitude), "
            "or draw the water surfaces over the survey",
        )
    return grid_evidence(mask, grid, (f"polygons {Path(path).name}",))


def grid_evidence(
    mask: npt.NDArray[np.bool_], grid: Grid, sources: tuple[str, ...]
) -> WaterEvidence:
    """Water evidence given as a ``(y, x)`` mask on the analysis grid, and what it came from."""
    west, _, _, north = grid.bounds
    return WaterEvidence(mask=mask, x0=west, y1=north, cell=grid.resolution, sources=sources)


def evidence_agreement(evidence: WaterEvidence, metrics: xr.Dataset, grid: Grid) -> dict[str, Any]:
    """The LiDAR's water against the survey's water evidence, over the cells LiDAR covers.

    A cell is LiDAR water when at least half its returns are water
    (``water_fraction`` ≥ 0.5), evidence water when its centre lies in the
    evidence mask. Areas are the cells' nominal areas (resolution², ha); the
    agreement is the intersection over the union (Jaccard), 1 when both say
    water in the same cells (``None`` when neither says water anywhere).

    Parameters
    ----------
    evidence
        The evidence mask.
    metrics
        The chain's metrics on ``grid`` (``water_fraction``, ``lidar_coverage``).
    grid
        The analysis grid.

    Returns
    -------
    dict
        ``sources``, ``evidence_ha``, ``lidar_water_ha``, ``both_ha``,
        ``evidence_only_ha`` (water by the evidence the LiDAR did not find),
        ``lidar_only_ha`` and ``agreement``.
    """
    covered = np.asarray(metrics["lidar_coverage"].values) > 0.5
    fraction = np.asarray(metrics["water_fraction"].values, dtype=np.float64)
    lidar = covered & (np.nan_to_num(fraction, nan=0.0) >= 0.5)
    cx, cy = np.meshgrid(grid.x, grid.y)
    known = covered & evidence.at(cx, cy)
    cell_ha = grid.resolution**2 / 10_000.0
    both = int((lidar & known).sum())
    union = int((lidar | known).sum())
    return {
        "sources": list(evidence.sources),
        "evidence_ha": int(known.sum()) * cell_ha,
        "lidar_water_ha": int(lidar.sum()) * cell_ha,
        "both_ha": both * cell_ha,
        "evidence_only_ha": int((known & ~lidar).sum()) * cell_ha,
        "lidar_only_ha": int((lidar & ~known).sum()) * cell_ha,
        "agreement": both / union if union else None,
    }


def water_summary(options: LidarOptions, reference: WaterReference) -> dict[str, Any]:
    """How a run told water from land, for the ledger (:attr:`LidarResult.water`)."""
    if options.ground == "trust" or options.water is None:
        detection = N_("class 9 only")
    elif reference.intensity is None:
        detection = (
            N_("sparse only (no intensities)")
            if reference.evidence is None
            else N_("sparse, or level inside the water evidence (no intensities)")
        )
    else:
        detection = (
            N_("level and dark, or sparse")
            if reference.evidence is None
            else N_("level and dark (or level inside the water evidence), or sparse")
        )
    return {
        "detection": detection,
        "land_density_m2": reference.density,
        "land_intensity": reference.intensity,
    }
