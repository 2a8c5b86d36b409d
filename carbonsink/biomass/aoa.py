"""Area of applicability of a biomass model (Meyer & Pebesma 2021).

A model learnt from plots can only be trusted where the predictors look like
those of its training plots. The dissimilarity index (DI) measures how far a
pixel's (standardised, importance-weighted) features are from the nearest
training plot, relative to the typical distance between training plots; the
area of applicability (AOA) is where the DI does not exceed what the
cross-validation itself saw. Pixels outside are flagged and counted, never
silently predicted (docs/design.md §7).

* :class:`AreaOfApplicability` is fitted from the training features, the
  feature weights (e.g. the model's feature importances) and the CV folds;
  :meth:`~AreaOfApplicability.di` and :meth:`~AreaOfApplicability.inside` score
  new feature rows;
* :func:`map_area_of_applicability` applies it to a ``(feature, y, x)`` cube,
  lazily and in chunks, giving a ``di`` and an ``aoa`` layer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import dask.array as dsa
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from carbonsink.errors import InputError
from carbonsink.i18n import deferred

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "AreaOfApplicability",
    "map_area_of_applicability",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Rows of new data whose nearest training point is searched at once (bounds memory).
DEFAULT_CHUNK_ROWS: Final = 65_536
#: Rows of training data whose distances to all others are formed at once for d̄.
_PAIR_CHUNK_ROWS: Final = 1_024


def _tukey_upper_whisker(values: FloatArray) -> float:
    """Largest value not above the upper hinge + 1.5 × the hinge spread (R ``boxplot.stats``).

    Hinges are Tukey's (R ``fivenum``): with sorted x₁…xₙ, n₄ = ⌊(n + 3)/2⌋ / 2,
    lower hinge = ½(x⌊n₄⌋ + x⌈n₄⌉), upper hinge = ½(x⌊n+1−n₄⌋ + x⌈n+1−n₄⌉).
    """
    x = np.sort(values[np.isfinite(values)])
    n = x.size
    n4 = math.floor((n + 3) / 2) / 2
    lower = 0.5 * float(x[math.floor(n4) - 1] + x[math.ceil(n4) - 1])
    upper = 0.5 * float(x[math.floor(n + 1 - n4) - 1] + x[math.ceil(n + 1 - n4) - 1])
    fence_high = upper + 1.5 * (upper - lower)
    fence_low = lower - 1.5 * (upper - lower)
    kept = x[(x <= fence_high) & (x >= fence_low)]
    return float(kept.max())


def _mean_pairwise_distance(points: FloatArray) -> float:
    """Mean Euclidean distance over all pairs i ≠ j, formed in row chunks."""
    n = int(points.shape[0])
    total = 0.0
    for start in range(0, n, _PAIR_CHUNK_ROWS):
        total += float(cdist(points[start : start + _PAIR_CHUNK_ROWS], points).sum())
    return total / (n * (n - 1))


@dataclass(frozen=True)
class AreaOfApplicability:
    """The dissimilarity index and area of applicability of a model (Meyer & Pebesma 2021).

    Build it with :meth:`fit`. Attributes are read-only.

    Attributes
    ----------
    feature_names
        Names of the features, in column order.
    mean, sd
        Training mean and sample SD (ddof 1) of each feature.
    weights
        Feature weights (negative importances set to 0).
    mean_distance
        d̄, the mean distance between all pairs of (standardised, weighted)
        training points.
    training_di
        DI of each training point against the training points of the other
        CV folds (against all other training points when no folds are given).
    threshold
        The AOA threshold: outlier-removed maximum of ``training_di``.
    folds
        CV fold of each training point, or None.
    """

    feature_names: tuple[str, ...]
    mean: FloatArray
    sd: FloatArray
    weights: FloatArray
    mean_distance: float
    training_di: FloatArray
    threshold: float
    folds: npt.NDArray[np.int64] | None
    _scaled_train: FloatArray = field(repr=False, compare=False)
    _tree: Any = field(repr=False, compare=False)

    @classmethod
    def fit(
        cls,
        X_train: npt.ArrayLike | pd.DataFrame,
        *,
        weights: npt.ArrayLike | Mapping[str, float] | None = None,
        folds: npt.ArrayLike | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> AreaOfApplicability:
        """Learn the DI's scaling, d̄ and the AOA threshold from the training features.

        Parameters
        ----------
        X_train
            Training features, n × p (array or DataFrame; a DataFrame's
            columns give the feature names).
        weights
            One weight per feature (e.g. the fitted model's
            ``feature_importances_``), as an array in column order or a
            mapping name → weight; default all 1. Negative weights are set
            to 0 (as CAST does); only relative weights matter.
        folds
            CV fold id of each training point (e.g.
            ``CrossValidation.predictions["fold"]``); default: leave-one-out.
        feature_names
            Names of the columns when ``X_train`` is an array; default
            ``f0, f1, …``.

        Returns
        -------
        AreaOfApplicability

        Raises
        ------
        InputError
            Fewer than 2 training points; missing or infinite features; a
            weighted feature that does not vary; bad weights or folds; all
            training points identical.

        Notes
        -----
        Meyer & Pebesma (2021), *Methods Ecol. Evol.* 12:1620–1633, and the R
        package CAST (``trainDI``):

        1. standardise each feature with the training mean and SD,
           zₖⱼ = (xₖⱼ − x̄ⱼ) / sⱼ, and multiply by its weight wⱼ;
        2. d̄ = mean of the Euclidean distances between all pairs of training
           points (i ≠ j);
        3. training DI: DIᵢ = minⱼ d(i, j) / d̄ over the training points j in
           other CV folds than i (all j ≠ i without folds);
        4. threshold = the largest DIᵢ not above Q₃ + 1.5 IQR (Tukey hinges,
           R ``boxplot.stats(TrainDI)$stats[5]``).

        A new point's DI is its distance to the nearest training point over
        d̄; it is inside the AOA when DI ≤ threshold.
        """
        names_from_frame: list[str] | None = None
        if isinstance(X_train, pd.DataFrame):
            names_from_frame = [str(c) for c in X_train.columns]
        train = np.array(X_train, dtype=np.float64)
        if train.ndim != 2:
            raise InputError(
                f"training features have {train.ndim} dimension(s); expected n × p",
                fix="give one row per training plot and one column per feature",
            )
        n, p = train.shape
        if names_from_frame is not None:
            names = names_from_frame
        elif feature_names is not None:
            names = [str(s) for s in feature_names]
        else:
            names = [f"f{j}" for j in range(p)]
        if len(names) != p:
            raise InputError(
                f"{len(names)} feature names for {p} feature columns",
                fix="give one name per feature column",
            )
        if n < 2:
            raise InputError(
                f"the area of applicability needs at least 2 training points; {n} given",
                fix="fit the model to more plots",
            )
        bad = ~np.isfinite(train)
        if bad.any():
            rows, cols = np.nonzero(bad)
            raise InputError(
                f"{int(bad.any(axis=1).sum())} training point(s) have missing or infinite "
                f"features (first: row {int(rows[0])}, feature {names[int(cols[0])]!r})",
                fix="drop those plots (or fill their features) before fitting the model",
            )
        weight = _weights(weights, names)
        mean = train.mean(axis=0)
        sd = train.std(axis=0, ddof=1)
        constant = (sd == 0) & (weight > 0)
        if constant.any():
            which = ", ".join(repr(names[j]) for j in np.flatnonzero(constant))
            raise InputError(
                f"feature(s) {which} do not vary among the {n} training points",
                fix="drop those features from the model, or give them weight 0",
            )
        safe_sd = np.where(sd > 0, sd, 1.0)
        scaled = (train - mean) / safe_sd * weight
        mean_distance = _mean_pairwise_distance(scaled)
        if not mean_distance > 0:
            raise InputError(
                "all training points have the same (weighted) features",
                fix="check the plot features; the model cannot learn from identical points",
            )
        fold_ids = None if folds is None else _fold_ids(folds, n)
        nearest = _training_nearest(scaled, fold_ids)
        training_di = nearest / mean_distance
        threshold = _tukey_upper_whisker(training_di)
        logger.info(
            "area of applicability: %d training points, %d features, d̄ %.4g, threshold DI %.4g",
            n,
            p,
            mean_distance,
            threshold,
        )
        return cls(
            feature_names=tuple(names),
            mean=mean,
            sd=sd,
            weights=weight,
            mean_distance=mean_distance,
            training_di=training_di,
            threshold=threshold,
            folds=fold_ids,
            _scaled_train=scaled,
            _tree=cKDTree(scaled),
        )

    def _matrix(self, X: npt.ArrayLike) -> FloatArray:
        """``X`` as an (n, p) float64 matrix (not copied when it is one)."""
        values = np.asarray(X, dtype=np.float64)
        values = values.reshape(1, -1) if values.ndim < 2 else values
        if values.ndim != 2 or values.shape[1] != len(self.feature_names):
            raise InputError(
                f"features have shape {values.shape}; expected (n, {len(self.feature_names)}) "
                f"with columns {', '.join(self.feature_names)}",
                fix="give the same features, in the same order, as the training data",
            )
        return values

    def _scale(self, X: npt.ArrayLike) -> FloatArray:
        values = self._matrix(X)
        safe_sd = np.where(self.sd > 0, self.sd, 1.0)
        return np.asarray((values - self.mean) / safe_sd * self.weights, dtype=np.float64)

    def di(
        self, X: npt.ArrayLike | pd.DataFrame, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> FloatArray:
        """Dissimilarity index of each row of ``X`` (NaN where a feature is missing).

        Parameters
        ----------
        X
            Features, m × p, same columns as the training data (a DataFrame's
            columns are reordered by name).
        chunk_rows
            Rows searched at once.

        Returns
        -------
        numpy.ndarray
            float64, shape (m,).

        Notes
        -----
        DI(x) = min over training points j of ‖z(x) − zⱼ‖ / d̄, with z the
        standardised, weighted features (Meyer & Pebesma 2021, eq. 1–4);
        the nearest neighbour is found with :class:`scipy.spatial.cKDTree`.
        """
        if isinstance(X, pd.DataFrame):
            missing = [name for name in self.feature_names if name not in X.columns]
            if missing:
                raise InputError(
                    f"feature(s) {', '.join(missing)} are missing",
                    fix="give every feature the model was trained on",
                )
            X = X[list(self.feature_names)]
        values = self._matrix(X)
        if chunk_rows < 1:
            raise InputError(f"chunk_rows is {chunk_rows}", fix="use at least 1 row per chunk")
        out = np.full(values.shape[0], np.nan)
        # Scaled a chunk at a time: the scaled copy of a 213 km² grid's features and its
        # temporaries were 1.1 GB (each row's distance is its own either way).
        for start in range(0, values.shape[0], chunk_rows):
            scaled = self._scale(values[start : start + chunk_rows])
            complete = np.isfinite(scaled).all(axis=1)
            if complete.any():
                distance, _ = self._tree.query(scaled[complete], k=1)
                out[start : start + chunk_rows][complete] = distance / self.mean_distance
        return out

    def inside(
        self, X: npt.ArrayLike | pd.DataFrame, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> npt.NDArray[np.bool_]:
        """True where DI ≤ threshold (False where a feature is missing)."""
        return np.asarray(self.di(X, chunk_rows=chunk_rows) <= self.threshold)

    def to_dict(self) -> dict[str, Any]:
        """Parameters for the ledger / model card (JSON-ready)."""
        return {
            "method": "dissimilarity index, Meyer & Pebesma 2021 (CAST::aoa)",
            "features": list(self.feature_names),
            "weights": [float(w) for w in self.weights],
            "n_training": int(self.training_di.size),
            "cv_folds": None if self.folds is None else int(np.unique(self.folds).size),
            "mean_distance": self.mean_distance,
            "threshold": self.threshold,
            "training_di_max": float(self.training_di.max()),
        }


def _weights(weights: npt.ArrayLike | Mapping[str, float] | None, names: list[str]) -> FloatArray:
    if weights is None:
        return np.ones(len(names))
    if isinstance(weights, Mapping):
        missing = [name for name in names if name not in weights]
        if missing:
            raise InputError(
                f"no weight for feature(s) {', '.join(missing)}",
                fix="give one weight per feature (e.g. the model's feature importances)",
            )
        values = np.array([float(weights[name]) for name in names])
    else:
        values = np.array(weights, dtype=np.float64, ndmin=1).ravel()
    if values.size != len(names):
        raise InputError(
            f"{values.size} weight(s) for {len(names)} features",
            fix="give one weight per feature (e.g. the model's feature importances)",
        )
    if not np.isfinite(values).all():
        raise InputError(
            "a feature weight is missing or infinite",
            fix="give finite weights (e.g. the model's feature importances)",
        )
    if (values < 0).any():
        logger.warning(
            deferred(
                "negative weight(s) for {names} set to 0 (Meyer & Pebesma 2021)",
                names=", ".join(n for n, w in zip(names, values, strict=True) if w < 0),
            )
        )
        values = np.maximum(values, 0.0)
    if not (values > 0).any():
        raise InputError(
            "every feature weight is 0",
            fix="give at least one feature a positive weight",
        )
    return np.asarray(values, dtype=np.float64)


def _fold_ids(folds: npt.ArrayLike, n: int) -> npt.NDArray[np.int64]:
    raw = np.asarray(folds).ravel()
    if raw.size != n:
        raise InputError(
            f"{raw.size} fold id(s) for {n} training points",
            fix="give the CV fold of every training point",
        )
    _, ids = np.unique(raw, return_inverse=True)
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if int(ids.max()) < 1:
        raise InputError(
            "all training points are in one CV fold",
            fix="give the fold ids of a cross-validation with at least 2 folds",
        )
    return ids


def _training_nearest(scaled: FloatArray, folds: npt.NDArray[np.int64] | None) -> FloatArray:
    """Distance of each training point to its nearest training point of another fold."""
    if folds is None:
        distance, _ = cKDTree(scaled).query(scaled, k=2)
        # Column 0 is the point itself (or a duplicate, also at 0); column 1 the nearest other.
        return np.asarray(distance[:, 1], dtype=np.float64)
    nearest = np.empty(scaled.shape[0])
    for fold in np.unique(folds):
        held_out = folds == fold
        distance, _ = cKDTree(scaled[~held_out]).query(scaled[held_out], k=1)
        nearest[held_out] = distance
    return nearest


def map_area_of_applicability(
    features: xr.DataArray,
    aoa: AreaOfApplicability,
    *,
    feature_dim: Hashable = "feature",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> xr.Dataset:
    """Dissimilarity index and area-of-applicability mask of a feature cube.

    Parameters
    ----------
    features
        ``(feature, y, x)`` features (numpy- or dask-backed); labels of
        ``feature_dim`` must include the model's feature names (they are
        selected in the model's order); without labels the order is taken
        as is.
    aoa
        From :meth:`AreaOfApplicability.fit`.
    feature_dim
        Name of the feature dimension.
    chunk_rows
        Pixels searched at once (numpy-backed input; with dask each block is
        one search).

    Returns
    -------
    xarray.Dataset
        ``di`` (float32, NaN where a feature is missing) and ``aoa`` (bool,
        True inside), on the spatial dims and coords of ``features``.
        Attributes of ``aoa``: ``threshold``, ``n_inside``, ``n_outside``
        (pixels with features and DI > threshold), ``n_no_features``. With
        dask input the layers stay lazy; computing the counts evaluates the
        DI once, blockwise (bounded memory).

    Raises
    ------
    InputError
        No ``feature_dim``, a model feature missing, or a wrong feature count.

    Notes
    -----
    DI and AOA as :meth:`AreaOfApplicability.di` (Meyer & Pebesma 2021);
    pixels outside the AOA are kept in the map but flagged and counted
    (docs/design.md §7).
    """
    if feature_dim not in features.dims:
        raise InputError(
            f"the feature cube has no {feature_dim!r} dimension (dims {features.dims})",
            fix="stack the features along one dimension, e.g. with xarray.concat(dim='feature')",
        )
    if feature_dim in features.coords:
        labels = [str(v) for v in features[feature_dim].values]
        missing = [name for name in aoa.feature_names if name not in labels]
        if missing:
            raise InputError(
                f"the feature cube lacks feature(s) {', '.join(missing)}",
                fix="compute every feature the model was trained on",
            )
        positions = [labels.index(name) for name in aoa.feature_names]
        features = features.isel({feature_dim: positions})
    elif features.sizes[feature_dim] != len(aoa.feature_names):
        raise InputError(
            f"the feature cube has {features.sizes[feature_dim]} features; the model has "
            f"{len(aoa.feature_names)}",
            fix="give the model's features, in its order",
        )
    spatial = [d for d in features.dims if d != feature_dim]
    ordered = features.transpose(*spatial, feature_dim)

    def block_di(values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
        di = aoa.di(flat, chunk_rows=chunk_rows)
        return di.reshape(values.shape[:-1]).astype(np.float32)

    data = ordered.data
    if isinstance(data, dsa.Array):
        data = data.rechunk({data.ndim - 1: -1})
        di_data: Any = dsa.map_blocks(block_di, data, drop_axis=data.ndim - 1, dtype=np.float32)
    else:
        di_data = block_di(np.asarray(data))
    coords = {
        name: coord for name, coord in ordered.coords.items() if feature_dim not in coord.dims
    }
    di = xr.DataArray(di_data, dims=spatial, coords=coords, name="di")
    di.attrs = {
        "long_name": "dissimilarity index to the training plots (Meyer & Pebesma 2021)",
        "units": "1",
        "threshold": aoa.threshold,
    }
    has_features = di.notnull()
    inside = (di <= aoa.threshold) & has_features
    inside.name = "aoa"
    n_pixels = int(np.prod([di.sizes[d] for d in spatial]))
    if isinstance(di_data, dsa.Array):
        n_inside, n_no_features = dsa.compute(inside.data.sum(), (~has_features).data.sum())
    else:
        n_inside, n_no_features = inside.values.sum(), (~has_features).values.sum()
    n_inside, n_no_features = int(n_inside), int(n_no_features)
    n_outside = n_pixels - n_inside - n_no_features
    inside.attrs = {
        "long_name": "inside the model's area of applicability",
        "units": "1",
        "threshold": aoa.threshold,
        "n_inside": n_inside,
        "n_outside": n_outside,
        "n_no_features": n_no_features,
    }
    if n_outside:
        logger.warning(
            "%d of %d pixels with features are outside the model's area of applicability",
            n_outside,
            n_pixels - n_no_features,
        )
    return xr.Dataset({"di": di, "aoa": inside})
