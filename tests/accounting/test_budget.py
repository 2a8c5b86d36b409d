"""Tests of carbonsink.accounting.budget (eq. 6.14: each group of inputs held at its mean).

Monte Carlo tolerances: the shares are computed on the same draws with and
without the group (common random numbers), so their error is the sampling
covariance of the group with the rest, about 2 σ_g σ_rest / (√n V): under
0.005 for the cases below; assertions allow 0.02. A 90 % half-width from n
draws has a relative SE of about 1 / √n × 1.1 (0.35 % at n = 100,000);
assertions allow 2 %.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbonsink.accounting.budget import HeldMonteCarlo, stream_group, variance_budget
from carbonsink.accounting.distributions import Normal
from carbonsink.accounting.montecarlo import MonteCarlo

Z90 = 1.6448536269514722


def test_a_streams_group_is_its_kind() -> None:
    assert stream_group("soc_total/2025/reed") == "soc_total"
    assert stream_group("agb_bootstrap/2020") == "agb_bootstrap"
    assert stream_group("root_shoot/reed") == "root_shoot"
    assert stream_group("carbon_fraction") == "carbon_fraction"


def test_a_held_stream_is_its_mean_and_the_others_are_untouched() -> None:
    spec = Normal(3.0, 2.0)
    held = HeldMonteCarlo(5, 1000, lambda name: name == "a")
    free = MonteCarlo(5, 1000)
    a = held.draw("a", spec)
    np.testing.assert_array_equal(a, np.full(1000, free.draw("a", spec).mean()))
    assert not a.flags.writeable
    np.testing.assert_array_equal(held.draw("b", spec), free.draw("b", spec))


def _linear(mc: MonteCarlo) -> np.ndarray:
    # Var = 2² + 1² (group "alpha") + 20 (group "beta") = 25.
    return (
        mc.draw("alpha/x", Normal(0.0, 2.0))
        + mc.draw("alpha/y", Normal(0.0, 1.0))
        + mc.draw("beta/2020", Normal(0.0, math.sqrt(20.0)))
    )


def test_a_linear_output_splits_its_variance_by_group() -> None:
    half_width, rows = variance_budget(_linear, seed=3, n_draws=100_000)
    assert half_width == pytest.approx(Z90 * 5.0, rel=0.02)  # 1.645 × √25 = 8.2243
    assert [(r.group, r.streams) for r in rows] == [("beta", 1), ("alpha", 2)]
    beta, alpha = rows
    assert beta.share == pytest.approx(20.0 / 25.0, abs=0.02)
    assert alpha.share == pytest.approx(5.0 / 25.0, abs=0.02)
    # Known exactly, each group leaves the other's spread: 1.645 × √5 and 1.645 × √20.
    assert beta.half_width == pytest.approx(Z90 * math.sqrt(5.0), rel=0.02)  # 3.6781
    assert alpha.half_width == pytest.approx(Z90 * math.sqrt(20.0), rel=0.02)  # 7.3564


def test_the_shares_of_a_product_need_not_add_up_to_one() -> None:
    # a × b with a, b ~ N(0, 1): either known (at its mean, 0) leaves no spread at all,
    # so each carries all of the variance and the shares add up to 2.
    def product(mc: MonteCarlo) -> np.ndarray:
        return mc.draw("a", Normal(0.0, 1.0)) * mc.draw("b", Normal(0.0, 1.0))

    _, rows = variance_budget(product, seed=1, n_draws=50_000)
    assert [r.group for r in rows] == ["a", "b"] or [r.group for r in rows] == ["b", "a"]
    for row in rows:
        assert row.share == pytest.approx(1.0, abs=0.001)


def test_a_held_stream_is_held_for_draws_and_evaluate_too_and_rows_keep_their_shape() -> None:
    # A model written with evaluate() reads the draws mapping, not draw()'s return: the
    # held stream must be its mean there as well (var(b + a held) = var(b) = 1, not 2).
    held = HeldMonteCarlo(2, 20_000, lambda name: name.startswith("a/"))
    specs = {"b/x": Normal(0.0, 1.0), "a/y": Normal(0.0, 1.0)}
    out = held.evaluate(lambda d: d["b/x"] + d["a/y"], specs=specs)
    assert np.var(out) == pytest.approx(1.0, rel=0.05)
    assert np.ptp(held.draws["a/y"]) == 0.0
    np.testing.assert_array_equal(held.draw("a/y", specs["a/y"]), held.draws["a/y"])

    # A stream of rows (a bootstrap's (n, k) draws) is held at its mean row.
    class Rows:
        def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
            return rng.normal(size=(n, 3)) + np.array([1.0, 2.0, 3.0])

    rows = HeldMonteCarlo(4, 5_000, lambda name: True).draw("a/rows", Rows())  # type: ignore[arg-type]
    assert rows.shape == (5_000, 3)
    assert np.ptp(rows, axis=0).tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(rows[0], [1.0, 2.0, 3.0], atol=0.05)
