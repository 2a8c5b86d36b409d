"""The ``carbonsink`` command line: thin typer commands over library functions.

Exit codes (DESIGN.md §7): 0 success, 2 bad input or configuration, 1 an
internal fault (traceback only with ``--debug``). Nothing imports this module.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import click
import numpy as np
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from carbonsink import __version__, show_versions
from carbonsink.config import load_survey
from carbonsink.errors import CarbonSinkError, Problem
from carbonsink.grid import Grid

if TYPE_CHECKING:
    from carbonsink.lidar.processing import LidarResult
    from carbonsink.preflight import PreflightReport

__all__ = ["app", "main"]

# typer ≥ 0.25 vendors click (its exceptions derive from typer.TyperException);
# older releases raise click's own exceptions. Catch both.
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    {click.ClickException, getattr(typer, "TyperException", click.ClickException)}
)
_ABORTS: tuple[type[BaseException], ...] = tuple({click.exceptions.Abort, typer.Abort})

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


_state = _State()

app = typer.Typer(
    name="carbonsink",
    help="Measure a wetland's carbon sink from imagery, drone LiDAR, biomass plots and soil "
    "cores, and turn it into an auditable carbon-credit claim.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        stdout.print(f"carbonsink {__version__}")
        raise typer.Exit(EXIT_OK)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler = RichHandler(console=stderr, show_path=False, show_time=verbose >= 2)
    root = logging.getLogger("carbonsink")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More messages (-vv for debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """carbonsink: wetland carbon sink and credit claims."""
    _state.debug = debug
    _state.quiet = quiet
    _configure_logging(verbose, quiet)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=_state.quiet,
    )


def _print_written(paths: Iterable[Path]) -> None:
    for path in paths:
        stdout.print(f"  wrote {escape(str(path))}")


def _print_problem(problem: Problem) -> None:
    colour = "red" if problem.severity == "error" else "yellow"
    stdout.print(f"[{colour}]{problem.severity}[/{colour}]: {escape(str(problem))}")


def _checked_survey(survey: Path) -> PreflightReport:
    """The preflight report of a survey, with every problem printed."""
    from carbonsink.preflight import preflight

    with _progress() as progress:
        task = progress.add_task("checking the survey", total=None)
        report = preflight(
            survey,
            progress=lambda name: progress.update(task, description=f"checking {escape(name)}"),
        )
    for problem in [*report.errors, *report.warnings]:
        _print_problem(problem)
    return report


@app.command()
def validate(
    survey: Annotated[Path, typer.Argument(help="The survey TOML file.", show_default=False)],
) -> None:
    """Check every input of a survey (the preflight) and list ALL problems.

    Exits 0 when the survey is ready to run, 2 when any error was found.
    """
    report = _checked_survey(survey)
    n_err, n_warn = len(report.errors), len(report.warnings)
    if n_err:
        stdout.print(
            f"[red]{n_err} error(s)[/red], {n_warn} warning(s) in {escape(str(survey))}: "
            "fix the errors above, then run `carbonsink validate` again."
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    grid = report.grid
    where = f"; grid {grid.height} x {grid.width} cells of {grid.resolution:g} m" if grid else ""
    stdout.print(
        f"[green]ok[/green]: {escape(str(survey))} — {len(report.checked)} input file(s) "
        f"checked, {n_warn} warning(s){where}"
    )


class Scale(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


@app.command("sample-data")
def sample_data(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write the survey into.", show_default=False)
    ],
    seed: Annotated[int, typer.Option(help="Random seed (same seed: identical files).")] = 20240830,
    scale: Annotated[
        Scale,
        typer.Option(
            help="small: the committed sample; medium/large: bigger surveys for benchmarks."
        ),
    ] = Scale.small,
) -> None:
    """Write a synthetic Junshan-like survey with its known truth."""
    from carbonsink.synthetic import generate_survey

    with _progress() as progress:
        task = progress.add_task("generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=escape(step), completed=fraction)

        summary = generate_survey(directory, seed=seed, scale=scale.value, progress=report)
    stdout.print(f"[green]wrote[/green] {escape(str(summary.survey_path))}")
    stdout.print(f"try: carbonsink validate {escape(str(summary.survey_path))}")


lidar_app = typer.Typer(
    help="LiDAR: ground, DTM, heights, canopy height model and area-based metrics.",
    no_args_is_help=True,
)
app.add_typer(lidar_app, name="lidar")

_FILES = typer.Argument(help="LAS/LAZ files (or tiles) to process.", show_default=False)
_WORKERS = typer.Option(
    "--workers", "-w", help="Processes for the tiles (default: all cores; 1 = serial)."
)
_FILE_CRS = typer.Option(
    "--file-crs", help="CRS of the files when their headers lack it or are wrong."
)
_GROUND = typer.Option(help="classify: run SMRF; trust: use the files' ground class 2.")


class GroundMode(StrEnum):
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
    from carbonsink.pipeline import survey_grid

    if survey is not None:
        if crs is not None or resolution is not None:
            raise typer.BadParameter("give either --survey or --crs/--resolution, not both")
        return survey_grid(load_survey(survey))
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
) -> LidarResult:
    from carbonsink.lidar.processing import LidarOptions, process_lidar
    from carbonsink.pipeline import local_executor

    options = LidarOptions(ground=ground.value, pit_free=pit_free)
    with _progress() as progress, local_executor(workers) as executor:
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
        )


@lidar_app.command("metrics")
def lidar_metrics(
    files: Annotated[list[Path], _FILES],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    survey: Annotated[Path | None, typer.Option(help="Use this survey's grid.")] = None,
    crs: Annotated[str | None, typer.Option(help="Analysis CRS (projected, metres).")] = None,
    resolution: Annotated[float | None, typer.Option(help="Grid cell size, metres.")] = None,
    file_crs: Annotated[str | None, _FILE_CRS] = None,
    ground: Annotated[GroundMode, _GROUND] = GroundMode.classify,
    workers: Annotated[int | None, _WORKERS] = None,
) -> None:
    """Area-based metrics on the analysis grid, plus DTM, CHM and per-tile QA.

    Writes OUT/lidar_metrics.nc, OUT/dtm.tif, OUT/chm.tif and OUT/lidar_tiles_qa.csv.
    """
    from carbonsink.pipeline import write_lidar_products

    grid = _lidar_grid(files, survey, crs, resolution, file_crs)
    result = _run_lidar(
        files,
        grid,
        file_crs=file_crs,
        ground=ground,
        workers=workers,
        dtm_path=out / "dtm.tif",
        chm_path=out / "chm.tif",
    )
    written = write_lidar_products(result, out)
    qa = result.qa
    points = int(qa["points"].sum()) if len(qa) else 0
    stdout.print(
        f"[green]done[/green]: {len(qa)} tile(s), {points:,} points (halos included); "
        f"grid {grid.height} x {grid.width} cells of {grid.resolution:g} m"
    )
    _print_written(written)


@lidar_app.command("chm")
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
    import tempfile

    from carbonsink.io.pointclouds import read_lidar_info

    target = crs
    if target is None:
        info = read_lidar_info(files[0], crs=file_crs)
        if info.crs is None:
            raise typer.BadParameter(
                f"{files[0]} has no CRS: give --file-crs (and --crs for the output)"
            )
        target = info.crs.to_wkt()
        from carbonsink.io._crs import crs_plausibility_problem

        implausible = crs_plausibility_problem(info.crs, info.bounds[:4])
        if implausible:
            raise typer.BadParameter(
                f"{files[0].name}: {implausible}; give the files' true CRS with --file-crs "
                "and the output CRS with --crs"
            )
        if not all(a.unit_conversion_factor == 1.0 for a in info.crs.axis_info[:2]):
            from pyproj import Transformer

            from carbonsink.grid import crs_label, suggest_utm_crs

            to_ll = Transformer.from_crs(info.crs, "EPSG:4326", always_xy=True)
            lon, lat = to_ll.transform(
                (info.bounds[0] + info.bounds[2]) / 2, (info.bounds[1] + info.bounds[3]) / 2
            )
            utm = suggest_utm_crs(lon, lat)
            raise typer.BadParameter(
                f"{files[0].name} is in {crs_label(info.crs)}, not metres: give the output "
                f"CRS, e.g. --crs EPSG:{utm.to_epsg()}"
            )
    grid = _lidar_grid(files, None, target, 10.0, file_crs)
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
    stdout.print(f"[green]wrote[/green] {escape(str(out))}")
    if dtm is not None:
        stdout.print(f"[green]wrote[/green] {escape(str(dtm))}")


imagery_app = typer.Typer(
    help="Imagery: composites, spectral indices and land-cover classification.",
    no_args_is_help=True,
)
app.add_typer(imagery_app, name="imagery")

_SURVEY = typer.Argument(help="The survey TOML file.", show_default=False)
_EPOCH = typer.Option("--epoch", "-e", help="Epoch name (needed when the survey has several).")
_OUT = typer.Option("--out", "-o", help="Output folder.")


@imagery_app.command("indices")
def imagery_indices(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
    index: Annotated[
        list[str] | None,
        typer.Option("--index", "-i", help="Index to write (repeatable); default NDVI and MNDWI."),
    ] = None,
    chunks: Annotated[int, typer.Option(help="Block size in cells for lazy reading.")] = 1024,
) -> None:
    """Composite an epoch's scenes and write spectral indices as COGs.

    Writes OUT/<index>.tif for each index and OUT/valid_count.tif (usable
    observations per cell). Indices: see `carbonsink.imagery.INDICES`.
    """
    from carbonsink.pipeline import epoch_composite, find_epoch, survey_grid, write_index_layers

    loaded = load_survey(survey)
    chosen = find_epoch(loaded, epoch)
    grid = survey_grid(loaded)
    composite = epoch_composite(loaded, chosen, grid, chunks=chunks)
    names = index or ["ndvi", "mndwi"]
    with _progress() as progress:
        task = progress.add_task("indices", total=1.0)

        def report(label: str, done: int, total: int) -> None:
            progress.update(task, description=f"writing {label}", completed=done / total)

        written = write_index_layers(composite, names, out, progress=report)
    for flagged in composite.attrs.get("flagged_scenes", []):
        stdout.print(f"[yellow]warning[/yellow]: left out {escape(flagged)}")
    _print_written(written)


@imagery_app.command("classify")
def imagery_classify(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
) -> None:
    """Classify land cover of an epoch; write the map, probabilities, accuracy and areas.

    Writes OUT/landcover.tif (class codes with legend), OUT/landcover_p_<class>.tif,
    OUT/landcover_accuracy.json and OUT/tables/landcover_{confusion,areas,cv,samples}.csv.
    """
    from carbonsink.pipeline import (
        epoch_composite,
        epoch_landcover,
        find_epoch,
        survey_grid,
        write_landcover_products,
    )

    loaded = load_survey(survey)
    chosen = find_epoch(loaded, epoch)
    grid = survey_grid(loaded)
    with _progress() as progress:
        task = progress.add_task("compositing", total=3.0)
        composite = epoch_composite(loaded, chosen, grid).compute()
        progress.update(task, description="classifying", completed=1.0)
        result = epoch_landcover(loaded, chosen, grid, composite)
        progress.update(task, description="writing", completed=2.0)
        written = write_landcover_products(result, grid, out)
        progress.update(task, completed=3.0)
    accuracy = result.accuracy
    stdout.print(
        f"[green]done[/green]: held-out overall accuracy {accuracy.overall_accuracy:.3f} "
        f"(kappa {accuracy.kappa:.3f}, n = {accuracy.n}); spatial CV accuracy "
        f"{result.cv['overall_accuracy'].mean():.3f}"
    )
    table = result.areas.table
    z = result.areas.confidence
    stdout.print(f"class areas, ha (area-adjusted, {z:.0%} CI):")
    for name, row in table.iterrows():
        stdout.print(
            f"  {name!s:>12}: {row['adjusted_area_ha']:9.2f}  "
            f"[{row['ci_low_ha']:.2f}, {row['ci_high_ha']:.2f}]  mapped {row['mapped_area_ha']:.2f}"
        )
    _print_written(written)


soil_app = typer.Typer(
    help="Soil: core stocks (0–30, 0–100 cm) and the SOC map with its variance.",
    no_args_is_help=True,
)
app.add_typer(soil_app, name="soil")


@soil_app.command("stocks")
def soil_stocks(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
) -> None:
    """Stocks of every soil core at the survey's depths (Mg C/ha), with SE and flags.

    Writes OUT/tables/core_stocks_<epoch>.csv.
    """
    from carbonsink.io.writers import write_csv
    from carbonsink.pipeline import epoch_core_stocks, find_epoch
    from carbonsink.soil.profiles import depth_label

    loaded = load_survey(survey)
    chosen = find_epoch(loaded, epoch)
    stocks = epoch_core_stocks(loaded, chosen)
    path = write_csv(
        stocks, out / "tables" / f"core_stocks_{chosen.name}.csv", index=True, float_format="%.10g"
    )
    for depth in loaded.soil.depths_cm:
        label = depth_label(depth)
        column = stocks[f"soc_0_{label}_mg_ha"]
        flagged = int(stocks[f"extrapolated_0_{label}"].sum())
        stdout.print(
            f"0–{label} cm: {len(stocks)} cores, mean {column.mean():.1f} Mg C/ha "
            f"(range {column.min():.1f}–{column.max():.1f}); {flagged} extrapolated below "
            "the deepest sample"
        )
    stdout.print(f"  wrote {escape(str(path))}")


@soil_app.command("map")
def soil_map(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
    depth: Annotated[float, typer.Option(help="Stock depth, cm (one of [soil] depths_cm).")] = 30.0,
) -> None:
    """Map SOC stock (Mg C/ha) with prediction variance and a 90 % interval.

    Regression kriging on the epoch composite's NDVI and MNDWI, or ordinary
    kriging ([soil] prediction). Writes OUT/soc_0_<depth>_mg_ha{,_variance,_lower,_upper}.tif
    and OUT/tables/soc_cv_<epoch>.csv (leave-one-out predictions).
    """
    import xarray as xr

    from carbonsink.imagery.indices import compute_index
    from carbonsink.io.writers import write_csv, write_layer_cog
    from carbonsink.pipeline import (
        epoch_composite,
        epoch_core_stocks,
        epoch_soc_map,
        find_epoch,
        survey_grid,
    )
    from carbonsink.soil.kriging import cross_validate_soc, sample_covariates
    from carbonsink.soil.profiles import depth_label

    loaded = load_survey(survey)
    chosen = find_epoch(loaded, epoch)
    if depth not in loaded.soil.depths_cm:
        raise typer.BadParameter(
            f"--depth {depth:g} is not one of the survey's depths_cm {loaded.soil.depths_cm}"
        )
    grid = survey_grid(loaded)
    with _progress() as progress:
        task = progress.add_task("core stocks", total=4.0)
        stocks = epoch_core_stocks(loaded, chosen)
        covariates = None
        if loaded.soil.prediction == "regression-kriging":
            progress.update(task, description="composite covariates", completed=1.0)
            reflectance = epoch_composite(loaded, chosen, grid).compute()["reflectance"]
            covariates = xr.Dataset(
                {name: compute_index(name, reflectance) for name in ("ndvi", "mndwi")}
            )
        progress.update(task, description="kriging", completed=2.0)
        soc = epoch_soc_map(loaded, grid, stocks, depth_cm=depth, covariates=covariates)
        progress.update(task, description="cross-validation", completed=3.0)
        column = f"soc_0_{depth_label(depth)}_mg_ha"
        at_points = (
            None
            if covariates is None
            else sample_covariates(covariates, grid, stocks["x"], stocks["y"])
        )
        cv = cross_validate_soc(
            stocks["x"].to_numpy(),
            stocks["y"].to_numpy(),
            stocks[column].to_numpy(),
            covariates_at_points=at_points,
            method=loaded.soil.prediction,
        )
        written = [write_layer_cog(soc[name], out / f"{name}.tif") for name in soc.data_vars]
        written.append(
            write_csv(cv.predictions, out / "tables" / f"soc_cv_{chosen.name}.csv", index=True)
        )
        progress.update(task, completed=4.0)
    total = float((soc[column] * grid.cell_area_ha).sum())
    stdout.print(
        f"[green]done[/green]: {len(stocks)} cores; total SOC 0–{depth_label(depth)} cm "
        f"{total:,.0f} t C; leave-one-out RMSE {cv.rmse_mg_ha:.1f} Mg C/ha, R² {cv.r2:.2f}, "
        f"{cv.interval:.0%} interval coverage {cv.coverage:.0%}"
    )
    _print_written(written)


biomass_app = typer.Typer(
    help="Biomass: fit the AGB models on the plots, and map AGB and vegetation carbon.",
    no_args_is_help=True,
)
app.add_typer(biomass_app, name="biomass")


def _epoch_cube_with_progress(survey: Path, epoch: str | None) -> tuple[Any, Any, Any, Grid]:
    from carbonsink.pipeline import epoch_cube, find_epoch, survey_grid

    loaded = load_survey(survey)
    chosen = find_epoch(loaded, epoch)
    grid = survey_grid(loaded)
    with _progress() as progress:
        task = progress.add_task("cube", total=4.0)

        def report(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done)

        cube = epoch_cube(loaded, chosen, grid, progress=report)
    return loaded, chosen, cube, grid


@biomass_app.command("fit")
def biomass_fit(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
) -> None:
    """Fit the AGB models of an epoch, cross-validate them in spatial blocks, save them.

    Writes OUT/models/<epoch>/{imagery,lidar}.skops with JSON model cards,
    OUT/tables/biomass_cv_*.csv, OUT/biomass_cv_*.png (predicted vs observed)
    and the plots left out.
    """
    from carbonsink.pipeline import epoch_biomass, write_biomass_products

    loaded, chosen, cube, _ = _epoch_cube_with_progress(survey, epoch)
    result = epoch_biomass(loaded, chosen, cube)
    written = write_biomass_products(result, out, stem=chosen.name)
    for model in result.candidates:
        pooled = model.cv.pooled
        stdout.print(
            f"{model.name} model ({model.estimator_name}, {int(pooled['n'])} plots): spatial CV "
            f"({model.cv.block_m:.0f} m blocks, {model.block_reason}) R² {pooled['r2']:.3f}, "
            f"RMSE {pooled['rmse_mg_ha']:.2f} Mg DM/ha, bias {pooled['bias_mg_ha']:+.2f}, "
            f"{model.cv.interval:.0%} interval coverage {pooled['coverage']:.2f}"
        )
        excluded = model.plots.excluded
        if len(excluded):
            kinds = excluded["reason"].str.replace(r" \(.*\)$", "", regex=True).value_counts()
            summary = "; ".join(f"{n} {reason}" for reason, n in kinds.items())
            stdout.print(
                f"  {len(excluded)} plot(s) left out ({escape(summary)}): see "
                f"tables/plots_excluded_{chosen.name}_{model.name}.csv"
            )
    stdout.print(result.lidar_decision)
    _print_written(written)


@biomass_app.command("predict")
def biomass_predict(
    survey: Annotated[Path, _SURVEY],
    models: Annotated[
        Path, typer.Option("--models", "-m", help="Folder of fitted models (biomass fit).")
    ],
    out: Annotated[Path, _OUT],
    epoch: Annotated[str | None, _EPOCH] = None,
) -> None:
    """Map AGB (with its interval), BGB and vegetation carbon with fitted models.

    Writes OUT/<layer>.tif for agb_mg_ha, its bounds, agb_model, agb_outside_aoa,
    bgb_mg_ha and veg_c_mg_ha (with bounds).
    """
    from carbonsink.io.writers import write_layer_cogs
    from carbonsink.pipeline import load_biomass_models, map_biomass

    predictors = load_biomass_models(models)  # fails fast, before any compute
    loaded, chosen, cube, analysis = _epoch_cube_with_progress(survey, epoch)
    layers = map_biomass(loaded, cube, predictors)
    grid = cube.cube
    names = [
        "agb_mg_ha",
        "agb_lower_mg_ha",
        "agb_upper_mg_ha",
        "agb_model",
        "agb_outside_aoa",
        "bgb_mg_ha",
        "veg_c_mg_ha",
        "veg_c_lower_mg_ha",
        "veg_c_upper_mg_ha",
    ]
    arrays = [
        analysis.dataarray(
            layers[n].values,
            name=n,
            units=layers[n].attrs["units"],
            long_name=layers[n].attrs["long_name"],
            attrs={k: v for k, v in layers[n].attrs.items() if k.startswith("flag_")},
        )
        for n in names
    ]
    written = write_layer_cogs(arrays, [out / f"{n}.tif" for n in names])
    area = grid["cell_area_ha"].values
    agb_t = float(np.nansum(layers["agb_mg_ha"].values * area))
    veg_c = float(np.nansum(layers["veg_c_mg_ha"].values * area))
    stdout.print(
        f"[green]done[/green] ({chosen.name}): AGB {agb_t:,.0f} t DM, vegetation carbon "
        f"{veg_c:,.0f} t C; {layers.attrs['outside_aoa_cells']} cells outside the area of "
        "applicability (predicted, flagged)"
    )
    _print_written(written)


def _print_claim(ledger: Any) -> None:
    from rich import box
    from rich.table import Table

    for warning in ledger.warnings:
        stdout.print(f"[yellow]warning[/yellow] ({warning.code}): {escape(warning.message)}")
    for note in ledger.notes:
        stdout.print(f"note: {escape(note)}")
    if ledger.single_epoch:
        return
    table = Table(
        title=f"credit chain ({escape(ledger.profile.name)}), t CO2e/yr",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("stratum", "removals", "90 % CI", "non-CO2", "net", "deduction", "tradable"):
        table.add_column(column, justify="left" if column == "stratum" else "right")
    for stratum, row in ledger.strata.iterrows():
        rule = str(row["rule_applied"]).replace("-", "_")
        table.add_row(
            str(stratum),
            f"{row['removals_t_co2e_yr']:,.1f}",
            f"{row['net_p5_t_co2e_yr']:,.0f} – {row['net_p95_t_co2e_yr']:,.0f}",
            f"{row['non_co2_t_co2e_yr']:,.1f}",
            f"{row['net_t_co2e_yr']:,.1f}",
            f"{row[f'deduction_{rule}_t_co2e_yr']:,.1f}",
            f"{row['tradable_t_co2e_yr']:,.1f}",
        )
    stdout.print(table)
    claim = ledger.to_dict()["claim"]
    value = (
        f", worth {claim['value']:,.0f} {claim['currency']}" if claim["value"] is not None else ""
    )
    stdout.print(
        f"[green]claim[/green]: {claim['tradable_t_co2e']:,.1f} t CO2e tradable over "
        f"{claim['years']:.2f} years ({claim['tradable_t_co2e_yr']:,.1f} t CO2e/yr; net "
        f"{claim['net_t_co2e_yr']:,.1f}, 90 % CI {claim['net_ci90_t_co2e_yr'][0]:,.1f} to "
        f"{claim['net_ci90_t_co2e_yr'][1]:,.1f}; rule {claim['rule_applied']}){value}"
    )


@app.command()
def run(
    survey: Annotated[Path, _SURVEY],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: out/ beside the survey file)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            help="Start a local Dask cluster of N workers (default: a process pool of all "
            "cores; 1 = serial).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--fresh",
            help="Reuse the finished stages of an earlier run in OUT (default), or recompute all.",
        ),
    ] = True,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Seed of every random step (default: the survey's)."),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also write report.pdf (extra 'pdf').")
    ] = False,
) -> None:
    """Run the whole survey: every stage of every epoch, the accounting, all outputs, the report.

    Writes OUT/manifest.json, cube_<epoch>.nc, change.nc, maps/*.tif, tables/*.csv,
    ledger.json (docs/ledger.md), report.html and run.log. An interrupted or
    repeated run reuses the finished stages (OUT/.cache) unless --fresh.
    """
    import logging

    from carbonsink.pipeline.run import run_executor, run_survey

    report = _checked_survey(survey)
    if report.errors:
        stdout.print(
            f"[red]{len(report.errors)} error(s)[/red] in {escape(str(survey))}: nothing was "
            "computed; fix them and run again."
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    out_dir = out if out is not None else survey.parent / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out_dir / "run.log", mode="a", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("carbonsink")
    previous_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(min(previous_level or logging.INFO, logging.INFO))
    try:
        with _progress() as progress, run_executor(workers, scheduler) as executor:
            task = progress.add_task("run", total=1.0)

            def update(what: str, done: int, total: int) -> None:
                if what.startswith(("epoch ", "accounting", "maps", "report", "done")):
                    progress.update(task, description=escape(what), completed=done, total=total)
                else:
                    progress.update(task, description=escape(what))

            result = run_survey(
                load_survey(survey),
                out_dir,
                seed=seed,
                resume=resume,
                pdf=pdf,
                executor=executor,
                inputs=report.checked,
                progress=update,
            )
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
        handler.close()
    _print_claim(result.ledger)
    cached = sum(1 for s in result.manifest["stages"] if s["cached"])
    stdout.print(
        f"[green]done[/green] in {result.manifest['wall_seconds']:.0f} s"
        f"{f' ({cached} stage(s) from the cache)' if cached else ''}: "
        f"{len(result.written)} files in {escape(str(out_dir))} — open "
        f"{escape(str(out_dir / 'report.html'))}"
    )


@app.command()
def profiles(
    name_or_path: Annotated[
        str | None,
        typer.Argument(
            help="A built-in profile name or a profile .toml file; omit to list the built-ins.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List the methodology profiles with their settings, or show one in full."""
    from rich import box
    from rich.table import Table

    from carbonsink.accounting.profiles import list_profiles, load_profile

    if name_or_path is None:
        builtins = list_profiles()
        table = Table(
            title="methodology profiles (carbonsink profiles NAME for details)",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("setting", no_wrap=True)
        for item in builtins:
            table.add_column(item.name, min_width=len(item.name))
        rows: dict[str, list[str]] = {
            "rule": [p.uncertainty_rule for p in builtins],
            "allowable": [f"{p.allowable_uncertainty_pct:g} %" for p in builtins],
            "confidence": [f"{p.confidence:.0%}" for p in builtins],
            "GWP set": [p.gwp for p in builtins],
            "buffer": [f"{p.buffer_pct:g} %" for p in builtins],
            "leakage": [f"{p.leakage_pct:g} %" for p in builtins],
            "pools": [" ".join(p.pools) for p in builtins],
            "soil depth": [f"{p.soil_depth_cm} cm" for p in builtins],
        }
        for setting, values in rows.items():
            table.add_row(setting, *values)
        stdout.print(table)
        return
    profile = load_profile(name_or_path)
    table = Table(title=f"methodology profile {escape(profile.name)}", show_header=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    factors = "; ".join(
        f"{cls}: CH4 {f.ch4_t_ha_yr if f.ch4_t_ha_yr is not None else '-'} t/ha/yr, "
        f"N2O {f.n2o_t_ha_yr if f.n2o_t_ha_yr is not None else '-'} t/ha/yr ({f.source})"
        for cls, f in profile.default_factors.items()
    )
    for key, value in profile.settings().items():
        if key == "default_factors":
            value = factors or "none (CH4 and N2O must be configured)"
        elif key == "overrides":
            continue
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        table.add_row(key, escape(str(value)))
    stdout.print(table)


@app.command()
def versions() -> None:
    """Print the versions of carbonsink and the libraries it uses."""
    for name, value in show_versions().items():
        stdout.print(f"{name:>14}: {value}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``carbonsink`` command."""
    try:
        code = app(args=argv, prog_name="carbonsink", standalone_mode=False)
    except _ABORTS:
        stderr.print("aborted")
        code = 130
    except _USAGE_ERRORS as exc:
        cast(click.ClickException, exc).show()  # both kinds have click's show()
        code = EXIT_BAD_INPUT
    except CarbonSinkError as exc:
        for problem in getattr(exc, "problems", None) or (exc.problem,):
            stderr.print(f"[red]error[/red]: {escape(str(problem))}")
        if _state.debug:
            stderr.print(escape(traceback.format_exc()))
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        stderr.print("interrupted")
        code = 130
    except Exception as exc:
        if _state.debug:
            stderr.print(escape(traceback.format_exc()))
        stderr.print(
            f"[red]internal error[/red]: {escape(type(exc).__name__)}: {escape(str(exc))}\n"
            "This is a bug in carbonsink: please report it with the output of "
            "`carbonsink --debug ...` and `carbonsink versions`."
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else EXIT_OK)
