"""``carbonsink imagery``: composites, spectral indices and land-cover classification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import EPOCH, OUT, SURVEY, print_written, progress_bar, stdout

__all__ = ["imagery_app"]

imagery_app = typer.Typer(
    help="Imagery: composites, spectral indices and land-cover classification.",
    no_args_is_help=True,
)


@imagery_app.command("indices")
def imagery_indices(
    survey: Annotated[Path, SURVEY],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
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
    from carbonsink.pipeline import RunContext, find_epoch
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.imagery import epoch_composite, write_index_layers

    ctx = RunContext.build(survey)
    chosen = find_epoch(ctx.survey, epoch)
    composite = epoch_composite(ctx, chosen, chunks=chunks)
    names = index or ["ndvi", "mndwi"]
    with progress_bar() as progress:
        task = progress.add_task("indices", total=1.0)

        def report(label: str, done: int, total: int) -> None:
            progress.update(task, description=f"writing {label}", completed=done / total)

        written = write_index_layers(composite, names, OutputFolder(out), progress=report)
    for flagged in composite.attrs.get("flagged_scenes", []):
        stdout.print(f"[yellow]warning[/yellow]: left out {escape(flagged)}")
    print_written(written)


@imagery_app.command("classify")
def imagery_classify(
    survey: Annotated[Path, SURVEY],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
) -> None:
    """Classify land cover of an epoch; write the map, probabilities, accuracy and areas.

    Writes OUT/landcover.tif (class codes with legend), OUT/landcover_p_<class>.tif,
    OUT/landcover_accuracy.json and OUT/tables/landcover_{confusion,areas,cv,samples}.csv.
    """
    from carbonsink.pipeline import RunContext, find_epoch
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.imagery import (
        epoch_composite,
        epoch_landcover,
        write_landcover_products,
    )

    ctx = RunContext.build(survey)
    chosen = find_epoch(ctx.survey, epoch)
    with progress_bar() as progress:
        task = progress.add_task("compositing", total=3.0)
        composite = epoch_composite(ctx, chosen).compute()
        progress.update(task, description="classifying", completed=1.0)
        result = epoch_landcover(ctx, chosen, composite)
        progress.update(task, description="writing", completed=2.0)
        written = write_landcover_products(ctx, result, OutputFolder(out))
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
    print_written(written)
