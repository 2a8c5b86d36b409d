"""The ``carbonsink`` command line: one module per command group, options only.

Each command parses its options, calls the library (:mod:`carbonsink.pipeline`
and the science packages) and prints what it got; nothing here computes.
Exit codes (docs/design.md §7): 0 success, 2 bad input or configuration, 1 an
internal fault (traceback only with ``--debug``). Nothing imports this package.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated, cast

import click
import typer
from rich.logging import RichHandler
from rich.markup import escape

from carbonsink import __version__
from carbonsink.cli._console import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    answer,
    state,
    stderr,
    stdout,
)
from carbonsink.cli._conventions import Command, Group
from carbonsink.cli.biomass import biomass_app
from carbonsink.cli.design import design
from carbonsink.cli.imagery import imagery_app
from carbonsink.cli.lidar import lidar_app
from carbonsink.cli.run import run, verify
from carbonsink.cli.soil import soil_app
from carbonsink.cli.survey import profiles, sample_data, validate, versions
from carbonsink.errors import CarbonSinkError
from carbonsink.pipeline.allocator import tune_allocator

__all__ = ["app", "main"]

# typer ≥ 0.25 vendors click (its exceptions derive from typer.TyperException);
# older releases raise click's own exceptions. Catch both.
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    {click.ClickException, getattr(typer, "TyperException", click.ClickException)}
)
_ABORTS: tuple[type[BaseException], ...] = tuple({click.exceptions.Abort, typer.Abort})

app = typer.Typer(
    name="carbonsink",
    cls=Group,
    help="Measure a wetland's carbon sink from imagery, drone LiDAR, biomass plots and soil "
    "cores, and turn it into an auditable carbon-credit claim.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain text: "[soil] depths_cm" is a TOML section, not markup.
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        answer.print(f"carbonsink {__version__}")
        raise typer.Exit(EXIT_OK)


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is when it writes.

    A handler keeping the stream it was made with would write to a closed one
    after a test (or an embedding program) swapped ``sys.stderr`` and back.
    """

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if quiet:
        level = logging.ERROR
    elif verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    handler: logging.Handler
    if stderr.is_terminal:
        handler = RichHandler(console=stderr, show_path=False, show_time=verbose >= 2)
    else:
        # Piped or redirected: one unwrapped line per message, no padding.
        handler = _StderrHandler()
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(message)s"
                if verbose >= 2
                else "%(levelname)s %(message)s"
            )
        )
    # The console shows ``level``; the package itself always passes WARNING, which
    # the stages' ledger warnings are captured from (pipeline.stages.logged).
    handler.setLevel(level)
    root = logging.getLogger("carbonsink")
    root.handlers = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(min(level, logging.WARNING))


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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors and the command's final line.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
) -> None:
    """carbonsink: wetland carbon sink and credit claims."""
    tune_allocator()
    state.debug = debug
    state.quiet = quiet
    stdout.quiet = quiet
    _configure_logging(verbose, quiet)


app.command(cls=Command)(validate)
app.command("sample-data", cls=Command)(sample_data)
app.add_typer(lidar_app, name="lidar")
app.add_typer(imagery_app, name="imagery")
app.add_typer(soil_app, name="soil")
app.add_typer(biomass_app, name="biomass")
app.command(cls=Command)(run)
app.command(cls=Command)(design)
app.command(cls=Command)(verify)
app.command(cls=Command)(profiles)
app.command(cls=Command)(versions)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``carbonsink`` command."""
    try:
        code = _main_code(argv)
    finally:  # a program calling main() twice gets the second call's flags only
        state.quiet = state.debug = False
        stdout.quiet = False
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _main_code(argv: list[str] | None) -> object:
    """Run the command line; its exit code (or None for success)."""
    code: object
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
        if state.debug:
            stderr.print(escape(traceback.format_exc()))
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        stderr.print("interrupted")
        code = 130
    except Exception as exc:
        if state.debug:
            stderr.print(escape(traceback.format_exc()))
        stderr.print(
            f"[red]internal error[/red]: {escape(type(exc).__name__)}: {escape(str(exc))}\n"
            "This is a bug in carbonsink: please report it with the output of "
            "`carbonsink --debug ...` and `carbonsink versions`."
        )
        code = EXIT_INTERNAL
    return code
