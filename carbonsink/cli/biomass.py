"""``carbonsink biomass``: fit the AGB models on the plots, and map AGB and vegetation carbon."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import EPOCH, OUT, SURVEY, answer, print_written, progress_bar, stdout
from carbonsink.cli._conventions import Command

if TYPE_CHECKING:
    from carbonsink.config import Epoch
    from carbonsink.pipeline import EpochCube, RunContext

__all__ = ["biomass_app"]

biomass_app = typer.Typer(
    help="Biomass: fit the AGB models on the plots, and map AGB and vegetation carbon.",
    no_args_is_help=True,
)


def _epoch_cube(survey: Path, epoch: str | None) -> tuple[RunContext, Epoch, EpochCube]:
    from carbonsink.pipeline import RunContext, epoch_cube, find_epoch

    with progress_bar() as progress:
        task = progress.add_task("cube", total=4.0)

        def report(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done)

        ctx = RunContext.build(survey, progress=report)
        chosen = find_epoch(ctx.survey, epoch)
        cube = epoch_cube(ctx, chosen)
    return ctx, chosen, cube


@biomass_app.command("fit", cls=Command)
def biomass_fit(
    survey: Annotated[Path, SURVEY],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
) -> None:
    """Fit the AGB models of an epoch, cross-validate them in spatial blocks, save them.

    Writes OUT/models/<epoch>/{imagery,lidar}.skops with JSON model cards,
    OUT/tables/biomass_cv_*.csv, OUT/biomass_cv_*.png (predicted vs observed)
    and the plots left out.
    """
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.biomass import epoch_biomass, write_biomass_products

    ctx, chosen, cube = _epoch_cube(survey, epoch)
    result = epoch_biomass(ctx, chosen, cube)
    folder = OutputFolder(out)
    written = write_biomass_products(result, folder, epoch=chosen.name)
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
            table = folder.path("table_plots_excluded", epoch=chosen.name, model=model.name)
            stdout.print(
                f"  {len(excluded)} plot(s) left out ({escape(summary)}): see "
                f"{escape(str(table.relative_to(out)))}"
            )
    stdout.print(escape(str(result.lidar_decision)))
    print_written(written)
    answer.print(
        f"[green]done[/green] ({chosen.name}): {len(result.candidates)} model(s) fitted; "
        f"{len(written)} files in {escape(str(out))}"
    )


@biomass_app.command("predict", cls=Command)
def biomass_predict(
    survey: Annotated[Path, SURVEY],
    models: Annotated[
        Path, typer.Option("--models", "-m", help="Folder of fitted models (biomass fit).")
    ],
    out: Annotated[Path, OUT],
    epoch: Annotated[str | None, EPOCH] = None,
) -> None:
    """Map AGB (with its interval), BGB and vegetation carbon with fitted models.

    Writes OUT/<layer>.tif for agb_mg_ha, its bounds, agb_model, agb_outside_aoa,
    bgb_mg_ha and veg_c_mg_ha (with bounds).
    """
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.stages.biomass import (
        load_biomass_models,
        map_biomass,
        write_biomass_layers,
    )

    predictors = load_biomass_models(models)  # fails fast, before any compute
    ctx, chosen, cube = _epoch_cube(survey, epoch)
    layers = map_biomass(ctx, cube, predictors)
    written, totals = write_biomass_layers(ctx, layers, OutputFolder(out))
    answer.print(
        f"[green]done[/green] ({chosen.name}): AGB {totals['agb_t_dm']:,.0f} t DM, vegetation "
        f"carbon {totals['veg_c_t_c']:,.0f} t C; {layers.attrs['outside_aoa_cells']} cells "
        "outside the area of applicability (predicted, flagged)"
    )
    print_written(written)
