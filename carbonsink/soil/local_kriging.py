"""Local ordinary kriging: each query point kriged from its k nearest points.

The engine behind the SOC map and its cross-validation (docs/methodology.md §3):
:class:`LocalOrdinaryKriging` holds the points, their values and measurement
variances and a variogram, and kriges any number of query points with
bounded memory. Query points whose k nearest points are the same set share
one kriging system (an order-k Voronoi region), which is built and inverted
once; see :func:`carbonsink.soil.soc_map.predict_soc` for the speed and
memory figures.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits

from carbonsink.errors import ModelError
from carbonsink.spatial.variogram import VARIOGRAM_MODELS, VariogramModel

__all__ = ["LocalOrdinaryKriging"]

FloatArray = npt.NDArray[np.float64]

#: Neighbour sets whose kriging systems are built at once (≈ 9 kB each for k = 32).
_SETS_PER_BATCH: Final = 1024
#: Largest ‖A·A⁻¹ − I‖ accepted for a kriging system before it is called singular.
_INVERSE_TOLERANCE: Final = 1e-6


class LocalOrdinaryKriging:
    """Ordinary kriging from the ``k`` nearest points, one system per neighbour set.

    Parameters
    ----------
    xs, ys
        Point coordinates in a projected CRS, m (distinct locations).
    zs
        One value per point.
    variogram
        The variogram of the values (of the process: without the
        measurement variance, which ``noise_var`` adds).
    noise_var
        Measurement variance of each value (se²), added to the diagonal of
        the kriging matrix; zeros for exact values.
    n_neighbours
        k, the nearest points used for each query point (at most all points).

    Notes
    -----
    Query points whose k nearest points are the same set share the kriging
    matrix; it is inverted once per distinct set (order-k Voronoi region),
    and each query point then costs only its covariance vector and two
    products. The system is [C + diag(se²) 1; 1ᵀ 0][λ; μ] = [c₀; 1] in
    covariance form, C(h) = sill − γ(h) (Webster & Oliver 2007 §8.2).
    """

    def __init__(
        self,
        xs: FloatArray,
        ys: FloatArray,
        zs: FloatArray,
        variogram: VariogramModel,
        *,
        noise_var: FloatArray,
        n_neighbours: int,
    ) -> None:
        self.xy = np.column_stack([xs, ys])
        self.z = zs
        self.variogram = variogram
        self.noise_var = noise_var
        self.k = min(n_neighbours, xs.size)
        self.tree = cKDTree(self.xy)
        # Fixed odd multipliers that hash a sorted neighbour set to one integer;
        # a collision is detected and resolved exactly in :meth:`predict`.
        multipliers = np.random.default_rng(self.k).integers(1, 2**62, size=self.k)
        self.set_hash = multipliers.astype(np.uint64) | np.uint64(1)

    def _systems(self, sets: npt.NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        """Inverse OK matrices (G, k+1, k+1) and weight vectors A⁻¹[z; 0] (G, k+1)."""
        g, k = sets.shape
        pts = self.xy[sets]
        dist = np.sqrt(((pts[:, :, None, :] - pts[:, None, :, :]) ** 2).sum(axis=-1))
        a = np.zeros((g, k + 1, k + 1), dtype=np.float64)
        a[:, :k, :k] = self.variogram.covariance(dist)
        diag = np.arange(k)
        a[:, diag, diag] += self.noise_var[sets]
        a[:, k, :k] = 1.0
        a[:, :k, k] = 1.0
        try:
            a_inv = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            a_inv = np.full_like(a, np.nan)
        error = np.abs(a @ a_inv - np.eye(k + 1)).max(axis=(1, 2))
        if not np.all(error < _INVERSE_TOLERANCE):
            raise ModelError(
                f"the kriging system of a {k}-point neighbourhood is singular or "
                f"ill-conditioned with the {self.variogram.model} variogram "
                f"(nugget {self.variogram.nugget:.3g})",
                fix="use a variogram with a nugget > 0, or the spherical or exponential model",
            )
        rhs = np.zeros((g, k + 1), dtype=np.float64)
        rhs[:, :k] = self.z[sets]
        weights = np.einsum("gij,gj->gi", a_inv, rhs)
        return a_inv, weights

    def predict(
        self, xq: FloatArray, yq: FloatArray, *, point_support: bool
    ) -> tuple[FloatArray, FloatArray]:
        """Kriged value and kriging variance at query points.

        Parameters
        ----------
        xq, yq
            Query point coordinates, m.
        point_support
            ``True``: the target is the value a point measurement would give
            there (the nugget included); ``False``: the value of the cell
            around it, whose nugget (within-cell and measurement variation)
            averages out (see :func:`carbonsink.soil.soc_map.predict_soc`).

        Returns
        -------
        prediction, variance
            float64 arrays, one value per query point; the variance is ≥ 0.

        Raises
        ------
        ModelError
            A neighbourhood's kriging system is singular or ill-conditioned.
        """
        m, k = xq.size, self.k
        if m == 0:
            return np.empty(0), np.empty(0)
        _, found = self.tree.query(np.column_stack([xq, yq]), k=k)
        idx = np.sort(np.asarray(found, dtype=np.intp).reshape(m, k), axis=1)
        keys = (idx.astype(np.uint64) * self.set_hash).sum(axis=1, dtype=np.uint64)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        sets = idx[first]
        if not np.array_equal(sets[inverse], idx):  # a hash collision: group exactly
            sets, inverse = np.unique(idx, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        del idx, keys
        prediction = np.empty(m, dtype=np.float64)
        variance = np.empty(m, dtype=np.float64)
        by_set = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(sets)))])
        # Systems are built in batches so that scattered query points (one set
        # each) cannot make the (sets, k+1, k+1) arrays large.
        for start in range(0, len(sets), _SETS_PER_BATCH):
            batch = slice(start, start + _SETS_PER_BATCH)
            a_inv, weights = self._systems(sets[batch])
            with threadpool_limits(limits=1, user_api="blas"):
                self._solve_groups(
                    sets[batch],
                    by_set,
                    bounds[start : start + _SETS_PER_BATCH + 1],
                    a_inv,
                    weights,
                    xq,
                    yq,
                    prediction,
                    variance,
                    point_support,
                )
        return prediction, np.maximum(variance, 0.0)

    def _solve_groups(
        self,
        sets: npt.NDArray[np.intp],
        by_set: npt.NDArray[np.intp],
        bounds: npt.NDArray[np.intp],
        a_inv: FloatArray,
        weights: FloatArray,
        xq: FloatArray,
        yq: FloatArray,
        prediction: FloatArray,
        variance: FloatArray,
        point_support: bool,
    ) -> None:
        """Fill ``prediction`` and ``variance`` for the cells of each neighbour set.

        The products are small ((cells of a set) × (k+1)²); multi-threaded BLAS
        only adds overhead to them, hence one BLAS thread (threadpoolctl).
        """
        k = self.k
        v = self.variogram
        shape = VARIOGRAM_MODELS[v.model]
        target = v.sill if point_support else v.psill
        for g, members in enumerate(sets):
            cells = by_set[bounds[g] : bounds[g + 1]]
            dx = xq[cells, None] - self.xy[members, 0]
            dy = yq[cells, None] - self.xy[members, 1]
            dist = np.sqrt(dx * dx + dy * dy)
            b = np.empty((cells.size, k + 1), dtype=np.float64)
            b[:, :k] = v.psill * (1.0 - shape(dist / v.range_m))
            if point_support and v.nugget > 0:
                b[:, :k] += np.where(dist == 0.0, v.nugget, 0.0)
            b[:, k] = 1.0
            prediction[cells] = b @ weights[g]
            variance[cells] = target - ((b @ a_inv[g]) * b).sum(axis=1)
