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
row-major order). Plain farthest-point sampling puts its first sites on the
region's rim (the rim is far from everything chosen); each candidate's
distance to the region's edge therefore counts twice, as the distance to its
mirror image across the edge would (eq. 9.7): the sites pack the region like
discs, the first at its most interior cell, and a rim cell — where a
navigation or map error would put a site in another stratum — is taken only
once every cell is within one cell of a site.
Water (the last epoch's imagery water mask) is never a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["StratumSites", "edge_distance", "maximin_order", "stratum_sites"]

FloatArray = npt.NDArray[np.float64]


def edge_distance(region: npt.NDArray[np.bool_], cell_m: float) -> FloatArray:
    """Distance (m) of each cell of ``region`` to the region's edge, 0 outside it.

    d = EDT − ½ cell: the Euclidean distance transform of the region (the
    distance from a cell's centre to the nearest centre of a cell outside
    it, or beyond the array) less half a cell, so a cell on the rim is half
    a cell from the edge.

    Parameters
    ----------
    region
        ``(y, x)`` True inside the region.
    cell_m
        The (square) cell's side, m.

    Examples
    --------
    >>> edge_distance(np.ones((1, 5), dtype=bool), 10.0).tolist()
    [[5.0, 5.0, 5.0, 5.0, 5.0]]
    >>> edge_distance(np.ones((5, 5), dtype=bool), 10.0)[:, 2].tolist()
    [5.0, 15.0, 25.0, 15.0, 5.0]
    """
    mask = np.pad(np.asarray(region, dtype=bool), 1)
    edt = ndimage.distance_transform_edt(mask)[1:-1, 1:-1]
    return np.where(region, (np.asarray(edt, dtype=np.float64) - 0.5) * abs(float(cell_m)), 0.0)


def maximin_order(
    candidates: FloatArray,
    fixed: FloatArray,
    n: int,
    *,
    edge_m: FloatArray | None = None,
) -> npt.NDArray[np.intp]:
    """Indices of ``n`` candidates in greedy maximin order (eq. 9.7 with ``edge_m``).

    Each is the candidate of largest score: its distance to the nearest fixed
    or earlier-chosen site, capped at twice its distance to the edge when
    ``edge_m`` is given.

    Parameters
    ----------
    candidates
        ``(N, 2)`` candidate sites, m.
    fixed
        ``(M, 2)`` sites already in the sample (may be empty).
    n
        How many to choose (at most N).
    edge_m
        ``(N,)`` each candidate's distance to the region's edge, m
        (:func:`edge_distance`), or None. Given, a candidate's score is

            D(c) = min(2 d_edge(c), min over chosen and fixed p of ‖c − p‖)      (9.7)

        (the distance to its mirror image across the edge), so the first
        site of an empty region is its most interior cell. Without it, and
        nothing fixed, the first is the candidate farthest from the
        candidates' centroid.

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

    With each cell's distance to the edge (the corners 0.25 from it, the
    centre 0.75), the centre comes first.

    >>> edge = np.array([0.25, 0.25, 0.25, 0.25, 0.75])
    >>> maximin_order(square, np.empty((0, 2)), 2, edge_m=edge).tolist()
    [4, 0]
    """
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    n = min(int(n), candidates.shape[0])
    if n <= 0:
        return np.zeros(0, dtype=np.intp)
    fixed = np.asarray(fixed, dtype=np.float64).reshape(-1, 2)
    if fixed.shape[0]:
        nearest, _ = cKDTree(fixed).query(candidates)
        nearest = np.asarray(nearest, dtype=np.float64)
    elif edge_m is None:
        centre = candidates.mean(axis=0)
        nearest = np.hypot(*(candidates - centre).T)
    else:
        nearest = np.full(candidates.shape[0], np.inf)
    if edge_m is not None:
        edge = np.asarray(edge_m, dtype=np.float64)
        if edge.shape != (candidates.shape[0],):
            raise ValueError(
                f"edge_m has shape {edge.shape}; expected one distance per candidate "
                f"({candidates.shape[0]},)"
            )
        nearest = np.minimum(nearest, 2.0 * edge)
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
    edge_m: FloatArray | None = None,
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
    edge_m
        ``(N,)`` each cell's distance to the edge of the candidate region, m
        (eq. 9.7), or None.

    Returns
    -------
    StratumSites
    """
    revisits = np.zeros((0, 2)) if first_sites is None else np.asarray(first_sites, np.float64)
    order = maximin_order(revisits, np.empty((0, 2)), min(n_max, revisits.shape[0]))
    kept = revisits[order]
    new = maximin_order(cells, kept, max(n_max - kept.shape[0], 0), edge_m=edge_m)
    xy = np.vstack([kept, np.asarray(cells, dtype=np.float64).reshape(-1, 2)[new]])
    flags = np.concatenate([np.ones(kept.shape[0], bool), np.zeros(new.size, bool)])
    return StratumSites(xy=xy, revisit=flags)
