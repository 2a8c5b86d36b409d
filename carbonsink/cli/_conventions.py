"""Command-line conventions typer does not follow by itself.

* ``--help`` names arguments by an upper-case metavar (``SURVEY``), plain in
  the usage line (``carbonsink run [OPTIONS] SURVEY``), and shows no type for
  a flag (typer ≥ 0.25 prints ``<bool>`` beside ``--pdf``).
* The global options (``-q``, ``-v``, ``--debug``) may come before or after
  the subcommand: ``carbonsink run SURVEY -q`` is ``carbonsink -q run SURVEY``.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

__all__ = ["GLOBAL_FLAGS", "Command", "Group", "hoist_global_flags"]

#: The root's options that take no value, accepted anywhere before ``--`` (short ones
#: also combined: ``-vv``, ``-qv``).
GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose", "--debug", "--version"})
_SHORT = frozenset("qv")


def _is_global(arg: str) -> bool:
    """A global flag: ``-q``, ``-v``, ``-vv``, ``-qv`` …, or a long one of :data:`GLOBAL_FLAGS`."""
    if arg in GLOBAL_FLAGS:
        return True
    return len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) <= _SHORT


def hoist_global_flags(args: list[str]) -> list[str]:
    """The global flags moved in front of the subcommand, the rest in order.

    Everything after a ``--`` is left where it is (a file named ``-q`` stays
    an argument).

    Examples
    --------
    >>> hoist_global_flags(["run", "survey.toml", "-q"])
    ['-q', 'run', 'survey.toml']
    >>> hoist_global_flags(["lidar", "metrics", "-vv", "s.toml", "--", "-q"])
    ['-vv', 'lidar', 'metrics', 's.toml', '--', '-q']
    """
    end = args.index("--") if "--" in args else len(args)
    head, tail = args[:end], args[end:]
    flags = [a for a in head if _is_global(a)]
    return [*flags, *(a for a in head if not _is_global(a)), *tail]


class Group(TyperGroup):
    """The root command group: global flags accepted anywhere before ``--``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_flags(list(args)))


class Command(TyperCommand):
    """A command whose help shows ``SURVEY``-style arguments and no type for flags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar is None and param.name:
                param.metavar = param.name.upper()
            elif isinstance(param, TyperOption) and (param.is_flag or param.count):
                param.metavar = ""  # typer shows the metavar instead of "<bool>"/"<int>"

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, TyperArgument):
                continue
            name = param.metavar or (param.name or "").upper()
            if param.nargs != 1:
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
        return pieces
