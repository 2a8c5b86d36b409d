"""Survey-level commands: ``validate``, ``sample-data``, ``profiles`` and ``versions``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from carbonsink.cli._console import EXIT_BAD_INPUT, SURVEY, checked_survey, progress_bar, stdout

__all__ = ["profiles", "sample_data", "validate", "versions"]


def validate(
    survey: Annotated[Path, SURVEY],
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Check the LiDAR files' headers only, without decoding every point.",
        ),
    ] = False,
) -> None:
    """Check every input of a survey (the preflight) and list ALL problems.

    Every point of every LiDAR file is decoded (streamed) unless --quick.
    Exits 0 when the survey is ready to run, 2 when any error was found.
    """
    report = checked_survey(survey, quick=quick)
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
) -> None:
    """Write a synthetic Junshan-like survey with its known truth."""
    from carbonsink.synthetic import generate_survey

    with progress_bar() as progress:
        task = progress.add_task("generating", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=escape(step), completed=fraction)

        summary = generate_survey(directory, seed=seed, scale=scale.value, progress=report)
    stdout.print(f"[green]wrote[/green] {escape(str(summary.survey_path))}")
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


def versions() -> None:
    """Print the versions of carbonsink and the libraries it uses."""
    from carbonsink import show_versions

    for name, value in show_versions().items():
        stdout.print(f"{name:>14}: {value}")
