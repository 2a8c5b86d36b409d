"""Tests of carbonsink.accounting.summaries: summaries and convergence of Monte Carlo draws.

Monte Carlo error bounds used below: with n independent draws of a quantity of
standard deviation σ, the standard error of the sample mean is σ/√n and that
of the sample SD is ≈ σ/√(2n) (normal case; σ·√((κ−1)/(4n)) with kurtosis κ
in general), and of the sample variance ≈ σ²·√(2/n). Assertions allow ≈ 4
standard errors, so a correct implementation fails with probability < 1e-4
(and, with fixed seeds, the tests are deterministic anyway).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from carbonsink.accounting.distributions import LogNormal, Normal, Uncertain
from carbonsink.accounting.montecarlo import MonteCarlo
from carbonsink.accounting.summaries import convergence, summarize
from carbonsink.errors import InputError, ModelError

N = 200_000


def _draw(spec: Uncertain, n: int = N, seed: int = 1) -> np.ndarray:
    return MonteCarlo(seed, n).draw("x", spec)


# ----------------------------------------------------------- summary
def test_summary_by_hand() -> None:
    # 0, 1, …, 100: mean = median = 50; linear-interpolated percentiles p5 = 5, p95 = 95,
    # p2.5 = 2.5, p97.5 = 97.5, p10 = 10, p90 = 90; sample variance n(n+1)/12 with
    # n = 101 → 858.5; relative half-width (95 − 5)/2/50 = 0.9.
    summary = summarize(np.arange(101.0), confidences=(0.80, 0.90), seed=7)
    assert summary.mean == 50.0
    assert summary.median == 50.0
    assert summary.sd == pytest.approx(math.sqrt(858.5))
    assert (summary.p5, summary.p95) == pytest.approx((5.0, 95.0))
    assert summary.ci90 == pytest.approx((5.0, 95.0))
    assert summary.ci95 == pytest.approx((2.5, 97.5))
    assert summary.relative_half_width_90 == pytest.approx(0.9)
    assert summary.n_draws == 101
    assert summary.seed == 7
    assert summary.intervals[0] == pytest.approx((0.80, 10.0, 90.0))
    assert summary.intervals[1] == pytest.approx((0.90, 5.0, 95.0))
    record = summary.to_dict()
    json.dumps(record)
    assert record["ci90"] == pytest.approx([5.0, 95.0])
    assert record["intervals"][0]["low"] == pytest.approx(10.0)


def test_summary_of_zero_mean_has_infinite_relative_half_width() -> None:
    summary = summarize(np.array([-1.0, 0.0, 1.0]))
    assert math.isinf(summary.relative_half_width_90)
    assert summary.to_dict()["relative_half_width_90"] is None


def test_summary_rejects_bad_draws_and_levels() -> None:
    with pytest.raises(InputError, match="1-D"):
        summarize(np.zeros((10, 2)))
    with pytest.raises(ModelError, match="not finite"):
        summarize(np.array([1.0, math.nan, 2.0]))
    with pytest.raises(InputError, match="confidence"):
        summarize(np.arange(10.0), confidences=(1.0,))


# ----------------------------------------------------------- convergence
def test_convergence_detects_too_few_draws() -> None:
    # Log-normal, mean 1, sd 1: σ = √ln 2 = 0.833, p95 = e^{−0.347 + 1.645 × 0.833} = 2.78;
    # SE(p95) at n = 500 is √(0.05 × 0.95/500) / f(p95) with f = 0.1031/(2.78 × 0.833) = 0.0445,
    # i.e. 0.22 = 8 % of p95: far from stable to 1 %.
    x = _draw(LogNormal(1.0, 1.0), n=500, seed=2)
    check = convergence(x, tolerance=0.01, block=50)
    assert not check.converged
    assert check.max_relative_change > 0.01
    assert list(check.table["n"]) == list(range(50, 501, 50))


def test_convergence_accepts_enough_draws() -> None:
    # N(100, 10), 200,000 draws: SE(p5) = √(0.05 × 0.95/n)/φ(1.645) × 10 = 0.021 × 10/√(n/1e4);
    # between n = 1e5 and 2e5 the change has SD ≈ 0.047, i.e. 0.04 % of p95 ≈ 116.
    x = _draw(Normal(100.0, 10.0), seed=3)
    check = convergence(x, tolerance=0.01, block=20_000)
    assert check.converged
    assert check.max_relative_change < 0.01
    assert len(check.table) == 10
    last = check.table.iloc[-1]
    assert last["relative_change_p5"] == 0.0
    assert last["p5"] == pytest.approx(100.0 - 1.645 * 10.0, abs=0.2)
    json.dumps(check.to_dict())


def test_convergence_scale_is_the_far_interval_end_for_a_difference_near_zero() -> None:
    # A difference centred on 0: p5 ≈ −16.45, p95 ≈ +16.45; the change is measured against
    # 16.45, not against a percentile near zero.
    x = _draw(Normal(0.0, 10.0), seed=4)
    check = convergence(x, tolerance=0.01, block=20_000)
    assert check.converged


def test_convergence_rejects_bad_block() -> None:
    with pytest.raises(InputError, match="block"):
        convergence(np.arange(10.0), block=20)
    with pytest.raises(InputError, match="tolerance"):
        convergence(np.arange(10.0), block=2, tolerance=0.0)
