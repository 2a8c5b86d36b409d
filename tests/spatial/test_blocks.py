"""Tests of carbonsink.spatial.blocks: square blocks anchored at the CRS origin, folds of blocks.

Expected values are worked by hand in the comments, or come from an
independent implementation (scikit-learn's GroupKFold).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from carbonsink.errors import ConfigError, InputError
from carbonsink.spatial.blocks import block_folds, block_ids


# ------------------------------------------------------------------ blocks
def test_block_ids_group_points_by_square() -> None:
    # Block 200 m: (0, 0) and (150, 10) share block (row 0, col 0); (250, 0) is in
    # column 1; (0, 250) in row 1; (-10, 5) in column −1 (floor, not truncation).
    ids = block_ids([0, 150, 250, 0, -10], [0, 10, 0, 250, 5], block_m=200)
    assert ids[0] == ids[1]
    assert len(set(ids.tolist())) == 4
    with pytest.raises(InputError, match="positive"):
        block_ids([0], [0], block_m=0)


def test_block_ids_are_numbered_by_row_then_column() -> None:
    # As above, (row, col) = (0, 0), (0, 0), (0, 1), (1, 0), (0, −1). Sorted by row,
    # then column: (0, −1) → 0, (0, 0) → 1, (0, 1) → 2, (1, 0) → 3.
    ids = block_ids([0, 150, 250, 0, -10], [0, 10, 0, 250, 5], block_m=200)
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 1, 2, 3, 0]


def test_blocks_are_anchored_at_the_crs_origin_not_at_the_data() -> None:
    # 100 m blocks; x = 700,050, 700,080, 700,120, 700,160 (y = 50). From the origin:
    # ⌊x / 100⌋ = 7000, 7000, 7001, 7001 → two blocks of two points. Anchored at the
    # smallest x instead, ⌊(x − 700,050) / 100⌋ = 0, 0, 0, 1 would put the third point
    # with the first two.
    x = 700_000.0 + np.array([50.0, 80.0, 120.0, 160.0])
    ids = block_ids(x, np.full(4, 50.0), block_m=100.0)
    assert ids.tolist() == [0, 0, 1, 1]
    # A point keeps its block whatever the other points are.
    assert block_ids(x[2:], np.full(2, 50.0), block_m=100.0).tolist() == [0, 0]


# ------------------------------------------------------------------- folds
def test_block_folds_by_hand() -> None:
    # Blocks 0, 0, 0, 1, 1, 2, 3: sizes 3, 2, 1, 1. Largest first, equal sizes in
    # decreasing label order: 0 (3), 1 (2), 3 (1), 2 (1). Two folds, each block to
    # the fold with fewer points (the first on a tie):
    #   block 0 → fold 0 (loads 3, 0); block 1 → fold 1 (3, 2);
    #   block 3 → fold 1 (3, 3); block 2 → fold 0 on the tie (4, 3).
    folds = block_folds([0, 0, 0, 1, 1, 2, 3], n_folds=2)
    assert folds.dtype == np.int64
    assert folds.tolist() == [0, 0, 0, 1, 1, 0, 1]


def test_block_labels_need_not_be_dense() -> None:
    # Labels 10, 10, 10, 42, 42, 57, 99 are the blocks 0…3 of the test above.
    assert block_folds([10, 10, 10, 42, 42, 57, 99], n_folds=2).tolist() == [0, 0, 0, 1, 1, 0, 1]


def test_a_seed_permutes_the_labels_before_the_assignment() -> None:
    # Four blocks of two points each, two folds. Equal sizes go in decreasing label
    # order and alternate between the folds: the block labelled 3 → fold 0, 2 → fold 1,
    # 1 → fold 0, 0 → fold 1, i.e. an odd label → fold 0, an even one → fold 1.
    blocks = np.repeat(np.arange(4), 2)
    assert block_folds(blocks, n_folds=2).tolist() == [1, 1, 0, 0, 1, 1, 0, 0]
    # With a seed, block b is relabelled p[b], p = default_rng(seed).permutation(4).
    for seed in (0, 1, 7):
        p = np.random.default_rng(seed).permutation(4)
        expected = np.where(p % 2 == 1, 0, 1)[blocks]
        assert block_folds(blocks, n_folds=2, seed=seed).tolist() == expected.tolist()


@pytest.mark.parametrize("seed", [None, 0, 3])
@pytest.mark.parametrize("n_folds", [2, 5])
def test_block_folds_are_groupkfold_folds(seed: int | None, n_folds: int) -> None:
    # scikit-learn's GroupKFold (no shuffling) is an independent implementation of
    # the same assignment; with a seed, it is given the permuted labels.
    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 12, size=80)
    _, dense = np.unique(blocks, return_inverse=True)
    groups = dense if seed is None else np.random.default_rng(seed).permutation(12)[dense]
    expected = np.empty(blocks.size, dtype=np.int64)
    for fold, (_, test) in enumerate(
        GroupKFold(n_splits=n_folds).split(np.zeros((blocks.size, 1)), groups=groups)
    ):
        expected[test] = fold
    assert block_folds(blocks, n_folds=n_folds, seed=seed).tolist() == expected.tolist()


def test_whole_blocks_fill_every_fold() -> None:
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 9, size=60)
    folds = block_folds(blocks, n_folds=4, seed=2)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3]
    for block in np.unique(blocks):
        assert np.unique(folds[blocks == block]).size == 1


def test_block_folds_refuse_bad_fold_counts() -> None:
    with pytest.raises(ConfigError, match="whole number ≥ 2"):
        block_folds([0, 1, 2], n_folds=1)
    with pytest.raises(ConfigError, match="whole number ≥ 2"):
        block_folds([0, 1, 2], n_folds=True)
    with pytest.raises(InputError, match="fall in 3 block\\(s\\), fewer than 4 folds"):
        block_folds([0, 1, 2, 2], n_folds=4)
