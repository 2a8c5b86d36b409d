"""``carbonsink imagery``: composites, spectral indices and land-cover classification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import EPOCH, OUT, SURVEY, answer, print_written, progress_bar, stdout
from carbonsink.cli._conventions import Command

__all__ = ["imagery_app"]

imagery_app = typer.Typer(
    help="Imagery: composites, spectral indices and land-cover classification.",
    no_args_is_help=True,
)


@imagery_app.command("indices", cls=Command)
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
    answer.print(
        f"[green]done[/green] ({chosen.name}): {', '.join(names)} and the usable-observation "
        f"count; {len(written)} files in {escape(str(out))}"
    )


@imagery_app.command("classify", cls=Command)
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
    answer.print(
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


@imagery_app.command("search", cls=Command)
def imagery_search(
    survey: Annotated[Path, SURVEY],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="The ItemCollection file to write (.json); the assets go to a folder of "
            "the same name beside it.",
        ),
    ],
    datetime: Annotated[
        str, typer.Option("--datetime", help="Date range, e.g. 2020-09-01/2020-09-30.")
    ],
    url: Annotated[str, typer.Option(help="STAC API root.")] = (
        "https://earth-search.aws.element84.com/v1"
    ),
    collection: Annotated[str, typer.Option(help="STAC collection.")] = "sentinel-2-l2a",
    sensor: Annotated[
        str, typer.Option(help="carbonsink sensor profile whose bands are downloaded.")
    ] = "sentinel-2-l2a",
    max_cloud: Annotated[
        float | None, typer.Option(help="Keep scenes with cloud cover below this, %.")
    ] = None,
    max_items: Annotated[int, typer.Option(help="At most this many scenes.")] = 20,
) -> None:
    """Find scenes over the survey's boundary in a STAC API, download their bands, keep the list.

    Writes OUT (an ItemCollection whose assets are the downloaded files) and
    OUT's folder of assets; name OUT as an imagery entry of the survey:
    imagery = [{ path = "OUT", sensor = "SENSOR" }].
    """
    from carbonsink.config import load_survey
    from carbonsink.io.scene_bands import get_sensor
    from carbonsink.io.stac_search import download_assets, search_items, write_item_collection
    from carbonsink.io.vectors import load_boundary

    loaded = load_survey(survey)
    section = loaded.survey
    boundary = load_boundary(section.boundary, crs=section.boundary_crs)
    west, south, east, north = boundary.to_crs("EPSG:4326").bounds
    items = search_items(
        url,
        collection=collection,
        bbox=(west, south, east, north),
        datetime=datetime,
        max_cloud_pct=max_cloud,
        max_items=max_items,
    )
    if not items:
        answer.print(f"no scene of {escape(collection)} over the survey in {escape(datetime)}")
        raise typer.Exit(1)
    profile = get_sensor(sensor)
    names = {*profile.bands.values(), *profile.bands}
    if profile.qa_band is not None:
        names.add(profile.qa_band)
    with progress_bar() as progress:
        task = progress.add_task("downloading", total=1.0)

        def report(name: str, done: int, total: int) -> None:
            progress.update(task, description=f"downloading {name}", completed=done / total)

        kept = download_assets(items, out.with_suffix(""), names, progress=report)
    written = write_item_collection(kept, out)
    answer.print(
        f"[green]done[/green]: {len(kept)} scene(s) over the survey "
        f"({', '.join(str(item.id) for item in kept)})"
    )
    print_written([written])
