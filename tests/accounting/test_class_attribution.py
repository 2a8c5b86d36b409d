"""The true classes behind the mapped ones (carbonsink.accounting.class_attribution).

Hand example, two classes (sedge, reed), both maps with the same area proportions
p̂ = [[0.45, 0.05], [0.05, 0.45]] (rows map, columns reference): π = (0.5, 0.5), a
true sedge is mapped sedge with P(s | s) = 0.45 / 0.5 = 0.9, reed with 0.1, and
the other way round for reed; mapped shares W = (0.5, 0.5).

Chance of a map pair for a cell that kept its class, S_ab = Σ_j π_j P₁(a | j) P_T(b | j):
S_ss = 0.5 × 0.81 + 0.5 × 0.01 = 0.41, S_sr = S_rs = 0.5 × 0.09 + 0.5 × 0.09 = 0.09,
S_rr = 0.41; for a cell that changed, W₁,a W_T,b = 0.25. With τ = 0.2 of the area
changed the pair shares are 0.8 S + 0.2 × 0.25: O_ss = O_rr = 0.378, O_sr = O_rs = 0.122.

Pair (mapped sedge, then reed), τ = 0.2: kept j = s: 0.8 × 0.5 × 0.9 × 0.1 = 0.036, j = r:
0.8 × 0.5 × 0.1 × 0.9 = 0.036; changed (j, k) = 0.2 × p̂₁[s, j] × p̂_T[r, k]: (s, s)
0.0045, (s, r) 0.0405, (r, s) 0.0005, (r, r) 0.0045; total 0.122. First epoch sedge:
(0.036 + 0.0045 + 0.0405) / 0.122 = 0.081 / 0.122 = 0.66393; last epoch sedge: (0.036 +
0.0045 + 0.0005) / 0.122 = 0.041 / 0.122 = 0.33607.

Pair (sedge, sedge): kept s 0.8 × 0.5 × 0.81 = 0.324, r 0.004; changed (s, s) 0.0405,
(s, r) = (r, s) 0.0045, (r, r) 0.0005; total 0.378; sedge in either epoch (0.324 +
0.0405 + 0.0045) / 0.378 = 0.369 / 0.378 = 0.97619.
"""

from __future__ import annotations

import numpy as np
import pytest

from carbonsink.accounting.class_attribution import (
    ClassAttribution,
    mix_factor,
    pair_posterior,
    transition_share,
)
from carbonsink.errors import InputError

P = np.array([[0.45, 0.05], [0.05, 0.45]])
PAIRS = 100.0 * np.array([[0.378, 0.122], [0.122, 0.378]])


def test_the_transition_share_is_the_maximum_likelihood_fit_of_the_pair_areas() -> None:
    assert transition_share(P, P, PAIRS) == pytest.approx(0.2, abs=1e-4)


def test_no_transition_when_every_mapped_change_is_a_map_error() -> None:
    # Pair areas exactly the kept-class chances S (0.41, 0.09, 0.09, 0.41): τ̂ = 0.
    kept = 100.0 * np.array([[0.41, 0.09], [0.09, 0.41]])
    assert transition_share(P, P, kept) == 0.0


def test_the_pair_posterior_by_hand() -> None:
    first, last = pair_posterior(P, P, 0.2, 0, 1)
    np.testing.assert_allclose(first, [0.081 / 0.122, 0.041 / 0.122], rtol=1e-12)
    np.testing.assert_allclose(last, [0.041 / 0.122, 0.081 / 0.122], rtol=1e-12)
    first, last = pair_posterior(P, P, 0.2, 0, 0)
    np.testing.assert_allclose(first, [0.369 / 0.378, 0.009 / 0.378], rtol=1e-12)
    np.testing.assert_allclose(last, first, rtol=1e-12)


def test_a_pair_no_kept_class_explains_is_a_change() -> None:
    # Poplar (third class) is never mapped as anything else nor anything as poplar: a cell
    # mapped poplar then reed changed class, whatever τ — poplar first, reed's row last.
    p = np.array([[0.3, 0.05, 0.0], [0.05, 0.3, 0.0], [0.0, 0.0, 0.3]])
    first, last = pair_posterior(p, p, 0.01, 2, 1)
    np.testing.assert_allclose(first, [0.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(last, [0.05 / 0.35, 0.3 / 0.35, 0.0], rtol=1e-12)


def _attribution(agb: np.ndarray) -> ClassAttribution:
    # 20 sample units per map class, 18 right (0.9 of the row), shares 0.5 and 0.5: p̂ = P.
    counts = np.array([[18.0, 2.0], [2.0, 18.0]])
    return ClassAttribution(
        classes=("sedge", "reed"),
        first_counts=counts,
        last_counts=counts,
        first_shares=np.array([0.5, 0.5]),
        last_shares=np.array([0.5, 0.5]),
        pair_area=PAIRS,
        pair_agb_last=agb,
    )


def test_key_mixes_weight_the_last_epochs_pairs_by_their_agb() -> None:
    # The reed stratum holds pairs (sedge, reed) with 10 t DM in the last epoch and (reed, reed)
    # with 90: its last key is 0.1 × 0.33607 + 0.9 × 0.02381 sedge = 0.05504, the rest reed.
    attribution = _attribution(np.array([[50.0, 10.0], [5.0, 90.0]]))
    assert attribution.tau == pytest.approx(0.2, abs=1e-4)
    mixes = attribution.plug_in()
    assert set(mixes) == {
        (0, "sedge", "sedge"),
        (0, "sedge", "reed"),
        (0, "reed", "sedge"),
        (0, "reed", "reed"),
        (1, "sedge", "sedge"),
        (1, "reed", "reed"),
    }
    assert mixes[(0, "reed", "sedge")]["sedge"] == pytest.approx(0.081 / 0.122, abs=1e-3)
    assert mixes[(1, "reed", "reed")]["sedge"] == pytest.approx(
        0.1 * 0.041 / 0.122 + 0.9 * 0.009 / 0.378, abs=1e-3
    )
    assert sum(mixes[(1, "reed", "reed")].values()) == pytest.approx(1.0)


def test_drawn_mixes_resample_the_accuracy_sample() -> None:
    # Each draw resamples the 20 units of each row: the mixes scatter around the plug-in
    # ones, sum to 1, and a row's weight of its own class varies (SD > 0.01).
    attribution = _attribution(np.array([[50.0, 10.0], [5.0, 90.0]]))
    draws = attribution.draw(np.random.default_rng(0), 4000)
    assert draws.shape == (4000, len(attribution.keys), 2)
    np.testing.assert_allclose(draws.sum(axis=-1), 1.0)
    plug = attribution.plug_in()
    for k, key in enumerate(attribution.keys):
        assert draws[:, k, 0].mean() == pytest.approx(plug[key].get("sedge", 0.0), abs=0.03)
    assert draws[:, attribution.keys.index((0, "sedge", "sedge")), 0].std() > 0.01


def test_a_keys_factor_is_its_mixes_factor_product() -> None:
    # 0.75 sedge (CF 0.5, R 2) and 0.25 reed (CF 0.5, R 1): 0.75 × 1 + 0.25 × 0.5 = 0.875.
    cf = {"sedge": np.array([0.5]), "reed": np.array([0.5])}
    r = {"sedge": np.array([2.0]), "reed": np.array([1.0])}
    value = mix_factor(np.array([[0.75, 0.25]]), ("sedge", "reed"), [cf, r], "reed")
    np.testing.assert_allclose(value, [0.875])
    np.testing.assert_allclose(mix_factor(None, ("sedge", "reed"), [cf, r], "reed"), [0.5])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"first_counts": np.ones((1, 2))}, "first_counts has shape"),
        ({"pair_area": -PAIRS}, "pair_area has shape .* or values"),
        ({"last_shares": np.array([0.5, 0.6])}, "last_shares .* summing to 1"),
    ],
)
def test_malformed_evidence_is_refused(change: dict[str, np.ndarray], message: str) -> None:
    fields = {
        "classes": ("sedge", "reed"),
        "first_counts": np.ones((2, 2)),
        "last_counts": np.ones((2, 2)),
        "first_shares": np.array([0.5, 0.5]),
        "last_shares": np.array([0.5, 0.5]),
        "pair_area": PAIRS,
        "pair_agb_last": PAIRS,
    }
    with pytest.raises(InputError, match=message):
        ClassAttribution(**(fields | change))
