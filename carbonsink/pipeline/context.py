"""The run context: what every stage of a run shares, built once (docs/design.md §4).

A :class:`RunContext` holds the survey, the analysis grid and the inside
mask (from the boundary, read once — by the preflight when it ran), the seed
of every random step, the methodology profile, the executor and the progress
callback. Stages take it and hand plain parameters (grid, mask, seed, keyword
options from the survey's sections) to the science packages, which never see
the survey file. One seed means the same thing everywhere: the land-cover
classifier, the biomass models, the AGB bootstrap and the ledger's Monte
Carlo all take :attr:`RunContext.seed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import xarray as xr

from carbonsink.config import Epoch, Survey, TableEntry, load_survey
from carbonsink.errors import ConfigError, InputError
from carbonsink.grid import Grid
from carbonsink.i18n import Message, deferred
from carbonsink.io.vectors import Boundary, load_boundary
from carbonsink.schemas import TABLE_SCHEMAS

if TYPE_CHECKING:
    from carbonsink.accounting.profiles import MethodologyProfile
    from carbonsink.preflight import PreflightReport

__all__ = ["ProgressCallback", "RunContext", "find_epoch"]

logger = logging.getLogger(__name__)

#: Progress callback: ``(what, done, total)``.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run shares.

    Attributes
    ----------
    survey
        The validated survey.
    boundary
        The project boundary as read from its file (once).
    grid
        The analysis grid (the boundary in the survey CRS at its resolution).
    seed
        Seed of every random step (the survey's ``seed`` unless overridden).
    executor
        Where LiDAR tiles and bootstrap replicates run (``None``: serially).
    progress
        Called with ``(what, done, total)`` as stages advance.
    workdir
        Folder of the scratch files that the units of work exchange (the LiDAR
        point buckets): ``OUT/.staging/work`` in a run with an output folder,
        so that the workers of a cluster read them from the output folder's
        disk, which they share; ``None``: the system's temporary folder.
    """

    survey: Survey
    boundary: Boundary
    grid: Grid
    seed: int
    executor: Executor | None = None
    progress: ProgressCallback | None = None
    workdir: Path | None = None
    _tables: dict[Path, pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        survey: Survey | str | PathLike[str],
        *,
        seed: int | None = None,
        executor: Executor | None = None,
        progress: ProgressCallback | None = None,
        preflight: PreflightReport | None = None,
        workdir: Path | None = None,
    ) -> RunContext:
        """The context of a survey: boundary read once, grid built once.

        Parameters
        ----------
        survey
            The survey, or the path of its TOML file.
        seed
            Seed of every random step; default the survey's ``[survey] seed``.
        executor, progress, workdir
            See the attributes.
        preflight
            The survey's preflight report: its boundary and grid are reused
            (nothing is read again).

        Raises
        ------
        InputError
            The preflight found errors.
        """
        if not isinstance(survey, Survey):
            survey = load_survey(survey)
        if preflight is not None and preflight.errors:
            raise InputError(
                "the survey has problems:\n" + "\n".join(f"  {e}" for e in preflight.errors),
                fix="run `carbonsink validate` on the survey and fix every error",
            )
        if preflight is not None and preflight.grid is not None and preflight.boundary is not None:
            boundary, grid = preflight.boundary, preflight.grid
        else:
            section = survey.survey
            boundary = load_boundary(section.boundary, crs=section.boundary_crs)
            grid = Grid.from_boundary(
                boundary.to_crs(survey.crs), crs=survey.crs, resolution=section.resolution
            )
        chosen = survey.survey.seed if seed is None else seed
        if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 0:
            raise ConfigError(f"the seed is {chosen!r}", fix="give a whole number ≥ 0")
        return cls(
            survey=survey,
            boundary=boundary,
            grid=grid,
            seed=chosen,
            executor=executor,
            progress=progress,
            workdir=workdir,
        )

    @cached_property
    def inside(self) -> xr.DataArray:
        """Boolean ``(y, x)`` mask of the cells whose centre is inside the project boundary."""
        return self.grid.dataarray(
            self.grid.boundary_mask(self.boundary.to_crs(self.survey.crs)),
            name="inside_boundary",
            units="1",
            long_name="cell centre inside the project boundary",
        )

    @cached_property
    def cell_area_ha(self) -> xr.DataArray:
        """True area of every cell, ha."""
        return self.grid.dataarray(
            self.grid.cell_area_ha, name="cell_area_ha", units="ha", long_name="true cell area"
        )

    @cached_property
    def profile(self) -> MethodologyProfile:
        """The methodology profile with the survey's ``[accounting]`` overrides."""
        from carbonsink.accounting.profiles import load_profile

        section = self.survey.accounting
        return load_profile(
            section.profile,
            overrides=section.profile_overrides(),
            relative_to=self.survey.root,
        )

    @property
    def epochs(self) -> list[Epoch]:
        """The survey's epochs, earliest first."""
        return sorted(self.survey.epochs, key=lambda e: e.date)

    def points(self, entry: TableEntry) -> pd.DataFrame:
        """A point table of the survey (plots, cores, samples) with ``x``/``y`` in the survey CRS.

        The file's own coordinate columns (``lon``/``lat``, or ``x``/``y`` in
        its CRS) are replaced by the survey-CRS ``x``/``y``; every other column
        is kept, Chinese headers of the table's kind renamed
        (:mod:`carbonsink.io.header_aliases`); index ``line`` (the file's line
        numbers, or a workbook's row numbers; ``attrs`` say which). Each file
        is read once per context; callers get a copy.
        """
        from carbonsink.io.tables import read_point_table

        if entry.path not in self._tables:
            table = read_point_table(
                entry.path,
                target_crs=self.survey.crs,
                crs=entry.crs,
                kind=self._table_kind(entry),
                **entry.read_options(),
            )
            frame = pd.DataFrame(table.drop(columns=["geometry", "lon", "lat"], errors="ignore"))
            frame.attrs.update(table.attrs)
            frame["x"] = table.geometry.x.to_numpy()
            frame["y"] = table.geometry.y.to_numpy()
            self._tables[entry.path] = frame
        return self._tables[entry.path].copy()

    def _table_kind(self, entry: TableEntry) -> str | None:
        """Which table of an epoch the file of ``entry`` is (``"plots"``, ``"soil"``, ...),
        for its header aliases; ``None`` for a file no epoch names as a table."""
        for epoch in self.survey.epochs:
            for kind in TABLE_SCHEMAS:
                named = getattr(epoch, kind, None)
                if named is not None and named.path == entry.path:
                    return kind
        return None

    @cached_property
    def dom_choice(self) -> tuple[Literal["model", "ratio", "none"], Message]:
        """The survey's dead-organic-matter route and why: ``model``, ``ratio`` or ``none``.

        ``[biomass] dom_method = "auto"`` is resolved once, on the epoch with
        the fewest plots carrying ``agb_dead_g_m2`` (docs/methodology.md §2.3),
        so that every epoch takes the same route and the change of the pool is
        not a change of method.
        """
        from carbonsink.biomass.dom import DEAD_COLUMN, choose_dom_method, dom_plots

        counts = {
            epoch.name: len(dom_plots(self.points(epoch.plots)))
            for epoch in self.epochs
            if epoch.plots is not None
        }
        if not counts or max(counts.values()) == 0:
            return "none", deferred("no plot carries {column}", column=DEAD_COLUMN)
        carrying = [n for n in counts.values() if n > 0]
        return choose_dom_method(min(carrying), self.survey.biomass.dom_method)

    def report(self, what: str, done: int, total: int) -> None:
        """Tell the progress callback (if any) how far a stage is."""
        if self.progress is not None:
            self.progress(what, done, total)


def find_epoch(survey: Survey, name: str | None) -> Epoch:
    """The epoch called ``name`` (the only one when ``name`` is ``None``).

    Raises
    ------
    ConfigError
        No such epoch, or several and none named.
    """
    names = [e.name for e in survey.epochs]
    if name is None:
        if len(survey.epochs) == 1:
            return survey.epochs[0]
        raise ConfigError(
            f"the survey has {len(names)} epochs ({', '.join(names)})",
            fix="choose one with --epoch",
        )
    for epoch in survey.epochs:
        if epoch.name == name:
            return epoch
    raise ConfigError(f"no epoch {name!r} in the survey", fix=f"use one of {', '.join(names)}")
