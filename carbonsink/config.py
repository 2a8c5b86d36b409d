"""The survey file: typed models, loading, path resolution and validation.

A survey is one TOML file (docs/design.md §3). :func:`load_survey` parses it into a
:class:`Survey` — frozen pydantic models with every default from
docs/methodology.md — and reports *every* problem at once: unknown keys (with the
nearest valid key), wrong types, out-of-range values, unreadable CRSs. Relative
paths resolve against the survey file's folder. This module never opens the
data files themselves; :mod:`carbonsink.preflight` does.
"""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import tomllib
import typing
import unicodedata
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pyproj import CRS

from carbonsink.accounting.non_co2 import GwpSet
from carbonsink.accounting.profiles import CapGroup
from carbonsink.config_base import FrozenModel as _Model
from carbonsink.config_problems import problem_from_error
from carbonsink.config_vegetation import DEFAULT_CLASSES, VegetationClass, VegetationSection
from carbonsink.crs import as_crs
from carbonsink.errors import InputNotFoundError, Problem, SurveyFileError
from carbonsink.io.files import (
    checked_encoding,
    checked_sheet,
    file_name_problem,
    table_options_problem,
)

__all__ = [
    "DEFAULT_CLASSES",
    "OM_TO_OC_METHODS",
    "SENSORS",
    "AccountingSection",
    "BiomassSection",
    "CheckpointEntry",
    "Epoch",
    "ImageryEntry",
    "LidarEntry",
    "SoilSection",
    "Survey",
    "SurveySection",
    "TableEntry",
    "VegetationClass",
    "VegetationSection",
    "WaterEvidenceEntry",
    "load_survey",
]

SensorName = Literal["sentinel-2-l2a", "landsat-c2-l2", "landsat8-l1", "generic"]
#: Sensor profiles a survey may name (the imagery stage defines each).
SENSORS: tuple[str, ...] = typing.get_args(SensorName)
BiomassModelName = Literal["random-forest", "quantile-forest", "gradient-boosting", "allometric"]
OmToOcMethod = Literal["dichromate", "van-bemmelen", "pribyl", "vm0033", "site-regression"]
#: Organic matter -> organic carbon conversions (docs/methodology.md §3).
OM_TO_OC_METHODS: tuple[str, ...] = typing.get_args(OmToOcMethod)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Percent = Annotated[float, Field(ge=0.0, le=100.0)]


def _root(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("root", "."))


#: A path, required or optional.
_MaybePath = typing.TypeVar("_MaybePath", Path, Path | None)


def _resolved(value: _MaybePath, info: ValidationInfo) -> _MaybePath:
    """A relative path against the survey file's folder (absolute and ``None`` as given)."""
    return value if value is None or value.is_absolute() else _root(info) / value


def _check_crs_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        as_crs(value)
    except Exception as exc:
        raise ValueError(
            f"{value!r} is not a CRS pyproj can read; give an EPSG code such as "
            '"EPSG:32649" or a WKT string'
        ) from exc
    return value


class FileEntry(_Model):
    """An input file, with a CRS that overrides or completes the file's own."""

    path: Path
    crs: str | None = None

    @field_validator("path", mode="after")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved(value, info)

    @field_validator("crs")
    @classmethod
    def _crs_readable(cls, value: str | None) -> str | None:
        return _check_crs_text(value)


class TableEntry(FileEntry):
    """A table of points (plots, soil cores, land-cover samples): CSV, Excel or GeoPackage.

    CSV files and workbooks carry no CRS, so ``crs`` is required for them
    (checked by the preflight). ``layer`` chooses the layer of a GeoPackage,
    ``sheet`` the sheet of an ``.xlsx`` workbook (its name, or its number
    from 1; the first sheet when left out) and ``encoding`` the text encoding
    of a CSV file (a Python codec name such as ``"gbk"``; UTF-8 when left out).
    """

    layer: str | None = None
    sheet: Annotated[str | int | None, BeforeValidator(checked_sheet)] = None
    encoding: Annotated[str | None, AfterValidator(checked_encoding)] = None

    def read_options(self) -> dict[str, Any]:
        """How to read the file: ``layer``, ``sheet`` and ``encoding``, as keyword
        arguments of :func:`carbonsink.io.tables.read_table`."""
        return {"layer": self.layer, "sheet": self.sheet, "encoding": self.encoding}

    @model_validator(mode="after")
    def _options_fit_the_file(self) -> TableEntry:
        options = {k: v for k, v in self.read_options().items() if v is not None}
        problem = table_options_problem(self.path, **options)
        if problem:
            raise ValueError(problem)
        return self


class CheckpointEntry(TableEntry):
    """Surveyed ground points (RTK GNSS) of an epoch to check the LiDAR DTM against.

    Columns ``x``, ``y``, ``z`` (m) and an optional ``class`` (a vegetation
    class; else the epoch's land-cover map there). ``vertical_datum`` names
    the heights' datum, which must be the point clouds' (no geoid model is
    applied); ``correct`` subtracts each class's mean DTM error from the
    epoch's terrain and adds it to its heights (docs/methodology.md §8.8).
    """

    vertical_datum: Annotated[str, Field(min_length=1)]
    correct: bool = True


class WaterEvidenceEntry(_Model):
    """Where water stood at the epoch's LiDAR flight, as the survey knows it.

    ``polygons`` is a vector file of water surfaces (drawn in the field or from
    the flight's photographs; ``crs`` and ``layer`` as for the boundary);
    ``imagery = true`` takes the water mask of the epoch's composite (MNDWI >
    ``mndwi_threshold``). Inside the evidence a level surface is water
    whatever its intensity; the agreement of the LiDAR's water with each
    source goes into the LiDAR QA and the ledger (docs/methodology.md §8.1).
    """

    polygons: Path | None = None
    crs: str | None = None
    layer: str | None = None
    imagery: bool = False
    mndwi_threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0

    @field_validator("polygons", mode="after")
    @classmethod
    def _resolve(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolved(value, info)

    @field_validator("crs")
    @classmethod
    def _crs_readable(cls, value: str | None) -> str | None:
        return _check_crs_text(value)

    @model_validator(mode="after")
    def _some_evidence(self) -> WaterEvidenceEntry:
        if self.polygons is None and not self.imagery:
            raise ValueError(
                'water_evidence names no evidence: give polygons = "water.gpkg", '
                "imagery = true, or both (or remove water_evidence)"
            )
        idle = [k for k in ("crs", "layer") if getattr(self, k) is not None]
        threshold = not self.imagery and self.mndwi_threshold != 0.0
        for wrong, what, source in (
            (self.polygons is None and idle, " and ".join(idle), 'no polygons = "water.gpkg"'),
            (threshold, "mndwi_threshold", "no imagery = true"),
        ):
            if wrong:
                raise ValueError(f"water_evidence gives {what} but {source}: add it or remove them")
        return self


class ImageryEntry(FileEntry):
    """One image (scene) of an epoch."""

    sensor: SensorName
    date: dt.date | None = None
    #: Explicit band map, e.g. ``{ red = 3, nir = 4 }`` (required for ``generic``).
    bands: dict[str, Annotated[int, Field(ge=1)]] | None = None
    #: Landsat Level-1 metadata file (``*_MTL.txt``), for ``landsat8-l1``.
    mtl: Path | None = None

    @field_validator("mtl", mode="after")
    @classmethod
    def _resolve_mtl(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolved(value, info)

    @model_validator(mode="after")
    def _sensor_needs(self) -> ImageryEntry:
        if self.sensor == "generic" and not self.bands:
            raise ValueError(
                'sensor "generic" needs a band map, e.g. bands = { blue = 1, green = 2, '
                "red = 3, nir = 4 }"
            )
        if self.sensor == "landsat8-l1" and self.mtl is None:
            raise ValueError('sensor "landsat8-l1" needs its metadata file: mtl = "..._MTL.txt"')
        return self


class LidarEntry(FileEntry):
    """Point-cloud files of an epoch; ``path`` may be a glob such as ``lidar/2020/*.laz``."""

    #: ``classify`` runs the ground filter; ``trust`` uses the files' ground class (2).
    ground: Literal["classify", "trust"] = "classify"

    def files(self) -> list[Path]:
        """The files the path or glob matches, sorted (empty when none match)."""
        text = str(self.path)
        if glob.has_magic(text):
            matches = glob.glob(text)  # noqa: PTH207 (absolute patterns)
            return sorted(Path(p) for p in matches if Path(p).is_file())
        return [self.path] if self.path.is_file() else []


class Epoch(_Model):
    """One survey date: the inputs measured at that time."""

    name: Annotated[str, Field(min_length=1)]
    date: dt.date
    imagery: list[ImageryEntry] = Field(default_factory=list)
    lidar: list[LidarEntry] = Field(default_factory=list)
    plots: TableEntry | None = None
    soil: TableEntry | None = None
    landcover_samples: TableEntry | None = None
    checkpoints: CheckpointEntry | None = None
    water_evidence: WaterEvidenceEntry | None = None

    @field_validator("name")
    @classmethod
    def _name_fits_a_file_name(cls, value: str) -> str:
        problem = file_name_problem(value)
        if problem:
            raise ValueError(f"epoch name {problem} (it names the epoch's output files)")
        return value

    @model_validator(mode="after")
    def _one_lidar_setting(self) -> Epoch:
        settings = {(str(entry.crs), entry.ground) for entry in self.lidar}
        if len(settings) > 1:
            listed = ", ".join(f"crs {c}, ground {g}" for c, g in sorted(settings))
            raise ValueError(
                f"the LiDAR entries have different crs or ground settings ({listed}); one run "
                "of the LiDAR chain takes one of each: give every LiDAR entry of the epoch the "
                "same crs and ground (or merge them)"
            )
        return self

    @model_validator(mode="after")
    def _checkpoints_need_lidar(self) -> Epoch:
        if self.checkpoints is not None and not self.lidar:
            raise ValueError(
                "checkpoints check the epoch's LiDAR terrain, but the epoch has no lidar "
                "entry: add the epoch's point clouds (lidar = [...]) or remove checkpoints"
            )
        return self

    @model_validator(mode="after")
    def _water_evidence_needs_lidar(self) -> Epoch:
        if self.water_evidence is not None and not self.lidar:
            raise ValueError(
                "water_evidence supports the LiDAR's water detection, but the epoch has no "
                "lidar entry: add the epoch's point clouds (lidar = [...]) or remove "
                "water_evidence"
            )
        if self.water_evidence is not None and self.water_evidence.imagery and not self.imagery:
            raise ValueError(
                "water_evidence.imagery = true takes the water mask of the epoch's imagery, but "
                "the epoch has none: add imagery = [...] or set imagery = false"
            )
        return self

    @property
    def year_fraction(self) -> float:
        """The date as a decimal year (for rates between epochs)."""
        start = dt.date(self.date.year, 1, 1)
        days = (dt.date(self.date.year + 1, 1, 1) - start).days
        return self.date.year + (self.date - start).days / days


class SurveySection(_Model):
    """``[survey]``: name, analysis CRS and grid, project boundary, seed."""

    name: Annotated[str, Field(min_length=1)]
    #: Analysis CRS: projected, metres (checked against the boundary by the preflight).
    crs: str
    #: Analysis grid cell size in metres.
    resolution: Annotated[float, Field(gt=0.0, le=10_000.0)] = 10.0
    boundary: Path
    #: CRS of the boundary file when it has none or a wrong one.
    boundary_crs: str | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    #: Language of the report and the terminal summary (``en``, ``zh-CN``; carbonsink.i18n).
    #: A presentation choice: it changes no number and no hash of the run.
    language: str = "en"

    @field_validator("name")
    @classmethod
    def _name_printable(cls, value: str) -> str:
        # The name titles the report, the PDF's pages and the QGIS project, whose XML
        # cannot hold a control character (a tab or line break copied from a spreadsheet).
        if not value.strip() or any(unicodedata.category(c).startswith("C") for c in value):
            raise ValueError(
                f"the survey name {value!r} is blank or holds control characters (tab, line "
                "break, …): give a printable name"
            )
        return value

    @field_validator("language")
    @classmethod
    def _language_supported(cls, value: str) -> str:
        from carbonsink.errors import ConfigError
        from carbonsink.i18n import check_language

        try:
            return check_language(value)
        except ConfigError as exc:
            raise ValueError(f"{exc.problem.message}: {exc.problem.fix}") from None

    @field_validator("boundary", mode="after")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved(value, info)

    @field_validator("crs", "boundary_crs")
    @classmethod
    def _crs_readable(cls, value: str | None) -> str | None:
        return _check_crs_text(value)


class BiomassSection(_Model):
    """``[biomass]``: the above-ground biomass model (docs/methodology.md §2)."""

    #: Default ``random-forest`` (out-of-bag residual intervals): with ~80 plots of which
    #: a dozen are high-biomass poplar, the quantile forest's leaves of 10 average the
    #: rare class away (synthetic survey spatial-CV R² 0.47/0.36 against 0.88/0.94).
    model: BiomassModelName = "random-forest"
    #: Spatial-CV block size in metres; ``None`` = residual variogram range, else 200 m.
    cv_block_m: Annotated[float, Field(gt=0.0)] | None = None
    #: Central prediction interval reported per pixel.
    interval: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.90
    n_estimators: Annotated[int, Field(ge=10, le=5000)] = 300
    #: Spatial-block bootstrap replicates of the AGB map totals, for the ledger's
    #: Monte Carlo (docs/methodology.md §6.4 asks 200–1,000).
    bootstrap_replicates: Annotated[int, Field(ge=20, le=5000)] = 200
    #: Trees of each bootstrap refit (fewer trees add a little noise to every
    #: replicate, which widens, never narrows, the interval; 50 keeps 200 replicates
    #: at the cost of 100 full-size ones).
    bootstrap_trees: Annotated[int, Field(ge=10, le=5000)] = 50
    #: The bootstrap runs over the strata without a residual correction, whose
    #: draws take its spread; ``true`` bootstraps every stratum, so that the
    #: ledger shows each key's model-fit SD beside its correction's SE (for
    #: comparison only: it moves no claim; docs/methodology.md §6.4).
    bootstrap_comparison: bool = False
    #: Dead organic matter from the plots' ``agb_dead_g_m2``: ``auto`` models it
    #: like AGB when at least 40 plots carry it, else takes dead:live ratios per
    #: class; ``model`` or ``ratio`` force a route (docs/methodology.md §2.3).
    dom_method: Literal["auto", "model", "ratio"] = "auto"


class SoilSection(_Model):
    """``[soil]``: depths, OM -> OC conversion and depth harmonisation (docs/methodology.md §3)."""

    depths_cm: list[Annotated[float, Field(gt=0.0, le=500.0)]] = Field(
        default_factory=lambda: [30.0, 100.0], min_length=1
    )
    om_to_oc: OmToOcMethod = "dichromate"
    interpolation: Literal["spline", "linear"] = "spline"
    #: Smoothing parameter of the equal-area spline (Bishop et al. 1999 use 0.1).
    spline_lambda: Annotated[float, Field(gt=0.0)] = 0.1
    #: SOC map: ordinary kriging of the core stocks, or regression kriging on cube
    #: covariates (which needs covariates that cover the whole survey).
    prediction: Literal["regression-kriging", "ordinary-kriging"] = "ordinary-kriging"
    #: SD of the bias between two epochs' organic-carbon lab methods when they
    #: differ (e.g. CHN dry combustion, then dichromate 有机质), % of the later
    #: epoch's SOC stock; it enters the Monte Carlo (docs/methodology.md §3.2) [U].
    method_bias_sd_pct: Annotated[float, Field(ge=0.0, le=50.0)] = 5.0
    #: Soil samples measured by both organic-carbon methods (``sample_id``,
    #: ``method``, ``soc_pct``/``om_pct``/``om_g_kg``; two rows per sample): the
    #: run measures the later method's bias from them, corrects that method's OC
    #: and replaces ``method_bias_sd_pct`` by the SD left (docs/methodology.md §3.2,
    #: eq. 3.3b). No coordinates; ``crs`` is not used.
    method_pairs: TableEntry | None = None
    #: How the ledger compares the epochs' SOC: at equivalent soil mass (the
    #: default; bulk densities are measured in every epoch) or at fixed depth
    #: (docs/methodology.md §3.4).
    change: Literal["equivalent-mass", "fixed-depth"] = "equivalent-mass"
    #: Organic carbon of the sediment the floods deposit (e.g. from sediment
    #: traps), % of dry mass: the allochthonous carbon deducted per core is the
    #: accreted mass × this (docs/methodology.md §3.11); ``None``: all the
    #: carbon measured in the accreted layer (conservative).
    sediment_oc_pct: Annotated[float, Field(ge=0.0, le=60.0)] | None = None
    #: SD of ``sediment_oc_pct`` (% OC), common to every core; ``None``: 25 % of it [U].
    sediment_oc_sd_pct: Annotated[float, Field(ge=0.0)] | None = None
    #: Measured share of a stratum's SOC gain that is allochthonous (e.g. from δ13C
    #: mixing models), used when the cores record no accretion (docs/methodology.md §3.11).
    allochthonous_fraction: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    #: SD of ``allochthonous_fraction``; ``None``: 25 % of it [U].
    allochthonous_fraction_sd: Annotated[float, Field(ge=0.0)] | None = None
    #: A blank bulk density: a problem of the table (``"error"``), or estimated from the
    #: layer's organic matter with the ideal-mixing model (``"pedotransfer"``; Morris et
    #: al. 2016, its error in the stock SE; docs/methodology.md §3.1a).
    bulk_density_gaps: Literal["error", "pedotransfer"] = "error"
    #: Rows without depth or carbon value and cores whose intervals overlap: a problem
    #: of the table (``"error"``), or left out and listed (``"exclude"``).
    incomplete_cores: Literal["error", "exclude"] = "error"

    @field_validator("depths_cm")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError(f"depths_cm {value} must increase, e.g. [30, 100]")
        return value


class AccountingSection(_Model):
    """``[accounting]``: methodology profile and overrides (docs/methodology.md §4–§6)."""

    #: Built-in profile name (``vm0033``, ``ar-tool14``, ``lower-bound``,
    #: ``local-voluntary``) or a path to a profile file.
    profile: str = "vm0033"
    gwp: GwpSet | None = None
    buffer_pct: Percent | None = None
    leakage_pct: Percent | None = None
    baseline_removals_t_co2e_yr: float = 0.0
    price_cny_per_t: Annotated[float, Field(ge=0.0)] | None = None
    mc_draws: Annotated[int, Field(ge=1000, le=10_000_000)] = 10_000
    #: The project's 100-year benefit of a pool group, t CO2e: its projected stock
    #: 100 years after the first epoch less the baseline's (from the project's own
    #: projection). A profile with a ``hundred_year_cap`` caps the group's cumulative
    #: claim at it (docs/methodology.md eq. 5.21).
    benefit_100yr_t_co2e: dict[CapGroup, Annotated[float, Field(ge=0.0)]] | None = None

    def profile_overrides(self) -> dict[str, Any]:
        """The profile settings this section overrides (``None``: the profile's own)."""
        return {"gwp": self.gwp, "buffer_pct": self.buffer_pct, "leakage_pct": self.leakage_pct}


class Survey(_Model):
    """A whole survey file, validated, with paths resolved."""

    survey: SurveySection
    epochs: list[Epoch] = Field(min_length=1)
    biomass: BiomassSection = Field(default_factory=BiomassSection)
    soil: SoilSection = Field(default_factory=SoilSection)
    vegetation: VegetationSection = Field(default_factory=VegetationSection)
    accounting: AccountingSection = Field(default_factory=AccountingSection)
    #: The survey file this was loaded from (not a TOML key).
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _epochs_consistent(self) -> Survey:
        # Unique without regard to case: an epoch's name is part of file and layer names, and
        # GeoPackage tables (and some disks) do not tell "A" from "a".
        names = [e.name.casefold() for e in self.epochs]
        duplicated = sorted({e.name for e in self.epochs if names.count(e.name.casefold()) > 1})
        if duplicated:
            raise ValueError(
                "epoch names must be unique, upper and lower case alike; repeated: "
                + ", ".join(duplicated)
            )
        dates = [e.date for e in self.epochs]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError(
                "epochs must be listed in increasing date order with distinct dates; got "
                + ", ".join(d.isoformat() for d in dates)
            )
        return self

    @property
    def root(self) -> Path:
        """The folder relative paths resolve against."""
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def crs(self) -> CRS:
        """The analysis CRS as a pyproj CRS (projectedness is checked by the preflight)."""
        return as_crs(self.survey.crs)

    def epoch(self, name: str) -> Epoch:
        """The epoch called ``name``."""
        for epoch in self.epochs:
            if epoch.name == name:
                return epoch
        known = ", ".join(e.name for e in self.epochs)
        raise KeyError(f"no epoch {name!r} in the survey (epochs: {known})")


# --------------------------------------------------------------------- loading
def load_survey(path: str | PathLike[str]) -> Survey:
    """Read and validate a survey TOML file.

    Parameters
    ----------
    path
        The survey file. Relative paths inside it resolve against its folder.

    Returns
    -------
    Survey
        The validated survey, with absolute paths.

    Raises
    ------
    InputNotFoundError
        When the file does not exist.
    SurveyFileError
        With every problem found (TOML syntax, unknown keys with the nearest
        valid key, wrong types, out-of-range values, unreadable CRSs).
    """
    source = Path(path)
    if not source.is_file():
        raise InputNotFoundError(
            "the survey file does not exist",
            path=source,
            fix="give the path of a survey .toml file (see sample_data/junshan/survey.toml)",
        )
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SurveyFileError(
            [Problem(f"not valid TOML: {exc}", path=str(source), fix="correct the TOML syntax")],
            path=source,
        ) from None
    except UnicodeDecodeError as exc:
        raise SurveyFileError(
            [
                Problem(
                    f"not UTF-8 text ({exc.reason})",
                    path=str(source),
                    fix="save the survey file as UTF-8",
                )
            ],
            path=source,
        ) from None
    return survey_from_dict(raw, source=source)


def survey_from_dict(raw: Mapping[str, Any], *, source: Path) -> Survey:
    """Validate an already-parsed survey mapping (see :func:`load_survey`)."""
    root = source.resolve().parent
    try:
        survey = Survey.model_validate(dict(raw), context={"root": root})
    except ValidationError as exc:
        problems = [problem_from_error(err, source, Survey) for err in exc.errors()]
        raise SurveyFileError(problems, path=source) from None
    return survey.model_copy(update={"source": source.resolve()})
