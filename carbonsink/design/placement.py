"""Where the next epoch's cores and plots go: spatially balanced within each stratum.

Each stratum gets one ordered list of sites; a design with n of them takes the
first n, so the order is the priority (docs/methodology.md §9.2):

* **cores** revisit the first epoch's sites of the stratum first (a revisited
  site shares its small-scale soil variation with the first survey, which
  the change then does not carry, eq. 6.11), in greedy maximin order, then
  go to new sites, each the cell farthest from every site already chosen;
* **plots** go to new sites in greedy maximin order, only where the last
  epoch's biomass models are inside their area of applicability.

Greedy maximin (farthest-point) sampling spreads a sample evenly over a
region like the balanced designs of Stevens & Olsen (2004) or Grafström et
al. (2012) while staying deterministic: the next site is the candidate whose
distance to the nearest chosen site is the largest (ties: the first in
row-major order). Water (the last epoch's imagery water mask) is never a
candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

__all__ = ["StratumSites", "maximin_order", "stratum_sites"]

FloatArray = npt.NDArray[np.float64]


def maximin_order(candidates: FloatArray, fixed: FloatArray, n: int) -> npt.NDArray[np.intp]:
    """Indices of ``n`` candidates, each the farthest from the fixed points and those before it.

    Parameters
    ----------
    candidates
        ``(N, 2)`` candidate sites, m.
    fixed
        ``(M, 2)`` sites already in the sample (may be empty): the first
        candidate is the farthest from them; with none, the candidate
        farthest from the candidates' centroid.
    n
        How many to choose (at most N).

    Returns
    -------
    numpy.ndarray
        ``(min(n, N),)`` indices into ``candidates``, in the order chosen.

    Examples
    --------
    Four corners and a centre, nothing fixed: the corners first (each as far
    as possible from those chosen), the centre last.

    >>> square = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    >>> maximin_order(square, np.empty((0, 2)), 5).tolist()
    [0, 1, 2, 3, 4]
    """
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    n = min(int(n), candidates.shape[0])
    if n <= 0:
        return np.zeros(0, dtype=np.intp)
    fixed = np.asarray(fixed, dtype=np.float64).reshape(-1, 2)
    if fixed.shape[0]:
        nearest, _ = cKDTree(fixed).query(candidates)
        nearest = np.asarray(nearest, dtype=np.float64)
    else:
        centre = candidates.mean(axis=0)
        nearest = np.hypot(*(candidates - centre).T)
    chosen = np.zeros(n, dtype=np.intp)
    for k in range(n):
        pick = int(np.argmax(nearest))
        chosen[k] = pick
        step = np.hypot(*(candidates - candidates[pick]).T)
        nearest = np.minimum(nearest, step)
        nearest[pick] = -1.0
    return chosen


@dataclass(frozen=True)
class StratumSites:
    """The ordered sites of one stratum for one kind of sample.

    Attributes
    ----------
    xy
        ``(N, 2)`` sites in the analysis CRS, in priority order.
    revisit
        ``(N,)`` True where the site is one of the first epoch's.
    """

    xy: FloatArray
    revisit: npt.NDArray[np.bool_]


def stratum_sites(
    cells: FloatArray,
    *,
    first_sites: FloatArray | None = None,
    n_max: int,
) -> StratumSites:
    """A stratum's sites in priority order: the first epoch's (revisits), then new cells.

    Parameters
    ----------
    cells
        ``(N, 2)`` centres of the stratum's candidate cells.
    first_sites
        ``(R, 2)`` the first epoch's sites in the stratum (cores), or ``None``
        (plots: no revisits).
    n_max
        How many sites to order at most.

    Returns
    -------
    StratumSites
    """
    revisits = np.zeros((0, 2)) if first_sites is None else np.asarray(first_sites, np.float64)
    order = maximin_order(revisits, np.empty((0, 2)), min(n_max, revisits.shape[0]))
    kept = revisits[order]
    new = maximin_order(cells, kept, max(n_max - kept.shape[0], 0))
    xy = np.vstack([kept, np.asarray(cells, dtype=np.float64).reshape(-1, 2)[new]])
    flags = np.concatenate([np.ones(kept.shape[0], bool), np.zeros(new.size, bool)])
    return StratumSites(xy=xy, revisit=flags)
