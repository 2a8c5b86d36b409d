"""The ledger's evidence of the true classes behind the mapped ones (docs/methodology.md §6.10).

The accounting stage's keyed quantities (AGB, DOM) are map totals per
(stratum, mapped class) key; their class factors (CF, R) belong to the
cells' true classes. :func:`class_attribution` reads what the first and last
land-cover maps say of those — each map's accuracy-sample counts and mapped
class shares, and the area and last-epoch AGB of every (first map class,
last map class) pair of cells — for
:class:`carbonsink.accounting.class_attribution.ClassAttribution`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from carbonsink.accounting.class_attribution import ClassAttribution
from carbonsink.pipeline.context import RunContext

if TYPE_CHECKING:
    from carbonsink.pipeline.stages.epoch import EpochResults

__all__ = ["class_attribution"]


def _sample(
    result: EpochResults, names: list[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The map's accuracy-sample counts n_ij and mapped class shares W_i, in ``names`` order."""
    landcover = result.cube.landcover
    counts = landcover.accuracy.confusion.reindex(index=names, columns=names, fill_value=0)
    proportions = landcover.areas.proportions.reindex(index=names, columns=names, fill_value=0.0)
    shares = proportions.to_numpy(dtype=np.float64).sum(axis=1)
    return counts.to_numpy(dtype=np.float64), shares / shares.sum()


def class_attribution(ctx: RunContext, first: EpochResults, last: EpochResults) -> ClassAttribution:
    """The first and last maps' evidence of the keys' true classes (module docstring).

    Parameters
    ----------
    ctx
        The run (legend, cell areas, project boundary).
    first, last
        The first and last epochs' stage results (land-cover maps, their
        accuracy samples and area estimates, the last AGB map).
    """
    legend = ctx.survey.vegetation.by_code()
    codes = sorted(legend)
    names = [legend[c] for c in codes]
    maps = [r.cube.cube["landcover"].values.astype(np.int64) for r in (first, last)]
    inside = ctx.inside.values.astype(bool)
    known = inside & np.isin(maps[0], codes) & np.isin(maps[1], codes)
    position = np.searchsorted(np.array(codes), [m[known] for m in maps])
    area = ctx.cell_area_ha.values.astype(np.float64)[known]
    agb = np.nan_to_num(last.biomass.layers["agb_mg_ha"].values.astype(np.float64))[known]
    pair_area = np.zeros((len(codes), len(codes)))
    pair_agb = np.zeros((len(codes), len(codes)))
    np.add.at(pair_area, (position[0], position[1]), area)
    np.add.at(pair_agb, (position[0], position[1]), agb * area)
    first_counts, first_shares = _sample(first, names)
    last_counts, last_shares = _sample(last, names)
    return ClassAttribution(
        classes=tuple(names),
        first_counts=first_counts,
        last_counts=last_counts,
        first_shares=first_shares,
        last_shares=last_shares,
        pair_area=pair_area,
        pair_agb_last=pair_agb,
    )
