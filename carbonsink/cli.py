"""The ``carbonsink`` command line: thin typer commands over library functions.

Exit codes (DESIGN.md §7): 0 success, 2 bad input or configuration, 1 an
internal fault (traceback only with ``--debug``). Nothing imports this module.
"""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from carbonsink import __version__, show_versions
from carbonsink.errors import CarbonSinkError, Problem

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


def _print_problem(problem: Problem) -> None:
    colour = "red" if problem.severity == "error" else "yellow"
    stdout.print(f"[{colour}]{problem.severity}[/{colour}]: {escape(str(problem))}")


@app.command()
def validate(
    survey: Annotated[Path, typer.Argument(help="The survey TOML file.", show_default=False)],
) -> None:
    """Check every input of a survey (the preflight) and list ALL problems.

    Exits 0 when the survey is ready to run, 2 when any error was found.
    """
    from carbonsink.preflight import preflight

    with _progress() as progress:
        task = progress.add_task("checking the survey", total=None)
        report = preflight(
            survey,
            progress=lambda name: progress.update(task, description=f"checking {escape(name)}"),
        )
    for problem in [*report.errors, *report.warnings]:
        _print_problem(problem)
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
