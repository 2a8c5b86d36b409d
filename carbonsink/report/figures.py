"""Maps and charts of the report, as PNG bytes.

Every function draws on its own :class:`matplotlib.figure.Figure` with the Agg
canvas (never pyplot's global state), saves it at :data:`DPI` without the
``Software`` metadata and frees it, so the same input gives the same bytes.
Large layers are thinned by striding to at most :data:`MAX_DISPLAY_CELLS`
cells a side before drawing (a figure is a few hundred pixels wide), which also
keeps dask-backed layers from being read whole. Nothing here computes science:
only colour limits, class colours and histogram bins.
"""

from __future__ import annotations

import io
import logging
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from carbonsink.i18n import gettext as _
from carbonsink.io.cf import flag_codes
from carbonsink.report.cartography import colour_bar_label, decorate_map, map_caption

__all__ = [
    "CLASS_COLOURS",
    "DPI",
    "MAX_DISPLAY_CELLS",
    "class_colours",
    "class_map_figure",
    "colour_limits",
    "cores_over_map_figure",
    "flag_legend",
    "map_figure",
    "net_histogram_figure",
    "new_figure",
    "no_data_note",
    "png_bytes",
    "predicted_observed_figure",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Resolution of every figure, dots per inch (print quality; the page scales them down).
DPI: Final = 200
#: Largest number of cells drawn along either side of a map (larger layers are strided).
MAX_DISPLAY_CELLS: Final = 800
#: Colours of the wetland classes (matched case-insensitively on the class name): blue
#: water, grey-brown mudflat, straw-yellow miscanthus and three greens apart in lightness,
#: so that every pair stays distinct for the colour-blind (CAM02-UCS ΔE ≥ 17 under full
#: deuteranopia, protanopia and tritanopia; tests/report/test_figures.py).
CLASS_COLOURS: Final = {
    "water": "#0570b0",
    "mudflat": "#7f6a55",
    "sedge": "#a6dba0",
    "reed": "#66a61e",
    "miscanthus": "#fdd835",
    "poplar": "#00441b",
}
#: Qualitative colour map for classes without a colour of their own.
_OTHER_CLASSES_CMAP: Final = "tab10"
#: Percentiles of the finite values that set the default colour limits.
_LIMIT_PERCENTILES: Final = (2.0, 98.0)
#: Tick steps of map axes (round distances in metres).
_TICK_STEPS: Final = [1, 2, 2.5, 5, 10]
#: Most bins of the Monte Carlo histogram.
_MAX_BINS: Final = 80
_MAP_SIZE_IN: Final = (6.0, 4.6)
#: Characters per line of a map's title.
_TITLE_WIDTH: Final = 44
#: Margins of a map with a colour bar: left, bottom, right, top (figure fractions).
_MAP_MARGINS: Final = (0.15, 0.13, 0.85, 0.92)


@dataclass(frozen=True)
class _Raster:
    """A layer ready for ``imshow``: north-up values and the extent of the cells they cover."""

    values: npt.NDArray[np.generic]
    extent: tuple[float, float, float, float]  # left, right, bottom, top
    x: FloatArray  # centres of the drawn columns
    y: FloatArray  # centres of the drawn rows
    step: int = 1  # every step-th cell of each row and column is drawn


def _spacing(coord: FloatArray) -> float:
    """Signed spacing of a regular coordinate (1 for a single cell)."""
    if coord.size < 2:
        return 1.0
    return float(coord[-1] - coord[0]) / (coord.size - 1)


def _raster(layer: xr.DataArray, *, max_cells: int = MAX_DISPLAY_CELLS) -> _Raster:
    """Thin a ``(y, x)`` layer by striding, orient it north-up and west-left, load it."""
    if set(layer.dims) != {"y", "x"}:
        raise ValueError(
            f"layer {layer.name!r} has dims {layer.dims}; the report maps (y, x) layers "
            "(build the layer on the analysis grid)"
        )
    layer = layer.transpose("y", "x")
    x = np.asarray(layer["x"].values, dtype=np.float64)
    y = np.asarray(layer["y"].values, dtype=np.float64)
    step = max(1, math.ceil(max(layer.shape) / max_cells))
    thinned = layer.isel(y=slice(None, None, step), x=slice(None, None, step))
    values = np.asarray(thinned.values)
    xs, ys = x[::step], y[::step]
    dx, dy = _spacing(x), _spacing(y)
    if dx < 0:  # columns east to west: flip to west-left
        values, xs, dx = values[:, ::-1], xs[::-1], -dx
    if dy > 0:  # rows south to north: flip to north-up
        values, ys, dy = values[::-1, :], ys[::-1], -dy
    left = float(xs[0]) - dx / 2 if xs.size else 0.0
    top = float(ys[0]) - dy / 2 if ys.size else 0.0
    right = left + values.shape[1] * step * dx
    bottom = top + values.shape[0] * step * dy
    return _Raster(values=values, extent=(left, right, bottom, top), x=xs, y=ys, step=step)


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes (reproducible: no Software tag) and free it."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return buffer.getvalue()


def _finite(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def colour_limits(
    layers: Sequence[xr.DataArray | npt.ArrayLike],
    *,
    centre: float | None = None,
    percentiles: tuple[float, float] = _LIMIT_PERCENTILES,
) -> tuple[float, float]:
    """Colour limits shared by several layers: robust percentiles of their finite values.

    Parameters
    ----------
    layers
        Layers (or arrays) drawn with the same colour scale, e.g. one variable
        of every epoch. DataArrays are thinned as for drawing.
    centre
        For a diverging scale: the limits are made symmetric about it.
    percentiles
        Lower and upper percentiles of the finite values (outliers beyond
        them saturate the colour scale).

    Returns
    -------
    tuple of float
        ``(vmin, vmax)`` with ``vmin < vmax``; ``(0, 1)`` when no value is finite.
    """
    parts = [
        _finite(_raster(layer).values if isinstance(layer, xr.DataArray) else layer)
        for layer in layers
    ]
    finite = np.concatenate(parts) if parts else np.empty(0)
    if finite.size == 0:
        low, high = 0.0, 1.0
    else:
        low, high = (float(v) for v in np.percentile(finite, percentiles))
    if centre is not None:
        half = max(abs(low - centre), abs(high - centre))
        low, high = centre - half, centre + half
    if not high > low:
        pad = abs(low) * 0.1 if low != 0 else 1.0
        low, high = low - pad, high + pad
    return low, high


def _boundary_outline(ax: Axes, inside: xr.DataArray | None) -> None:
    if inside is None:
        return
    mask = _raster(inside)
    values = np.asarray(mask.values, dtype=np.float64)
    if values.shape[0] < 2 or values.shape[1] < 2 or values.min() == values.max():
        return
    ax.contour(mask.x, mask.y, values, levels=[0.5], colors="black", linewidths=0.8)


def _inside_values(raster: _Raster, inside: xr.DataArray | None) -> FloatArray:
    values = np.asarray(raster.values, dtype=np.float64)
    if inside is None:
        return values
    mask = np.asarray(_raster(inside).values, dtype=bool)
    if mask.shape != values.shape:
        raise ValueError(
            f"the boundary mask is {inside.shape}, the layer is not (draw layers of one grid)"
        )
    return np.where(mask, values, np.nan)


def new_figure(size: tuple[float, float], margins: tuple[float, float, float, float]) -> Figure:
    """A figure with fixed margins ``(left, bottom, right, top)`` as fractions.

    Fixed margins instead of a layout engine: the figures have one known
    layout, and constrained layout costs more than the drawing itself.
    """
    fig = Figure(figsize=size)
    left, bottom, right, top = margins
    fig.subplots_adjust(left=left, bottom=bottom, right=right, top=top)
    return fig


def _map_axes(fig: Figure, title: str) -> Axes:
    ax = fig.add_subplot()
    # A long title wraps rather than running past the figure's edge (the colour bar's side).
    ax.set_title("\n".join(textwrap.wrap(title, _TITLE_WIDTH)) or title, fontsize=11)
    ax.set_xlabel(_("easting (m)"))
    ax.set_ylabel(_("northing (m)"))
    ax.set_aspect("equal")
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=_TICK_STEPS))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=_TICK_STEPS))
    return ax


def no_data_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def map_figure(
    layer: xr.DataArray,
    *,
    title: str,
    cmap: str = "viridis",
    units: str | None = None,
    label: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    centre: float | None = None,
    inside: xr.DataArray | None = None,
) -> bytes:
    """A map of a continuous ``(y, x)`` layer with a colour bar, as PNG bytes.

    Parameters
    ----------
    layer
        The layer on the analysis grid (coords ``x``, ``y`` in metres).
    title
        Title above the map.
    cmap
        Matplotlib colour map name (a diverging one with ``centre``).
    units
        Units on the colour bar (default: the layer's ``units`` attribute).
    label
        Name on the colour bar (default: the layer's ``long_name``).
    vmin, vmax
        Colour limits (default: :func:`colour_limits` of the layer).
    centre
        Value at the middle of a diverging colour map (e.g. 0 for a sink that
        may be a source); the limits are made symmetric about it.
    inside
        Boolean boundary mask on the same grid: cells outside are left blank
        and the boundary is outlined.

    Returns
    -------
    bytes
        The PNG file.
    """
    raster = _raster(layer)
    values = _inside_values(raster, inside)
    if vmin is None or vmax is None:
        low, high = colour_limits([values], centre=centre)
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    elif centre is not None:
        half = max(abs(vmin - centre), abs(vmax - centre))
        vmin, vmax = centre - half, centre + half
    units = layer.attrs.get("units", "") if units is None else units
    label = str(layer.attrs.get("long_name", layer.name or "")) if label is None else label
    colour_map = colormaps[cmap].with_extremes(bad=(1.0, 1.0, 1.0, 0.0))

    fig = new_figure(_MAP_SIZE_IN, _MAP_MARGINS)
    ax = _map_axes(fig, title)
    image = ax.imshow(
        np.ma.masked_invalid(values),
        extent=raster.extent,
        cmap=colour_map,
        norm=Normalize(vmin=vmin, vmax=vmax),
        interpolation="nearest",
    )
    if not np.isfinite(values).any():
        no_data_note(ax, _("no data"))
    _boundary_outline(ax, inside)
    decorate_map(fig, ax, extent=raster.extent, caption=map_caption(layer, shown_every=raster.step))
    colour_bar = fig.colorbar(image, ax=ax, shrink=0.85, fraction=0.05, pad=0.03)
    colour_bar.set_label(colour_bar_label(label, units))
    return png_bytes(fig)


def flag_legend(layer: xr.DataArray) -> tuple[list[int], list[str]]:
    """The ``flag_values``/``flag_meanings`` legend of a class layer."""
    values = layer.attrs.get("flag_values")
    meanings = layer.attrs.get("flag_meanings")
    if values is None or meanings is None:
        raise ValueError(
            f"class layer {layer.name!r} has no flag_values/flag_meanings legend "
            "(class layers carry one, docs/design.md §4)"
        )
    codes = flag_codes(values)
    # The class names themselves (spaces, any script) when the layer carries them; the CF
    # flag_meanings hold one blank-free word per class.
    labels = layer.attrs.get("class_names")
    names = str(labels).split("\n") if labels else str(meanings).split()
    if len(codes) != len(names):
        raise ValueError(
            f"class layer {layer.name!r} has {len(codes)} flag_values but {len(names)} "
            "flag_meanings"
        )
    return codes, names


def class_colours(names: Sequence[str]) -> list[str]:
    """A colour per class name: :data:`CLASS_COLOURS` for known classes, ``tab10`` for others.

    Unknown classes take the qualitative colours in the order they appear, so
    the same legend always gets the same colours.
    """
    others = colormaps[_OTHER_CLASSES_CMAP]
    n_other = 0
    colours = []
    for name in names:
        known = CLASS_COLOURS.get(name.lower())
        if known is None:
            known = to_hex(others(n_other % others.N))
            n_other += 1
        colours.append(known)
    return colours


def class_map_figure(
    layer: xr.DataArray,
    *,
    title: str,
    inside: xr.DataArray | None = None,
) -> bytes:
    """A categorical map of a land-cover layer with a legend, as PNG bytes.

    Parameters
    ----------
    layer
        Integer class codes on the grid with ``flag_values`` and
        ``flag_meanings`` (space-separated names) attributes. Codes outside
        the legend (e.g. the fill value) are left blank.
    title
        Title above the map.
    inside
        Optional boundary mask: cells outside are left blank and the boundary
        is outlined.

    Returns
    -------
    bytes
        The PNG file.
    """
    codes, names = flag_legend(layer)
    raster = _raster(layer)
    index = np.full(raster.values.shape, np.nan)
    for i, code in enumerate(codes):
        index[np.asarray(raster.values) == code] = i
    if inside is not None:
        mask = np.asarray(_raster(inside).values, dtype=bool)
        index = np.where(mask, index, np.nan)
    colours = class_colours(names)
    colour_map = ListedColormap(colours).with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, len(codes))

    fig = new_figure(_MAP_SIZE_IN, (0.15, 0.13, 0.74, 0.92))
    ax = _map_axes(fig, title)
    ax.imshow(
        np.ma.masked_invalid(index),
        extent=raster.extent,
        cmap=colour_map,
        norm=norm,
        interpolation="nearest",
    )
    _boundary_outline(ax, inside)
    decorate_map(fig, ax, extent=raster.extent, caption=map_caption(layer, shown_every=raster.step))
    handles = [
        Patch(facecolor=colour, edgecolor="0.3", label=name)
        for name, colour in zip(names, colours, strict=True)
    ]
    ax.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        fontsize=8,
        frameon=False,
    )
    return png_bytes(fig)


def predicted_observed_figure(
    predictions: pd.DataFrame,
    *,
    title: str,
    units: str = "Mg DM/ha",
    quantity: str = "AGB",
    point: str = "plot",
) -> bytes:
    """Held-out predictions against observations with their intervals and the 1:1 line.

    Parameters
    ----------
    predictions
        Columns ``observed``, ``predicted``, ``lower``, ``upper``.
    title
        Title above the plot.
    units
        Units of the values (axis labels).
    quantity, point
        What is predicted (axis labels: ``AGB``, ``SOC``) and what each point
        is (legend: ``plot``, ``core``).

    Returns
    -------
    bytes
        The PNG file.
    """
    missing = sorted({"observed", "predicted", "lower", "upper"} - set(predictions.columns))
    if missing:
        raise ValueError(f"the predictions table lacks the column(s) {missing}")
    observed = predictions["observed"].to_numpy(dtype=np.float64)
    predicted = predictions["predicted"].to_numpy(dtype=np.float64)
    lower = predictions["lower"].to_numpy(dtype=np.float64)
    upper = predictions["upper"].to_numpy(dtype=np.float64)

    fig = new_figure((5.0, 4.8), (0.14, 0.1, 0.96, 0.93))
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(_("observed {quantity} ({units})").format(quantity=quantity, units=units))
    ax.set_ylabel(_("predicted {quantity} ({units})").format(quantity=quantity, units=units))
    everything = _finite(np.concatenate([observed, predicted, lower, upper]))
    if everything.size == 0:
        no_data_note(ax, _("no held-out predictions"))
        return png_bytes(fig)
    errors = np.vstack([np.clip(predicted - lower, 0, None), np.clip(upper - predicted, 0, None)])
    ax.errorbar(
        observed,
        predicted,
        yerr=errors,
        fmt="o",
        markersize=4,
        color="#1f4e79",
        ecolor="#9dbad5",
        elinewidth=1,
        capsize=0,
        label=_("{point} (prediction interval)").format(point=point),
    )
    low, high = float(everything.min()), float(everything.max())
    pad = 0.05 * (high - low) if high > low else 1.0
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color="0.3", linewidth=1, label="1:1")
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    return png_bytes(fig)


def cores_over_map_figure(
    soc: xr.DataArray,
    cores: pd.DataFrame,
    *,
    title: str,
    units: str | None = None,
    label: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    inside: xr.DataArray | None = None,
) -> bytes:
    """The SOC map with the soil cores on it, coloured by their own stock.

    Extrapolated cores (shallower than the counted depth) are drawn as
    triangles with a red edge.

    Parameters
    ----------
    soc
        SOC stock layer on the grid.
    cores
        Columns ``x``, ``y`` (survey CRS, m), ``soc_mg_ha`` and
        ``extrapolated`` (bool).
    title
        Title above the map.
    units
        Units on the colour bar (default: the layer's ``units``).
    label
        Colour-bar label (default: the layer's ``long_name``).
    vmin, vmax
        Colour limits (default: :func:`colour_limits` of the map and the cores).
    inside
        Boolean boundary mask, as for :func:`map_figure`.

    Returns
    -------
    bytes
        The PNG file.
    """
    missing = sorted({"x", "y", "soc_mg_ha", "extrapolated"} - set(cores.columns))
    if missing:
        raise ValueError(f"the cores table lacks the column(s) {missing}")
    raster = _raster(soc)
    values = _inside_values(raster, inside)
    core_soc = cores["soc_mg_ha"].to_numpy(dtype=np.float64)
    if vmin is None or vmax is None:
        low, high = colour_limits([values, core_soc])
        vmin = low if vmin is None else vmin
        vmax = high if vmax is None else vmax
    units = soc.attrs.get("units", "") if units is None else units
    norm = Normalize(vmin=vmin, vmax=vmax)
    colour_map = colormaps["YlOrBr"].with_extremes(bad=(1.0, 1.0, 1.0, 0.0))

    fig = new_figure(_MAP_SIZE_IN, _MAP_MARGINS)
    ax = _map_axes(fig, title)
    image = ax.imshow(
        np.ma.masked_invalid(values),
        extent=raster.extent,
        cmap=colour_map,
        norm=norm,
        interpolation="nearest",
    )
    _boundary_outline(ax, inside)
    decorate_map(fig, ax, extent=raster.extent, caption=map_caption(soc, shown_every=raster.step))
    extrapolated = cores["extrapolated"].to_numpy(dtype=bool)
    x = cores["x"].to_numpy(dtype=np.float64)
    y = cores["y"].to_numpy(dtype=np.float64)
    for chosen, marker, edge in ((~extrapolated, "o", "black"), (extrapolated, "^", "red")):
        ax.scatter(
            x[chosen],
            y[chosen],
            c=core_soc[chosen],
            cmap=colour_map,
            norm=norm,
            s=28,
            marker=marker,
            edgecolors=edge,
            linewidths=1.0,
            zorder=3,
        )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor="white",
            color="black",
            label=_("core ({n})").format(n=int((~extrapolated).sum())),
        ),
        Line2D(
            [],
            [],
            marker="^",
            linestyle="",
            markerfacecolor="white",
            color="red",
            label=_("extrapolated core ({n})").format(n=int(extrapolated.sum())),
        ),
    ]
    ax.legend(handles=handles, loc="best", fontsize=8)
    colour_bar = fig.colorbar(image, ax=ax, shrink=0.85, fraction=0.05, pad=0.03)
    label = str(soc.attrs.get("long_name", soc.name or "SOC stock")) if label is None else label
    colour_bar.set_label(colour_bar_label(label, units))
    return png_bytes(fig)


def _bins(draws: FloatArray) -> FloatArray:
    edges: FloatArray = np.histogram_bin_edges(draws, bins="auto")
    if edges.size - 1 > _MAX_BINS:
        edges = np.histogram_bin_edges(draws, bins=_MAX_BINS)
    return edges


def net_histogram_figure(
    draws: npt.ArrayLike,
    *,
    ci90: tuple[float, float],
    estimate: float,
    adjusted: float,
    rule: str,
    units: str = "t CO2e/yr",
) -> bytes:
    """Histogram of the Monte Carlo draws of the net removals, with the claim's figures.

    Parameters
    ----------
    draws
        Draws of the project net removals.
    ci90
        Their 90 % interval (5th, 95th percentiles) as in the ledger.
    estimate
        The net estimate (Monte Carlo mean) as in the ledger.
    adjusted
        The net after the applied uncertainty rule.
    rule
        Name of that rule (legend).
    units
        Units of the draws.

    Returns
    -------
    bytes
        The PNG file.
    """
    values = _finite(draws)
    fig = new_figure((7.0, 3.8), (0.09, 0.13, 0.98, 0.91))
    ax = fig.add_subplot()
    ax.set_title(_("Monte Carlo distribution of the net removals"), fontsize=11)
    ax.set_xlabel(_("net removals ({units})").format(units=units))
    ax.set_ylabel(_("draws"))
    if values.size == 0:
        no_data_note(ax, _("no finite draws"))
        return png_bytes(fig)
    ax.hist(values, bins=_bins(values).tolist(), color="#9dbad5", edgecolor="white", linewidth=0.4)
    ax.axvspan(ci90[0], ci90[1], color="#1f4e79", alpha=0.08, label=_("90 % interval"))
    for bound in ci90:
        ax.axvline(bound, color="#1f4e79", linestyle="--", linewidth=1)
    ax.axvline(
        estimate,
        color="#1f4e79",
        linewidth=1.8,
        label=_("estimate {value}").format(value=f"{estimate:,.1f}"),
    )
    ax.axvline(
        adjusted,
        color="#c0392b",
        linewidth=1.8,
        label=_("after rule {rule}: {value}").format(rule=rule, value=f"{adjusted:,.1f}"),
    )
    low, high = ax.get_xlim()
    if low < 0.0 < high:
        ax.axvline(0.0, color="black", linewidth=0.8)
    ax.legend(loc="upper right", fontsize=8)
    return png_bytes(fig)
