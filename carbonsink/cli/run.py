"""``carbonsink run``: the whole survey, the accounting, every output and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from carbonsink.accounting.ledger import Ledger

__all__ = ["run", "verify"]


def _print_claim(ledger: Ledger) -> None:
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    _ = i18n.gettext
    warning_label, note_label = _("warning"), _("note")
    for warning in ledger.warnings:
        stdout.print(
            f"[yellow]{warning_label}[/yellow] ({warning.code}): {escape(warning.message)}"
        )
    for note in ledger.notes:
        stdout.print(f"{note_label}: {escape(note)}")
    if ledger.single_epoch:
        return
    table = Table(
        title=_("credit chain ({profile}), t CO2e/yr").format(profile=escape(ledger.profile.name)),
        caption=_(
            "net = removals − non-CO2 (− leakage); tradable = net − deduction − buffer "
            "(docs/ledger.md)"
        ),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = (
        _("stratum"),
        _("removals"),
        _("non-CO2"),
        _("net"),
        _("net 90 % CI"),
        _("deduction"),
        _("buffer"),
        _("tradable"),
    )
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
    for stratum, row in ledger.strata.iterrows():
        rule = str(row["rule_applied"]).replace("-", "_")
        table.add_row(
            _("total") if stratum == "total" else str(stratum),
            f"{row['removals_t_co2e_yr']:,.1f}",
            f"{row['non_co2_t_co2e_yr']:,.1f}",
            f"{row['net_t_co2e_yr']:,.1f}",
            _("{low} to {high}").format(
                low=f"{row['net_p5_t_co2e_yr']:,.0f}", high=f"{row['net_p95_t_co2e_yr']:,.0f}"
            ),
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
        _(", worth {value} {currency}").format(
            value=f"{claim['value']:,.0f}", currency=claim["currency"]
        )
        if claim["value"] is not None
        else ""
    )
    line = _(
        "{claim}: {tradable} t CO2e tradable over {years} years ({per_year} t CO2e/yr; net "
        "{net}, 90 % CI {low} to {high}; rule {rule}){value}"
    ).format(
        claim="[green]" + _("claim") + "[/green]",
        tradable=f"{claim['tradable_t_co2e']:,.1f}",
        years=f"{claim['years']:.2f}",
        per_year=f"{claim['tradable_t_co2e_yr']:,.1f}",
        net=f"{claim['net_t_co2e_yr']:,.1f}",
        low=f"{claim['net_ci90_t_co2e_yr'][0]:,.1f}",
        high=f"{claim['net_ci90_t_co2e_yr'][1]:,.1f}",
        rule=claim["rule_applied"],
        value=value,
    )
    answer.print(line)


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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of the report and the terminal summary: en or zh-CN (default: the "
            "survey's [survey] language, else en).",
        ),
    ] = None,
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

    if lang is not None:
        lang = i18n.check_language(lang)  # a wrong tag stops before the preflight
    report = runnable_survey(survey)
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
            language=lang,
            executor=executor,
            preflight=report,
            progress=update,
        )
    assert result.manifest is not None
    cached = sum(1 for s in result.manifest["stages"] if s["cached"])
    with i18n.language(lang or report.survey.survey.language):
        _print_claim(result.ledger)
        _ = i18n.gettext
        from_cache = _(" ({n} stage(s) from the cache)").format(n=cached) if cached else ""
        done = _("{done} in {seconds} s{cached}: {files} files in {folder} — open {report}").format(
            done="[green]" + _("done") + "[/green]",
            seconds=f"{result.manifest['wall_seconds']:.0f}",
            cached=from_cache,
            files=len(result.written),
            folder=escape(str(folder.root)),
            report=escape(str(folder.path("report_html"))),
        )
    # The claim is the final line; a single epoch has none, so this one is.
    (answer if result.ledger.single_epoch else stdout).print(done)


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
