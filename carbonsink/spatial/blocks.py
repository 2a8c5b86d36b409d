"""Spatial blocks and folds: the one convention of every spatial cross-validation and bootstrap.

Neighbouring samples share their errors, so a cross-validation that puts
neighbours on both sides of a fold reports a skill the map does not have
(Roberts et al. 2017, *Ecography* 40:913). Whole square blocks of samples are
therefore held out, or resampled, together (docs/methodology.md §6). One
convention serves the land-cover CV, the biomass CV, the AGB bootstrap and
the kriging CV:

* :func:`block_ids` — square blocks of side ``block_m`` anchored at the
  origin of the CRS, so that a point falls in the same block whatever the
  other points are;
* :func:`block_folds` — whole blocks to folds, balancing the number of points
  per fold; an optional seed permutes the block labels first, which changes
  how ties are broken.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from carbonsink.errors import ConfigError, InputError

__all__ = ["block_folds", "block_ids"]

IntArray = npt.NDArray[np.int64]


def block_ids(x: npt.ArrayLike, y: npt.ArrayLike, *, block_m: float) -> IntArray:
    """Integer id of the square block each point falls in.

    Parameters
    ----------
    x, y
        Point coordinates in a projected CRS, m.
    block_m
        Side of the square blocks, m.

    Returns
    -------
    numpy.ndarray
        int64, one id per point, ``0 … K − 1`` for the K blocks that hold
        points, numbered by block row, then block column.

    Raises
    ------
    InputError
        ``block_m`` is not positive.

    Notes
    -----
    Point (x, y) lies in block (row, col) = (⌊y / block_m⌋, ⌊x / block_m⌋):
    the blocks are anchored at the origin of the CRS, not at the data, so the
    same point always falls in the same block.
    """
    if not block_m > 0:
        raise InputError(f"block size {block_m} m must be positive", fix="give e.g. 200")
    col = np.floor(np.asarray(x, dtype=np.float64) / block_m).astype(np.int64)
    row = np.floor(np.asarray(y, dtype=np.float64) / block_m).astype(np.int64)
    _, ids = np.unique(np.stack([row, col], axis=1), axis=0, return_inverse=True)
    return np.asarray(ids, dtype=np.int64).ravel()


def block_folds(blocks: npt.ArrayLike, *, n_folds: int, seed: int | None = None) -> IntArray:
    """Put whole blocks into folds of about equal numbers of points.

    Parameters
    ----------
    blocks
        Block id of each point (e.g. from :func:`block_ids`; any integers).
    n_folds
        Number of folds, ≥ 2 and at most the number of distinct blocks.
    seed
        Seed of a random permutation of the block labels before the
        assignment; ``None`` keeps the labels in their sorted order.

    Returns
    -------
    numpy.ndarray
        int64, the fold ``0 … n_folds − 1`` of each point. Every fold holds
        at least one block, and a block never spans two folds.

    Raises
    ------
    ConfigError
        ``n_folds`` is not a whole number ≥ 2.
    InputError
        The points fall in fewer blocks than ``n_folds``.

    Notes
    -----
    The blocks are taken from the one holding the most points to the one
    holding the fewest (blocks of equal size in decreasing label order) and
    each goes to the fold with the fewest points so far (the first such fold
    on a tie). This is the assignment of scikit-learn's ``GroupKFold``
    without shuffling (scikit-learn ≥ 1.6, a stable sort of the block
    sizes), so ``block_folds(b, n_folds=k)`` equals the test folds of
    ``GroupKFold(k).split(X, groups=b)``. With a ``seed`` the labels are
    first replaced by ``numpy.random.default_rng(seed).permutation(K)``,
    which only changes the order of blocks of equal size.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int | np.integer) or n_folds < 2:
        raise ConfigError(f"n_folds {n_folds!r} is not a whole number ≥ 2", fix="use e.g. 5 folds")
    _, labels = np.unique(np.asarray(blocks).ravel(), return_inverse=True)
    labels = labels.ravel()
    n_blocks = int(labels.max()) + 1 if labels.size else 0
    if n_blocks < n_folds:
        raise InputError(
            f"the points fall in {n_blocks} block(s), fewer than {n_folds} folds",
            fix="use smaller blocks or fewer folds",
        )
    if seed is not None:
        labels = np.random.default_rng(seed).permutation(n_blocks)[labels]
    size = np.bincount(labels, minlength=n_blocks)
    order = np.argsort(size, kind="stable")[::-1]
    load = np.zeros(int(n_folds), dtype=np.int64)
    fold_of_block = np.empty(n_blocks, dtype=np.int64)
    for block in order:
        lightest = int(np.argmin(load))
        load[lightest] += size[block]
        fold_of_block[block] = lightest
    return fold_of_block[labels]
