"""``carbonsink soil``: core stocks (0–30, 0–100 cm) and the SOC map with its variance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import EPOCH, OUT, SURVEY, answer, print_written, progress_bar, stdout
from carbonsink.cli._conventions import Command

__all__ = ["soil_app"]

soil_app = typer.Typer(
    help="Soil: core stocks (0–30, 0–100 cm) and the SOC map with its variance.",
    no_args_is_help=True,
)


@soil_app.command("stocks", cls=Command)
def soil_stocks(
    survey: Annotated[Path, SURVEY],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
) -> None:
    """Stocks of every soil core at the survey's depths (Mg C/ha), with SE and flags.

    Writes OUT/tables/core_stocks_<epoch>.csv.
    """
    from carbonsink.pipeline import RunContext, find_epoch
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.soil import (
        epoch_core_stocks,
        soil_gap_warnings,
        write_core_stocks,
    )
    from carbonsink.soil.core_stocks import summarize_core_stocks

    ctx = RunContext.build(survey)
    chosen = find_epoch(ctx.survey, epoch)
    stocks = epoch_core_stocks(ctx, chosen)
    path = write_core_stocks(stocks, OutputFolder(out), epoch=chosen.name)
    assert chosen.soil is not None  # epoch_core_stocks refuses an epoch without one
    for warning in soil_gap_warnings(stocks, epoch=chosen.name, path=chosen.soil.path.name):
        stdout.print(f"[yellow]{warning.code}[/yellow]: {escape(warning.message)}")
    for row in summarize_core_stocks(stocks, ctx.survey.soil.depths_cm).itertuples():
        stdout.print(
            f"0–{row.Index} cm: {row.cores} cores, mean {row.mean_mg_ha:.1f} Mg C/ha "
            f"(range {row.min_mg_ha:.1f}–{row.max_mg_ha:.1f}); {row.extrapolated} "
            "extrapolated below the deepest sample"
        )
    answer.print(f"  wrote {escape(str(path))}")


@soil_app.command("map", cls=Command)
def soil_map(
    survey: Annotated[Path, SURVEY],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
    depth: Annotated[float, typer.Option(help="Stock depth, cm (one of [soil] depths_cm).")] = 30.0,
) -> None:
    """Map SOC stock (Mg C/ha) with prediction variance and a 90 % interval.

    Regression kriging on the epoch composite's NDVI and MNDWI, or ordinary
    kriging ([soil] prediction). Writes OUT/soc_0_<depth>_mg_ha{,_variance,_lower,_upper}.tif
    and OUT/tables/soc_cv_<epoch>.csv (leave-one-out predictions).
    """
    from carbonsink.pipeline import RunContext, find_epoch
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.soil import epoch_soil_map, write_soil_map

    with progress_bar() as progress:
        task = progress.add_task("core stocks", total=4.0)

        def report(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done)

        ctx = RunContext.build(survey, progress=report)
        chosen = find_epoch(ctx.survey, epoch)
        result = epoch_soil_map(ctx, chosen, depth_cm=depth)
        written = write_soil_map(result, OutputFolder(out), epoch=chosen.name)
    cv = result.cv
    label = f"{depth:g}"
    answer.print(
        f"[green]done[/green]: {len(result.stocks)} cores; total SOC 0–{label} cm "
        f"{result.total_t_c:,.0f} t C; leave-one-out RMSE {cv.rmse_mg_ha:.1f} Mg C/ha, "
        f"R² {cv.r2:.2f}, {cv.interval:.0%} interval coverage {cv.coverage:.0%}"
    )
    print_written(written)
