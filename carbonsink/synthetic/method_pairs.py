"""Soil samples measured by both organic-carbon methods (``method_pairs=N``).

The synthetic 2025 (and 2028) lab reads organic carbon by dichromate with a
relative method bias ``b`` (:class:`~carbonsink.synthetic.sediment.SoilWorld`)
that the 2020 CHN lab does not have. A project narrows that bias by measuring
a set of samples by both methods (docs/methodology.md §3.2, eq. 3.3b); this
module simulates that set, so that the run's calibration and the design's
eq. 9.8 can be checked against the known ``b``:

* **the samples** are N archived layer samples of the last epoch: N distinct
  random land cells (never water in that epoch's true class map) inside the
  boundary, each with one random layer of the cores' layers
  (:data:`~carbonsink.synthetic.fieldwork.CORE_LAYERS_CM`); the sample's
  true OC is its cell's mass-weighted layer OC times the cores' micro-site
  factor (lognormal, SD of log 0.08);
* **the measurements**, one row per sample and method, as the cores' labs
  report them: CHN ``soc_pct = OC × (1 + 0.03 Z₁)`` and dichromate
  ``om_g_kg = 10 × 1.724 × OC × (1 + 0.06 Z₂) × (1 + b)``, rounded to 0.01;
* **the random stream** is ``"fieldwork.method_pairs"``: every other file is
  byte-identical with and without the samples.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from carbonsink.synthetic.fieldwork import (
    CORE_LAYERS_CM,
    LAB_SD,
    OM_TO_OC_DICHROMATE,
    _sample_points,
    _to_landscape,
)
from carbonsink.synthetic.landscape import Landscape
from carbonsink.synthetic.parameters import CLASS_BY_NAME
from carbonsink.synthetic.random_fields import named_stream

__all__ = ["METHOD_PAIRS_FILE", "method_pairs", "pairs_note"]

#: Where the survey keeps the samples by both methods (``[soil] method_pairs``).
METHOD_PAIRS_FILE: Final = "method_pairs.csv"


def method_pairs(landscape: Landscape, n: int) -> pd.DataFrame:
    """``n`` soil samples of the last epoch measured by CHN and by dichromate.

    Parameters
    ----------
    landscape
        The truth; its last epoch must carry the dichromate lab's bias.
    n
        Samples (≥ 1); fewer when the land has fewer cells.

    Returns
    -------
    pandas.DataFrame
        ``sample_id`` (``M-001`` …), ``method`` (``CHN`` then ``dichromate``
        for each sample), ``depth_top_cm``, ``depth_bottom_cm``, ``soc_pct``
        (CHN rows) and ``om_g_kg`` (dichromate rows), blank where the row's
        method does not report it.
    """
    rng = named_stream(landscape.seed, "fieldwork.method_pairs")
    epoch = landscape.epochs[-1]
    grid = landscape.grid
    inside = grid.boundary_mask(landscape.boundary)
    land = inside & (landscape.crop(epoch.class_code) != CLASS_BY_NAME["water"].code)
    cells = _sample_points(landscape, land, n, rng)
    rows, cols = _to_landscape(landscape, cells)
    profile = epoch.soil.at(rows, cols).scaled(
        oc_factor=np.exp(0.08 * rng.standard_normal(rows.size)),
        bd_factor=np.ones(rows.size),
    )
    layer = rng.integers(0, len(CORE_LAYERS_CM), rows.size)
    top = np.array([CORE_LAYERS_CM[k][0] for k in layer], dtype=np.int64)
    bottom = np.array([CORE_LAYERS_CM[k][1] for k in layer], dtype=np.int64)
    oc = np.empty(rows.size)
    for k, (a, b) in enumerate(CORE_LAYERS_CM):
        at = layer == k
        oc[at] = profile.layer_means(float(a), float(b))[0][at]
    chn = np.maximum(oc * (1.0 + LAB_SD["CHN"] * rng.standard_normal(oc.size)), 0.0)
    dichromate = np.maximum(
        oc * (1.0 + LAB_SD["dichromate"] * rng.standard_normal(oc.size)), 0.0
    ) * (1.0 + landscape.soil_world.lab_method_bias)
    ids = [f"M-{i + 1:03d}" for i in range(oc.size)]
    blank = np.full(oc.size, np.nan)
    table = pd.DataFrame(
        {
            "sample_id": ids * 2,
            "method": ["CHN"] * oc.size + ["dichromate"] * oc.size,
            "depth_top_cm": np.tile(top, 2),
            "depth_bottom_cm": np.tile(bottom, 2),
            "soc_pct": np.concatenate([np.round(chn, 2), blank]),
            "om_g_kg": np.concatenate(
                [blank, np.round(dichromate * 10.0 * OM_TO_OC_DICHROMATE, 2)]
            ),
        }
    )
    return table.sort_values(["sample_id", "method"], kind="stable").reset_index(drop=True)


def pairs_note(n: int, epoch_name: str) -> str:
    """The README's paragraph on the samples by both methods (empty for ``n`` = 0).

    Markdown starting with a blank line, like
    :func:`~carbonsink.synthetic.design_points.design_note`.
    """
    if n <= 0:
        return ""
    return f"""

**Samples by both methods** (`method_pairs={n}`, `{METHOD_PAIRS_FILE}`, named by
`[soil] method_pairs`). {n} archived {epoch_name} layer samples (random land cells,
one random core layer each) measured by the CHN lab (`soc_pct`, 3 % per reading)
and by the dichromate lab (`om_g_kg`, 6 % per reading, times 1 + b, the same
bias b as its cores): the run measures b from them and corrects the dichromate
OC (docs/methodology.md §3.2, eq. 3.3b). No other input differs."""
