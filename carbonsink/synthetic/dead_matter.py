"""The true dead organic matter (DOM: litter and standing dead) of every epoch.

Generative model, on the landscape grid::

    DOM_e = r_{c,e} × AGB_e × m,    m = exp(σ F − σ²/2)

with ``r_{c,e}`` the dead:live ratio of the cell's class ``c`` in epoch ``e``
(:data:`~carbonsink.synthetic.parameters.DOM_RATIOS`; 0 on open water),
``AGB_e`` the true above-ground biomass (Mg DM/ha) and ``m`` a spatially
correlated lognormal multiplier of mean 1:
``σ =`` :data:`~carbonsink.synthetic.parameters.DOM_MULTIPLIER_LOG_SD` and
``F`` a unit Gaussian random field of correlation length
:data:`~carbonsink.synthetic.parameters.DOM_MULTIPLIER_LENGTH_M` drawn from
its own stream ``"landscape.dom_multiplier"``. The multiplier is persistent
(the same field in both epochs: where litter gathers stays where it
gathers), so in a cell that keeps its class the dead:live ratio changes
exactly by ``r_{c,2025} / r_{c,2020}`` — 1.2 in reed and Miscanthus, 1 in
the other classes — and the DOM change is not just the AGB change. Cleared
poplar stands take the ratio of the class they recover as. A third epoch
(2028) keeps the 2025 ratios, so its DOM follows its AGB: a burnt reed bed's
dead matter burns with it and a felled stand takes the ratio of what it
turns into.

The stream is new: every other random draw of the generator, and so every
other output file, is unchanged by this pool.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from carbonsink.synthetic.parameters import (
    CLASSES,
    DOM_MULTIPLIER_LENGTH_M,
    DOM_MULTIPLIER_LOG_SD,
)
from carbonsink.synthetic.random_fields import gaussian_field, named_stream

__all__ = ["DOM_STREAM", "dom_density", "dom_multiplier"]

FloatArray = npt.NDArray[np.float64]

#: Name of the random stream of the DOM multiplier field.
DOM_STREAM: Final = "landscape.dom_multiplier"


def dom_multiplier(seed: int, shape: tuple[int, int], *, resolution_m: float) -> FloatArray:
    """The persistent, mean-one lognormal DOM multiplier ``m``.

    Parameters
    ----------
    seed
        Survey seed; the field comes from the stream :data:`DOM_STREAM`.
    shape
        ``(rows, cols)`` of the landscape grid.
    resolution_m
        Cell size of that grid, m (converts the correlation length to cells).

    Returns
    -------
    numpy.ndarray
        ``exp(σ F − σ²/2)``, float64 of ``shape``.
    """
    sd = DOM_MULTIPLIER_LOG_SD
    field = gaussian_field(
        named_stream(seed, DOM_STREAM), shape, length_cells=DOM_MULTIPLIER_LENGTH_M / resolution_m
    )
    return np.asarray(np.exp(sd * field - sd**2 / 2), dtype=np.float64)


def dom_density(
    classes: npt.NDArray[np.integer],
    agb_mg_ha: FloatArray,
    multiplier: FloatArray,
    *,
    epoch_index: int,
) -> FloatArray:
    """True dead organic matter of one epoch, Mg DM/ha.

    Parameters
    ----------
    classes
        The epoch's class codes.
    agb_mg_ha
        The epoch's true AGB, Mg DM/ha.
    multiplier
        :func:`dom_multiplier`, the same array for every epoch.
    epoch_index
        Position of the epoch in the survey (0 for 2020, 1 for 2025, 2 for the
        optional 2028), which selects the dead:live ratio; an epoch after the
        last of :data:`~carbonsink.synthetic.parameters.DOM_RATIOS` (2028) keeps
        the last ratio (2025's).

    Returns
    -------
    numpy.ndarray
        ``r_{class, epoch} × AGB × m``, float64 of the shape of ``classes``.
    """
    ratio = np.zeros(agb_mg_ha.shape, dtype=np.float64)
    for params in CLASSES:
        ratios = params.dom_ratio
        ratio[classes == params.code] = ratios[min(epoch_index, len(ratios) - 1)]
    return np.asarray(ratio * agb_mg_ha * multiplier, dtype=np.float64)
