"""What makes a report figure a map: a scale bar, a north arrow, the CRS and the cell size.

A verifier reads distances and orientation off the report's maps, and must
know which projection the coordinates are in; raw "x (m)" ticks say neither.
"""

from __future__ import annotations

import math
import textwrap
from typing import Final

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # type: ignore[import-untyped]

from carbonsink.i18n import gettext as _

__all__ = ["colour_bar_label", "decorate_map", "map_caption", "scale_bar_length"]

#: The scale bar spans at most this fraction of the map's width.
_BAR_FRACTION: Final = 0.25
#: Characters per line of a colour bar's label (longer labels wrap, not clip).
_BAR_LABEL_WIDTH: Final = 42


def colour_bar_label(label: str, units: str | None) -> str:
    """A colour bar's label with its units, wrapped so that it fits beside the map.

    Examples
    --------
    >>> colour_bar_label("SOC stock", "Mg C/ha")
    'SOC stock (Mg C/ha)'
    >>> print(colour_bar_label("carbon stock (AGB C + BGB C + DOM C + SOC 0–100 cm)", "Mg C/ha"))
    carbon stock (AGB C + BGB C + DOM C + SOC
    0–100 cm) (Mg C/ha)
    """
    text = f"{label} ({units})" if units else label
    return "\n".join(textwrap.wrap(text, _BAR_LABEL_WIDTH, break_on_hyphens=False)) or text


def scale_bar_length(width_m: float) -> float:
    """The longest round length (1, 2 or 5 × 10^k m) within a quarter of the map's width.

    Parameters
    ----------
    width_m
        The map's east–west extent, m (> 0).

    Examples
    --------
    >>> scale_bar_length(1950.0)  # a quarter is 487.5 m: 200 m fits, 500 m does not
    200.0
    >>> scale_bar_length(4000.0)  # a quarter is exactly 1000 m
    1000.0
    """
    if not (math.isfinite(width_m) and width_m > 0):
        raise ValueError(f"a map's width must be a positive length, got {width_m!r} m")
    limit = width_m * _BAR_FRACTION
    power = 10.0 ** math.floor(math.log10(limit))
    for step in (5.0, 2.0, 1.0):
        if step * power <= limit * (1 + 1e-12):
            return step * power
    return power  # pragma: no cover - 1 × 10^floor(log10(limit)) always fits


def _length_label(metres: float) -> str:
    """``500 m``, ``2 km``, ``2.5 km``."""
    if metres >= 1000.0:
        return f"{metres / 1000.0:g} km"
    return f"{metres:g} m"


def map_caption(layer: xr.DataArray, *, shown_every: int = 1) -> str:
    """The layer's CRS and cell size, e.g. ``WGS 84 / UTM zone 49N (EPSG:32649), cells 10 m``.

    The cell size comes from the ``x``/``y`` coordinates (regular grid);
    ``shown_every`` > 1 says the map shows every n-th cell of each row and column.
    """
    return _("{crs}, {cells}").format(crs=_crs_text(layer), cells=_cells_text(layer, shown_every))


def _crs_text(layer: xr.DataArray) -> str:
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from pyproj import CRS

    try:
        recorded = layer.rio.crs
    except Exception:  # rioxarray raises its own errors for layers it cannot read
        recorded = None
    if recorded is None:
        return _("CRS not recorded")
    crs = CRS.from_wkt(recorded.to_wkt())
    code = crs.to_epsg()
    return f"{crs.name} (EPSG:{code})" if code is not None else str(crs.name)


def _cells_text(layer: xr.DataArray, shown_every: int) -> str:
    sizes = []
    for dim in ("x", "y"):
        coord = np.asarray(layer[dim].values, dtype=np.float64) if dim in layer.coords else None
        if coord is None or coord.size < 2:
            return _("cell size not recorded")
        sizes.append(abs(float(coord[-1] - coord[0]) / (coord.size - 1)))
    dx, dy = sizes
    cells = (
        _("cells {size} m").format(size=f"{dx:g}")
        if math.isclose(dx, dy)
        else _("cells {dx} × {dy} m").format(dx=f"{dx:g}", dy=f"{dy:g}")
    )
    if shown_every > 1:
        cells += _(" (1 in {n} shown)").format(n=shown_every)
    return cells


def decorate_map(
    fig: Figure, ax: Axes, *, extent: tuple[float, float, float, float], caption: str
) -> None:
    """Add a scale bar (lower left), a grid-north arrow (upper right) and the caption.

    Parameters
    ----------
    fig, ax
        The figure and its map axes (equal aspect, metres).
    extent
        ``(left, right, bottom, top)`` of the drawn cells, m.
    caption
        The CRS and cell size (:func:`map_caption`), written under the map.
    """
    left, right = extent[0], extent[1]
    length = scale_bar_length(abs(right - left))
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        _length_label(length),
        loc="lower left",
        pad=0.4,
        borderpad=0.5,
        sep=3,
        frameon=True,
        size_vertical=0,
        fontproperties={"size": 8},
    )
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)
    ax.annotate(
        "N",
        xy=(0.95, 0.97),
        xytext=(0.95, 0.83),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=9,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
    )
    fig.text(
        0.01,
        0.01,
        _("{caption}; north is grid north").format(caption=caption),
        fontsize=7,
        color="0.3",
    )
