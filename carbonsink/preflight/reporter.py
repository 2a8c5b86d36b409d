"""The preflight's report, and the bookkeeping every check shares.

:class:`PreflightReport` holds what the checks found; :class:`Reporter` is
the base of the checks (:mod:`.imagery`, :mod:`.tables`, the survey-wide ones
in :mod:`carbonsink.preflight`): how a problem is added, named and located,
whether a file exists, and whether a file's extent meets the boundary.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from carbonsink.config import (
    Survey,
)
from carbonsink.errors import CarbonSinkError, Problem, Severity
from carbonsink.grid import Grid
from carbonsink.io.vectors import Boundary, footprint_in

Progress = Callable[[str], None]


@dataclass
class PreflightReport:
    """What the preflight found.

    Attributes
    ----------
    survey
        The parsed survey, or ``None`` when the survey file itself is invalid.
    problems
        Every problem found, errors and warnings, in the order checked.
    checked
        The input files that were opened.
    grid
        The analysis grid, when the boundary and CRS allowed building it.
    boundary
        The project boundary as read (once) from its file, when it could be read.
    """

    survey: Survey | None
    problems: list[Problem] = field(default_factory=list)
    checked: list[Path] = field(default_factory=list)
    grid: Grid | None = None
    boundary: Boundary | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """``True`` when there is no error (warnings allowed)."""
        return not self.errors


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class Reporter:
    """The state of one preflight and how problems are recorded."""

    def __init__(
        self, survey: Survey, report: PreflightReport, progress: Progress, *, quick: bool
    ) -> None:
        self.survey = survey
        self.quick = quick
        self.report = report
        self.progress = progress
        self.root = survey.root
        self.source = str(survey.source) if survey.source else "survey"
        self.crs: CRS | None = None
        self.boundary: BaseGeometry | None = None
        self.class_names = set(survey.vegetation.classes)

    # ------------------------------------------------------------- helpers
    def name(self, path: Path) -> str:
        return _display(path, self.root)

    def add(self, problem: Problem) -> None:
        self.report.problems.append(problem)

    def error(
        self,
        message: str,
        *,
        path: Path | str | None,
        where: str | None = None,
        fix: str | None = None,
        severity: Severity = "error",
    ) -> None:
        shown = self.name(path) if isinstance(path, Path) else path
        self.add(Problem(message, path=shown, where=where, fix=fix, severity=severity))

    def warn(
        self,
        message: str,
        *,
        path: Path | str | None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.error(message, path=path, where=where, fix=fix, severity="warning")

    def failed(self, exc: CarbonSinkError, path: Path) -> None:
        p = exc.problem
        shown = self.name(Path(p.path)) if p.path else self.name(path)
        self.add(Problem(p.message, path=shown, where=p.where, fix=p.fix))

    def exists(self, path: Path, entry: str) -> bool:
        if path.is_file():
            self.report.checked.append(path)
            return True
        hint = ""
        if path.parent.is_dir():
            siblings = sorted(p.name for p in path.parent.iterdir() if p.suffix == path.suffix)
            close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
            if close:
                hint = f' (did you mean "{close[0]}"?)'
        self.error(
            "file does not exist",
            path=path,
            where=entry,
            fix=f"correct the path in the survey file{hint}; relative paths are read from "
            f"{self.root}",
        )
        return False

    # overlap -----------------------------------------------------------------
    def check_overlap(
        self, path: Path, crs: CRS, bounds: tuple[float, float, float, float], *, what: str
    ) -> bool:
        """Whether the file's extent overlaps the boundary (an error when it does not)."""
        if self.boundary is None or self.crs is None:
            return True
        footprint = footprint_in(bounds, crs, self.crs)
        if footprint is None:
            self.error(
                f"the {what}'s extent cannot be transformed from its CRS ({crs.name}) to the "
                f"analysis CRS ({self.crs.name}): PROJ cannot do it",
                path=path,
                fix='check the file\'s CRS (give the right one with crs = "EPSG:....")',
            )
            return False
        if not footprint.intersects(self.boundary):
            bx = tuple(round(v) for v in self.boundary.bounds)
            fx = tuple(round(v) for v in footprint.bounds)
            self.error(
                f"the {what} does not overlap the project boundary (its extent {fx} vs the "
                f"boundary {bx} in {self.crs.to_string()})",
                path=path,
                fix="check that this is the right file and that its CRS is right",
            )
            return False
        return True
