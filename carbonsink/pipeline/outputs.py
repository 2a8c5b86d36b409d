"""Every file carbonsink writes, declared once: id → path pattern, format, units, long name, style.

:data:`OUTPUTS` is the only place an output file name is made (docs/design.md
§5): the run, the stage commands, the manifest and the report all take their
paths from :meth:`OutputFolder.path`, which fills a pattern's fields (epoch,
model, class, ...) after checking that each value can be part of a file name
(:func:`carbonsink.io.files.file_name_problem`), so no name can lead a file
outside its folder.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from carbonsink.errors import ConfigError
from carbonsink.i18n import N_
from carbonsink.io.files import FILE_NAME_RULE, file_name_problem

__all__ = ["OUTPUTS", "Output", "OutputFolder", "OutputFormat", "Style", "declared_output"]

OutputFormat = Literal[
    "netcdf",
    "cog",
    "csv",
    "json",
    "html",
    "pdf",
    "text",
    "skops",
    "png",
    "npz",
    "qml",
    "qgs",
    "gpkg",
    "xml",
]


@dataclass(frozen=True)
class Style:
    """How a map layer is drawn: a matplotlib colour map, or the class legend of its flags."""

    palette: str
    legend: bool = False


@dataclass(frozen=True)
class Output:
    """One kind of output file.

    Attributes
    ----------
    id
        Stable identifier (the key in :data:`OUTPUTS`).
    pattern
        Path inside the output folder, with ``{field}`` placeholders.
    format
        File format.
    long_name
        What the file holds.
    units
        Units of the values (maps and layers), ``None`` for documents.
    style
        How a map is drawn (``None`` for non-maps).
    published
        ``False`` for the run's internal files (the stage cache).
    """

    id: str
    pattern: str
    format: OutputFormat
    long_name: str
    units: str | None = None
    style: Style | None = None
    published: bool = True

    @property
    def fields(self) -> tuple[str, ...]:
        """The placeholders of the pattern, in order."""
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.pattern) if f)

    @property
    def literal_length(self) -> int:
        """Characters of the pattern outside its placeholders (how specific it is)."""
        return sum(len(literal) for literal, _, _, _ in string.Formatter().parse(self.pattern))

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (for the manifest)."""
        return {
            "id": self.id,
            "format": self.format,
            "long_name": self.long_name,
            "units": self.units,
        }


def _outputs(*items: Output) -> MappingProxyType[str, Output]:
    return MappingProxyType({item.id: item for item in items})


_CLASSES = Style("tab10", legend=True)
_BIOMASS = Style("YlGn")
_CARBON = Style("viridis")
_SD = Style("magma")
_SINK = Style("RdBu")

#: Every output file, by id.
OUTPUTS: MappingProxyType[str, Output] = _outputs(
    # ------------------------------------------------ carbonsink run
    Output(
        "manifest",
        "manifest.json",
        "json",
        "run manifest: inputs (sha256), versions, seed, stage timings, outputs",
    ),
    Output("run_log", "run.log", "text", "log of the run"),
    Output(
        "run_failed_log",
        "run-failed.log",
        "text",
        "log of the last run that failed (its outputs were not published); removed by the "
        "next complete run",
        published=False,
    ),
    Output(
        "lock",
        ".lock",
        "text",
        "lock of the output folder, held by the run writing to it",
        published=False,
    ),
    Output(
        "publish_journal",
        ".publish.json",
        "json",
        "what a run is moving into place (only while it publishes)",
        published=False,
    ),
    Output("ledger", "ledger.json", "json", "the credit ledger (docs/ledger.md)", "t CO2e"),
    Output("report_html", "report.html", "html", "self-contained report"),
    Output("report_pdf", "report.pdf", "pdf", "the report as PDF"),
    Output(
        "gis_project",
        "carbonsink.qgs",
        "qgs",
        "QGIS project: every map styled (class colours, colour ramps with units), grouped by "
        "epoch, with the boundary, plots, cores and checkpoints; relative paths",
    ),
    Output(
        "gis_vectors",
        "carbonsink.gpkg",
        "gpkg",
        "the run's points and polygons in the survey CRS: boundary, and per epoch the plots "
        "(plots_<epoch>), cores (cores_<epoch>) and terrain checkpoints (checkpoints_<epoch>)",
    ),
    Output("cube", "cube_{epoch}.nc", "netcdf", "every per-pixel layer of the epoch"),
    Output("change", "change.nc", "netcdf", "per-pixel change and sink between the epochs"),
    Output(
        "map_landcover", "maps/landcover_{epoch}.tif", "cog", N_("land-cover class"), "1", _CLASSES
    ),
    Output(
        "map_landcover_style",
        "maps/landcover_{epoch}.qml",
        "qml",
        "QGIS style of the land-cover map: each class's colour and name",
    ),
    Output(
        "map_landcover_categories",
        "maps/landcover_{epoch}.tif.aux.xml",
        "xml",
        "GDAL's category names of the land-cover map (gdalinfo, QGIS and other GDAL readers)",
    ),
    Output(
        "map_agb",
        "maps/agb_mg_ha_{epoch}.tif",
        "cog",
        N_("above-ground biomass"),
        "Mg DM/ha",
        _BIOMASS,
    ),
    Output(
        "map_agb_lower",
        "maps/agb_lower_mg_ha_{epoch}.tif",
        "cog",
        N_("AGB, lower bound of the prediction interval"),
        "Mg DM/ha",
        _BIOMASS,
    ),
    Output(
        "map_agb_upper",
        "maps/agb_upper_mg_ha_{epoch}.tif",
        "cog",
        N_("AGB, upper bound of the prediction interval"),
        "Mg DM/ha",
        _BIOMASS,
    ),
    Output(
        "map_dom",
        "maps/dom_mg_ha_{epoch}.tif",
        "cog",
        N_("dead organic matter (litter and standing dead)"),
        "Mg DM/ha",
        _BIOMASS,
    ),
    Output(
        "map_carbon",
        "maps/carbon_mg_ha_{epoch}.tif",
        "cog",
        N_("carbon stock of the counted pools"),
        "Mg C/ha",
        _CARBON,
    ),
    Output("map_soc", "maps/soc_mg_ha_{epoch}.tif", "cog", N_("SOC stock"), "Mg C/ha", _CARBON),
    Output(
        "map_soc_sd",
        "maps/soc_sd_mg_ha_{epoch}.tif",
        "cog",
        N_("kriging SD of SOC"),
        "Mg C/ha",
        _SD,
    ),
    Output(
        "map_removals",
        "maps/removals_t_co2e_ha_yr.tif",
        "cog",
        N_("removals (sink positive)"),
        "t CO2e/ha/yr",
        _SINK,
    ),
    Output(
        "map_removals_sd",
        "maps/removals_sd_t_co2e_ha_yr.tif",
        "cog",
        N_("SD of the removals (cells independent)"),
        "t CO2e/ha/yr",
        _SD,
    ),
    Output(
        "table_ledger_strata",
        "tables/ledger_strata.csv",
        "csv",
        "the ledger per stratum, with a total row",
        "t C, t CO2e/yr, ha",
    ),
    Output(
        "table_ledger_vintages",
        "tables/ledger_vintages.csv",
        "csv",
        "tradable credits per stratum and vintage",
        "t CO2e",
    ),
    Output(
        "table_u_budget",
        "tables/u_budget.csv",
        "csv",
        "what holds the net's uncertainty: each group of inputs' share of its variance",
        "1, t CO2e/yr",
    ),
    Output(
        "table_ch4_sensitivity",
        "tables/ch4_sensitivity.csv",
        "csv",
        "net sink with every class's CH4 flux scaled",
        "t CO2e/yr",
    ),
    Output(
        "table_landcover_areas",
        "tables/landcover_areas_{epoch}.csv",
        "csv",
        "mapped and area-adjusted class areas with CIs (Olofsson et al. 2014)",
        "ha",
    ),
    Output(
        "table_landcover_confusion",
        "tables/landcover_confusion_{epoch}.csv",
        "csv",
        "confusion matrix of the held-out land-cover samples",
        "samples",
    ),
    Output(
        "table_core_stocks",
        "tables/core_stocks_{epoch}.csv",
        "csv",
        "SOC stock of every core at the survey's depths, with SE and flags",
        "Mg C/ha",
    ),
    Output(
        "table_biomass_cv",
        "tables/biomass_cv_{epoch}_{model}.csv",
        "csv",
        "spatial block cross-validation of an AGB model, per fold and pooled",
        "Mg DM/ha",
    ),
    Output(
        "stage_cache",
        ".cache/{stage}-{key}/entry.json",
        "json",
        "a finished stage of the run (read back on --resume): its result as JSON, with the "
        "sha256 of the entry's other files",
        published=False,
    ),
    Output(
        "stage_cache_arrays",
        ".cache/{stage}-{key}/arrays.npz",
        "npz",
        "the numpy arrays of a cached stage result (compressed; read without pickle)",
        published=False,
    ),
    Output(
        "stage_cache_model",
        ".cache/{stage}-{key}/{blob}.skops",
        "skops",
        "a fitted estimator of a cached stage result (skops; allowlisted types only)",
        published=False,
    ),
    # ------------------------------------------------ stage commands
    Output(
        "layer",
        "{layer}.tif",
        "cog",
        "a map layer of a stage command (an index, a SOC or AGB layer): its units and "
        "long name are in the file's tags",
    ),
    # ------------------------------------------------ carbonsink lidar
    Output("lidar_metrics", "lidar_metrics.nc", "netcdf", "area-based LiDAR metrics on the grid"),
    Output("lidar_qa", "lidar_tiles_qa.csv", "csv", "per-tile QA of the LiDAR chain"),
    Output(
        "lidar_dtm_checkpoints",
        "dtm_checkpoints.csv",
        "csv",
        "the DTM at each surveyed ground point: DTM − z (docs/methodology.md §8.8)",
        "m",
    ),
    Output("dtm", "dtm.tif", "cog", "digital terrain model", "m", Style("terrain")),
    Output("chm", "chm.tif", "cog", "canopy height model", "m", Style("viridis")),
    # ------------------------------------------------ carbonsink imagery
    Output(
        "valid_count",
        "valid_count.tif",
        "cog",
        "usable observations per cell",
        "count",
        Style("viridis"),
    ),
    Output("landcover", "landcover.tif", "cog", N_("land-cover class"), "1", _CLASSES),
    Output(
        "landcover_style",
        "landcover.qml",
        "qml",
        "QGIS style of the land-cover map: each class's colour and name",
    ),
    Output(
        "landcover_categories",
        "landcover.tif.aux.xml",
        "xml",
        "GDAL's category names of the land-cover map (gdalinfo, QGIS and other GDAL readers)",
    ),
    Output(
        "landcover_probability",
        "landcover_p_{class_name}.tif",
        "cog",
        "probability of a land-cover class",
        "1",
        Style("Greens"),
    ),
    Output(
        "landcover_accuracy",
        "landcover_accuracy.json",
        "json",
        "land-cover accuracy and area estimates",
    ),
    Output(
        "table_landcover_epoch_confusion",
        "tables/landcover_confusion.csv",
        "csv",
        "confusion matrix of the held-out land-cover samples",
        "samples",
    ),
    Output(
        "table_landcover_epoch_areas",
        "tables/landcover_areas.csv",
        "csv",
        "mapped and area-adjusted class areas with CIs (Olofsson et al. 2014)",
        "ha",
    ),
    Output(
        "table_landcover_cv",
        "tables/landcover_cv.csv",
        "csv",
        "spatial block cross-validation of the land-cover classifier",
        "1",
    ),
    Output(
        "table_landcover_samples",
        "tables/landcover_samples.csv",
        "csv",
        "land-cover samples: training or held out, predicted class",
    ),
    Output(
        "table_dtm_checkpoints",
        "tables/dtm_checkpoints_{epoch}.csv",
        "csv",
        "the LiDAR terrain model at each surveyed ground point: DTM − z per point and class "
        "(docs/methodology.md §8.8)",
        "m",
    ),
    # ------------------------------------------------ carbonsink soil
    Output(
        "table_soc_cv",
        "tables/soc_cv_{epoch}.csv",
        "csv",
        "leave-one-out predictions of the SOC map at the cores",
        "Mg C/ha",
    ),
    # ------------------------------------------------ carbonsink biomass
    Output("model", "models/{epoch}/{model}.skops", "skops", "fitted AGB model (skops)"),
    Output("model_card", "models/{epoch}/{model}.card.json", "json", "the AGB model's card"),
    Output(
        "table_biomass_cv_predictions",
        "tables/biomass_cv_predictions_{epoch}_{model}.csv",
        "csv",
        "held-out predictions of the AGB model's spatial CV",
        "Mg DM/ha",
    ),
    Output(
        "table_biomass_random_cv_predictions",
        "tables/biomass_random_cv_predictions_{epoch}_{model}.csv",
        "csv",
        "held-out predictions of the AGB model's plot-wise random CV, whose residuals correct "
        "each stratum's map total (docs/methodology.md §6.4)",
        "Mg DM/ha",
    ),
    Output(
        "plot_biomass_cv",
        "biomass_cv_{epoch}_{model}.png",
        "png",
        "predicted vs observed AGB of the spatial CV",
    ),
    Output(
        "table_plots_excluded",
        "tables/plots_excluded_{epoch}_{model}.csv",
        "csv",
        "plots left out of the AGB model, with the reason",
    ),
)


@dataclass(frozen=True)
class OutputFolder:
    """An output folder whose files are named by :data:`OUTPUTS`."""

    root: Path

    def path(self, output_id: str, **fields: str) -> Path:
        """The path of an output, its pattern filled with ``fields``.

        Raises
        ------
        ConfigError
            A field is missing or extra, or a value cannot be part of a file
            name (it would lead outside the folder or break on some system).
        """
        output = OUTPUTS[output_id]
        expected = set(output.fields)
        if set(fields) != expected:
            raise ConfigError(
                f"output {output_id!r} ({output.pattern}) takes the fields "
                f"{sorted(expected)}, not {sorted(fields)}",
                fix="this is a bug in carbonsink: please report it",
            )
        for name, value in fields.items():
            problem = file_name_problem(str(value))
            if problem:
                raise ConfigError(
                    f"the {name.replace('_', ' ')} {problem}",
                    where=output.pattern,
                    fix=f"rename it in the survey file ({FILE_NAME_RULE})",
                )
        return self.root / output.pattern.format(**fields)

    def describe(self, path: Path) -> dict[str, Any]:
        """The manifest entry of a file written in this folder: its path and its output kind.

        The most specific pattern that matches wins (``landcover.tif`` is the
        class map, not an index called ``landcover``).

        Raises
        ------
        ConfigError
            The file is not a declared output.
        """
        try:
            relative = path.relative_to(self.root).as_posix()
        except ValueError:
            raise ConfigError(
                f"{path} is outside the output folder {self.root}",
                fix="this is a bug in carbonsink: every output is written inside OUT",
            ) from None
        output = declared_output(relative)
        if output is None:
            raise ConfigError(
                f"{relative} is not a declared output",
                fix="this is a bug in carbonsink: declare every output in OUTPUTS",
            )
        return {"path": relative, **output.describe()}


def declared_output(relative: str) -> Output | None:
    """The declared output a path relative to an output folder is, ``None`` when none.

    The most specific pattern that matches wins (``landcover.tif`` is the
    class map, not an index called ``landcover``); a path with ``..`` or an
    absolute path is never an output.
    """
    if relative.startswith("/") or ".." in Path(relative).parts:
        return None
    matches = [o for o in OUTPUTS.values() if _pattern_regex(o.pattern).fullmatch(relative)]
    return max(matches, key=lambda o: o.literal_length) if matches else None


#: A field's value in a written path: what :func:`carbonsink.io.files.file_name_problem`
#: lets through (letters of any script, digits, '.', '_', '-'; a letter or digit first).
_FIELD_VALUE = r"[^\W_][\w.-]*"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for literal, field, _, _ in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field:
            parts.append(_FIELD_VALUE)
    return re.compile("".join(parts))
