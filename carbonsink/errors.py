"""Exceptions raised by carbonsink.

Every error says *where* (file, and row, band or key when known), *what* is
wrong and *how to fix it*. The classes also inherit the closest builtin so that
callers who catch ``ValueError`` or ``OSError`` keep working, the way
``rasterio.errors`` does. Nothing here imports the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CRSError",
    "CarbonSinkError",
    "ConfigError",
    "GridError",
    "InputError",
    "InputNotFoundError",
    "InputTableError",
    "ModelError",
    "OutputError",
    "PreflightError",
    "Problem",
    "SurveyFileError",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem found in an input, with its location and the fix.

    Parameters
    ----------
    message
        What is wrong, e.g. ``"bulk_density_g_cm3 is -0.4"``.
    path
        The file (or survey entry) the problem is in.
    where
        A location inside the file: ``"line 12"``, ``"band 3"``, ``"[survey].crs"``.
    fix
        What the user should do about it.
    severity
        ``"error"`` stops a run; ``"warning"`` is reported and the run goes on.
    """

    message: str
    path: str | None = None
    where: str | None = None
    fix: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        location = self.path or ""
        if self.where:
            location = f"{location}, {self.where}" if location else self.where
        text = f"{location}: {self.message}" if location else self.message
        if self.fix:
            text = f"{text} — fix: {self.fix}"
        return text


class CarbonSinkError(Exception):
    """Root of every error carbonsink raises on purpose.

    Parameters
    ----------
    message
        What is wrong.
    path
        The file concerned, if any.
    where
        Row, band, key or other location inside that file.
    fix
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = Problem(
            message=message,
            path=None if path is None else str(path),
            where=where,
            fix=fix,
        )
        super().__init__(str(self.problem))

    @property
    def path(self) -> Path | None:
        return None if self.problem.path is None else Path(self.problem.path)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through __init__ with the original keywords. Without a __reduce__ of
        # its own, an error that also inherits OSError (InputNotFoundError, OutputError)
        # is rebuilt by tblib's exception pickling (installed by dask.distributed for
        # errors raised in workers) with ValueError.__new__, which Python refuses.
        problem = self.problem
        rebuild = partial(type(self), path=problem.path, where=problem.where, fix=problem.fix)
        return (rebuild, (problem.message,), self.__dict__)


class ConfigError(CarbonSinkError, ValueError):
    """The survey file (or a profile file) is malformed or inconsistent."""


class SurveyFileError(ConfigError):
    """The survey file has one or more problems; all of them are in :attr:`problems`."""

    def __init__(self, problems: Sequence[Problem], *, path: str | PathLike[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the survey file:\n{lines}",
            path=path,
            fix="correct the survey file as listed and run `carbonsink validate` again",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # See PreflightError.__reduce__; ``path`` is keyword-only, hence the partial.
        return (partial(type(self), path=str(self.problem.path)), (self.problems,), self.__dict__)


class InputError(CarbonSinkError, ValueError):
    """An input file is unreadable, or its content is out of range or inconsistent."""


class InputTableError(InputError):
    """An input table has one or more problems; all of them are in :attr:`problems`."""

    def __init__(self, problems: Sequence[Problem], *, what: str = "input table") -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in the {what}:\n{lines}",
            path=self.problems[0].path if self.problems else None,
            fix="correct each line listed above",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # See PreflightError.__reduce__.
        return (type(self), (self.problems,), self.__dict__)


class InputNotFoundError(InputError, FileNotFoundError):
    """An input file named in the survey does not exist."""


class CRSError(CarbonSinkError, ValueError):
    """A coordinate reference system is missing, wrong or unsuitable."""


class GridError(CarbonSinkError, ValueError):
    """The analysis grid cannot be built, or data do not fit on it."""


class ModelError(CarbonSinkError, RuntimeError):
    """A model cannot be fitted or applied (too few samples, no overlap, ...)."""


class OutputError(CarbonSinkError, OSError):
    """An output cannot be written."""


class PreflightError(CarbonSinkError):
    """The preflight found problems; all of them are in :attr:`problems`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = "\n".join(f"  - {p}" for p in errors)
        super().__init__(
            f"{len(errors)} problem(s) in the survey inputs:\n{lines}",
            fix="correct each input listed above and run `carbonsink validate` again",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Default exception pickling calls ``cls(*self.args)``, i.e. with the
        # formatted message, which PreflightError(problems) cannot take; errors
        # raised in worker processes (dask, multiprocessing) must survive pickling.
        return (type(self), (self.problems,), self.__dict__)
