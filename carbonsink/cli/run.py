"""``carbonsink run``: the whole survey, the accounting, every output and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import (
    EXIT_BAD_INPUT,
    SURVEY,
    answer,
    checked_survey,
    progress_bar,
    stdout,
    step_progress,
)

if TYPE_CHECKING:
    from carbonsink.accounting.ledger import Ledger

__all__ = ["run", "verify"]


def _print_claim(ledger: Ledger) -> None:
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    for warning in ledger.warnings:
        stdout.print(f"[yellow]warning[/yellow] ({warning.code}): {escape(warning.message)}")
    for note in ledger.notes:
        stdout.print(f"note: {escape(note)}")
    if ledger.single_epoch:
        return
    table = Table(
        title=f"credit chain ({escape(ledger.profile.name)}), t CO2e/yr",
        caption="net = removals − non-CO2 (− leakage); tradable = net − deduction − buffer "
        "(docs/ledger.md)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = (
        "stratum",
        "removals",
        "non-CO2",
        "net",
        "net 90 % CI",
        "deduction",
        "buffer",
        "tradable",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "stratum" else "right", no_wrap=True)
    for stratum, row in ledger.strata.iterrows():
        rule = str(row["rule_applied"]).replace("-", "_")
        table.add_row(
            str(stratum),
            f"{row['removals_t_co2e_yr']:,.1f}",
            f"{row['non_co2_t_co2e_yr']:,.1f}",
            f"{row['net_t_co2e_yr']:,.1f}",
            f"{row['net_p5_t_co2e_yr']:,.0f} to {row['net_p95_t_co2e_yr']:,.0f}",
            f"{row[f'deduction_{rule}_t_co2e_yr']:,.1f}",
            f"{row['buffer_t_co2e_yr']:,.1f}",
            f"{row['tradable_t_co2e_yr']:,.1f}",
        )
    # Never wrapped: a pipe or a narrow terminal gets the table whole.
    wide = Measurement.get(stdout, stdout.options.update(max_width=1_000), table).maximum
    if stdout.quiet:
        pass
    elif wide <= stdout.width:
        stdout.print(table)
    else:  # print() cannot exceed its console's width: a wider one on the same stream
        Console(
            file=stdout.file,
            width=wide,
            highlight=False,
            force_terminal=stdout.is_terminal,
            no_color=stdout.no_color,
        ).print(table)
    claim = ledger.to_dict()["claim"]
    value = (
        f", worth {claim['value']:,.0f} {claim['currency']}" if claim["value"] is not None else ""
    )
    answer.print(
        f"[green]claim[/green]: {claim['tradable_t_co2e']:,.1f} t CO2e tradable over "
        f"{claim['years']:.2f} years ({claim['tradable_t_co2e_yr']:,.1f} t CO2e/yr; net "
        f"{claim['net_t_co2e_yr']:,.1f}, 90 % CI {claim['net_ci90_t_co2e_yr'][0]:,.1f} to "
        f"{claim['net_ci90_t_co2e_yr'][1]:,.1f}; rule {claim['rule_applied']}){value}"
    )


def run(
    survey: Annotated[Path, SURVEY],
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
    ledger.json (docs/ledger.md), report.html, carbonsink.qgs (a QGIS project of
    every map, styled) with carbonsink.gpkg, and run.log, published as one set
    when complete: a failed run leaves the previous outputs as they were. An
    interrupted or repeated run reuses the finished stages (OUT/.cache) unless --fresh.
    """
    from carbonsink.pipeline.executors import run_executor
    from carbonsink.pipeline.outputs import OutputFolder
    from carbonsink.pipeline.run import run_survey

    report = checked_survey(survey)
    if report.errors:
        answer.print(
            f"[red]{len(report.errors)} error(s)[/red] in {escape(str(survey))}: nothing was "
            "computed; fix them and run again."
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    assert report.survey is not None
    folder = OutputFolder(out if out is not None else survey.parent / "out")
    with progress_bar() as progress, run_executor(workers, scheduler) as executor:
        update = step_progress(progress, progress.add_task("run", total=1.0))
        result = run_survey(
            report.survey,
            folder.root,
            seed=seed,
            resume=resume,
            pdf=pdf,
            executor=executor,
            preflight=report,
            progress=update,
        )
    _print_claim(result.ledger)
    assert result.manifest is not None
    cached = sum(1 for s in result.manifest["stages"] if s["cached"])
    # The claim is the final line; a single epoch has none, so this one is.
    (answer if result.ledger.single_epoch else stdout).print(
        f"[green]done[/green] in {result.manifest['wall_seconds']:.0f} s"
        f"{f' ({cached} stage(s) from the cache)' if cached else ''}: "
        f"{len(result.written)} files in {escape(str(folder.root))} — open "
        f"{escape(str(folder.path('report_html')))}"
    )


def verify(
    out: Annotated[
        Path,
        typer.Argument(help="Output folder of `carbonsink run`.", exists=True, file_okay=False),
    ],
) -> None:
    """Check an output folder against its manifest: every file's sha256, ledger ↔ manifest link.

    Exit 0 when the folder is one complete published set, 2 (listing every
    problem) when a file is missing or changed, or a run's publication was
    interrupted (run again to complete it).
    """
    from carbonsink.pipeline.publish import verify_outputs

    problems = verify_outputs(out)
    if problems:
        for problem in problems:
            answer.print(f"[red]problem[/red]: {escape(problem)}")
        raise typer.Exit(EXIT_BAD_INPUT)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    answer.print(
        f"[green]ok[/green]: {len(manifest.get('outputs', []))} outputs in {escape(str(out))} "
        f"match their sha256 in manifest.json; run {manifest.get('run_sha256')}"
    )
