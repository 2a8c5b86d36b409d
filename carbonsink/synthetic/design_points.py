"""The third epoch's samples taken at the points of a sampling design (``--design``).

``carbonsink design`` writes the next epoch's sites as ``design.gpkg``
(layers ``cores`` and ``plots``, docs/methodology.md §9.4). Given such a file,
the synthetic generator takes the third epoch's soil cores exactly at the
``cores`` points and lays its biomass plots exactly at the ``plots`` points,
instead of drawing its own sampling design, so that the design's predicted
U can be checked against a survey whose truth is known
(``benchmarks/design_check.py``):

* **the points** are read from the layers' geometry in any CRS and
  transformed to the analysis CRS (EPSG:32649); the other columns
  (``stratum``, ``priority``, ``revisit``) are not needed. A point outside
  the survey's boundary is refused (:class:`~carbonsink.errors.InputError`,
  naming the file, the layer and the point): a design of another survey, or
  in a wrong CRS, is a mistake. A point in open water of the epoch's true
  class map (the lake stands higher in 2028 than on the imagery a design
  was made from) is skipped with a warning, as the generator's own revisits
  skip a site that water now covers: no core or plot is taken there.
* **the measurements** are those of the generator's own cores and plots
  (:func:`~carbonsink.synthetic.fieldwork.measure_cores` and
  :func:`~carbonsink.synthetic.fieldwork.measure_plots`): a core samples the
  true profile of its cell times a micro-site factor, 15 % stop at 50 or
  70 cm, with the same lab errors, lab-method bias and accretion error; it
  is recorded at its true position (to 1e-7°). A plot measures its cell's
  true AGB with the clip's heterogeneity and weighing error, a sub-quadrat
  for dead matter on the usual share of each class's plots, and is recorded
  with the 2 m handheld-GNSS error (a plot within a few metres of the
  boundary may then be recorded outside it, which the pipeline leaves out
  with a warning). Class and plot size are the cell's true class.
  ``C<epoch>-01`` is the first core of the ``cores`` layer, ``P<epoch>-001``
  the first plot of ``plots`` (the layers' order; the points skipped on
  water take no id).
* **the random streams** are new: ``"fieldwork.soil.<epoch>.design"`` (and
  ``….design.accretion``), ``"fieldwork.plots.<epoch>.design"`` and
  ``"fieldwork.plots.dom.<epoch>.design"``; the truth, imagery, LiDAR,
  land-cover samples and checkpoints draw nothing else, so every file but
  the epoch's ``soil_`` and ``plots_`` tables (and the README, which says
  that a design was used) is byte-identical with and without a design.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from carbonsink.errors import ConfigError, CRSError, InputError, InputNotFoundError
from carbonsink.synthetic.fieldwork import measure_cores, measure_plots
from carbonsink.synthetic.landscape import ANALYSIS_CRS, EpochTruth, Landscape
from carbonsink.synthetic.parameters import CLASS_BY_NAME
from carbonsink.synthetic.random_fields import named_stream

__all__ = [
    "DESIGN_LAYERS",
    "DesignPoints",
    "check_design_option",
    "design_note",
    "design_plots",
    "design_soil_cores",
    "placed_design",
    "read_design",
]

logger = logging.getLogger(__name__)

#: The layers of a design file: the soil cores' and the biomass plots' points.
DESIGN_LAYERS: Final = ("cores", "plots")
_WATER: Final = CLASS_BY_NAME["water"].code
_FIX_FILE: Final = "give the design.gpkg that `carbonsink design` wrote (OUT/design.gpkg)"


@dataclass(frozen=True)
class DesignPoints:
    """The points of a design file, in the analysis CRS.

    Attributes
    ----------
    path
        The design file.
    points
        Layer (``cores``, ``plots``) → ``(N, 2)`` x, y in EPSG:32649, in the
        layer's order.
    labels
        Layer → how each point is named in a message (its feature id, and
        its stratum and priority when the layer has them).
    skipped
        The warnings of the points left out (in open water), once
        :func:`placed_design` has checked them.
    """

    path: Path
    points: Mapping[str, npt.NDArray[np.float64]]
    labels: Mapping[str, tuple[str, ...]]
    skipped: tuple[str, ...] = ()

    @property
    def cores(self) -> npt.NDArray[np.float64]:
        """The soil cores' points, ``(N, 2)``."""
        return self.points["cores"]

    @property
    def plots(self) -> npt.NDArray[np.float64]:
        """The biomass plots' points, ``(M, 2)``."""
        return self.points["plots"]


def check_design_option(
    design: object, epochs: int, *, names: tuple[str, str] = ("design", "epochs")
) -> None:
    """Refuse a design for a survey without a third epoch.

    Parameters
    ----------
    design
        The design file given, or ``None``.
    epochs
        The survey's number of epochs.
    names
        How the two options are called where they were given (``("--design",
        "--epochs")`` on the command line), for the message.

    Raises
    ------
    ConfigError
        When a design is given with fewer than 3 epochs.
    """
    if design is None or epochs == 3:
        return
    design_name, epochs_name = names
    sep = " " if epochs_name.startswith("-") else "="
    raise ConfigError(
        f"a design places the third epoch's cores and plots, and a survey of {epochs!r} "
        "epochs has no third epoch",
        where=design_name,
        fix=f"add {epochs_name}{sep}3, or leave out {design_name}",
    )


def _label(frame: pd.DataFrame, k: int) -> str:
    parts = [f"feature {frame.index[k]}"]
    if "stratum" in frame.columns:
        parts.append(f"stratum {frame['stratum'].iloc[k]}")
    if "priority" in frame.columns:
        parts.append(f"priority {frame['priority'].iloc[k]}")
    return ", ".join(parts)


def read_design(path: str | Path) -> DesignPoints:
    """Read the ``cores`` and ``plots`` points of a design file.

    Parameters
    ----------
    path
        A GeoPackage (or any vector file GDAL reads) with point layers
        ``cores`` and ``plots`` in any CRS, as ``carbonsink design`` writes
        ``design.gpkg``.

    Returns
    -------
    DesignPoints
        Every point, transformed to EPSG:32649.

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputError
        The file is unreadable, lacks a layer, or a layer has no points, a
        geometry that is not a point, or an empty or non-finite point.
    CRSError
        A layer has no CRS.
    """
    import geopandas as gpd
    import pyogrio

    source = Path(path)
    if not source.is_file():
        raise InputNotFoundError(
            f"the design file {source} does not exist", path=source, fix=_FIX_FILE
        )
    try:
        found = [str(name) for name in pyogrio.list_layers(source)[:, 0]]
    except Exception as exc:  # pyogrio raises its own DataSourceError and others
        raise InputError(
            f"the design file {source} cannot be read as a vector file: {exc}",
            path=source,
            fix=_FIX_FILE,
        ) from exc
    missing = [layer for layer in DESIGN_LAYERS if layer not in found]
    if missing:
        raise InputError(
            f"the design file has no layer {' and no layer '.join(map(repr, missing))} "
            f"(its layers: {', '.join(found) or 'none'})",
            path=source,
            fix="a design has the point layers 'cores' and 'plots'; " + _FIX_FILE,
        )
    points: dict[str, npt.NDArray[np.float64]] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for layer in DESIGN_LAYERS:
        frame = gpd.read_file(source, layer=layer, engine="pyogrio", fid_as_index=True)
        where = f"layer {layer}"
        if len(frame) == 0:
            raise InputError(
                "the layer has no points",
                path=source,
                where=where,
                fix=f"add the {layer} points, or make the design again",
            )
        if frame.crs is None:
            raise CRSError(
                "the layer has no CRS, so its points cannot be placed",
                path=source,
                where=where,
                fix="set the layer's CRS (`carbonsink design` writes the survey's)",
            )
        geometry = frame.geometry
        bad = np.flatnonzero(
            (geometry.geom_type != "Point").to_numpy() | geometry.is_empty.to_numpy()
        )
        if bad.size:
            k = int(bad[0])
            shape = geometry.iloc[k]
            kind = (
                "missing geometry"
                if shape is None
                else f"{shape.geom_type} (empty: {shape.is_empty})"
            )
            raise InputError(
                f"{bad.size} of the {len(frame)} geometries are not points (the first: "
                f"{_label(frame, k)}, a {kind})",
                path=source,
                where=where,
                fix="a design's layers hold one point per core or plot",
            )
        xy = shapely.get_coordinates(geometry.to_crs(ANALYSIS_CRS).to_numpy())
        if not np.isfinite(xy).all():
            k = int(np.flatnonzero(~np.isfinite(xy).all(axis=1))[0])
            raise InputError(
                f"point ({_label(frame, k)}) has no finite coordinates in {ANALYSIS_CRS}",
                path=source,
                where=where,
                fix="check the point's coordinates and the layer's CRS",
            )
        points[layer] = np.asarray(xy, dtype=np.float64)
        labels[layer] = tuple(_label(frame, k) for k in range(len(frame)))
    return DesignPoints(path=source, points=points, labels=labels)


def placed_design(landscape: Landscape, epoch: EpochTruth, design: DesignPoints) -> DesignPoints:
    """Check a design's points against the survey: inside the boundary, off the water.

    Parameters
    ----------
    landscape, epoch
        The truth, and the epoch the design samples.
    design
        The design's points (:func:`read_design`).

    Returns
    -------
    DesignPoints
        The points to sample: those in open water of the epoch's true class
        map left out, each with a warning (logged, and kept in ``skipped``).

    Raises
    ------
    InputError
        A point lies outside the boundary (every such point of a layer is
        counted, the first few named), or no point of a layer is left.
    """
    grid = landscape.grid
    classes = landscape.crop(epoch.class_code)
    points: dict[str, npt.NDArray[np.float64]] = {}
    labels: dict[str, tuple[str, ...]] = {}
    skipped: list[str] = []
    for layer in DESIGN_LAYERS:
        xy = design.points[layer]
        names = design.labels[layer]
        outside = np.flatnonzero(~shapely.contains_xy(landscape.boundary, xy[:, 0], xy[:, 1]))
        if outside.size:
            named = "; ".join(
                f"{names[k]} at ({xy[k, 0]:.1f}, {xy[k, 1]:.1f})" for k in outside[:3]
            )
            more = f" and {outside.size - 3} more" if outside.size > 3 else ""
            raise InputError(
                f"{outside.size} of the {len(xy)} points lie outside the survey's boundary "
                f"(in {ANALYSIS_CRS}): {named}{more}",
                path=design.path,
                where=f"layer {layer}",
                fix="use a design made for this survey (`carbonsink design` on its two "
                "epochs), and check the layer's CRS",
            )
        rows, cols = grid.index(xy[:, 0], xy[:, 1])
        wet = classes[rows, cols] == _WATER
        for k in np.flatnonzero(wet):
            text = (
                f"{design.path}, layer {layer}: {names[k]} at ({xy[k, 0]:.1f}, {xy[k, 1]:.1f}) "
                f"lies in open water in {epoch.spec.name} (the lake at "
                f"{epoch.spec.water_level_m:g} m): no {'core' if layer == 'cores' else 'plot'} "
                "is taken there"
            )
            logger.warning("%s", text)
            skipped.append(text)
        if wet.all():
            raise InputError(
                f"every one of the {len(xy)} points lies in open water in {epoch.spec.name}",
                path=design.path,
                where=f"layer {layer}",
                fix="use a design made for this survey (`carbonsink design` on its two epochs)",
            )
        points[layer] = xy[~wet]
        labels[layer] = tuple(n for n, w in zip(names, wet, strict=True) if not w)
    return DesignPoints(
        path=design.path, points=points, labels=labels, skipped=(*design.skipped, *skipped)
    )


def design_soil_cores(
    landscape: Landscape, epoch: EpochTruth, design: DesignPoints
) -> pd.DataFrame:
    """The epoch's soil-core layers, one core at each of the design's ``cores`` points.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.
    design
        The checked points (:func:`placed_design`).

    Returns
    -------
    pandas.DataFrame
        As :func:`~carbonsink.synthetic.fieldwork.soil_cores`, from the streams
        ``"fieldwork.soil.<epoch>.design"`` and ``"….design.accretion"``.
    """
    name = epoch.spec.name
    rng = named_stream(landscape.seed, f"fieldwork.soil.{name}.design")
    return measure_cores(
        landscape,
        epoch,
        design.cores[:, 0].copy(),
        design.cores[:, 1].copy(),
        rng,
        accretion_stream=f"fieldwork.soil.{name}.design.accretion",
    )


def design_plots(landscape: Landscape, epoch: EpochTruth, design: DesignPoints) -> pd.DataFrame:
    """The epoch's biomass plots, one at each of the design's ``plots`` points.

    Parameters
    ----------
    landscape, epoch
        The truth to sample.
    design
        The checked points (:func:`placed_design`).

    Returns
    -------
    pandas.DataFrame
        As :func:`~carbonsink.synthetic.fieldwork.plots`, from the streams
        ``"fieldwork.plots.<epoch>.design"`` and ``"fieldwork.plots.dom.<epoch>.design"``.
    """
    name = epoch.spec.name
    rng = named_stream(landscape.seed, f"fieldwork.plots.{name}.design")
    return measure_plots(
        landscape,
        epoch,
        design.plots[:, 0].copy(),
        design.plots[:, 1].copy(),
        rng,
        dom_stream=f"fieldwork.plots.dom.{name}.design",
    )


def design_note(design: DesignPoints | None, epoch_name: str) -> str:
    """The README's paragraph on the design the epoch was sampled at (empty without one).

    Parameters
    ----------
    design
        The checked points, or ``None``.
    epoch_name
        The epoch sampled at them.

    Returns
    -------
    str
        Markdown, starting with a blank line; names the file by its name only,
        so that the README does not depend on where the design lies.
    """
    if design is None:
        return ""
    n_skip = len(design.skipped)
    skip = (
        f"; {n_skip} point{' was' if n_skip == 1 else 's were'} skipped, in open water "
        f"in {epoch_name}"
        if n_skip
        else ""
    )
    return f"""

**Sampling design** (`--design {design.path.name}`). The {epoch_name} soil cores
were taken exactly at the {len(design.cores)} points of its `cores` layer and the
{epoch_name} biomass plots laid out at the {len(design.plots)} points of its `plots`
layer{skip}, instead of the generator's own sampling design, with the same
field and lab model (recorded core positions are the points to 1e-7°; plot
positions carry the 2 m GNSS error). Only the {epoch_name} soil and plot tables
differ from a survey without the design."""
