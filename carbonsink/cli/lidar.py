"""``carbonsink lidar``: ground, DTM, heights, canopy height model and area-based metrics."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import answer, print_written, progress_bar, stdout
from carbonsink.cli._conventions import Command
from carbonsink.grid import Grid

if TYPE_CHECKING:
    import pandas as pd

    from carbonsink.lidar.merging import LidarResult
    from carbonsink.lidar.water import WaterEvidence
    from carbonsink.pipeline.outputs import OutputFolder

__all__ = ["lidar_app"]

lidar_app = typer.Typer(
    help="LiDAR: classified clouds, ground, DTM, heights, canopy height model and metrics.",
    no_args_is_help=True,
)

_FILES = typer.Argument(help="LAS/LAZ files (or tiles) to process.", show_default=False)
_WORKERS = typer.Option(
    "--workers", "-w", help="Processes for the tiles (default: all cores; 1 = serial)."
)
_FILE_CRS = typer.Option(
    "--file-crs", help="CRS of the files when their headers lack it or are wrong."
)
_GROUND = typer.Option(help="classify: run SMRF; trust: use the files' ground class 2.")
_WATER = typer.Option(
    "--water-polygons",
    help="Water surfaces at the flight (vector file): there a level surface is water "
    "whatever its intensity (docs/methodology.md §8.1).",
)
_WATER_CRS = typer.Option(
    "--water-polygons-crs", help="CRS of the water polygons when their file lacks it."
)
_WATER_LAYER = typer.Option(
    "--water-polygons-layer",
    help="Layer of the water polygons in a multi-layer file (GeoPackage, FileGDB).",
)


def _refuse_idle(source: tuple[str, object], **options: object) -> None:
    """Refuse options that describe a source that is not given (they would be ignored)."""
    flag, value = source
    idle = [name for name, given in options.items() if given is not None]
    if value is None and idle:
        names = ", ".join("--" + name.replace("_", "-") for name in idle)
        raise typer.BadParameter(
            f"{names} describe {flag}, which is not given: add {flag} or drop them",
            param_hint=names,
        )


class GroundMode(StrEnum):
    """How ground returns are found."""

    classify = "classify"
    trust = "trust"


def _lidar_grid(
    files: list[Path],
    survey: Path | None,
    crs: str | None,
    resolution: float | None,
    file_crs: str | None,
) -> Grid:
    from carbonsink.lidar.processing import grid_for_files
    from carbonsink.pipeline.context import RunContext

    if survey is not None:
        if crs is not None or resolution is not None:
            raise typer.BadParameter("give either --survey or --crs/--resolution, not both")
        return RunContext.build(survey).grid
    if crs is None or resolution is None:
        raise typer.BadParameter(
            "give --survey SURVEY, or both --crs (projected, metres) and --resolution"
        )
    return grid_for_files(files, crs=crs, resolution=resolution, file_crs=file_crs)


def _run_lidar(
    files: list[Path],
    grid: Grid,
    *,
    file_crs: str | None,
    ground: GroundMode,
    workers: int | None,
    dtm_path: Path | None,
    chm_path: Path | None,
    pit_free: bool = False,
    water_evidence: WaterEvidence | None = None,
) -> LidarResult:
    from carbonsink.lidar.options import LidarOptions
    from carbonsink.lidar.processing import process_lidar
    from carbonsink.pipeline.executors import local_executor

    options = LidarOptions(ground=ground.value, pit_free=pit_free)
    with progress_bar() as progress, local_executor(workers) as executor:
        task = progress.add_task("LiDAR", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        return process_lidar(
            files,
            grid,
            crs=file_crs,
            options=options,
            executor=executor,
            dtm_path=dtm_path,
            chm_path=chm_path,
            progress=report,
            water_evidence=water_evidence,
        )


@lidar_app.command("metrics", cls=Command)
def lidar_metrics(
    files: Annotated[list[Path], _FILES],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    survey: Annotated[Path | None, typer.Option(help="Use this survey's grid.")] = None,
    crs: Annotated[str | None, typer.Option(help="Analysis CRS (projected, metres).")] = None,
    resolution: Annotated[float | None, typer.Option(help="Grid cell size, metres.")] = None,
    file_crs: Annotated[str | None, _FILE_CRS] = None,
    ground: Annotated[GroundMode, _GROUND] = GroundMode.classify,
    workers: Annotated[int | None, _WORKERS] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="RTK ground points (x, y, z; optional class) to check the DTM against."),
    ] = None,
    checkpoints_crs: Annotated[
        str | None, typer.Option(help="CRS of the checkpoint table (required for CSV).")
    ] = None,
    vertical_datum: Annotated[
        str | None,
        typer.Option(help="Datum of the checkpoints' z: must be the clouds' (required with them)."),
    ] = None,
    water_polygons: Annotated[Path | None, _WATER] = None,
    water_polygons_crs: Annotated[str | None, _WATER_CRS] = None,
    water_polygons_layer: Annotated[str | None, _WATER_LAYER] = None,
) -> None:
    """Area-based metrics on the analysis grid, plus DTM, CHM and per-tile QA.

    Writes OUT/lidar_metrics.nc, OUT/dtm.tif, OUT/chm.tif and OUT/lidar_tiles_qa.csv;
    with --checkpoints also OUT/dtm_checkpoints.csv (the DTM's error at each point)
    and prints the error per class (docs/methodology.md §8.8); with
    --water-polygons prints how the LiDAR's water agrees with them (§8.1).
    """
    from carbonsink.lidar.checkpoints import read_checkpoints
    from carbonsink.lidar.processing import polygon_evidence
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.lidar import write_lidar_products

    _refuse_idle(
        ("--checkpoints", checkpoints),
        checkpoints_crs=checkpoints_crs,
        vertical_datum=vertical_datum,
    )
    _refuse_idle(
        ("--water-polygons", water_polygons),
        water_polygons_crs=water_polygons_crs,
        water_polygons_layer=water_polygons_layer,
    )
    if checkpoints is not None and not vertical_datum:
        raise typer.BadParameter(
            "state the checkpoints' vertical datum (it must be the point clouds'; no geoid "
            'model is applied), e.g. --vertical-datum "EGM2008"',
            param_hint="--vertical-datum",
        )
    folder = OutputFolder(out)
    grid = _lidar_grid(files, survey, crs, resolution, file_crs)
    points = (
        None
        if checkpoints is None
        else read_checkpoints(checkpoints, target_crs=grid.crs, crs=checkpoints_crs)
    )
    evidence = (
        None
        if water_polygons is None
        else polygon_evidence(
            water_polygons, grid, crs=water_polygons_crs, layer=water_polygons_layer
        )
    )
    result = _run_lidar(
        files,
        grid,
        file_crs=file_crs,
        ground=ground,
        workers=workers,
        dtm_path=folder.path("dtm"),
        chm_path=folder.path("chm"),
        water_evidence=evidence,
    )
    written = write_lidar_products(result, folder)
    qa = result.qa
    returns = int(qa["points"].sum()) if len(qa) else 0
    answer.print(
        f"[green]done[/green]: {len(qa)} tile(s), {returns:,} points in the grid; "
        f"grid {grid.height} x {grid.width} cells of {grid.resolution:g} m"
    )
    agreement = result.water.get("evidence")
    if agreement is not None:
        stdout.print(
            f"water: {agreement['both_ha']:,.2f} ha by the LiDAR and the polygons, "
            f"{agreement['evidence_only_ha']:,.2f} ha by the polygons only, "
            f"{agreement['lidar_only_ha']:,.2f} ha by the LiDAR only"
            + (
                ""
                if agreement["agreement"] is None
                else f" (agreement {agreement['agreement']:.2f}, intersection over union)"
            )
        )
    if points is None:
        stdout.print("DTM unverified: give --checkpoints (RTK ground points) to measure its error")
    else:
        written.append(_check_written_dtm(points, folder, vertical_datum or ""))
    print_written(written)


def _check_written_dtm(points: pd.DataFrame, folder: OutputFolder, datum: str) -> Path:
    """The written DTM against the checkpoints: print the error per class, write the points."""
    import numpy as np
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    from carbonsink.io.writers import write_csv
    from carbonsink.lidar.checkpoints import check_dtm, raster_of

    with xr.open_dataarray(folder.path("dtm"), engine="rasterio") as dtm:
        surface = dtm.squeeze("band", drop=True).load()
    surface = surface.where(surface != surface.rio.nodata) if surface.rio.nodata else surface
    check = check_dtm(raster_of(surface), points, vertical_datum=datum, correct=False)
    stdout.print(f"DTM against {len(points)} checkpoints ({escape(datum)}), DTM − z in m:")
    for name, row in check.classes.iterrows():
        stdout.print(
            f"  {escape(str(name))}: n {int(row['n'])}, bias {row['bias_m']:+.3f}, "
            f"RMSE {row['rmse_m']:.3f}"
        )
    off = int((~np.isfinite(check.points["error_m"])).sum())
    if off:
        stdout.print(f"  {off} checkpoint(s) off the DTM (no terrain there)")
    return write_csv(check.points, folder.path("lidar_dtm_checkpoints"), float_format="%.4f")


@lidar_app.command("chm", cls=Command)
def lidar_chm(
    files: Annotated[list[Path], _FILES],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CHM GeoTIFF (COG).")],
    crs: Annotated[
        str | None, typer.Option(help="Output CRS (projected, metres); default: the files' CRS.")
    ] = None,
    file_crs: Annotated[str | None, _FILE_CRS] = None,
    dtm: Annotated[Path | None, typer.Option(help="Also write the DTM here.")] = None,
    pit_free: Annotated[bool, typer.Option(help="Fill CHM pits (3x3 median).")] = False,
    ground: Annotated[GroundMode, _GROUND] = GroundMode.classify,
    workers: Annotated[int | None, _WORKERS] = None,
) -> None:
    """Canopy height model: the maximum height above ground per 0.5 m cell."""
    from carbonsink.lidar.processing import grid_for_files

    grid = grid_for_files(files, crs=crs, resolution=10.0, file_crs=file_crs)
    with tempfile.TemporaryDirectory() as scratch:
        dtm_path = dtm if dtm is not None else Path(scratch) / "dtm.tif"
        _run_lidar(
            files,
            grid,
            file_crs=file_crs,
            ground=ground,
            workers=workers,
            dtm_path=dtm_path,
            chm_path=out,
            pit_free=pit_free,
        )
    answer.print(f"[green]wrote[/green] {escape(str(out))}")
    if dtm is not None:
        answer.print(f"[green]wrote[/green] {escape(str(dtm))}")


@lidar_app.command("classify", cls=Command)
def lidar_classify(
    file: Annotated[Path, typer.Argument(help="LAS/LAZ file to classify.", show_default=False)],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Classified copy (LAZ when it ends in .laz).")
    ],
    crs: Annotated[
        str | None,
        typer.Option(help="CRS to work in (projected, metres); default: the file's CRS."),
    ] = None,
    file_crs: Annotated[str | None, _FILE_CRS] = None,
    resolution: Annotated[
        float, typer.Option(help="Grid cell (m) of the land density reference.")
    ] = 10.0,
    ground: Annotated[GroundMode, _GROUND] = GroundMode.classify,
    water_polygons: Annotated[Path | None, _WATER] = None,
    water_polygons_crs: Annotated[str | None, _WATER_CRS] = None,
    water_polygons_layer: Annotated[str | None, _WATER_LAYER] = None,
) -> None:
    """Write a copy of FILE with the chain's classes: 2 ground, 9 water.

    Every point keeps its place; the file's other classes are kept (a class 2
    that is not ground becomes 1). Water is found as in the chain (level, dark
    or sparse surfaces; docs/methodology.md §8.1), ground by SMRF.
    """
    import numpy as np

    from carbonsink.io.las_writer import check_classified_path, write_classification
    from carbonsink.lidar.options import LidarOptions
    from carbonsink.lidar.processing import classify_file

    _refuse_idle(
        ("--water-polygons", water_polygons),
        water_polygons_crs=water_polygons_crs,
        water_polygons_layer=water_polygons_layer,
    )
    check_classified_path(file, out)
    with progress_bar() as progress:
        task = progress.add_task("classifying", total=1.0)
        classes = classify_file(
            file,
            crs=crs,
            file_crs=file_crs,
            resolution=resolution,
            options=LidarOptions(ground=ground.value),
            water_polygons=water_polygons,
            water_polygons_crs=water_polygons_crs,
            water_polygons_layer=water_polygons_layer,
        )
        progress.update(task, description="writing", completed=0.8)
        written = write_classification(file, out, classes)
        progress.update(task, completed=1.0)
    n = max(classes.size, 1)
    answer.print(
        f"[green]done[/green]: {classes.size:,} points — ground {np.sum(classes == 2) / n:.1%}, "
        f"water {np.sum(classes == 9) / n:.1%}"
    )
    print_written([written])
