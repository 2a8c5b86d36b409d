"""``carbonsink design``: how many cores and plots, and where, for the next monitoring epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from carbonsink import i18n
from carbonsink.cli._console import (
    EXIT_BAD_INPUT,
    SURVEY,
    answer,
    progress_bar,
    runnable_survey,
    stdout,
    step_progress,
)

__all__ = ["design"]


def design(
    survey: Annotated[Path, SURVEY],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output folder (default: design/ beside the survey file)."
        ),
    ] = None,
    target_u: Annotated[
        float,
        typer.Option(
            "--target-u",
            min=0.1,
            max=1000.0,
            help="Target U of the claim, % of the net (VM0033: 20).",
        ),
    ] = 20.0,
    budget_cores: Annotated[
        int | None,
        typer.Option("--budget-cores", min=0, help="Most soil cores the next epoch may take."),
    ] = None,
    budget_plots: Annotated[
        int | None,
        typer.Option("--budget-plots", min=0, help="Most biomass plots the next epoch may take."),
    ] = None,
    cost_core: Annotated[
        float, typer.Option("--cost-core", min=0.0, help="Cost of one core (any unit).")
    ] = 1.0,
    cost_plot: Annotated[
        float, typer.Option("--cost-plot", min=0.0, help="Cost of one plot (same unit).")
    ] = 1.0,
    budget_pairs: Annotated[
        int | None,
        typer.Option(
            "--budget-pairs",
            min=0,
            help="Most soil samples to measure by both organic-carbon methods when the lab "
            "method changed (0: none).",
        ),
    ] = None,
    cost_pair: Annotated[
        float,
        typer.Option("--cost-pair", min=0.0, help="Cost of one sample by both methods."),
    ] = 1.0,
    pair_sd: Annotated[
        float,
        typer.Option(
            "--pair-sd",
            min=0.1,
            max=100.0,
            help="SD of one sample's relative difference between the two methods, % "
            "(planning value).",
        ),
    ] = 10.0,
    years: Annotated[
        float | None,
        typer.Option(
            "--years",
            min=0.1,
            help="Years from the last epoch to the next (default: the last period's length).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="Processes for the survey's stages (1 = serial)."),
    ] = None,
) -> None:
    """Plan the next monitoring epoch: cores and plots per stratum to reach a target U.

    Runs the survey's stages and ledger (as `carbonsink run`, in memory), predicts
    the claim's U at the next epoch for more cores and plots by the ledger's own
    Monte Carlo (docs/methodology.md §9), follows the cheapest path to the target
    and writes OUT/design.gpkg (the sites, by priority), design.json and
    design.html (the U-against-effort curve and the expected gain).
    """
    from carbonsink.design.allocation import allocate
    from carbonsink.design.expected import design_basis, expected_claim
    from carbonsink.design.outputs import write_design
    from carbonsink.pipeline.executors import run_executor
    from carbonsink.pipeline.run import run_survey

    free = [
        name
        for name, value in (
            ("--cost-core", cost_core),
            ("--cost-plot", cost_plot),
            ("--cost-pair", cost_pair),
        )
        if value <= 0
    ]
    if free:
        # A unit at no cost would win every step while it lowers U at all, and its
        # doublings would spend the path: every unit costs something.
        answer.print(
            f"[red]problem[/red]: {', '.join(free)} is 0: the design weighs what each unit "
            "lowers U against its cost; fix: give every unit a cost above 0 (any unit, e.g. "
            "0.1 for samples already archived)"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    report = runnable_survey(survey)
    assert report.survey is not None
    if len(report.survey.epochs) < 2:
        answer.print(
            f"[red]problem[/red]: {escape(str(survey))} has one epoch: a design predicts the "
            "change, which needs two; fix: add the second epoch's data and run again"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    folder = out if out is not None else survey.parent / "design"
    with progress_bar() as progress, run_executor(workers, None) as executor:
        update = step_progress(progress, progress.add_task("run", total=1.0))
        result = run_survey(
            report.survey, None, executor=executor, preflight=report, progress=update
        )
    basis = design_basis(result, years=years)

    def said(line: str) -> None:
        stdout.print(escape(line))

    pair_fraction = pair_sd / 100.0  # the option is in per cent
    allocation = allocate(
        basis,
        target_u=target_u / 100.0,
        budget_cores=budget_cores,
        budget_plots=budget_plots,
        cost_core=cost_core,
        cost_plot=cost_plot,
        budget_pairs=budget_pairs,
        cost_pair=cost_pair,
        pair_sd=pair_fraction,
        progress=said,
    )
    chosen = allocation.chosen.expected
    said("what holds U: each group of inputs known exactly in turn")
    budget = expected_claim(
        basis, chosen.cores, chosen.plots, budget=True, pairs=chosen.pairs, pair_sd=pair_fraction
    ).ledger.extra["u_budget"]
    with i18n.language(report.survey.survey.language):
        written = write_design(basis, allocation, folder, budget=budget, pair_sd=pair_fraction)
    verdict = "reached" if allocation.reached else "not reached (lowest U found)"
    answer.print(
        f"target U {target_u:g} % {verdict}: {sum(chosen.cores.values())} cores, "
        f"{sum(chosen.plots.values())} plots"
        f"{f', {chosen.pairs} samples by both OC methods' if chosen.pairs else ''}"
        f" → U {100 * chosen.u:.1f} %, tradable "
        f"{chosen.tradable_t_co2e:,.1f} t CO2e at the next epoch; {len(written)} files in "
        f"{escape(str(folder))}"
    )
