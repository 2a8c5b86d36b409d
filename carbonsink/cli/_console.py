"""What every command shares: the consoles, the progress bar, how problems and files are printed.

Exit codes (docs/design.md §7): 0 success, 2 bad input or configuration, 1
an internal fault (traceback only with ``--debug``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from carbonsink.errors import Problem

if TYPE_CHECKING:
    from carbonsink.preflight import PreflightReport

__all__ = [
    "EPOCH",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "OUT",
    "SURVEY",
    "answer",
    "checked_survey",
    "print_problem",
    "print_written",
    "progress_bar",
    "runnable_survey",
    "state",
    "stderr",
    "stdout",
    "step_progress",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2

#: What a command says on the way (tables, notes, warnings): hidden by ``-q``.
stdout = Console(highlight=False, soft_wrap=True)
#: What the command gives (its final line, the claim, errors, asked-for JSON): always shown.
answer = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

SURVEY = typer.Argument(help="The survey TOML file.", show_default=False)
EPOCH = typer.Option("--epoch", "-e", help="Epoch name (needed when the survey has several).")
OUT = typer.Option("--out", "-o", help="Output folder.")


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False


state = _State()


def progress_bar() -> Progress:
    """A transient progress bar on stderr (hidden with ``-q``)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=state.quiet,
    )


#: The run's own steps (:func:`carbonsink.pipeline.run.run_survey`): every other
#: message is a stage's finer progress within the current step.
_RUN_STEPS = ("epoch ", "accounting", "maps", "report")


def step_progress(progress: Progress, task: TaskID) -> Callable[[str, int, int], None]:
    """A run's progress callback that shows "step k of n: what" on ``task``.

    The bar advances with the run's steps (an epoch's stages, its bootstrap,
    the accounting, the outputs, the report); a stage's own messages replace
    the text after "step k of n" without moving the bar. ``"done"`` fills it.
    """
    step = ""

    def update(what: str, done: int, total: int) -> None:
        nonlocal step
        if what == "done":
            progress.update(task, description="done", completed=total, total=total)
        elif what.startswith(_RUN_STEPS):
            step = f"step {done + 1} of {total}"
            progress.update(
                task, description=f"{step}: {escape(what)}", completed=done, total=total
            )
        else:
            progress.update(task, description=f"{step}: {escape(what)}" if step else escape(what))

    return update


def print_written(paths: Iterable[Path]) -> None:
    """One ``wrote`` line per file (none with ``-q``)."""
    if state.quiet:
        return
    for path in paths:
        stdout.print(f"  wrote {escape(str(path))}")


def print_problem(problem: Problem) -> None:
    """A problem in one line, coloured by its severity."""
    colour = "red" if problem.severity == "error" else "yellow"
    (answer if problem.severity == "error" else stdout).print(
        f"[{colour}]{problem.severity}[/{colour}]: {escape(str(problem))}"
    )


def runnable_survey(survey: Path) -> PreflightReport:
    """The preflight report of a survey to run; exit 2 (nothing computed) when it has errors."""
    report = checked_survey(survey)
    if report.errors:
        answer.print(
            f"[red]{len(report.errors)} error(s)[/red] in {escape(str(survey))}: nothing was "
            "computed; fix them and run again."
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    assert report.survey is not None
    return report


def checked_survey(survey: Path, *, quick: bool = True, show: bool = True) -> PreflightReport:
    """The preflight report of a survey, with its problems printed.

    ``quick=False`` also decodes every point of every LiDAR file (``validate``);
    ``show=False`` prints nothing (``validate --json``); ``-q`` prints the
    errors only.
    """
    from carbonsink.preflight import preflight

    with progress_bar() as progress:
        task = progress.add_task("checking the survey", total=None)
        report = preflight(
            survey,
            progress=lambda name: progress.update(task, description=f"checking {escape(name)}"),
            quick=quick,
        )
    if show:
        for problem in report.errors if state.quiet else [*report.errors, *report.warnings]:
            print_problem(problem)
    return report
