"""Figures of a fitted spatial model: the variogram and what it was fitted to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from carbonsink.i18n import gettext as _
from carbonsink.report.figures import new_figure, no_data_note, png_bytes

__all__ = ["variogram_figure"]


def variogram_figure(variogram: Mapping[str, Any], *, title: str) -> bytes:
    """The experimental semivariogram (points sized by pairs) and the fitted model.

    Parameters
    ----------
    variogram
        ``model``, ``nugget``, ``psill``, ``range_m``, ``units`` (of the
        semivariance), ``of`` (``values`` or ``residuals``), the model's curve
        ``curve_m`` and ``curve_semivariance`` and, when the model was fitted,
        ``lag_m``, ``semivariance`` and ``n_pairs`` of the classes.
    title
        Title above the plot.

    Returns
    -------
    bytes
        The PNG file.
    """
    fig: Figure = new_figure((5.0, 3.8), (0.15, 0.14, 0.96, 0.9))
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(_("separation distance (m)"))
    units = str(variogram["units"]).replace("^2", "²")
    ax.set_ylabel(
        _("semivariance of the {of} ({units})").format(
            of=variogram.get("of", "values"), units=units
        )
    )
    lags = np.asarray(variogram.get("lag_m") or [], dtype=np.float64)
    gamma = np.asarray(variogram.get("semivariance") or [], dtype=np.float64)
    pairs = np.asarray(variogram.get("n_pairs") or [], dtype=np.float64)
    h = np.asarray(variogram.get("curve_m") or [], dtype=np.float64)
    curve = np.asarray(variogram.get("curve_semivariance") or [], dtype=np.float64)
    if h.size < 2 or h.size != curve.size:
        no_data_note(ax, _("no variogram"))
        return png_bytes(fig)
    far = 1.05 * max(float(h.max()), float(lags.max()) if lags.size else 0.0)  # no point cut
    ax.plot(
        h,
        curve,
        color="#1f4e79",
        label=_("{model}: nugget {nugget}, partial sill {psill}, range {range} m").format(
            model=variogram["model"],
            nugget=f"{float(variogram['nugget']):.3g}",
            psill=f"{float(variogram['psill']):.3g}",
            range=f"{float(variogram['range_m']):.0f}",
        ),
    )
    if lags.size:
        sizes = 12.0 + 60.0 * pairs / max(float(pairs.max()), 1.0)
        ax.scatter(
            lags, gamma, s=sizes, color="#c05a00", zorder=3, label=_("experimental (size: pairs)")
        )
    ax.set_xlim(0.0, far)
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="lower right", fontsize=7)
    return png_bytes(fig)
