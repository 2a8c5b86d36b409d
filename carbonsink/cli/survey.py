"""Survey-level commands: ``validate``, ``sample-data``, ``profiles`` and ``versions``."""

from __future__ import annotations

import re
from enum import StrEnum
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
)

if TYPE_CHECKING:
    from carbonsink.accounting.profiles import MethodologyProfile
    from carbonsink.errors import Problem

__all__ = ["profiles", "sample_data", "validate", "versions"]


def _problem_json(problem: Problem) -> dict[str, object]:
    """A problem as JSON: its file, line (when it names one), place, message and fix."""
    line = re.fullmatch(r"line (\d+)", problem.where or "")
    return {
        "severity": problem.severity,
        "file": problem.path,
        "line": int(line.group(1)) if line else None,
        "where": problem.where,
        "message": problem.message,
        "fix": problem.fix,
    }


def validate(
    survey: Annotated[Path, SURVEY],
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Check the LiDAR files' headers only, without decoding every point.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object (ok, every problem with its file, line and fix, the "
            "files checked, the grid) instead of text.",
        ),
    ] = False,
) -> None:
    """Check every input of a survey (the preflight) and list ALL problems.

    Every point of every LiDAR file is decoded (streamed) unless --quick.
    Exits 0 when the survey is ready to run, 2 when any error was found.
    """
    report = checked_survey(survey, quick=quick, show=not as_json)
    n_err, n_warn = len(report.errors), len(report.warnings)
    grid = report.grid
    if as_json:
        document = {
            "survey": str(survey),
            "ok": n_err == 0,
            "errors": n_err,
            "warnings": n_warn,
            "problems": [_problem_json(p) for p in report.problems],
            "checked": [str(p) for p in report.checked],
            "grid": None
            if grid is None
            else {
                "crs": grid.crs.to_string(),
                "resolution_m": grid.resolution,
                "height": grid.height,
                "width": grid.width,
                "bounds": list(grid.bounds),
            },
        }
        answer.print_json(data=document)
        if n_err:
            raise typer.Exit(EXIT_BAD_INPUT)
        return
    if n_err:
        answer.print(
            f"[red]{n_err} error(s)[/red], {n_warn} warning(s) in {escape(str(survey))}: "
            "fix the errors above, then run `carbonsink validate` again."
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    where = f"; grid {grid.height} x {grid.width} cells of {grid.resolution:g} m" if grid else ""
    answer.print(
        f"[green]ok[/green]: {escape(str(survey))} — {len(report.checked)} input file(s) "
        f"checked, {n_warn} warning(s){where}"
    )


class Scale(StrEnum):
    """Sizes of the synthetic survey."""

    small = "small"
    medium = "medium"
    large = "large"
    regional = "regional"


def sample_data(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write the survey into.", show_default=False)
    ],
    seed: Annotated[int, typer.Option(help="Random seed (same seed: identical files).")] = 20240830,
    scale: Annotated[
        Scale,
        typer.Option(
            help="small: the committed sample; medium/large/regional (≈ 210 km²): bigger "
            "surveys for benchmarks."
        ),
    ] = Scale.small,
    epochs: Annotated[
        int,
        typer.Option(
            help="2: epochs 2020 and 2025 (the committed sample); 3: a third epoch, 2028, "
            "with every per-epoch file and its truth (two monitoring periods).",
            metavar="<2|3>",
        ),
    ] = 2,
    planted_loss: Annotated[
        bool,
        typer.Option(
            "--planted-loss",
            help="With --epochs 3: clear-fell every poplar stand and burn the reed beds "
            "between 2025 and 2028, so that the true carbon stock of that period falls "
            "(a reversal).",
        ),
    ] = False,
    design: Annotated[
        Path | None,
        typer.Option(
            "--design",
            help="With --epochs 3: take the 2028 soil cores and biomass plots exactly at the "
            "points of this design file (the design.gpkg of `carbonsink design`: point layers "
            "cores and plots, any CRS) instead of the generator's own sampling design; the "
            "truth and every other file are unchanged. A point outside the boundary is an "
            "error; points in open water in 2028 are skipped with a warning.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a synthetic Junshan-like survey with its known truth."""
    from carbonsink.synthetic import generate_survey
    from carbonsink.synthetic.design_points import check_design_option
    from carbonsink.synthetic.parameters import epoch_specs

    # Refuse bad options before the progress bar starts (ConfigError: exit 2).
    epoch_specs(epochs, planted_loss=planted_loss, names=("--epochs", "--planted-loss"))
    check_design_option(design, epochs, names=("--design", "--epochs"))
    with progress_bar() as progress:
        task = progress.add_task("generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=escape(step), completed=fraction)

        summary = generate_survey(
            directory,
            seed=seed,
            scale=scale.value,
            progress=report,
            epochs=epochs,
            planted_loss=planted_loss,
            design=design,
        )
    if summary.design is not None:
        skipped = len(summary.design_skipped)
        stdout.print(
            f"the {summary.epochs[-1]} cores and plots are at the points of "
            f"{escape(str(summary.design))}"
            + (f" ({skipped} in open water skipped)" if skipped else "")
        )
    answer.print(f"[green]wrote[/green] {escape(str(summary.survey_path))}")
    stdout.print(f"try: carbonsink validate {escape(str(summary.survey_path))}")


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
            "confidence": [f"{p.confidence * 100:g} %" for p in builtins],
            "GWP set": [p.gwp for p in builtins],
            "buffer": [f"{p.buffer_pct:g} %" for p in builtins],
            "leakage": [f"{p.leakage_pct:g} %" for p in builtins],
            "pools": [" ".join(p.pools) for p in builtins],
            "soil depth": [f"{p.soil_depth_cm} cm" for p in builtins],
        }
        for setting, values in rows.items():
            table.add_row(setting, *values)
        answer.print(table)
        return
    profile = load_profile(name_or_path)
    table = Table(
        title=f"methodology profile {escape(profile.name)}",
        show_header=False,
        caption=escape(
            "Tags: [V] read in the cited source; [L] standard literature value, not "
            "re-checked; [U] uncertain, kept configurable (docs/methodology.md)."
        ),
    )
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in profile.settings().items():
        if key == "default_factors":
            value = _factors_text(profile) or "none (CH4 and N2O must be configured)"
        elif key == "overrides":
            continue
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        table.add_row(key, escape(str(value)))
    answer.print(table)


def _factors_text(profile: MethodologyProfile) -> str:
    """The default CH4 and N2O factors, a line per class, with their source."""

    def gas(name: str, value: float | None) -> str:
        return f"{name} not given (configure it)" if value is None else f"{name} {value:g} t/ha/yr"

    return "\n".join(
        f"{cls}: {gas('CH4', f.ch4_t_ha_yr)}, {gas('N2O', f.n2o_t_ha_yr)}. Source: {f.source}"
        for cls, f in profile.default_factors.items()
    )


def versions(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of name: version.")
    ] = False,
) -> None:
    """Print the versions of carbonsink, GDAL, PROJ and every library it uses."""
    from carbonsink import show_versions

    found = show_versions()
    if as_json:
        answer.print_json(data=found)
        return
    width = max(len(name) for name in found)
    for name, value in found.items():
        answer.print(f"{name:>{width}}: {escape(value)}")
